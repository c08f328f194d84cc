"""Source health and backoff (listener.health), log lines and secret masking (listener.logs), and the
scheduler's job settings (listener.scheduler)."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest

from listener.config import load_config
from listener.errors import SourceError
from listener.health import SourceHealth, backoff_seconds, record_failure, record_success, scope_backoff_left
from listener.logs import event, setup_logging
from listener.scheduler import Daemon
from listener.store import Store
from tests.helpers import at, write_config

CONFIG = """
[[alerts.receivers]]
name = "ops"
type = "file"
path = "ops.jsonl"
[[alerts.rules]]
name = "ops"
kinds = ["health"]
receivers = ["ops"]
group_interval_minutes = 0
[daemon]
backoff_base_seconds = 10
backoff_max_seconds = 100
failures_before_alert = 3
quiet_window_hours = 1
quiet_baseline_days = 1
quiet_ratio = 0.2
quiet_min_expected = 10
"""


@pytest.fixture
def config(tmp_path):
    return load_config(write_config(tmp_path, CONFIG))


def _alerts(store):
    return [(r["thread_key"], r["level"]) for r in store.query("SELECT thread_key, level FROM outbox ORDER BY id")]


def test_backoff_doubles_to_the_cap_and_honours_retry_after(config):
    d = config.daemon
    assert [backoff_seconds(d, n, None, False) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 80, 100]
    assert backoff_seconds(d, 1, 250, False) == 250  # the source's own Retry-After wins
    assert backoff_seconds(d, 1, None, True) == 100  # refused credentials wait the longest


def test_failing_source_alerts_once_per_incident_and_recovers(config):
    now = at(20)
    with Store(config.db_path) as store:
        for i in range(5):
            h = record_failure(store, config, "x", SourceError("the API answered 503"), now + timedelta(seconds=i))
        assert (h.state, h.consecutive_failures, h.incident) == ("failing", 5, 1)
        assert h.backoff_left(now + timedelta(seconds=4)) == pytest.approx(100, abs=1)
        assert _alerts(store) == [("health:x:1", "warning")]  # five failures, one alert
        h = record_failure(store, config, "x", SourceError("401", auth=True), now + timedelta(seconds=5))
        assert h.state == "auth" and _alerts(store)[-1] == ("health:x:1", "critical")  # louder, same incident
        h = record_success(store, config, "x", now + timedelta(seconds=6))
        assert (h.state, h.consecutive_failures, h.backoff_until) == ("ok", 0, None)
        assert _alerts(store)[-1] == ("health:x:1", "resolved")
        record_failure(store, config, "x", SourceError("503"), now + timedelta(seconds=7))
        assert len(_alerts(store)) == 3  # one failure after recovery is not an incident yet
        assert SourceHealth.load(store, "x").consecutive_failures == 1


def _runs(store, source, start, hours, per_hour):
    for h in range(hours):
        store.conn.execute("INSERT INTO runs (source, query_key, started_at, new) VALUES (?, 'q', ?, ?)",
                           (source, (start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ"), per_hour))


def test_a_source_gone_quiet_alerts_and_recovers_when_volume_returns(config):
    start = at(19, 0)
    with Store(config.db_path) as store:
        _runs(store, "reddit", start, 24, 50)  # a normal day: 50 new mentions an hour
        _runs(store, "small", start, 24, 2)  # too small to call quiet
        now = start + timedelta(hours=25)  # and then an hour with nothing
        assert record_success(store, config, "reddit", now).state == "quiet"
        assert record_success(store, config, "small", now).state == "ok"
        assert _alerts(store) == [("health:reddit:1", "warning")]
        assert "usually about 50" in SourceHealth.load(store, "reddit").last_error
        _runs(store, "reddit", now, 1, 30)  # volume is back (above twice the threshold)
        assert record_success(store, config, "reddit", now + timedelta(minutes=30)).state == "ok"
        assert _alerts(store)[-1] == ("health:reddit:1", "resolved")


def test_log_lines_are_structured_and_never_show_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("X_BEARER_TOKEN", "AAAA-very-secret-bearer")
    stream = io.StringIO()
    handler = setup_logging("json", secrets=["AAAA-very-secret-bearer"], stream=stream)
    try:
        log = logging.getLogger("overheard.test")
        event(log, "run", source="x", new=3, error="GET https://api.x.com?token=AAAA-very-secret-bearer failed")
        event(log, "alert_failed", logging.WARNING, receiver="slack",
              error="POST https://hooks.slack.com/services/T01/B02/abcdefSECRET answered 500")
        log.warning("auth header was Bearer sk-live-1234567890abcdef")
        lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    finally:
        logging.getLogger().removeHandler(handler)
    assert lines[0]["event"] == "run" and lines[0]["new"] == 3 and lines[0]["level"] == "INFO"
    assert lines[1]["level"] == "WARNING" and lines[1]["receiver"] == "slack"
    text = stream.getvalue()
    for secret in ("AAAA-very-secret-bearer", "abcdefSECRET", "sk-live-1234567890abcdef"):
        assert secret not in text
    assert text.count("***") >= 3


def test_jobs_are_planned_with_deliberate_scheduler_settings(tmp_path):
    (tmp_path / "a.jsonl").write_text("")
    (tmp_path / "b.jsonl").write_text("")
    config = load_config(write_config(tmp_path, """
    [sources.file]
    interval_minutes = 10
    [[sources.file.imports]]
    paths = ["*.jsonl"]
    [daemon]
    jitter_fraction = 0.1
    misfire_grace_seconds = 120
    """))
    daemon = Daemon(config, channels={})
    plan = {s.job_id: s for s in daemon.plan()}
    collect = [s for s in plan.values() if s.kind == "collect"]
    assert len(collect) == 2  # one job per source query (here: per export file)
    assert all(s.seconds == 600 and s.jitter == 60 and s.executor == "sources" for s in collect)
    assert {"process", "sla", "trends", "retention", "sources"} <= set(plan)
    defaults = daemon.scheduler._job_defaults
    assert defaults == {"coalesce": True, "max_instances": 1, "misfire_grace_time": 120}


def test_a_source_reading_many_hosts_backs_off_one_host_only(config):
    now = at(20)
    with Store(config.db_path) as store:
        h = record_failure(store, config, "rss", SourceError("429", retry_after=120), now, scope="a.example")
        assert h.backoff_left(now) == 0  # the source as a whole may still be asked...
        assert scope_backoff_left(store, "rss", "a.example", now) == pytest.approx(120, abs=1)  # ...not that host
        assert scope_backoff_left(store, "rss", "b.example", now) == 0
        record_success(store, config, "rss", now + timedelta(seconds=130), scope="a.example")
        assert scope_backoff_left(store, "rss", "a.example", now) == 0
