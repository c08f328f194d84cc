"""The terms table (`terms_<period>_<zone>.csv/.json`): per brand and period, the emerging terms,
phrases, hashtags and linked domains (listener.topics.period_topics) and the near-duplicate clusters.

It covers the last `[topics].periods` periods of the window (each compared with the period before and
the `[topics].baseline_periods` before that): reading texts costs their number, so the table does not
reach back over the whole `[trends].since`.
"""

from __future__ import annotations

from datetime import datetime

from listener.config import Config
from listener.store import Store
from listener.topics import period_topics
from listener.trends.tables import KEY_COLUMNS, TrendTable, TrendWindow, brand_kinds, period_prefix
from sentiment.trends import period_bounds, periods_between

TERM_COLUMNS = KEY_COLUMNS + ["brand", "kind", "term", "mentions", "share_pct", "previous_mentions",
                              "baseline_per_period", "growth_llr", "baseline_llr", "example_url"]


def terms_table(config: Config, store: Store, window: TrendWindow, periods: int | None = None) -> TrendTable:
    """The terms rows of the window's last `periods` periods (default [topics].periods), oldest first."""
    cfg = config.topics
    table = TrendTable("terms", window.period, TERM_COLUMNS)
    if not cfg.enabled:
        return table
    wanted = periods or cfg.periods
    shown = window.periods()[-wanted:]
    if not shown:
        return table
    # The periods before the first shown one that serve as "previous" and baseline, oldest first.
    reach_back = cfg.baseline_periods + 1
    first_start = period_bounds(shown[0], window.period, window.tz)[0]
    earlier: list = []
    probe = first_start
    while len(earlier) < reach_back:
        before = periods_between(probe - _step(window.period), probe, window.period, window.tz)
        if not before:
            break
        earlier.insert(0, before[0])
        probe = period_bounds(before[0], window.period, window.tz)[0]
    every = earlier + shown
    bounds: list[tuple[datetime, datetime]] = []
    for p in every:
        start, stop = period_bounds(p, window.period, window.tz)
        bounds.append((start, min(stop, window.until)))
    for brand in brand_kinds(config):
        memo: dict = {}  # each period read and counted once, whichever periods it serves as reference for
        for offset, p in enumerate(shown):
            index = len(earlier) + offset
            prefix = period_prefix(window, p)
            for row in period_topics(config, store, brand, bounds, index, memo):
                table.rows.append({**prefix, "brand": row.brand, "kind": row.kind, "term": row.term,
                                   "mentions": row.mentions, "share_pct": row.share_pct,
                                   "previous_mentions": row.previous_mentions,
                                   "baseline_per_period": row.baseline_per_period, "growth_llr": row.growth_llr,
                                   "baseline_llr": row.baseline_llr, "example_url": row.example_url})
    table.rows.sort(key=lambda r: r["period_start"])  # stable: brands in config order within a period
    return table


def _step(period: str):
    from datetime import timedelta

    return {"hour": timedelta(minutes=30), "day": timedelta(hours=12), "week": timedelta(days=3),
            "month": timedelta(days=14)}[period]
