"""SIGTERM: the daemon stops fetching, finishes the write in progress and exits 0; the next start
carries on from the cursor it saved."""

from __future__ import annotations

import signal

import pytest

from tests.daemon_fakes import FakeSearchApi
from tests.daemon_helpers import FAST_DAEMON, db_query, log_events, start_daemon, tail, wait_for
from tests.helpers import write_config


@pytest.fixture
def slow_api():
    api = FakeSearchApi()
    api.delay = 0.1  # 50 posts a page, a page every 0.1 s: a run takes seconds
    yield api
    api.close()


def test_sigterm_mid_run_stops_after_the_current_page_and_resumes(tmp_path, slow_api):
    slow_api.add(600, "p")
    config = write_config(tmp_path, f"""
    [sources.api_ok]
    interval_minutes = 0.005
    base_url = "{slow_api.url}"
    """ + FAST_DAEMON)
    db, log = tmp_path / "overheard.db", tmp_path / "daemon.log"
    count = lambda: (db_query(db, "SELECT COUNT(*) FROM mentions") or [(0,)])[0][0]  # noqa: E731

    proc = start_daemon(config, log)
    try:
        wait_for(lambda: count() >= 100, 15, "the first pages", proc, log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, tail(log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stored = count()
    assert stored % 50 == 0 and stored < 600  # whole pages only, and it did stop fetching
    cursor = db_query(db, "SELECT value FROM cursors WHERE source = 'api_ok'")[0][0]
    assert int(cursor) == 1000 + stored - 1  # the cursor is exactly where the stored pages end
    events = [e.get("event") for e in log_events(log)]
    assert "daemon_stopping" in events and events[-1] == "daemon_stopped"
    runs = [e for e in log_events(log) if e.get("event") == "run"]
    assert runs and all({"source", "query", "fetched", "new", "duplicates", "quarantined", "errors",
                         "duration_s"} <= set(e) for e in runs)  # one structured line per run
    assert sum(e["new"] for e in runs) == stored
    interrupted = db_query(db, "SELECT COUNT(*) FROM runs WHERE finished_at IS NULL")[0][0]
    assert interrupted == 0  # the run in progress was closed properly, not left half-recorded

    proc = start_daemon(config, log)
    try:
        wait_for(lambda: count() == 600, 20, "the rest after a restart", proc, log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    ids = [r[0] for r in db_query(db, "SELECT native_id FROM mentions")]
    assert len(ids) == len(set(ids)) == 600
