"""Trend rollups: pure aggregation of scored mentions into per-period rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

TREND_COLUMNS = [
    "period_start", "brand", "source", "mentions", "positive", "neutral", "negative", "unscored",
    "mean_compound", "net_sentiment", "detractors", "unique_authors", "reach",
]


@dataclass(frozen=True)
class TrendInput:
    created_at: datetime  # timezone-aware
    brand: str
    source: str
    label: str | None
    compound: float | None
    detractor: bool
    author: str | None
    reach: int


def period_start(ts: datetime, period: str, tz: ZoneInfo) -> str:
    """The local start of the period containing `ts`, as an ISO date (day/week/month) or datetime (hour)."""
    local = ts.astimezone(tz)
    if period == "hour":
        return local.replace(minute=0, second=0, microsecond=0).isoformat()
    day = local.date()
    if period == "day":
        return day.isoformat()
    if period == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    if period == "month":
        return day.replace(day=1).isoformat()
    raise ValueError(f"unknown period {period!r}")


def rollup(items: list[TrendInput], period: str, tz: ZoneInfo) -> list[dict]:
    """One row per (period, brand, source), sorted; net_sentiment in points (positive% - negative%)."""
    groups: dict[tuple[str, str, str], list[TrendInput]] = defaultdict(list)
    for item in items:
        groups[(period_start(item.created_at, period, tz), item.brand, item.source)].append(item)
    rows = []
    for (start, brand, source), group in sorted(groups.items()):
        counts = {k: 0 for k in ("positive", "neutral", "negative", "unscored")}
        for g in group:
            counts[g.label if g.label in counts else "unscored"] += 1
        scored = [g.compound for g in group if g.compound is not None and g.label != "unscored"]
        n = len(group)
        rated = n - counts["unscored"]
        rows.append({
            "period_start": start, "brand": brand, "source": source, "mentions": n, **counts,
            "mean_compound": round(sum(scored) / len(scored), 4) if scored else "",
            "net_sentiment": round(100.0 * (counts["positive"] - counts["negative"]) / rated, 1) if rated else "",
            "detractors": sum(1 for g in group if g.detractor),
            "unique_authors": len({g.author for g in group if g.author}),
            "reach": sum(g.reach for g in group),
        })
    return rows
