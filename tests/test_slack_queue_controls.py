"""The queue controls on a real Slack alert: posted by slack_sdk to the local Slack fake, clicked back as Slack
sends block_actions (signed with SignatureVerifier), answered through response_url.

The click payloads are built from the message the fake received, the way Slack builds them: the element
clicked, with `value` for a button and `selected_option` for a static_select.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from alerts.outbox import deliver_pending
from alerts.rules import evaluate_pending
from alerts.users import add_user
from alerts.web.app import create_app
from listener.pipeline import build_channels
from listener.store import Store
from tests.alerts_support import alerts_config, put_thread
from tests.fakes_slack import FakeSlack

SECRET = "e0c4d4e1b7b1f0a9c3d2b5a6f7e8d9c0"


def _config(tmp_path, slack, snooze_minutes: int):
    return alerts_config(tmp_path, f"""
    [[alerts.receivers]]
    name = "slack"
    type = "slack_bot"
    token_env = "OVERHEARD_TEST_SLACK_TOKEN"
    channel = "#support-alerts"
    base_url = "{slack.api_url}"
    """, """
    [[alerts.rules]]
    name = "threads"
    min_risk = 30
    receivers = ["slack"]
    group_interval_minutes = 0
    """, extra=f"[queue]\nsnooze_minutes = {snooze_minutes}\n")


@pytest.fixture
def posted(tmp_path, monkeypatch, httpserver, request):
    slack = FakeSlack().start()
    monkeypatch.setenv("OVERHEARD_TEST_SLACK_TOKEN", slack.token)
    config = _config(tmp_path, slack, getattr(request, "param", 120))
    store = Store(config.db_path)
    now = datetime.now(UTC)
    put_thread(store, "x:77", 82, when=now - timedelta(hours=3))
    evaluate_pending(store, config, now)
    deliver_pending(store, build_channels(config), now)
    add_user(store, "alice", "agent", "a long password", slack_user_id="U0ALICE")
    httpserver.expect_request("/actions/T1/9/zz", method="POST").respond_with_data("ok")
    client = TestClient(create_app(config, secret="q" * 40, slack_signing_secret=SECRET))
    (message,) = slack.top_level()
    item_id = store.scalar("SELECT id FROM queue_items WHERE thread_key = 'x:77'")
    yield store, client, message, item_id, httpserver
    store.close()
    slack.stop()


def _element(message, action_id: str) -> dict:
    block = next(b for b in message.blocks if b["type"] == "actions")
    return block, next(e for e in block["elements"] if e.get("action_id") == action_id)


def click(client, server, message, action_id: str, option: str | None = None):
    """POST what Slack sends when alice clicks (or picks `option` in) the element `action_id`."""
    block, element = _element(message, action_id)
    action = {"action_id": action_id, "block_id": block["block_id"], "type": element["type"],
              "action_ts": f"{time.time():.6f}"}
    if element["type"] == "button":
        action.update(value=element["value"], text=element["text"])
    else:
        chosen = next(o for o in element["options"] if o["value"].endswith("|" + option))
        action.update(selected_option=chosen, placeholder=element["placeholder"])
    payload = {
        "type": "block_actions", "user": {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": "T1"},
        "api_app_id": "A0OVERHEARD", "token": "legacy-verification-token", "trigger_id": "123.456.abc",
        "team": {"id": "T1", "domain": "brightwave"}, "enterprise": None, "is_enterprise_install": False,
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel,
                      "is_ephemeral": False},
        "channel": {"id": message.channel, "name": "support-alerts"},
        "message": {"type": "message", "ts": message.ts, "text": message.text, "blocks": message.blocks},
        "state": {"values": {}}, "response_url": server.url_for("/actions/T1/9/zz"), "actions": [action],
    }
    body = urlencode({"payload": json.dumps(payload)})
    ts = str(int(time.time()))
    headers = {"x-slack-request-timestamp": ts, "content-type": "application/x-www-form-urlencoded",
               "x-slack-signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)}
    response = client.post("/slack/actions", content=body, headers=headers)
    assert response.status_code == 200
    return json.loads(server.log[-1][0].get_data())


@pytest.mark.parametrize("posted, label", [(120, "Snooze 2 h"), (45, "Snooze 45 min"), (2880, "Snooze 2 days")],
                         indirect=["posted"])
def test_the_snooze_button_snoozes_for_what_it_says(posted, label):
    store, client, message, item_id, server = posted
    _, button = _element(message, "queue_snooze")
    assert button["text"]["text"] == label
    before = datetime.now(UTC)
    click(client, server, message, "queue_snooze")
    until = datetime.fromisoformat(store.scalar("SELECT snoozed_until FROM queue_items WHERE id = ?", (item_id,)))
    minutes = {"Snooze 2 h": 120, "Snooze 45 min": 45, "Snooze 2 days": 2880}[label]
    assert abs((until - before).total_seconds() - minutes * 60) < 30


def test_resolve_asks_for_the_outcome_and_confirmation_and_records_it(posted):
    store, client, message, item_id, server = posted
    _, select = _element(message, "queue_resolve")
    assert select["placeholder"]["text"] == "Resolve as…" and select["confirm"]["confirm"]["text"] == "Resolve"
    update = click(client, server, message, "queue_resolve", "refund")
    assert store.query("SELECT state, outcome, assignee FROM queue_items WHERE id = ?", (item_id,)) == [
        {"state": "resolved", "outcome": "refund", "assignee": "alice"}]
    assert update["replace_original"] is True
    status = update["blocks"][-1]["elements"][0]["text"]
    assert f"*alice* resolved queue item {item_id} as refund or credit" in status
    remaining = [e.get("action_id") for b in update["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert not any(a.startswith("queue_") for a in remaining) and "open_post" in remaining


def test_dismiss_records_the_reason_picked(posted):
    store, client, message, item_id, server = posted
    click(client, server, message, "queue_dismiss", "spam")
    assert store.query("SELECT state, dismiss_reason FROM queue_items WHERE id = ?", (item_id,)) == [
        {"state": "dismissed", "dismiss_reason": "spam"}]


def test_the_message_shows_age_sla_due_and_assignee_and_keeps_them_current(posted):
    store, client, message, item_id, server = posted
    facts = next(b for b in message.blocks if b.get("block_id") == "overheard_queue_facts")["elements"][0]["text"]
    due = store.scalar("SELECT first_response_due FROM queue_items WHERE id = ?", (item_id,))
    stamp = int(datetime.fromisoformat(due).timestamp())
    assert f"<!date^{stamp}^first response due {{date_short_pretty}} {{time}}|" in facts
    started = int(datetime.fromisoformat(store.scalar("SELECT first_at FROM threads WHERE thread_key = 'x:77'"))
                  .timestamp())
    assert f"<!date^{started}^thread started {{ago}}|" in facts and "nobody assigned yet" in facts
    update = click(client, server, message, "queue_claim")
    after = next(b for b in update["blocks"] if b.get("block_id") == "overheard_queue_facts")["elements"][0]["text"]
    assert after.endswith("assigned to *alice*")
