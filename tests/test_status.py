"""`overheard status` reads the daemon's state from the store, from another connection, while it runs."""

from __future__ import annotations

import json

from click.testing import CliRunner

from listener.cli import cli
from listener.config import load_config
from listener.store import Store
from tests.daemon_helpers import FAST_DAEMON, FILE_SOURCE, append_jsonl, rows_for_thread, wait_for
from tests.helpers import write_config
from tests.test_daemon_faults import fake_sources, running  # noqa: F401 - fixture

CONFIG = FILE_SOURCE + """

[sources.api_noauth]
interval_minutes = 0.005
base_url = "{url}"

[[alerts.receivers]]
name = "ops"
type = "file"
path = "ops.jsonl"
[[alerts.rules]]
name = "ops"
kinds = ["sla", "health"]
receivers = ["ops"]
group_interval_minutes = 0
"""


def _status(config_path) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["status", "--json", "--config", str(config_path)])
    return result.exit_code, json.loads(result.output)


def test_status_while_running_and_after(tmp_path, fake_sources):  # noqa: F811
    api = fake_sources["api_noauth"]
    api.stuck = 401
    (tmp_path / "in").mkdir()
    append_jsonl(tmp_path / "in" / "a.jsonl", rows_for_thread("t1", angry=False))
    path = write_config(tmp_path, CONFIG.format(url=api.url) + FAST_DAEMON)
    config = load_config(path)

    code, before = _status(path)
    assert code == 0 and before["daemon_running"] is False
    assert {s["source"]: s["state"] for s in before["sources"]} == {"file": "never run", "api_noauth": "never run"}

    with Store(config.db_path) as store:  # a queue item whose first response is an hour overdue
        store.conn.execute("INSERT INTO threads (thread_key, source, brand, first_at, last_at, updated_at) "
                           "VALUES ('x:late', 'x', 'Brightwave', '2026-11-20T09:00:00Z', '2026-11-20T09:00:00Z', 'x')")
        store.conn.execute(
            "INSERT INTO queue_items (thread_key, brand, source, priority, created_at, updated_at, "
            "first_response_due, resolution_due) VALUES ('x:late', 'Brightwave', 'x', 'high', "
            "'2026-11-20T09:00:00Z', 'x', '2026-11-20T10:00:00Z', '2099-01-01T00:00:00Z')")

    with running(config) as daemon:
        wait_for(lambda: _status(path)[1]["sources"][0]["last_success_at"] is not None, 5, "a file run")
        wait_for(lambda: any(s["state"] == "auth" for s in _status(path)[1]["sources"]), 5, "the 401 to show")
        code, st = _status(path)
        assert code == 1  # a source needs a person
        assert st["daemon_running"] is True
        by_source = {s["source"]: s for s in st["sources"]}
        assert by_source["file"]["state"] == "ok" and by_source["file"]["new_24h"] == 2
        assert by_source["file"]["next_run_at"] is not None
        assert by_source["api_noauth"]["errors_24h"] >= 1
        assert "credentials refused" in by_source["api_noauth"]["last_error"]
        assert [b["target"] for b in st["sla_breaches"]] == ["first-response"]
        assert st["queue_open"] == 1
        jobs = {j["job_id"] for j in st["jobs"]}
        assert jobs >= {"process", "sla", "trends", "retention", "collect:api_noauth:Brightwave"}
        wait_for(lambda: (tmp_path / "ops.jsonl").exists()
                 and "SLA breached" in (tmp_path / "ops.jsonl").read_text()
                 and "credentials were refused" in (tmp_path / "ops.jsonl").read_text(), 5, "SLA and health alerts")
        text = CliRunner().invoke(cli, ["status", "--config", str(path)])
        assert "running" in text.output and "api_noauth" in text.output and "SLA breaches: 1" in text.output
        # A second daemon on the same database is refused: it would fetch and alert twice.
        second = CliRunner().invoke(cli, ["run", "--config", str(path)])
        assert second.exit_code == 2 and "already using this database" in second.output
        assert daemon.scheduler.running

    code, after = _status(path)
    assert after["daemon_running"] is False and after["daemon_stopped_at"]
    assert after["outbox_gave_up"] == 0
    sla_lines = [json.loads(x) for x in (tmp_path / "ops.jsonl").read_text().splitlines()
                 if json.loads(x)["kind"] == "sla"]
    assert len(sla_lines) == 1  # checked every second, alerted once


def _stream(state: str, errors: int, last_event_at: str | None):
    from listener.status import StreamStatus

    return StreamStatus(stream="jetstream", source="bluesky", state=state, connected_since=None,
                        last_event_at=last_event_at, lag_seconds=None, events=10, mentions=2, reconnects=3,
                        errors=errors, last_error="connection refused", last_error_at="2026-12-02T10:00:00Z",
                        retry_at="2026-12-02T10:00:30Z", updated_at="2026-12-02T10:00:00Z")


def test_a_stream_that_stays_down_makes_status_unhealthy_a_blip_does_not():
    from listener.status import Status

    def status(*streams) -> Status:
        return Status(now="2026-12-02T10:00:00Z", daemon_running=True, daemon_pid=1, daemon_started_at=None,
                      daemon_stopped_at=None, sources=[], mentions=0, queue_open=0, queue_by_state={},
                      sla_breaches=[], outbox_pending=0, outbox_retrying=0, outbox_gave_up=0,
                      outbox_oldest_pending_at=None, streams=list(streams))

    assert status(_stream("connected", 0, "2026-12-02T09:59:58Z")).healthy
    assert status(_stream("backoff", 1, "2026-12-02T09:59:00Z")).healthy  # reconnecting a minute after data
    assert status(_stream("backoff", 0, None)).healthy  # the server closed it cleanly; reconnecting
    down = status(_stream("backoff", 4, "2026-12-02T09:40:00Z"))
    assert not down.healthy and [x.stream for x in down.streams_down] == ["jetstream"]
    assert not status(_stream("backoff", 2, None)).healthy  # never delivered anything and keeps failing
