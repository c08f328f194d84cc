"""The live feed's extras for the pages: the state tabs' counts under a list's filters (server-counted,
sent after each batch of changes), the first response time, and a line saying what happened that never
quotes a note or a reply."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from alerts import live
from alerts.queue import ItemFilter, Queue
from alerts.web.app import create_app
from tests.test_live import login, site, sse  # noqa: F401 - `site` is the fixture of the live feed tests

JSON = {"accept": "application/json"}


def test_the_stream_of_a_list_sends_its_tab_counts_after_changes(site):  # noqa: F811
    config, store, ids = site
    client = TestClient(create_app(config, secret="l" * 40))
    login(client, "bob")
    start = live.cursor(store)
    queue = Queue(store, config.queue)
    queue.claim(ids[0], "alice")
    events = sse(client.get(f"/events?after={start}&counts=1&state=claimed&sort=risk").text)
    kinds = [e["event"] for e in events]
    assert kinds[:3] == ["hello", "change", "counts"]
    counts = events[2]["data"]
    assert counts == queue.counts(ItemFilter()) and (counts["new"], counts["claimed"], counts["open"]) == (1, 1, 2)
    # Without counts=1 (the item page) no counts are sent; with nothing new, none either.
    assert "counts" not in [e["event"] for e in sse(client.get(f"/events?after={start}").text)]
    assert "counts" not in [e["event"] for e in sse(client.get(f"/events?after={live.cursor(store)}&counts=1").text)]


def test_the_counts_follow_the_lists_filters(site):  # noqa: F811
    config, store, ids = site
    client = TestClient(create_app(config, secret="l" * 40))
    login(client, "bob")
    start = live.cursor(store)
    queue = Queue(store, config.queue)
    queue.resolve(ids[1], "alice", "refund")
    body = client.get(f"/events?format=json&after={start}&counts=1&assignee=alice&q=outage", headers=JSON).json()
    assert body["counts"] == queue.counts(ItemFilter(assignee="alice", search="outage"))
    assert (body["counts"]["resolved"], body["counts"]["new"]) == (1, 0)  # the other item is new, nobody's
    assert queue.counts(ItemFilter())["new"] == 1
    nobody = client.get(f"/events?format=json&after={start}&counts=1&brand=Nonesuch", headers=JSON).json()
    assert nobody["counts"]["resolved"] == 0 and nobody["counts"]["open"] == 0
    assert "counts" not in client.get(f"/events?format=json&after={start}", headers=JSON).json()


def test_each_change_says_what_happened_without_the_words_of_a_note(site):  # noqa: F811
    config, store, ids = site
    client = TestClient(create_app(config, secret="l" * 40))
    login(client, "bob")
    start = live.cursor(store)
    queue = Queue(store, config.queue)
    queue.claim(ids[0], "alice")
    queue.note(ids[0], "alice", "customer's card ends 4242, keep it internal")
    queue.mark_replied(ids[0], "alice")
    changes = client.get(f"/events?format=json&after={start}", headers=JSON).json()["changes"]
    assert [c["what"] for c in changes] == ["claimed", "added a note", "marked replied"]
    assert "4242" not in json.dumps(changes)
    replied = queue.get(ids[0])
    assert replied.first_response_at
    assert changes[-1]["first_response"] == live.local_time(replied.first_response_at, live.ZoneInfo("UTC"))
    assert changes[-1]["first_response"]  # a time as the item page prints it, "Wed 02 Dec 07:12"


def test_a_posted_reply_is_one_line_without_its_text():
    detail = json.dumps({"reply_id": 3, "platform": "Mastodon", "text": "Hi Carol, your refund is on its way"})
    assert live.what_happened("reply_posted", detail, {"action": "reply_posted"}) == "replied on Mastodon"
    assert live.what_happened("sla_breach", "not json", {"action": "sla_breach"}).startswith("SLA breached")
