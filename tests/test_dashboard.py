"""The dashboard's figures against values worked out by hand, the period picker, the CLI equals the JSON,
and HTML error pages for browsers (JSON for scripts)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from alerts.dashboard import dashboard, resolve_period
from alerts.queue import Queue, upsert_for_thread
from alerts.users import add_user
from alerts.web.app import create_app
from listener.cli import cli
from listener.errors import UserError
from listener.pipeline import process
from listener.store import Store
from tests.queue_support import angry_thread, write_config

PASSWORD = "dashboard-pass"
LONDON = '[queue]\ntimezone = "Europe/London"\n'


def at(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, 24, hh, mm, tzinfo=UTC)  # London is on GMT (UTC+0) in November


QUEUED, NOW = at(15), at(18)


@pytest.fixture
def seeded(tmp_path):
    """Four complaints posted 09:00, 09:30, 14:00 and 14:50, queued at 15:00 (clocks from the post,
    high priority: first response 60 min, resolution 8 h), worked by alice and bob."""
    config = write_config(tmp_path, extra=LONDON)
    store = Store(config.db_path)
    for name, posted in (("a", at(9)), ("b", at(9, 30)), ("c", at(14)), ("d", at(14, 50))):
        angry_thread(store, name, author=f"cust-{name}", at=posted)
    process(config, store, channels={})
    threads = store.query("SELECT * FROM threads WHERE flagged = 1 ORDER BY thread_key")
    with store.transaction():  # queue them as the pipeline would have at 15:00
        store.conn.execute("DELETE FROM queue_events")
        store.conn.execute("DELETE FROM queue_items")
        ids = dict(zip("abcd", (upsert_for_thread(store, t, config.queue, QUEUED)[0] for t in threads), strict=True))
    for name in ("alice", "bob"):
        add_user(store, name, "agent", PASSWORD)
    q = Queue(store, config.queue)
    q.claim(ids["a"], "alice", now=at(15, 10))
    q.mark_replied(ids["a"], "alice", now=at(15, 20))  # 380 min after the post: first response missed
    q.resolve(ids["a"], "alice", "refund", now=at(16))  # 420 min: resolution met (due 17:00)
    q.claim(ids["b"], "bob", now=at(15, 5))
    q.mark_waiting(ids["b"], "bob", now=at(15, 30))  # 360 min: missed; still open, waiting
    q.claim(ids["d"], "alice", now=at(15, 10))
    q.mark_replied(ids["d"], "alice", now=at(15, 15))  # 25 min: met
    q.resolve(ids["d"], "alice", "answered_publicly", now=at(15, 45))  # 55 min: met
    # c stays new and unanswered; a's customer came back happy
    store.conn.execute("UPDATE queue_items SET recovery = 'recovered', recovery_at = ? WHERE id = ?",
                       ("2026-11-24T17:00:00Z", ids["a"]))
    yield config, store, ids
    store.close()


def test_figures_match_the_hand_computed_values(seeded):
    config, store, ids = seeded
    period = resolve_period("custom", "Europe/London", NOW, since="2026-11-24", until="2026-11-24")
    assert (period.since, period.until) == (at(0), at(0) + timedelta(days=1))
    f = dashboard(store, config, period, NOW)
    s = f["summary"]
    assert (s["flagged_threads"], s["answered"], s["unanswered"], s["resolved"]) == (4, 3, 1, 2)
    assert s["first_response_median_min"] == 360.0  # of 380, 360, 25
    assert s["resolution_median_min"] == 237.5  # of 420 and 55
    assert s["first_response_sla_pct"] == 25.0  # d met; a, b late; c unanswered past 15:00
    assert s["resolution_sla_pct"] == 66.7  # a, d met; b past 17:00 (waiting); c not due until 22:00
    hours = {h["hour"]: h for h in f["sla_by_hour"]}
    assert (hours[9]["items"], hours[9]["first_response_sla_pct"]) == (2, 0.0)
    assert (hours[14]["items"], hours[14]["first_response_sla_pct"]) == (2, 50.0)
    assert all(h["items"] == 0 for n, h in hours.items() if n not in (9, 14))
    priorities = Counter(r[0] for r in store.conn.execute(
        "SELECT priority FROM queue_items WHERE id IN (?, ?)", (ids["b"], ids["c"])))
    assert f["open"]["total"] == 2
    assert {k: v for k, v in f["open"]["by_priority"].items() if v} == dict(priorities)
    assert f["open"]["by_brand"] == [{"brand": "Brightwave", "high": priorities["high"],
                                      "medium": priorities["medium"], "low": priorities["low"], "total": 2}]
    agents = {a["agent"]: a for a in f["agents"]}
    assert agents["alice"] == {"agent": "alice", "open": 0, "waiting": 0, "replies": 2, "resolved": 2}
    assert agents["bob"] == {"agent": "bob", "open": 1, "waiting": 1, "replies": 0, "resolved": 0}
    r = f["recovered_customers"]
    assert (r["checked"], r["recovered"], r["recovered_pct"]) == (1, 1, 100.0)
    assert [x["author"] for x in r["latest"]] == ["cust-a"]


def test_the_period_picker_in_the_teams_time_zone():
    now = datetime(2026, 7, 10, 22, 30, tzinfo=UTC)  # 23:30 in London (BST): still 10 July there
    today = resolve_period("today", "Europe/London", now)
    assert today.since == datetime(2026, 7, 9, 23, 0, tzinfo=UTC)
    assert today.until == datetime(2026, 7, 10, 23, 0, tzinfo=UTC)
    week = resolve_period("7d", "Europe/London", now)
    assert week.since == datetime(2026, 7, 3, 23, 0, tzinfo=UTC)
    assert resolve_period("30d", "Europe/London", now).since == datetime(2026, 6, 10, 23, 0, tzinfo=UTC)
    past = resolve_period("custom", "UTC", now, since="2026-06-01", until="2026-06-02")
    assert (past.since, past.until) == (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 3, tzinfo=UTC))
    for kwargs, message in (({"since": "June"}, "not a date"), ({"since": "2026-06-05", "until": "2026-06-01"},
                                                                "is before since")):
        with pytest.raises(UserError, match=message):
            resolve_period("custom", "UTC", now, **kwargs)
    with pytest.raises(UserError, match="must be one of"):
        resolve_period("year", "UTC", now)


def login(client: TestClient, name: str = "alice") -> None:
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token},
                       follow_redirects=False).status_code == 303


def test_the_cli_prints_the_same_figures_as_the_json_page(seeded):
    config, store, ids = seeded
    args = ["queue", "dashboard", "--since", "2026-11-24", "--until", "2026-11-24", "--json", "--config",
            str(config.path)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.output)
    client = TestClient(create_app(config, secret="d" * 40))
    login(client)
    from_web = client.get("/dashboard.json?since=2026-11-24&until=2026-11-24").json()
    also = client.get("/dashboard?period=custom&since=2026-11-24&until=2026-11-24&format=json").json()
    for figures in (from_cli, from_web, also):
        figures.pop("generated_at")
    assert from_cli == from_web == also
    assert from_cli["summary"]["first_response_median_min"] == 360.0
    text = CliRunner().invoke(cli, args[:-3] + ["--config", str(config.path)], catch_exceptions=False).output
    assert "median first response 6.0 h" in text and "alice: holds 0 open" in text
    bad = CliRunner().invoke(cli, ["queue", "dashboard", "--since", "24/11", "--config", str(config.path)])
    assert bad.exit_code == 2 and "since '24/11': not a date" in bad.output


def test_the_dashboard_page_shows_the_figures_and_needs_a_login(seeded):
    config, store, ids = seeded
    client = TestClient(create_app(config, secret="d" * 40))
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    login(client)
    page = client.get("/dashboard?since=2026-11-24&until=2026-11-24")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'data-key="first_response_median_min" data-value="360.0">6.0 h' in page.text
    assert 'data-agent="bob"' in page.text
    assert '<tr data-hour="9" class=""><td>09:00</td><td data-key="items">2</td>' in page.text
    bad = client.get("/dashboard?since=yesterday")
    assert bad.status_code == 400 and "<!doctype html>" in bad.text.lower() and "not a date" in bad.text


def test_browsers_get_html_404_and_403_pages_and_scripts_get_json(seeded):
    config, store, ids = seeded
    client = TestClient(create_app(config, secret="d" * 40))
    login(client)
    browser = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    script = {"accept": "application/json"}
    missing = client.get("/no/such/page", headers=browser)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "There is no such page." in missing.text and 'href="/dashboard"' in missing.text  # the logged-in menu
    assert client.get("/items/999999", headers=browser).status_code == 404
    assert client.get("/no/such/page", headers=script).json() == {"error": "There is no such page."}
    # a form without its CSRF token: 403
    forbidden = client.post(f"/items/{ids['c']}/claim", data={}, headers=browser)
    assert forbidden.status_code == 403 and forbidden.headers["content-type"].startswith("text/html")
    assert "<h1>Forbidden</h1>" in forbidden.text
    as_json = client.post(f"/items/{ids['c']}/claim", data={}, headers=script)
    assert as_json.status_code == 403 and "CSRF" in as_json.json()["error"]
    assert store.scalar("SELECT state FROM queue_items WHERE id = ?", (ids["c"],)) == "new"


def test_a_period_with_nothing_in_it(tmp_path):
    config = write_config(tmp_path)
    store = Store(config.db_path)
    f = dashboard(store, config, resolve_period("today", "UTC"), None)
    assert f["summary"]["flagged_threads"] == 0 and f["summary"]["first_response_median_min"] is None
    assert f["open"]["total"] == 0 and len(f["sla_by_hour"]) == 24
    store.close()


def test_items_seen_as_recent_today(tmp_path):
    """A live item flagged now shows in today's figures."""
    config = write_config(tmp_path)
    store = Store(config.db_path)
    angry_thread(store, "now", author="x", at=datetime.now(UTC) - timedelta(minutes=30))
    process(config, store, channels={})
    f = dashboard(store, config, resolve_period("today", "UTC"))
    assert f["summary"]["flagged_threads"] == 1 and f["open"]["total"] == 1
    store.close()
