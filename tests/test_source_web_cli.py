"""End to end through the CLI: `overheard run --once` collects from open-web sources on 127.0.0.1,
scores what it stored and rolls it up into threads; a second run stores nothing twice."""

from __future__ import annotations

from datetime import timedelta

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
