"""Mastodon through the real Mastodon.py client against a fake instance on 127.0.0.1."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from listener.errors import ConfigError, SourceError
from listener.models import utcnow
from listener.sources.mastodon import MastodonSource
from listener.store import Store
from tests.fakes_web.mastodon import MastodonFake, Post, status_id
from tests.fakes_web.workspace import make_config, mentions, quarantined, run_once

TOKEN = "tok-123"


def _ago(hours: float, seq: int = 0) -> tuple[int, object]:
    when = utcnow().replace(microsecond=0) - timedelta(hours=hours)
    return status_id(when, seq), when


def _post(hours: float, html: str, seq: int = 0, **kw) -> Post:
    sid, when = _ago(hours, seq)
    return Post(sid, html, when, **kw)


def _serve(httpserver, posts, token=None):
    host = f"{httpserver.host}:{httpserver.port}"
    fake = MastodonFake(host, posts, token=token)
    httpserver.expect_request(re.compile(r"^/api/")).respond_with_handler(fake)
    return fake, host


def _config(tmp_path, httpserver, token_env="", **extra):
    section = {"instances": [{"url": httpserver.url_for("/").rstrip("/"), "access_token_env": token_env}],
               "retry_backoff_seconds": 0, "hashtags": {"Lumacell": []}, **extra}
    return make_config(tmp_path, {"mastodon": section})


def test_hashtag_timeline_pages_forward_and_replies_join_their_thread(tmp_path, httpserver):
    root = _post(6, "<p>Is anyone else's internet down? <a href='x'>#<span>brightwave</span></a></p>",
                 user="carol", tags=["brightwave"], replies=2, favourites=5, reblogs=1, followers=3400)
    posts = [
        root,
        _post(5, "<p>@carol same here, Brightwave support says 3 days!!</p>", user="dave", domain="fosstodon.org",
              tags=["brightwave"], reply_to=root.id, followers=88),
        _post(4, "<p>Brightwave m&#39;a facturé deux fois ce mois-ci. #brightwave</p>", user="élodie",
              tags=["brightwave"], language="fr"),
        _post(3, "<p>Tickets for the Brightwave Festival are out #brightwave</p>", tags=["brightwave"]),
        _post(2, "<p>We are sorry — a fix is rolling out. #Brightwave</p>", user="brightwave", tags=["brightwave"],
              reply_to=root.id),
        _post(24 * 30, "<p>old #brightwave post</p>", tags=["brightwave"]),
    ]
    fake, host = _serve(httpserver, posts)
    config = _config(tmp_path, httpserver, page_size=2, brand_accounts=[f"brightwave@{host}"])
    with Store(config.db_path) as store:
        result, errors = run_once(config, "mastodon", store)
        rows = {r["author"]: r for r in mentions(store, "mastodon")}
        cursor = store.get_cursor("mastodon", f"{host} #brightwave")
    assert errors == []
    assert sorted(rows) == [f"brightwave@{host}", f"carol@{host}", "dave@fosstodon.org", f"élodie@{host}"]
    first = rows[f"carol@{host}"]
    assert first["text"] == "Is anyone else's internet down? #brightwave"
    assert first["thread_key"] == f"mastodon:https://{host}/users/carol/statuses/{root.id}"
    assert (first["author_followers"], first["engagement"], first["source_lang"]) == (3400, 8, "en")
    reply = rows["dave@fosstodon.org"]
    assert reply["thread_key"] == first["thread_key"] and reply["parent_id"] == first["native_id"]
    assert reply["native_id"].startswith("https://fosstodon.org/users/dave/statuses/")
    assert rows[f"élodie@{host}"]["text"] == "Brightwave m'a facturé deux fois ce mois-ci. #brightwave"
    assert rows[f"élodie@{host}"]["source_lang"] == "fr"
    assert rows[f"brightwave@{host}"]["is_brand_account"] == 1
    assert json.loads(first["raw"])["account"]["acct"] == "carol"
    assert cursor == str(max(p.id for p in posts))
    min_ids = [a["min_id"] for p, a in fake.requests if p.endswith("/tag/brightwave")]
    assert len(min_ids) == 4  # three pages of two, then an empty page
    assert result.new == 4


def test_a_rerun_starts_after_the_cursor_and_stores_nothing_twice(tmp_path, httpserver):
    posts = [_post(2, "<p>Brightwave down again #brightwave</p>", tags=["brightwave"])]
    fake, _ = _serve(httpserver, posts)
    config = _config(tmp_path, httpserver)
    with Store(config.db_path) as store:
        first, _ = run_once(config, "mastodon", store)
        again, _ = run_once(config, "mastodon", store)
        newer = _post(1, "<p>Brightwave finally back #brightwave</p>", tags=["brightwave"])
        fake.posts[newer.id] = newer
        third, _ = run_once(config, "mastodon", store)
        count = store.scalar("SELECT COUNT(*) FROM mentions")
    assert (first.new, again.fetched, third.new, count) == (1, 0, 1, 2)
    tag_calls = [a for p, a in fake.requests if p.endswith("/tag/brightwave")]
    assert tag_calls[2]["min_id"] == str(posts[0].id)


def test_search_with_a_token_finds_posts_without_the_hashtag_once(tmp_path, httpserver, monkeypatch):
    monkeypatch.setenv("MASTO_TOKEN", TOKEN)
    posts = [_post(2, "<p>Switching away from Bright Wave after this bill</p>", user="erin"),
             _post(1, "<p>Brightwave outage #brightwave</p>", tags=["brightwave"])]
    fake, _ = _serve(httpserver, posts, token=TOKEN)
    config = _config(tmp_path, httpserver, token_env="MASTO_TOKEN")
    with Store(config.db_path) as store:
        result, errors = run_once(config, "mastodon", store)
        texts = sorted(r["text"] for r in mentions(store, "mastodon"))
    assert errors == []
    assert texts == ["Brightwave outage #brightwave", "Switching away from Bright Wave after this bill"]
    assert result.duplicates == 1  # the hashtag post also matched the "Brightwave" search: stored once
    assert any(p == "/api/v2/search" and a["q"] == '"Bright Wave"' for p, a in fake.requests)  # as a phrase


def test_a_missing_token_variable_is_a_config_error_naming_the_instance(tmp_path, httpserver, monkeypatch):
    monkeypatch.delenv("MASTO_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"sources.mastodon.instances\[0\].access_token_env: environment "
                                          r"variable MASTO_TOKEN is not set"):
        _config(tmp_path, httpserver, token_env="MASTO_TOKEN")


def test_malformed_posts_are_quarantined(tmp_path, httpserver):
    posts = [_post(3, "<p>Brightwave fine #brightwave</p>", tags=["brightwave"]),
             _post(2, "<p> </p>", tags=["brightwave"], seq=1),
             _post(1, "<p>Brightwave #brightwave</p>", tags=["brightwave"], override={"uri": None, "url": None})]
    _, host = _serve(httpserver, posts)
    config = _config(tmp_path, httpserver)
    with Store(config.db_path) as store:
        result, errors = run_once(config, "mastodon", store)
        bad = quarantined(store, "mastodon")
    assert errors == [] and result.new == 1
    assert {(b["location"], b["reason"]) for b in bad} == {
        (f"https://{host}/tags/brightwave status {posts[2].id}", "status has no id or uri"),
        (f"https://{host}/tags/brightwave status {posts[1].id}", "content is empty"),
    }


@pytest.mark.parametrize("status,body,headers,check", [
    (429, '{"error":"Too many requests"}', {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0"},
     lambda e: e.retry_after is not None and "rate limited" in str(e)),
    (403, '{"error":"This action is not allowed"}', {}, lambda e: e.auth and "403" in str(e)),
    (401, '{"error":"The access token is invalid"}', {}, lambda e: e.auth),
    (503, "<html>503</html>", {}, lambda e: "server error HTTP 503 (3 attempts)" in str(e)),
])
def test_errors_become_source_errors(tmp_path, httpserver, status, body, headers, check):
    fake, _ = _serve(httpserver, [])
    fake.fail_next = [("/api/v1/timelines", status, body, headers)] * 3
    config = _config(tmp_path, httpserver)
    source = MastodonSource(config.sources["mastodon"], config)
    with pytest.raises(SourceError) as info:
        list(source.collect(source.queries()[0], None))
    assert check(info.value)


def test_a_rate_limit_says_when_to_come_back(tmp_path, httpserver):
    fake, _ = _serve(httpserver, [])
    reset = (utcnow() + timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    fake.fail_next = [("/api/v1/timelines", 429, '{"error":"Too many requests"}',
                       {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})]
    config = _config(tmp_path, httpserver)
    source = MastodonSource(config.sources["mastodon"], config)
    with pytest.raises(SourceError) as info:
        list(source.collect(source.queries()[0], None))
    assert 250 < info.value.retry_after <= 300


def test_server_errors_are_retried_then_the_page_is_read(tmp_path, httpserver):
    fake, _ = _serve(httpserver, [_post(1, "<p>Brightwave ok #brightwave</p>", tags=["brightwave"])])
    fake.fail_next = [("/api/v1/timelines", 502, "bad gateway", {})] * 2
    config = _config(tmp_path, httpserver)
    with Store(config.db_path) as store:
        result, errors = run_once(config, "mastodon", store)
    assert errors == [] and result.new == 1


def test_a_body_that_is_not_json_is_a_clear_error(tmp_path, httpserver):
    fake, host = _serve(httpserver, [])
    fake.fail_next = [("/api/v1/timelines", 200, "<html>maintenance</html>", {})]
    config = _config(tmp_path, httpserver)
    with Store(config.db_path) as store:
        _, errors = run_once(config, "mastodon", store)
    assert errors[0] == f"mastodon {host} #brightwave: Mastodon {host} #brightwave: the answer is not JSON"


def test_doctor_check_reports_a_refused_token(tmp_path, httpserver, monkeypatch):
    monkeypatch.setenv("MASTO_TOKEN", "wrong")
    _serve(httpserver, [], token=TOKEN)
    config = _config(tmp_path, httpserver, token_env="MASTO_TOKEN")
    problems = MastodonSource(config.sources["mastodon"], config).check()
    assert len(problems) == 1 and "access token was refused" in problems[0]


def test_a_rate_limited_instance_does_not_hold_back_the_others(tmp_path, httpserver):
    fake, _ = _serve(httpserver, [_post(1, "<p>Brightwave down #brightwave</p>", tags=["brightwave"])])
    fake.fail_next = [("/api/v1/timelines", 429, '{"error":"Too many requests"}', {})]
    busy = httpserver.url_for("/").rstrip("/")  # http://localhost:PORT
    other = f"http://127.0.0.1:{httpserver.port}"  # a second instance, as far as the source can tell
    config = _config(tmp_path, httpserver, instances=[{"url": busy}, {"url": other}])
    with Store(config.db_path) as store:
        result, errors = run_once(config, "mastodon", store)
    assert len(errors) == 1 and "rate limited" in errors[0]
    assert result.new == 1


# ---------------------------------------------------------------- shapes of real servers
def test_a_reply_whose_parent_cannot_be_fetched_keeps_its_reply_link(tmp_path, httpserver):
    gone = 113_000_000_000_000_001  # a deleted (or followers-only) status: the context has no ancestors
    posts = [_post(2, "<p>@bob Brightwave did the same to me, two bills this month #brightwave</p>", user="cat",
                   tags=["brightwave"], reply_to=gone)]
    _, host = _serve(httpserver, posts)
    config = _config(tmp_path, httpserver)
    with Store(config.db_path) as store:
        run_once(config, "mastodon", store)
        row = mentions(store, "mastodon")[0]
    assert row["parent_id"] == f"https://{host}/api/v1/statuses/{gone}"
    assert json.loads(row["raw"])["in_reply_to_id"] == str(gone)


@pytest.mark.parametrize("version", ["3.5.19", "4.3.0"])
def test_mastodon_py_asks_for_the_instance_once_not_before_every_page(tmp_path, httpserver, version):
    posts = [_post(6 - i, f"<p>Brightwave outage update {i} #brightwave</p>", tags=["brightwave"], seq=i)
             for i in range(5)]
    host = f"{httpserver.host}:{httpserver.port}"
    fake = MastodonFake(host, posts, version=version)
    httpserver.expect_request(re.compile(r"^/api/")).respond_with_handler(fake)
    config = _config(tmp_path, httpserver, page_size=2)
    with Store(config.db_path) as store:
        result, errors = run_once(config, "mastodon", store)
        again, _ = run_once(config, "mastodon", store)  # the daemon keeps no client between runs here
    pages = [p for p, _ in fake.requests if p.startswith("/api/v1/timelines/tag/")]
    instance = [p for p, _ in fake.requests if p.startswith("/api/v2/instance")]
    assert errors == [] and result.new == 5
    assert len(pages) == 5  # three pages of two, an empty page; then one empty page on the rerun
    assert len(instance) == 2  # once per run (per client), not once per page


def test_a_japanese_keyword_is_found_in_a_japanese_post(tmp_path, httpserver, monkeypatch):
    from listener.config import config_from_dict

    monkeypatch.setenv("MASTO_TOKEN", TOKEN)
    posts = [_post(3, "<p>今日もドトールでモーニング。アプリのクーポンが使えなくて店員さんも困ってた</p>",
                   user="hanako", language="ja"),
             _post(2, "<p>スタバの新作おいしい</p>", user="taro", language="ja", seq=1)]
    _, host = _serve(httpserver, posts, token=TOKEN)
    raw = {"brands": [{"name": "Doutor", "keywords": ["ドトール"]}], "store": {"path": str(tmp_path / "o.db")},
           "sources": {"mastodon": {"instances": [{"url": httpserver.url_for("/").rstrip("/"),
                                                   "access_token_env": "MASTO_TOKEN"}],
                                    "retry_backoff_seconds": 0}}}
    config = config_from_dict(raw, tmp_path / "overheard.toml")
    with Store(config.db_path) as store:
        result, errors = run_once(config, "mastodon", store)
        rows = mentions(store, "mastodon")
        bad = quarantined(store, "mastodon")
    assert errors == [] and bad == []
    assert [(r["author"], r["brand"], r["source_lang"]) for r in rows] == [(f"hanako@{host}", "Doutor", "ja")]


def test_mastodon_language_tags_are_normalised(tmp_path, httpserver):
    posts = [_post(2, "<p>Brightwave 又斷線了 #brightwave</p>", tags=["brightwave"], language="zh-TW"),
             _post(1, "<p>Brightwave caiu de novo #brightwave</p>", tags=["brightwave"], language="pt-BR", seq=1)]
    _serve(httpserver, posts)
    config = _config(tmp_path, httpserver)
    with Store(config.db_path) as store:
        run_once(config, "mastodon", store)
        langs = [r["source_lang"] for r in mentions(store, "mastodon")]
    assert sorted(langs) == ["pt", "zh"]


def test_doctor_accepts_a_server_older_than_mastodon_4(tmp_path, httpserver):
    host = f"{httpserver.host}:{httpserver.port}"
    fake = MastodonFake(host, [], version="3.5.19")
    httpserver.expect_request(re.compile(r"^/api/")).respond_with_handler(fake)
    config = _config(tmp_path, httpserver)
    assert MastodonSource(config.sources["mastodon"], config).check() == []
    assert [p for p, _ in fake.requests] == ["/api/v2/instance/", "/api/v1/instance/"]
