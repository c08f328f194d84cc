"""A Slack bot alert is posted once even when the process dies mid-send (kill -9), with the real slack_sdk.

`overheard alerts deliver` runs as a child process against the Slack-compatible server on 127.0.0.1;
the server kills it with SIGKILL at the worst moment — after Slack stored the post, before the answer
reached the outbox (or before the post reached Slack at all). Then delivery runs again on the same
database, as the restarted daemon would, and the channel is checked message by message.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.outbox import deliver_pending
from alerts.rules import evaluate_pending
from listener.models import utcnow
from listener.pipeline import build_channels
from listener.store import Store
from tests.alerts_support import alerts_config, put_thread
from tests.fakes_slack import FakeSlack
from tests.fakes_slack.server import HangUp
from tests.helpers import at

ROOT = Path(__file__).resolve().parent.parent
LEVELS = """
[alerts.levels]
notice = 30
warning = 50
critical = 75
"""


@pytest.fixture
def slack(monkeypatch):
    server = FakeSlack().start()
    monkeypatch.setenv("OVERHEARD_TEST_SLACK_TOKEN", server.token)  # the child process inherits it
    yield server
    server.stop()


def _config(tmp_path, slack, channel="#support-alerts"):
    return alerts_config(tmp_path, f"""
    [[alerts.receivers]]
    name = "slack"
    type = "slack_bot"
    token_env = "OVERHEARD_TEST_SLACK_TOKEN"
    channel = "{channel}"
    base_url = "{slack.api_url}"
    max_per_hour = 0
    """, """
    [[alerts.rules]]
    name = "threads"
    min_risk = 30
    receivers = ["slack"]
    group_interval_minutes = 0
    """, extra=LEVELS)


def _queue(config, key: str, risk: float) -> None:
    with Store(config.db_path) as store:
        now = utcnow()
        put_thread(store, key, risk, when=now - timedelta(minutes=10))
        evaluate_pending(store, config, now)


def _deliver_killed(tmp_path, slack, when: str) -> int:
    """`overheard alerts deliver` in a child process that Slack's side kills with SIGKILL: 'after_post'
    (Slack stored the message, the answer never arrives) or 'before_post' (the post never arrives)."""
    child: list[subprocess.Popen] = []

    def kill(req=None) -> None:
        if req is None or req.path.startswith("/api/chat.postMessage"):
            os.kill(child[0].pid, signal.SIGKILL)
            child[0].wait()
            raise HangUp

    if when == "after_post":
        slack.on_post = lambda msg: kill()
    else:
        slack.on_request = kill
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child.append(subprocess.Popen(
        [sys.executable, "-c", "from listener.cli import main; main()", "alerts", "deliver",
         "--config", str(tmp_path / "overheard.toml")],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        code = child[0].wait(timeout=60)
    finally:
        slack.on_post = slack.on_request = None
    return code


def _rows(config):
    with Store(config.db_path) as store:
        return store.query("SELECT idem_key, delivered_at, external_ref, sending_at FROM outbox ORDER BY id")


def _deliver_again(config):
    """What the restarted daemon does: a new store connection, new channels, the outbox delivered."""
    with Store(config.db_path) as store:
        return deliver_pending(store, build_channels(config))


def test_a_kill_after_slack_stored_the_post_does_not_post_it_again(tmp_path, slack):
    config = _config(tmp_path, slack)
    _queue(config, "x:1", 80)
    assert _deliver_killed(tmp_path, slack, "after_post") == -signal.SIGKILL
    (row,) = _rows(config)
    assert row["sending_at"] and row["delivered_at"] is None, "the kill landed before the delivered mark"
    assert len(slack.top_level()) == 1

    report = _deliver_again(config)

    (msg,) = slack.top_level()  # still exactly one message in the channel
    (row,) = _rows(config)
    assert row["delivered_at"] and row["external_ref"] == f"C0SUPPORT:{msg.ts}"  # the queue edits this one
    assert report.delivered == 1 and report.messages == 0
    assert msg.metadata == {"event_type": "overheard_alert", "event_payload": {"idem_key": row["idem_key"]}}
    assert len(slack.api_calls("conversations.history")) == 1
    assert len(slack.api_calls("conversations.list")) == 1  # "#support-alerts" -> C0SUPPORT, first post ever
    assert len(slack.api_calls("chat.postMessage")) == 1


def test_normal_sends_never_read_the_channel_history(tmp_path, slack):
    config = _config(tmp_path, slack, channel="C0SUPPORT")
    _queue(config, "x:1", 80)
    _queue(config, "x:2", 55)
    report = _deliver_again(config)
    assert report.messages == 2 and len(slack.top_level()) == 2
    assert not [r for r in slack.requests if r.path.startswith("/api/conversations.")]


def test_a_kill_before_the_post_reached_slack_posts_it_once(tmp_path, slack):
    config = _config(tmp_path, slack)
    _queue(config, "x:1", 80)
    assert _deliver_killed(tmp_path, slack, "before_post") == -signal.SIGKILL
    (row,) = _rows(config)
    assert row["sending_at"] and row["delivered_at"] is None
    assert slack.top_level() == []

    report = _deliver_again(config)

    (msg,) = slack.top_level()
    (row,) = _rows(config)
    assert report.messages == 1 and row["external_ref"] == f"C0SUPPORT:{msg.ts}"
    assert len(slack.api_calls("conversations.history")) == 1  # looked, found nothing, posted


def test_an_escalation_reply_in_the_thread_is_not_repeated_after_a_kill(tmp_path, slack):
    config = _config(tmp_path, slack)
    _queue(config, "x:1", 55)  # warning: the first message
    assert _deliver_again(config).messages == 1
    _queue(config, "x:1", 80)  # critical: edit the first message and reply in its thread
    assert _deliver_killed(tmp_path, slack, "after_post") == -signal.SIGKILL

    report = _deliver_again(config)

    (first,) = slack.top_level()
    (reply,) = slack.replies(first.ts)
    assert "now *critical* (was warning)" in reply.text
    rows = _rows(config)
    assert [r["external_ref"] for r in rows] == [f"C0SUPPORT:{first.ts}"] * 2 and all(r["delivered_at"] for r in rows)
    assert report.delivered == 1 and report.messages == 0
    assert len(slack.api_calls("conversations.replies")) == 1


def test_the_lookup_reads_a_second_page_of_a_busy_channel(tmp_path, slack):
    config = _config(tmp_path, slack)
    _queue(config, "x:1", 80)
    assert _deliver_killed(tmp_path, slack, "after_post") == -signal.SIGKILL
    for i in range(250):  # people keep talking in the channel while the daemon is down
        slack.post_as_someone_else("#support-alerts", f"looking into it ({i})")

    report = _deliver_again(config)

    ours = [m for m in slack.top_level() if m.metadata]
    assert len(ours) == 1 and report.messages == 0
    assert len(slack.api_calls("conversations.history")) == 2  # 200 newest, then the page holding ours


def test_without_the_history_scope_it_posts_once_and_says_which_scope(tmp_path, slack, caplog):
    config = _config(tmp_path, slack, channel="C0SUPPORT")
    _queue(config, "x:1", 80)
    assert _deliver_killed(tmp_path, slack, "before_post") == -signal.SIGKILL
    slack.missing_scopes["conversations.history"] = "channels:history"

    with caplog.at_level(logging.WARNING, logger="overheard.alerts"):
        report = _deliver_again(config)

    (msg,) = slack.top_level()
    assert report.messages == 1 and _rows(config)[0]["external_ref"] == f"C0SUPPORT:{msg.ts}"
    warnings = [r.getMessage() for r in caplog.records if "channels:history" in r.getMessage()]
    assert len(warnings) == 1 and "missing_scope" in warnings[0] and "posting it now" in warnings[0]


def test_a_rate_limited_lookup_waits_instead_of_posting(tmp_path, slack):
    config = _config(tmp_path, slack, channel="C0SUPPORT")
    _queue(config, "x:1", 80)
    assert _deliver_killed(tmp_path, slack, "after_post") == -signal.SIGKILL
    slack.fail(429, retry_after=30, path_prefix="/api/conversations.history")

    report = _deliver_again(config)
    assert report.failed == 1 and report.messages == 0 and len(slack.top_level()) == 1
    with Store(config.db_path) as store:  # after the Retry-After, the lookup finds the message
        report = deliver_pending(store, build_channels(config), utcnow() + timedelta(seconds=31))
    (msg,) = slack.top_level()
    assert report.delivered == 1 and report.messages == 0
    assert _rows(config)[0]["external_ref"] == f"C0SUPPORT:{msg.ts}"


def test_a_lost_answer_to_a_quiet_hours_digest_is_not_posted_again(tmp_path, slack):
    """Slack stores the digest, the connection drops before its answer: no retry may post it twice
    (slack_sdk's own connection-error retry would), and the outbox's retry finds it instead."""
    config = alerts_config(tmp_path, f"""
    [[alerts.receivers]]
    name = "slack"
    type = "slack_bot"
    token_env = "OVERHEARD_TEST_SLACK_TOKEN"
    channel = "C0SUPPORT"
    base_url = "{slack.api_url}"
    max_per_hour = 0
    quiet_hours = {{ start = "22:00", end = "07:00", timezone = "UTC" }}
    """, """
    [[alerts.rules]]
    name = "threads"
    min_risk = 30
    receivers = ["slack"]
    group_interval_minutes = 0
    """, extra=LEVELS)
    night, morning = at(20, 23), at(21, 7)
    clock = [night]  # Slack's clock follows the test's
    slack.clock = lambda: clock[0].timestamp()
    with Store(config.db_path) as store:
        for i in range(3):
            put_thread(store, f"x:{i}", 55 + i, when=night - timedelta(minutes=5))
        evaluate_pending(store, config, night)
        assert deliver_pending(store, build_channels(config), night).held == 3
        clock[0] = morning
        slack.on_post = lambda msg: (_ for _ in ()).throw(HangUp())  # stored, then the line drops
        report = deliver_pending(store, build_channels(config), morning)
        assert report.failed == 3 and len(slack.top_level()) == 1
        slack.on_post = None
        clock[0] = later = morning + timedelta(seconds=31)
        report = deliver_pending(store, build_channels(config), later)
        rows = store.query("SELECT delivered_at, sent_as FROM outbox")
    (digest,) = slack.top_level()
    assert "3 alerts held during quiet hours" in digest.text
    assert report.delivered == 3 and report.messages == 0
    assert all(r["delivered_at"] and r["sent_as"] == "digest" for r in rows)


def test_a_digest_found_after_a_lost_answer_is_not_resent_when_a_new_alert_joins_its_group(tmp_path, slack):
    config = alerts_config(tmp_path, f"""
    [[alerts.receivers]]
    name = "slack"
    type = "slack_bot"
    token_env = "OVERHEARD_TEST_SLACK_TOKEN"
    channel = "C0SUPPORT"
    base_url = "{slack.api_url}"
    max_per_hour = 0
    """, """
    [[alerts.rules]]
    name = "threads"
    min_risk = 30
    receivers = ["slack"]
    group_by = ["brand"]
    group_wait_seconds = 120
    group_interval_minutes = 30
    """, extra=LEVELS)
    start = at(20, 10)
    clock = [start]
    slack.clock = lambda: clock[0].timestamp()

    def cycle(store, now):
        clock[0] = now
        evaluate_pending(store, config, now)
        return deliver_pending(store, build_channels(config), now)

    with Store(config.db_path) as store:
        for i in range(3):
            put_thread(store, f"x:{i}", 60 + i, when=start - timedelta(minutes=5))
        cycle(store, start)
        slack.on_post = lambda msg: (_ for _ in ()).throw(HangUp())
        assert cycle(store, start + timedelta(minutes=3)).failed == 3  # the digest of 3: answer lost
        slack.on_post = None
        put_thread(store, "x:9", 70, when=start)  # a fourth alert of the same group arrives
        report = cycle(store, start + timedelta(minutes=4))
        rows = {r["thread_key"]: r for r in store.query("SELECT * FROM outbox")}
    digest, single = slack.top_level()
    assert "3 alerts" in digest.text and digest.metadata["event_payload"]["idem_key"].startswith("digest|")
    assert single.metadata["event_payload"]["idem_key"] == rows["x:9"]["idem_key"]
    assert report.delivered == 4 and report.messages == 1
    assert all(rows[f"x:{i}"]["sent_as"] == "digest" for i in range(3)) and rows["x:9"]["sent_as"] == "single"
    assert rows["x:9"]["external_ref"] == f"C0SUPPORT:{single.ts}"


def test_a_channel_name_the_bot_cannot_resolve_posts_once_and_says_to_use_the_id(tmp_path, slack, caplog):
    config = _config(tmp_path, slack, channel="#support-alerts")
    _queue(config, "x:1", 80)
    assert _deliver_killed(tmp_path, slack, "before_post") == -signal.SIGKILL
    slack.missing_scopes["conversations.list"] = "channels:read"

    with caplog.at_level(logging.WARNING, logger="overheard.alerts"):
        report = _deliver_again(config)

    assert report.messages == 1 and len(slack.top_level()) == 1
    (warning,) = [r.getMessage() for r in caplog.records if "#support-alerts" in r.getMessage()]
    assert "channels:read" in warning and "set channel to its ID" in warning


def test_an_escalation_whose_first_message_was_deleted_is_found_as_the_new_post(tmp_path, slack):
    config = _config(tmp_path, slack)
    _queue(config, "x:1", 55)
    assert _deliver_again(config).messages == 1
    (first,) = slack.top_level()
    del slack.messages[first.ts]  # someone deleted the alert in Slack
    _queue(config, "x:1", 80)  # the edit fails (message_not_found): a new message is posted, then the kill
    assert _deliver_killed(tmp_path, slack, "after_post") == -signal.SIGKILL

    report = _deliver_again(config)

    (new,) = slack.top_level()
    assert report.messages == 0 and _rows(config)[1]["external_ref"] == f"C0SUPPORT:{new.ts}"
    assert len(slack.api_calls("conversations.replies")) == 1  # thread_not_found, then the history
    assert len(slack.api_calls("conversations.history")) == 1
