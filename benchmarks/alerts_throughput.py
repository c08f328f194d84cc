"""How fast threads roll up, rules evaluate and the outbox delivers, and how long a backtest takes.

Synthetic data (not tuned on): THREADS threads of MENTIONS_PER_THREAD negative-ish mentions each,
stored and scored, then the rollup, the rules and delivery to a file receiver are timed; then a
14-day backtest over the same store. Prints figures and the machine.

Rerun: .venv/bin/python benchmarks/alerts_throughput.py [THREADS] [MENTIONS_PER_THREAD]
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.backtest import run_backtest  # noqa: E402
from alerts.outbox import deliver_pending  # noqa: E402
from alerts.rules import evaluate_pending  # noqa: E402
from listener.collect import collect  # noqa: E402
from listener.config import load_config  # noqa: E402
from listener.pipeline import build_channels  # noqa: E402
from listener.scoring import build_scorer, score_pending  # noqa: E402
from listener.store import Store  # noqa: E402
from listener.threads import rollup_dirty  # noqa: E402

TEXTS = ["Brightwave outage again, I want a refund", "same here, Brightwave is awful", "Brightwave works fine for me",
         "switching to Lumacell after this", "Brightwave support never answers, terrible", "any update Brightwave?"]


def main() -> None:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = []
        for t in range(threads):
            start = end - timedelta(days=14) + timedelta(minutes=37 * t % (14 * 24 * 60))
            for i in range(per):
                rows.append({"id": f"{t}-{i}", "text": TEXTS[(t + i) % len(TEXTS)], "thread_id": f"{t}-0",
                             "author": f"user{(t * 7 + i) % 900}", "followers": (t * 131 + i * 17) % 60_000,
                             "brand": "Brightwave", "created_at": (start + timedelta(minutes=3 * i)).isoformat()})
        (folder / "in.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
        (folder / "overheard.toml").write_text("""
[[brands]]
name = "Brightwave"
keywords = ["Brightwave"]
handles = ["@BrightwaveHelp"]
[sources.file]
[[sources.file.imports]]
paths = ["in.jsonl"]
default_source = "x"
[[alerts.receivers]]
name = "file"
type = "file"
path = "alerts.jsonl"
max_per_hour = 0
[[alerts.rules]]
name = "threads"
receivers = ["file"]
group_interval_minutes = 0
""", encoding="utf-8")
        config = load_config(folder / "overheard.toml")
        with Store(config.db_path) as store:
            collect(config, store)
            score_pending(store, build_scorer(config))
            t0 = time.perf_counter()
            rolled = len(rollup_dirty(store, config))
            t1 = time.perf_counter()
            report = evaluate_pending(store, config)
            t2 = time.perf_counter()
            delivery = deliver_pending(store, build_channels(config))
            t3 = time.perf_counter()
            result = run_backtest(config, store, end - timedelta(days=14), end)
            t4 = time.perf_counter()
        mentions = len(rows)
        print(f"machine: {platform.machine()} {platform.processor() or ''} · {os.cpu_count()} cpus · "
              f"Python {platform.python_version()} · {platform.system()} {platform.release()}")
        print(f"data: {threads} threads × {per} mentions = {mentions} mentions over 14 days (synthetic)")
        print(f"thread rollup (risk + reasons): {rolled} threads in {t1 - t0:.2f} s "
              f"({rolled / (t1 - t0):.0f} threads/s, {mentions / (t1 - t0):.0f} mentions/s)")
        print(f"rules + noise control: {report.threads_checked} threads, {report.alerts_enqueued} alerts "
              f"in {t2 - t1:.2f} s")
        print(f"delivery to a file receiver: {delivery.messages} messages in {t3 - t2:.2f} s")
        print(f"backtest --since 14d --step 15m: {result.mentions_replayed} mentions, {len(result.fired)} messages "
              f"in {t4 - t3:.2f} s")
        print("rerun: .venv/bin/python benchmarks/alerts_throughput.py [THREADS] [MENTIONS_PER_THREAD]")


if __name__ == "__main__":
    main()
