"""Bluesky Jetstream through the real `websockets` client against a local Jetstream on 127.0.0.1."""

from __future__ import annotations

import pytest

from listener.streams.jetstream import JetstreamStream
from tests.fakes_streams.jetstream import FakeJetstream
from tests.stream_support import Running, rows, stream_config, wait_for


@pytest.fixture
def jet():
    with FakeJetstream() as fake:
        yield fake


def _stream(tmp_path, jet, **section):
    config = stream_config(tmp_path, {"jetstream": {"url": jet.url, "backoff_base_seconds": 0.05,
                                                     "backoff_max_seconds": 0.2, "flush_seconds": 0.05,
                                                     **section}})
    return JetstreamStream(config.streams.jetstream, config), config


def _mentions(config):
    return rows(config, "SELECT native_id, brand, text, url, thread_key, source_lang FROM mentions "
                        "WHERE source = 'bluesky' ORDER BY id")


def test_posts_that_mention_a_brand_are_stored_and_the_rest_only_move_the_cursor(tmp_path, jet):
    stream, config = _stream(tmp_path, jet)
    with Running(stream, config) as running:
        wait_for(lambda: jet.connections, what="the connection")
        jet.post("Anyone else's Brightwave router rebooting every night?", did="did:plc:carol", rkey="3kaaa")
        jet.post("lovely sunset over the bay tonight")
        jet.other("identity")
        jet.other("commit", "app.bsky.feed.like")
        jet.post("Lumacell support fixed it in five minutes, impressed", langs=["en"])
        jet.post("Off to the brightwave festival this weekend")  # an exclusion of Brightwave
        last = jet.post("nothing to see here")
        wait_for(lambda: rows(config, "SELECT value FROM cursors WHERE query_key = 'stream:jetstream'")
                 and rows(config, "SELECT value FROM cursors WHERE query_key = 'stream:jetstream'")[0]["value"]
                 == str(last["time_us"]), what="the cursor to reach the last event")
        stored = _mentions(config)
        assert running.woken, "the daemon is told at once that new mentions arrived"
    assert [(m["brand"], m["native_id"]) for m in stored] == [
        ("Brightwave", "at://did:plc:carol/app.bsky.feed.post/3kaaa"), ("Lumacell", stored[1]["native_id"])]
    assert stored[0]["url"] == "https://bsky.app/profile/did:plc:carol/post/3kaaa"
    # wantedCollections asked the server for posts only: the like never reached us
    assert jet.connections[0].params["wantedCollections"] == "app.bsky.feed.post"
    status = rows(config, "SELECT * FROM stream_status")[0]
    assert status["state"] == "stopped" and status["mentions"] == 2 and status["events"] >= 6


def test_a_reply_joins_its_root_posts_thread(tmp_path, jet):
    stream, config = _stream(tmp_path, jet)
    with Running(stream, config):
        wait_for(lambda: jet.connections)
        root = jet.post("Brightwave outage in Leeds again?", did="did:plc:dan", rkey="3kroot")
        jet.post("same here, Brightwave down since 8", did="did:plc:erin",
                 reply_root=f"at://did:plc:dan/app.bsky.feed.post/{root['commit']['rkey']}")
        wait_for(lambda: len(_mentions(config)) == 2)
    keys = {m["thread_key"] for m in _mentions(config)}
    assert keys == {"bluesky:at://did:plc:dan/app.bsky.feed.post/3kroot"}


def test_a_dropped_connection_reconnects_from_the_cursor_rewound_and_nothing_is_doubled(tmp_path, jet):
    stream, config = _stream(tmp_path, jet, rewind_seconds=5)
    jet.drop_after = [3]  # the first connection dies after three events
    with Running(stream, config):
        wait_for(lambda: jet.connections)
        posts = [jet.post(f"Brightwave update #{i}: still no signal", rkey=f"3k{i:03d}") for i in range(8)]
        wait_for(lambda: len(_mentions(config)) == 8, what="all eight posts")
    assert len(jet.connections) == 2
    second = jet.connections[1]
    # the second connection asked for a replay a few seconds before the last stored event
    assert int(second.params["cursor"]) <= posts[2]["time_us"] - 5_000_000 + 1
    assert len(second.sent) >= 8, "the replay re-sent the events around the cursor"
    assert sorted(m["native_id"].rsplit("/", 1)[1] for m in _mentions(config)) == [f"3k{i:03d}" for i in range(8)]
    status = rows(config, "SELECT reconnects, last_error FROM stream_status")[0]
    assert status["reconnects"] == 1 and "closed" in status["last_error"]


def test_a_restart_replays_from_the_stored_cursor(tmp_path, jet):
    stream, config = _stream(tmp_path, jet, rewind_seconds=0)
    with Running(stream, config):
        wait_for(lambda: jet.connections)
        jet.post("Brightwave before the restart", rkey="3kbefore")
        wait_for(lambda: len(_mentions(config)) == 1)
    # posted while the daemon was down
    jet.post("Brightwave while we were down", rkey="3kduring")
    stream, config = _stream(tmp_path, jet, rewind_seconds=0)
    with Running(stream, config):
        wait_for(lambda: len(_mentions(config)) == 2, what="the post made while stopped")
    assert "cursor" in jet.connections[1].params
    assert [m["native_id"].rsplit("/", 1)[1] for m in _mentions(config)] == ["3kbefore", "3kduring"]


def test_a_refused_handshake_backs_off_and_the_status_says_why(tmp_path, jet):
    stream, config = _stream(tmp_path, jet, backoff_base_seconds=0.2, backoff_max_seconds=0.4)
    jet.refuse = [503, 429]
    with Running(stream, config):
        wait_for(lambda: jet.connections, what="the third attempt to get through")
        status = rows(config, "SELECT * FROM stream_status")[0]
        assert status["reconnects"] == 2 and status["errors"] == 2
        assert "HTTP 429" in status["last_error"]
        wait_for(lambda: rows(config, "SELECT state FROM stream_status")[0]["state"] == "connected")


def test_a_broken_frame_and_a_post_without_text_are_handled_and_the_stream_goes_on(tmp_path, jet):
    stream, config = _stream(tmp_path, jet)
    with Running(stream, config):
        wait_for(lambda: jet.connections)
        jet.broken()
        jet.post("", record={"$type": "app.bsky.feed.post", "createdAt": "2026-12-01T10:00:00Z",
                             "embed": {"$type": "app.bsky.embed.images", "images": []}})
        jet.post("Brightwave", record={"$type": "app.bsky.feed.post", "text": "Brightwave is down",
                                       "createdAt": "yesterday"})
        jet.post("Brightwave after the junk", rkey="3kgood")
        wait_for(lambda: len(_mentions(config)) == 1)
        wait_for(lambda: len(rows(config, "SELECT * FROM quarantine")) == 2)
    bad = rows(config, "SELECT location, reason FROM quarantine ORDER BY id")
    assert "not an event" in bad[0]["reason"]
    assert "createdAt" in bad[1]["reason"] and "time_us" in bad[1]["location"]


def test_a_stop_returns_promptly_while_the_stream_is_idle(tmp_path, jet):
    stream, config = _stream(tmp_path, jet)
    running = Running(stream, config).__enter__()
    wait_for(lambda: rows(config, "SELECT state FROM stream_status") and
             rows(config, "SELECT state FROM stream_status")[0]["state"] == "connected")
    assert running.stop() < 2


def test_the_prefilter_never_drops_a_post_the_brand_queries_match(tmp_path):
    from benchmarks.corpus import generate
    from listener.query import BrandMatcher
    from listener.streams.jetstream import JetstreamMatcher, _normalise

    config = stream_config(tmp_path, {"jetstream": {}}, competitors=[
        {"name": "Lumacell", "keywords": ["Lumacell"]},
        {"name": "ドトール", "keywords": ["ドトール"]},
        {"name": "Café Nuit", "keywords": ["Café Nuit"], "exclusions": ["nuit blanche"]}])
    events = JetstreamMatcher(config)
    matcher = BrandMatcher(config.all_tracked())
    texts = [r["text"] for r in generate(3000, seed=3) if "text" in r] + [
        "Ｂｒｉｇｈｔｗａｖｅ のルーターが壊れた", "Brightwaveのアプリ最悪", "ドトールで仕事中", "café nuit was lovely",
        "BRIGHTWAVE!!!", "#brightwave down?", "@Brightwave help", "brightwave festival tickets", "lumacells"]
    for text in texts:
        if matcher.matches(text):
            assert events.prefilter.search(_normalise(text)), text
    assert not events.prefilter.search(_normalise("lovely sunset over the bay"))
