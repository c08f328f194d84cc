"""The live inbox and the dashboard in real headless Chromium: two tabs, changes without reload,
the new-items badge, and the dashboard's figures against `overheard queue dashboard --json`.

Set OVERHEARD_DOCS_SCREENSHOT=1 to also write docs/dashboard.png.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import expect

from alerts.queue import ItemFilter, Queue
from alerts.users import add_user
from alerts.web.app import create_app
from listener.cli import cli
from listener.pipeline import process
from listener.store import Store
from tests.browser_support import chromium, serving
from tests.queue_support import angry_thread, write_config

pytestmark = pytest.mark.browser
PASSWORD = "browser-inbox-pass"
WAIT = 20_000  # ms: generous, the machine is shared
ROOT = Path(__file__).resolve().parent.parent



@pytest.fixture(scope="module")
def server(tmp_path_factory):

    tmp = tmp_path_factory.mktemp("inbox")
    config = write_config(tmp)
    store = Store(config.db_path)
    now = datetime.now(UTC)
    angry_thread(store, "outage", author="techwithjess", at=now - timedelta(minutes=20))
    angry_thread(store, "old", author="olderpost", at=now - timedelta(days=3))  # imported late: overdue
    angry_thread(store, "billing", author="sam_k", source="reddit", at=now - timedelta(minutes=40), texts=[
        "Brightwave charged me twice this month, awful, scam, I want a refund now",
        "Same, Brightwave billing is a disaster, terrible, cancelling",
        "Brightwave refund still not here, disgusting, never again"])
    process(config, store, channels={})
    add_user(store, "alice", "agent", PASSWORD)
    add_user(store, "bob", "agent", PASSWORD)
    with serving(create_app(config, secret="i" * 40), timeout_graceful_shutdown=2) as base:
        yield base, store, config
    store.close()


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
def tab(browser):
    """A new browser window (its own cookies) per call, closed at the end of the test."""
    contexts = []

    def open_tab(width: int = 1280):
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(8000)
        return page

    yield open_tab
    for context in contexts:
        context.close()


def log_in(page, base: str, name: str, target: str = "/") -> None:
    page.goto(base + target)
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def live(page) -> None:
    """Wait until the page's event stream is connected, and mark the page so a reload would show."""
    page.wait_for_selector("#live[data-live=on]", state="attached")
    page.evaluate("window.__sameDocument = 1")


def test_claim_and_resolve_in_one_tab_show_in_the_other_without_reload(server, tab):
    base, store, config = server
    a, b_list, b_item = tab(), tab(), tab()
    item_id = store.scalar("SELECT q.id FROM queue_items q JOIN mentions m ON m.thread_key = q.thread_key "
                           "WHERE m.author = 'techwithjess' LIMIT 1")
    log_in(b_list, base, "bob")
    b_list.wait_for_selector("table.items")
    live(b_list)
    log_in(b_item, base, "bob", f"/items/{item_id}")
    b_item.wait_for_selector("#item")
    live(b_item)
    row = b_list.locator(f'tr.item-row[data-id="{item_id}"]')
    assert row.locator("td.state").inner_text() == "new"

    log_in(a, base, "alice", f"/items/{item_id}")
    a.click("#do-claim")
    assert a.inner_text("#assignee") == "alice"
    # tab B's list row and item page change by themselves (waits go through locators: the page's CSP
    # forbids evaluating strings, so wait_for_function cannot be used)
    expect(row.locator("td.assignee")).to_have_text("alice")
    assert row.locator("td.state").inner_text() == "claimed"
    expect(b_item.locator("#assignee")).to_have_text("alice")
    assert b_item.inner_text("#state") == "claimed"
    assert "alice: claimed" in b_item.inner_text("#live-notice")

    a.select_option("#outcome", "refund")
    a.once("dialog", lambda d: d.accept())  # Resolve asks first (alerts.actions: confirm)
    a.click("#do-resolve")
    expect(row.locator("td.state")).to_have_text("resolved")
    expect(b_item.locator("#state")).to_have_text("resolved")
    # the row stayed where it was (nothing moves under the reader's cursor), and nothing reloaded
    assert "closed" in row.get_attribute("class")
    assert b_list.evaluate("window.__sameDocument") == 1 and b_item.evaluate("window.__sameDocument") == 1


def test_a_new_item_shows_a_badge_that_loads_it_on_click(server, tab):
    base, store, config = server
    page = tab()
    log_in(page, base, "bob")
    page.wait_for_selector("table.items")
    live(page)
    rows_before = page.locator("tr.item-row").count()
    assert page.locator("#new-items").is_hidden()
    # a complaint arrives through the pipeline (another process in real life; the store is shared)
    angry_thread(store, "fresh", author="newcustomer", at=datetime.now(UTC) - timedelta(minutes=2))
    process(config, store, channels={})
    page.wait_for_selector("#new-items:not([hidden])")
    assert page.inner_text("#new-items") == "1 new item — show"
    assert page.locator("tr.item-row").count() == rows_before  # not inserted under the reader
    page.click("#new-items")
    page.wait_for_selector("text=@newcustomer")
    assert page.locator("tr.item-row").count() == rows_before + 1


def test_post_age_and_the_sla_reason_beside_the_clock(server, tab):
    base, store, config = server
    page = tab()
    log_in(page, base, "bob")
    old = page.locator("tr.item-row", has_text="@olderpost")
    assert "overdue by" in old.locator(".sla-label").inner_text()
    assert "posted 3.0 d ago" in old.locator("td.sla").inner_text()
    assert "from the customer's post at" in old.locator(".reason").inner_text()


def test_the_dashboard_shows_the_figures_the_cli_prints(server, tab):
    base, store, config = server
    queue = Queue(store, config.queue)
    item_id = store.scalar("SELECT q.id FROM queue_items q JOIN mentions m ON m.thread_key = q.thread_key "
                           "WHERE m.author = 'sam_k' LIMIT 1")
    if queue.get(item_id).state == "new":
        queue.claim(item_id, "bob")
        queue.mark_replied(item_id, "bob")
    page = tab()
    log_in(page, base, "alice", "/dashboard")
    page.wait_for_selector("#summary")
    page.click('a[data-period="7d"]')
    page.wait_for_url("**period=7d**")
    result = CliRunner().invoke(cli, ["queue", "dashboard", "--period", "7d", "--json", "--config",
                                      str(config.path)], catch_exceptions=False)
    figures = json.loads(result.output)
    summary = figures["summary"]
    for key in ("flagged_threads", "answered", "resolved"):
        assert page.inner_text(f'#summary dd[data-key="{key}"]') == str(summary[key])
    for key in ("first_response_median_min", "resolution_median_min", "first_response_sla_pct",
                "resolution_sla_pct"):
        shown = page.get_attribute(f'#summary dd[data-key="{key}"]', "data-value")
        assert shown == ("None" if summary[key] is None else str(summary[key]))
    assert page.inner_text("#open-total") == str(figures["open"]["total"])
    for agent in figures["agents"]:
        row = page.locator(f'#agents tr[data-agent="{agent["agent"]}"]')
        for key in ("open", "waiting", "replies", "resolved"):
            assert row.locator(f'td[data-key="{key}"]').inner_text() == str(agent[key])
    for hour in figures["sla_by_hour"]:
        assert page.inner_text(f'#sla-hours tr[data-hour="{hour["hour"]}"] td[data-key="items"]') == str(hour["items"])
        cell = page.get_attribute(f'#sla-hours tr[data-hour="{hour["hour"]}"] td[data-key="first_response_sla_pct"]',
                                  "data-value")
        assert cell == ("None" if hour["first_response_sla_pct"] is None else str(hour["first_response_sla_pct"]))
    assert summary["answered"] >= 1  # the figures are not all empty
    if os.environ.get("OVERHEARD_DOCS_SCREENSHOT"):
        page.screenshot(path=str(ROOT / "docs" / "dashboard.png"), full_page=True)


def test_unknown_pages_are_html_for_the_browser(server, tab):
    base, store, config = server
    page = tab()
    log_in(page, base, "bob")
    response = page.goto(base + "/items/987654")
    assert response.status == 404 and "no such item" in page.inner_text("main")
    response = page.goto(base + "/nowhere")
    assert response.status == 404 and page.inner_text("h1") == "Not found"


def _tab_counts(page) -> dict[str, str]:
    tabs = page.locator("nav.states a[data-state]")
    return {tabs.nth(i).get_attribute("data-state"): tabs.nth(i).locator(".count").inner_text()
            for i in range(tabs.count())}


def test_the_state_tabs_count_live_under_the_lists_filters(server, tab):
    base, store, config = server
    queue = Queue(store, config.queue)
    everything, reddit_only = tab(), tab()
    log_in(everything, base, "bob")
    everything.wait_for_selector("table.items")
    live(everything)
    log_in(reddit_only, base, "bob", "/?source=reddit")
    reddit_only.wait_for_selector("table.items")
    live(reddit_only)
    before = queue.counts(ItemFilter())
    reddit_before = queue.counts(ItemFilter(source="reddit"))
    assert _tab_counts(everything) == {s: str(n) for s, n in before.items()}
    assert _tab_counts(reddit_only) == {s: str(n) for s, n in reddit_before.items()}

    # Another agent (here: another process on the same store) claims the overdue X item.
    item_id = store.scalar("SELECT q.id FROM queue_items q JOIN mentions m ON m.thread_key = q.thread_key "
                           "WHERE m.author = 'olderpost' LIMIT 1")
    assert queue.get(item_id).state == "new"
    queue.claim(item_id, "alice")
    after = queue.counts(ItemFilter())
    assert (after["new"], after["claimed"]) == (before["new"] - 1, before["claimed"] + 1)
    for state in ("new", "claimed", "open", "resolved"):
        expect(everything.locator(f'nav.states a[data-state="{state}"] .count')).to_have_text(str(after[state]))
    assert _tab_counts(everything) == {s: str(n) for s, n in after.items()}
    expect(everything).to_have_title(re.compile(rf"^Queue \({after['open']} open\)"))

    # A change to the Reddit item moves the filtered list's tabs; the X item's changes did not.
    reddit_id = store.scalar("SELECT q.id FROM queue_items q JOIN mentions m ON m.thread_key = q.thread_key "
                             "WHERE m.author = 'sam_k' LIMIT 1")
    reddit_item = queue.get(reddit_id)  # new, or claimed and replied by bob in the dashboard test
    if reddit_item.state == "new":
        queue.claim(reddit_id, "alice")
    else:
        queue.resolve(reddit_id, reddit_item.assignee or "alice", "refund")
    reddit_after = queue.counts(ItemFilter(source="reddit"))
    assert reddit_after != reddit_before
    moved = [s for s in reddit_after if reddit_after[s] != reddit_before[s]]
    for state in moved:
        expect(reddit_only.locator(f'nav.states a[data-state="{state}"] .count')).to_have_text(str(reddit_after[state]))
    assert _tab_counts(reddit_only) == {s: str(n) for s, n in reddit_after.items()}
    assert reddit_after != queue.counts(ItemFilter())  # so an unfiltered count would have shown
    expect(everything.locator('nav.states a[data-state="open"] .count')).to_have_text(
        str(queue.counts(ItemFilter())["open"]))
    assert everything.evaluate("window.__sameDocument") == 1 and reddit_only.evaluate("window.__sameDocument") == 1
