"""`overheard status` with several workers: two real `overheard run --join` processes on one store (an SQLite
file, or a PostgreSQL schema with --backend=postgresql), each naming itself a host of its own
(OVERHEARD_WORKER_HOST, as two machines would). Status lists both, with what each holds; one killed with
SIGKILL shows as expired once its lease runs out ([daemon] lease_seconds = 3), in the JSON and the text."""

from __future__ import annotations

import json
import os
import re
import signal

import pytest
from click.testing import CliRunner

from listener.cli import cli
from listener.models import iso, utcnow
from listener.store import Store
from tests.daemon_helpers import (
    FAST_DAEMON,
    FILE_SOURCE,
    append_jsonl,
    db_query,
    rows_for_thread,
    start_daemon,
    stop_daemon,
    wait_for,
)
from tests.helpers import write_config

CONFIG = FILE_SOURCE + """
""" + FAST_DAEMON + "lease_seconds = 3\n"


@pytest.fixture
def host(monkeypatch):
    monkeypatch.setenv("OVERHEARD_WORKER_HOST", "")  # status itself runs on this machine's real host name
    monkeypatch.setenv("COLUMNS", "200")  # one table row per worker

    def start(config, log, name: str):
        os.environ["OVERHEARD_WORKER_HOST"] = name  # the subprocess inherits it; monkeypatch restores it
        try:
            return start_daemon(config, log, "--join")
        finally:
            os.environ["OVERHEARD_WORKER_HOST"] = ""

    return start


def _status(config, *json_flag: str):
    result = CliRunner().invoke(cli, ["status", *json_flag, "--config", str(config)])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output) if json_flag else result.output


def _workers(db) -> dict[str, str]:
    return {holder: expires for holder, expires in db_query(
        db, "SELECT holder, expires_at FROM leases WHERE name >= 'worker:' AND name < 'worker;'")}


def test_status_lists_every_worker_what_it_holds_and_flags_one_whose_lease_ran_out(tmp_path, host, backend):
    (tmp_path / "in").mkdir()
    append_jsonl(tmp_path / "in" / "a.jsonl", rows_for_thread("t1", angry=True))
    config = write_config(tmp_path, CONFIG)
    db = tmp_path / "overheard.db"
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    Store(db).close()  # migrated once, before the two workers open it
    procs = {}
    try:
        procs["a"] = host(config, logs["a"], "host-a")
        procs["b"] = host(config, logs["b"], "host-b")
        for name, proc in procs.items():
            wait_for(lambda name=name, proc=proc: any(h.startswith(f"host-{name}:{proc.pid}:") for h in _workers(db)),
                     30, f"worker {name}'s lease", proc, logs[name])
        holders = {h.split(":")[0]: h for h in _workers(db)}
        # A piece of work worker a holds (as a collect run would), so its "holds" has something lasting to show.
        with Store(db) as store:
            assert store.backend == backend
            with store.transaction() as conn:
                conn.execute("INSERT INTO leases (name, holder, acquired_at, expires_at, renewed_at) "
                             "VALUES ('job:status test', ?, ?, '2999-01-01T00:00:00Z', ?)",
                             (holders["host-a"], iso(utcnow()), iso(utcnow())))

        st = _status(config, "--json")
        seen = {w["host"]: w for w in st["workers"]}
        assert set(seen) == {"host-a", "host-b"}, st["workers"]
        for name, proc in procs.items():
            w = seen[f"host-{name}"]
            assert w["pid"] == proc.pid and w["state"] == "live" and w["worker"] == holders[f"host-{name}"]
            assert w["started_at"] and w["renewed_at"] and w["expires_at"] > st["now"]
        assert "job:status test" in seen["host-a"]["leases"] and "job:status test" not in seen["host-b"]["leases"]
        # The heartbeat renews every third of lease_seconds: the renewal moves while the worker lives.
        first = seen["host-b"]["renewed_at"]
        wait_for(lambda: {w["host"]: w for w in _status(config, "--json")["workers"]}["host-b"]["renewed_at"] > first,
                 15, "worker b's next renewal", procs["b"], logs["b"])
        text = _status(config)
        assert re.search(rf"host-a\s*│\s*{procs['a'].pid}\s*│\s*live", text), text
        assert re.search(rf"host-b\s*│\s*{procs['b'].pid}\s*│\s*live", text), text
        assert "job:status test" in text and "daemon: 2 workers live on the store" in text

        # Worker b dies without a word (another host: nobody can see its process is gone): its lease runs out.
        procs["b"].send_signal(signal.SIGKILL)
        procs["b"].wait(10)
        wait_for(lambda: {w["host"]: w["state"] for w in _status(config, "--json")["workers"]}.get("host-b")
                 == "expired", 20, "worker b's lease to run out")
        st = _status(config, "--json")
        seen = {w["host"]: w for w in st["workers"]}
        assert seen["host-a"]["state"] == "live" and seen["host-b"]["state"] == "expired"
        assert seen["host-b"]["expires_at"] <= st["now"]
        text = _status(config)
        assert re.search(r"host-b\s*│\s*\d+\s*│\s*expired \d+s ago", text), text
        assert re.search(r"host-a\s*│\s*\d+\s*│\s*live", text), text
        assert "daemon: 1 worker live on the store, 1 not" in text

        # Worker a stops gracefully: it gives its leases back, so it is no longer listed.
        assert stop_daemon(procs.pop("a")) == 0
        assert "host-a" not in {w["host"] for w in _status(config, "--json")["workers"]}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
