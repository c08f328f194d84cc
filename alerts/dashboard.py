"""The support dashboard: the queue's figures for a period, one function for the web page, its JSON and
`overheard queue dashboard`, so the three can never disagree.

Response times, SLA shares and recovery come from `sentiment.trends.queue_figures` over the queue
items flagged in the period (`listener.trends.tables.read_queue_items`), the same computation as the
trend files' queue table. The rest are counts read here: what is open now (by brand and priority),
and each agent's load (open items they hold) and work in the period (replies and resolutions, from
the audit trail).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.queue import PRIORITIES, RECOVERED
from listener.config import Config
from listener.errors import UserError
from listener.models import iso, utcnow
from listener.store import Store
from listener.trends.tables import read_queue_items
from sentiment.trends import QueueFacts, queue_figures

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
    items = read_queue_items(store, period.since, period.until)
    summary = asdict(queue_figures(items, now))
    return {
        "period": period.to_dict(),
        "generated_at": iso(now),
        "open": _open_now(store),
        "summary": summary,
        "by_brand": _by_brand(items, now),
        "sla_by_hour": _sla_by_hour(items, now, zone),
        "agents": _agents(store, period),
        "recovered_customers": {
            "checked": summary["recovery_checked"], "recovered": summary["recovered"],
            "recovered_pct": summary["recovered_pct"], "latest": _recovered(store, period),
        },
    }


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


def _by_brand(items: list[QueueFacts], now: datetime) -> list[dict[str, Any]]:
    groups: dict[str, list[QueueFacts]] = defaultdict(list)
    for item in items:
        groups[item.brand].append(item)
    return [{"brand": brand, **asdict(queue_figures(group, now))} for brand, group in sorted(groups.items())]


def _sla_by_hour(items: list[QueueFacts], now: datetime, zone: ZoneInfo) -> list[dict[str, Any]]:
    """SLA met per local hour of the day the clock started (when the customers posted): the hours
    the team is short-handed show up as the hours whose targets are missed."""
    hours: dict[int, list[QueueFacts]] = defaultdict(list)
    for item in items:
        if item.state != "dismissed":
            hours[item.clock_start.astimezone(zone).hour].append(item)
    out = []
    for hour in range(24):
        figures = queue_figures(hours.get(hour, []), now)
        out.append({"hour": hour, "items": len(hours.get(hour, [])),
                    "first_response_sla_pct": figures.first_response_sla_pct,
                    "resolution_sla_pct": figures.resolution_sla_pct})
    return out


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
