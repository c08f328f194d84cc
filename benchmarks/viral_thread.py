"""A viral thread: 50,000 replies arriving in batches, the thread rolled up after each batch (issue 20).

Each batch is stored as the collect stage leaves it (scored, the thread marked dirty), then
listener.threads.rollup_dirty recomputes the thread: risk, reasons, detractors, reach. The time per
batch is printed as the thread grows. Beside it, at a few sizes, what the rollup cost before this
change: one author-history query per mention of the thread on every recompute (the reference
computation kept as listener.threads.complaints_before), timed on the same store.

Run:  .venv/bin/python -m benchmarks.viral_thread [--replies 50000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.machine import machine
from listener.config import config_from_dict
from listener.models import iso
from listener.store import Store
from listener.threads import complaints_before, rollup_dirty
from sentiment.risk import cue_pattern

T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
TEXTS = ["@BrightwaveHelp outage again, I want a refund", "same here, down since 8", "works for me",
         "switching to Lumacell after this", "this is a scam, chargeback time", "any update?", "lol", "awful service",
         "Brightwave is down in Leeds too", "my router is blinking red", "they never answer", "cancelling today"]
LABELS = ["negative", "negative", "neutral", "positive", None]


def _batch(rng: random.Random, start: int, n: int) -> list[tuple]:
    rows = []
    for i in range(start, start + n):
        created = T0 + timedelta(seconds=i * 2)  # a reply every 2 s: 50,000 in about 28 hours
        label = rng.choice(LABELS)
        rows.append(("x", f"r{i}", "Brightwave", f"user{rng.randrange(20_000)}", rng.choice([10, 300, 5_000, 80_000]),
                     rng.choice(TEXTS), iso(created), iso(created), "x:viral", rng.choice([0, 1, 4]), label,
                     None if label is None else rng.uniform(-1, 1), int(label == "negative"), iso(created)))
    return rows


def _history(store: Store, rng: random.Random) -> None:
    """The authors' other threads: complaints before, so the repeat-detractor look-ups have work."""
    rows = []
    for i in range(20_000):
        created = T0 - timedelta(hours=rng.uniform(1, 24 * 20))
        rows.append(("x", f"h{i}", "Brightwave", f"user{rng.randrange(20_000)}", 100, rng.choice(TEXTS),
                     iso(created), iso(created), f"x:h{i}", 0, "negative", -0.5, 1, iso(created)))
    _insert(store, rows)


def _insert(store: Store, rows: list[tuple]) -> None:
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO mentions (source, native_id, brand, author, author_followers, text, created_at, "
            "collected_at, thread_key, engagement, label, compound, detractor, scored_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("INSERT INTO threads (thread_key, source, first_at, last_at, updated_at, dirty) "
                     "SELECT DISTINCT thread_key, 'x', '', '', '', 1 FROM mentions "
                     "WHERE thread_key NOT IN (SELECT thread_key FROM threads)")
        conn.execute("UPDATE threads SET dirty = 1 WHERE thread_key = 'x:viral'")


def _one_query_per_mention(store: Store, config) -> float:
    """The author look-ups as the rollup made them before: one query per mention of the thread."""
    window = timedelta(days=config.risk.repeat_window_days)
    pattern = cue_pattern(tuple(config.sentiment.cues))
    rows = store.query("SELECT * FROM mentions WHERE thread_key = 'x:viral' ORDER BY created_at, id")
    t0 = time.perf_counter()
    for row in rows:
        complaints_before(store, row, window, pattern)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args(argv)
    config = config_from_dict({"brands": [{"name": "Brightwave", "keywords": ["Brightwave"],
                                           "handles": ["@BrightwaveHelp"]}]}, Path("overheard.toml"),
                             check_secrets=False)
    rng = random.Random(20)
    times: list[tuple[int, float]] = []
    before: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory(prefix="overheard-viral-") as tmp, Store(Path(tmp) / "viral.db") as store:
        _history(store, rng)
        rollup_dirty(store, config)
        print(f"viral thread: {args.replies:,} replies in batches of {args.batch:,}, rolled up after each batch "
              "(time per batch as the thread grows)", flush=True)
        size = 0
        step = max(1, args.replies // args.batch // 10)
        for n in range(args.replies // args.batch):
            _insert(store, _batch(rng, size, args.batch))
            size += args.batch
            t0 = time.perf_counter()
            assert rollup_dirty(store, config) == ["x:viral"]
            times.append((size, time.perf_counter() - t0))
            if (n + 1) % step == 0 or n == 0:
                print(f"  thread at {size:>7,} replies: rollup {times[-1][1] * 1000:7.1f} ms "
                      f"({times[-1][1] / size * 1e6:.1f} µs per reply in the thread)", flush=True)
                if (n + 1) % (step * 5) == 0 or n == 0:
                    spent = _one_query_per_mention(store, config)
                    before.append((size, spent))
                    print(f"    before (one author query per mention): {spent * 1000:7.1f} ms of look-ups alone",
                          flush=True)
        risk = store.query("SELECT risk, reasons, detractors, reach FROM threads WHERE thread_key = 'x:viral'")[0]
    first, last = times[0][1], times[-1][1]
    total = sum(t for _, t in times)
    print(f"  all {len(times)} rollups: {total:.1f} s; last batch / first batch: {last / first:.1f}x for a thread "
          f"{times[-1][0] / times[0][0]:.0f}x larger", flush=True)
    print(f"  final thread: risk {risk['risk']}, {risk['detractors']:,} detractors, reach {risk['reach']:,}")
    print("  " + machine())
    print(f"  rerun: .venv/bin/python -m benchmarks.viral_thread --replies {args.replies} --batch {args.batch}")
    return {"times": times, "before": before}


if __name__ == "__main__":
    main()
