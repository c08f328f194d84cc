"""RSS/Atom: feeds served on 127.0.0.1, fetched with requests (timeouts, ETag) and parsed by feedparser."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from werkzeug import Request, Response

from listener.errors import SourceError
from listener.models import utcnow
from listener.sources.rss import RssSource
from listener.store import Store
from tests.fakes_web.feeds import google_alert, rss
from tests.fakes_web.workspace import make_config, mentions, quarantined, run_once

ATOM = "application/atom+xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"


def _ago(hours: float):
    return utcnow().replace(microsecond=0) - timedelta(hours=hours)


def _config(tmp_path, feeds, **extra):
    return make_config(tmp_path, {"rss": {"feeds": feeds, "retry_backoff_seconds": 0, **extra}})


def test_a_google_alerts_feed_gives_mentions_of_its_brand_with_article_links(tmp_path, httpserver):
    doc = google_alert("Brightwave", [
        ("111", "<b>Brightwave</b> outage leaves thousands offline",
         "Customers of <b>Brightwave</b> reported &amp; complained about a long outage…",
         "https://news.example/brightwave-outage", _ago(2)),
        ("112", "Bright Wave price rise", "<b>Bright Wave</b> raises prices again", "https://blog.example/p", _ago(3)),
    ])
    httpserver.expect_request("/alerts/feed").respond_with_data(doc, content_type=ATOM)
    url = httpserver.url_for("/alerts/feed")
    config = _config(tmp_path, [{"url": url, "brand": "Brightwave"}])
    with Store(config.db_path) as store:
        result, errors = run_once(config, "rss", store)
        rows = mentions(store, "rss")
    assert errors == [] and result.new == 2
    outage = next(r for r in rows if r["native_id"].endswith("feed:111"))
    assert outage["title"] == "Brightwave outage leaves thousands offline"
    assert outage["text"] == "Customers of Brightwave reported & complained about a long outage…"
    assert outage["url"] == "https://news.example/brightwave-outage"
    assert outage["brand"] == "Brightwave" and outage["thread_key"] == "rss:" + outage["native_id"]
    assert json.loads(outage["metrics"])["feed"] == "Google Alert - Brightwave"
    assert json.loads(outage["raw"])["id"].endswith("feed:111")


def test_a_news_feed_keeps_only_entries_the_brand_rules_match(tmp_path, httpserver):
    doc = rss("Tech-Nachrichten", [
        {"guid": "n1", "title": "Lumacell erhöht die Preise", "description": "Kunden sind verärgert über Lumacell.",
         "link": "https://news.example/n1", "pubDate": _ago(1)},
        {"guid": "n2", "title": "Wetter", "description": "Sonne am Wochenende", "pubDate": _ago(1)},
        {"guid": "n3", "title": "Brightwave Festival lineup", "description": "The brightwave festival returns",
         "pubDate": _ago(1)},
        {"guid": "n4", "title": "Brightwave-Störung", "description": "Störung bei Brightwave",
         "pubDate": _ago(24 * 30)},
    ], language="de-DE")
    httpserver.expect_request("/news.xml").respond_with_data(doc, content_type=RSS)
    url = httpserver.url_for("/news.xml")
    config = _config(tmp_path, [{"url": url}])
    with Store(config.db_path) as store:
        run_once(config, "rss", store)
        rows = mentions(store, "rss")
    # n2 mentions no brand, n3 is excluded ("brightwave festival"), n4 is older than the first-run window
    assert [(r["native_id"], r["brand"], r["source_lang"]) for r in rows] == [(f"{url}#n1", "Lumacell", "de")]
    assert rows[0]["text"] == "Kunden sind verärgert über Lumacell."


def test_a_rerun_sends_the_etag_and_stores_nothing_twice(tmp_path, httpserver):
    entries = [("1", "Brightwave down", "Brightwave is down", "https://a.example/1", _ago(2))]
    state = {"doc": google_alert("Brightwave", entries), "etag": '"v1"', "conditional": []}

    def serve(request: Request) -> Response:
        state["conditional"].append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == state["etag"]:
            return Response(status=304)
        return Response(state["doc"], content_type=ATOM, headers={"ETag": state["etag"]})

    httpserver.expect_request("/feed").respond_with_handler(serve)
    config = _config(tmp_path, [{"url": httpserver.url_for("/feed"), "brand": "Brightwave"}])
    with Store(config.db_path) as store:
        first, _ = run_once(config, "rss", store)
        unchanged, _ = run_once(config, "rss", store)
        entries.insert(0, ("2", "Brightwave refunds", "Brightwave will refund customers", "https://a.example/2",
                           _ago(1)))
        state.update(doc=google_alert("Brightwave", entries), etag='"v2"')
        changed, _ = run_once(config, "rss", store)
        count = store.scalar("SELECT COUNT(*) FROM mentions")
    assert state["conditional"] == [None, '"v1"', '"v1"']
    assert (first.new, unchanged.fetched, changed.new, changed.duplicates) == (1, 0, 1, 1)
    assert count == 2


def test_bad_entries_are_quarantined_and_the_rest_kept(tmp_path, httpserver):
    doc = rss("Status", [
        {"guid": "ok", "title": "Brightwave API degraded", "description": "Investigating", "pubDate": _ago(1)},
        {"title": "Brightwave no id", "description": "An entry without guid or link", "pubDate": _ago(1)},
        {"guid": "empty", "title": "", "description": "<p> </p>", "pubDate": _ago(1)},
    ])
    httpserver.expect_request("/status.rss").respond_with_data(doc, content_type=RSS)
    url = httpserver.url_for("/status.rss")
    config = _config(tmp_path, [{"url": url, "brand": "Brightwave"}])
    with Store(config.db_path) as store:
        result, errors = run_once(config, "rss", store)
        bad = quarantined(store, "rss")
        rows = mentions(store, "rss")
    assert errors == [] and result.quarantined == 2
    assert [r["native_id"] for r in rows] == [f"{url}#ok"]
    assert [(b["location"], b["reason"]) for b in bad] == [
        (f"{url} entry 1", "entry has neither an id nor a link"),
        (f"{url} entry empty", "summary is missing"),
    ]


def test_a_page_that_is_not_a_feed_is_a_clear_error(tmp_path, httpserver):
    httpserver.expect_request("/blog").respond_with_data("<html><body>Hello</body></html>", content_type="text/html")
    url = httpserver.url_for("/blog")
    config = _config(tmp_path, [{"url": url}])
    with Store(config.db_path) as store:
        _, errors = run_once(config, "rss", store)
        assert store.get_cursor("rss", url) is None
    assert errors == [f"rss {url}: feed {url}: not an RSS or Atom feed (text/html is not an XML media type)"]


@pytest.mark.parametrize("status,check", [
    (401, lambda e: e.auth),
    (429, lambda e: e.retry_after == 30.0),
    (502, lambda e: "server error HTTP 502 (2 attempts)" in str(e)),
])
def test_refusals_and_server_errors(tmp_path, httpserver, status, check):
    httpserver.expect_request("/f").respond_with_data("x", status=status, headers={"Retry-After": "30"})
    config = _config(tmp_path, [{"url": httpserver.url_for("/f")}], retries=1)
    source = RssSource(config.sources["rss"], config)
    with pytest.raises(SourceError) as info:
        list(source.collect(source.queries()[0], None))
    assert check(info.value)
    assert source.check() == [str(info.value)]


def test_a_feed_with_only_last_modified_is_asked_if_modified_since(tmp_path, httpserver):
    stamp = "Tue, 24 Nov 2026 01:00:00 GMT"
    doc = rss("Blog", [{"guid": "b1", "title": "Why we left Brightwave", "description": "A long story",
                        "pubDate": _ago(5)}])
    seen: list[str | None] = []

    def serve(request: Request) -> Response:
        seen.append(request.headers.get("If-Modified-Since"))
        if request.headers.get("If-Modified-Since") == stamp:
            return Response(status=304)
        return Response(doc, content_type=RSS, headers={"Last-Modified": stamp})

    httpserver.expect_request("/blog.rss").respond_with_handler(serve)
    config = _config(tmp_path, [{"url": httpserver.url_for("/blog.rss")}])
    with Store(config.db_path) as store:
        first, _ = run_once(config, "rss", store)
        second, errors = run_once(config, "rss", store)
    assert seen == [None, stamp]
    assert (first.new, second.fetched, errors) == (1, 0, [])


def test_one_site_refusing_us_does_not_hold_back_feeds_on_other_sites(tmp_path, httpserver):
    httpserver.expect_request("/blocked.rss").respond_with_data("Forbidden", status=403)
    doc = rss("Ok", [{"guid": "ok1", "title": "Brightwave price rise", "description": "Again", "pubDate": _ago(1)}])
    httpserver.expect_request("/ok.rss").respond_with_data(doc, content_type=RSS)
    blocked = httpserver.url_for("/blocked.rss")  # http://localhost:PORT/…
    other_site = f"http://127.0.0.1:{httpserver.port}/ok.rss"  # another host name, as far as feeds go
    config = _config(tmp_path, [{"url": blocked}, {"url": blocked + "?page=2"}, {"url": other_site}])
    with Store(config.db_path) as store:
        result, errors = run_once(config, "rss", store)
    assert result.new == 1
    assert len(errors) == 1 and "HTTP 403" in errors[0]  # the second feed on the refusing site was skipped
