"""Hacker News: Algolia search_by_date served on 127.0.0.1; stories and comments with their thread."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from listener.errors import SourceError
from listener.models import utcnow
from listener.sources.hackernews import HackerNewsSource
from listener.store import Store
from tests.fakes_web.hackernews import AlgoliaFake, comment, story
from tests.fakes_web.workspace import make_config, mentions, quarantined, run_once

PATH = "/api/v1/search_by_date"


def _ago(hours: float):
    return utcnow().replace(microsecond=0) - timedelta(hours=hours)


def _config(tmp_path, httpserver, **extra):
    section = {"base_url": httpserver.url_for("/").rstrip("/"), "retry_backoff_seconds": 0, **extra}
    return make_config(tmp_path, {"hackernews": section})


def test_stories_and_comments_are_collected_over_pages_with_their_story_as_thread(tmp_path, httpserver):
    fake = AlgoliaFake({
        "Brightwave": [
            [story(500, "Brightwave outage: postmortem", _ago(1), points=240, comments=118,
                   text="<p>We&#x27;re sorry.</p>", author="brightwave_eng"),
             comment(501, "<p>Brightwave support hung up on me <i>twice</i>.</p>", _ago(2), story_id=400,
                     parent_id=450)],
            [comment(502, "Brightwaves are nice (not the ISP)", _ago(3), story_id=400, parent_id=400),
             comment(503, "Ich habe Brightwave gekündigt – nie wieder!", _ago(4), story_id=400, parent_id=400)],
        ],
        '"Bright Wave"': [[comment(504, "Bright Wave&#x27;s router died", _ago(5), story_id=400, parent_id=401)]],
        "Lumacell": [[story(600, "Lumacell raises $50M", _ago(6), url="https://lumacell.example")]],
    })
    httpserver.expect_request(PATH).respond_with_handler(fake)
    config = _config(tmp_path, httpserver, brand_accounts=["brightwave_eng"])
    with Store(config.db_path) as store:
        result, errors = run_once(config, "hackernews", store)
        rows = {r["native_id"]: r for r in mentions(store, "hackernews")}
    assert errors == []
    # 502 came back from the search but says "Brightwaves": the shared rules say it is not a mention
    assert sorted(rows) == ["500", "501", "503", "504", "600"]
    post = rows["500"]
    assert post["title"] == "Brightwave outage: postmortem"
    assert post["text"] == "Brightwave outage: postmortem\n\nWe're sorry."
    assert post["thread_key"] == "hackernews:500" and post["engagement"] == 358
    assert post["is_brand_account"] == 1 and post["url"] == "https://news.ycombinator.com/item?id=500"
    reply = rows["501"]
    assert reply["text"] == "Brightwave support hung up on me twice."
    assert (reply["thread_key"], reply["parent_id"], reply["brand"]) == ("hackernews:400", "450", "Brightwave")
    assert rows["503"]["text"] == "Ich habe Brightwave gekündigt – nie wieder!"
    assert rows["504"]["text"] == "Bright Wave's router died"
    assert rows["600"]["brand"] == "Lumacell"
    assert json.loads(rows["501"]["raw"])["story_id"] == 400
    brightwave = [r for r in fake.requests if r["query"] == "Brightwave"]
    assert [r["page"] for r in brightwave] == ["0", "1"]
    assert brightwave[0]["tags"] == "(story,comment)" and brightwave[0]["numericFilters"].startswith("created_at_i>=")
    assert result.new == 5


def test_a_rerun_asks_from_the_cursor_and_stores_nothing_twice(tmp_path, httpserver):
    hits = [comment(701, "Brightwave billing is a mess", _ago(1), story_id=700, parent_id=700)]
    fake = AlgoliaFake({"Brightwave": [hits]})
    httpserver.expect_request(PATH).respond_with_handler(fake)
    config = _config(tmp_path, httpserver)
    with Store(config.db_path) as store:
        first, _ = run_once(config, "hackernews", store)
        second, _ = run_once(config, "hackernews", store)
        count = store.scalar("SELECT COUNT(*) FROM mentions")
    since = [int(r["numericFilters"].split(">=")[1]) for r in fake.requests if r["query"] == "Brightwave"]
    assert (first.new, second.new, second.fetched, count) == (1, 0, 0, 1)
    assert since[1] == hits[0]["created_at_i"]  # the second run starts at the newest item it has


def test_words_only_in_a_brands_advanced_query_are_searched_too(tmp_path, httpserver):
    """A brand tracked by `query` (its product's name, say) is searched for every word the query
    accepts, not only its keywords; the query still decides what is a mention."""
    from listener.config import config_from_dict
    from tests.fakes_web.workspace import BRANDS

    fake = AlgoliaFake({
        "Brightwave": [[comment(801, "Brightwave is down", _ago(1), story_id=800, parent_id=800)]],
        '"Wave Hub"': [[comment(802, "My Wave Hub router reboots every hour", _ago(2), story_id=800, parent_id=800),
                        comment(803, "wave hub festival tickets", _ago(3), story_id=800, parent_id=800)]],
    })
    httpserver.expect_request(PATH).respond_with_handler(fake)
    brand = {**BRANDS["brands"][0], "query": '(Brightwave OR "Wave Hub" OR @WaveHubHelp) -festival'}
    raw = {**BRANDS, "brands": [brand], "store": {"path": str(tmp_path / "overheard.db")},
           "sources": {"hackernews": {"base_url": httpserver.url_for("/").rstrip("/"), "retry_backoff_seconds": 0}}}
    config = config_from_dict(raw, tmp_path / "overheard.toml", check_secrets=False)
    with Store(config.db_path) as store:
        _, errors = run_once(config, "hackernews", store)
        rows = {r["native_id"] for r in mentions(store, "hackernews")}
    asked = {r["query"] for r in fake.requests}
    assert errors == []
    assert {"Brightwave", '"Bright Wave"', '"Wave Hub"'} <= asked
    assert not any("WaveHubHelp" in q for q in asked)  # handles are for X, not a text search
    assert rows == {"801", "802"}  # 803 came back from the search but the query excludes "festival"


def test_malformed_hits_are_quarantined(tmp_path, httpserver):
    hits = [comment(801, "Brightwave again", _ago(1), story_id=800, parent_id=800),
            {"objectID": "802", "created_at_i": "soon", "comment_text": "Brightwave", "_tags": ["comment"]},
            {"created_at_i": 1, "comment_text": "Brightwave"},
            comment(803, "<p></p>", _ago(1), story_id=800, parent_id=800)]
    httpserver.expect_request(PATH).respond_with_handler(AlgoliaFake({"Brightwave": [hits]}))
    config = _config(tmp_path, httpserver)
    with Store(config.db_path) as store:
        result, errors = run_once(config, "hackernews", store)
        reasons = [q["reason"] for q in quarantined(store, "hackernews")]
    assert errors == [] and result.new == 1
    assert reasons == ["created_at_i 'soon' is not a time", "hit has no objectID", "comment_text is empty"]


@pytest.mark.parametrize("status,body,check", [
    (403, "forbidden", lambda e: e.auth),
    (429, '{"message":"rate limited"}', lambda e: e.retry_after == 60.0),
    (503, "overloaded", lambda e: "server error HTTP 503 (3 attempts)" in str(e)),
    (200, "<html>cloudflare</html>", lambda e: "the answer is not JSON" in str(e)),
    (200, '{"message": "oops"}', lambda e: "no `hits` list" in str(e)),
])
def test_errors_become_source_errors(tmp_path, httpserver, status, body, check):
    httpserver.expect_request(PATH).respond_with_data(body, status=status)
    config = _config(tmp_path, httpserver)
    source = HackerNewsSource(config.sources["hackernews"], config)
    with pytest.raises(SourceError) as info:
        list(source.collect(source.queries()[0], None))
    assert check(info.value)
    if status == 503:
        assert len(httpserver.log) == 3


def test_doctor_check_is_quiet_when_algolia_answers_and_says_why_when_not(tmp_path, httpserver):
    httpserver.expect_ordered_request(PATH).respond_with_handler(AlgoliaFake({}))
    httpserver.expect_ordered_request(PATH).respond_with_data("blocked", status=403)
    config = _config(tmp_path, httpserver)
    source = HackerNewsSource(config.sources["hackernews"], config)
    assert source.check() == []
    assert source.check() == ["Hacker News search 'test' page 0: access refused (HTTP 403); check the credentials "
                              "(blocked)"]


def test_hostile_html_becomes_plain_text(tmp_path, httpserver):
    html = ("<p>Brightwave &lt;!channel&gt; lost my data<script>alert('x')</script></p>"
            "<p>\u202eetis\u202c <b>bold</b>\u0000 \U0001F621</p>")
    httpserver.expect_request(PATH).respond_with_handler(AlgoliaFake({"Brightwave": [[
        comment(901, html, _ago(1), story_id=900, parent_id=900)]]}))
    config = _config(tmp_path, httpserver)
    with Store(config.db_path) as store:
        run_once(config, "hackernews", store)
        (row,) = mentions(store, "hackernews")
    # tags and script bodies are gone, entities decoded (escaping is each output's job), NUL dropped
    assert row["text"] == "Brightwave <!channel> lost my data\n\n\u202eetis\u202c bold \U0001F621"
