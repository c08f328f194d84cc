"""Mastodon streaming through the real Mastodon.py (stream_hashtag / stream_list, server-sent events)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from listener.errors import ConfigError
from listener.models import utcnow
from listener.streams import build_streams
from tests.fakes_streams.mastodon_sse import StreamingMastodon
from tests.fakes_web.mastodon import Post, status_id
from tests.stream_support import Running, rows, stream_config, wait_for

TOKEN = "masto-token"
_seq = iter(range(1, 10_000))


def _post(html: str, tags: list[str] | None = None, minutes_ago: float = 0, **kw) -> Post:
    when = utcnow().replace(microsecond=0) - timedelta(minutes=minutes_ago)
    return Post(status_id(when, next(_seq)), html, when, tags=tags or [], **kw)


@pytest.fixture
def masto(monkeypatch):
    monkeypatch.setenv("MASTO_TOKEN", TOKEN)
    with StreamingMastodon(token=TOKEN) as server:
        yield server


def _streams(tmp_path, masto, stream=None, **source):
    config = stream_config(
        tmp_path,
        {"mastodon": {"backoff_base_seconds": 0.05, "backoff_max_seconds": 0.2, "flush_seconds": 0.05,
                      "silence_seconds": 5, **(stream or {})}},
        {"mastodon": {"instances": [{"url": masto.url, "access_token_env": "MASTO_TOKEN"}], "search": False,
                      "retry_backoff_seconds": 0, "hashtags": {"Brightwave": ["brightwave"], "Lumacell": []},
                      **source}})
    return build_streams(config), config


def _mentions(config):
    return rows(config, "SELECT native_id, brand, text, author FROM mentions WHERE source = 'mastodon' ORDER BY id")


def test_one_stream_per_instance_hashtag_and_list(tmp_path, masto):
    streams, _ = _streams(tmp_path, masto, {"lists": {masto.host: ["7"]}})
    assert [s.name for s in streams] == [f"mastodon {masto.host} #brightwave", f"mastodon {masto.host} list 7"]


def test_hashtag_posts_arrive_live_and_those_not_about_the_brand_are_skipped(tmp_path, masto):
    (stream,), config = _streams(tmp_path, masto)
    with Running(stream, config) as running:
        wait_for(lambda: masto.stream_connects, what="the stream connect")
        masto.add(_post("<p>My <a href='#'>#Brightwave</a> router died overnight, support?</p>", ["brightwave"],
                        user="kit"))
        masto.add(_post("<p>#brightwave festival lineup is out!</p>", ["brightwave"]))  # excluded phrase
        masto.add(_post("<p>Brightwave but not tagged</p>", []))  # not on the hashtag timeline
        wait_for(lambda: _mentions(config), what="the live post")
        wait_for(lambda: rows(config, "SELECT events FROM stream_status WHERE events >= 2"))
        assert running.woken
    got = _mentions(config)
    assert [(m["brand"], m["author"]) for m in got] == [("Brightwave", f"kit@{masto.host}")]
    assert masto.stream_connects[0]["tag"] == "brightwave"


def test_after_a_drop_the_gap_is_caught_up_from_the_cursor_then_streaming_goes_on(tmp_path, masto):
    (stream,), config = _streams(tmp_path, masto)
    masto.drop_after = [1]
    with Running(stream, config):
        wait_for(lambda: masto.stream_connects)
        masto.add(_post("<p>#Brightwave one</p>", ["brightwave"]))
        wait_for(lambda: len(masto.stream_connects) == 2, what="the reconnect")
        masto.add(_post("<p>#Brightwave two</p>", ["brightwave"]))
        wait_for(lambda: len(_mentions(config)) == 2)
    # restart after a post made while stopped: the REST catch-up from the cursor finds it
    masto.add(_post("<p>#Brightwave three, while the daemon was down</p>", ["brightwave"]))
    (stream,), config = _streams(tmp_path, masto)
    with Running(stream, config):
        wait_for(lambda: len(_mentions(config)) == 3, what="the post made while stopped")
    texts = [m["text"] for m in _mentions(config)]
    assert texts == ["#Brightwave one", "#Brightwave two", "#Brightwave three, while the daemon was down"]
    caught = [args for path, args in masto.requests if path == "/api/v1/timelines/tag/brightwave"]
    assert caught and all("min_id" in a for a in caught)


def test_a_list_stream_needs_the_token_and_matches_any_brand(tmp_path, masto):
    masto.lists["7"] = ["vip"]
    (_tag, stream), config = _streams(tmp_path, masto, {"lists": {masto.host: ["7"]}})
    with Running(stream, config):
        wait_for(lambda: any(c["path"].endswith("/list") for c in masto.stream_connects))
        masto.add(_post("<p>Switching to Lumacell next month</p>", user="vip"))
        masto.add(_post("<p>Lumacell rocks</p>", user="nobody"))
        wait_for(lambda: _mentions(config))
    assert [(m["brand"], m["author"]) for m in _mentions(config)] == [("Lumacell", f"vip@{masto.host}")]


def test_lists_on_an_instance_without_a_token_are_a_config_error(tmp_path, masto):
    with pytest.raises(ConfigError, match=r"streams.mastodon.lists.*access_token_env"):
        _streams(tmp_path, masto, {"lists": {masto.host: ["7"]}},
                 instances=[{"url": masto.url, "access_token_env": ""}])


def test_a_stop_ends_the_blocking_read_promptly(tmp_path, masto):
    (stream,), config = _streams(tmp_path, masto)
    running = Running(stream, config).__enter__()
    wait_for(lambda: rows(config, "SELECT state FROM stream_status WHERE state = 'connected'"))
    assert running.stop() < 2
