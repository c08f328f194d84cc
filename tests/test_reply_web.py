"""The composer's routes through FastAPI's TestClient: CSRF, login, permissions, approval, the server's count."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from alerts.queue import Queue
from alerts.users import add_user
from alerts.web.app import create_app
from listener.pipeline import process
from listener.store import Store
from tests.fakes_replies.x import FakeXReplies
from tests.queue_support import angry_thread
from tests.reply_support import X_CLIENT, connect_x, reply_config, reply_env

PASSWORD = "web-reply-pass"


@pytest.fixture
def site(tmp_path, monkeypatch):
    reply_env(monkeypatch)
    with FakeXReplies(client_id=X_CLIENT) as fake:
        for i in range(4):
            fake.add_post(f"outage-{i}", "techwithjess")
        config = reply_config(tmp_path, x_url=fake.base_url,
                              extra='[queue.reply_approval]\nrequired_for = "agents"\npriorities = ["high"]\n')
        store = Store(config.db_path)
        angry_thread(store, "outage", author="techwithjess")
        process(config, store, channels={})
        connect_x(store, fake)
        add_user(store, "alice", "agent", PASSWORD)
        add_user(store, "carol", "agent", PASSWORD)
        add_user(store, "bob", "admin", PASSWORD)
        item_id = store.scalar("SELECT id FROM queue_items")
        store.conn.execute("UPDATE queue_items SET priority = 'high' WHERE id = ?", (item_id,))
        yield create_app(config, secret="w" * 40), store, fake, item_id, config
        store.close()


def login(name: str, app) -> tuple[TestClient, str]:
    client = TestClient(app)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    return client, token


JSON = {"Accept": "application/json"}


def test_without_csrf_or_login_nothing_is_sent(site):
    app, store, fake, item_id, _ = site
    client, _ = login("alice", app)
    refused = client.post(f"/items/{item_id}/reply/send", data={"text": "hi", "csrf_token": "forged"})
    assert refused.status_code == 403
    anonymous = TestClient(app).post(f"/items/{item_id}/reply/send", data={"text": "hi"}, headers=JSON)
    assert anonymous.status_code == 401
    assert fake.served("/2/tweets") == [] and store.scalar("SELECT COUNT(*) FROM replies") == 0


def test_the_server_counts_as_x_does(site):
    app, _, _, item_id, _ = site
    client, token = login("alice", app)
    counted = client.post(f"/items/{item_id}/reply/count", headers=JSON,
                          data={"csrf_token": token, "text": "日本 https://example.com/" + "a" * 60})
    assert counted.json() == {"length": 28, "limit": 280, "left": 252, "platform": "X", "over": False}


def test_an_agents_reply_on_a_high_item_waits_and_an_admin_approves_it(site):
    app, store, fake, item_id, config = site
    alice, token = login("alice", app)
    page = alice.get(f"/items/{item_id}").text
    assert "An admin approves your reply before it is posted." in page
    sent = alice.post(f"/items/{item_id}/reply/send", headers=JSON, data={"csrf_token": token,
                                                                          "text": "We're on it."})
    assert sent.json()["reply"]["state"] == "awaiting_approval" and fake.served("/2/tweets") == []
    reply_id = sent.json()["reply"]["id"]
    # An agent has no Approve button and cannot approve by posting the form.
    assert f"approve-{reply_id}" not in alice.get(f"/items/{item_id}").text
    denied = alice.post(f"/items/{item_id}/reply/{reply_id}/approve", data={"csrf_token": token}, headers=JSON)
    assert denied.status_code == 400 and "only an admin" in denied.json()["message"]
    bob, bob_token = login("bob", app)
    assert f'id="approve-{reply_id}"' in bob.get(f"/items/{item_id}").text
    done = bob.post(f"/items/{item_id}/reply/{reply_id}/approve", data={"csrf_token": bob_token},
                    follow_redirects=False)
    assert done.status_code == 303
    page = bob.get(f"/items/{item_id}").text
    assert "Posted on X." in page and "approved reply" in page
    assert [p.text for p in fake.replies_to("outage-3")] == ["We're on it."]
    item = Queue(store, config.queue).get(item_id)
    assert item.state == "replied"


def test_someone_elses_item_is_refused_in_words(site):
    app, store, fake, item_id, config = site
    Queue(store, config.queue).claim(item_id, "carol")
    alice, token = login("alice", app)
    refused = alice.post(f"/items/{item_id}/reply/send", headers=JSON, data={"csrf_token": token, "text": "hi"})
    assert refused.status_code == 400 and "claimed by carol" in refused.json()["message"]
    assert fake.served("/2/tweets") == []


def test_a_reply_of_another_item_cannot_be_retried_through_this_one(site):
    app, store, fake, item_id, _ = site
    bob, token = login("bob", app)
    fake.delete("outage-3")
    failed = bob.post(f"/items/{item_id}/reply/send", headers=JSON, data={"csrf_token": token, "text": "Sorry!"})
    assert failed.status_code == 502 and "deleted" in failed.json()["message"]
    rid = failed.json()["reply"]["id"]
    wrong = bob.post(f"/items/{item_id + 1}/reply/{rid}/retry", headers=JSON, data={"csrf_token": token})
    assert wrong.status_code == 400 and "not a reply of queue item" in wrong.json()["message"]
    page = bob.get(f"/items/{item_id}").text
    assert "X refused it: <strong>the post was deleted" in page and f'id="retry-{rid}"' in page


def test_a_reply_left_sending_shows_may_have_been_posted_and_a_checked_retry(site):
    app, store, fake, item_id, _ = site
    mention = store.scalar("SELECT id FROM mentions WHERE native_id = 'outage-3'")
    store.conn.execute(
        "INSERT INTO replies (item_id, mention_id, source, author, text, state, created_at, sending_at, updated_at) "
        "VALUES (?, ?, 'x', 'bob', 'Engineers are on it.', 'sending', '2026-01-01T09:00:00Z', '2026-01-01T09:00:00Z', "
        "'2026-01-01T09:00:00Z')", (item_id, mention))
    bob, token = login("bob", app)
    page = bob.get(f"/items/{item_id}").text
    assert "May have been posted" in page and "check on X before retrying" in page
    assert 'name="checked" value="1"' in page and "Not there: retry" in page
    plain = bob.post(f"/items/{item_id}/reply/1/retry", headers=JSON, data={"csrf_token": token})
    assert plain.status_code == 400 and "check on X first" in plain.json()["message"]
    checked = bob.post(f"/items/{item_id}/reply/1/retry", headers=JSON, data={"csrf_token": token, "checked": "1"})
    assert checked.json()["reply"]["state"] == "posted" and checked.json()["reply"]["retry_of"] == 1
    assert "not on X (checked by bob)" in bob.get(f"/items/{item_id}").text
