"""The Reddit collector: the real praw client against a fake Reddit on 127.0.0.1."""

from __future__ import annotations

import json
import time

import prawcore
import pytest

from listener.collect import collect_source
from listener.errors import SourceError
from listener.sources.reddit import RedditCursor, RedditSource, RequestPacer, _PacedSession
from listener.store import Store
from tests.fakes.appconfig import app_config
from tests.fakes.reddit import FakeReddit

CLIENT_ID, SECRET = "test-client-id", "test-client-secret"


@pytest.fixture
def fake():
    with FakeReddit(CLIENT_ID, SECRET) as server:
        server.add_subreddit("brightwave", subscribers=48_000)
        server.add_subreddit("techsupport", subscribers=900_000)
        yield server


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("REDDIT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", SECRET)
    # prawcore sleeps 2-4 s before its second retry of a 5xx; tests need not wait for it.
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda self: None)


def make_source(tmp_path, fake, **overrides):
    section = {"oauth_url": fake.base_url, "reddit_url": fake.base_url, "competitors": False,
               "requests_per_minute": 10_000, "retry_backoff_seconds": 0, "author_karma_lookups": 0,
               "user_agent": "python:overheard-tests:0.1 (by /u/overheard)", **overrides}
    config = app_config(tmp_path, {"reddit": section})
    return RedditSource(config.sources["reddit"], config), Store(tmp_path / "overheard.db")


def stored(store):
    return {r["native_id"] for r in store.query("SELECT native_id FROM mentions WHERE source = 'reddit'")}


def posts(fake, n, *, start=None, sub="techsupport", prefix="Brightwave"):
    start = start if start is not None else time.time() - 60 * n - 600  # a minute apart, newest 10 min ago
    return [fake.add_post(sub, f"{prefix} router problem #{i}", "No signal since this morning",
                          author=f"user{i}", created_utc=start + 60 * i, score=i, num_comments=2)
            for i in range(n)]


def test_search_collects_matching_posts_with_thread_and_reach(tmp_path, fake):
    ids = posts(fake, 3)
    uni = fake.add_post("brightwave", "Brightwave 📶 ¿por qué no funciona?", "Ayuda 🙏", author="ana",
                        created_utc=time.time() - 600, score=7, num_comments=4)
    fake.add_post("techsupport", "Brightwave festival tickets", "who's going", created_utc=time.time() - 500)
    fake.add_post("techsupport", "Brightwaves in physics", "wave theory", created_utc=time.time() - 400)
    source, store = make_source(tmp_path, fake)

    result, errors = collect_source(store, source)

    assert errors == []
    # the fake's search is loose like Reddit's; the exclusion and whole-word rules are applied locally
    assert stored(store) == {*ids, uni}
    row = store.query("SELECT * FROM mentions WHERE native_id = ?", [uni])[0]
    assert row["text"] == "Ayuda 🙏" and row["title"] == "Brightwave 📶 ¿por qué no funciona?"
    assert row["thread_key"] == f"reddit:{uni}" and row["parent_id"] is None
    assert row["author"] == "ana" and row["author_followers"] == 48_000
    assert row["engagement"] == 7 + 4
    assert row["url"].startswith("https://www.reddit.com/r/brightwave/comments/")
    assert json.loads(row["metrics"])["subreddit"] == "brightwave"
    assert json.loads(row["raw"])["data"]["name"] == uni
    search = fake.served("/search")[0]
    assert search.params["sort"] == "new" and search.params["q"] == 'Brightwave OR "Bright Wave" OR @BrightwaveHelp'
    assert search.params["raw_json"] == "1"
    assert fake.served("/api/v1/access_token")[0].method == "POST"
    assert result.new == 4


def test_new_comments_in_the_brand_community_carry_their_thread(tmp_path, fake):
    post = fake.add_post("brightwave", "Outage megathread", "post here", created_utc=time.time() - 900)
    c1 = fake.add_comment(post, "Brightwave has been down for 3 hours", author="kim", created_utc=time.time() - 800)
    c2 = fake.add_comment(post, "same for me", author="lee", parent=c1, created_utc=time.time() - 700)
    fake.add_comment(post, "[removed]", author="[deleted]", created_utc=time.time() - 600)
    brand_reply = fake.add_comment(post, "Brightwave here: engineers are on it", author="BrightwaveHelp",
                                   parent=c1, created_utc=time.time() - 500)
    source, store = make_source(tmp_path, fake, search_all=False, communities={"Brightwave": ["brightwave"]})

    collect_source(store, source)

    assert stored(store) == {c1, brand_reply}  # "same for me" does not name the brand
    row = store.query("SELECT * FROM mentions WHERE native_id = ?", [brand_reply])[0]
    assert row["thread_key"] == f"reddit:{post}" and row["parent_id"] == c1
    assert row["is_brand_account"] == 1 and row["title"] == "Outage megathread"
    assert row["author_followers"] == 48_000  # from r/brightwave/about, asked once

    source, store2 = make_source(tmp_path / "all", fake, search_all=False, community_match_all=True,
                                 communities={"Brightwave": ["brightwave"]})
    collect_source(store2, source)
    assert stored(store2) == {c1, c2, brand_reply}
    assert len(fake.served("/r/brightwave/about")) == 2  # once per run


def test_second_run_stores_only_what_is_new(tmp_path, fake):
    first = posts(fake, 5)
    source, store = make_source(tmp_path, fake)
    collect_source(store, source)
    mark = RedditCursor.load(store.get_cursor("reddit", "search:Brightwave:all")).mark
    assert mark == fake.things[first[-1]].created_utc

    later = posts(fake, 2, start=time.time() - 120)
    source, store = make_source(tmp_path, fake)
    result, _ = collect_source(store, source)
    assert result.new == 2
    assert stored(store) == {*first, *later}


def test_killed_between_pages_then_resumed_loses_nothing(tmp_path, fake):
    ids = posts(fake, 250)  # three pages of 100
    source, store = make_source(tmp_path, fake)
    query = source.queries()[0]
    for n, batch in enumerate(source.collect(query, None), 1):
        store.save_batch("reddit", query.key, batch)
        if n == 1:
            break  # the process dies here
    cursor = RedditCursor.load(store.get_cursor("reddit", query.key))
    assert cursor.in_sweep and cursor.mark is None and len(stored(store)) == 100

    fake.delete(ids[149])  # the anchor of the next page after page 2 vanishes meanwhile
    newer = posts(fake, 3, start=time.time() - 60)
    source, store = make_source(tmp_path, fake)
    collect_source(store, source)  # finishes the old sweep (page budget 3)
    collect_source(store, source)  # a fresh sweep picks up the newer posts
    assert stored(store) == (set(ids) - {ids[149]}) | set(newer)
    assert store.scalar("SELECT COUNT(*) FROM mentions") == len(ids) - 1 + 3


def test_a_deleted_anchor_between_pages_steps_back_instead_of_stopping(tmp_path, fake):
    ids = posts(fake, 230)
    pages = []

    def delete_anchor(req):
        if "/search" in req.path:
            pages.append(req)
            if len(pages) == 2:  # page 2 is asked after ids[130]; delete it first
                fake.delete(req.params["after"])

    fake.before_request = delete_anchor
    source, store = make_source(tmp_path, fake, max_pages=5)
    _, errors = collect_source(store, source)
    assert errors == []
    deleted = pages[1].params["after"]
    assert deleted == ids[130]  # the last post of page 1: stored before it was deleted
    assert stored(store) == set(ids)
    assert pages[2].params.get("after") is None  # stepped back to the top of the listing


def test_429_is_reported_with_the_time_to_wait_and_not_retried(tmp_path, fake):
    posts(fake, 3)
    source, store = make_source(tmp_path, fake)
    source.reddit()  # token first
    fake.rate_limit_next(1, reset_in=240, path_contains="/search")
    with pytest.raises(SourceError) as info:
        list(source.collect(source.queries()[0], None))
    assert info.value.retry_after == 240
    assert len(fake.served("/search")) == 1

    fake.rate_limit_next(1, reset_in=None, path_contains="/search")
    source, store = make_source(tmp_path, fake)
    _, errors = collect_source(store, source)
    assert "10-minute window" in errors[0]


def test_5xx_retries_are_bounded_and_malformed_json_is_retried(tmp_path, fake):
    ids = posts(fake, 2)
    source, store = make_source(tmp_path, fake, max_retries=1)
    fake.server_error_next(2, 502, path_contains="/search")  # prawcore retries these itself
    fake.malformed_next(1, path_contains="/search")  # ours retries this
    _, errors = collect_source(store, source)
    assert errors == [] and stored(store) == set(ids)

    fake.server_error_next(20, 500, path_contains="/search")
    before = len(fake.served("/search"))
    source, store = make_source(tmp_path, fake, max_retries=1)
    _, errors = collect_source(store, source)
    assert len(fake.served("/search")) - before == 6  # (1 + 2 prawcore retries) x (1 + 1 of ours)
    assert "HTTP 500" in errors[0]


def test_bad_credentials_name_the_env_vars(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "wrong")
    source, store = make_source(tmp_path, fake, subreddits=["techsupport"])
    _, errors = collect_source(store, source)
    assert len(errors) == 1  # the second query was not tried
    assert "$REDDIT_CLIENT_ID / $REDDIT_CLIENT_SECRET" in errors[0] and "401" in errors[0]


def test_an_expired_token_is_renewed(tmp_path, fake):
    posts(fake, 2)
    source, store = make_source(tmp_path, fake)
    source.reddit()
    collect_source(store, source)
    fake.expire_tokens()
    posts(fake, 1, start=time.time() - 30)
    _, errors = collect_source(store, source)
    assert errors == [] and len(stored(store)) == 3
    assert len(fake.served("/api/v1/access_token")) == 2


def test_malformed_items_are_quarantined_and_the_rest_stored(tmp_path, fake):
    ids = posts(fake, 2)
    fake.add_raw("t3", "techsupport", {"name": "t3_zzzz1", "title": "Brightwave"}, "Brightwave no time",
                 created_utc=time.time() - 100)
    fake.add_raw("t3", "techsupport", {"name": "t3_zzzz2", "title": None, "created_utc": time.time() - 90},
                 "Brightwave no title", created_utc=time.time() - 90)
    source, store = make_source(tmp_path, fake)
    result, errors = collect_source(store, source)
    assert errors == [] and stored(store) == set(ids) and result.quarantined == 2
    reasons = {r["reason"] for r in store.query("SELECT reason FROM quarantine WHERE source = 'reddit'")}
    assert reasons == {"created_utc is missing", "title is missing"}


def test_missing_subreddit_and_private_subreddit_are_explained(tmp_path, fake):
    fake.add_subreddit("secretbw", kind="private")
    source, _ = make_source(tmp_path, fake, subreddits=["nosuchsub"], communities={"Brightwave": ["secretbw"]})
    problems = source.check()
    assert any("no such subreddit" in p and "r/nosuchsub" in p for p in problems)
    assert any("private" in p and "r/secretbw" in p for p in problems)


def test_author_karma_is_kept_for_a_bounded_number_of_authors(tmp_path, fake):
    for i in range(3):
        fake.add_redditor(f"user{i}", link_karma=i, comment_karma=10 * (i + 1))
    ids = posts(fake, 3)
    source, store = make_source(tmp_path, fake, author_karma_lookups=2)
    collect_source(store, source)
    metrics = {r["native_id"]: json.loads(r["metrics"]) for r in store.query("SELECT * FROM mentions")}
    karmas = sorted(m.get("author_comment_karma") or 0 for m in metrics.values())
    assert karmas == [0, 20, 30] and len(fake.served("/about")) == 2  # the newest two authors
    assert set(metrics) == set(ids)


def test_requests_are_paced_to_the_configured_rate(fake):
    pacer = RequestPacer(limit=3, window=1.0)
    session = _PacedSession(pacer)
    started = time.monotonic()
    for _ in range(4):
        session.get(f"{fake.base_url}/r/brightwave/about/", timeout=5)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.95  # the 4th request waited for the window
    arrivals = [r.at for r in fake.served("/about")]
    assert arrivals[2] - arrivals[0] < 0.5 and arrivals[3] - arrivals[0] >= 0.8


def test_nothing_found_is_not_an_error(tmp_path, fake):
    source, store = make_source(tmp_path, fake, communities={"Brightwave": ["brightwave"]})
    result, errors = collect_source(store, source)
    assert errors == [] and result.fetched == 0
    ids = posts(fake, 2)
    collect_source(store, source)
    assert stored(store) == set(ids)


def test_fake_reddit_runs_as_a_separate_process(tmp_path):
    import subprocess
    import sys

    import requests

    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.reddit", "--port", "0", "--client-id", "cid",
                             "--client-secret", "sec"], stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().rsplit(" ", 1)[1].strip()
        name = requests.post(f"{url}/_fake/posts", json={"subreddit": "brightwave", "title": "Brightwave down"},
                             timeout=5).json()["name"]
        token = requests.post(f"{url}/api/v1/access_token", data={"grant_type": "client_credentials"},
                              auth=("cid", "sec"), timeout=5).json()["access_token"]
        listing = requests.get(f"{url}/r/all/search/", params={"q": "brightwave", "sort": "new"},
                               headers={"Authorization": f"bearer {token}"}, timeout=5).json()
        assert [c["data"]["name"] for c in listing["data"]["children"]] == [name]
        assert requests.get(f"{url}/_fake/things", timeout=5).json()[0]["name"] == name
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_posts_arriving_during_a_sweep_are_collected_by_the_next_run(tmp_path, fake):
    ids = posts(fake, 150)
    arrived = []

    def post_meanwhile(req):
        if "/search" in req.path and req.params.get("after") and not arrived:
            arrived.append(fake.add_post("techsupport", "Brightwave down again, mid-sweep", created_utc=time.time()))

    fake.before_request = post_meanwhile
    source, store = make_source(tmp_path, fake)
    collect_source(store, source)
    fake.before_request = None
    collect_source(store, source)
    assert stored(store) == set(ids) | set(arrived)


def test_a_comment_without_permalink_gets_an_address_built_from_its_post(tmp_path, fake):
    post = fake.add_post("brightwave", "Billing thread", "post here", created_utc=time.time() - 900)
    comment = fake.add_comment(post, "Brightwave billed me twice", author="max", created_utc=time.time() - 800)
    fake.things[comment].omit = ("permalink",)
    source, store = make_source(tmp_path, fake, search_all=False, communities={"Brightwave": ["brightwave"]})

    collect_source(store, source)

    row = store.query("SELECT url, raw FROM mentions WHERE native_id = ?", [comment])[0]
    assert "permalink" not in json.loads(row["raw"])["data"]
    assert row["url"] == f"https://www.reddit.com/r/brightwave/comments/{post[3:]}/_/{comment[3:]}/"
