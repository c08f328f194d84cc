"""The live inbox feed, GET /events: changes after a cursor kept in the store, as JSON and as
server-sent events; login required and checked again while a stream runs; no note text in it."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from alerts import live
from alerts.queue import Queue
from alerts.users import add_user, end_sessions
from alerts.web import live as live_web
from alerts.web.app import create_app
from listener.store import Store
from tests.queue_support import flagged_items, write_config

PASSWORD = "live-feed-pass"


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.setattr(live_web, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(live_web, "STREAM_SECONDS", 1.5)
    monkeypatch.setattr(live_web, "AUTH_SECONDS", 0.2)
    config = write_config(tmp_path)
    store = Store(config.db_path)
    ids = flagged_items(config, store, threads=2)
    add_user(store, "alice", "agent", PASSWORD)
    add_user(store, "bob", "agent", PASSWORD)
    yield config, store, ids
    store.close()


def login(client: TestClient, name: str) -> None:
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})


def sse(text: str) -> list[dict]:
    """The events of a text/event-stream body, as the browser's EventSource parses them."""
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key] = value.removeprefix(" ")
        if "data" in fields:
            out.append({"event": fields.get("event", "message"), "id": fields.get("id"),
                        "data": json.loads(fields["data"])})
    return out


def test_changes_after_a_cursor_with_what_the_pages_show_and_no_note_text(site):
    config, store, ids = site
    client = TestClient(create_app(config, secret="l" * 40))
    login(client, "bob")
    start = client.get("/events?format=json", headers={"accept": "application/json"}).json()["cursor"]
    assert start == live.cursor(store) > 0
    queue = Queue(store, config.queue)
    queue.claim(ids[0], "alice")
    queue.note(ids[0], "alice", "customer's card ends 4242, keep it internal")
    queue.resolve(ids[1], "alice", "refund")
    body = client.get(f"/events?format=json&after={start}", headers={"accept": "application/json"}).json()
    assert [(c["item_id"], c["action"], c["state"], c["assignee"]) for c in body["changes"]] == [
        (ids[0], "claimed", "claimed", "alice"), (ids[0], "note", "claimed", "alice"),
        (ids[1], "resolved", "resolved", "alice")]
    assert "4242" not in json.dumps(body)
    assert body["changes"][0]["sla"].startswith("first response due in")
    assert body["changes"][0]["post_age"] == "20 min"
    assert body["cursor"] == live.cursor(store)
    again = client.get(f"/events?format=json&after={body['cursor']}", headers={"accept": "application/json"}).json()
    assert again["changes"] == []


def test_the_stream_sends_changes_and_resumes_from_last_event_id(site):
    config, store, ids = site
    client = TestClient(create_app(config, secret="l" * 40))
    login(client, "bob")
    start = live.cursor(store)
    Queue(store, config.queue).claim(ids[0], "alice")
    response = client.get(f"/events?after={start}")
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse(response.text)
    assert events[0]["event"] == "hello"
    changes = [e for e in events if e["event"] == "change"]
    assert [(c["data"]["action"], c["data"]["assignee"]) for c in changes] == [("claimed", "alice")]
    last = changes[-1]["id"]
    # a reconnect (new process, restart) sends Last-Event-ID: nothing is sent twice, later changes come
    Queue(store, config.queue).mark_replied(ids[0], "alice")
    resumed = sse(client.get("/events", headers={"last-event-id": last}).text)
    assert [e["data"]["action"] for e in resumed if e["event"] == "change"] == ["replied"]


def test_the_stream_needs_a_login_and_ends_when_the_session_does(site):
    config, store, ids = site
    client = TestClient(create_app(config, secret="l" * 40))
    assert client.get("/events", follow_redirects=False).status_code == 303  # a browser goes to the login page
    assert client.get("/events?format=json", headers={"accept": "application/json"}).status_code == 401
    login(client, "bob")
    end_sessions(store, "bob")  # logged out everywhere (or disabled): the running stream stops
    assert client.get("/events", follow_redirects=False).status_code == 303
    login(client, "bob")

    import threading

    def logout_soon() -> None:
        end_sessions(store, "bob")

    timer = threading.Timer(0.3, logout_soon)
    timer.start()
    events = sse(client.get("/events").text)
    timer.join()
    assert events[-1]["event"] == "logout"
