"""Replying on X: tweepy's `create_tweet(text=..., in_reply_to_tweet_id=...)` as the connected brand account.

The account is connected once with `overheard connect x` (alerts.replies.x_oauth: OAuth 2.0 with PKCE);
its access token lives two hours and is refreshed here five minutes before it expires, and once more
when X answers 401 (a token revoked or expired early), then the post is tried once again. Length is
X's weighted count (twitter-text's v3 rules via twitter-text-parser: every link 23, CJK and emoji 2).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from pydantic import Field

from alerts.replies import x_oauth
from alerts.replies.base import PostedReply, Replier, ReplierConfig, ReplyRefused, ReplyUncertain
from listener.errors import UserError
from listener.models import parse_iso, utcnow

TWEEPY_HOST = "https://api.twitter.com"  # fixed inside tweepy's BaseClient.request


class XReplyConfig(ReplierConfig):
    """[replies.x]"""

    client_id_env: str = "X_CLIENT_ID"  # env var holding the OAuth 2.0 client id of your X app
    client_secret_env: str = ""  # env var holding its secret: confidential clients only (empty: public client)
    token_key_env: str = "OVERHEARD_TOKEN_KEY"  # env var holding the Fernet key that encrypts the tokens
    api_url: str = "https://api.twitter.com"  # API and token host (point at a proxy or a test server)
    authorize_url: str = "https://x.com/i/oauth2/authorize"
    web_url: str = "https://x.com"  # for links to the posted reply
    # Must be registered, exactly, as a callback URL of the X app. On 127.0.0.1 `connect x` listens there.
    redirect_uri: str = "http://127.0.0.1:8379/x/callback"
    scopes: list[str] = ["tweet.read", "tweet.write", "users.read", "offline.access"]
    refresh_margin_seconds: int = Field(default=300, ge=0)  # refresh this long before the access token expires
    timeout_seconds: float = Field(default=30, gt=0)


class _RebasedSession(requests.Session):
    """tweepy's session, pointed at `api_url` (tweepy has no option for its host) and never without a timeout."""

    def __init__(self, api_url: str, timeout: float) -> None:
        super().__init__()
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if url.startswith(TWEEPY_HOST):
            url = self.api_url + url[len(TWEEPY_HOST):]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def x_client(section: XReplyConfig, access_token: str) -> Any:
    """A tweepy Client with the user's OAuth 2.0 access token (sent as the bearer, `user_auth=False`)."""
    import tweepy

    client = tweepy.Client(bearer_token=access_token, return_type=dict, wait_on_rate_limit=False)
    client.session = _RebasedSession(section.api_url, section.timeout_seconds)
    return client


def x_length(text: str) -> int:
    """The length X counts for a post: links 23, CJK and emoji 2, most other characters 1."""
    from twitter_text import parse_tweet

    return int(parse_tweet(text).weightedLength)


class XReplier(Replier):
    source = "x"
    name = "X"
    Config = XReplyConfig
    limit = 280
    config: XReplyConfig

    def length(self, text: str) -> int:
        return x_length(text)

    # ------------------------------------------------------------ tokens
    def _stored(self) -> dict[str, Any]:
        if self.tokens is None:
            raise ReplyRefused("X is not connected: run `overheard connect x`", "auth")
        stored = self.tokens.load("x")
        if stored is None or not stored.data.get("access_token"):
            raise ReplyRefused("X is not connected: run `overheard connect x`", "auth")
        return stored.data

    def _refresh(self, data: dict[str, Any]) -> dict[str, Any]:
        """New tokens for `data`'s refresh token, stored before use. If X refuses because another process
        rotated the token first, that process's stored tokens are used."""
        assert self.tokens is not None
        used = data.get("refresh_token")
        if not used:
            raise ReplyRefused("the X access token expired and there is no refresh token (was offline.access "
                               "granted?): connect again with `overheard connect x`", "auth")
        with x_oauth._refresh_lock:
            current = self._stored()
            if current.get("refresh_token") != used:
                return current  # another thread refreshed while we waited
            client_id, secret = x_oauth.client_credentials(self.app, self.config)
            try:
                body = x_oauth.refresh(self.config, client_id, secret, used)
            except x_oauth.TokenRefused as exc:
                again = self._stored()
                if again.get("refresh_token") != used:
                    return again  # another process rotated it: theirs is the live one
                raise ReplyRefused(f"{exc}: connect again with `overheard connect x`", "auth") from None
            fresh = x_oauth.token_data(body, data)
            self.tokens.save("x", fresh, account=fresh.get("username"), expires_at=fresh["expires_at"])
            return fresh

    def _live(self) -> dict[str, Any]:
        data = self._stored()
        expires = data.get("expires_at")
        if expires and parse_iso(expires) - timedelta(seconds=self.config.refresh_margin_seconds) <= utcnow():
            data = self._refresh(data)
        return data

    # ------------------------------------------------------------ posting
    def post_reply(self, mention: dict[str, Any], text: str) -> PostedReply:
        import tweepy

        data = self._live()
        try:
            answer = self._create(data, mention, text)
        except tweepy.Unauthorized:
            # Expired early or revoked: refresh once and try once more; a second 401 means connect again.
            data = self._refresh(data)
            try:
                answer = self._create(data, mention, text)
            except tweepy.Unauthorized:
                raise ReplyRefused("X refused the brand account's token even after a refresh: connect again "
                                   "with `overheard connect x`", "auth") from None
        post = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(post, dict) or not post.get("id"):
            raise ReplyUncertain("X answered without the new post's id; the reply may have been posted")
        post_id = str(post["id"])
        username = data.get("username")
        url = f"{self.config.web_url.rstrip('/')}/{username or 'i/web'}/status/{post_id}"
        return PostedReply(native_id=post_id, url=url, raw={**answer, "author": {"username": username,
                                                                                 "id": data.get("user_id")}})

    def _create(self, data: dict[str, Any], mention: dict[str, Any], text: str) -> dict[str, Any]:
        import tweepy

        client = x_client(self.config, data["access_token"])
        try:
            return client.create_tweet(text=text, in_reply_to_tweet_id=str(mention["native_id"]), user_auth=False)
        except tweepy.Unauthorized:
            raise
        except tweepy.TooManyRequests as exc:
            reset = getattr(exc, "reset_time", None)
            wait = max(0.0, reset - datetime.now(UTC).timestamp()) if reset else None
            when = f" (try again after {datetime.fromtimestamp(reset, UTC):%H:%M} UTC)" if reset else ""
            raise ReplyRefused(f"X's limit on posts for the brand account is used up{when}", "rate_limited",
                               retry_after_s=wait) from None
        except tweepy.Forbidden as exc:
            raise _forbidden(" ".join(exc.api_messages) or str(exc)) from None
        except tweepy.NotFound:
            raise ReplyRefused("the post was deleted (X no longer has it)", "gone") from None
        except tweepy.BadRequest as exc:
            raise ReplyRefused(f"X did not take the reply: {' '.join(exc.api_messages) or exc}", "invalid") from None
        except tweepy.TwitterServerError as exc:
            raise ReplyRefused(f"X had a server error ({exc.response.status_code}); nothing was posted, try again "
                               "later", "unavailable") from None
        except tweepy.HTTPException as exc:
            raise ReplyRefused(f"X did not take the reply: {exc}", "unavailable") from None
        except requests.exceptions.ConnectTimeout:
            raise ReplyRefused("could not reach X (the connection timed out); nothing was posted", "unavailable") \
                from None
        except requests.exceptions.ConnectionError as exc:
            if "NewConnectionError" in repr(exc) or "Connection refused" in str(exc):
                raise ReplyRefused("could not reach X; nothing was posted", "unavailable") from None
            raise ReplyUncertain("the connection to X broke after the reply was sent; it may have been posted") \
                from None
        except requests.exceptions.Timeout:
            raise ReplyUncertain(f"X did not answer within {self.config.timeout_seconds:g} s; the reply may have "
                                 "been posted") from None

    def preflight(self) -> None:
        try:
            self._stored()
        except ReplyRefused as exc:
            raise UserError(exc.reason) from None
        x_oauth.client_credentials(self.app, self.config)  # a refresh needs the client id

    def check(self) -> list[str]:
        if self.tokens is None:
            return []
        try:
            stored = self.tokens.load("x")
        except Exception as exc:  # noqa: BLE001 - a key problem is a line, not a traceback
            return [str(exc)]
        return [] if stored else ["X is not connected for replies: run `overheard connect x`"]


def _forbidden(message: str) -> ReplyRefused:
    """X's 403s in words an agent can act on (the texts are X's own `detail` strings)."""
    low = message.lower()
    if "duplicate" in low:
        return ReplyRefused("X refused it as a duplicate: the brand account already posted this exact text; "
                            "change the wording", "invalid")
    if "deleted or not visible" in low:
        return ReplyRefused("the post was deleted or is no longer visible to the brand account", "gone")
    if "not allowed because you have not been mentioned" in low or "reply to this conversation is not allowed" in low:
        return ReplyRefused("the author limited who can reply: X does not let the brand account answer this post "
                            "publicly; reach them another way (a DM)", "forbidden")
    return ReplyRefused(f"X refused the reply: {message}", "forbidden")
