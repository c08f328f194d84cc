"""Benchmark: does adding an hour of mentions cost that hour, whatever the history?

Builds stores with 90 days of synthetic scored mentions at two history sizes, then times:
the first (full) rollup, an incremental update after one new hour of mentions, and writing the
daily trend files for 90 days. The incremental time should stay flat as the history grows.

Run:  .venv/bin/python benchmarks/trends_rollup.py            (50k and 200k mentions)
      .venv/bin/python benchmarks/trends_rollup.py --full     (200k and 1M mentions)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from listener.config import config_from_dict
from listener.models import iso
from listener.store import Store
from listener.trendfiles import write_trend_files
from listener.trends.rollup import update_rollup

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
BRANDS = ["Acme", "Rival", "Other"]
SOURCES = ["x", "reddit", "appstore"]
LANGS = ["en", "en", "en", "de", "fr", "ja"]
LABELS = ["positive", "neutral", "negative", "unscored"]
THEMES = [[], [], ["billing"], ["outage"], ["app", "billing"]]


def fill(store: Store, n: int, start: datetime, span: timedelta, prefix: str, scored_at: str | None = None) -> None:
    rng = random.Random(n)
    rows = []
    for i in range(n):
        at = start + timedelta(seconds=rng.randrange(int(span.total_seconds())))
        label = rng.choices(LABELS, weights=[45, 30, 20, 5])[0]
        rows.append((
            rng.choice(SOURCES), f"{prefix}{i}", rng.choice(BRANDS), f"user{rng.randrange(n // 3 + 1)}",
            rng.choice([10, 100, 1000, 50_000]), "text", iso(at), iso(at), f"t:{prefix}{i}",
            rng.choice(LANGS), label, rng.uniform(-1, 1), json.dumps(rng.choice(THEMES)),
            int(label == "negative"), scored_at or iso(at + timedelta(minutes=1)),
        ))
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO mentions (source, native_id, brand, author, author_followers, text, created_at, "
            "collected_at, thread_key, lang, label, compound, themes, detractor, scored_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def run(history: int, hour_size: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = config_from_dict({
            "brands": [{"name": "Acme", "keywords": ["acme"], "competitors": ["Rival"]}],
            "competitors": [{"name": "Rival", "keywords": ["rival"]}],
            "trends": {"timezone": "Europe/London", "periods": ["day"]},
        }, Path(tmp) / "overheard.toml", check_secrets=False)
        with Store(Path(tmp) / "bench.db") as store:
            fill(store, history, NOW - timedelta(days=90), timedelta(days=90) - timedelta(hours=2), "h")
            t0 = time.perf_counter()
            update_rollup(store, "Europe/London", now=NOW - timedelta(hours=1))
            full = time.perf_counter() - t0
            fill(store, hour_size, NOW - timedelta(hours=1), timedelta(minutes=59), "n",
                 iso(NOW - timedelta(minutes=5)))
            t0 = time.perf_counter()
            step = update_rollup(store, "Europe/London", now=NOW)
            incremental = time.perf_counter() - t0
            t0 = time.perf_counter()
            write_trend_files(config, store, Path(tmp) / "out", NOW - timedelta(days=90), now=NOW)
            files = time.perf_counter() - t0
    return {"full": full, "incremental": incremental, "hours": step.hours, "read": step.mentions, "files": files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="bigger histories (200k and 1M mentions)")
    parser.add_argument("--hour", type=int, default=500, help="mentions in the new hour (default 500)")
    args = parser.parse_args()
    sizes = [200_000, 1_000_000] if args.full else [50_000, 200_000]
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"one new hour = {args.hour} mentions; 90 days of history; zone Europe/London")
    print(f"{'history':>10} {'full rollup':>12} {'new hour':>10} {'hours redone':>13} {'mentions read':>14} "
          f"{'90-day files':>13}")
    for n in sizes:
        r = run(n, args.hour)
        print(f"{n:>10,} {r['full']:>11.2f}s {r['incremental']:>9.3f}s {r['hours']:>13} {r['read']:>14,} "
              f"{r['files']:>12.2f}s")
    print("rerun: .venv/bin/python benchmarks/trends_rollup.py" + (" --full" if args.full else ""))


if __name__ == "__main__":
    main()
