"""Bluesky through the real atproto client against a fake PDS on 127.0.0.1."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest

from listener.errors import ConfigError, SourceError
from listener.models import utcnow
from listener.sources.bluesky import BlueskySource
from listener.store import Store
from tests.fakes_web.bluesky import BlueskyFake, Skeet
from tests.fakes_web.workspace import make_config, mentions, quarantined, run_once


def _ago(hours: float):
    return utcnow().replace(microsecond=0) - timedelta(hours=hours)


def _serve(httpserver, posts, **kw):
    # As bsky.social does, the login answer carries the account's DID document; here it names this server.
    kw.setdefault("pds_url", httpserver.url_for("/").rstrip("/"))
    fake = BlueskyFake(posts, **kw)
    httpserver.expect_request(re.compile(r"^/xrpc/")).respond_with_handler(fake)
    return fake


@pytest.fixture(autouse=True)
def _password(monkeypatch):
    monkeypatch.setenv("BSKY_PASS", "app-pass")


def _config(tmp_path, httpserver, **extra):
    section = {"base_url": httpserver.url_for("/").rstrip("/"), "handle": "listener.bsky.social",
               "app_password_env": "BSKY_PASS", "retry_backoff_seconds": 0, **extra}
    return make_config(tmp_path, {"bluesky": section})


def _only(config, key):
    """A source limited to one query, for error tests."""
    source = BlueskySource(config.sources["bluesky"], config)
    return source, next(q for q in source.queries() if q.key == key)


def test_search_pages_through_posts_with_threads_reach_and_languages(tmp_path, httpserver):
    root = Skeet("3kroot", "Brightwave has been down for 6 hours. Anyone else?", _ago(5), handle="carol.bsky.social",
                 followers=15200, likes=40, reposts=12)
    posts = [
        root,
        Skeet("3kr1", "same, Brightwave support chat is useless", _ago(4), handle="dan.bsky.social",
              reply_root=root.uri, reply_parent=root.uri),
        Skeet("3kr2", "We're on it — sorry. Updates on our status page. Brightwave", _ago(3),
              handle="brightwave.com", reply_root=root.uri),
        Skeet("3kes", "¡Brightwave me cobró dos veces este mes!", _ago(2), handle="lucia.bsky.social", langs=["es"]),
        Skeet("3kfe", "Brightwave Festival tickets are live", _ago(1)),
        Skeet("3kbw", "Bright Wave router keeps rebooting", _ago(1.5), handle="erin.bsky.social"),
        Skeet("3kold", "Brightwave last month", _ago(24 * 30)),
    ]
    fake = _serve(httpserver, posts)
    config = _config(tmp_path, httpserver, page_size=2, brand_accounts=["brightwave.com"])
    with Store(config.db_path) as store:
        result, errors = run_once(config, "bluesky", store)
        rows = {r["native_id"].rsplit("/", 1)[1]: r for r in mentions(store, "bluesky")}
    assert errors == []
    assert sorted(rows) == ["3kbw", "3kes", "3kr1", "3kr2", "3kroot"]  # festival excluded, old one before window
    top = rows["3kroot"]
    assert (top["author"], top["author_followers"], top["engagement"]) == ("carol.bsky.social", 15200, 52)
    assert top["url"] == "https://bsky.app/profile/carol.bsky.social/post/3kroot"
    assert top["thread_key"] == f"bluesky:{root.uri}"
    assert rows["3kr1"]["thread_key"] == top["thread_key"] and rows["3kr1"]["parent_id"] == root.uri
    assert rows["3kr2"]["is_brand_account"] == 1
    assert (rows["3kes"]["text"], rows["3kes"]["source_lang"]) == ("¡Brightwave me cobró dos veces este mes!", "es")
    assert json.loads(top["raw"])["record"]["text"] == root.text
    searches = [a for n, a in fake.requests if n == "app.bsky.feed.searchPosts" and a["q"] == "Brightwave"]
    assert [a.get("cursor") for a in searches] == [None, "2", "4"]
    assert all(a["sort"] == "latest" for a in searches)
    assert any(a["q"] == '"Bright Wave"' for n, a in fake.requests if n == "app.bsky.feed.searchPosts")
    logins = [n for n, _ in fake.requests if n == "com.atproto.server.createSession"]
    assert len(logins) == 1  # one login for all queries of the run
    assert result.new == 5


def test_a_rerun_asks_since_the_newest_post_and_stores_nothing_twice(tmp_path, httpserver):
    posts = [Skeet("3ka", "Brightwave billing error again", _ago(2))]
    fake = _serve(httpserver, posts)
    config = _config(tmp_path, httpserver)
    with Store(config.db_path) as store:
        first, _ = run_once(config, "bluesky", store)
        again, _ = run_once(config, "bluesky", store)
        posts.append(Skeet("3kb", "Brightwave refunded me, thanks", _ago(1)))
        third, _ = run_once(config, "bluesky", store)
        count = store.scalar("SELECT COUNT(*) FROM mentions")
    assert (first.new, again.fetched, again.new, third.new, count) == (1, 0, 0, 1, 2)
    sinces = [a["since"] for n, a in fake.requests if n == "app.bsky.feed.searchPosts" and a["q"] == "Brightwave"]
    assert sinces[1] == posts[0].when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_wrong_app_password_is_an_auth_error(tmp_path, httpserver, monkeypatch):
    monkeypatch.setenv("BSKY_PASS", "wrong")
    _serve(httpserver, [])
    config = _config(tmp_path, httpserver)
    source = BlueskySource(config.sources["bluesky"], config)
    with pytest.raises(SourceError) as info:
        list(source.collect(source.queries()[0], None))
    assert info.value.auth and "Invalid identifier or password" in str(info.value)
    assert BlueskySource(config.sources["bluesky"], config).check()[0].startswith("Bluesky login: refused")


def test_a_missing_password_variable_is_a_config_error(tmp_path, httpserver, monkeypatch):
    monkeypatch.delenv("BSKY_PASS")
    with pytest.raises(ConfigError, match="sources.bluesky.app_password_env: environment variable BSKY_PASS"):
        _config(tmp_path, httpserver)


def test_a_rate_limit_says_when_to_come_back(tmp_path, httpserver):
    fake = _serve(httpserver, [])
    reset = str(int(time.time()) + 90)
    fake.fail_next = [("app.bsky.feed.searchPosts", 429, '{"error":"RateLimitExceeded","message":"Rate Limit"}',
                       {"ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": reset})]
    config = _config(tmp_path, httpserver)
    source, query = _only(config, "Brightwave:Brightwave")
    with pytest.raises(SourceError) as info:
        list(source.collect(query, None))
    assert 80 <= info.value.retry_after <= 90


def test_server_errors_are_retried_a_bounded_number_of_times(tmp_path, httpserver):
    fake = _serve(httpserver, [Skeet("3ka", "Brightwave down", _ago(1))])
    fake.fail_next = [("app.bsky.feed.searchPosts", 500, '{"error":"InternalServerError"}', {})] * 2
    config = _config(tmp_path, httpserver, retries=2)
    source, query = _only(config, "Brightwave:Brightwave")
    batches = list(source.collect(query, None))
    assert [m.native_id.rsplit("/", 1)[1] for b in batches for m in b.mentions] == ["3ka"]
    fake.fail_next = [("app.bsky.feed.searchPosts", 503, "unavailable", {})] * 3
    with pytest.raises(SourceError, match=r"server error .*\(3 attempts\)"):
        list(source.collect(query, None))


@pytest.mark.parametrize("content_type", ["text/html", "application/json"])
def test_a_body_that_is_not_json_is_a_clear_error(tmp_path, httpserver, content_type):
    fake = _serve(httpserver, [])
    fake.fail_next = [("app.bsky.feed.searchPosts", 200, "<html>oops</html>", {"Content-Type": content_type})]
    config = _config(tmp_path, httpserver)
    source, query = _only(config, "Brightwave:Brightwave")
    with pytest.raises(SourceError, match="the answer is not JSON"):
        list(source.collect(query, None))


def test_malformed_posts_are_quarantined(tmp_path, httpserver):
    posts = [Skeet("3ka", "Brightwave works", _ago(3)),
             Skeet("3kb", "Brightwave no uri", _ago(2), override={"uri": "https://not-at-uri"}),
             Skeet("3kc", "Brightwave bad time", _ago(1), override={"indexedAt": "never"})]
    _serve(httpserver, posts)
    config = _config(tmp_path, httpserver)
    with Store(config.db_path) as store:
        result, errors = run_once(config, "bluesky", store)
        reasons = sorted(q["reason"] for q in quarantined(store, "bluesky"))
    assert errors == [] and result.new == 1
    assert reasons == ["indexedAt 'never' is not a time", "uri 'https://not-at-uri' is not an at:// URI"]


def test_after_login_the_client_moves_to_the_accounts_own_pds(tmp_path, httpserver):
    """Log in at the entryway (bsky.social); its answer's didDoc names the account's PDS, and atproto's
    client sends every later request there. The entryway here refuses anything but login."""
    from pytest_httpserver import HTTPServer

    posts = [Skeet("3kpds", "Brightwave cobrou duas vezes de novo", _ago(1), handle="nia.bsky.social", followers=77,
                   langs=["pt-BR"])]
    pds = HTTPServer(host="127.0.0.1", port=0)
    pds.start()
    try:
        pds_url = pds.url_for("/").rstrip("/")
        entry = _serve(httpserver, posts, pds_url=pds_url, entryway=True)
        account_pds = BlueskyFake(posts, access=entry.access)
        pds.expect_request(re.compile(r"^/xrpc/")).respond_with_handler(account_pds)
        config = _config(tmp_path, httpserver)  # base_url: the entryway
        with Store(config.db_path) as store:
            result, errors = run_once(config, "bluesky", store)
            rows = mentions(store, "bluesky")
    finally:
        pds.stop()
    assert errors == [] and result.new == 1
    assert rows[0]["author"] == "nia.bsky.social" and rows[0]["author_followers"] == 77
    assert rows[0]["source_lang"] == "pt"  # Bluesky's BCP 47 tag, in the one code list
    assert [n for n, _ in entry.requests] == ["com.atproto.server.createSession"]  # one login, nothing else
    assert {n for n, _ in account_pds.requests} == {"app.bsky.feed.searchPosts", "app.bsky.actor.getProfiles"}
