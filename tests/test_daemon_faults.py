"""Faults: sources answering 429 (no reset header), 5xx bursts, malformed JSON and 401, and Slack
answering 500 and 429 for a while. The daemon keeps running, healthy sources keep collecting, bad
ones back off and raise one health alert each, and every alert is delivered once after recovery."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager

import pytest

import alerts.outbox
from listener.config import load_config
from listener.scheduler import Daemon
from listener.sources import SOURCES
from listener.status import read_status
from listener.store import Store
from tests import daemon_fakes
from tests.daemon_helpers import FAST_DAEMON, append_jsonl, rows_for_thread, wait_for
from tests.helpers import write_config

FAULTY = daemon_fakes.FAKE_SOURCE_NAMES


@pytest.fixture
def fake_sources(monkeypatch):
    for name in FAULTY:
        monkeypatch.setitem(SOURCES, name, f"tests.daemon_fakes:Source_{name}")
    apis = {name: daemon_fakes.FakeSearchApi() for name in FAULTY}
    yield apis
    for api in apis.values():
        api.close()


@contextmanager
def running(config):
    daemon = Daemon(config)
    thread = threading.Thread(target=daemon.run, name="daemon-under-test")
    thread.start()
    wait_for(lambda: daemon.scheduler.running, 10, "the scheduler to start")
    try:
        yield daemon
    finally:
        daemon.stop()
        thread.join(15)
        assert not thread.is_alive(), "the daemon did not stop"


def _stored(db, source):
    with Store(db) as store:
        return {r["native_id"] for r in store.query("SELECT native_id FROM mentions WHERE source = ?", (source,))}


def _health(db):
    with Store(db) as store:
        return {r["source"]: r for r in store.query("SELECT * FROM source_health")}


def _health_alerts(path):
    if not path.exists():
        return []
    return [(a["source"], a["level"]) for a in map(json.loads, path.read_text().splitlines())
            if a.get("kind") == "health"]


def test_bad_sources_back_off_alert_and_recover_while_good_ones_keep_collecting(tmp_path, fake_sources):
    apis = fake_sources
    sections = "".join(f"""
    [sources.{name}]
    interval_minutes = 0.005
    base_url = "{api.url}"
    """ for name, api in apis.items())
    config = load_config(write_config(tmp_path, sections + """
    [[alerts.receivers]]
    name = "ops"
    type = "file"
    path = "ops.jsonl"
    [[alerts.rules]]
    name = "source-health"
    kinds = ["health"]
    receivers = ["ops"]
    group_interval_minutes = 0  # recoveries go out at once (default: 5 minutes after the incident)
    """ + FAST_DAEMON))
    db, ops = config.db_path, tmp_path / "ops.jsonl"
    for name, api in apis.items():
        api.add(5, name)
    apis["api_ratelimited"].stuck = 429  # no Retry-After, no reset header
    apis["api_flaky"].faults = [500, 502, 503, 500]  # a 5xx burst
    apis["api_broken"].faults = ["malformed"] * 3
    apis["api_noauth"].stuck = 401

    started = time.monotonic()
    with running(config) as daemon:
        # While four sources misbehave, the good one collects what arrives, run after run.
        for round_ in range(6):
            new = set(apis["api_ok"].add(3, f"r{round_}-"))
            wait_for(lambda n=new: n <= _stored(db, "api_ok"), 3, f"api_ok round {round_}")
        wait_for(lambda: _health(db).get("api_noauth", {}).get("state") == "auth", 5, "the 401 to count")
        wait_for(lambda: _health(db).get("api_ratelimited", {}).get("state") == "failing", 5, "the 429s to count")
        # Backoff: every 0.3 s without it; with it, at most about one ask per backoff_max (1.5 s) after
        # the first doublings. Refused credentials wait backoff_max at once. The two bounds only differ
        # after 1.5 s, so the check runs on at least 2.5 s of the daemon (the rounds above can be quicker).
        time.sleep(max(0.0, 2.5 - (time.monotonic() - started)))
        elapsed = time.monotonic() - started
        assert apis["api_ratelimited"].requests <= 4 + elapsed / 1.5 < elapsed / 0.3, (
            apis["api_ratelimited"].requests, elapsed)
        assert apis["api_noauth"].requests <= 2 + elapsed / 1.5, (apis["api_noauth"].requests, elapsed)
        with Store(db) as store:
            status = {s.source: s for s in read_status(store, config).sources}
        assert status["api_noauth"].state == "auth" and "credentials refused" in status["api_noauth"].last_error
        assert status["api_ok"].state == "ok" and status["api_ok"].new_24h == 5 + 18
        assert status["api_ratelimited"].consecutive_failures >= 2
        wait_for(lambda: ("api_noauth", "critical") in _health_alerts(ops), 3, "the 401 health alert")

        # The provider recovers, the credentials are fixed: everything catches up by itself.
        apis["api_ratelimited"].stuck = None
        apis["api_noauth"].stuck = None
        everything = {name: {p["id"] for p in api.posts} for name, api in apis.items()}
        wait_for(lambda: all(everything[n] == _stored(db, n) for n in FAULTY), 8, "every source to catch up")
        wait_for(lambda: all(h["state"] == "ok" for h in _health(db).values()), 5, "every source healthy")
        recovered = {("api_noauth", "resolved"), ("api_ratelimited", "resolved"), ("api_flaky", "resolved"),
                     ("api_broken", "resolved")}
        wait_for(lambda: recovered <= set(_health_alerts(ops)), 10, "recovery alerts")
        assert daemon.scheduler.running

    received = _health_alerts(ops)
    assert len(received) == len(set(received)), f"a health alert went out twice: {received}"
    assert ("api_ok", "warning") not in received
    assert ("api_ratelimited", "warning") in received and ("api_noauth", "critical") in received
    # A burst that heals before its alert went out is sent as the recovery alone (the outbox
    # collapses a thread's pending alerts); either way each incident was raised and resolved.
    with Store(db) as store:
        raised = {(r["thread_key"].split(":")[1], r["level"]) for r in store.query(
            "SELECT thread_key, level FROM outbox WHERE thread_key LIKE 'health:%'")}
    assert {("api_flaky", "warning"), ("api_flaky", "resolved")} <= raised
    assert {("api_broken", "warning"), ("api_broken", "resolved")} <= raised
    assert ("api_flaky", "resolved") in received and ("api_broken", "resolved") in received


@pytest.fixture
def slack(monkeypatch):
    from tests.fakes_slack.server import FakeSlack

    # The outbox waits 30 s after a 5xx in production; a fraction of a second here, so the test takes seconds.
    monkeypatch.setattr(alerts.outbox, "BACKOFF_BASE_S", 0.2)
    monkeypatch.setattr(alerts.outbox, "BACKOFF_MAX_S", 0.5)
    server = FakeSlack().start()
    monkeypatch.setenv("DAEMON_TEST_SLACK_URL", server.webhook_url)
    yield server
    server.stop()


def test_slack_down_then_rate_limiting_delivers_every_alert_once_after_recovery(tmp_path, slack):
    """The real Slack webhook channel (slack_sdk) against a Slack-compatible server answering 500,
    then 429 with Retry-After, then ok: every alert arrives once, none lost, none twice."""
    (tmp_path / "in").mkdir()
    config = load_config(write_config(tmp_path, """
    [sources.file]
    interval_minutes = 0.005
    [[sources.file.imports]]
    paths = ["in/*.jsonl"]
    default_source = "x"
    [[alerts.receivers]]
    name = "slack"
    type = "slack_webhook"
    url_env = "DAEMON_TEST_SLACK_URL"
    [[alerts.rules]]
    name = "all"
    min_risk = 0
    receivers = ["slack"]
    [alerts.levels]
    warning = 10
    """ + FAST_DAEMON))
    slack.fail(500, times=4, path_prefix="/services/")
    slack.fail(429, times=3, retry_after=1, path_prefix="/services/")
    threads = [f"s{i}" for i in range(6)]
    for t in threads[:3]:
        append_jsonl(tmp_path / "in" / "a.jsonl", rows_for_thread(t, angry=True))
    with running(config):
        wait_for(lambda: len(slack.requests) >= 2, 5, "delivery attempts against a Slack answering 500")
        for t in threads[3:]:  # more alerts arrive while Slack is still failing
            append_jsonl(tmp_path / "in" / "b.jsonl", rows_for_thread(t, angry=True))
        wait_for(lambda: len(slack.webhook_posts) >= len(threads), 15, "delivery after Slack recovered")
        time.sleep(0.8)  # a few more passes: nothing may go out again
    posts = [json.dumps(p) for p in slack.webhook_posts]
    assert len(posts) == len(threads), posts
    for t in threads:  # each thread's alert once, with its people in it
        assert sum(f"{t}-user" in post for post in posts) == 1, t
    refused = [r for r in slack.requests if r.json is None]  # answered with a fault, not accepted
    assert len(refused) == 7  # the four 500s and three 429s really happened, and were retried
    with Store(config.db_path) as store:
        rows = store.query("SELECT attempts, delivered_at FROM outbox")
    assert len(rows) == len(threads) and all(r["delivered_at"] for r in rows)
    assert max(r["attempts"] for r in rows) > 1


@pytest.fixture
def fake_x(monkeypatch):
    from tests.fakes.x_api import FakeXApi

    monkeypatch.setenv("X_BEARER_TOKEN", "daemon-test-token")
    with FakeXApi(tokens={"daemon-test-token"}) as server:
        yield server


def test_x_through_tweepy_5xx_malformed_401_and_429_without_reset(tmp_path, fake_x, fake_sources):
    """The real X source (tweepy) against the fake X API: each fault makes a failed run, a health
    incident and a recovery; a 429 without reset headers parks X for X's 15-minute window while the
    other source keeps collecting."""
    from datetime import UTC, datetime, timedelta

    other = fake_sources["api_ok"]
    config = load_config(write_config(tmp_path, f"""
    [sources.x]
    interval_minutes = 0.005
    api_url = "{fake_x.base_url}"
    max_results = 10
    max_retries = 0
    retry_backoff_seconds = 0
    mentions_timeline = false
    competitors = false
    [sources.api_ok]
    interval_minutes = 0.005
    base_url = "{other.url}"
    [[alerts.receivers]]
    name = "ops"
    type = "file"
    path = "ops.jsonl"
    [[alerts.rules]]
    name = "source-health"
    kinds = ["health"]
    receivers = ["ops"]
    group_interval_minutes = 0  # recoveries go out at once (default: 5 minutes after the incident)
    """ + FAST_DAEMON))
    db, ops = config.db_path, tmp_path / "ops.jsonl"
    start = datetime.now(UTC) - timedelta(hours=1)
    posted: set[str] = set()

    def post(n: int) -> None:
        for _ in range(n):
            i = len(posted)
            posted.add(str(fake_x.add_tweet(f"Brightwave support #{i} still waiting", f"user{i}",
                                            created_at=start + timedelta(seconds=i))))

    def x_state():
        return _health(db).get("x", {}).get("state")

    def incidents():  # health alerts raised about X, in order (the outbox keeps every one)
        with Store(db) as store:
            return [r["level"] for r in store.query(
                "SELECT level FROM outbox WHERE thread_key LIKE 'health:x:%' ORDER BY id")]

    post(15)
    with running(config):
        wait_for(lambda: posted <= _stored(db, "x"), 10, "the first X pages")
        for fault, n, expected in ((fake_x.server_error_next, 3, "warning"),
                                   (fake_x.malformed_next, 2, "warning"),
                                   (fake_x.unauthorized_next, 2, "critical")):
            before = len(incidents())
            fault(n)
            post(3)
            wait_for(lambda b=before: len(incidents()) >= b + 2, 10, f"{fault.__name__}: an incident and its recovery")
            assert incidents()[before:before + 2] == [expected, "resolved"]
            wait_for(lambda: posted <= _stored(db, "x"), 10, f"X to catch up after {fault.__name__}")
        # 429 without reset headers: X is left alone for its 15-minute window, the other source is not.
        fake_x.rate_limit_next(1, reset_in=None)
        post(2)
        wait_for(lambda: _health(db)["x"]["consecutive_failures"] == 1, 5, "the 429")
        asked = len(fake_x.served("/2/tweets/search/recent"))
        backoff = datetime.fromisoformat(_health(db)["x"]["backoff_until"].replace("Z", "+00:00"))
        assert backoff - datetime.now(UTC) > timedelta(minutes=14)
        new = set(other.add(5, "later"))
        wait_for(lambda: new <= _stored(db, "api_ok"), 5, "the other source, while X waits")
        time.sleep(1)
        assert len(fake_x.served("/2/tweets/search/recent")) == asked  # X was not asked again
    assert x_state() == "ok"  # one failure is not an incident: no alert while it simply waits
    delivered = [level for source, level in _health_alerts(ops) if source == "x"]
    assert delivered.count("resolved") == 3  # three incidents, each healed by itself
    keys = [json.loads(line)["idem_key"] for line in ops.read_text().splitlines()]
    assert len(keys) == len(set(keys))  # and nothing went out twice
    ids = [r["native_id"] for r in Store(db).query("SELECT native_id FROM mentions WHERE source = 'x'")]
    assert len(ids) == len(set(ids))
