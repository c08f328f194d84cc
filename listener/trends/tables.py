"""The trend tables: tidy rows, one per key, built from the hourly rollup (and, for the figures
that cannot be added up, straight from the mentions and queue items of the requested range).

Every table starts with the same three columns (period_start, timezone, complete) and keeps its
column order forever: spreadsheets and BI tools refresh by column name and position.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from listener.config import Config
from listener.models import iso, parse_iso
from listener.store import Store
from listener.trends.rollup import NO_BRAND, TALLY_COLUMNS
from sentiment.trends import (
    ALL_THEMES,
    QueueFacts,
    QueueFigures,
    Tally,
    period_bounds,
    period_start,
    period_text,
    periods_between,
    queue_figures,
    share_of_voice,
)

KEY_COLUMNS = ["period_start", "timezone", "complete"]
METRIC_COLUMNS = ["mentions", "positive", "neutral", "negative", "unscored", "mean_compound", "net_sentiment",
                  "detractors", "unique_authors", "reach"]
COLUMNS: dict[str, list[str]] = {
    "overview": KEY_COLUMNS + ["brand", "brand_kind"] + METRIC_COLUMNS,
    "breakdown": KEY_COLUMNS + ["brand", "source", "language"] + METRIC_COLUMNS,
    "themes": KEY_COLUMNS + ["brand", "source", "language", "theme"] + METRIC_COLUMNS,
    "share_of_voice": KEY_COLUMNS + ["competitor_set", "brand", "mentions", "positive", "set_mentions",
                                     "set_positive", "share_of_voice_pct", "positive_share_of_voice_pct"],
    "queue": KEY_COLUMNS + ["brand", "flagged_threads", "dismissed", "answered", "unanswered", "resolved",
                            "first_response_median_min", "first_response_p90_min", "resolution_median_min",
                            "resolution_p90_min", "first_response_sla_pct", "resolution_sla_pct",
                            "recovery_checked", "recovered", "recovered_pct"],
}
QUEUE_FIGURES = [f.name for f in fields(QueueFigures)]  # a flat dataclass: cheaper than asdict() per row
# Columns whose values come from people (config names, source payloads): neutralised in CSV cells.
TEXT_COLUMNS = frozenset({"brand", "source", "language", "theme", "competitor_set", "term", "example_url"})


@dataclass
class TrendTable:
    """One trend file's content: its name (overview, breakdown, ...), columns and rows."""

    name: str
    period: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class TrendWindow:
    """The periods to report: whole local periods overlapping [since, until), in zone `tz_name`."""

    period: str
    tz_name: str
    since: datetime  # UTC, the start of the first period
    until: datetime  # UTC, exclusive: usually now

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    def periods(self) -> list[datetime | date]:
        return periods_between(self.since, self.until, self.period, self.tz)


def make_window(period: str, tz_name: str, since: datetime, until: datetime) -> TrendWindow:
    """The window of whole periods from the one holding `since` up to `until`."""
    tz = ZoneInfo(tz_name)
    first = period_start(since, period, tz)
    return TrendWindow(period, tz_name, period_bounds(first, period, tz)[0], until)


def brand_kinds(config: Config) -> dict[str, str]:
    kinds = {b.name: "own" for b in config.brands}
    kinds.update({c.name: "competitor" for c in config.competitors})
    return kinds


def metric_cells(t: Tally, authors: int) -> dict[str, Any]:
    return {
        "mentions": t.mentions, "positive": t.positive, "neutral": t.neutral, "negative": t.negative,
        "unscored": t.unscored, "mean_compound": t.mean_compound, "net_sentiment": t.net_sentiment,
        "detractors": t.detractors, "unique_authors": authors, "reach": t.reach,
    }


def _load_periods(store: Store, window: TrendWindow, periods: list[datetime | date]) -> dict[str, datetime | date]:
    """Put the periods (UTC bounds) in a temporary table, so SQLite groups by period."""
    conn = store.conn
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS trend_periods "
                 "(period TEXT PRIMARY KEY, start TEXT NOT NULL, stop TEXT NOT NULL)")
    conn.execute("DELETE FROM temp.trend_periods")
    by_text = {period_text(p): p for p in periods}
    rows = []
    for text, p in by_text.items():
        start, stop = period_bounds(p, window.period, window.tz)
        rows.append((text, iso(max(start, window.since)), iso(min(stop, window.until))))
    conn.executemany("INSERT INTO temp.trend_periods VALUES (?, ?, ?)", rows)
    return by_text


_SUMS = ", ".join(f"SUM(h.{c})" for c in TALLY_COLUMNS)


def _hour_sums(store: Store, periods: dict[str, Any], group: list[str], *, themes: bool = False) -> dict[tuple, Tally]:
    """Tallies per (period, *group) summed from the hourly rollup (all-mention rows, or theme rows)."""
    cols = ", ".join(f"h.{g}" for g in group)
    sql = (f"SELECT p.period, {cols}, {_SUMS} FROM temp.trend_periods p JOIN trend_hours h "
           "ON h.hour_start >= p.start AND h.hour_start < p.stop "
           f"WHERE h.theme {'!=' if themes else '='} ? GROUP BY p.period, {cols}")
    n = len(group) + 1
    return {(periods[row[0]], *row[1:n]): Tally(*row[n:]) for row in store.conn.execute(sql, (ALL_THEMES,))}


def _author_counts(store: Store, periods: dict[str, Any], level: str) -> dict[tuple, int]:
    """Distinct authors per (period, brand[, source, language[, theme]]) from the hourly author sets
    (distinct counts cannot be added up from hours). An author is a handle on one source."""
    if level == "overview":
        keys, who = ["a.brand"], "a.source || char(0) || a.author"
    else:
        keys, who = ["a.brand", "a.source", "a.lang"], "a.author"
    if level == "themes":
        keys.append("a.theme")
    group = ", ".join(keys)
    sql = (f"SELECT p.period, {group}, COUNT(DISTINCT {who}) FROM temp.trend_periods p "
           "JOIN trend_hour_authors a ON a.hour_start >= p.start AND a.hour_start < p.stop "
           f"WHERE a.theme {'!=' if level == 'themes' else '='} ? GROUP BY p.period, {group}")
    return {(periods[row[0]], *row[1:-1]): row[-1] for row in store.conn.execute(sql, (ALL_THEMES,))}


def _reach_sums(store: Store, periods: dict[str, Any], level: str) -> dict[tuple, int]:
    """Reach per (period, brand[, source, language[, theme]]): the sum over the distinct audiences of
    the period (an author's followers, a community's members) of each one's largest size in the period."""
    keys = ["a.brand"] if level == "overview" else ["a.brand", "a.source", "a.lang"]
    if level == "themes":
        keys.append("a.theme")
    group = ", ".join(keys)
    inner = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
    outer = ", ".join(f"k{i}" for i in range(len(keys)))
    sql = (f"SELECT period, {outer}, SUM(size) FROM (SELECT p.period AS period, {inner}, MAX(a.followers) AS size "
           "FROM temp.trend_periods p JOIN trend_hour_audiences a ON a.hour_start >= p.start AND a.hour_start < p.stop "
           f"WHERE a.theme {'!=' if level == 'themes' else '='} ? GROUP BY p.period, {group}, a.source, a.audience) "
           f"GROUP BY period, {outer}")
    return {(periods[row[0]], *row[1:-1]): int(row[-1]) for row in store.conn.execute(sql, (ALL_THEMES,))}


def _with_reach(tallies: dict[tuple, Tally], reach: dict[tuple, int]) -> dict[tuple, Tally]:
    """The tallies with their reach replaced by the audience reach (the rollup's is per mention)."""
    for key, tally in tallies.items():
        tally.reach = reach.get(key, 0)
    return tallies


@dataclass
class PeriodSums:
    """The rollup summed per period: tallies and distinct authors per key, keys led by the period."""

    overview: dict[tuple, Tally] = field(default_factory=dict)  # (period, brand)
    breakdown: dict[tuple, Tally] = field(default_factory=dict)  # (period, brand, source, language)
    themes: dict[tuple, Tally] = field(default_factory=dict)  # (period, brand, source, language, theme)
    authors: dict[str, dict[tuple, int]] = field(default_factory=dict)  # per table, same keys

    def brands(self) -> dict[datetime | date, set[str]]:
        """The brands with mentions in each period."""
        out: dict[datetime | date, set[str]] = defaultdict(set)
        for p, b in self.overview:
            out[p].add(b)
        return out


def period_sums(store: Store, window: TrendWindow, periods: list[datetime | date]) -> PeriodSums:
    """Sum the hourly rollup into some of the window's periods, inside SQLite.

    Each period's sums read only that period's hours, so they come out the same whichever other
    periods are asked for at the same time (what lets listener.trends.cache keep them per period).
    """
    if not periods:
        return PeriodSums(authors={level: {} for level in ("overview", "breakdown", "themes")})
    by_text = _load_periods(store, window, periods)
    return PeriodSums(
        overview=_with_reach(_hour_sums(store, by_text, ["brand"]), _reach_sums(store, by_text, "overview")),
        breakdown=_with_reach(_hour_sums(store, by_text, ["brand", "source", "lang"]),
                              _reach_sums(store, by_text, "breakdown")),
        themes=_with_reach(_hour_sums(store, by_text, ["brand", "source", "lang", "theme"], themes=True),
                           _reach_sums(store, by_text, "themes")),
        authors={level: _author_counts(store, by_text, level) for level in ("overview", "breakdown", "themes")},
    )


def brand_order(config: Config, seen: Iterable[str]) -> list[str]:
    """Row order of brands: own brands and competitors as in the config, then the other brands
    seen in the store (no longer in the config), by name."""
    kinds = brand_kinds(config)
    return [*kinds, *sorted(set(seen) - set(kinds))]


def period_prefix(window: TrendWindow, p: datetime | date) -> dict[str, Any]:
    """The three columns every row starts with, for period `p`."""
    return {"period_start": period_text(p), "timezone": window.tz_name,
            "complete": period_bounds(p, window.period, window.tz)[1] <= window.until}


def overview_row(prefix: dict[str, Any], brand: str, kinds: dict[str, str], tally: Tally | None,
                 authors: int) -> dict[str, Any]:
    """One overview row; a brand without mentions in the period gets zeros (tally None)."""
    return {**prefix, "brand": brand, "brand_kind": kinds.get(brand, "other"),
            **metric_cells(tally or Tally(), authors)}


def sentiment_tables(config: Config, window: TrendWindow, sums: PeriodSums, periods: list[datetime | date],
                     brands: list[str]) -> list[TrendTable]:
    """The overview, breakdown, themes and share-of-voice tables of `periods` (oldest first) from
    their sums, brands in the order `brands` (every brand of the window: see brand_order)."""
    prefix = {p: period_prefix(window, p) for p in periods}
    kinds = brand_kinds(config)
    order = {b: i for i, b in enumerate(brands)}
    authors = sums.authors

    overview = TrendTable("overview", window.period, COLUMNS["overview"])
    for p in periods:  # every brand in every period, zeros included: a chart shows a gap as zero
        for b in brands:
            overview.rows.append(overview_row(prefix[p], b, kinds, sums.overview.get((p, b)),
                                              authors["overview"].get((p, b), 0)))

    breakdown = TrendTable("breakdown", window.period, COLUMNS["breakdown"])
    for key in sorted(sums.breakdown, key=lambda k: (k[0], order[k[1]], k[2], k[3])):
        p, b, s, lang = key
        breakdown.rows.append({**prefix[p], "brand": b, "source": s, "language": lang,
                               **metric_cells(sums.breakdown[key], authors["breakdown"].get(key, 0))})

    themes = TrendTable("themes", window.period, COLUMNS["themes"])
    for key in sorted(sums.themes, key=lambda k: (k[0], order.get(k[1], len(order)), k[2], k[3], k[4])):
        p, b, s, lang, theme = key
        themes.rows.append({**prefix[p], "brand": b, "source": s, "language": lang, "theme": theme,
                            **metric_cells(sums.themes[key], authors["themes"].get(key, 0))})

    sov = TrendTable("share_of_voice", window.period, COLUMNS["share_of_voice"])
    for p in periods:
        for own in config.brands:
            members = [own.name, *own.competitors]
            shares = share_of_voice(members, {m: sums.overview.get((p, m), Tally()) for m in members})
            for s in shares:
                sov.rows.append({**prefix[p], "competitor_set": own.name, "brand": s.brand, "mentions": s.mentions,
                                 "positive": s.positive, "set_mentions": s.set_mentions,
                                 "set_positive": s.set_positive, "share_of_voice_pct": s.share_of_voice_pct,
                                 "positive_share_of_voice_pct": s.positive_share_of_voice_pct})
    return [overview, breakdown, themes, sov]


def queue_table(config: Config, store: Store, window: TrendWindow, now: datetime | None = None) -> TrendTable:
    """The support-queue table of the window: always read afresh (items change state, SLAs fall due)."""
    tz = window.tz
    queue = TrendTable("queue", window.period, COLUMNS["queue"])
    items: dict[tuple, list[QueueFacts]] = defaultdict(list)
    for item in read_queue_items(store, window.since, window.until):
        items[(period_start(item.created_at, window.period, tz), item.brand)].append(item)
    queue_brands = [b.name for b in config.brands] + sorted({b for (_, b) in items} - set(config.brand_names()))
    def cells(figures: QueueFigures) -> dict[str, Any]:
        return {name: getattr(figures, name) for name in QUEUE_FIGURES}

    nothing_flagged = cells(queue_figures([], now or window.until))  # most periods: worked out once
    for p in window.periods():
        prefix = period_prefix(window, p)
        for b in queue_brands:
            flagged = items.get((p, b))
            figures = cells(queue_figures(flagged, now or window.until)) if flagged else nothing_flagged
            queue.rows.append({**prefix, "brand": b, **figures})
    return queue


def build_tables(config: Config, store: Store, window: TrendWindow, now: datetime | None = None) -> list[TrendTable]:
    """Every trend table for one window, from scratch, in file order: overview, breakdown, themes,
    share of voice, queue.

    The sums run in SQLite over the hourly rollup (grouped by the window's periods), so building
    costs the number of rollup rows in the range, not a pass over Python objects. The trend files
    go through listener.trends.cache instead, which keeps the rows of finished periods.
    """
    periods = window.periods()
    sums = period_sums(store, window, periods)
    brands = brand_order(config, {b for (_, b) in sums.overview})
    return [*sentiment_tables(config, window, sums, periods, brands), queue_table(config, store, window, now)]


def _when(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def read_queue_items(store: Store, since: datetime, until: datetime) -> list[QueueFacts]:
    """Queue items flagged (created) in [since, until)."""
    # Plain tuples from the connection: the trend files read every item of the window each time.
    cursor = store.conn.execute(
        "SELECT created_at, brand, state, first_response_at, resolved_at, first_response_due, resolution_due, "
        "recovery, sla_started_at FROM queue_items WHERE created_at >= ? AND created_at < ?",
        (iso(since), iso(until)),
    )
    return [
        QueueFacts(created_at=parse_iso(created), brand=brand or NO_BRAND, state=state,
                   first_response_at=_when(first), resolved_at=_when(resolved), first_response_due=_when(first_due),
                   resolution_due=_when(resolution_due), recovery=recovery, started_at=_when(started))
        for created, brand, state, first, resolved, first_due, resolution_due, recovery, started in cursor
    ]
