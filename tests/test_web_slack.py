"""Slack buttons: signed requests only, the queue action runs, and the alert message says who did what.

The follow-up goes through the real slack_sdk WebhookClient to a response_url on 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier

from alerts.users import add_user
from alerts.web.app import create_app
from listener.store import Store
from tests.queue_support import flagged_items, write_config

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def slack(tmp_path, httpserver):
    config = write_config(tmp_path)
    store = Store(config.db_path)
    ids = flagged_items(config, store, threads=2)
    add_user(store, "alice", "agent", "a long password", slack_user_id="U0ALICE")
    app = create_app(config, secret="s" * 40, slack_signing_secret=SECRET)
    httpserver.expect_request("/actions/T1/123/abc", method="POST").respond_with_data("ok")
    yield store, TestClient(app), ids, httpserver
    store.close()


def payload(httpserver, item_id: int, action_id: str = "queue_claim", user_id: str = "U0ALICE",
            username: str = "alice.s") -> dict:
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": username, "name": username, "team_id": "T1"},
        "team": {"id": "T1", "domain": "brightwave"},
        "channel": {"id": "C0ALERTS", "name": "social-alerts"},
        "container": {"type": "message", "message_ts": "1732400000.000100", "channel_id": "C0ALERTS"},
        "response_url": httpserver.url_for("/actions/T1/123/abc"),
        "message": {
            "type": "message", "ts": "1732400000.000100", "text": "[CRITICAL] Outage thread",
            "blocks": [
                {"type": "section", "block_id": "head", "text": {"type": "mrkdwn", "text": "*Outage thread* risk 77"}},
                {"type": "actions", "block_id": "queue", "elements": [
                    {"type": "button", "action_id": a, "value": str(item_id), "text": {"type": "plain_text", "text": a}}
                    for a in ("queue_claim", "queue_snooze", "queue_resolve", "queue_dismiss")]},
            ],
        },
        "actions": [{"type": "button", "action_id": action_id, "block_id": "queue", "value": str(item_id),
                     "action_ts": "1732400100.000200"}],
    }


def signed(body: str, *, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"x-slack-request-timestamp": ts, "x-slack-signature": signature,
            "content-type": "application/x-www-form-urlencoded"}


def post(client: TestClient, data: dict, **kwargs) -> tuple[str, object]:
    body = urlencode({"payload": json.dumps(data)})
    return body, client.post("/slack/actions", content=body, headers=signed(body, **kwargs))


def sent(httpserver) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in httpserver.log]


def test_claim_from_slack_updates_the_item_and_the_message(slack):
    store, client, ids, server = slack
    _, response = post(client, payload(server, ids[0]))
    assert response.status_code == 200
    assert store.query("SELECT state, assignee FROM queue_items WHERE id = ?", (ids[0],)) == [
        {"state": "claimed", "assignee": "alice"}]
    assert store.scalar("SELECT actor FROM queue_events WHERE item_id = ? AND action = 'claimed'", (ids[0],)) == "alice"
    [message] = sent(server)
    assert message["replace_original"] is True and message["text"] == f"alice claimed queue item {ids[0]}"
    status = message["blocks"][-1]
    assert status["type"] == "context" and f"*alice* claimed queue item {ids[0]}" in status["elements"][0]["text"]
    buttons = [e["action_id"] for e in message["blocks"][1]["elements"]]
    assert buttons == ["queue_snooze", "queue_resolve", "queue_dismiss"]  # claim is done
    assert message["blocks"][0]["block_id"] == "head"  # the alert itself stays


def test_resolve_and_dismiss_remove_the_buttons(slack):
    store, client, ids, server = slack
    post(client, payload(server, ids[0], "queue_resolve"))
    post(client, payload(server, ids[1], "queue_dismiss"))
    rows = store.query("SELECT state, outcome, dismiss_reason FROM queue_items ORDER BY id")
    assert rows == [{"state": "resolved", "outcome": "other", "dismiss_reason": None},
                    {"state": "dismissed", "outcome": None, "dismiss_reason": "no_action"}]
    for message in sent(server):
        assert [b["type"] for b in message["blocks"]] == ["section", "context"]


def test_snooze_from_slack_uses_the_default_snooze(slack):
    store, client, ids, server = slack
    post(client, payload(server, ids[0], "queue_snooze"))
    assert store.scalar("SELECT state FROM queue_items WHERE id = ?", (ids[0],)) == "snoozed"
    assert "snoozed queue item" in sent(server)[0]["blocks"][-1]["elements"][0]["text"]


def test_an_unknown_slack_user_acts_under_their_slack_name_escaped(slack):
    store, client, ids, server = slack
    post(client, payload(server, ids[0], user_id="U0MALLORY", username="<!channel>"))
    assert store.scalar("SELECT assignee FROM queue_items WHERE id = ?", (ids[0],)) == "slack:<!channel>"
    text = sent(server)[0]["blocks"][-1]["elements"][0]["text"]
    assert "<!channel>" not in text and "slack:&lt;!channel&gt;" in text


def test_an_illegal_click_answers_only_the_clicker(slack):
    store, client, ids, server = slack
    post(client, payload(server, ids[0], "queue_resolve"))
    post(client, payload(server, ids[0], "queue_claim"))
    second = sent(server)[1]
    assert second["response_type"] == "ephemeral" and second["replace_original"] is False
    assert "is resolved: cannot claim it; reopen it first" in second["text"]
    assert store.scalar("SELECT state FROM queue_items WHERE id = ?", (ids[0],)) == "resolved"


@pytest.mark.parametrize("how", ["unsigned", "stale", "tampered", "wrong secret"])
def test_unsigned_stale_or_tampered_requests_are_refused(slack, how):
    store, client, ids, server = slack
    body = urlencode({"payload": json.dumps(payload(server, ids[0]))})
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if how == "stale":
        headers = signed(body, timestamp=int(time.time()) - 6 * 60)
    elif how == "tampered":
        headers = signed(body)
        body = body.replace("queue_claim", "queue_dismiss")
    elif how == "wrong secret":
        headers = signed(body, secret="not-the-secret")
    response = client.post("/slack/actions", content=body, headers=headers)
    assert response.status_code == 401
    assert store.scalar("SELECT state FROM queue_items WHERE id = ?", (ids[0],)) == "new"
    assert server.log == []


def test_a_signed_but_malformed_payload_is_a_400(slack):
    _, client, _, server = slack
    for body in ("payload=not-json", "nothing=here", urlencode({"payload": json.dumps({"actions": []})})):
        assert client.post("/slack/actions", content=body, headers=signed(body)).status_code == 400
    assert server.log == []


def test_without_a_signing_secret_the_endpoint_is_off(tmp_path, monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    config = write_config(tmp_path)
    client = TestClient(create_app(config, secret="s" * 40))
    body = "payload=%7B%7D"
    response = client.post("/slack/actions", content=body, headers=signed(body))
    assert response.status_code == 503 and "SLACK_SIGNING_SECRET" in response.text


def test_disabled_or_unlinked_users_are_refused_when_required(tmp_path, httpserver):
    from alerts.users import set_disabled

    config = write_config(tmp_path, extra="[web]\nslack_require_known_users = true\n")
    store = Store(config.db_path)
    ids = flagged_items(config, store, threads=1)
    add_user(store, "alice", "agent", "a long password", slack_user_id="U0ALICE")
    set_disabled(store, "alice", True)
    httpserver.expect_request("/actions/T1/123/abc", method="POST").respond_with_data("ok")
    client = TestClient(create_app(config, secret="s" * 40, slack_signing_secret=SECRET))
    post(client, payload(httpserver, ids[0]))
    post(client, payload(httpserver, ids[0], user_id="U0STRANGER", username="stranger"))
    replies = sent(httpserver)
    assert "account alice is disabled" in replies[0]["text"]
    assert "not linked to an overheard user" in replies[1]["text"] and "--slack-id U0STRANGER" in replies[1]["text"]
    assert all(r["response_type"] == "ephemeral" for r in replies)
    assert store.scalar("SELECT state FROM queue_items WHERE id = ?", (ids[0],)) == "new"
    store.close()
