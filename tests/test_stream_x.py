"""The X filtered stream (requests streaming, the X source's own mention building) against a local X API."""

from __future__ import annotations

import pytest

from listener.streams.base import Backoff
from listener.streams.xstream import XStream
from tests.fakes_streams.x_stream import FakeXStream
from tests.stream_support import Running, rows, stream_config, wait_for

TOKEN = "stream-token"


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)
    with FakeXStream(TOKEN) as server:
        yield server


def _stream(tmp_path, fake, **section):
    config = stream_config(
        tmp_path,
        {"x": {"tcp_backoff_seconds": 0.05, "tcp_backoff_max_seconds": 0.2, "backoff_base_seconds": 0.1,
               "backoff_max_seconds": 0.3, "rate_limit_backoff_seconds": 0.3, "flush_seconds": 0.05,
               "silence_seconds": 2, **section}},
        {"x": {"api_url": fake.base_url, "mentions_timeline": False}})
    return XStream(config.streams.x, config), config


def _mentions(config):
    return rows(config, "SELECT native_id, brand, text, author, author_followers, thread_key FROM mentions "
                        "WHERE source = 'x' ORDER BY id")


def test_rules_are_added_for_each_brand_stale_ones_deleted_and_others_left_alone(tmp_path, fake):
    fake.rules = [
        {"id": "1", "value": "Brightwave OR oldname", "tag": "overheard:Brightwave"},  # our rule, outdated
        {"id": "2", "value": "Zentrix", "tag": "overheard:Zentrix"},  # a brand since removed
        {"id": "3", "value": "cats has:images", "tag": "someone-else"},  # not ours
    ]
    stream, _config = _stream(tmp_path, fake)
    assert stream.sync_rules() == {"added": 2, "deleted": 2, "kept": 0}
    tags = {r["tag"]: r["value"] for r in fake.rules}
    assert tags["someone-else"] == "cats has:images"
    assert set(tags) == {"someone-else", "overheard:Brightwave", "overheard:Lumacell"}
    assert "Brightwave" in tags["overheard:Brightwave"] and '-"brightwave festival"' in tags["overheard:Brightwave"]
    assert stream.sync_rules() == {"added": 0, "deleted": 0, "kept": 2}  # in sync: nothing sent


def test_matching_posts_are_stored_under_the_brand_their_rule_is_tagged_with(tmp_path, fake):
    stream, config = _stream(tmp_path, fake)
    with Running(stream, config) as running:
        wait_for(lambda: fake.connections, what="the stream connect")
        root = fake.post("Brightwave billing charged me twice this month", username="mo_r", followers=52_000)
        fake.post("completely unrelated post about lunch")
        fake.post("Lumacell coverage is great in Hull")
        fake.post("@Brightwave any update on the outage?", reply_to=root, username="jules")
        wait_for(lambda: len(_mentions(config)) == 3, what="three mentions")
        assert running.woken
    got = _mentions(config)
    assert [(m["brand"], m["author"]) for m in got] == [("Brightwave", "mo_r"), ("Lumacell", "dana_k"),
                                                        ("Brightwave", "jules")]
    assert got[0]["author_followers"] == 52_000
    assert got[2]["thread_key"] == got[0]["thread_key"] == f"x:{root}"
    _, path, params, _ = next(r for r in fake.requests if r[1] == "/2/tweets/search/stream")
    assert "public_metrics" in params["tweet.fields"] and "author_id" in params["expansions"]


def test_a_cut_connection_reconnects_and_rate_limits_wait_longer(tmp_path, fake):
    stream, config = _stream(tmp_path, fake)
    fake.drop_after = [1]
    with Running(stream, config):
        wait_for(lambda: fake.connections == 1)
        fake.refuse = [429]
        fake.post("Brightwave down again")
        wait_for(lambda: fake.connections >= 3, what="a reconnect after the 429")
        fake.post("Brightwave back up, thanks team")
        wait_for(lambda: len(_mentions(config)) == 2)
        status = rows(config, "SELECT * FROM stream_status")[0]
    assert status["reconnects"] == 2 and status["errors"] == 2
    assert "429" in status["last_error"]


def test_silence_beyond_the_limit_counts_as_a_disconnect(tmp_path, fake):
    stream, config = _stream(tmp_path, fake, silence_seconds=0.6)
    fake.silent = [True]  # the first connection sends not even keep-alives
    with Running(stream, config):
        wait_for(lambda: fake.connections >= 2, timeout=10, what="a reconnect after the silence")
        status = rows(config, "SELECT last_error FROM stream_status")[0]
        assert "sent nothing" in status["last_error"]
        fake.post("Brightwave speed test results are in")
        wait_for(lambda: len(_mentions(config)) == 1)


def test_an_operational_disconnect_and_a_broken_line_are_handled(tmp_path, fake):
    stream, config = _stream(tmp_path, fake)
    with Running(stream, config):
        wait_for(lambda: fake.connections == 1)
        fake.post("", raw="{half a line")
        fake.operational_disconnect()
        wait_for(lambda: fake.connections == 2, what="the reconnect after X ended the stream")
        fake.post("Brightwave router lights all red")
        wait_for(lambda: len(_mentions(config)) == 1)
    assert "operational-disconnect" in rows(config, "SELECT last_error FROM stream_status")[0]["last_error"]
    assert "not JSON" in rows(config, "SELECT reason FROM quarantine")[0]["reason"]


def test_a_refused_token_is_an_auth_error_in_the_status(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "wrong")
    stream, config = _stream(tmp_path, fake)
    with Running(stream, config):
        wait_for(lambda: rows(config, "SELECT errors FROM stream_status WHERE errors > 0"))
    assert "refused the bearer token" in rows(config, "SELECT last_error FROM stream_status")[0]["last_error"]


def test_backoff_follows_x_linear_for_network_and_exponential_for_http_with_bounded_jitter():
    net = Backoff(0.25, 16, linear=True, rng=lambda: 0.0)
    assert [net.next() for _ in range(4)] == [0.25, 0.5, 0.75, 1.0]
    http = Backoff(5, 320, rng=lambda: 0.0)
    assert [http.next() for _ in range(8)] == [5, 10, 20, 40, 80, 160, 320, 320]
    jittered = Backoff(5, 320, rng=lambda: 1.0)
    waits = [jittered.next() for _ in range(10)]
    assert waits[0] == 6.25 and max(waits) == 400  # never more than a quarter above the cap
    jittered.reset()
    assert jittered.next() == 6.25


def test_a_stop_breaks_a_blocked_read_at_once(tmp_path, fake):
    stream, config = _stream(tmp_path, fake, silence_seconds=30)
    fake.silent = [True]
    running = Running(stream, config).__enter__()
    wait_for(lambda: rows(config, "SELECT state FROM stream_status WHERE state = 'connected'"))
    assert running.stop() < 2


def test_a_retweet_is_stored_with_its_original_full_text_in_the_original_thread(tmp_path, fake):
    stream, config = _stream(tmp_path, fake)
    original_text = ("Brightwave has been down in Leeds since 7am and the status page still says all systems "
                     "operational. Three calls, three different answers, and nobody can tell me when it is back")
    original = {"id": "1861000000000000001", "text": original_text, "author_id": "777",
                "created_at": "2026-11-28T07:40:00.000Z", "conversation_id": "1861000000000000001", "lang": "en",
                "edit_history_tweet_ids": ["1861000000000000001"],
                "public_metrics": {"retweet_count": 15, "reply_count": 4, "like_count": 60, "quote_count": 2,
                                   "bookmark_count": 1, "impression_count": 9000}}
    author = {"id": "777", "username": "leeds_lou", "name": "Lou", "verified": False,
              "public_metrics": {"followers_count": 3400, "following_count": 300, "tweet_count": 5000,
                                 "listed_count": 3}}
    with Running(stream, config):
        wait_for(lambda: fake.connections, what="the stream connect")
        fake.post(original_text, username="sam_p", followers=800,
                  retweet_of={"data": original, "user": author})
        wait_for(lambda: len(_mentions(config)) == 2, what="the original and the retweet")
    got = {m["native_id"]: m for m in rows(config, "SELECT native_id, text, author, thread_key, engagement "
                                                   "FROM mentions WHERE source = 'x'")}
    assert got["1861000000000000001"]["text"] == original_text and got["1861000000000000001"]["author"] == "leeds_lou"
    retweet = next(m for k, m in got.items() if k != "1861000000000000001")
    assert not retweet["text"].startswith("RT @") and retweet["text"] == original_text
    assert retweet["thread_key"] == got["1861000000000000001"]["thread_key"]
    assert retweet["engagement"] == 0  # the original's counts are counted once, on the original
