"""The queue web app through FastAPI's TestClient: login, CSRF, headers, escaping, actions, collision."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from alerts.users import add_user
from alerts.web.app import create_app
from listener.models import Batch, Mention
from listener.pipeline import process
from listener.store import Store
from tests.queue_support import angry_thread, flagged_items, write_config

PASSWORD = "correct horse battery"


@pytest.fixture
def site(tmp_path):
    config = write_config(tmp_path)
    store = Store(config.db_path)
    ids = flagged_items(config, store, threads=2)
    add_user(store, "alice", "agent", PASSWORD)
    add_user(store, "bob", "agent", PASSWORD)
    add_user(store, "root", "admin", PASSWORD)
    app = create_app(config, secret="test-secret-" + "x" * 20)
    yield config, store, app, ids
    store.close()


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client: TestClient, name: str = "alice", password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"name": name, "password": password, "csrf_token": csrf(page.text),
                                       "next": "/"}, follow_redirects=False)


def test_health_needs_no_login_but_everything_else_does(site):
    _, _, app, ids = site
    client = TestClient(app)
    assert client.get("/healthz").json() == {"status": "ok"}
    for path in ("/", f"/items/{ids[0]}", f"/items/{ids[0]}/presence"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    assert client.get("/", headers={"accept": "application/json"}).status_code == 401
    refused = client.post(f"/items/{ids[0]}/claim", data={"csrf_token": "x"}, follow_redirects=False)
    assert refused.status_code == 401


def test_login_with_the_right_password_only(site):
    _, _, app, _ = site
    client = TestClient(app)
    assert login(client, password="wrong password").status_code == 401
    assert "overheard_session" not in client.cookies or client.get("/", follow_redirects=False).status_code == 303
    ok = login(client)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert "alice" in client.get("/").text


def test_repeated_wrong_passwords_lock_this_client_out_of_the_name(site):
    _, _, app, _ = site
    client = TestClient(app)
    for _ in range(5):
        assert login(client, password="nope nope").status_code == 401
    assert login(client).status_code == 429  # even the right password, for now


def test_login_redirect_never_leaves_the_site(site):
    _, _, app, _ = site
    client = TestClient(app)
    page = client.get("/login?next=//evil.example/x")
    response = client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": csrf(page.text),
                                           "next": "//evil.example/x"}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_forms_without_the_csrf_token_are_refused_and_change_nothing(site):
    _, store, app, ids = site
    client = TestClient(app)
    login(client)
    for data in ({}, {"csrf_token": "forged"}):
        response = client.post(f"/items/{ids[0]}/claim", data=data, follow_redirects=False)
        assert response.status_code == 403 and "CSRF" in response.text
    assert store.scalar("SELECT state FROM queue_items WHERE id = ?", (ids[0],)) == "new"
    # the login form needs one too
    assert TestClient(app).post("/login", data={"name": "alice", "password": PASSWORD}).status_code == 403


def test_security_headers_on_every_page(site):
    _, _, app, _ = site
    client = TestClient(app)
    for response in (client.get("/login"), client.get("/healthz"), client.get("/static/app.js")):
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "unsafe-inline" not in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/login").headers["cache-control"] == "no-store"
    cookies = [c.lower() for c in login(client).headers.get_list("set-cookie")]
    [cookie] = [c for c in cookies if c.startswith("overheard_session=")]
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert all("secure" not in c for c in cookies)  # plain http, [web] secure_cookies = false


def test_no_inline_script_in_any_page(site):
    _, _, app, ids = site
    client = TestClient(app)
    login(client)
    for path in ("/", f"/items/{ids[0]}", "/login"):
        html = client.get(path).text
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
        assert " on" + "click=" not in html and "style=" not in html


def test_mention_text_is_escaped(site):
    config, store, app, _ = site
    angry_thread(store, "evil", author="mallory", texts=[
        "<script>alert('owned')</script> @Brightwave <b>outage</b> awful refund scam never again",
        "Brightwave terrible, disgusting, furious, refund",
        "Brightwave worst ever, scam, cancelling"])
    store.conn.execute("UPDATE mentions SET url = 'javascript:alert(1)' WHERE native_id = 'evil-1'")
    process(config, store, channels={})
    item_id = store.scalar("SELECT id FROM queue_items WHERE thread_key = 'x:evil-0'")
    client = TestClient(app)
    login(client)
    html = client.get(f"/items/{item_id}").text
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in html
    assert "<script>alert" not in html and "<b>outage</b>" not in html
    assert "javascript:" not in html  # a hostile link is not rendered as a link
    assert "&lt;script&gt;" in client.get("/").text


def test_work_an_item_through_the_web(site):
    _, store, app, ids = site
    client = TestClient(app)
    login(client)
    page = client.get(f"/items/{ids[0]}").text
    token = csrf(page)
    assert client.post(f"/items/{ids[0]}/claim", data={"csrf_token": token}).status_code == 200
    client.post(f"/items/{ids[0]}/note", data={"csrf_token": token, "text": "Called them <back>"})
    client.post(f"/items/{ids[0]}/tag", data={"csrf_token": token, "tags": "vip outage"})
    page = client.post(f"/items/{ids[0]}/resolve", data={"csrf_token": token, "outcome": "answered_publicly"}).text
    assert "Resolved." in page and "Called them &lt;back&gt;" in page
    row = store.query("SELECT state, assignee, outcome, tags FROM queue_items WHERE id = ?", (ids[0],))[0]
    assert row == {"state": "resolved", "assignee": "alice", "outcome": "answered_publicly",
                   "tags": '["outage", "vip"]'}
    actors = store.query("SELECT actor, action FROM queue_events WHERE item_id = ? ORDER BY id", (ids[0],))
    assert [(a["actor"], a["action"]) for a in actors][1:] == [
        ("alice", "claimed"), ("alice", "note"), ("alice", "tags"), ("alice", "resolved")]


def test_illegal_actions_show_one_line_and_change_nothing(site):
    _, store, app, ids = site
    client = TestClient(app)
    login(client)
    token = csrf(client.get(f"/items/{ids[0]}").text)
    page = client.post(f"/items/{ids[0]}/reply", data={"csrf_token": token}).text
    assert f"queue item {ids[0]} is new: cannot mark it replied; claim it first" in page
    page = client.post(f"/items/{ids[0]}/resolve", data={"csrf_token": token, "outcome": "bribe"}).text
    assert "outcome &#39;bribe&#39;: must be one of" in page
    assert store.scalar("SELECT state FROM queue_items WHERE id = ?", (ids[0],)) == "new"
    assert client.get("/items/999").status_code == 404


def test_collision_shows_who_else_has_it_open_or_claimed(site):
    _, _, app, ids = site
    alice, bob = TestClient(app), TestClient(app)
    login(alice)
    login(bob, "bob")
    token = csrf(alice.get(f"/items/{ids[0]}").text)
    alice.post(f"/items/{ids[0]}/claim", data={"csrf_token": token})
    page = bob.get(f"/items/{ids[0]}").text
    assert "<strong>alice</strong> has claimed this item." in page
    assert "Also open by: alice" in page
    assert alice.get(f"/items/{ids[0]}/presence").json()["viewers"] == ["bob"]
    # bob (an agent) cannot take it; the admin can
    token_b = csrf(page)
    assert "is claimed by alice" in bob.post(f"/items/{ids[0]}/claim", data={"csrf_token": token_b}).text
    root = TestClient(app)
    login(root, "root")
    token_r = csrf(root.get(f"/items/{ids[0]}").text)
    assert "Claimed." in root.post(f"/items/{ids[0]}/claim", data={"csrf_token": token_r, "take_over": "1"}).text


def test_list_filters_search_and_counts(site):
    config, store, app, _ = site
    store.save_batch("reddit", "t", Batch(mentions=[Mention(
        source="reddit", native_id=f"r{i}", text=t, brand="Brightwave", author="zed", author_followers=50_000,
        created_at=datetime.now(UTC), thread_id="r0")
        for i, t in enumerate(["Brightwave router bricked, awful, refund, scam, never again",
                               "Brightwave terrible service, furious, cancelling",
                               "Brightwave worst, disgusting"])]))
    process(config, store, channels={})
    client = TestClient(app)
    login(client)
    html = client.get("/?source=reddit").text
    assert "router bricked" in html and "x:t0-0" not in html
    assert 'data-state="open">open <span class="count">1</span>' in html  # counts follow the other filters
    html = client.get("/?q=bricked").text
    assert "router bricked" in html and html.count('class="item-row') == 1
    assert client.get("/?q=%22%29%20OR").status_code == 200  # hostile search syntax is just text
    assert "state &#39;bogus&#39;: must be one of" in client.get("/?state=bogus").text
    html = client.get("/?sort=risk").text
    assert html.count('class="item-row') == 3


def test_logout_ends_the_session(site):
    _, _, app, _ = site
    client = TestClient(app)
    login(client)
    token = csrf(client.get("/").text)
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_disabled_user_is_logged_out(site):
    _, store, app, _ = site
    from alerts.users import set_disabled

    client = TestClient(app)
    login(client)
    set_disabled(store, "alice", True)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_every_form_on_every_page_carries_the_csrf_token(site):
    _, _, app, ids = site
    client = TestClient(app)
    forms = re.findall(r'<form method="post".*?</form>', client.get("/login").text, flags=re.S)
    login(client)
    for path in ("/", f"/items/{ids[0]}"):
        forms += re.findall(r'<form method="post".*?</form>', client.get(path).text, flags=re.S)
    assert len(forms) > 10
    assert all('name="csrf_token" value="' in f for f in forms)


@pytest.mark.parametrize("section, message", [
    ("[web]\nprot = 8000\n", "web.prot: unknown key"),
    ("[web]\nport = 0\n", "web.port:"),
    ("[web]\nsecure_cookies = \"yes\"\n", "web.secure_cookies: expected true or false"),
])
def test_bad_web_config_is_one_clear_line(tmp_path, section, message):
    from listener.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        write_config(tmp_path, extra=section)
    assert message in str(err.value)


def test_bulk_triage_from_the_list(site):
    _, store, app, ids = site
    client = TestClient(app)
    login(client)
    token = csrf(client.get("/").text)
    client.post(f"/items/{ids[1]}/claim", data={"csrf_token": token})
    client.post(f"/items/{ids[1]}/resolve", data={"csrf_token": token, "outcome": "other"})
    page = client.post("/bulk", data={"csrf_token": token, "action": "dismiss:spam", "ids": [str(i) for i in ids],
                                      "back": "/?sort=risk"})
    assert str(page.url).endswith("/?sort=risk")  # back to the list as it was
    assert f"Dismissed as spam: #{ids[0]}." in page.text
    assert f"queue item {ids[1]} is resolved: cannot dismiss it; reopen it first" in page.text
    rows = store.query("SELECT state, dismiss_reason FROM queue_items ORDER BY id")
    assert rows == [{"state": "dismissed", "dismiss_reason": "spam"}, {"state": "resolved", "dismiss_reason": None}]
    # the same CSRF and login rules hold
    assert client.post("/bulk", data={"action": "claim", "ids": [str(ids[0])]}).status_code == 403
    assert TestClient(app).post("/bulk", data={"action": "claim"}, follow_redirects=False).status_code == 401
    # never redirected off the site
    out = client.post("/bulk", data={"csrf_token": token, "action": "claim", "back": "https://evil.example/"},
                      follow_redirects=False)
    assert out.headers["location"] == "/"


def test_filter_choices_follow_a_rescore_in_place(site):
    """The drop-downs are kept behind a change stamp (alerts.web.routes._filter_choices): a mention of a
    queued thread scored again in place (its themes and language replaced, its scores row updated, no new
    row anywhere) shows in them on the next page, on both engines."""
    from listener.scoring import keep_scores

    _, store, app, _ = site
    client = TestClient(app)
    login(client)

    def options(name: str) -> set[str]:
        html = client.get("/").text
        select = re.search(rf'<select name="{name}".*?</select>', html, re.S).group(0)
        return set(re.findall(r'<option value="([^"]+)"', select))

    assert "logistics" not in options("theme") and "cy" not in options("lang")
    mention = store.query("SELECT m.id, s.model FROM mentions m JOIN scores s ON s.mention_id = m.id "
                          "JOIN queue_items q ON q.thread_key = m.thread_key ORDER BY m.id LIMIT 1")[0]
    scores_before = store.scalar("SELECT COUNT(*) FROM scores")
    later = "2099-01-01T00:00:00Z"  # a later second than any score so far, whatever the clock
    with store.transaction() as conn:
        conn.execute("UPDATE mentions SET themes = ?, lang = ?, scored_at = ? WHERE id = ?",
                     ('["logistics"]', "cy", later, mention["id"]))
        keep_scores(conn, [(mention["id"], mention["model"], "negative", -0.9, 0.9, "cy", later)])
    assert store.scalar("SELECT COUNT(*) FROM scores") == scores_before  # in place
    assert "logistics" in options("theme") and "cy" in options("lang")
