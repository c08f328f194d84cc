"""Slack receivers through the real slack_sdk clients against a Slack-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from alerts.outbox import deliver_pending
from alerts.rules import evaluate_pending
from alerts.slack_format import mrkdwn_escape, slack_message
from listener.models import iso
from listener.pipeline import build_channels
from listener.store import Store
from tests.alerts_support import HOSTILE_AUTHOR, HOSTILE_TEXT, alerts_config, put_thread
from tests.fakes_slack import FakeSlack
from tests.helpers import at

LEVELS = """
[alerts.levels]
notice = 30
warning = 50
critical = 75
"""


@pytest.fixture
def slack():
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def slack_env(monkeypatch, slack):
    monkeypatch.setenv("OVERHEARD_TEST_SLACK_WEBHOOK", slack.webhook_url)
    monkeypatch.setenv("OVERHEARD_TEST_SLACK_TOKEN", slack.token)
    return slack


def _bot_config(tmp_path, slack, rule_extra="group_interval_minutes = 0", receiver_extra=""):
    return alerts_config(tmp_path, f"""
    [[alerts.receivers]]
    name = "slack"
    type = "slack_bot"
    token_env = "OVERHEARD_TEST_SLACK_TOKEN"
    channel = "#support-alerts"
    base_url = "{slack.api_url}"
    {receiver_extra}
    """, f"""
    [[alerts.rules]]
    name = "threads"
    min_risk = 30
    receivers = ["slack"]
    {rule_extra}
    """, extra=LEVELS)


def _webhook_config(tmp_path):
    return alerts_config(tmp_path, """
    [[alerts.receivers]]
    name = "hook"
    type = "slack_webhook"
    url_env = "OVERHEARD_TEST_SLACK_WEBHOOK"
    """, """
    [[alerts.rules]]
    name = "threads"
    min_risk = 30
    receivers = ["hook"]
    """, extra=LEVELS)


def _run(store, config, now):
    evaluate_pending(store, config, now)
    return deliver_pending(store, build_channels(config), now)


def _all_strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _all_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _all_strings(v)


def test_a_thread_whose_risk_rises_three_times_is_one_slack_message_updated(tmp_path, slack_env):
    slack = slack_env
    config = _bot_config(tmp_path, slack)
    with Store(config.db_path) as store:
        for i, risk in enumerate((35, 55, 80)):
            put_thread(store, "x:1", risk, when=at(20, 10, 10 * i), n_mentions=i + 1)
            report = _run(store, config, at(20, 10, 10 * i + 1))
            assert report.messages == 1
        refs = [r[0] for r in store.conn.execute("SELECT external_ref FROM outbox ORDER BY id")]
    top = slack.top_level()
    assert len(top) == 1, "one Slack message per conversation"
    first = top[0]
    assert len(first.updates) == 2  # notice -> warning -> critical, edited in place
    assert "Critical" in first.blocks[0]["text"]["text"] and "Warning → Critical" in first.blocks[0]["text"]["text"]
    replies = slack.replies(first.ts)
    assert len(replies) == 2 and "now *critical* (was warning)" in replies[-1].text
    assert refs == [f"C0SUPPORT:{first.ts}"] * 3  # the queue updates this message on button clicks


def test_an_escalation_keeps_showing_who_claimed_the_queue_item(tmp_path, slack_env):
    slack = slack_env
    config = _bot_config(tmp_path, slack)
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 55)
        _run(store, config, at(20, 10))
        store.conn.execute("UPDATE queue_items SET state = 'claimed', assignee = 'ana' WHERE thread_key = 'x:1'")
        put_thread(store, "x:1", 80)
        _run(store, config, at(20, 11))
    (msg,) = slack.top_level()
    context = next(b for b in msg.blocks if b["type"] == "context")
    assert "queue item claimed by ana" in context["elements"][0]["text"]


def test_block_kit_has_buttons_with_queue_item_id_and_a_plain_text_fallback(tmp_path, slack_env):
    slack = slack_env
    config = _bot_config(tmp_path, slack)
    with Store(config.db_path) as store:
        put_thread(store, "x:9", 80, reasons=["3 negative replies in 20 min", "@amy_k has 48k followers",
                                               "mentions 'chargeback'"])
        _run(store, config, at(20, 12))
        item_id = store.scalar("SELECT id FROM queue_items WHERE thread_key = 'x:9'")
    (msg,) = slack.top_level()
    assert msg.text.startswith("CRITICAL · Brightwave on x") and "risk 80/100" in msg.text
    actions = next(b for b in msg.blocks if b["type"] == "actions")
    by_id = {e["action_id"]: e for e in actions["elements"]}
    assert by_id["queue_claim"]["value"] == str(item_id) and by_id["queue_claim"]["type"] == "button"
    # the snooze button says how long, and carries the same number it snoozes for
    assert by_id["queue_snooze"]["text"]["text"] == "Snooze 2 h" and by_id["queue_snooze"]["value"] == f"{item_id}|120"
    # resolve and dismiss ask what happened, then "are you sure?" (Block Kit select + confirm object)
    resolve, dismiss = by_id["queue_resolve"], by_id["queue_dismiss"]
    assert resolve["type"] == dismiss["type"] == "static_select"
    assert {o["value"] for o in resolve["options"]} >= {f"{item_id}|refund", f"{item_id}|answered_publicly"}
    assert f"{item_id}|spam" in {o["value"] for o in dismiss["options"]}
    for select in (resolve, dismiss):
        assert set(select["confirm"]) >= {"title", "text", "confirm", "deny"}
        assert select["confirm"]["deny"]["text"] == "Cancel"
    assert dismiss["confirm"]["style"] == "danger"
    facts = next(b for b in msg.blocks if b.get("block_id") == "overheard_queue_facts")["elements"][0]["text"]
    assert "^thread started {ago}|" in facts and "first response due {date_short_pretty} {time}|" in facts
    assert facts.endswith("nobody assigned yet")
    assert by_id["open_queue_item"]["url"] == f"http://127.0.0.1:8377/items/{item_id}"
    body = json.dumps(msg.blocks)
    assert "3 negative replies in 20 min" in body and "48k followers" in body and "'chargeback'" in body


def test_hostile_text_in_every_field_pings_nobody(tmp_path, slack_env):
    slack = slack_env
    config = _bot_config(tmp_path, slack)
    (tmp_path / "w").mkdir()
    hook = _webhook_config(tmp_path / "w")
    with Store(config.db_path) as store:
        put_thread(store, "x:evil", 80, text=HOSTILE_TEXT, author=HOSTILE_AUTHOR, title=HOSTILE_TEXT,
                   reasons=[f"@{HOSTILE_AUTHOR} has 48k followers", HOSTILE_TEXT])
        _run(store, config, at(20, 12))
    with Store(hook.db_path) as store:
        put_thread(store, "x:evil", 80, text=HOSTILE_TEXT, author=HOSTILE_AUTHOR, title=HOSTILE_TEXT,
                   reasons=[HOSTILE_TEXT])
        _run(store, hook, at(20, 12))
    assert len(slack.top_level()) == 1 and len(slack.webhook_posts) == 1
    sent = [slack.top_level()[0].text, slack.top_level()[0].blocks, slack.webhook_posts[0]]
    for text in (s for obj in sent for s in _all_strings(obj)):
        for control in ("<!channel>", "<@U123>", "<!here", "<script>", "<https://evil.example|click>"):
            assert control not in text, f"{control!r} reached Slack unescaped in {text[:80]!r}"
    everything = json.dumps(sent)
    assert "&lt;!channel&gt;" in everything and "&lt;@U123&gt;_&lt;b&gt;&amp;" in everything  # shown, not lost


def test_mrkdwn_escape_and_links_are_safe():
    assert mrkdwn_escape("a & <!channel> > b") == "a &amp; &lt;!channel&gt; &gt; b"
    from alerts.message import Alert

    alert = Alert(kind="thread", rule="r", level="warning", brand="B", source="x", thread_key="x:1", title="t",
                  risk=60, reasons=[], url="javascript:alert(1)", queue_url=None)
    msg = slack_message(alert)
    assert "javascript:" not in json.dumps(msg)  # only http(s) links become links or buttons


def test_webhook_429_is_retried_after_retry_after_and_sent_once(tmp_path, slack_env):
    slack = slack_env
    config = _webhook_config(tmp_path)
    slack.fail(429, times=1, retry_after=120, path_prefix="/services/")
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 55)
        now = at(20, 12)
        first = _run(store, config, now)
        assert first.failed == 1 and not slack.webhook_posts
        row = store.query("SELECT * FROM outbox")[0]
        assert row["next_attempt_at"] == iso(now + timedelta(seconds=120))  # Retry-After honoured
        assert "429" in row["last_error"]
        assert deliver_pending(store, build_channels(config), now + timedelta(seconds=60)).messages == 0
        assert deliver_pending(store, build_channels(config), now + timedelta(seconds=121)).messages == 1
        assert deliver_pending(store, build_channels(config), now + timedelta(hours=2)).messages == 0
    assert len(slack.webhook_posts) == 1


def test_webhook_500_backs_off_and_404_gives_up(tmp_path, slack_env):
    slack = slack_env
    config = _webhook_config(tmp_path)
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 55)
        slack.fail(500, times=1, path_prefix="/services/")
        now = at(20, 12)
        assert _run(store, config, now).failed == 1
        assert store.scalar("SELECT next_attempt_at FROM outbox") == iso(now + timedelta(seconds=30))
        slack.fail(404, times=1, body="no_service", path_prefix="/services/")
        report = deliver_pending(store, build_channels(config), now + timedelta(minutes=1))
        assert report.gave_up == 1  # a wrong URL will not fix itself: stop and say why
        assert "404" in store.scalar("SELECT last_error FROM outbox")
        assert deliver_pending(store, build_channels(config), now + timedelta(days=1)).messages == 0


def test_bot_rate_limit_and_server_error_are_retried_bad_token_is_not(tmp_path, slack_env, monkeypatch):
    slack = slack_env
    config = _bot_config(tmp_path, slack)
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 55)
        now = at(20, 12)
        slack.fail(429, times=1, retry_after=7, path_prefix="/api/")
        assert _run(store, config, now).failed == 1
        assert store.scalar("SELECT next_attempt_at FROM outbox") == iso(now + timedelta(seconds=7))
        slack.fail(500, times=1, path_prefix="/api/")
        assert deliver_pending(store, build_channels(config), now + timedelta(seconds=8)).failed == 1
        assert deliver_pending(store, build_channels(config), now + timedelta(minutes=5)).messages == 1
        assert len(slack.top_level()) == 1
        put_thread(store, "x:2", 55)
        monkeypatch.setenv("OVERHEARD_TEST_SLACK_TOKEN", "xoxb-wrong")
        report = _run(store, config, now + timedelta(minutes=6))
        assert report.gave_up == 1
        assert "invalid_auth" in store.scalar("SELECT last_error FROM outbox WHERE thread_key = 'x:2'")


def test_deleted_first_message_starts_a_new_one(tmp_path, slack_env):
    slack = slack_env
    config = _bot_config(tmp_path, slack, receiver_extra='on_escalation = "update"')
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 55)
        _run(store, config, at(20, 12))
        slack.messages.clear()  # someone deleted it in Slack
        put_thread(store, "x:1", 80)
        assert _run(store, config, at(20, 13)).messages == 1
    assert len(slack.top_level()) == 1 and "Critical" in slack.top_level()[0].blocks[0]["text"]["text"]


def test_missing_token_env_is_one_clear_config_error(tmp_path, slack, monkeypatch):
    from listener.errors import ConfigError

    monkeypatch.delenv("OVERHEARD_TEST_SLACK_TOKEN", raising=False)
    with pytest.raises(ConfigError) as info:
        _bot_config(tmp_path, slack)
    assert "alerts.receivers[0].token_env: environment variable OVERHEARD_TEST_SLACK_TOKEN is not set" in str(
        info.value)


def test_alerts_test_and_deliver_commands(tmp_path, slack_env):
    from click.testing import CliRunner

    from listener.cli import cli

    slack = slack_env
    config = _bot_config(tmp_path, slack)
    path = str(config.path)
    runner = CliRunner()
    out = runner.invoke(cli, ["alerts", "test", "slack", "--config", path])
    assert out.exit_code == 0, out.output
    assert "sent a test alert to slack (C0SUPPORT:" in out.output
    assert "&lt;!channel&gt; stays inert" in json.dumps(slack.top_level()[0].blocks)
    unknown = runner.invoke(cli, ["alerts", "test", "pagerduty", "--config", path])
    assert unknown.exit_code == 2 and "no enabled receiver named 'pagerduty'; known: slack" in unknown.output
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 80)
        evaluate_pending(store, config)
    out = runner.invoke(cli, ["alerts", "deliver", "--config", path])
    assert out.exit_code == 0 and "sent 1 message (1 alert)" in out.output  # plurals (issue 18)
    assert len(slack.top_level()) == 2


def test_huge_and_odd_text_stays_within_block_kit_limits():
    from alerts.message import Alert, AlertMention

    huge = ("\u202e" + "ز" * 3000 + "\n> " + "😡" * 2000 + "<!channel>") * 5
    alert = Alert(kind="thread", rule="r" * 300, level="critical", brand="B" * 200, source="x", thread_key="x:1",
                  title=huge, risk=99, reasons=[huge] * 40, url="https://x.com/a/status/1", queue_url=None,
                  mentions=[AlertMention(author=huge[:500], followers=10**9, text=huge, url=None, label="negative",
                                         created_at="2026-11-20T10:00:00Z")] * 5, queue_item_id=7)
    msg = slack_message(alert)
    blocks = msg["blocks"]
    assert len(blocks) <= 50 and len(msg["text"]) <= 300
    assert len(blocks[0]["text"]["text"]) <= 150
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert all(len(e["text"]) <= 3000 for e in block["elements"])
    assert "<!channel>" not in json.dumps(msg)
