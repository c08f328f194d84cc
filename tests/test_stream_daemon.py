"""`overheard run` with a stream configured: streamed posts flow to alerts at once, SIGTERM closes the
stream cleanly, and a daemon killed (SIGKILL) and restarted again and again loses and doubles nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

from tests.daemon_helpers import ROOT, db_query, log_events, start_daemon, stop_daemon, tail, wait_for
from tests.fakes_streams.jetstream import FakeJetstream
from tests.helpers import write_config

ANGRY = [
    "Brightwave charged me twice and nobody answers, I want a refund or it's a chargeback",
    "Same here, Brightwave is a scam, cancelling today and switching to Lumacell",
    "Brightwave outage again, terrible service, I'm furious",
]


def _config(tmp_path, jet, process_seconds=3600):
    return write_config(tmp_path, f"""
    [store]
    path = "overheard.db"

    [streams.jetstream]
    url = "{jet.url}"
    rewind_seconds = 2
    backoff_base_seconds = 0.1
    backoff_max_seconds = 0.5
    flush_seconds = 0.1

    [daemon]
    process_seconds = {process_seconds}
    shutdown_timeout_seconds = 10

    [alerts.spikes]
    enabled = false

    [[alerts.rules]]
    name = "any-risk"
    min_risk = 10
    receivers = ["file"]

    [[alerts.receivers]]
    name = "file"
    type = "file"
    path = "alerts.jsonl"
    """)


def _status(config) -> dict:
    out = subprocess.run([sys.executable, "-c", "from listener.cli import main; main()", "status", "--config",
                          str(config), "--json"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    return json.loads(out.stdout)


def test_a_streamed_burst_is_alerted_without_waiting_for_the_process_schedule(tmp_path):
    with FakeJetstream() as jet:
        config = _config(tmp_path, jet)  # process runs hourly: only the stream's wake-up can be in time
        log = tmp_path / "daemon.log"
        proc = start_daemon(config, log)
        try:
            wait_for(lambda: jet.connections, 20, "the daemon's Jetstream connection", proc, log)
            root = jet.post(ANGRY[0], did="did:plc:angry0", rkey="3kroot")
            uri = f"at://did:plc:angry0/app.bsky.feed.post/{root['commit']['rkey']}"
            for i, text in enumerate(ANGRY[1:], 1):
                jet.post(text, did=f"did:plc:angry{i}", reply_root=uri)
            alerts = tmp_path / "alerts.jsonl"
            t0 = time.monotonic()
            wait_for(lambda: alerts.exists() and alerts.read_text().strip(), 15, "the alert", proc, log)
            assert time.monotonic() - t0 < 10
            assert "bluesky:" + uri in alerts.read_text()
            status = _status(config)
            (stream,) = status["streams"]
            assert stream["stream"] == "jetstream" and stream["state"] == "connected"
            assert stream["mentions"] == 3 and stream["last_event_at"] and stream["lag_seconds"] is not None
            human = subprocess.run([sys.executable, "-c", "from listener.cli import main; main()", "status",
                                    "--config", str(config)], capture_output=True, text=True, cwd=ROOT,
                                   timeout=60, env={**os.environ, "COLUMNS": "160"}).stdout
            assert "streams" in human and "jetstream" in human and "connected" in human, human
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0, tail(log)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    events = [e.get("event") for e in log_events(log)]
    assert events[-1] == "daemon_stopped"
    assert db_query(tmp_path / "overheard.db", "SELECT state FROM stream_status") == [("stopped",)]


def test_kill_and_restart_mid_stream_loses_and_doubles_no_mention(tmp_path):
    rnd = random.Random(17)
    total = 150
    with FakeJetstream() as jet:
        config = _config(tmp_path, jet, process_seconds=0.5)
        log = tmp_path / "daemon.log"
        db = tmp_path / "overheard.db"
        done = threading.Event()

        def poster() -> None:
            for i in range(total):
                jet.post(f"Brightwave post {i}: " + rnd.choice(ANGRY), did=f"did:plc:u{i % 9}", rkey=f"3k{i:05d}")
                if i % 10 == 0:
                    jet.post("the weather is nice")  # not a mention: moves the cursor only
                time.sleep(0.02)
            done.set()

        proc = start_daemon(config, log)
        wait_for(lambda: jet.connections, 20, "the first connection", proc, log)
        feeder = threading.Thread(target=poster, daemon=True)
        feeder.start()
        kills = 0
        try:
            while not done.is_set() or kills < 3:
                time.sleep(rnd.uniform(0.05, 0.8))  # at a random moment of streaming
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                time.sleep(rnd.uniform(0, 0.3))  # posts keep coming while it is down
                before = len(jet.connections)
                proc = start_daemon(config, log)
                wait_for(lambda n=before: len(jet.connections) > n, 20, "the reconnect after a restart", proc, log)
            count = lambda: (db_query(db, "SELECT COUNT(*) FROM mentions") or [(0,)])[0][0]  # noqa: E731
            wait_for(lambda: count() >= total, 30, "every post after the restarts", proc, log)
            time.sleep(0.5)
        finally:
            assert stop_daemon(proc) == 0, tail(log)
    ids = [r[0] for r in db_query(db, "SELECT native_id FROM mentions")]
    assert len(ids) == total and len(set(ids)) == total
    assert sorted(i.rsplit("/", 1)[1] for i in ids) == [f"3k{i:05d}" for i in range(total)]
    assert len(jet.connections) >= kills + 1
    assert sum("cursor" in c.params for c in jet.connections) >= kills  # every restart resumed from its cursor
