"""Trend files for marketers: the rollups of sentiment.trends, written as CSV."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from listener.config import Config
from listener.models import iso, parse_iso
from listener.store import Store
from sentiment.trends import TREND_COLUMNS, TrendInput, rollup


def load_inputs(store: Store, since: datetime | None = None) -> list[TrendInput]:
    sql = "SELECT created_at, brand, source, label, compound, detractor, author, author_followers FROM mentions"
    params: tuple = ()
    if since is not None:
        sql += " WHERE created_at >= ?"
        params = (iso(since),)
    return [
        TrendInput(parse_iso(r["created_at"]), r["brand"] or "(none)", r["source"], r["label"], r["compound"],
                   bool(r["detractor"]), r["author"], r["author_followers"] or 0)
        for r in store.query(sql, params)
    ]


def write_trend_files(config: Config, store: Store, out_dir: Path | None = None,
                      since: datetime | None = None) -> list[Path]:
    """Write one CSV per configured period; the file name states the period and the time zone."""
    out = out_dir or config.resolve(config.trends.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tz = ZoneInfo(config.trends.timezone)
    items = load_inputs(store, since)
    written = []
    for period in config.trends.periods:
        path = out / f"sentiment_{period}_{config.trends.timezone.replace('/', '-')}.csv"
        tmp = path.with_suffix(".csv.tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=TREND_COLUMNS)
            writer.writeheader()
            writer.writerows(rollup(items, period, tz))
        tmp.replace(path)  # readers never see half a file
        written.append(path)
    return written
