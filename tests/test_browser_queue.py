"""The queue in real headless Chromium (Playwright): log in, filter, open, claim, note, resolve; hostile text.

Set OVERHEARD_DOCS_SCREENSHOT=1 to also write docs/queue.png from the list page.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.users import add_user
from alerts.web.app import create_app
from listener.pipeline import process
from listener.store import Store
from tests.browser_support import chromium, serving
from tests.queue_support import angry_thread, write_config

pytestmark = pytest.mark.browser
PASSWORD = "browser-test-pass"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server(tmp_path_factory):

    tmp = tmp_path_factory.mktemp("browser")
    config = write_config(tmp)
    store = Store(config.db_path)
    now = datetime.now(UTC)
    angry_thread(store, "outage", author="techwithjess", at=now - timedelta(hours=1))
    angry_thread(store, "billing", author="sam_k", source="reddit", at=now - timedelta(hours=3), texts=[
        "Brightwave charged me twice this month, awful, scam, I want a refund now",
        "Same, Brightwave billing is a disaster, terrible, cancelling",
        "Brightwave refund still not here, disgusting, never again"])
    angry_thread(store, "evil", author="mallory", at=now - timedelta(hours=2), texts=[
        "<script>alert('owned')</script> @Brightwave <img src=x onerror=alert(1)> awful outage, refund, scam",
        "Brightwave terrible, furious, never again",
        "Brightwave worst ever, cancelling"])
    process(config, store, channels={})
    add_user(store, "alice", "agent", PASSWORD)
    with serving(create_app(config, secret="b" * 40)) as base:
        yield base, store
    store.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    pg.set_default_timeout(5000)
    dialogs: list[str] = []
    # Confirmations (Resolve, Dismiss) are answered yes; every dialog is recorded (a script alert would show here).
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.accept() if d.type == "confirm" else d.dismiss()))
    pg.dialogs = dialogs  # type: ignore[attr-defined]
    yield pg
    context.close()



def log_in(page, base: str) -> None:
    page.goto(base + "/")
    assert "/login" in page.url  # not logged in: sent to the login page
    page.fill("input[name=name]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("table.items")


def test_log_in_filter_open_claim_note_resolve(page, server):
    base, store = server
    log_in(page, base)
    assert page.locator("tr.item-row").count() == 3
    page.select_option("select[name=source]", "reddit")  # filters apply on change
    page.wait_for_url("**source=reddit**")
    assert page.locator("tr.item-row").count() == 1
    page.click("tr.item-row a.item-link")
    page.wait_for_selector("#item")
    assert "charged me twice" in page.inner_text(".timeline")
    page.click("#do-claim")
    assert page.inner_text("#assignee") == "alice" and "Claimed." in page.inner_text("main")
    page.fill("#note-text", "Refund issued, told them on Reddit")
    page.click("#do-note")
    assert "Refund issued, told them on Reddit" in page.inner_text(".notes")
    page.select_option("#outcome", "refund")
    page.click("#do-resolve")
    assert page.inner_text("#state") == "resolved"
    assert page.dialogs[-1].startswith("Resolve this item?")  # type: ignore[attr-defined]  # asked first
    item_id = int(page.get_attribute("#item", "data-id"))
    row = store.query("SELECT state, assignee, outcome FROM queue_items WHERE id = ?", (item_id,))[0]
    assert row == {"state": "resolved", "assignee": "alice", "outcome": "refund"}
    assert "resolved: refund or credit" in page.inner_text(".events")


def test_a_mention_with_script_renders_as_text(page, server):
    base, _ = server
    log_in(page, base)
    page.fill("#search", "owned")
    page.press("#search", "Enter")
    page.wait_for_url("**q=owned**")
    page.click("tr.item-row a.item-link")
    page.wait_for_selector("#item")
    text = page.inner_text(".timeline")
    assert "<script>alert('owned')</script>" in text and "<img src=x onerror=alert(1)>" in text
    assert page.locator(".timeline script, .timeline img").count() == 0
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_keyboard_j_enter_c_claims_the_top_item(page, server):
    base, store = server
    log_in(page, base)
    page.locator("body").focus()
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_selector("#item")
    item_id = int(page.get_attribute("#item", "data-id"))
    page.keyboard.press("c")
    page.wait_for_selector("text=Claimed.")
    assert store.scalar("SELECT assignee FROM queue_items WHERE id = ?", (item_id,)) == "alice"


def test_queue_screenshot(page, server, tmp_path):
    base, _ = server
    log_in(page, base)
    page.goto(base + "/?state=all")
    target = ROOT / "docs" / "queue.png" if os.environ.get("OVERHEARD_DOCS_SCREENSHOT") else tmp_path / "queue.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
