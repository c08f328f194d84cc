"""How fast the support queue answers with many items: list, counts, search, and the web pages.

Run:  .venv/bin/python benchmarks/bench_queue.py [--items 2000]
Builds a throw-away database of ITEMS flagged threads (3 mentions each) through the real pipeline,
then times each operation (median of 20 runs) and prints the figures with the machine they ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.queue import ItemFilter, Queue  # noqa: E402
from alerts.users import add_user  # noqa: E402
from listener.config import load_config  # noqa: E402
from listener.models import Batch, Mention  # noqa: E402
from listener.pipeline import process  # noqa: E402
from listener.store import Store  # noqa: E402

CONFIG = """\
[[brands]]
name = "Brightwave"
keywords = ["Brightwave"]
[store]
path = "bench.db"
"""
WORDS = ["router", "billing", "outage", "engineer", "contract", "refund", "signal", "app", "speed", "install"]


def build(folder: Path, items: int) -> tuple:
    (folder / "overheard.toml").write_text(CONFIG)
    config = load_config(folder / "overheard.toml")
    store = Store(config.db_path)
    now = datetime.now(UTC)
    mentions = []
    for n in range(items):
        word = WORDS[n % len(WORDS)]
        at = now - timedelta(minutes=n)
        for i, text in enumerate([f"Brightwave {word} disaster, awful, refund now, scam, never again #{n}",
                                  "Brightwave terrible, furious, cancelling", "Brightwave worst ever, disgusting"]):
            mentions.append(Mention(source="x", native_id=f"{n}-{i}", text=text, brand="Brightwave",
                                    created_at=at + timedelta(seconds=i), thread_id=f"{n}-0",
                                    author=f"user{n}-{i}", author_followers=50_000 + n, engagement=300))
    store.save_batch("x", "bench", Batch(mentions=mentions))
    started = time.perf_counter()
    process(config, store, channels={})
    built = time.perf_counter() - started
    add_user(store, "bench", "admin", "bench-password")
    return config, store, built


def median_ms(func, runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        func()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from alerts.web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        config, store, built = build(Path(tmp), args.items)
        queue = Queue(store, config.queue)
        count = store.scalar("SELECT COUNT(*) FROM queue_items")
        first = store.scalar("SELECT MIN(id) FROM queue_items")
        client = TestClient(create_app(config, secret="b" * 40))
        page = client.get("/login").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/login", data={"name": "bench", "password": "bench-password", "csrf_token": token})
        figures = {
            "Queue.list (sla sort, 500 rows)": median_ms(lambda: queue.list(ItemFilter())),
            "Queue.counts": median_ms(lambda: queue.counts()),
            "Queue.list search 'router'": median_ms(lambda: queue.list(ItemFilter(search="router"))),
            "Queue.list sort=risk": median_ms(lambda: queue.list(ItemFilter(sort="risk"))),
            "GET / (web list page)": median_ms(lambda: client.get("/")),
            "GET /items/<id> (item page)": median_ms(lambda: client.get(f"/items/{first}")),
        }
        store.close()
    print(f"queue benchmark: {count} queue items ({args.items} threads x 3 mentions); "
          f"pipeline to build them: {built:.1f} s")
    for name, ms in figures.items():
        print(f"  {name:<36} {ms:8.1f} ms (median of 20)")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"rerun: .venv/bin/python benchmarks/bench_queue.py --items {args.items}")


if __name__ == "__main__":
    main()
