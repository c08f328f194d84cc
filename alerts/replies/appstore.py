"""App Store: a developer response to a customer review, through the App Store Connect API.

POST /v1/customerReviewResponses (JSON:API), authenticated by a token the replier signs itself: ES256
with the team's API key (.p8), `kid` the key id, `iss` the issuer id, `aud` appstoreconnect-v1, valid
for at most 20 minutes (PyJWT). The review ids the App Store source reads from the public feed are the
ids of customerReviews in the API. Apple keeps one response per review: posting again replaces it, so a
retry never doubles. A response is published after Apple's review (state PENDING_PUBLISH, then PUBLISHED).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, model_validator

from alerts.replies.base import PostedReply, Replier, ReplierConfig, ReplyRefused
from alerts.replies.platform import uncertain
from listener.errors import ConfigError

TOKEN_LIFETIME = 19 * 60  # Apple refuses tokens that live longer than 20 minutes; a minute to spare for clocks
AUDIENCE = "appstoreconnect-v1"
DEFAULT_RETRY_AFTER = 600.0  # the limit is per rolling hour; Apple sends no Retry-After


class AppStoreReplyConfig(ReplierConfig):
    base_url: str = "https://api.appstoreconnect.apple.com"
    # Users and Access → Integrations → App Store Connect API: the key's id (10 characters) and the issuer id
    # shown above the keys. The key needs the Admin, App Manager or Customer Support role.
    key_id: str = Field(pattern=r"^[A-Z0-9]{6,20}$")
    issuer_id: str = Field(min_length=1)
    # The key itself: the AuthKey_<key id>.p8 file (a path, relative to this config file), or an environment
    # variable holding its contents. One of the two.
    private_key_file: str = ""
    private_key_env: str = ""
    timeout_seconds: float = Field(default=30, gt=0)

    @model_validator(mode="after")
    def _one_key(self) -> AppStoreReplyConfig:
        if bool(self.private_key_file) == bool(self.private_key_env):
            raise ValueError("set one of private_key_file (the AuthKey_….p8 file) or private_key_env (a variable "
                             "holding its contents)")
        return self


class AppStoreReplier(Replier):
    source: ClassVar[str] = "appstore"
    name: ClassVar[str] = "App Store"
    Config = AppStoreReplyConfig
    config: AppStoreReplyConfig
    limit: ClassVar[int] = 5970

    def __init__(self, config: AppStoreReplyConfig, app: Any) -> None:
        super().__init__(config, app)
        self._token: tuple[str, float] | None = None  # (token, expires at)
        self._session: Any = None

    def length(self, text: str) -> int:
        """UTF-16 code units, the stricter reading: an emoji beyond the BMP counts 2, as Apple's strings do."""
        return len(text.encode("utf-16-le")) // 2

    # ------------------------------------------------------------ the signed token
    def private_key(self) -> str:
        if self.config.private_key_env:
            try:
                return self.app.secret("replies.appstore.private_key_env", self.config.private_key_env)
            except ConfigError as exc:
                raise ReplyRefused(str(exc), "auth") from None
        path = self.app.resolve(self.config.private_key_file)
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise ReplyRefused(f"{self.app.path.name}: replies.appstore.private_key_file: cannot read {path} "
                               f"({reason}); download the key from App Store Connect → Users and Access → "
                               "Integrations", "auth") from None

    def token(self) -> str:
        """A token for the next request, signed again a minute before the last one expires."""
        if self._token is not None and self._token[1] - time.time() > 60:
            return self._token[0]
        import jwt

        now = int(time.time())
        claims = {"iss": self.config.issuer_id, "iat": now, "exp": now + TOKEN_LIFETIME, "aud": AUDIENCE}
        try:
            token = jwt.encode(claims, self.private_key(), algorithm="ES256",
                               headers={"kid": self.config.key_id, "typ": "JWT"})
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            where = ("replies.appstore.private_key_env" if self.config.private_key_env
                     else "replies.appstore.private_key_file")
            raise ReplyRefused(f"{self.app.path.name}: {where}: not an App Store Connect private key (.p8, "
                               f"ES256): {type(exc).__name__}", "auth") from None
        self._token = (token, now + TOKEN_LIFETIME)
        return token

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        if self._session is None:
            self._session = requests.Session()
        headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json"}
        url = self.config.base_url.rstrip("/") + path
        try:
            return self._session.request(method, url, headers=headers, timeout=self.config.timeout_seconds, **kwargs)
        except requests.RequestException as exc:
            if method == "POST" and not isinstance(exc, requests.ConnectionError):
                raise uncertain("App Store Connect", exc) from None
            raise ReplyRefused(f"cannot reach App Store Connect ({type(exc).__name__})", "unavailable") from None

    # ------------------------------------------------------------ posting
    def post_reply(self, mention: dict[str, Any], text: str) -> PostedReply:
        review_id = str(mention.get("native_id") or "")
        if not review_id.isdigit():
            raise ReplyRefused(f"the mention's id {review_id[:40]!r} is not an App Store review id", "invalid")
        if not text.strip():
            raise ReplyRefused("the response is empty", "invalid")
        if self.length(text) > self.limit:
            raise ReplyRefused(f"the response is {self.length(text)} characters; the App Store takes at most "
                               f"{self.limit}", "invalid")
        body = {"data": {"type": "customerReviewResponses", "attributes": {"responseBody": text},
                         "relationships": {"review": {"data": {"type": "customerReviews", "id": review_id}}}}}
        response = self.request("POST", "/v1/customerReviewResponses", json=body)
        if response.status_code != 201:
            raise self.refusal(response, review_id)
        try:
            data = response.json()["data"]
            native_id = str(data["id"])
        except (ValueError, KeyError, TypeError):
            raise ReplyRefused("App Store Connect took the response but its answer has no data.id",
                               "unavailable") from None
        return PostedReply(native_id=native_id, url=mention.get("url"), raw=response.json())

    def refusal(self, response: Any, review_id: str) -> ReplyRefused:
        status = response.status_code
        errors = _errors(response)
        said = "; ".join(f"{e.get('title') or e.get('code')}: {e.get('detail')}" if e.get("detail")
                         else str(e.get("title") or e.get("code")) for e in errors) or f"HTTP {status}"
        codes = [str(e.get("code") or "") for e in errors]
        if status == 401:
            return ReplyRefused(f"App Store Connect refused the API key {self.config.key_id} ({said}); check key_id, "
                                "issuer_id and the .p8 file, and that the key was not revoked", "auth")
        if status == 403:
            return ReplyRefused(f"App Store Connect does not let key {self.config.key_id} answer reviews ({said}); "
                                "it needs the Admin, App Manager or Customer Support role", "forbidden")
        if status == 404:
            return ReplyRefused(f"review {review_id} is gone: the customer deleted it or Apple removed it ({said})",
                                "gone")
        if status == 409:
            return ReplyRefused(f"review {review_id} already has a response that cannot be replaced now ({said}); "
                                "see it in App Store Connect → Ratings and Reviews", "invalid")
        if status == 429:
            wait = _seconds(response.headers.get("Retry-After"), DEFAULT_RETRY_AFTER)
            limit = response.headers.get("X-Rate-Limit")
            return ReplyRefused(f"App Store Connect is rate limiting the key ({limit or said}); try again in "
                                f"{wait:.0f} s", "rate_limited", retry_after_s=wait)
        if status >= 500:
            return ReplyRefused(f"App Store Connect had a server error ({status}: {said}); try again later "
                                "(a second response replaces the first, never doubles it)", "unavailable")
        kind = "invalid" if status in (400, 422) or any(c.startswith(("ENTITY_ERROR", "PARAMETER_ERROR"))
                                                         for c in codes) else "unavailable"
        return ReplyRefused(f"App Store Connect refused the response ({status}: {said})", kind)

    # ------------------------------------------------------------ doctor
    def check(self) -> list[str]:
        try:
            response = self.request("GET", "/v1/apps", params={"limit": 1, "fields[apps]": "bundleId"})
        except ReplyRefused as exc:
            return [exc.reason if "replies.appstore" in exc.reason else f"replies.appstore: {exc.reason}"]
        if response.status_code != 200:
            return [f"replies.appstore: {self.refusal(response, '-').reason}"]
        return []


def _errors(response: Any) -> list[dict[str, Any]]:
    """JSON:API errors[] (status, code, title, detail); [] when the body is not that."""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return []
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _seconds(value: str | None, default: float) -> float:
    try:
        return max(float(value), 0.0) if value is not None else default
    except ValueError:
        return default

