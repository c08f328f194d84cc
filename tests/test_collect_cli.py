"""`overheard collect`, `overheard doctor` and `overheard query`, end to end against the fake APIs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from listener.cli import cli
from listener.commands.collect import parse_duration
from listener.errors import UserError
from listener.store import Store
from tests.fakes.appconfig import write_config
from tests.fakes.reddit import FakeReddit
from tests.fakes.x_api import FakeXApi

UA = "python:overheard-tests:0.1 (by /u/overheard)"


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "tok")
    monkeypatch.setenv("REDDIT_CLIENT_ID", "cid")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "sec")
    with FakeXApi(tokens={"tok"}) as x, FakeReddit("cid", "sec") as reddit:
        yield x, reddit


def config_for(tmp_path, x, reddit, **x_overrides):
    return write_config(tmp_path, {
        "x": {"api_url": x.base_url, "max_results": 10, "retry_backoff_seconds": 0, **x_overrides},
        "reddit": {"oauth_url": reddit.base_url, "reddit_url": reddit.base_url, "user_agent": UA,
                   "author_karma_lookups": 0, "retry_backoff_seconds": 0},
    })


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def mentions(tmp_path, source):
    with Store(tmp_path / "overheard.db") as store:
        return store.query("SELECT brand, text FROM mentions WHERE source = ? ORDER BY text", [source])


def test_collect_fills_the_store_and_reports_counts(tmp_path, fakes):
    x, reddit = fakes
    x.add_user("BrightwaveHelp")
    now = datetime.now(UTC)
    for i in range(12):
        x.add_tweet(f"Brightwave outage day {i}", f"u{i}", created_at=now - timedelta(minutes=60 - i))
    x.add_tweet("Lumacell is great", "fan", created_at=now - timedelta(minutes=5))
    reddit.add_post("techsupport", "Brightwave router keeps rebooting", created_utc=time.time() - 300)
    path = config_for(tmp_path, x, reddit)

    result = run("collect", "--source", "x", "--config", path)
    assert result.exit_code == 0, result.output
    assert "x: 13 fetched, 13 new, 0 already stored, 0 quarantined" in result.output
    assert "search:Brightwave" in result.output  # the progress line of the query
    assert {m["brand"] for m in mentions(tmp_path, "x")} == {"Brightwave", "Lumacell"}
    assert mentions(tmp_path, "reddit") == []  # only the named source

    again = run("collect", "--source", "x", "--config", path)
    assert "x: 0 fetched, 0 new" in again.output

    result = run("collect", "--source", "reddit", "--brand", "Brightwave", "--backfill", "3d", "--config", path)
    assert result.exit_code == 0, result.output
    assert [m["text"] for m in mentions(tmp_path, "reddit")] == ["Brightwave router keeps rebooting"]
    assert not reddit.served("/search") or all("Lumacell" not in r.params.get("q", "")
                                               for r in reddit.served("/search"))
    assert reddit.served("/search")[0].params["t"] == "week"  # 3 days back


def test_collect_with_a_missing_secret_says_which_variable(tmp_path, fakes, monkeypatch):
    x, reddit = fakes
    path = config_for(tmp_path, x, reddit)
    monkeypatch.delenv("X_BEARER_TOKEN")
    result = run("collect", "--source", "x", "--config", path)
    assert result.exit_code == 2
    assert "sources.x.bearer_token_env: environment variable X_BEARER_TOKEN is not set" in result.output


def test_collect_rejects_unknown_sources_brands_and_durations(tmp_path, fakes):
    path = config_for(tmp_path, *fakes)
    result = run("collect", "--source", "mastodon", "--config", path)
    assert result.exit_code == 2 and "no [sources.mastodon] section (configured: x, reddit)" in result.output
    result = run("collect", "--brand", "Nope", "--config", path)
    assert result.exit_code == 2 and "--brand 'Nope'" in result.output
    result = run("collect", "--backfill", "a week", "--config", path)
    assert result.exit_code == 2 and "--backfill 'a week' is not a duration" in result.output


def test_collect_exits_1_and_says_why_when_a_source_fails(tmp_path, fakes):
    x, reddit = fakes
    path = config_for(tmp_path, x, reddit)
    x.rate_limit_next(1, reset_in=300)
    result = run("collect", "--source", "x", "--config", path)
    assert result.exit_code == 1
    assert "X rate limit reached for recent search; it resets in" in result.output


def test_doctor_says_exactly_what_is_wrong(tmp_path, fakes, monkeypatch):
    x, reddit = fakes
    reddit.add_subreddit("brightwave")
    path = write_config(tmp_path, {
        "x": {"api_url": x.base_url},
        "reddit": {"oauth_url": reddit.base_url, "reddit_url": reddit.base_url, "user_agent": UA,
                   "subreddits": ["brightwave", "gone_sub"]},
    })
    result = run("doctor", "--config", path)
    assert result.exit_code == 1
    assert "✗ x:" in result.output and "X has no account @BrightwaveHelp" in result.output
    assert "✗ reddit:" in result.output and "r/gone_sub" in result.output

    x.add_user("BrightwaveHelp")
    path = config_for(tmp_path, x, reddit)
    result = run("doctor", "--config", path)
    assert result.exit_code == 0, result.output
    assert "✓ x: OK" in result.output and "✓ reddit: OK" in result.output

    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "stale")
    monkeypatch.delenv("X_BEARER_TOKEN")
    result = run("doctor", "--config", path)
    assert result.exit_code == 1
    assert "environment variable X_BEARER_TOKEN is not set" in result.output
    assert "Reddit refused the app credentials in $REDDIT_CLIENT_ID / $REDDIT_CLIENT_SECRET" in result.output


def test_query_test_explains_and_sets_the_exit_status(tmp_path):
    result = run("query", "test", '("bright wave" OR brightwave) -festival', "Brightwave Festival 2026")
    assert result.exit_code == 1
    assert result.output.startswith("NO MATCH")
    assert "the excluded part is present" in result.output
    assert 'sent to X as:      ("bright wave" OR brightwave) -festival' in result.output

    result = run("query", "test", "brightwave router", "my BRIGHTWAVE router 📶")
    assert result.exit_code == 0 and result.output.startswith("MATCH")

    result = run("query", "test", "(brightwave", "x")
    assert result.exit_code == 2 and "never closed" in result.output


def test_query_test_with_a_brand_uses_its_config(tmp_path):
    path = write_config(tmp_path, {})
    result = run("query", "test", "--brand", "Brightwave", "@BrightwaveHelp festival refund", "--config", path)
    assert result.exit_code == 1 and "NOT festival" in result.output
    result = run("query", "show", "--config", path)
    assert result.exit_code == 0
    assert 'X:      (Brightwave OR "Bright Wave" OR @BrightwaveHelp) -festival' in result.output


def test_durations():
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("2W") == timedelta(weeks=2)
    with pytest.raises(UserError):
        parse_duration("7")


def test_the_commented_example_sections_are_valid_config():
    import re
    import tomllib

    from listener.commands.core import EXAMPLE
    from listener.sources.reddit import RedditConfig
    from listener.sources.x import XConfig

    text = EXAMPLE.read_text(encoding="utf-8")
    block = text[text.index("# @sources-x-reddit"):text.index("# @sources-web")]
    uncommented = "\n".join(line[2:] for line in block.splitlines()
                            if re.match(r"# (\[|[A-Za-z_]+ = )", line))
    sections = tomllib.loads(uncommented)["sources"]
    x, reddit = XConfig.model_validate(sections["x"]), RedditConfig.model_validate(sections["reddit"])
    # every key of both sections is documented there
    assert set(sections["x"]) == set(XConfig.model_fields)
    assert set(sections["reddit"]) == set(RedditConfig.model_fields)
    assert x.api_url == "https://api.twitter.com" and reddit.communities == {"Brightwave": ["brightwave"]}


def test_collected_x_threads_flow_through_the_pipeline(tmp_path, fakes):
    """A complaint, its replies and the brand's answer become one thread with reach and a brand reply."""
    from listener.config import load_config
    from listener.pipeline import run_pipeline

    x, reddit = fakes
    brand = x.add_user("BrightwaveHelp", followers=80_000)
    angry = x.add_user("angry_customer", followers=25_000)
    now = datetime.now(UTC)
    root = x.add_tweet("@BrightwaveHelp charged twice and still no refund. Switching to Lumacell, this is a scam",
                       angry, created_at=now - timedelta(minutes=30), likes=40, retweets=12)
    x.add_tweet("@BrightwaveHelp same here, terrible service", "another", reply_to=root,
                created_at=now - timedelta(minutes=20))
    x.add_tweet("@angry_customer sorry about this, please DM us", brand, reply_to=root,
                created_at=now - timedelta(minutes=10))
    path = config_for(tmp_path, x, reddit)
    config = load_config(path, check_secrets=False)
    with Store(config.db_path) as store:
        report = run_pipeline(config, store, sources=["x"], trends=False)
        assert report.collected.errors == []
        thread = store.query("SELECT * FROM threads WHERE thread_key = ?", [f"x:{root}"])[0]
        members = store.query("SELECT author, is_brand_account, label FROM mentions WHERE thread_key = ?",
                              [f"x:{root}"])
    assert len(members) == 3
    assert any(m["is_brand_account"] for m in members)
    assert {m["label"] for m in members if not m["is_brand_account"]} == {"negative"}
    assert thread["risk"] > 0
