"""Replying to Google Play reviews through google-auth and the Android Publisher API, against Google's
token endpoint and reviews.reply on 127.0.0.1."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from alerts.replies.base import ReplyRefused
from listener.errors import ConfigError
from tests.fakes_replies.fake_googleplay_replies import GooglePlayFake, new_service_account
from tests.fakes_replies.platform_config import platform_replier, replies_config

PACKAGE = "com.brightwave.app"
REVIEW = "gp:AOqpTOE7b5bXk3s9lFhQ2vR1cYw8nZt4uJmKd0aP6eVgHiL"


@pytest.fixture
def google(httpserver, tmp_path):
    fake = GooglePlayFake(httpserver.url_for("/token"))
    info, public = new_service_account(fake.token_uri)
    fake.register(info, public)
    fake.apps[PACKAGE] = {info["client_email"]}
    fake.reviews[PACKAGE, REVIEW] = datetime.now(UTC) - timedelta(days=2)
    (tmp_path / "play-key.json").write_text(json.dumps(info))
    httpserver.expect_request(re.compile(r"^/(token|androidpublisher/)")).respond_with_handler(fake)
    fake.info = info
    return fake


def _replier(tmp_path, httpserver, **extra):
    section = {"base_url": httpserver.url_for("/").rstrip("/"), "service_account_file": "play-key.json", **extra}
    return platform_replier(tmp_path, "googleplay", {k: v for k, v in section.items() if v is not None})


def _row(review=REVIEW, days_old=2):
    """A mentions row as listener.sources.googleplay stores a review."""
    created = (datetime.now(UTC) - timedelta(days=days_old)).isoformat()
    return {"source": "googleplay", "native_id": review, "author": "Priya N", "created_at": created,
            "url": f"https://play.google.com/store/apps/details?id={PACKAGE}&hl=en&gl=gb&reviewId={review}",
            "text": "Keeps logging me out", "metrics": json.dumps({"app_id": PACKAGE, "country": "gb"})}


def test_a_reply_is_posted_to_the_review_after_a_token_exchange(tmp_path, httpserver, google):
    posted = _replier(tmp_path, httpserver).post_reply(_row(), "Sorry Priya — 5.3 fixes the log-outs.")
    assert google.posted == [(PACKAGE, REVIEW, {"replyText": "Sorry Priya — 5.3 fixes the log-outs."})]
    [claims] = google.exchanges
    assert claims["iss"] == google.info["client_email"] and claims["aud"] == "https://oauth2.googleapis.com/token"
    assert claims["scope"] == "https://www.googleapis.com/auth/androidpublisher"
    assert posted.native_id == f"{REVIEW}/reply"  # the row the Google Play source stores the answer under
    assert posted.raw["result"]["replyText"] == "Sorry Priya — 5.3 fixes the log-outs."
    assert posted.raw["repliedAt"].startswith(str(datetime.now(UTC).year))


def test_an_access_token_the_api_refuses_is_refreshed_once(tmp_path, httpserver, google):
    replier = _replier(tmp_path, httpserver)
    replier.post_reply(_row(), "first")
    replier.post_reply(_row(), "second")
    assert len(google.exchanges) == 1  # the token is kept while it is valid
    google.revoke_tokens()  # Google no longer takes it
    replier.post_reply(_row(), "third")
    assert len(google.exchanges) == 2
    assert [b["replyText"] for _, _, b in google.posted] == ["first", "second", "third"]
    assert google.replies[PACKAGE, REVIEW] == "third"  # one reply per review: each replaces the last


def test_a_key_google_does_not_know_is_an_auth_refusal(tmp_path, httpserver, google):
    stranger, _ = new_service_account(google.token_uri, email="old-key@brightwave-play.iam.gserviceaccount.com")
    (tmp_path / "old.json").write_text(json.dumps(stranger))
    replier = _replier(tmp_path, httpserver, service_account_file="old.json")
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(), "hi")
    assert refused.value.kind == "auth"
    assert "Google refused the service account old-key@brightwave-play.iam.gserviceaccount.com" in refused.value.reason
    assert "invalid_grant: Invalid grant: account not found" in refused.value.reason
    assert replier.check() == ["replies.googleplay: Google refused the service account "
                               "old-key@brightwave-play.iam.gserviceaccount.com (invalid_grant: Invalid grant: "
                               "account not found)"]
    assert google.posted == []


def test_a_forged_signature_is_refused_by_the_token_endpoint(tmp_path, httpserver, google):
    forged, _ = new_service_account(google.token_uri)  # same email and key id, another private key
    forged = {**forged, "client_email": google.info["client_email"], "private_key_id": google.info["private_key_id"]}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver, service_account_file="forged.json").post_reply(_row(), "hi")
    assert refused.value.kind == "auth" and "Invalid JWT Signature." in refused.value.reason


def test_an_account_without_access_to_the_app_is_forbidden(tmp_path, httpserver, google):
    google.apps[PACKAGE] = set()
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(_row(), "hi")
    assert refused.value.kind == "forbidden"
    assert f"may not reply to reviews of {PACKAGE} (PERMISSION_DENIED: The caller does not have permission)" in \
        refused.value.reason
    assert "Reply to reviews" in refused.value.reason


def test_a_deleted_review_is_gone(tmp_path, httpserver, google):
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(_row("gp:AOqpTOdeletedReview"), "hi")
    assert refused.value.kind == "gone"
    assert "NOT_FOUND: Requested entity was not found." in refused.value.reason


def test_a_review_older_than_a_year_is_explained(tmp_path, httpserver, google):
    old = "gp:AOqpTOoldReview"
    google.reviews[PACKAGE, old] = datetime.now(UTC) - timedelta(days=400)
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver).post_reply(_row(old, days_old=400), "hi")
    assert refused.value.kind == "invalid"
    assert refused.value.reason.startswith("Google Play takes replies only to reviews written or edited in the last "
                                           "year; this one is from ")
    assert "INVALID_ARGUMENT" in refused.value.reason


def test_quota_and_server_errors(tmp_path, httpserver, google):
    google.fail_next.append(("/androidpublisher/", 429, {"error": {
        "code": 429, "message": "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service "
        "'androidpublisher.googleapis.com'.", "status": "RESOURCE_EXHAUSTED"}}, {"Retry-After": "30"}))
    replier = _replier(tmp_path, httpserver)
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(), "hi")
    assert refused.value.kind == "rate_limited" and refused.value.retry_after_s == 30
    assert "RESOURCE_EXHAUSTED: Quota exceeded" in refused.value.reason
    google.fail_next.append(("/androidpublisher/", 503, {"error": {"code": 503, "message": "The service is currently "
                                                                   "unavailable.", "status": "UNAVAILABLE"}}, {}))
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(), "hi")
    assert refused.value.kind == "unavailable" and "server error" in refused.value.reason


def test_length_at_the_edge(tmp_path, httpserver, google):
    replier = _replier(tmp_path, httpserver)
    assert replier.limit == 350
    assert replier.length("谢谢") == 2 and replier.length("🙏") == 2
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(), "谢" * 349 + "🙏")
    assert refused.value.kind == "invalid" and "351 characters" in refused.value.reason
    replier.post_reply(_row(), "谢" * 348 + "🙏")
    assert len(google.posted) == 1  # and the API, counting for itself, took it


def test_the_key_can_come_from_an_environment_variable(tmp_path, httpserver, google, monkeypatch):
    monkeypatch.setenv("PLAY_KEY", json.dumps(google.info))
    _replier(tmp_path, httpserver, service_account_file=None, service_account_env="PLAY_KEY").post_reply(_row(), "a")
    monkeypatch.setenv("PLAY_KEY", str(tmp_path / "play-key.json"))  # or the key file's path
    replier = _replier(tmp_path, httpserver, service_account_file=None, service_account_env="PLAY_KEY")
    replier.post_reply(_row(), "b")
    assert [b["replyText"] for _, _, b in google.posted] == ["a", "b"]
    assert replier.check() == []


def test_missing_or_broken_credentials_are_one_config_line(tmp_path, httpserver, google, monkeypatch):
    with pytest.raises(ReplyRefused) as refused:
        _replier(tmp_path, httpserver, service_account_file="nope.json").post_reply(_row(), "hi")
    assert refused.value.kind == "auth"
    assert refused.value.reason.startswith("overheard.toml: replies.googleplay.service_account_file: cannot read ")
    assert refused.value.reason.endswith("nope.json (No such file or directory)")
    (tmp_path / "oauth-client.json").write_text(json.dumps({"installed": {"client_id": "x"}}))
    replier = _replier(tmp_path, httpserver, service_account_file="oauth-client.json")
    assert replier.check() == ["overheard.toml: replies.googleplay.service_account_file: not a service account JSON "
                               "key (its \"type\" must be \"service_account\"); create one in Google Cloud → IAM → "
                               "Service accounts → Keys"]
    replier = _replier(tmp_path, httpserver, service_account_file=None, service_account_env="PLAY_KEY")
    with pytest.raises(ReplyRefused) as refused:
        replier.post_reply(_row(), "hi")
    assert refused.value.reason == ("overheard.toml: replies.googleplay.service_account_env: environment variable "
                                    "PLAY_KEY is not set (it holds a secret)")
    assert google.posted == [] and google.exchanges == []
    with pytest.raises(ConfigError, match=r"replies\.googleplay: .*set one of service_account_file"):
        replies_config(tmp_path, "googleplay", {})
