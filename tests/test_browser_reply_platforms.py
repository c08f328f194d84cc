"""Replying from the item page in real headless Chromium to the Mastodon, Bluesky, App Store and Google Play
fakes (X and Reddit: tests/test_browser_reply.py), each refusal shown in words and retried by hand; and a
posted reply moving the item to "replied" in another agent's open tabs without a reload.

The real client libraries talk to the fakes: Mastodon.py to the brand's instance, atproto to the brand's
PDS, requests with a PyJWT ES256 token to App Store Connect, google-auth's service-account flow to
Google's token endpoint and the Android Publisher API. Every fake listens on its own 127.0.0.1 port.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from pytest_httpserver import HTTPServer

from alerts.users import add_user
from alerts.web.app import create_app
from listener.models import Batch, Mention
from listener.pipeline import process
from listener.store import Store
from tests.browser_support import chromium, serving
from tests.fakes_replies.fake_appstore_replies import AppStoreConnectFake, new_p8
from tests.fakes_replies.fake_bluesky_replies import BlueskyReplyFake
from tests.fakes_replies.fake_googleplay_replies import GooglePlayFake, new_service_account
from tests.fakes_replies.fake_mastodon_replies import MastodonReplyFake
from tests.queue_support import write_config

pytestmark = pytest.mark.browser
PASSWORD = "browser-platforms-pass"
WAIT = 20_000  # ms: generous, the machine is shared
MASTODON_TOKEN = "brand-token-browser"
KEY_ID, ISSUER = "2X9R4HXF34", "57246542-96fe-1a63-e053-0824d011072a"
APP_ID, PACKAGE = "1459876543", "com.brightwave.app"

SOCIAL = [  # a complaint and a pile-on under it, as on any social platform
    "@Brightwave outage again, no internet for 6 hours. I want a refund, switching to Lumacell. Awful",
    "Same here, Brightwave is down and support is useless. Terrible, never again",
]
REVIEWS = {  # (title, text) of 1-star reviews, one per item
    "appstore-answer": ("Crashes on launch", "Crashes every time I open it since the update. Useless, I want a "
                        "refund of my Brightwave plan, cancelling. When will you fix this?"),
    "appstore-refused": ("Logged out daily", "Logs me out every single day, awful. Switching to Lumacell, never "
                         "again. Why is this still broken?"),
    "googleplay-answer": ("Keeps logging me out", "Keeps logging me out of the Brightwave app, terrible. Refund my "
                          "subscription or I'm cancelling. Any fix coming?"),
    "googleplay-old": ("Never works", "Never works, the Brightwave app is useless and support never answers. I "
                       "want a refund, cancelling. Is anyone there?"),
    "googleplay-refused": ("Bill shown twice", "The app shows my bill twice and charged me twice, scam. I want a "
                           "refund, switching providers. Who can help?"),
}
EXTRA = """
[alerts.levels]
# App teams answer every angry review: threads flag from a lower risk than the default 50.
warning = 25
critical = 75

[[queue.saved_replies]]
name = "app crash"
text = "Hi {author}, sorry the {brand} app let you down. Version 4.2.1 fixes this; if it still happens, \
write to us quoting #{ticket}."
"""


@dataclass
class Fakes:
    """The four platforms on 127.0.0.1, what each item answers, and the store behind the web app."""

    base: str
    store: Store
    mastodon: MastodonReplyFake
    bluesky: BlueskyReplyFake
    appstore: AppStoreConnectFake
    googleplay: GooglePlayFake
    google_email: str
    items: dict[str, int] = field(default_factory=dict)  # scenario -> queue item id
    targets: dict[str, Any] = field(default_factory=dict)  # scenario -> the fake's post/status/review answered


def _serve(handler: Any, pattern: str) -> HTTPServer:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request(re.compile(pattern)).respond_with_handler(handler)
    server.start()
    return server


def _mastodon_thread(fake: MastodonReplyFake, key: str, at: datetime) -> tuple[list[Mention], Any]:
    """Two statuses on the brand's own instance, as listener.sources.mastodon stores them."""
    statuses = [fake.add_local(f"carol{key[-1]}" if i == 0 else f"dev{i}", text) for i, text in enumerate(SOCIAL)]
    mentions = [Mention(source="mastodon", native_id=s.uri, text=s.text, created_at=at + timedelta(minutes=4 * i),
                        brand="Brightwave", author=f"{s.acct}@{fake.host}", author_followers=90_000,
                        thread_id=statuses[0].uri, parent_id=None if i == 0 else statuses[0].uri, engagement=400,
                        lang="en", url=fake.status_json(s)["url"], raw=fake.status_json(s),
                        metrics={"instance": fake.host, "replies": 0})
                for i, s in enumerate(statuses)]
    return mentions, statuses[-1]


def _bluesky_thread(fake: BlueskyReplyFake, key: str, at: datetime) -> tuple[list[Mention], Any]:
    """A post and a reply under it, as listener.sources.bluesky stores them (at:// URIs)."""
    root = fake.add(f"erin{key[-1]}.bsky.social", f"3lroot{key}", SOCIAL[0])
    reply = fake.add("gina.bsky.social", f"3lreply{key}", SOCIAL[1], reply_root=(root.uri, root.cid))
    mentions = [Mention(source="bluesky", native_id=p.uri, text=p.text, created_at=at + timedelta(minutes=4 * i),
                        brand="Brightwave", author=p.handle, author_followers=90_000, thread_id=root.uri,
                        parent_id=None if i == 0 else root.uri, engagement=400, lang="en",
                        url=f"https://bsky.app/profile/{p.handle}/post/{p.uri.rsplit('/', 1)[-1]}",
                        raw={"uri": p.uri, "cid": p.cid, "record": {"text": p.text}})
                for i, p in enumerate((root, reply))]
    return mentions, (root, reply)


def _review(source: str, key: str, review_id: str, author: str, at: datetime) -> Mention:
    title, text = REVIEWS[key]
    url = (f"https://apps.apple.com/gb/app/id{APP_ID}?see-all=reviews" if source == "appstore" else
           f"https://play.google.com/store/apps/details?id={PACKAGE}&hl=en&gl=gb&reviewId={review_id}")
    return Mention(source=source, native_id=review_id, text=text, title=title, created_at=at, brand="Brightwave",
                   author=author, stars=1, engagement=12, lang="en", url=url,
                   metrics={"app_id": APP_ID if source == "appstore" else PACKAGE, "country": "gb"})


@pytest.fixture(scope="module")
def fakes(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("browser-reply-platforms")
    servers: list[HTTPServer] = []

    mastodon_server = HTTPServer(host="127.0.0.1", port=0)
    mastodon_server.start()
    servers.append(mastodon_server)
    mastodon = MastodonReplyFake(f"127.0.0.1:{mastodon_server.port}",
                                 tokens={MASTODON_TOKEN: {"write:statuses", "read:search", "read:accounts"}})
    mastodon_server.expect_request(re.compile(r"^/api/")).respond_with_handler(mastodon)
    mp.setenv("MASTODON_REPLY_TOKEN", MASTODON_TOKEN)

    bluesky = BlueskyReplyFake()
    servers.append(_serve(bluesky, r"^/xrpc/"))
    mp.setenv("BLUESKY_REPLY_APP_PASSWORD", bluesky.password)

    pem, public = new_p8()
    (tmp / f"AuthKey_{KEY_ID}.p8").write_text(pem)
    appstore = AppStoreConnectFake(KEY_ID, ISSUER, public, reviews={"11223344556", "11223344557"})
    servers.append(_serve(appstore, r"^/v1/"))

    google_server = HTTPServer(host="127.0.0.1", port=0)
    google_server.start()
    servers.append(google_server)
    googleplay = GooglePlayFake(google_server.url_for("/token"))
    info, google_public = new_service_account(googleplay.token_uri)
    googleplay.register(info, google_public)
    googleplay.apps[PACKAGE] = {info["client_email"]}
    (tmp / "play-key.json").write_text(json.dumps(info))
    google_server.expect_request(re.compile(r"^/(token|androidpublisher/)")).respond_with_handler(googleplay)

    url = {s: f"http://127.0.0.1:{srv.port}" for s, srv in zip(("mastodon", "bluesky", "appstore", "googleplay"),
                                                                servers, strict=True)}
    config = write_config(tmp, f"""
[replies.mastodon]
instance_url = "{url['mastodon']}"

[replies.bluesky]
base_url = "{url['bluesky']}"
handle = "{bluesky.handle}"

[replies.appstore]
base_url = "{url['appstore']}"
key_id = "{KEY_ID}"
issuer_id = "{ISSUER}"
private_key_file = "AuthKey_{KEY_ID}.p8"

[replies.googleplay]
base_url = "{url['googleplay']}"
service_account_file = "play-key.json"
""" + EXTRA)
    store = Store(config.db_path)
    now = datetime.now(UTC)
    targets: dict[str, Any] = {}
    threads: dict[str, str] = {}  # scenario -> thread key
    batches: list[Mention] = []
    for key in ("mastodon-answer", "mastodon-refused", "mastodon-live"):
        mentions, targets[key] = _mastodon_thread(mastodon, key, now - timedelta(hours=1))
        batches += mentions
        threads[key] = mentions[0].thread_key
    for key in ("bluesky-answer", "bluesky-refused"):
        mentions, targets[key] = _bluesky_thread(bluesky, key, now - timedelta(hours=1))
        batches += mentions
        threads[key] = mentions[0].thread_key
    for key, review_id, author in (("appstore-answer", "11223344556", "sleeplessinleeds"),
                                   ("appstore-refused", "11223344557", "mike_t")):
        batches.append(_review("appstore", key, review_id, author, now - timedelta(hours=3)))
        targets[key], threads[key] = review_id, batches[-1].thread_key
    for key, review_id, author in (("googleplay-answer", "gp:AOqpTOE7b5bXk3s9lFhQ2vR1", "Priya N"),
                                   ("googleplay-refused", "gp:AOqpTOF8c6cYl4t0mGiR3wS2", "Tom Becker")):
        batches.append(_review("googleplay", key, review_id, author, now - timedelta(hours=3)))
        googleplay.reviews[PACKAGE, review_id] = now - timedelta(hours=3)
        targets[key], threads[key] = review_id, batches[-1].thread_key
    # A review written 13 months ago, imported today: past Google's one-year window for replies.
    old_review = "gp:AOqpTOG9d7dZm5u1nHjS4xT3"
    batches.append(_review("googleplay", "googleplay-old", old_review, "Dana W", now - timedelta(days=396)))
    googleplay.reviews[PACKAGE, old_review] = now - timedelta(days=396)
    targets["googleplay-old"], threads["googleplay-old"] = old_review, batches[-1].thread_key
    for m in batches:
        store.save_batch(m.source, "test", Batch(mentions=[m]))
    process(config, store, channels={})
    add_user(store, "alice", "agent", PASSWORD)
    add_user(store, "bob", "agent", PASSWORD)
    by_thread = {r["thread_key"]: r["id"] for r in store.query("SELECT id, thread_key FROM queue_items")}
    missing = sorted(key for key, thread in threads.items() if thread not in by_thread)
    assert not missing, f"the pipeline did not queue {missing}"
    items = {key: by_thread[thread] for key, thread in threads.items()}
    with serving(create_app(config, secret="p" * 40), timeout_graceful_shutdown=2) as base:
        yield Fakes(base, store, mastodon, bluesky, appstore, googleplay, info["client_email"], items, targets)
    store.close()
    for server in servers:
        server.clear()
        server.stop()
    mp.undo()


@pytest.fixture(autouse=True)
def patient_expect():
    """expect() waits as long as the pages do (its own default is 5 s): the machine is shared."""
    expect.set_options(timeout=WAIT)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def tab(browser, fakes):
    """A signed-in browser window of its own (cookies and all) per call; closed at the end of the test."""
    contexts = []

    def open_tab(name: str = "alice"):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT)
        page.goto(fakes.base + "/login")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("table.items")
        return page

    yield open_tab
    for context in contexts:
        context.close()


def _open(page, fakes: Fakes, key: str) -> None:
    page.goto(f"{fakes.base}/items/{fakes.items[key]}")
    page.wait_for_selector("#composer")


def _send(page, text: str) -> None:
    page.fill("#reply-text", text)
    expect(page.locator("#do-send")).to_be_enabled()
    page.click("#do-send")


def _posted(page, platform: str, text: str) -> None:
    """What the agent sees once the platform took the reply: the attempt posted, the item replied."""
    expect(page.locator("#reply-list .r-posted")).to_have_count(1, timeout=WAIT)
    expect(page.locator("main")).to_contain_text(f"Posted on {platform}.")
    expect(page.locator("#state")).to_have_text("replied")
    expect(page.locator("#first-response")).to_contain_text("first response")
    brand = page.locator(".timeline .brand-reply")
    expect(brand).to_have_count(1)
    expect(brand).to_contain_text(text)
    expect(page.locator(".events")).to_contain_text(f"replied on {platform}")


def _refused(page, platform: str, words: str) -> None:
    """A refusal in words, the item not replied, and a Retry button."""
    expect(page.locator("#reply-list .r-failed")).to_have_count(1, timeout=WAIT)
    expect(page.locator("#reply-list")).to_contain_text(f"{platform} refused it: {words}")
    expect(page.locator("main")).to_contain_text(f"Not posted: {platform} refused it")
    assert page.inner_text("#state") != "replied"
    expect(page.locator("#first-response")).to_be_hidden()
    expect(page.locator("#reply-list button.retry")).to_have_text("Retry")


def _retried(page, platform: str, text: str) -> None:
    page.click("#reply-list button.retry")
    _posted(page, platform, text)
    expect(page.locator("#reply-list")).to_contain_text("retry of reply")


# ---------------------------------------------------------------- Mastodon
def test_reply_to_mastodon_from_the_item_page(tab, fakes):
    page = tab()
    _open(page, fakes, "mastodon-answer")
    status = fakes.targets["mastodon-answer"]
    expect(page.locator("#reply-to")).to_contain_text(f"@{status.acct}@{fakes.mastodon.host} on Mastodon")
    expect(page.locator("#reply-count")).to_contain_text("/ 500")
    before = len(fakes.mastodon.posted)
    _send(page, "Sorry about the outage, a fix is rolling out now.")
    _posted(page, "Mastodon", "a fix is rolling out now")
    mine = fakes.mastodon.posted[before:]
    assert [(p["status"], p["in_reply_to_id"]) for p in mine] == [
        ("@dev1 Sorry about the outage, a fix is rolling out now.", status.id)]  # the newest status, its author named
    assert mine[0]["visibility"] == "public"


def test_a_deleted_mastodon_post_is_refused_in_words_and_retried_by_hand(tab, fakes):
    page = tab()
    _open(page, fakes, "mastodon-refused")
    status = fakes.targets["mastodon-refused"]
    del fakes.mastodon.statuses[status.id]  # the author deleted it (for now: it comes back below)
    before = len(fakes.mastodon.posted)
    _send(page, "We're on it, sorry for the wait.")
    _refused(page, "Mastodon", "the post was deleted")
    assert fakes.mastodon.posted[before:] == []
    fakes.mastodon.statuses[status.id] = status  # restored by its author: a person retries
    _retried(page, "Mastodon", "We're on it, sorry for the wait.")
    assert [(p["status"], p["in_reply_to_id"]) for p in fakes.mastodon.posted[before:]] == [
        ("@dev1 We're on it, sorry for the wait.", status.id)]


# ---------------------------------------------------------------- Bluesky
def test_reply_to_bluesky_from_the_item_page(tab, fakes):
    page = tab()
    _open(page, fakes, "bluesky-answer")
    root, reply = fakes.targets["bluesky-answer"]
    expect(page.locator("#reply-to")).to_contain_text("@gina.bsky.social on Bluesky")
    expect(page.locator("#reply-count")).to_contain_text("/ 300")
    before = len(fakes.bluesky.created)
    _send(page, "Sorry Gina, the outage is fixed: https://status.brightwave.example/today")
    _posted(page, "Bluesky", "the outage is fixed")
    [body] = fakes.bluesky.created[before:]
    record = body["record"]
    assert record["text"] == "Sorry Gina, the outage is fixed: https://status.brightwave.example/today"
    # A reply deep in a thread names the thread's first post as root and the post answered as parent.
    assert (record["reply"]["root"]["uri"], record["reply"]["root"]["cid"]) == (root.uri, root.cid)
    assert (record["reply"]["parent"]["uri"], record["reply"]["parent"]["cid"]) == (reply.uri, reply.cid)
    expect(page.locator("#reply-list")).to_contain_text("open the reply")


def test_a_bluesky_thread_gate_is_refused_in_words_and_retried_by_hand(tab, fakes):
    page = tab()
    _open(page, fakes, "bluesky-refused")
    root, reply = fakes.targets["bluesky-refused"]
    reply.reply_disabled = True  # the author allows replies from people they follow only
    before = len(fakes.bluesky.created)
    _send(page, "Hi Gina, could you DM us your account number?")
    _refused(page, "Bluesky", "the author allows replies only from some people (a thread gate)")
    assert fakes.bluesky.created[before:] == []
    reply.reply_disabled = False  # the gate was lifted
    _retried(page, "Bluesky", "could you DM us your account number?")
    [body] = fakes.bluesky.created[before:]
    assert body["record"]["reply"]["parent"]["uri"] == reply.uri and body["record"]["reply"]["root"]["uri"] == root.uri


# ---------------------------------------------------------------- App Store
def test_reply_to_an_app_store_review_with_a_saved_reply(tab, fakes):
    page = tab()
    _open(page, fakes, "appstore-answer")
    expect(page.locator("#reply-to")).to_contain_text("@sleeplessinleeds on the App Store")
    expect(page.locator("#reply-count")).to_contain_text("/ 5970")
    page.click("h1")  # not typing anywhere: "/" opens the saved replies
    page.keyboard.press("/")
    page.wait_for_selector("#saved-picker:not([hidden])")
    page.keyboard.type("crash")
    page.keyboard.press("Enter")
    item_id = fakes.items["appstore-answer"]
    text = (f"Hi sleeplessinleeds, sorry the Brightwave app let you down. Version 4.2.1 fixes this; if it still "
            f"happens, write to us quoting #{item_id}.")
    expect(page.locator("#reply-text")).to_have_value(text)
    before = len(fakes.appstore.posted)
    page.click("#do-send")
    _posted(page, "the App Store", "Version 4.2.1 fixes this")
    expect(page.locator("#reply-list")).to_contain_text("saved reply “app crash”")
    assert fakes.appstore.posted[before:] == [{"data": {
        "type": "customerReviewResponses", "attributes": {"responseBody": text},
        "relationships": {"review": {"data": {"type": "customerReviews", "id": "11223344556"}}}}}]


def test_an_app_store_403_is_refused_in_words_and_retried_by_hand(tab, fakes):
    page = tab()
    _open(page, fakes, "appstore-refused")
    # Apple's answer when the key's role may not answer reviews (a Developer key, say).
    fakes.appstore.fail_next.append(("/v1/customerReviewResponses", 403, {"errors": [{
        "id": "6f1a0b42-1d5e-4c1e-9a7b-2e5c0d9f8a11", "status": "403", "code": "FORBIDDEN_ERROR",
        "title": "This request is forbidden for security reasons",
        "detail": "The API key in use does not allow this request"}]}, {}))
    before = len(fakes.appstore.posted)
    _send(page, "Sorry Mike, 4.2.1 keeps you signed in. Update from the App Store and it should stop.")
    _refused(page, "the App Store", f"App Store Connect does not let key {KEY_ID} answer reviews")
    expect(page.locator("#reply-list")).to_contain_text("it needs the Admin, App Manager or Customer Support role")
    assert fakes.appstore.posted[before:] == []
    _retried(page, "the App Store", "4.2.1 keeps you signed in")  # the admin gave the key its role
    [body] = fakes.appstore.posted[before:]
    assert body["data"]["relationships"]["review"]["data"] == {"type": "customerReviews", "id": "11223344557"}


# ---------------------------------------------------------------- Google Play
def test_reply_to_a_google_play_review_from_the_item_page(tab, fakes):
    page = tab()
    _open(page, fakes, "googleplay-answer")
    expect(page.locator("#reply-to")).to_contain_text("@Priya N on Google Play")
    expect(page.locator("#reply-count")).to_contain_text("/ 350")
    review = fakes.targets["googleplay-answer"]
    before = len(fakes.googleplay.posted)
    _send(page, "Sorry Priya — 5.3 fixes the log-outs.")
    _posted(page, "Google Play", "5.3 fixes the log-outs")
    assert fakes.googleplay.posted[before:] == [
        (PACKAGE, review, {"replyText": "Sorry Priya — 5.3 fixes the log-outs."})]


def test_a_google_play_permission_refusal_is_shown_in_words_and_retried_by_hand(tab, fakes):
    page = tab()
    _open(page, fakes, "googleplay-refused")
    review = fakes.targets["googleplay-refused"]
    fakes.googleplay.apps[PACKAGE] = set()  # the service account lost "Reply to reviews" in the Play Console
    before = len(fakes.googleplay.posted)
    _send(page, "Hi Tom, the double bill is a display fault; you were charged once. Refund details by email.")
    _refused(page, "Google Play", f"{fakes.google_email} may not reply to reviews of {PACKAGE}")
    expect(page.locator("#reply-list")).to_contain_text("PERMISSION_DENIED: The caller does not have permission")
    assert fakes.googleplay.posted[before:] == []
    fakes.googleplay.apps[PACKAGE] = {fakes.google_email}  # invited again
    _retried(page, "Google Play", "you were charged once")
    assert [(p, r) for p, r, _ in fakes.googleplay.posted[before:]] == [(PACKAGE, review)]


# ---------------------------------------------------------------- live in another agent's tabs
def _live(page) -> None:
    """Wait until the page's event stream is connected, and mark the page so a reload would show."""
    page.wait_for_selector("#live[data-live=on]", state="attached")
    page.evaluate("window.__sameDocument = 1")


def test_a_reply_posted_in_one_tab_shows_the_item_replied_in_another_agents_tabs(tab, fakes):
    item_id = fakes.items["mastodon-live"]
    bob_list = tab("bob")
    _live(bob_list)
    bob_item = tab("bob")
    _open(bob_item, fakes, "mastodon-live")
    _live(bob_item)
    row = bob_list.locator(f'tr.item-row[data-id="{item_id}"]')
    assert row.locator("td.state").inner_text() == "new"
    assert bob_item.inner_text("#state") == "new" and bob_item.locator("#first-response").is_hidden()
    assert "first response due" in bob_item.inner_text("#sla")

    alice = tab()
    _open(alice, fakes, "mastodon-live")
    before = len(fakes.mastodon.posted)
    _send(alice, "Thanks for flagging, the outage is fixed now.")
    _posted(alice, "Mastodon", "the outage is fixed now")
    assert [p["in_reply_to_id"] for p in fakes.mastodon.posted[before:]] == [fakes.targets["mastodon-live"].id]

    # Bob's list row and item page change by themselves, from GET /events.
    expect(row.locator("td.state")).to_have_text("replied", timeout=WAIT)
    expect(row.locator("td.assignee")).to_have_text("alice")
    expect(bob_item.locator("#state")).to_have_text("replied", timeout=WAIT)
    expect(bob_item.locator("#first-response")).to_be_visible()
    expect(bob_item.locator("#first-response-at")).to_have_text(alice.inner_text("#first-response-at"))
    expect(bob_item.locator("#sla")).to_contain_text("resolution due")
    expect(bob_item.locator("#live-text")).to_contain_text("alice: ")
    expect(bob_item.locator("#live-text")).to_contain_text("(now replied, alice)")
    assert "Thanks for flagging" not in bob_item.inner_text("#live-notice")  # the feed never carries text
    assert bob_list.evaluate("window.__sameDocument") == 1 and bob_item.evaluate("window.__sameDocument") == 1


def test_google_plays_one_year_limit_is_shown_in_words(tab, fakes):
    page = tab()
    _open(page, fakes, "googleplay-old")
    before = len(fakes.googleplay.posted)
    _send(page, "Hi Dana, sorry nobody answered. Could you write to help@brightwave.example?")
    year = (datetime.now(UTC) - timedelta(days=396)).date().isoformat()
    _refused(page, "Google Play", "Google Play takes replies only to reviews written or edited in the last year; "
                                  f"this one is from {year}")
    expect(page.locator("#reply-list")).to_contain_text("INVALID_ARGUMENT")
    assert fakes.googleplay.posted[before:] == []
    # Retrying does not get round Google's rule: the second attempt is refused the same way, and shown.
    page.click("#reply-list button.retry")
    expect(page.locator("#reply-list .r-failed")).to_have_count(2, timeout=WAIT)
    expect(page.locator("#reply-list")).to_contain_text("retry of reply")
    assert page.inner_text("#state") != "replied" and fakes.googleplay.posted[before:] == []
