"""End to end through the CLI: `overheard run --once` collects from open-web sources on 127.0.0.1,
scores what it stored and rolls it up into threads; a second run stores nothing twice."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner

from listener.cli import cli
from listener.models import utcnow
from listener.store import Store
from tests.fakes_web.appstore import Review, entry, page, path
from tests.fakes_web.hackernews import AlgoliaFake, comment, story
from tests.helpers import write_config

APP = "1234567890"


def test_run_once_collects_scores_and_threads_reviews_and_hn_comments(tmp_path, httpserver):
    now = utcnow().replace(microsecond=0)
    reviews = [entry(Review("9001", 1, "Terrible", "Charged twice and support never answered. Refund please!",
                            now - timedelta(hours=1))),
               entry(Review("9002", 5, "Great", "Love the new widgets", now - timedelta(hours=2)))]
    httpserver.expect_request(path(APP, "us", 1)).respond_with_json(page(APP, "us", 1, reviews))
    httpserver.expect_request(path(APP, "us", 2)).respond_with_json(page(APP, "us", 2, []))
    httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(AlgoliaFake({"Brightwave": [[
        story(10, "Brightwave is down again", now - timedelta(hours=3), comments=2),
        comment(11, "Brightwave support is awful, switching to Lumacell", now - timedelta(hours=2),
                story_id=10, parent_id=10),
    ]]}))
    base = httpserver.url_for("/").rstrip("/")
    config_path = write_config(tmp_path, f"""
    [store]
    path = "overheard.db"

    [sources.appstore]
    base_url = "{base}"
    [[sources.appstore.apps]]
    id = "{APP}"
    brand = "Brightwave"

    [sources.hackernews]
    base_url = "{base}"
    """)
    runner = CliRunner()
    first = runner.invoke(cli, ["run", "--once", "--config", str(config_path)])
    assert first.exit_code == 0, first.output
    assert "4 new this run" in first.output
    second = runner.invoke(cli, ["run", "--once", "--config", str(config_path)])
    assert second.exit_code == 0, second.output
    assert "(0 new this run)" in second.output
    with Store(tmp_path / "overheard.db") as store:
        rows = {r["native_id"]: r for r in store.query("SELECT * FROM mentions")}
        threads = {r["thread_key"]: r for r in store.query("SELECT * FROM threads")}
    assert set(rows) == {"9001", "9002", "10", "11"}
    assert rows["9001"]["label"] == "negative" and rows["9002"]["label"] == "positive"
    assert threads["hackernews:10"]["mentions"] == 2  # the story and its comment are one thread
    assert threads["appstore:9001"]["negative"] == 1


# ---------------------------------------------------------------- overheard collect --source / doctor
def _appstore(httpserver, now):
    reviews = [entry(Review("9001", 2, "Meh", "Brightwave app keeps logging me out", now - timedelta(hours=1)))]
    httpserver.expect_request(path(APP, "us", 1)).respond_with_json(page(APP, "us", 1, reviews))
    httpserver.expect_request(path(APP, "us", 2)).respond_with_json(page(APP, "us", 2, []))
    return f'[[sources.appstore.apps]]\nid = "{APP}"\nbrand = "Brightwave"\n', "base_url"


def _googleplay(httpserver, now):
    from tests.fakes_web.googleplay import PlayFake, PlayReview

    httpserver.expect_request("/_/PlayStoreUi/data/batchexecute", method="POST").respond_with_handler(
        PlayFake({"com.brightwave.app": [PlayReview("gp:1", 1, "Crashes", now - timedelta(hours=1))]}))
    return '[[sources.googleplay.apps]]\nid = "com.brightwave.app"\nbrand = "Brightwave"\n', "base_url"


def _rss(httpserver, now):
    from tests.fakes_web.feeds import rss

    doc = rss("News", [{"guid": "n1", "title": "Brightwave outage", "description": "Down for hours",
                        "pubDate": now - timedelta(hours=1)}])
    httpserver.expect_request("/feed.xml").respond_with_data(doc, content_type="application/rss+xml")
    return f'[[sources.rss.feeds]]\nurl = "{httpserver.url_for("/feed.xml")}"\n', None


def _hackernews(httpserver, now):
    httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(AlgoliaFake({"Brightwave": [[
        comment(11, "Brightwave support is awful", now - timedelta(hours=2), story_id=10, parent_id=10)]]}))
    return "", "base_url"


def _mastodon(httpserver, now):
    from tests.fakes_web.mastodon import MastodonFake, Post, status_id

    when = now - timedelta(hours=1)
    host = f"{httpserver.host}:{httpserver.port}"
    httpserver.expect_request(re.compile(r"^/api/")).respond_with_handler(
        MastodonFake(host, [Post(status_id(when), "<p>Brightwave down #brightwave</p>", when, tags=["brightwave"])]))
    return f'[[sources.mastodon.instances]]\nurl = "{httpserver.url_for("/").rstrip("/")}"\n', None


def _bluesky(httpserver, now):
    from tests.fakes_web.bluesky import BlueskyFake, Skeet

    httpserver.expect_request(re.compile(r"^/xrpc/")).respond_with_handler(
        BlueskyFake([Skeet("3ka", "Brightwave billing is broken", now - timedelta(hours=1))],
                    handle="me.bsky.social", password="pw"))
    return 'handle = "me.bsky.social"\napp_password_env = "OVERHEARD_TEST_BSKY"\n', "base_url"


SETUPS = {"appstore": _appstore, "googleplay": _googleplay, "rss": _rss, "hackernews": _hackernews,
          "mastodon": _mastodon, "bluesky": _bluesky}


@pytest.mark.parametrize("name", list(SETUPS))
def test_overheard_collect_source_and_doctor_work_for_each_web_source(tmp_path, httpserver, monkeypatch, name):
    monkeypatch.setenv("OVERHEARD_TEST_BSKY", "pw")
    body, base_key = SETUPS[name](httpserver, utcnow().replace(microsecond=0))
    base = f'{base_key} = "{httpserver.url_for("/").rstrip("/")}"\n' if base_key else ""
    config_path = write_config(tmp_path, f'[store]\npath = "overheard.db"\n\n[sources.{name}]\n{base}'
                                         f"retry_backoff_seconds = 0\n{body}")
    runner = CliRunner()
    doctor = runner.invoke(cli, ["doctor", "--config", str(config_path)])
    assert doctor.exit_code == 0 and f"{name}: OK" in doctor.output, doctor.output
    first = runner.invoke(cli, ["collect", "--source", name, "--config", str(config_path)])
    assert first.exit_code == 0, first.output
    assert f"{name}: 1 fetched, 1 new, 0 already stored, 0 quarantined" in first.output
    again = runner.invoke(cli, ["collect", "--source", name, "--config", str(config_path)])
    assert again.exit_code == 0, again.output
    # a feed without ETag is read again (1 fetched, 1 already stored); nothing is stored twice
    assert re.search(rf"^{name}: \d fetched, 0 new", again.output, flags=re.M), again.output
    with Store(tmp_path / "overheard.db") as store:
        assert store.scalar("SELECT COUNT(*) FROM mentions WHERE source = ?", [name]) == 1
