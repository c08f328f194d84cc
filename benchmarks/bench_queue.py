"""How fast the support queue's pages load with a big history: list, item and dashboard at 200k items.

Run:  nice -n 19 .venv/bin/python -m benchmarks.bench_queue [--items 200000] [--runs 30]

How it is made: a throw-away database gets ITEMS flagged threads written with bulk SQL (the schema of
the real migrations; 2 customer mentions per thread, one queue item each, its audit events), spread
over the last 90 days: 3% open (new, claimed, waiting, replied), 80% resolved (a quarter of those
with a recovery verdict), 17% dismissed, four agents. Then the real app (`create_app`) is served by
uvicorn on 127.0.0.1 and an HTTP client (httpx) logs in and loads each page RUNS times after warm-up
calls (the first list load also runs the queue's clock tick, which is timed on its own): p50/p95/max.
The Queue.* calls are timed in-process as a reference for what the pages add, and so are the 30-day
dashboard figures both ways: the fast path (`alerts.dashboard.fast_figures`, counted in SQL from the
covering index of migration 240) against the reference it must equal (`reference_figures`:
`queue_figures` over every item read), with a check that both gave the same figures.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.dashboard import fast_figures, reference_figures, resolve_period  # noqa: E402
from alerts.queue import ItemFilter, Queue  # noqa: E402
from alerts.users import add_user  # noqa: E402
from benchmarks.machine import machine, peak_rss_mb, summary_ms, timings_ms  # noqa: E402
from listener.config import load_config  # noqa: E402
from listener.models import iso  # noqa: E402
from listener.store import Store  # noqa: E402

CONFIG = """\
[[brands]]
name = "Brightwave"
keywords = ["Brightwave"]
[[brands]]
name = "Lumacell"
keywords = ["Lumacell"]
[store]
path = "bench.db"
"""
WORDS = ["router", "billing", "outage", "engineer", "contract", "refund", "signal", "app", "speed", "install"]
AGENTS = ["ana", "ben", "chloe", "dev"]
PASSWORD = "bench-password"


def seed(store: Store, items: int, now: datetime, rng: random.Random) -> None:
    """ITEMS threads, mentions, queue items and events in one transaction of executemany calls."""
    threads, mentions, queue, events = [], [], [], []
    event_id = 0
    breach = json.dumps({"target": "first_response", "round": 0})
    for n in range(items):
        brand = "Brightwave" if n % 3 else "Lumacell"
        source = ("x", "reddit", "mastodon", "appstore")[n % 4]
        key = f"{source}:bench-{n}"
        posted = now - timedelta(minutes=rng.uniform(5, 90 * 24 * 60))
        queued = posted + timedelta(minutes=rng.uniform(1, 30))
        word = WORDS[n % len(WORDS)]
        author = f"user{n}"
        for i in range(2):
            at = iso(posted + timedelta(minutes=3 * i))
            text = (f"{brand} {word} disaster again, awful, I want a refund #{n}" if i == 0 else
                    f"{brand} still nothing, terrible support, cancelling")
            mentions.append((source, f"{n}-{i}", brand, f"https://example.com/{n}/{i}", author if i == 0 else
                             f"{author}-friend", 50_000 + n, text, at, at, key, "negative", -0.8, 0.9, "en",
                             json.dumps([word]), at))
        risk = rng.choice([55.0, 70.0, 80.0, 90.0])
        threads.append((key, source, brand, f"https://example.com/{n}/0", iso(posted),
                        iso(posted + timedelta(minutes=3)), 2, 2, 100_000 + n, risk, json.dumps(["negative"]),
                        iso(queued)))
        priority = "high" if risk >= 75 else "medium"
        fr_due = queued + timedelta(hours=1 if priority == "high" else 4)
        res_due = queued + timedelta(hours=8 if priority == "high" else 24)
        roll = rng.random()
        agent = rng.choice(AGENTS)
        first = resolved = outcome = reason = recovery = None
        item_events = [("overheard", "created", queued)]
        if roll < 0.03:
            state = rng.choice(["new", "claimed", "waiting", "replied"])
            if state != "new":
                item_events.append((agent, "claimed", queued + timedelta(minutes=5)))
            if state in ("waiting", "replied"):
                first = queued + timedelta(minutes=rng.uniform(5, 120))
                item_events.append((agent, state, first))
            assignee = None if state == "new" else agent
            if first is None and fr_due < now:  # the clock tick already recorded this breach
                item_events.append(("overheard", "sla_breach", fr_due))
        elif roll < 0.20:
            state, reason, assignee = "dismissed", "spam", agent
            resolved = queued + timedelta(minutes=rng.uniform(1, 60))
            item_events.append((agent, "dismissed", resolved))
        else:
            state, outcome, assignee = "resolved", "answered_publicly", agent
            first = queued + timedelta(minutes=rng.uniform(2, 180))
            resolved = first + timedelta(minutes=rng.uniform(5, 600))
            # watched for [queue] recovery_days (14) after resolving, then decided, as the clock tick leaves it
            recovery = ("watching" if now - resolved < timedelta(days=14)
                        else rng.choice(["recovered", "still unhappy", "silent"]))
            item_events += [(agent, "claimed", first - timedelta(minutes=1)), (agent, "replied", first),
                            (agent, "resolved", resolved)]
        item_id = n + 1
        queue.append((item_id, key, brand, source, state, priority, risk, assignee, iso(queued), iso(queued),
                      iso(fr_due), iso(res_due), first and iso(first), resolved and iso(resolved), outcome, reason,
                      recovery, author, iso(posted), "post", iso(posted)))
        for actor, action, at_time in item_events:
            event_id += 1
            events.append((event_id, item_id, iso(min(at_time, now)), actor, action,
                           breach if action == "sla_breach" else "{}"))
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO mentions (source, native_id, brand, url, author, author_followers, text, created_at, "
            "collected_at, thread_key, label, compound, confidence, lang, themes, scored_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", mentions)
        conn.executemany(
            "INSERT INTO threads (thread_key, source, brand, url, first_at, last_at, mentions, negative, reach, risk, "
            "reasons, updated_at, flagged, dirty) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)", threads)
        conn.executemany(
            "INSERT INTO queue_items (id, thread_key, brand, source, state, priority, risk, assignee, created_at, "
            "updated_at, first_response_due, resolution_due, first_response_at, resolved_at, outcome, "
            "dismiss_reason, recovery, author, sla_started_at, sla_basis, post_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", queue)
        conn.executemany("INSERT INTO queue_events (id, item_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?, ?)",
                         events)
    store.conn.execute("ANALYZE")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    import httpx
    import uvicorn

    from alerts.web.app import create_app

    rng = random.Random(19)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "overheard.toml").write_text(CONFIG)
        config = load_config(folder / "overheard.toml")
        store = Store(config.db_path)
        started = time.perf_counter()
        seed(store, args.items, now, rng)
        seeded_s = time.perf_counter() - started
        for name in AGENTS:
            add_user(store, name, "agent", PASSWORD)
        counts = dict(store.conn.execute("SELECT state, COUNT(*) FROM queue_items GROUP BY state").fetchall())
        mentions = store.scalar("SELECT COUNT(*) FROM mentions")
        n_events = store.scalar("SELECT COUNT(*) FROM queue_events")
        queue = Queue(store, config.queue)
        ids = [r[0] for r in store.conn.execute("SELECT id FROM queue_items ORDER BY id")]

        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(config, secret="b" * 40), host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
        token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        assert client.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": token}).status_code \
            in (200, 303)

        def get(path: str) -> None:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        t0 = time.perf_counter()
        get("/")  # the first list load runs the queue's clock tick (at most every 30 s)
        first_list_ms = (time.perf_counter() - t0) * 1000
        pages = {
            "GET / (list, open, SLA sort, up to 500 rows)": lambda: get("/"),
            "GET /items/<random id> (item page)": lambda: get(f"/items/{rng.choice(ids)}"),
            "GET /dashboard?period=30d": lambda: get("/dashboard?period=30d"),
            "GET /dashboard?period=7d": lambda: get("/dashboard?period=7d"),
            "GET /dashboard (today)": lambda: get("/dashboard"),
        }
        figures = {name: timings_ms(func, args.runs, warmup=2) for name, func in pages.items()}
        month = resolve_period("30d", config.queue.timezone)
        zone = ZoneInfo(month.timezone)
        at = datetime.now(UTC)
        identical = fast_figures(store, month.since, month.until, at, zone) == \
            reference_figures(store, month.since, month.until, at, zone)
        reference = {
            "Queue.list (in-process)": timings_ms(lambda: queue.list(ItemFilter()), 10),
            "Queue.tick (in-process)": timings_ms(lambda: queue.tick(), 5, warmup=1),
            "30d figures, fast_figures (in-process)":
                timings_ms(lambda: fast_figures(store, month.since, month.until, at, zone), 10),
            "30d figures, reference_figures (in-process)":
                timings_ms(lambda: reference_figures(store, month.since, month.until, at, zone), 5),
        }
        client.close()
        server.should_exit = True
        thread.join(timeout=10)
        store.close()
    print(f"queue page-load benchmark: {args.items:,} queue items ({mentions:,} mentions, {n_events:,} events) "
          f"seeded by bulk SQL in {seeded_s:.1f} s; states {counts}")
    print(f"served by uvicorn on 127.0.0.1 through the real app, httpx client, logged in; {args.runs} runs per "
          f"page after 2 warm-up loads")
    print(f"  first GET / (includes the clock tick)        {first_list_ms:8.1f} ms")
    for name, values in figures.items():
        print(f"  {name:<46} {summary_ms(values)}")
    for name, values in reference.items():
        print(f"  {name:<46} {summary_ms(values)}")
    print(f"30-day figures: fast path and reference identical: {'yes' if identical else 'NO'}")
    print(f"peak memory {peak_rss_mb():.0f} MB (server and client in one process)")
    print(machine())
    print(f"rerun: nice -n 19 .venv/bin/python -m benchmarks.bench_queue --items {args.items} --runs {args.runs}")


if __name__ == "__main__":
    main()
