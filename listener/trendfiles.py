"""Trend files for marketers, in one call: the pipeline, `overheard trends` and the daemon use it.

write_trend_files brings the hourly rollup up to date (work in proportion to what changed), then
writes, for each period, the tidy CSV and JSON tables, and, when asked, the charts and the report.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from listener.config import Config
from listener.models import utcnow
from listener.store import Store
from listener.trends.cache import window_tables, window_texts
from listener.trends.files import write_tables
from listener.trends.rollup import update_rollup
from listener.trends.since import parse_duration, up_to_now
from listener.trends.tables import make_window
from sentiment.trends import PERIODS, periods_between

MAX_CHART_POINTS = 120


def chart_period(requested: str, since: datetime, until: datetime, tz_name: str) -> str:
    """The requested period, or the next coarser one when it would crowd a chart past MAX_CHART_POINTS."""
    from zoneinfo import ZoneInfo

    for period in PERIODS[PERIODS.index(requested):]:
        if len(periods_between(since, until, period, ZoneInfo(tz_name))) <= MAX_CHART_POINTS:
            return period
    return "month"


def write_trend_files(config: Config, store: Store, out_dir: Path | None = None, since: datetime | None = None,
                      *, periods: list[str] | None = None, charts: bool | None = None, report: bool | None = None,
                      now: datetime | None = None) -> list[Path]:
    """Update the rollup, then write the trend files; returns every path written.

    Defaults come from [trends]: out_dir, periods, since (back from now), charts, report. Files
    are replaced whole (written under a temporary name, then renamed): safe to call on a schedule.
    Finished periods whose hours did not change since the last call are not recomputed: their rows
    are kept in the store (listener.trends.cache), so a new hour costs about that hour's period.
    """
    t = config.trends
    now = up_to_now(now or utcnow())
    out = out_dir or config.resolve(t.out_dir)
    since = since or now - parse_duration(t.since)
    update_rollup(store, t.timezone, now)
    written: list[Path] = []
    for period in periods or t.periods:
        window = make_window(period, t.timezone, since, now)
        written += write_tables(window_texts(config, store, window, now), window, out, now)
        if config.topics.enabled:
            from listener.trends.terms import terms_table

            written += write_tables([terms_table(config, store, window)], window, out, now)
    if charts if charts is not None else t.charts:
        from listener.trends.charts import build_charts, store_explainer, write_charts

        period = chart_period((periods or t.periods)[0], since, now, t.timezone)
        window = make_window(period, t.timezone, since, now)
        tables = {table.name: table for table in window_tables(config, store, window, now)}
        charts_ = build_charts(config, tables, window, store_explainer(config, store, window), store=store)
        written += write_charts(charts_, out, t.timezone, period)
    if report if report is not None else t.report:
        from listener.trends.report import write_report

        written.append(write_report(config, store, out / "report.html",
                                    since=now - parse_duration(t.report_since), now=now, update=False))
    return written

