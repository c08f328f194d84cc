"""A viral thread: 50,000 replies arriving in batches, the thread rolled up after each batch (issue 20).

Each batch is stored as the collect stage leaves it (scored, the thread marked dirty), then
listener.threads.rollup_dirty recomputes the thread: risk, reasons, detractors, reach. The thread keeps
running totals (thread_totals), so a recompute reads and adds only the batch's new replies: the time per
new reply should stay flat as the thread grows. At a few sizes the same rollup is also timed counting the
whole thread again (what every recompute cost before the totals, and what a re-label or rescore of a
counted reply still costs once), and the result of both is compared: they must be identical.

Run:  .venv/bin/python -m benchmarks.viral_thread [--replies 50000] [--batch 100]
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
from listener.threads import rollup_dirty

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


def _full_recount(store: Store, config) -> tuple[float, dict]:
    """The same rollup counting every reply again (its totals dropped, as a re-label of a counted reply
    drops them), timed. It writes the totals again, so the run goes on from the same state."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM thread_totals WHERE thread_key = 'x:viral'")
        conn.execute("UPDATE threads SET dirty = 1 WHERE thread_key = 'x:viral'")
    t0 = time.perf_counter()
    assert rollup_dirty(store, config) == ["x:viral"]
    spent = time.perf_counter() - t0
    return spent, {"row": _thread(store)}


def _thread(store: Store) -> dict:
    row = store.query("SELECT * FROM threads WHERE thread_key = 'x:viral'")[0]
    row.pop("updated_at")
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args(argv)
    config = config_from_dict({"brands": [{"name": "Brightwave", "keywords": ["Brightwave"],
                                           "handles": ["@BrightwaveHelp"]}]}, Path("overheard.toml"),
                             check_secrets=False)
    rng = random.Random(20)
    times: list[tuple[int, float]] = []
    full: list[tuple[int, float]] = []
    marks = {m for m in (1_000, 10_000, 50_000, args.replies) if m <= args.replies}
    with tempfile.TemporaryDirectory(prefix="overheard-viral-") as tmp, Store(Path(tmp) / "viral.db") as store:
        _history(store, rng)
        rollup_dirty(store, config)
        print(f"viral thread: {args.replies:,} replies in batches of {args.batch:,}, rolled up after each batch "
              "(incremental: only the new replies are read and added to the thread's running totals)", flush=True)
        size = 0
        for _ in range(args.replies // args.batch):
            _insert(store, _batch(rng, size, args.batch))
            size += args.batch
            t0 = time.perf_counter()
            assert rollup_dirty(store, config) == ["x:viral"]
            times.append((size, time.perf_counter() - t0))
            if size in marks:
                # The median of the last 10 recomputes (the machine is shared: one slow pass is noise).
                recent = sorted(t for _, t in times[-10:])
                median = recent[len(recent) // 2]
                incremental = _thread(store)
                spent, full_result = _full_recount(store, config)
                assert full_result["row"] == incremental, "incremental and full recount differ"
                full.append((size, spent))
                print(f"  thread at {size:>7,} replies: recompute {median * 1000:7.1f} ms for {args.batch} new "
                      f"replies = {median / args.batch * 1e6:6.1f} µs per new reply | full recount "
                      f"{spent * 1000:8.1f} ms = {spent / size * 1e6:5.1f} µs per reply in the thread; "
                      "results identical", flush=True)
        risk = store.query("SELECT risk, reasons, detractors, reach FROM threads WHERE thread_key = 'x:viral'")[0]
    total = sum(t for _, t in times)
    per = {size: t for size, t in full}
    print(f"  all {len(times)} incremental recomputes: {total:.1f} s in all; counting the thread again on every "
          f"recompute would have cost about {sum(per[max(per)] * s / max(per) for s, _ in times):.0f} s "
          "(linear in the thread size, from the full recounts above)", flush=True)
    print(f"  final thread: risk {risk['risk']}, {risk['detractors']:,} detractors, reach {risk['reach']:,}")
    print("  " + machine())
    print(f"  rerun: nice -n 19 .venv/bin/python -m benchmarks.viral_thread --replies {args.replies} "
          f"--batch {args.batch}")
    return {"times": times, "full": full}


if __name__ == "__main__":
    main()
