"""Two `overheard run --join` workers on one store, killed with SIGKILL at random moments and restarted.

The two daemons are real subprocesses on the store the suite runs on: one SQLite file, or (with
`--backend=postgresql`) one PostgreSQL schema, as two hosts would share it. Each names itself as a host
of its own (OVERHEARD_WORKER_HOST), so when one is killed the other cannot tell from its process table
that it is gone: the dead worker's query, block and receiver leases free up only when they run out
([daemon] lease_seconds = 3 here), as they would for a machine that went away. A worker restarted on
its "host" sees its predecessor's pid gone and takes its leases at once.

Mentions arrive meanwhile from export files (new files, moved into place whole) and a search API
with a since_id cursor. Alerts go to a file receiver (exactly once: a row marked "sending" by a dead
worker is looked up in the file before it is sent again) and a JSON webhook (exactly once per
Idempotency-Key; a post in flight at a kill may repeat, at most one per kill). At the end every
served mention is stored once, every alert is in the file once, and every key reached the webhook.
The kills are seeded (OVERHEARD_WORKERS_SEED); the seed and the plan are in the assertion message.
"""

from __future__ import annotations

import json
import os
import random
import time

import pytest

from listener.store import Store
from tests.daemon_fakes import FakeSearchApi
from tests.daemon_helpers import (
    ANGRY,
    FAST_DAEMON,
    FILE_SOURCE,
    append_jsonl,
    log_events,
    rows_for_thread,
    start_daemon,
    tail,
    wait_for,
)
from tests.fakes_slack.server import WebhookReceiver
from tests.helpers import write_config

SEED = int(os.environ.get("OVERHEARD_WORKERS_SEED", "20261202"))
CYCLES = int(os.environ.get("OVERHEARD_WORKERS_CYCLES", "10"))

CONFIG = FILE_SOURCE + """

[sources.api_ok]
interval_minutes = 0.005
base_url = "{api}"

[[alerts.receivers]]
name = "support"
type = "file"
path = "alerts.jsonl"
max_per_hour = 0

[[alerts.receivers]]
name = "hook"
type = "webhook"
url = "{hook}"
max_per_hour = 0

[[alerts.rules]]
name = "all"
min_risk = 0
receivers = ["support", "hook"]

[alerts.levels]
warning = 10

""" + FAST_DAEMON + "lease_seconds = 3\n"


def _start(config, log, host: str):
    os.environ["OVERHEARD_WORKER_HOST"] = host  # the subprocess inherits it; restored by the fixture
    return start_daemon(config, log, "--join")


def _started(log, pid: int) -> bool:
    return log.exists() and any(e.get("event") == "daemon_started" and e.get("pid") == pid for e in log_events(log))


def _received(path, live: bool = False) -> list[str]:
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace" if live else "strict")
    if live:
        text = text[:text.rfind("\n") + 1]  # a last line still being written
    return [json.loads(line)["idem_key"] for line in text.splitlines()]


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.setenv("OVERHEARD_WORKER_HOST", "")
    api, hook = FakeSearchApi(), WebhookReceiver().start()
    yield api, hook
    api.close()
    hook.stop()


def _drop_file(folder, name: str, rows: list[dict]) -> None:
    """A new export file, moved into place whole, so a worker never reads half of it."""
    part = folder.parent / f".{name}.part"
    append_jsonl(part, rows)
    part.rename(folder / name)


def test_two_workers_killed_at_random_store_each_mention_once_and_deliver_each_alert_once(tmp_path, fakes, backend):
    api, hook = fakes
    rng = random.Random(SEED)
    (tmp_path / "in").mkdir()
    config = write_config(tmp_path, CONFIG.format(api=api.url, hook=hook.url))
    logs = {"a": tmp_path / "a.log", "b": tmp_path / "b.log"}
    alerts = tmp_path / "alerts.jsonl"
    store = Store(tmp_path / "overheard.db")  # the store both workers open (a PostgreSQL schema on --backend)
    assert store.backend == backend
    served: set[str] = set()
    angry_threads: set[str] = set()
    plan: list[str] = []
    running: dict[str, object] = {}
    thread_no = 0
    files = 0
    try:
        for _ in range(CYCLES):
            # New mentions while the workers run: a few threads in a new export file, posts on the API.
            rows = []
            for _ in range(rng.choice([1, 3, 10, 30])):
                angry = rng.random() < 0.5
                rows += rows_for_thread(f"t{thread_no}", angry)
                if angry:
                    angry_threads.add(f"x:t{thread_no}-0")
                thread_no += 1
            served.update(r["id"] for r in rows)
            _drop_file(tmp_path / "in", f"export{files}.jsonl", rows)
            files += 1
            for _ in range(rng.choice([0, 2, 10])):
                angry = rng.random() < 0.4
                (native_id,) = api.add(1, "p", text=ANGRY[1] if angry else None)
                served.add(f"api:{native_id}")
                if angry:
                    angry_threads.add(f"api_ok:{native_id}")
            for name in ("a", "b"):
                if name not in running:
                    running[name] = _start(config, logs[name], f"host-{name}")
            if rng.random() < 0.7:
                for name, proc in running.items():
                    wait_for(lambda n=name, p=proc: _started(logs[n], p.pid), 20, f"worker {name} start-up",
                             proc, logs[name])
            time.sleep(rng.uniform(0.2, 1.5))
            # Kill one (its leases wait for their expiry while the other goes on) or both.
            victims = rng.choice([["a"], ["b"], ["a", "b"]])
            plan.append(f"{'+'.join(victims)}@{round(time.monotonic() % 1000, 2)}")
            for name in victims:
                proc = running.pop(name)
                proc.kill()
                proc.wait()
        for name in ("a", "b"):
            if name not in running:
                running[name] = _start(config, logs[name], f"host-{name}")
        expected = {f"{t}|all|warning|{r}" for t in angry_threads for r in ("support", "hook")}
        to_file = {k for k in expected if k.endswith("|support")}
        replay = f"seed {SEED}, kills {plan}"

        def settled() -> bool:
            counts = store.query(
                "SELECT (SELECT COUNT(*) FROM mentions) AS stored, "
                "(SELECT COUNT(*) FROM mentions WHERE scored_at IS NULL) AS unscored, "
                "(SELECT COUNT(*) FROM threads WHERE dirty = 1 OR alert_pending = 1) AS work, "
                "(SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL) AS pending")[0]
            return (counts["stored"] == len(served) and counts["unscored"] == 0 and counts["work"] == 0
                    and counts["pending"] == 0 and len(_received(alerts, live=True)) >= len(to_file))

        try:
            wait_for(settled, 90, f"the two workers to catch up ({replay})", running["a"], logs["a"])
        except AssertionError as exc:
            missing = sorted(to_file - set(_received(alerts, live=True)))
            raise AssertionError(f"{exc}\nworker b:\n{tail(logs['b'])}\nmissing from the file: {missing[:10]}"
                                 ) from None
        # A worker restarted just before the work settled may still be starting: stop it only once it has
        # started (and handles SIGTERM), or its exit code says nothing about a clean shutdown.
        for name, proc in running.items():
            wait_for(lambda n=name, p=proc: _started(logs[n], p.pid), 60, f"worker {name} start-up", proc, logs[name])
    finally:
        codes = {}
        for proc in running.values():
            proc.terminate()
        for name, proc in running.items():
            try:
                codes[name] = proc.wait(timeout=20)
            except Exception:
                proc.kill()
                proc.wait()
                codes[name] = None
    assert codes == {"a": 0, "b": 0}, (codes, tail(logs["a"]), tail(logs["b"]))

    stored = [(s, n) for s, n in store.conn.execute("SELECT source, native_id FROM mentions ORDER BY id")]
    ids = [n if s == "x" else f"api:{n}" for s, n in stored]
    assert len(ids) == len(set(ids)), f"mentions stored twice ({replay})"
    assert set(ids) == served, replay
    assert store.scalar("SELECT SUM(new) FROM runs") == len(served), replay

    received = _received(alerts)
    doubled = sorted({k for k in received if received.count(k) > 1})
    assert not doubled, f"alerts delivered twice: {doubled[:5]} ({replay})"
    assert set(received) == to_file, replay
    hooked = [r.headers["idempotency-key"] for r in hook.received]
    to_hook = {k for k in expected if k.endswith("|hook")}
    assert set(hooked) == to_hook, f"webhook missing {sorted(to_hook - set(hooked))[:5]} ({replay})"
    kills = sum(len(p.split("@")[0].split("+")) for p in plan)
    repeats = len(hooked) - len(set(hooked))
    assert repeats <= kills, replay  # at most the post in flight at each kill (dropped by its key)
    outbox = store.query("SELECT idem_key, delivered_at FROM outbox ORDER BY id")
    assert {r["idem_key"] for r in outbox} == expected and all(r["delivered_at"] for r in outbox), replay
    items = [r[0] for r in store.conn.execute("SELECT thread_key FROM queue_items ORDER BY thread_key")]
    assert items == sorted(angry_threads), replay
    # Both workers did work: each one's log shows mentions stored, and each one delivered alerts.
    did = {name: {e.get("event") for e in log_events(logs[name]) if e.get("event") in ("run", "alert_delivered")
                  and (e.get("event") != "run" or e.get("new"))} for name in logs}
    store.close()
    print(f"two workers on {backend}: {CYCLES} cycles, {kills} kill -9s, {len(served)} mentions, "
          f"{len(expected)} alerts; "
          f"webhook repeats {repeats} (dropped by key); what each did: {did}")
