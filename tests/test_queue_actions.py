"""One list of queue actions (alerts.actions): the web UI, the CLI and Slack refuse and allow the same things."""

from __future__ import annotations

import html
import json
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from alerts import actions, permissions
from alerts.queue import Queue
from alerts.users import add_user
from alerts.web.app import create_app
from listener.cli import cli
from listener.errors import UserError
from listener.store import Store
from tests.queue_support import flagged_items, write_config
from tests.test_web_app import csrf, login
from tests.test_web_slack import SECRET, sent, signed

PASSWORD = "correct horse battery"


@pytest.fixture
def held(tmp_path, httpserver):
    """Two items; alice (agent) holds the first. bob is another agent, linked to Slack as U0BOB."""
    config = write_config(tmp_path)
    store = Store(config.db_path)
    ids = flagged_items(config, store, threads=2)
    add_user(store, "alice", "agent", PASSWORD, slack_user_id="U0ALICE")
    add_user(store, "bob", "agent", PASSWORD, slack_user_id="U0BOB")
    Queue(store, config.queue).claim(ids[0], "alice")
    httpserver.expect_request("/actions/T1/123/abc", method="POST").respond_with_data("ok")
    app = create_app(config, secret="t" * 40, slack_signing_secret=SECRET)
    yield config, store, app, ids, httpserver
    store.close()


def _slack_click(httpserver, item_id: int, action_id: str, value: str) -> dict:
    return {
        "type": "block_actions", "user": {"id": "U0BOB", "username": "bob", "name": "bob", "team_id": "T1"},
        "team": {"id": "T1", "domain": "brightwave"}, "api_app_id": "A0OVERHEARD", "token": "legacy",
        "container": {"type": "message", "message_ts": "1732400000.000100", "channel_id": "C0ALERTS"},
        "trigger_id": "1234.5678.abcdef", "channel": {"id": "C0ALERTS", "name": "social-alerts"},
        "response_url": httpserver.url_for("/actions/T1/123/abc"),
        "message": {"type": "message", "ts": "1732400000.000100", "text": "alert", "blocks": []},
        "actions": [{"type": "static_select", "action_id": action_id, "block_id": f"queue:{item_id}",
                     "selected_option": {"text": {"type": "plain_text", "text": "refund or credit"},
                                         "value": value},
                     "placeholder": {"type": "plain_text", "text": "Resolve as…"},
                     "action_ts": "1732400100.000200"}],
    }


def test_the_same_refusal_from_the_web_the_cli_and_slack(held):
    config, store, app, ids, server = held
    expected = f"queue item {ids[0]} is claimed by alice; only alice or an admin can resolve it"

    client = TestClient(app)
    login(client, "bob", PASSWORD)
    token = csrf(client.get(f"/items/{ids[0]}").text)
    page = client.post(f"/items/{ids[0]}/resolve", data={"csrf_token": token, "outcome": "refund"}).text
    assert html.escape(expected, quote=True) in page

    result = CliRunner().invoke(cli, ["queue", "resolve", str(ids[0]), "--outcome", "refund", "--as", "bob",
                                      "--config", str(config.path)])
    assert result.exit_code == 2 and result.output.strip() == f"overheard: {expected}"

    body = urlencode({"payload": json.dumps(_slack_click(server, ids[0], "queue_resolve", f"{ids[0]}|refund"))})
    assert client.post("/slack/actions", content=body, headers=signed(body)).status_code == 200
    [answer] = sent(server)
    assert answer["response_type"] == "ephemeral" and answer["text"] == f"Could not do that: {expected}"

    assert store.query("SELECT state, assignee FROM queue_items WHERE id = ?", (ids[0],)) == [
        {"state": "claimed", "assignee": "alice"}]
    assert store.scalar("SELECT COUNT(*) FROM queue_events WHERE item_id = ? AND actor = 'bob'", (ids[0],)) == 0


def test_every_action_names_a_permission_rule_and_the_rule_is_enforced():
    for action in actions.ACTIONS.values():
        assert permissions.has_rule(action.permission), action.name
    with pytest.raises(ValueError, match="no rule 'launch_rocket'"):
        actions.register(actions.Action("launch", "Launch", "launch_rocket", lambda q, i, a: None))


def test_arguments_are_parsed_once_with_one_line_errors(held):
    config, store, _, ids, _ = held
    q = Queue(store, config.queue)
    with pytest.raises(UserError, match="^outcome: required; one of answered_publicly"):
        actions.perform(q, "resolve", ids[1], "bob", {"outcome": ""})
    with pytest.raises(UserError, match="^reason 'bored': must be one of spam"):
        actions.perform(q, "dismiss", ids[1], "bob", {"reason": "bored"})
    with pytest.raises(UserError, match="^--for 'soon' is not a duration"):
        actions.perform(q, "snooze", ids[1], "bob", {"for_": "soon"})
    with pytest.raises(UserError, match="^unknown action 'launch'"):
        actions.perform(q, "launch", ids[1], "bob")
    item = actions.perform(q, "snooze", ids[1], "bob", {"until": "3h"})
    assert item.state == "snoozed"
    assert actions.perform(q, "wake", ids[1], "bob").state == "new"
    assert actions.perform(q, "tag", ids[1], "bob", {"tags": "vip, +billing"}).tags == ["billing", "vip"]


def test_another_feature_adds_an_action_with_one_entry(held, monkeypatch):
    """What the reply/approve work does: one register call, and the web route and CLI offer it."""
    config, store, app, ids, _ = held
    monkeypatch.setattr(actions, "ACTIONS", dict(actions.ACTIONS))
    monkeypatch.setattr(permissions, "RULES", dict(permissions.RULES))
    monkeypatch.setattr(permissions, "_EXTRA_OWNER", set())
    permissions.add_rule("escalate", like="resolve")

    def escalate(q: Queue, item_id: int, actor: str, note: str | None):
        return q.note(item_id, actor, f"escalated: {note}")

    actions.register(actions.Action("escalate", "Escalate", "escalate", escalate, (actions.NOTE,),
                                    done="Escalated."))
    client = TestClient(app)
    login(client, "bob", PASSWORD)
    token = csrf(client.get(f"/items/{ids[0]}").text)
    refused = client.post(f"/items/{ids[0]}/escalate", data={"csrf_token": token, "note": "legal"}).text
    assert "only alice or an admin can escalate it" in refused  # the owner rule holds for the new action
    assert "Escalated." in client.post(f"/items/{ids[1]}/escalate", data={"csrf_token": token,
                                                                          "note": "legal"}).text
    assert "escalated: legal" in [e["detail"].get("text") for e in Queue(store, config.queue).events(ids[1])]


def test_the_documented_action_table_is_the_list():
    from pathlib import Path

    docs = (Path(__file__).resolve().parent.parent / "docs" / "queue.md").read_text(encoding="utf-8")
    for row in actions.table():
        action = actions.ACTIONS[row.name]
        agent, admin = permissions.RULES[action.permission]
        line = (f"| `{row.name}` | {row.label} | {row.arguments or '—'} | `{action.permission}`: {agent} | {admin} | "
                f"{'yes' if row.confirm else 'no'} | {', '.join(row.surfaces)} |")
        assert line in docs, f"docs/queue.md's action table is out of date for {row.name}: {line}"
