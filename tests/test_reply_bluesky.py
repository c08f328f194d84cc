"""Replying on Bluesky through the real atproto client against the brand account's PDS on 127.0.0.1."""

from __future__ import annotations

import json
import re
import time

import pytest

from alerts.replies.base import ReplyRefused
from listener.errors import ConfigError
from tests.fakes_replies.fake_bluesky_replies import BlueskyReplyFake
from tests.fakes_replies.platform_config import platform_replier, replies_config


@pytest.fixture
def pds(httpserver, monkeypatch):
    fake = BlueskyReplyFake()
    httpserver.expect_request(re.compile(r"^/xrpc/")).respond_with_handler(fake)
    monkeypatch.setenv("BLUESKY_REPLY_APP_PASSWORD", fake.password)
    return fake


def _replier(tmp_path, httpserver, **extra):
    return platform_replier(tmp_path, "bluesky", {"base_url": httpserver.url_for("/").rstrip("/"),
                                                  "handle": "brightwave.bsky.social", **extra})


def _row(post, lang="en"):
    """A mentions row as listener.sources.bluesky stores it: the at:// URI as native_id, the post view as raw."""
    return {"source": "bluesky", "native_id": post.uri, "author": post.handle, "text": post.text,
            "url": f"https://bsky.app/profile/{post.handle}/post/{post.uri.rsplit('/', 1)[-1]}",
            "source_lang": lang, "raw": json.dumps({"uri": post.uri, "record": {"text": post.text}})}


def _ref(strong_ref):
    return strong_ref["uri"], strong_ref["cid"]


def test_a_reply_to_a_top_level_post_names_it_as_root_and_parent(tmp_path, httpserver, pds):
    post = pds.add("erin.bsky.social", "3lcomplaint1", "Brightwave router died again")
    posted = _replier(tmp_path, httpserver).post_reply(_row(post), "Sorry Erin, DM us your account number?")
    [body] = pds.created
    assert body["repo"] == "brightwave.bsky.social" and body["collection"] == "app.bsky.feed.post"
    record = body["record"]
    assert record["text"] == "Sorry Erin, DM us your account number?"
    assert _ref(record["reply"]["root"]) == _ref(record["reply"]["parent"]) == (post.uri, post.cid)
    assert record["langs"] == ["en"]
    assert posted.native_id.startswith(f"at://{pds.did}/app.bsky.feed.post/")
    assert posted.url == f"https://bsky.app/profile/brightwave.bsky.social/post/{posted.native_id.rsplit('/', 1)[-1]}"


def test_a_reply_deep_in_a_thread_keeps_the_thread_root(tmp_path, httpserver, pds):
    root = pds.add("frank.bsky.social", "3lroot", "Anyone else with Brightwave outages?")
    middle = pds.add("gina.bsky.social", "3lmid", "yes!!", reply_root=(root.uri, root.cid))
    row = _row(middle, lang="de")
    row["raw"] = json.dumps({"uri": middle.uri})  # a row without cids: the post is read fresh anyway
    _replier(tmp_path, httpserver).post_reply(row, "Wir kümmern uns, Gina. Details: https://status.brightwave.example/x.")
    record = pds.created[0]["record"]
    assert _ref(record["reply"]["root"]) == (root.uri, root.cid)
    assert _ref(record["reply"]["parent"]) == (middle.uri, middle.cid)
    assert record["langs"] == ["de"]
    [facet] = record["facets"]
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert record["text"].encode()[start:end] == b"https://status.brightwave.example/x"
    assert facet["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": "https://status.brightwave.example/x"}]


def test_a_deleted_post_and_a_gated_thread_are_refused_before_posting(tmp_path, httpserver, pds):
    gone = pds.add("hal.bsky.social", "3lgone", "Brightwave!!")
    del pds.posts[gone.uri]
    replier = _replier(tmp_path, httpserver)
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(gone), "Hi Hal")
    assert refused.value.kind == "gone" and "deleted" in refused.value.reason
    gated = pds.add("ida.bsky.social", "3lgated", "Brightwave, fix it", reply_disabled=True)
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(gated), "Hi Ida")
    assert refused.value.kind == "forbidden" and "thread gate" in refused.value.reason
    assert pds.created == []


def test_an_access_token_near_expiry_is_refreshed_by_the_client(tmp_path, httpserver, pds):
    pds.access_lifetime = 60  # atproto refreshes 15 minutes before exp
    post = pds.add("erin.bsky.social", "3lc2", "Brightwave down")
    _replier(tmp_path, httpserver).post_reply(_row(post), "On it")
    assert pds.calls[:2] == ["com.atproto.server.createSession", "com.atproto.server.refreshSession"]
    assert len(pds.created) == 1


def test_an_expired_session_logs_in_again_once(tmp_path, httpserver, pds):
    post = pds.add("erin.bsky.social", "3lc3", "Brightwave down")
    replier = _replier(tmp_path, httpserver)
    replier.post_reply(_row(post), "first")
    pds.expire_sessions()  # hours later: the server no longer knows the session
    replier.post_reply(_row(post), "second")
    assert pds.calls.count("com.atproto.server.createSession") == 2
    assert [b["record"]["text"] for b in pds.created] == ["first", "second"]


def test_a_session_refused_even_after_a_new_login_is_an_auth_refusal(tmp_path, httpserver, pds):
    post = pds.add("erin.bsky.social", "3lc4", "Brightwave down")
    for _ in range(2):
        pds.fail_next.append(("app.bsky.feed.getPosts", 400, {"error": "ExpiredToken", "message": "Token has expired"},
                              {}))
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(_row(post), "hi")
    assert refused.value.kind == "auth" and "right after logging in" in refused.value.reason
    assert pds.calls.count("com.atproto.server.createSession") == 2  # once more, not a loop


def test_a_wrong_app_password_names_the_variable(tmp_path, httpserver, pds, monkeypatch):
    monkeypatch.setenv("BLUESKY_REPLY_APP_PASSWORD", "wrong-pass")
    post = pds.add("erin.bsky.social", "3lc5", "Brightwave down")
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(_row(post), "hi")
    assert refused.value.kind == "auth"
    assert refused.value.reason == ("Bluesky refused the login of brightwave.bsky.social (Invalid identifier or "
                                    "password); make a new app password and put it in BLUESKY_REPLY_APP_PASSWORD")
    assert _replier(tmp_path, httpserver).check() == ["replies.bluesky: " + refused.value.reason]


def test_rate_limit_says_when_to_try_again(tmp_path, httpserver, pds):
    post = pds.add("erin.bsky.social", "3lc6", "Brightwave down")
    reset = int(time.time()) + 90
    pds.fail_next.append(("com.atproto.repo.createRecord", 429,
                          {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                          {"ratelimit-limit": "5000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset),
                           "ratelimit-policy": "5000;w=3600"}))
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(_row(post), "hi")
    assert refused.value.kind == "rate_limited"
    assert 80 <= refused.value.retry_after_s <= 91
    assert pds.created == []


def test_a_taken_down_account_is_forbidden(tmp_path, httpserver, pds):
    post = pds.add("erin.bsky.social", "3lc7", "Brightwave down")
    pds.fail_next.append(("com.atproto.server.createSession", 400,
                          {"error": "AccountTakedown", "message": "Account has been taken down"}, {}))
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(_row(post), "hi")
    assert refused.value.kind == "forbidden" and "taken down" in refused.value.reason


def test_length_counts_graphemes_at_the_limit(tmp_path, httpserver, pds):
    replier = _replier(tmp_path, httpserver)
    assert replier.limit == 300
    assert replier.length("👨‍👩‍👧‍👦🇩🇪é") == 3
    assert replier.length("宽带又断了") == 5
    url = "https://status.brightwave.example/incidents/2026-12-02"
    assert replier.length(url) == len(url)  # Bluesky counts the link's full text
    post = pds.add("erin.bsky.social", "3lc8", "Brightwave down")
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(post), "👨‍👩‍👧‍👦" * 301)
    assert refused.value.kind == "invalid" and "301 characters" in refused.value.reason
    replier.post_reply(_row(post), "宽" * 300)
    assert pds.created[-1]["record"]["text"] == "宽" * 300  # the PDS, counting for itself, took it
    with pytest.raises(ReplyRefused) as refused:  # 300 graphemes but 7,500 bytes: the record's byte limit
        replier.post_reply(_row(post), "👨‍👩‍👧‍👦" * 300)
    assert "bytes" in refused.value.reason
    assert len(pds.created) == 1


def test_no_answer_after_sending_says_it_may_have_been_posted(tmp_path, httpserver, pds):
    post = pds.add("erin.bsky.social", "3lc9", "Brightwave down")

    def slow(request):
        if request.path.endswith("createRecord"):
            time.sleep(1.5)
        return pds(request)

    httpserver.clear()
    httpserver.expect_request(re.compile(r"^/xrpc/")).respond_with_handler(slow)
    with pytest.raises(Exception) as failed:  # noqa: B017 - ReplyUncertain where the reply action has it
        _replier(tmp_path, httpserver, timeout_seconds=0.4).post_reply(_row(post), "hi")
    assert "may have been posted" in failed.value.reason


def test_missing_credentials_are_one_config_line(tmp_path, httpserver, pds, monkeypatch):
    monkeypatch.delenv("BLUESKY_REPLY_APP_PASSWORD")
    post = pds.add("erin.bsky.social", "3lc10", "Brightwave down")
    replier = _replier(tmp_path, httpserver)
    line = ("overheard.toml: replies.bluesky.app_password_env: environment variable BLUESKY_REPLY_APP_PASSWORD is "
            "not set (it holds a secret)")
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(post), "hi")
    assert (refused.value.kind, refused.value.reason) == ("auth", line)
    assert replier.check() == [line]
    assert pds.calls == []
    with pytest.raises(ConfigError, match=r"replies\.bluesky\.handle: required key is missing"):
        replies_config(tmp_path, "bluesky", {})
