"""The support dashboard: the queue's figures for a period, one function for the web page, its JSON and
`overheard queue dashboard`, so the three can never disagree.

Response times, SLA shares and recovery are the figures of `sentiment.trends.queue_figures` over the
queue items flagged in the period (`listener.trends.tables.read_queue_items`), the same as the trend
files' queue table, counted faster in SQL (`fast_figures`; identical, tested against
`reference_figures`). The rest are counts read here: what is open now (by brand and priority), and
each agent's load (open items they hold) and work in the period (replies and resolutions, from the
audit trail).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.queue import PRIORITIES, RECOVERED
from listener.config import Config
from listener.errors import UserError
from listener.models import iso, utcnow
from listener.store import Store
from listener.trends.rollup import NO_BRAND
from listener.trends.tables import read_queue_items
from sentiment.trends import QueueFacts, QueueFigures, median, p90, pct, queue_figures

PERIODS = {"today": "today", "7d": "last 7 days", "30d": "last 30 days", "custom": "custom"}
MAX_CUSTOM_DAYS = 366
WORKING = ("new", "claimed", "waiting", "replied")  # "open" as the list counts it (snoozed apart)


@dataclass(frozen=True)
class Period:
    """[since, until) in UTC: whole local days in the team's time zone."""

    name: str  # today | 7d | 30d | custom
    since: datetime
    until: datetime
    timezone: str
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "since": iso(self.since), "until": iso(self.until), "timezone": self.timezone,
                "label": self.label}


def _parse_day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{what} {value!r}: not a date; use YYYY-MM-DD") from None


def resolve_period(name: str, tz_name: str, now: datetime | None = None, since: str | None = None,
                   until: str | None = None) -> Period:
    """The period a person picked: today, the last 7 or 30 days (today included), or custom days
    `since`..`until` (both included), all in local days of `tz_name`."""
    now = now or utcnow()
    zone = ZoneInfo(tz_name)
    today = now.astimezone(zone).date()

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0, 0), zone).astimezone(now.tzinfo)

    if since or until:
        name = "custom"
    if name not in PERIODS:
        raise UserError(f"period {name!r}: must be one of {', '.join(PERIODS)}")
    if name == "custom":
        if not since:
            raise UserError("custom period: give the first day (since, YYYY-MM-DD)")
        first = _parse_day(since, "since")
        last = _parse_day(until, "until") if until else today
        if last < first:
            raise UserError(f"custom period: until {last} is before since {first}")
        if (last - first).days + 1 > MAX_CUSTOM_DAYS:
            raise UserError(f"custom period: at most {MAX_CUSTOM_DAYS} days")
        return Period("custom", midnight(first), midnight(last + timedelta(days=1)), tz_name, f"{first} to {last}")
    days = {"today": 1, "7d": 7, "30d": 30}[name]
    first = today - timedelta(days=days - 1)
    label = f"today ({today})" if name == "today" else f"{PERIODS[name]} ({first} to {today})"
    # Whole local days, today's included to its end (nothing is queued in the future; an end at `now`
    # would drop what was queued in the current second, as times are compared to the second).
    return Period(name, midnight(first), midnight(today + timedelta(days=1)), tz_name, label)


def dashboard(store: Store, config: Config, period: Period, now: datetime | None = None) -> dict[str, Any]:
    """Every figure of the dashboard, as plain JSON-ready data."""
    now = now or utcnow()
    zone = ZoneInfo(period.timezone)
    overall, brands, hours = period_figures(store, period.since, period.until, now, zone)
    summary = asdict(overall)
    return {
        "period": period.to_dict(),
        "generated_at": iso(now),
        "open": _open_now(store),
        "summary": summary,
        "by_brand": [{"brand": brand, **asdict(figures)} for brand, figures in sorted(brands.items())],
        "sla_by_hour": hours,
        "agents": _agents(store, period),
        "recovered_customers": {
            "checked": summary["recovery_checked"], "recovered": summary["recovered"],
            "recovered_pct": summary["recovered_pct"], "latest": _recovered(store, period),
        },
    }


# ---------------------------------------------------------------- the period's figures
# The reference is `sentiment.trends.queue_figures` over `read_queue_items`, the trend files' queue
# table: it builds one object per item, and at 200k items a 30-day period is ~67k of them (1.7 s a page
# load). The fast path below counts the items in SQL per brand and per hour of their clock start, from
# the covering index of migration 240 alone, and reads only the times the medians need into Python.
# tests/test_dashboard_fast.py checks that both give identical figures.
#
# It compares times as text, as the queue's SLA clock does: right for the store's one format
# (`listener.models.iso`, 20 characters). A period holding any other text in those columns (an empty
# string, an offset, fractions of a second) is counted by the reference instead: `odd` counts them.
_TIMES_ODD = " OR ".join(f"LENGTH({column}) <> 20" for column in (
    "created_at", "sla_started_at", "first_response_at", "first_response_due", "resolved_at", "resolution_due"))
_COUNTS = f"""
SELECT brand, SUBSTR(COALESCE(sla_started_at, created_at), 1, {{width}}) AS clock, COUNT(*),
  COUNT(CASE WHEN state = 'dismissed' THEN 1 END),
  COUNT(CASE WHEN state <> 'dismissed' THEN first_response_at END),
  COUNT(CASE WHEN state <> 'dismissed' THEN resolved_at END),
  COUNT(CASE WHEN state <> 'dismissed' AND first_response_at <= first_response_due THEN 1 END),
  COUNT(CASE WHEN state <> 'dismissed' AND (first_response_at > first_response_due
             OR (first_response_at IS NULL AND first_response_due {{past}} ?)) THEN 1 END),
  COUNT(CASE WHEN state <> 'dismissed' AND resolved_at <= resolution_due THEN 1 END),
  COUNT(CASE WHEN state <> 'dismissed' AND (resolved_at > resolution_due
             OR (resolved_at IS NULL AND resolution_due {{past}} ?)) THEN 1 END),
  COUNT(CASE WHEN state <> 'dismissed' AND recovery <> 'watching' THEN 1 END),
  COUNT(CASE WHEN state <> 'dismissed' AND recovery = 'recovered' THEN 1 END),
  COUNT(CASE WHEN {_TIMES_ODD} OR recovery = '' THEN 1 END) AS odd
FROM queue_items WHERE created_at >= ? AND created_at < ?
GROUP BY brand, clock
"""
# The answered and resolved items' times, for the medians and 90th percentiles (exact: every value).
# No ORDER BY: the values are sorted in Python, and the order of the rows changes no figure.
_TIMES = (
    "SELECT brand, COALESCE(sla_started_at, created_at), first_response_at, resolved_at FROM queue_items "
    "WHERE created_at >= ? AND created_at < ? AND state <> 'dismissed' "
    "AND (first_response_at IS NOT NULL OR resolved_at IS NOT NULL)"
)
# How much of a clock-start time the counts are grouped by: its UTC hour, else its ten minutes (zones
# whose offset is not whole hours, as India's +05:30), else its minute (Nepal's +05:45), else its
# second. Each group must fall inside one local hour; the first width where all do is used.
_WIDTHS = (13, 15, 16, 19)
_SPANS = {13: timedelta(hours=1), 15: timedelta(minutes=10), 16: timedelta(minutes=1), 19: timedelta(seconds=1)}
_PADS = {13: ":00:00+00:00", 15: "0:00+00:00", 16: ":00+00:00", 19: "+00:00"}


@dataclass
class _Counts:
    items: int = 0
    dismissed: int = 0
    answered: int = 0
    resolved: int = 0
    first_met: int = 0
    first_missed: int = 0
    resolution_met: int = 0
    resolution_missed: int = 0
    checked: int = 0
    recovered: int = 0

    def add(self, row: Sequence[int]) -> None:
        self.items += row[0]
        self.dismissed += row[1]
        self.answered += row[2]
        self.resolved += row[3]
        self.first_met += row[4]
        self.first_missed += row[5]
        self.resolution_met += row[6]
        self.resolution_missed += row[7]
        self.checked += row[8]
        self.recovered += row[9]

    def figures(self, first: list[float], resolution: list[float]) -> QueueFigures:
        """`queue_figures` of these items, given their response and resolution minutes (sorted)."""
        return QueueFigures(
            flagged_threads=self.items, dismissed=self.dismissed, answered=self.answered,
            unanswered=self.items - self.dismissed - self.answered, resolved=self.resolved,
            first_response_median_min=median(first), first_response_p90_min=p90(first),
            resolution_median_min=median(resolution), resolution_p90_min=p90(resolution),
            first_response_sla_pct=pct(self.first_met, self.first_met + self.first_missed),
            resolution_sla_pct=pct(self.resolution_met, self.resolution_met + self.resolution_missed),
            recovery_checked=self.checked, recovered=self.recovered, recovered_pct=pct(self.recovered, self.checked),
        )


Figures = tuple[QueueFigures, dict[str, QueueFigures], list[dict[str, Any]]]


def _local_hour(clock: str, width: int, zone: ZoneInfo) -> int | None:
    """The local hour of every instant of the group `clock` (a UTC hour, minute or second), or None
    when the group straddles two local hours (an offset that is not whole hours, a clock change)."""
    start = datetime.fromisoformat(clock + _PADS[width])
    first, last = start.astimezone(zone), (start + _SPANS[width] - timedelta(microseconds=1)).astimezone(zone)
    if first.utcoffset() != last.utcoffset() or \
            first.replace(tzinfo=None, minute=0, second=0, microsecond=0) != \
            last.replace(tzinfo=None, minute=0, second=0, microsecond=0):
        return None
    return first.hour


def _count_rows(store: Store, since: datetime, until: datetime, now: datetime,
                zone: ZoneInfo) -> list[tuple[str, int, list[int]]] | None:
    """(brand, local hour of the clock start, counts) of the items created in [since, until), or None
    when some item's times are not in the store's format."""
    # "past its due time" is due < now; times are stored to the second, so when `now` has a fraction
    # of a second, a due time in now's own second has passed too
    past = "<" if now.microsecond == 0 else "<="
    now_text = iso(now)
    whole_hours = all((when.astimezone(zone).utcoffset() or timedelta()) % timedelta(hours=1) == timedelta()
                      for when in (since, until, now))
    for width in _WIDTHS[0 if whole_hours else 1:]:
        rows = store.conn.execute(_COUNTS.format(past=past, width=width),
                                  (now_text, now_text, iso(since), iso(until))).fetchall()
        if any(row[-1] for row in rows):
            return None
        hours = {clock: _local_hour(clock, width, zone) for clock in {row[1] for row in rows}}
        if None not in hours.values():
            return [(brand or NO_BRAND, hours[clock], [int(v) for v in values[:-1]])  # type: ignore[misc]
                    for brand, clock, *values in rows]
    return None  # not reached: a second is always inside one local hour


def fast_figures(store: Store, since: datetime, until: datetime, now: datetime, zone: ZoneInfo) -> Figures | None:
    """The figures of the items created in [since, until): over all, per brand, and SLA met per local
    hour of the clock start; None when the period holds times the fast path does not read."""
    rows = _count_rows(store, since, until, now, zone)
    if rows is None:
        return None
    overall, brands, hours = _Counts(), defaultdict(_Counts), defaultdict(_Counts)
    for brand, hour, values in rows:
        overall.add(values)
        brands[brand].add(values)
        hours[hour].add(values)
    first: dict[str, list[float]] = defaultdict(list)
    resolution: dict[str, list[float]] = defaultdict(list)
    parse = datetime.fromisoformat  # every text here is 20 characters ending in Z: aware UTC instants
    for brand, start, answered_at, resolved_at in store.conn.execute(_TIMES, (iso(since), iso(until))):
        clock = parse(start)
        if answered_at is not None:
            first[brand or NO_BRAND].append((parse(answered_at) - clock).total_seconds() / 60)
        if resolved_at is not None:
            resolution[brand or NO_BRAND].append((parse(resolved_at) - clock).total_seconds() / 60)
    for values in (*first.values(), *resolution.values()):
        values.sort()
    per_brand = {brand: counts.figures(first.get(brand, []), resolution.get(brand, []))
                 for brand, counts in brands.items()}
    everything = overall.figures(sorted(v for vs in first.values() for v in vs),
                                 sorted(v for vs in resolution.values() for v in vs))
    by_hour = []
    for hour in range(24):
        figures = hours[hour].figures([], []) if hour in hours else QueueFigures()
        by_hour.append({"hour": hour, "items": figures.flagged_threads - figures.dismissed,
                        "first_response_sla_pct": figures.first_response_sla_pct,
                        "resolution_sla_pct": figures.resolution_sla_pct})
    return everything, per_brand, by_hour


def reference_figures(store: Store, since: datetime, until: datetime, now: datetime, zone: ZoneInfo) -> Figures:
    """The same figures the straightforward way: every item read, `queue_figures` over each group."""
    items = read_queue_items(store, since, until)
    groups: dict[str, list[QueueFacts]] = defaultdict(list)
    hours: dict[int, list[QueueFacts]] = defaultdict(list)
    for item in items:
        groups[item.brand].append(item)
        if item.state != "dismissed":
            hours[item.clock_start.astimezone(zone).hour].append(item)
    by_hour = []
    for hour in range(24):
        figures = queue_figures(hours.get(hour, []), now)
        by_hour.append({"hour": hour, "items": len(hours.get(hour, [])),
                        "first_response_sla_pct": figures.first_response_sla_pct,
                        "resolution_sla_pct": figures.resolution_sla_pct})
    return queue_figures(items, now), {b: queue_figures(g, now) for b, g in groups.items()}, by_hour


def period_figures(store: Store, since: datetime, until: datetime, now: datetime, zone: ZoneInfo) -> Figures:
    """The dashboard's figures of the items created in [since, until) (the fast path when it can)."""
    return fast_figures(store, since, until, now, zone) or reference_figures(store, since, until, now, zone)


def _open_now(store: Store) -> dict[str, Any]:
    marks = ", ".join("?" for _ in WORKING)
    rows = store.conn.execute(
        f"SELECT brand, priority, COUNT(*) FROM queue_items WHERE state IN ({marks}) GROUP BY brand, priority "
        f"ORDER BY brand, priority", WORKING).fetchall()
    by_brand: dict[str, dict[str, int]] = {}
    by_priority = {p: 0 for p in PRIORITIES}
    for brand, priority, count in rows:
        cells = by_brand.setdefault(brand or "(no brand)", {p: 0 for p in PRIORITIES})
        cells[priority] = cells.get(priority, 0) + count
        by_priority[priority] = by_priority.get(priority, 0) + count
    snoozed = store.scalar("SELECT COUNT(*) FROM queue_items WHERE state = 'snoozed'") or 0
    return {"total": sum(by_priority.values()), "by_priority": by_priority,
            "by_brand": [{"brand": b, **cells, "total": sum(cells.values())} for b, cells in sorted(by_brand.items())],
            "snoozed": snoozed}


def _agents(store: Store, period: Period) -> list[dict[str, Any]]:
    """Per person: open items they hold now, and replies and resolutions they recorded in the period."""
    agents: dict[str, dict[str, int]] = defaultdict(lambda: {"open": 0, "waiting": 0, "replies": 0, "resolved": 0})
    for (name,) in store.conn.execute("SELECT name FROM users WHERE disabled = 0 ORDER BY name"):
        agents[name]  # noqa: B018 - every enabled user gets a row, also with nothing to show
    marks = ", ".join("?" for _ in WORKING)
    for assignee, state, count in store.conn.execute(
            f"SELECT assignee, state, COUNT(*) FROM queue_items WHERE assignee IS NOT NULL AND state IN ({marks}) "
            f"GROUP BY assignee, state", WORKING):
        agents[assignee]["open"] += count
        if state == "waiting":
            agents[assignee]["waiting"] += count
    for actor, action, count in store.conn.execute(
            "SELECT actor, action, COUNT(*) FROM queue_events WHERE action IN ('replied', 'resolved') "
            "AND at >= ? AND at < ? GROUP BY actor, action", (iso(period.since), iso(period.until))):
        if actor == "overheard":
            continue  # the system itself is nobody's workload
        agents[actor]["replies" if action == "replied" else "resolved"] += count
    return [{"agent": name, **figures} for name, figures in sorted(agents.items())]


def _recovered(store: Store, period: Period, limit: int = 20) -> list[dict[str, Any]]:
    return store.query(
        "SELECT id AS item_id, brand, source, author, recovery_at FROM queue_items WHERE recovery = ? "
        "AND created_at >= ? AND created_at < ? ORDER BY recovery_at DESC, id DESC LIMIT ?",
        (RECOVERED, iso(period.since), iso(period.until), limit))
