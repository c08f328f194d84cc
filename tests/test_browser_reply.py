"""Replying from the item page in real headless Chromium, to the X and Reddit fakes; refusals shown with Retry.

Set OVERHEARD_DOCS_SCREENSHOT=1 to also write docs/reply-composer.png.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from alerts.users import add_user
from alerts.web.app import create_app
from listener.pipeline import process
from listener.store import Store
from tests.browser_support import chromium, serving
from tests.fakes_replies.reddit import FakeRedditReplies
from tests.fakes_replies.x import FakeXReplies
from tests.queue_support import angry_thread
from tests.reply_support import REDDIT, X_CLIENT, connect_x, reply_config, reply_env
from tests.test_reply_reddit import POST, reddit_thread

pytestmark = pytest.mark.browser
PASSWORD = "browser-reply-pass"
ROOT = Path(__file__).resolve().parent.parent
SAVED = """
[[queue.saved_replies]]
name = "outage apology"
text = "Hi @{author}, sorry for the trouble: {brand} engineers are restoring service now. Ref #{ticket}."

[[queue.saved_replies]]
name = "move to DM"
text = "Hi {author}, could you send us a DM with your account number? We'll sort it out."
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):

    mp = pytest.MonkeyPatch()
    reply_env(mp)
    x = FakeXReplies(client_id=X_CLIENT).start()
    reddit = FakeRedditReplies(REDDIT["client_id"], REDDIT["client_secret"], (REDDIT["refresh_token"],)).start()
    for nid in (POST, "t1_kx01", "t1_kx02"):
        reddit.add_thing(nid, link_id=POST)
    tmp = tmp_path_factory.mktemp("browser-reply")
    config = reply_config(tmp, x_url=x.base_url, reddit_url=reddit.base_url, extra=SAVED)
    store = Store(config.db_path)
    now = datetime.now(UTC)
    for thread in ("outage", "refused"):
        angry_thread(store, thread, author=f"jess_{thread}", at=now - timedelta(hours=1))
        for i in range(4):
            x.add_post(f"{thread}-{i}", f"jess_{thread}")
    reddit_thread(store, at=now - timedelta(hours=2))
    process(config, store, channels={})
    connect_x(store, x)
    add_user(store, "alice", "agent", PASSWORD)
    items = {r["thread_key"]: r["id"] for r in store.query("SELECT id, thread_key FROM queue_items")}
    with serving(create_app(config, secret="r" * 40)) as base:
        yield {"base": base, "store": store, "x": x, "reddit": reddit, "items": items}
    store.close()
    x.stop()
    reddit.stop()
    mp.undo()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, world):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(8000)
    pg.goto(world["base"] + "/login")
    pg.fill("input[name=name]", "alice")
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_selector("table.items")
    yield pg
    context.close()


def _open(page, world, thread_key):
    page.goto(f"{world['base']}/items/{world['items'][thread_key]}")
    page.wait_for_selector("#composer")


def test_reply_to_x_from_the_item_page(page, world):
    _open(page, world, "x:outage-0")
    assert "on X" in page.inner_text("#reply-to")
    page.fill("#reply-text", "Sorry about the outage, a fix is rolling out now.")
    expect(page.locator("#reply-count")).to_have_text("49 / 280")
    page.click("#do-send")
    page.wait_for_selector("#reply-list .r-posted")
    assert "Posted on X." in page.inner_text("main")
    assert "open the reply" in page.inner_text("#reply-list")
    assert page.inner_text("#state") == "replied"
    brand = page.locator(".timeline .brand-reply")
    assert brand.count() == 1 and "a fix is rolling out now" in brand.inner_text()
    assert [p.text for p in world["x"].replies_to("outage-3")] == ["Sorry about the outage, a fix is rolling out now."]
    assert "replied on X" in page.inner_text(".events")
    # The same words again: refused by overheard before X is asked, and the text stays in the composer.
    page.fill("#reply-text", "Sorry about the outage, a fix is rolling out now.")
    page.click("#do-send")
    expect(page.locator("#reply-error")).to_contain_text("already posted; nothing was sent twice")
    assert page.input_value("#reply-text") == "Sorry about the outage, a fix is rolling out now."
    assert len(world["x"].served("/2/tweets")) == 1


def test_the_counter_knows_xs_weights_and_blocks_an_over_long_reply(page, world):
    _open(page, world, "x:refused-0")
    page.fill("#reply-text", "日本語 https://example.com/" + "a" * 80)
    # 3 CJK characters weigh 6, the space 1, the link 23: 30, as X counts it (and the server says so too).
    expect(page.locator("#reply-count")).to_have_text("30 / 280")
    page.fill("#reply-text", "x" * 290)
    expect(page.locator("#reply-count")).to_contain_text("(10 over)")
    assert page.is_disabled("#do-send")


def test_a_saved_reply_with_the_slash_key(page, world):
    _open(page, world, "x:refused-0")
    page.click("h1")  # not typing anywhere
    page.keyboard.press("/")
    page.wait_for_selector("#saved-picker:not([hidden])")
    if os.environ.get("OVERHEARD_DOCS_SCREENSHOT"):
        page.fill("#reply-text", "Sorry for the wait, ")
        page.focus("#saved-filter")
        page.locator("#composer").screenshot(path=str(ROOT / "docs" / "reply-composer.png"))
        page.fill("#reply-text", "")
        page.focus("#saved-filter")
    page.keyboard.type("apol")
    assert page.locator("#saved-list li:not([hidden])").count() == 1
    page.keyboard.press("Enter")
    text = page.input_value("#reply-text")
    item_id = world["items"]["x:refused-0"]
    assert text == f"Hi @jess_refused-friend3, sorry for the trouble: Brightwave engineers are restoring service " \
                   f"now. Ref #{item_id}."
    assert page.input_value("#reply-saved") == "outage apology"


def test_a_refusal_is_shown_with_its_reason_and_retried_by_hand(page, world):
    x = world["x"]
    x.delete("refused-3")
    _open(page, world, "x:refused-0")
    page.fill("#reply-text", "We're on it, sorry for the wait.")
    page.click("#do-send")
    page.wait_for_selector("#reply-list .r-failed")
    shown = page.inner_text("#reply-list")
    assert "X refused it: the post was deleted" in shown
    assert "Not posted: X refused it" in page.inner_text("main")
    assert page.inner_text("#state") != "replied"
    x.add_post("refused-3", "jess_refused-friend3")  # it was only hidden for a while
    page.click("#reply-list button.retry")
    page.wait_for_selector("#reply-list .r-posted")
    assert "retry of reply" in page.inner_text("#reply-list") and page.inner_text("#state") == "replied"
    assert len(x.replies_to("refused-3")) == 1


def test_reply_to_reddit_from_the_item_page(page, world):
    _open(page, world, f"reddit:{POST}")
    assert "on Reddit" in page.inner_text("#reply-to") and "/ 10000" in page.inner_text("#reply-count")
    world["reddit"].things["t1_kx02"].locked = True
    page.fill("#reply-text", "Sorry to hear this, we've sent you a DM.")
    page.click("#do-send")
    page.wait_for_selector("#reply-list .r-failed")
    assert "the thread is locked by the moderators" in page.inner_text("#reply-list")
    # Answer the post itself instead (it is not locked).
    post = world["store"].scalar("SELECT id FROM mentions WHERE native_id = ?", (POST,))
    page.select_option("#reply-to", str(post))
    page.fill("#reply-text", "Update for everyone here: the outage is fixed.")
    page.click("#do-send")
    page.wait_for_selector("#reply-list .r-posted")
    assert [c["body"] for c in world["reddit"].replies_to(POST)] == ["Update for everyone here: the outage is fixed."]
    assert "BrightwaveSupport" in page.inner_text(".timeline .brand-reply")
