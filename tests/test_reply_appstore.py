"""Responding to App Store reviews through the App Store Connect API, against a fake on 127.0.0.1 that
verifies the ES256 token the way Apple does."""

from __future__ import annotations

import json
import re
import time

import pytest

from alerts.replies.base import ReplyRefused
from listener.errors import ConfigError
from tests.fakes_replies.fake_appstore_replies import AppStoreConnectFake, new_p8
from tests.fakes_replies.platform_config import platform_replier, replies_config

KEY_ID, ISSUER = "2X9R4HXF34", "57246542-96fe-1a63-e053-0824d011072a"


@pytest.fixture
def key(tmp_path):
    pem, public = new_p8()
    (tmp_path / f"AuthKey_{KEY_ID}.p8").write_text(pem)
    return pem, public


@pytest.fixture
def connect(httpserver, key):
    fake = AppStoreConnectFake(KEY_ID, ISSUER, key[1], reviews={"11223344556", "11223344557"})
    httpserver.expect_request(re.compile(r"^/v1/")).respond_with_handler(fake)
    return fake


def _replier(tmp_path, httpserver, **extra):
    section = {"base_url": httpserver.url_for("/").rstrip("/"), "key_id": KEY_ID, "issuer_id": ISSUER,
               "private_key_file": f"AuthKey_{KEY_ID}.p8", **extra}
    return platform_replier(tmp_path, "appstore", {k: v for k, v in section.items() if v is not None})


def _row(review_id="11223344556"):
    """A mentions row as listener.sources.appstore stores it from the public reviews feed."""
    return {"source": "appstore", "native_id": review_id, "author": "sleeplessinleeds",
            "url": "https://apps.apple.com/gb/app/id1459876543?see-all=reviews", "text": "Crashes on launch",
            "raw": json.dumps({"id": {"label": review_id}, "im:rating": {"label": "1"}}),
            "metrics": json.dumps({"app_id": "1459876543", "country": "gb"})}


def test_a_response_is_posted_to_the_review_with_a_valid_token(tmp_path, httpserver, connect):
    posted = _replier(tmp_path, httpserver).post_reply(_row(), "Sorry about the crash — 4.2.1 fixes it.")
    assert connect.posted == [{"data": {"type": "customerReviewResponses",
                                        "attributes": {"responseBody": "Sorry about the crash — 4.2.1 fixes it."},
                                        "relationships": {"review": {"data": {"type": "customerReviews",
                                                                              "id": "11223344556"}}}}}]
    assert posted.native_id == connect.responses["11223344556"]["id"]
    assert posted.raw["data"]["attributes"]["state"] == "PENDING_PUBLISH"
    [token] = connect.tokens_seen
    assert (token["kid"], token["typ"], token["iss"], token["aud"]) == (KEY_ID, "JWT", ISSUER, "appstoreconnect-v1")
    assert token["exp"] - token["iat"] <= 20 * 60


def test_the_token_is_reused_then_signed_again_before_it_expires(tmp_path, httpserver, connect):
    replier = _replier(tmp_path, httpserver)
    replier.post_reply(_row(), "first")
    replier.post_reply(_row("11223344557"), "second")
    assert connect.tokens_seen[0]["token"] == connect.tokens_seen[1]["token"]  # signed once, used twice
    token, _ = replier._token
    replier._token = (token, time.time() + 30)  # 18.5 minutes later: half a minute left on it
    replier.post_reply(_row(), "third")
    assert connect.tokens_seen[2]["token"] != token  # signed again


def test_a_second_response_replaces_the_first(tmp_path, httpserver, connect):
    replier = _replier(tmp_path, httpserver)
    first = replier.post_reply(_row(), "We are looking into it.")
    second = replier.post_reply(_row(), "Fixed in 4.2.1 — thanks for your patience.")
    assert first.native_id == second.native_id
    assert connect.responses["11223344556"]["attributes"]["responseBody"].startswith("Fixed in 4.2.1")


@pytest.mark.parametrize("review, kind, words", [
    ("99999999999", "gone", "review 99999999999 is gone"),
    ("11223344557", "invalid", "already has a response that cannot be replaced now"),
])
def test_a_deleted_review_and_a_locked_response_are_refused_in_words(tmp_path, httpserver, connect, review, kind,
                                                                     words):
    connect.locked.add("11223344557")
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(_row(review), "Thanks for the feedback")
    assert refused.value.kind == kind
    assert words in refused.value.reason
    assert ("There is no resource of type 'customerReviews'" in refused.value.reason
            or "waiting to be published" in refused.value.reason)  # Apple's own detail is kept


def test_a_key_apple_does_not_know_is_an_auth_refusal(tmp_path, httpserver, connect):
    other, _ = new_p8()
    (tmp_path / "other.p8").write_text(other)
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver, private_key_file="other.p8").post_reply(_row(), "hi")
    assert refused.value.kind == "auth"
    assert "refused the API key 2X9R4HXF34 (Authentication credentials are missing or invalid." in refused.value.reason
    assert connect.posted == []


@pytest.mark.parametrize("status, code, title, detail, headers, kind, words", [
    (403, "FORBIDDEN_ERROR", "This request is forbidden for security reasons",
     "The API key in use does not allow this request", {}, "forbidden", "Customer Support role"),
    (429, "RATE_LIMIT_EXCEEDED", "The request rate limit has been reached.",
     "We've received too many requests for this API. Please wait and try again or slow down your request rate.",
     {"X-Rate-Limit": "user-hour-lim:3600;user-hour-rem:0;"}, "rate_limited", "user-hour-lim:3600"),
    (500, "UNEXPECTED_ERROR", "An unexpected error occurred.", "An unexpected error occurred on the server side.",
     {}, "unavailable", "server error"),
])
def test_each_refusal_reads_as_words(tmp_path, httpserver, connect, status, code, title, detail, headers, kind, words):
    connect.fail_next.append(("/v1/customerReviewResponses", status,
                              {"errors": [{"id": "b2e7", "status": str(status), "code": code, "title": title,
                                           "detail": detail}]}, headers))
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(_row(), "Thanks")
    assert refused.value.kind == kind and words in refused.value.reason
    if status == 429:
        assert refused.value.retry_after_s == 600
    if status == 403:
        assert "The API key in use does not allow this request" in refused.value.reason


def test_length_at_the_edge(tmp_path, httpserver, connect):
    replier = _replier(tmp_path, httpserver)
    assert replier.limit == 5970
    assert replier.length("宽带") == 2 and replier.length("🙂") == 2 and replier.length("é") == 1
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(), "a" * 5969 + "🙂")
    assert refused.value.kind == "invalid" and "5971 characters" in refused.value.reason
    replier.post_reply(_row(), "a" * 5968 + "🙂")
    assert len(connect.posted) == 1


def test_the_key_can_come_from_an_environment_variable(tmp_path, httpserver, connect, key, monkeypatch):
    monkeypatch.setenv("ASC_KEY", key[0])
    replier = _replier(tmp_path, httpserver, private_key_file=None, private_key_env="ASC_KEY")
    replier.post_reply(_row(), "Thanks!")
    assert len(connect.posted) == 1
    assert replier.check() == []


def test_missing_or_broken_credentials_are_one_config_line(tmp_path, httpserver, connect, monkeypatch):
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver, private_key_file="AuthKey_MISSING.p8").post_reply(_row(), "hi")
    assert refused.value.kind == "auth"
    assert refused.value.reason.startswith("overheard.toml: replies.appstore.private_key_file: cannot read ")
    assert "AuthKey_MISSING.p8 (No such file or directory)" in refused.value.reason
    monkeypatch.setenv("ASC_KEY", "not a key")
    replier = _replier(tmp_path, httpserver, private_key_file=None, private_key_env="ASC_KEY")
    assert replier.check() == ["overheard.toml: replies.appstore.private_key_env: not an App Store Connect private "
                               "key (.p8, ES256): ValueError"]
    monkeypatch.delenv("ASC_KEY")
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(), "hi")
    assert refused.value.reason == ("overheard.toml: replies.appstore.private_key_env: environment variable ASC_KEY "
                                    "is not set (it holds a secret)")
    assert connect.posted == []
    with pytest.raises(ConfigError, match=r"replies\.appstore: .*set one of private_key_file"):
        replies_config(tmp_path, "appstore", {"key_id": KEY_ID, "issuer_id": ISSUER})
    with pytest.raises(ConfigError, match=r"replies\.appstore\.key_id"):
        replies_config(tmp_path, "appstore", {"key_id": "not a key id", "issuer_id": ISSUER,
                                              "private_key_file": "k.p8"})
