"""The queue on a phone (390×844, real headless Chromium): no sideways scrolling, controls on screen and usable.

Set OVERHEARD_DOCS_SCREENSHOT=1 to also write docs/queue-phone.png, docs/item-phone.png and docs/dashboard-phone.png.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from alerts.users import add_user
from listener.pipeline import process
from listener.store import Store
from tests.browser_support import chromium, serving
from tests.queue_support import angry_thread, write_config
from tests.test_browser_queue import PASSWORD, ROOT, log_in

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
LONG_URL = "https://status.brightwave.example/incidents/" + "a1b2c3d4" * 12


@pytest.fixture(scope="module")
def server(tmp_path_factory):


    from alerts.web.app import create_app

    tmp = tmp_path_factory.mktemp("phone")
    config = write_config(tmp)
    store = Store(config.db_path)
    now = datetime.now(UTC)
    angry_thread(store, "outage", author="techwithjess_and_a_rather_long_handle", at=now - timedelta(hours=1), texts=[
        f"@Brightwave outage AGAIN, no internet since 6am, your status page {LONG_URL} says all fine. Awful, refund",
        "Same here, Brightwave is down and support is useless. Terrible, never again",
        "Brightwave charged me twice and nobody answers. Scam. Cancelling"])
    angry_thread(store, "billing", author="sam_k", source="reddit", at=now - timedelta(hours=3), texts=[
        "Brightwave charged me twice this month, awful, scam, I want a refund now",
        "Same, Brightwave billing is a disaster, terrible, cancelling",
        "Brightwave refund still not here, disgusting, never again"])
    process(config, store, channels={})
    add_user(store, "alice", "agent", PASSWORD)
    with serving(create_app(config, secret="p" * 40)) as base:
        yield base, store
    store.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(5000)
    page.on("dialog", lambda d: d.accept())
    yield page
    context.close()


def no_sideways_scroll(page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url}: the page is {width}px wide on a {PHONE['width']}px screen"
    wider = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && e.offsetParent !== null
                     && !e.closest('table:not(.stack)'))
        .map(e => e.tagName + '.' + e.className).slice(0, 5)""")
    assert wider == [], f"{page.url}: these stick out to the right: {wider}"


def on_screen(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{selector} is cut off: {box}"
    return box


def shot(page, name: str, tmp_path) -> None:
    target = ROOT / "docs" / name if os.environ.get("OVERHEARD_DOCS_SCREENSHOT") else tmp_path / name
    page.screenshot(path=str(target), full_page=True)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_list_fits_a_phone_and_works(phone, server, tmp_path):
    base, _ = server
    log_in(phone, base)
    no_sideways_scroll(phone)
    for control in ("#search", "select[name=brand]", "select[name=action]", "#do-bulk", "tr.item-row a.item-link"):
        on_screen(phone, control)
    # a row is a card: its thread headline and SLA readable without scrolling sideways
    row = on_screen(phone, "tr.item-row")
    assert row["width"] <= PHONE["width"]
    shot(phone, "queue-phone.png", tmp_path)
    phone.select_option("select[name=source]", "reddit")
    phone.wait_for_url("**source=reddit**")
    assert phone.locator("tr.item-row").count() == 1
    no_sideways_scroll(phone)
    phone.locator("tr.item-row a.item-link").first.tap()
    phone.wait_for_selector("#item")
    no_sideways_scroll(phone)


def test_the_item_page_fits_a_phone_and_its_controls_work(phone, server, tmp_path):
    base, store = server
    log_in(phone, base)
    phone.goto(base + "/?q=status")
    phone.locator("tr.item-row a.item-link").first.tap()
    phone.wait_for_selector("#item")
    no_sideways_scroll(phone)  # with a 140-character link and a long handle in the thread
    item_id = int(phone.get_attribute("#item", "data-id"))
    for control in ("#do-claim", "#outcome", "#do-resolve", "#note-text", "#do-note", "details.relabel summary"):
        on_screen(phone, control)
    # one re-label control per mention, and a small one: a closed menu, not a row of buttons
    mentions = phone.locator("li.mention").count()
    assert phone.locator("details.relabel").count() == mentions >= 3
    summary = on_screen(phone, "details.relabel summary")
    assert summary["height"] <= 44 and summary["width"] <= 120
    shot(phone, "item-phone.png", tmp_path)
    phone.tap("#do-claim")
    phone.wait_for_selector("text=Claimed.")
    assert store.scalar("SELECT assignee FROM queue_items WHERE id = ?", (item_id,)) == "alice"
    # re-label the first mention from its menu
    first = phone.locator("li.mention").first
    mention_id = int(first.get_attribute("id")[1:])
    first.locator("details.relabel summary").tap()
    no_sideways_scroll(phone)  # the open menu stays on the screen too
    button = first.locator("details.relabel button[value=neutral]")
    box = button.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    button.tap()
    phone.wait_for_selector("text=Label saved")
    assert store.scalar("SELECT label FROM mentions WHERE id = ?", (mention_id,)) == "neutral"
    no_sideways_scroll(phone)


def test_the_dashboard_fits_a_phone(phone, server, tmp_path):
    base, _ = server
    log_in(phone, base)
    phone.goto(base + "/dashboard")
    phone.wait_for_selector("dl.figures")
    no_sideways_scroll(phone)  # the figures, the per-hour table and the per-agent table on a 390 px screen
    on_screen(phone, "dl.figures")
    shot(phone, "dashboard-phone.png", tmp_path)
