"""Mastodon: the brand's account answers a status with `status_post(in_reply_to_id=...)` (Mastodon.py).

The source stores a status under its ActivityPub URI, seen on whichever instance it was collected from;
ids are per instance, so a status first seen elsewhere is resolved on the brand's instance
(`search_v2(uri, resolve=True)`) to get the id there. Every post carries an Idempotency-Key made of the
mention and the text, so pressing Retry after a lost answer cannot post the same reply twice (Mastodon
keeps the key for an hour).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field

from alerts.replies.base import PostedReply, Replier, ReplierConfig, ReplyRefused
from alerts.replies.platform import graphemes, missing_credentials, row_json, uncertain, urls
from listener.errors import ConfigError

T = TypeVar("T")
MASTODON_VERSION = "4.3.0"  # pinned: the client never asks the instance (see listener/sources/mastodon.py)
URL_WEIGHT = 23  # Mastodon counts every link as 23 characters, however long
DEFAULT_RETRY_AFTER = 300.0  # Mastodon's rate-limit windows are five minutes
# @user or @user@domain; Mastodon counts only "@user" of a remote mention.
MENTION = re.compile(r"(?<![\w/@])@(\w+)(?:@[\w.-]*\w)?", re.ASCII)
VISIBILITY_ORDER = ("public", "unlisted", "private", "direct")  # widest first
Visibility = Literal["public", "unlisted", "private", "direct"]


class MastodonReplyConfig(ReplierConfig):
    # The instance the brand's account lives on, e.g. "https://mastodon.social".
    instance_url: str = Field(pattern=r"^https?://")
    # Environment variable holding the brand account's access token (scopes write:statuses and read:search:
    # Preferences → Development → New application).
    access_token_env: str = "MASTODON_REPLY_TOKEN"
    # Widest visibility a reply gets; a reply to a narrower post (unlisted, followers-only, direct) keeps that.
    visibility: Visibility = "public"
    # The instance's limit (its /api/v2/instance configuration.statuses.max_characters); 500 on most.
    max_characters: int = Field(default=500, ge=1)
    # Start the reply with @author when the text does not name them: Mastodon notifies only those mentioned.
    mention_author: bool = True
    timeout_seconds: float = Field(default=30, gt=0)


class MastodonReplier(Replier):
    source: ClassVar[str] = "mastodon"
    name: ClassVar[str] = "Mastodon"
    Config = MastodonReplyConfig
    config: MastodonReplyConfig
    limit: ClassVar[int] = 500

    def __init__(self, config: MastodonReplyConfig, app: Any) -> None:
        super().__init__(config, app)
        self.limit = config.max_characters  # type: ignore[misc]  # the instance's own limit
        self.host = urlsplit(config.instance_url).netloc
        self._api: Any = None

    def length(self, text: str) -> int:
        """As Mastodon counts: graphemes, a link as 23, @user@domain as @user."""
        counted, last = [], 0
        for start, end, _ in urls(text):
            counted += [MENTION.sub(lambda m: "@" + m.group(1), text[last:start]), "x" * URL_WEIGHT]
            last = end
        counted.append(MENTION.sub(lambda m: "@" + m.group(1), text[last:]))
        return graphemes("".join(counted))

    def client(self) -> Any:
        if self._api is None:
            from mastodon import Mastodon

            try:
                token = self.app.secret("replies.mastodon.access_token_env", self.config.access_token_env)
            except ConfigError as exc:
                raise missing_credentials(exc) from None
            self._api = Mastodon(api_base_url=self.config.instance_url.rstrip("/"), access_token=token,
                                 mastodon_version=MASTODON_VERSION, version_check_mode="none",
                                 ratelimit_method="throw", request_timeout=self.config.timeout_seconds)
        return self._api

    # ------------------------------------------------------------ posting
    def post_reply(self, mention: dict[str, Any], text: str) -> PostedReply:
        api = self.client()
        target = self.target(mention)
        text = self.with_author(mention, target, text)
        if self.length(text) > self.limit:
            raise ReplyRefused(f"the reply is {self.length(text)} characters as Mastodon counts them; "
                               f"{self.host} takes at most {self.limit}", "invalid")
        visibility = narrowest(self.config.visibility, target.get("visibility"))
        key = hashlib.sha256(f"{mention.get('native_id')}\n{text}".encode()).hexdigest()
        status = self.call("posting the reply", lambda: api.status_post(
            text, in_reply_to_id=target["id"], visibility=visibility, idempotency_key=key), sent=True)
        raw = json.loads(json.dumps(status, default=str))
        uri = raw.get("uri") or raw.get("url") or str(raw.get("id"))
        return PostedReply(native_id=str(uri), url=raw.get("url") or str(uri), raw=raw)

    def target(self, mention: dict[str, Any]) -> dict[str, Any]:
        """The mention's status as the brand's instance knows it (id, visibility, account)."""
        raw = row_json(mention, "raw") or {}
        metrics = row_json(mention, "metrics") or {}
        if isinstance(raw, dict) and raw.get("id") and metrics.get("instance") == self.host:
            return raw  # collected on the brand's own instance: the stored id is valid here
        uri = mention.get("native_id") or mention.get("url")
        if not uri:
            raise ReplyRefused("the mention has no status address to answer", "invalid")
        api = self.client()
        found = self.call("finding the post", lambda: api.search_v2(uri, resolve=True, result_type="statuses"))
        statuses = [dict(s) for s in (found.get("statuses") or [])] if isinstance(found, dict) else []
        match = next((s for s in statuses if s.get("uri") == uri or s.get("url") == uri), None)
        if match is None:
            raise ReplyRefused(f"{self.host} cannot find the post any more: it was deleted, or its author's "
                               "server does not let this instance see it", "gone")
        return match

    def with_author(self, mention: dict[str, Any], target: dict[str, Any], text: str) -> str:
        author = str(mention.get("author") or (target.get("account") or {}).get("acct") or "").lstrip("@")
        if not self.config.mention_author or not author:
            return text
        user = author.split("@")[0].lower()
        if any(m.group(1).lower() == user for m in MENTION.finditer(text)):
            return text
        if author.endswith("@" + self.host):
            author = author.rsplit("@", 1)[0]  # a local account is written @user on its own instance
        return f"@{author} {text}"

    # ------------------------------------------------------------ doctor
    def check(self) -> list[str]:
        try:
            api = self.client()
            self.call("checking the token", api.account_verify_credentials)
        except ReplyRefused as exc:
            return [exc.reason if "replies.mastodon" in exc.reason else f"replies.mastodon: {exc.reason}"]
        try:
            info = self.call("reading the instance settings", api.instance_v2)
        except ReplyRefused:
            return []  # before Mastodon 4.0 there is no /api/v2/instance: the configured limit stands
        most = (((info or {}).get("configuration") or {}).get("statuses") or {}).get("max_characters")
        if isinstance(most, int) and most != self.config.max_characters:
            return [f"replies.mastodon.max_characters: {self.host} takes {most} characters, the config says "
                    f"{self.config.max_characters}; set max_characters = {most}"]
        return []

    # ------------------------------------------------------------ errors in words
    def call(self, what: str, fn: Callable[[], T], *, sent: bool = False) -> T:
        """`fn` with every refusal turned into a ReplyRefused. `sent`: the request may have been taken."""
        from mastodon import (
            MastodonAPIError,
            MastodonNetworkError,
            MastodonNotFoundError,
            MastodonRatelimitError,
            MastodonServerError,
            MastodonUnauthorizedError,
        )

        host = self.host
        try:
            return fn()
        except MastodonRatelimitError:
            reset = getattr(self._api, "ratelimit_reset", None)
            wait = max(reset - time.time(), 0.0) if reset else DEFAULT_RETRY_AFTER
            raise ReplyRefused(f"{host} is rate limiting the brand account; try again in {wait:.0f} s",
                               "rate_limited", retry_after_s=wait) from None
        except MastodonUnauthorizedError as exc:
            raise ReplyRefused(f"{host} refused the access token in {self.config.access_token_env} "
                               f"({_message(exc) or 'HTTP 401'}); make a new one with the write:statuses and "
                               "read:search scopes", "auth") from None
        except MastodonNotFoundError:
            raise ReplyRefused(f"the post was deleted ({host} answered 404 while {what})", "gone") from None
        except MastodonNetworkError as exc:
            if sent:
                raise uncertain(f"Mastodon {host}", exc) from None
            raise ReplyRefused(f"cannot reach {host} ({type(exc).__name__})", "unavailable") from None
        except MastodonServerError as exc:
            raise ReplyRefused(f"{host} had a server error (HTTP {_status(exc)}) while {what}; try again later "
                               "(a retry within the hour cannot post twice)", "unavailable") from None
        except MastodonAPIError as exc:
            status, message = _status(exc), _message(exc)
            if status == 403:
                if "scope" in message.lower():
                    raise ReplyRefused(f"{host}: the token in {self.config.access_token_env} lacks a scope "
                                       f"({message}); it needs write:statuses and read:search", "auth") from None
                raise ReplyRefused(f"{host} does not allow this reply ({message or 'HTTP 403'}): the author may "
                                   "have blocked the brand account, or it is limited", "forbidden") from None
            if status == 410:
                raise ReplyRefused(f"the post is gone ({host}: {message or 'HTTP 410'})", "gone") from None
            if status == 422:
                raise ReplyRefused(f"{host} rejected the reply: {message or 'HTTP 422'}", "invalid") from None
            if status is None:
                raise ReplyRefused(f"{host} answered something that is not Mastodon's JSON while {what}",
                                   "unavailable") from None
            raise ReplyRefused(f"{host} refused ({status}: {message})", "invalid") from None


def narrowest(configured: str, original: Any) -> str:
    """The narrower of two visibilities: a reply to a followers-only post stays followers-only."""
    order = {v: i for i, v in enumerate(VISIBILITY_ORDER)}
    if original not in order:
        return configured
    return max(configured, original, key=order.__getitem__)


def _status(exc: Exception) -> int | None:
    return next((a for a in exc.args if isinstance(a, int)), None)


def _message(exc: Exception) -> str:
    """The instance's own words ({"error": "..."}), the fourth argument Mastodon.py gives its errors."""
    args = [a for a in exc.args if isinstance(a, str)]
    return args[-1] if len(args) >= 3 else ""
