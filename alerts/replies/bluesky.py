"""Bluesky: the brand's account answers a post with `send_post(reply_to=ReplyRef(root, parent))` (atproto).

A reply names its parent and the thread's root, each by URI and CID. The post is read fresh first
(app.bsky.feed.getPosts) rather than trusting the stored row: a deleted post or a thread whose author
limits replies is then refused in words, where the PDS would accept a reply to nothing. Links become
link facets, so they are clickable in the app. The session is kept per replier; atproto refreshes it
before it expires, and a session the server calls expired or revoked is replaced by one new login.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import Field

from alerts.replies.base import PostedReply, Replier, ReplierConfig, ReplyRefused
from alerts.replies.platform import graphemes, missing_credentials, uncertain, urls
from listener.errors import ConfigError
from listener.models import utcnow

T = TypeVar("T")
MAX_BYTES = 3000  # the post record's other limit (app.bsky.feed.post text maxLength, UTF-8 bytes)
DEFAULT_RETRY_AFTER = 300.0
SESSION_ERRORS = {"ExpiredToken", "InvalidToken", "AuthMissing", "AuthRequired"}


class BlueskyReplyConfig(ReplierConfig):
    # Where the brand account logs in: bsky.social for accounts Bluesky hosts, your own PDS if self-hosted.
    base_url: str = "https://bsky.social"
    # The brand account that answers, e.g. "brightwave.bsky.social".
    handle: str = Field(min_length=3)
    # Environment variable holding an app password of that account (Settings → Privacy and security →
    # App passwords), never the main password.
    app_password_env: str = "BLUESKY_REPLY_APP_PASSWORD"
    timeout_seconds: float = Field(default=30, gt=0)


class _SessionGone(Exception):
    """The server no longer takes the session: log in again (once)."""


class BlueskyReplier(Replier):
    source: ClassVar[str] = "bluesky"
    name: ClassVar[str] = "Bluesky"
    Config = BlueskyReplyConfig
    config: BlueskyReplyConfig
    limit: ClassVar[int] = 300  # graphemes

    def __init__(self, config: BlueskyReplyConfig, app: Any) -> None:
        super().__init__(config, app)
        self._client: Any = None
        self.logins = 0

    def length(self, text: str) -> int:
        """Graphemes, as the Bluesky app counts (a flag or a family emoji is one)."""
        return graphemes(text)

    # ------------------------------------------------------------ session
    def client(self) -> Any:
        """A logged-in client; one login per replier (createSession allows 30 per 5 minutes)."""
        if self._client is None:
            from atproto import Client
            from atproto_client.request import Request

            try:
                password = self.app.secret("replies.bluesky.app_password_env", self.config.app_password_env)
            except ConfigError as exc:
                raise missing_credentials(exc) from None
            client = Client(base_url=self.config.base_url.rstrip("/"),
                            request=Request(timeout=self.config.timeout_seconds))
            self.logins += 1
            self.call("logging in", lambda: client.login(self.config.handle, password, fetch_bsky_profile=False),
                      login=True)
            self._client = client
        return self._client

    def with_session(self, fn: Callable[[Any], T]) -> T:
        """`fn(client)`, logging in again once when the server says the session is over."""
        try:
            return fn(self.client())
        except _SessionGone:
            self._client = None
        try:
            return fn(self.client())
        except _SessionGone:
            raise ReplyRefused(f"Bluesky keeps refusing the session of {self.config.handle} right after logging "
                               "in; check the account in the Bluesky app", "auth") from None

    # ------------------------------------------------------------ posting
    def post_reply(self, mention: dict[str, Any], text: str) -> PostedReply:
        from atproto import client_utils, models

        uri = str(mention.get("native_id") or "")
        if not uri.startswith("at://"):
            raise ReplyRefused(f"the mention's id {uri[:60]!r} is not a Bluesky post address (at://)", "invalid")
        if self.length(text) > self.limit:
            raise ReplyRefused(f"the reply is {self.length(text)} characters; Bluesky takes at most {self.limit}",
                               "invalid")
        if len(text.encode()) > MAX_BYTES:
            raise ReplyRefused(f"the reply is {len(text.encode())} bytes; Bluesky takes at most {MAX_BYTES}",
                               "invalid")
        builder, last = client_utils.TextBuilder(), 0
        for start, end, url in urls(text):
            builder.text(text[last:start]).link(url, url)
            last = end
        builder.text(text[last:])
        lang = mention.get("source_lang") or mention.get("lang")

        def send(client: Any) -> Any:
            post = self.fresh_post(client, uri)
            parent = models.ComAtprotoRepoStrongRef.Main(uri=post.uri, cid=post.cid)
            reply = getattr(post.record, "reply", None)
            root = (models.ComAtprotoRepoStrongRef.Main(uri=reply.root.uri, cid=reply.root.cid)
                    if reply is not None and getattr(reply, "root", None) is not None else parent)
            ref = models.AppBskyFeedPost.ReplyRef(parent=parent, root=root)
            return self.call("posting the reply", lambda: client.send_post(
                builder, profile_identify=self.config.handle, reply_to=ref,
                langs=[lang] if isinstance(lang, str) and lang else None), sent=True)

        created = self.with_session(send)
        rkey = created.uri.rsplit("/", 1)[-1]
        return PostedReply(native_id=created.uri, url=f"https://bsky.app/profile/{self.config.handle}/post/{rkey}",
                           raw={"uri": created.uri, "cid": created.cid})

    def fresh_post(self, client: Any, uri: str) -> Any:
        """The post as the AppView has it now; gone and reply-gated posts are refused here."""
        found = self.call("reading the post", lambda: client.get_posts([uri]))
        post = next((p for p in found.posts if p.uri == uri), None)
        if post is None:
            raise ReplyRefused("the post was deleted (or its author blocked the brand account)", "gone")
        viewer = getattr(post, "viewer", None)
        if viewer is not None and getattr(viewer, "reply_disabled", False):
            raise ReplyRefused("the author allows replies only from some people (a thread gate), and the brand "
                               "account is not one of them", "forbidden")
        return post

    # ------------------------------------------------------------ doctor
    def check(self) -> list[str]:
        try:
            self.client()
        except ReplyRefused as exc:
            return [exc.reason if "replies.bluesky" in exc.reason else f"replies.bluesky: {exc.reason}"]
        return []

    # ------------------------------------------------------------ errors in words
    def call(self, what: str, fn: Callable[[], T], *, sent: bool = False, login: bool = False) -> T:
        from atproto_client.exceptions import (
            NetworkError,
            RateLimitExceededError,
            RequestErrorBase,
            UnauthorizedError,
        )

        try:
            return fn()
        except RateLimitExceededError as exc:
            wait = exc.retry_after
            if wait is None and exc.reset_at is not None:
                wait = max((exc.reset_at - utcnow()).total_seconds(), 0.0)
            wait = DEFAULT_RETRY_AFTER if wait is None else wait
            raise ReplyRefused(f"Bluesky is rate limiting the brand account; try again in {wait:.0f} s",
                               "rate_limited", retry_after_s=wait) from None
        except NetworkError as exc:
            if sent:
                raise uncertain("Bluesky", exc) from None
            raise ReplyRefused(f"cannot reach Bluesky at {self.config.base_url} ({type(exc).__name__})",
                               "unavailable") from None
        except RequestErrorBase as exc:
            code, message = _error(exc)
            status = exc.response.status_code if exc.response is not None else None
            if login:
                if code == "AccountTakedown":
                    raise ReplyRefused(f"Bluesky has taken down {self.config.handle} ({message})",
                                       "forbidden") from None
                if code == "AuthFactorTokenRequired":
                    raise ReplyRefused(f"Bluesky asks {self.config.handle} for an email code: use an app password "
                                       f"in {self.config.app_password_env}, not the main password", "auth") from None
                if isinstance(exc, UnauthorizedError) or status in (400, 401):
                    raise ReplyRefused(f"Bluesky refused the login of {self.config.handle} ({message or status}); "
                                       f"make a new app password and put it in {self.config.app_password_env}",
                                       "auth") from None
            if code in SESSION_ERRORS or isinstance(exc, UnauthorizedError):
                raise _SessionGone from None
            if status is not None and status >= 500:
                if sent:
                    raise uncertain("Bluesky", exc) from None
                raise ReplyRefused(f"Bluesky had a server error ({status}) while {what}; try again later",
                                   "unavailable") from None
            if status == 403:
                raise ReplyRefused(f"Bluesky does not allow this ({message or 403})", "forbidden") from None
            if code == "NotFound" or status == 404:
                raise ReplyRefused(f"the post was deleted ({message or 'not found'})", "gone") from None
            raise ReplyRefused(f"Bluesky refused the reply while {what}: {code}: {message}", "invalid") from None
        except ValueError:  # atproto parses a body labelled JSON before we see it
            raise ReplyRefused(f"Bluesky answered something that is not JSON while {what}", "unavailable") from None


def _error(exc: Any) -> tuple[str, str]:
    """(error, message) of an XRPC error body, e.g. ("ExpiredToken", "Token has expired")."""
    content = getattr(exc.response, "content", None)
    error = getattr(content, "error", None) or (content.get("error") if isinstance(content, dict) else None)
    message = getattr(content, "message", None) or (content.get("message") if isinstance(content, dict) else None)
    return str(error or ""), str(message or "")
