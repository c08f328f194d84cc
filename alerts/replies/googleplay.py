"""Google Play: the developer's reply to a review, through the Android Publisher API v3 (reviews.reply).

POST /androidpublisher/v3/applications/{packageName}/reviews/{reviewId}:reply with {"replyText": ...},
as a service account invited to the Play Console (Users and permissions, "Reply to reviews"). google-auth
signs the account's JWT, trades it for an access token at the key's token_uri and refreshes it; its
AuthorizedSession sends the call and, on a 401, refreshes once and sends it again. One reply per review:
replying again replaces it, so a retry never doubles. The package name is the app id the Google Play
source stored with the review.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import Field, model_validator

from alerts.replies.base import PostedReply, Replier, ReplierConfig, ReplyRefused
from alerts.replies.platform import row_json, uncertain
from listener.errors import ConfigError

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
DEFAULT_RETRY_AFTER = 60.0  # the API's quotas are per minute
REPLY_WINDOW = timedelta(days=365)  # Google Play takes replies to reviews of the last year only


class GooglePlayReplyConfig(ReplierConfig):
    base_url: str = "https://androidpublisher.googleapis.com"
    # The service account's JSON key: a path (relative to this config file), or an environment variable
    # holding the path or the JSON itself. One of the two.
    service_account_file: str = ""
    service_account_env: str = ""
    # Where the signed JWT is traded for an access token; empty: the key file's own token_uri.
    token_uri: str = ""
    timeout_seconds: float = Field(default=30, gt=0)

    @model_validator(mode="after")
    def _one_key(self) -> GooglePlayReplyConfig:
        if bool(self.service_account_file) == bool(self.service_account_env):
            raise ValueError("set one of service_account_file (the service account's JSON key) or "
                             "service_account_env (a variable holding its path or its JSON)")
        return self


class GooglePlayReplier(Replier):
    source: ClassVar[str] = "googleplay"
    name: ClassVar[str] = "Google Play"
    Config = GooglePlayReplyConfig
    config: GooglePlayReplyConfig
    limit: ClassVar[int] = 350

    def __init__(self, config: GooglePlayReplyConfig, app: Any) -> None:
        super().__init__(config, app)
        self._session: Any = None
        self.account = ""  # the service account's email, for messages

    def length(self, text: str) -> int:
        """UTF-16 code units, the stricter reading: an emoji beyond the BMP counts 2, as Java strings do."""
        return len(text.encode("utf-16-le")) // 2

    # ------------------------------------------------------------ credentials
    def key_info(self) -> dict[str, Any]:
        file = self.app.path.name
        if self.config.service_account_env:
            where = "replies.googleplay.service_account_env"
            try:
                value = self.app.secret(where, self.config.service_account_env).strip()
            except ConfigError as exc:
                raise ReplyRefused(str(exc), "auth") from None
            text = value if value.startswith("{") else self._read(where, self.app.resolve(value))
        else:
            where = "replies.googleplay.service_account_file"
            text = self._read(where, self.app.resolve(self.config.service_account_file))
        try:
            info = json.loads(text)
        except ValueError:
            info = None
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise ReplyRefused(f"{file}: {where}: not a service account JSON key (its \"type\" must be "
                               "\"service_account\"); create one in Google Cloud → IAM → Service accounts → Keys",
                               "auth")
        return info

    def _read(self, where: str, path: Path) -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise ReplyRefused(f"{self.app.path.name}: {where}: cannot read {path} ({reason})", "auth") from None

    def session(self) -> Any:
        if self._session is None:
            from google.auth.transport.requests import AuthorizedSession
            from google.oauth2 import service_account

            info = self.key_info()
            try:
                credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
            except (ValueError, KeyError) as exc:
                raise ReplyRefused(f"{self.app.path.name}: replies.googleplay: the service account key is "
                                   f"incomplete or damaged ({exc})", "auth") from None
            if self.config.token_uri:
                credentials = credentials.with_token_uri(self.config.token_uri)
            self.account = info.get("client_email", "")
            self._session = AuthorizedSession(credentials)
        return self._session

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests
        from google.auth import exceptions as auth_errors

        session = self.session()
        url = self.config.base_url.rstrip("/") + path
        try:
            return session.request(method, url, timeout=self.config.timeout_seconds, **kwargs)
        except auth_errors.RefreshError as exc:
            said = str(exc.args[0]) if exc.args else type(exc).__name__
            raise ReplyRefused(f"Google refused the service account {self.account or '(no email)'} ({said}); "
                               "check that the key was not deleted or disabled, or make a new one", "auth") from None
        except (auth_errors.TransportError, requests.ConnectionError) as exc:
            raise ReplyRefused(f"cannot reach Google ({type(exc).__name__})", "unavailable") from None
        except requests.RequestException as exc:
            if method == "POST":
                raise uncertain("Google Play", exc) from None
            raise ReplyRefused(f"cannot reach Google ({type(exc).__name__})", "unavailable") from None

    # ------------------------------------------------------------ posting
    def post_reply(self, mention: dict[str, Any], text: str) -> PostedReply:
        review_id = str(mention.get("native_id") or "")
        package = (row_json(mention, "metrics") or {}).get("app_id")
        if not review_id or "/" in review_id:
            raise ReplyRefused(f"{review_id[:60]!r} is not a Google Play review (a developer reply cannot be "
                               "answered)", "invalid")
        if not isinstance(package, str) or not package:
            raise ReplyRefused("the mention does not say which app it is about (metrics.app_id)", "invalid")
        if not text.strip():
            raise ReplyRefused("the reply is empty", "invalid")
        if self.length(text) > self.limit:
            raise ReplyRefused(f"the reply is {self.length(text)} characters; Google Play takes at most {self.limit}",
                               "invalid")
        path = f"/androidpublisher/v3/applications/{quote(package, safe='')}/reviews/{quote(review_id, safe='')}:reply"
        response = self.request("POST", path, json={"replyText": text})
        if response.status_code != 200:
            raise self.refusal(response, mention, package)
        try:
            result = response.json()["result"]
            edited = result["lastEdited"]
            stamp = datetime.fromtimestamp(int(edited["seconds"]) + int(edited.get("nanos", 0)) / 1e9, UTC)
        except (ValueError, KeyError, TypeError):
            raise ReplyRefused("Google Play took the reply but its answer has no result.lastEdited",
                               "unavailable") from None
        # The Google Play source stores the developer's answer under "<review id>/reply": the same row.
        return PostedReply(native_id=f"{review_id}/reply", url=mention.get("url"),
                           raw={**response.json(), "repliedAt": stamp.isoformat()})

    def refusal(self, response: Any, mention: dict[str, Any], package: str) -> ReplyRefused:
        status = response.status_code
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        said = error.get("message") if isinstance(error, dict) else None
        said = f"{error.get('status')}: {said}" if said and error.get("status") else (said or f"HTTP {status}")
        if status == 401:
            return ReplyRefused(f"Google refused the access token of {self.account} ({said}); check the service "
                                "account key", "auth")
        if status == 403:
            return ReplyRefused(f"{self.account} may not reply to reviews of {package} ({said}); in the Play Console "
                                "→ Users and permissions, invite it with \"Reply to reviews\" for this app",
                                "forbidden")
        if status == 404:
            return ReplyRefused(f"the review is gone: the user deleted it, or {package} has no such review ({said})",
                                "gone")
        if status == 429:
            wait = _seconds(response.headers.get("Retry-After"), DEFAULT_RETRY_AFTER)
            return ReplyRefused(f"Google Play's API quota is used up ({said}); try again in {wait:.0f} s",
                                "rate_limited", retry_after_s=wait)
        if status >= 500:
            return ReplyRefused(f"Google Play had a server error ({said}); try again later (a second reply replaces "
                                "the first, never doubles it)", "unavailable")
        if status == 400 and _older_than_a_year(mention):
            return ReplyRefused(f"Google Play takes replies only to reviews written or edited in the last year; this "
                                f"one is from {str(mention.get('created_at'))[:10]} ({said})", "invalid")
        return ReplyRefused(f"Google Play refused the reply ({said})", "invalid")

    # ------------------------------------------------------------ doctor
    def check(self) -> list[str]:
        """Credentials only: the key reads and Google trades it for a token (a reply needs a real review)."""
        from google.auth import exceptions as auth_errors
        from google.auth.transport.requests import Request

        try:
            session = self.session()
            session.credentials.refresh(Request())
        except ReplyRefused as exc:
            return [exc.reason if "replies.googleplay" in exc.reason else f"replies.googleplay: {exc.reason}"]
        except auth_errors.RefreshError as exc:
            said = str(exc.args[0]) if exc.args else type(exc).__name__
            return [f"replies.googleplay: Google refused the service account {self.account} ({said})"]
        except auth_errors.TransportError as exc:
            return [f"replies.googleplay: cannot reach Google's token endpoint ({type(exc).__name__})"]
        return []


def _older_than_a_year(mention: dict[str, Any]) -> bool:
    try:
        created = datetime.fromisoformat(str(mention.get("created_at")))
    except ValueError:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return datetime.now(UTC) - created > REPLY_WINDOW


def _seconds(value: str | None, default: float) -> float:
    try:
        return max(float(value), 0.0) if value is not None else default
    except ValueError:
        return default
