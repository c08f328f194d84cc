"""Replying on Mastodon through the real Mastodon.py client against the brand's instance on 127.0.0.1."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from alerts.replies.base import ReplyRefused
from listener.errors import ConfigError
from tests.fakes_replies.fake_mastodon_replies import MastodonReplyFake
from tests.fakes_replies.platform_config import platform_replier, replies_config

TOKEN = "brand-token-7f3a"


@pytest.fixture
def instance(httpserver, monkeypatch):
    fake = MastodonReplyFake(f"{httpserver.host}:{httpserver.port}",
                             tokens={TOKEN: {"write:statuses", "read:search", "read:accounts"}})
    httpserver.expect_request(re.compile(r"^/api/")).respond_with_handler(fake)
    monkeypatch.setenv("MASTODON_REPLY_TOKEN", TOKEN)
    return fake


def _replier(tmp_path, httpserver, **extra):
    return platform_replier(tmp_path, "mastodon", {"instance_url": httpserver.url_for("/").rstrip("/"), **extra})


def _row(fake, status, *, seen_on=None, author=None):
    """A mentions row as listener.sources.mastodon stores it: URI as native_id, the status JSON as raw."""
    raw = fake.status_json(status)
    host = seen_on or fake.host
    acct = author or (status.acct if "@" in status.acct else f"{status.acct}@{host}")
    return {"source": "mastodon", "native_id": status.uri, "url": raw["url"], "author": acct,
            "text": status.text, "thread_key": f"mastodon:{status.uri}", "raw": json.dumps(raw),
            "metrics": json.dumps({"instance": host, "replies": 0})}


def test_a_reply_to_a_post_seen_on_the_brand_instance_answers_that_status(tmp_path, httpserver, instance):
    carol = instance.add_local("carol", "Brightwave has been down since noon")
    replier = _replier(tmp_path, httpserver)
    posted = replier.post_reply(_row(instance, carol), "Sorry Carol, a fix is rolling out now.")
    assert instance.posted == [{"status": "@carol Sorry Carol, a fix is rolling out now.",
                                "in_reply_to_id": carol.id, "visibility": "public",
                                "idempotency_key": instance.posted[0]["idempotency_key"]}]
    assert instance.posted[0]["idempotency_key"]
    assert not any(p == "/api/v2/search" for _, p in instance.requests)  # the stored id is valid here
    mine = instance.statuses[posted.raw["id"]]
    assert posted.native_id == mine.uri and mine.in_reply_to_id == carol.id
    assert posted.url.startswith("https://") and posted.raw["in_reply_to_id"] == carol.id


def test_a_post_from_another_instance_is_resolved_to_its_id_on_the_brand_instance(tmp_path, httpserver, instance):
    uri = "https://fosstodon.example/users/dave/statuses/112233"
    instance.add_remote(uri, "dave@fosstodon.example", "@Brightwave charged me twice", visibility="private")
    row = {"source": "mastodon", "native_id": uri, "url": "https://fosstodon.example/@dave/112233",
           "author": "dave@fosstodon.example", "text": "@Brightwave charged me twice",
           "raw": json.dumps({"id": "112233", "uri": uri, "visibility": "private"}),
           "metrics": json.dumps({"instance": "fosstodon.example"})}
    replier = _replier(tmp_path, httpserver)
    replier.post_reply(row, "Hi Dave, we have refunded the second charge.")
    local_id = next(s.id for s in instance.statuses.values() if s.uri == uri)
    assert local_id != "112233"
    assert instance.posted[0]["in_reply_to_id"] == local_id
    assert instance.posted[0]["status"] == "@dave@fosstodon.example Hi Dave, we have refunded the second charge."
    assert instance.posted[0]["visibility"] == "private"  # a followers-only complaint is not answered in public


def test_a_reply_that_names_the_author_is_not_prefixed_and_retry_posts_once(tmp_path, httpserver, instance):
    carol = instance.add_local("carol", "Brightwave??", visibility="unlisted")
    replier = _replier(tmp_path, httpserver)
    row = _row(instance, carol)
    first = replier.post_reply(row, "@carol we are on it")
    again = replier.post_reply(row, "@carol we are on it")  # a person pressed Retry after a lost answer
    assert first.native_id == again.native_id
    assert [p["status"] for p in instance.posted] == ["@carol we are on it"]
    assert instance.posted[0]["visibility"] == "unlisted"


@pytest.mark.parametrize("status, body, headers, kind, words", [
    (401, {"error": "The access token was revoked"}, {}, "auth", "refused the access token in MASTODON_REPLY_TOKEN"),
    (403, {"error": "This action is not allowed"}, {}, "forbidden", "does not allow this reply"),
    (404, {"error": "Record not found"}, {}, "gone", "the post was deleted"),
    (422, {"error": "Validation failed: Text character limit of 500 exceeded"}, {}, "invalid",
     "character limit of 500 exceeded"),
    (503, {"error": "Service Unavailable"}, {}, "unavailable", "server error (HTTP 503)"),
])
def test_each_refusal_reads_as_words(tmp_path, httpserver, instance, status, body, headers, kind, words):
    carol = instance.add_local("carol", "Brightwave is down")
    instance.fail_next.append(("/api/v1/statuses", status, body, headers))
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(_row(instance, carol), "We are looking into it")
    assert refused.value.kind == kind
    assert words in refused.value.reason
    assert instance.posted == []


def test_rate_limit_says_when_to_try_again(tmp_path, httpserver, instance):
    carol = instance.add_local("carol", "Brightwave is down")
    reset = (datetime.now(UTC) + timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    instance.fail_next.append(("/api/v1/statuses", 429, {"error": "Too many requests"},
                               {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}))
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(_row(instance, carol), "We are looking into it")
    assert refused.value.kind == "rate_limited"
    assert 100 <= refused.value.retry_after_s <= 121
    assert "try again in" in refused.value.reason


def test_a_deleted_post_on_another_instance_is_gone(tmp_path, httpserver, instance):
    uri = "https://fosstodon.example/users/dave/statuses/404404"  # the fake cannot fetch it: deleted
    row = {"source": "mastodon", "native_id": uri, "url": uri, "author": "dave@fosstodon.example",
           "raw": json.dumps({"id": "404404", "uri": uri}), "metrics": json.dumps({"instance": "fosstodon.example"})}
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(row, "Hi Dave")
    assert refused.value.kind == "gone" and "cannot find the post" in refused.value.reason
    assert instance.posted == []


def test_a_token_without_the_search_scope_is_named(tmp_path, httpserver, instance, monkeypatch):
    instance.tokens["post-only"] = {"write:statuses"}
    monkeypatch.setenv("MASTODON_REPLY_TOKEN", "post-only")
    uri = "https://fosstodon.example/users/dave/statuses/5"
    instance.add_remote(uri, "dave@fosstodon.example", "hi")
    row = {"source": "mastodon", "native_id": uri, "url": uri, "author": "dave@fosstodon.example",
           "raw": "{}", "metrics": json.dumps({"instance": "fosstodon.example"})}
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(row, "Hi Dave")
    assert refused.value.kind == "auth"
    assert "lacks a scope" in refused.value.reason and "read:search" in refused.value.reason


def test_length_counts_as_mastodon_does(tmp_path, httpserver, instance):
    replier = _replier(tmp_path, httpserver)
    assert replier.limit == 500
    assert replier.length("👨‍👩‍👧‍👦🇯🇵é") == 3  # a ZWJ family, a flag, e + combining accent
    assert replier.length("宽带又断了") == 5
    assert replier.length("see https://status.brightwave.example/incidents/2026-12-02/outage-north.") == 4 + 23 + 1
    assert replier.length("@dave@fosstodon.example hi") == len("@dave hi")
    assert replier.length("mail dave@example.com") == len("mail dave@example.com")  # an address, not a mention


def test_the_limit_is_checked_before_posting_at_the_edge(tmp_path, httpserver, instance):
    carol = instance.add_local("carol", "Brightwave is down")
    replier = _replier(tmp_path, httpserver, mention_author=False)
    exactly = "🙂" * 477 + " https://brightwave.example/"  # 477 + 1 + 23 = 501: one too many
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(instance, carol), exactly)
    assert refused.value.kind == "invalid" and "501 characters" in refused.value.reason
    assert instance.posted == []
    fits = "🙂" * 476 + " https://brightwave.example/"  # 500
    replier.post_reply(_row(instance, carol), fits)
    assert instance.posted[0]["status"] == fits  # and the instance, counting for itself, took it


def test_the_instance_limit_is_what_the_server_enforces(tmp_path, httpserver, instance):
    carol = instance.add_local("carol", "Brightwave is down")
    replier = _replier(tmp_path, httpserver, max_characters=1000, mention_author=False)  # config says more
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(instance, carol), "a" * 600)
    assert refused.value.kind == "invalid" and "character limit of 500" in refused.value.reason
    assert replier.check() == [f"replies.mastodon.max_characters: {instance.host} takes 500 characters, the config "
                               "says 1000; set max_characters = 500"]


def test_no_answer_after_sending_says_it_may_have_been_posted(tmp_path, httpserver, instance):
    carol = instance.add_local("carol", "Brightwave is down")

    def slow(request):
        time.sleep(1.5)
        return instance(request)

    httpserver.clear()
    httpserver.expect_request(re.compile(r"^/api/")).respond_with_handler(slow)
    replier = _replier(tmp_path, httpserver, timeout_seconds=0.3)
    with pytest.raises(Exception) as failed:  # noqa: B017 - ReplyUncertain where the reply action has it
        replier.post_reply(_row(instance, carol), "We are on it")
    assert "may have been posted" in failed.value.reason


def test_missing_credentials_are_one_config_line(tmp_path, httpserver, instance, monkeypatch):
    monkeypatch.delenv("MASTODON_REPLY_TOKEN")
    carol = instance.add_local("carol", "Brightwave is down")
    replier = _replier(tmp_path, httpserver)
    line = ("overheard.toml: replies.mastodon.access_token_env: environment variable MASTODON_REPLY_TOKEN is not "
            "set (it holds a secret)")
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(instance, carol), "hi")
    assert (refused.value.kind, refused.value.reason) == ("auth", line)
    assert replier.check() == [line]
    assert instance.requests == []
    with pytest.raises(ConfigError, match=r"replies\.mastodon\.instance_url: required key is missing"):
        replies_config(tmp_path, "mastodon", {"access_token_env": "MASTODON_REPLY_TOKEN"})
    with pytest.raises(ConfigError, match="MASTODON_REPLY_TOKEN is not set"):
        replies_config(tmp_path, "mastodon", {"instance_url": "https://mastodon.example"}, check_secrets=True)


def test_doctor_check_passes_with_a_good_token(tmp_path, httpserver, instance):
    assert _replier(tmp_path, httpserver).check() == []
