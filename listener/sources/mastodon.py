"""Mastodon: hashtag timelines and status search on the instances you choose (Mastodon.py).

Hashtag timelines are public; searching post text needs an access token (read scope) on that instance.
A post is stored once under its ActivityPub URI, whichever instance it was seen on. A reply's thread is
its conversation's first post, found through the status context (one request per reply, cached per run).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from listener.config import Section
from listener.errors import SourceError
from listener.models import Batch, Mention, Quarantined, utcnow
from listener.query import BrandMatcher
from listener.sources.base import Source, SourceQuery
from listener.sources.html_text import html_to_text
from listener.sources.web import (
    DEFAULT_RETRY_AFTER,
    USER_AGENT,
    WebSourceConfig,
    brand_search_terms,
    check_brands,
    raw_text,
    searched_brand,
    with_retries,
)
from listener.text import BadText, clean_text

T = TypeVar("T")
# Pinned, so the client never asks the instance for its version (unpinned + unreachable instance loops until
# RecursionError). "created" rather than "none": with "none" Mastodon.py leaves its idea of the version at
# 1.0.0 and refuses search_v2's min_id/offset ("Advanced search parameters require Mastodon 2.8.0+").
MASTODON_VERSION = "4.3.0"
ROOT_CACHE_SIZE = 10_000


class MastodonInstance(Section):
    """One instance to listen on."""

    url: str = Field(pattern=r"^https?://")
    # Environment variable holding an access token (read scope) for this instance. Needed for search;
    # empty: hashtag timelines only.
    access_token_env: str = ""


class MastodonConfig(WebSourceConfig):
    instances: list[MastodonInstance] = Field(min_length=1)
    # Brand or competitor name -> hashtags to follow (without '#'). A brand not listed here follows its
    # keywords as hashtags, spaces removed ("Bright Wave" -> #brightwave).
    hashtags: dict[str, list[str]] = Field(default_factory=dict)
    # Search post text for each keyword on instances that have a token.
    search: bool = True
    # Accounts that belong to your brands (user@instance): their posts count as the brand answering.
    brand_accounts: list[str] = Field(default_factory=list)
    page_size: int = Field(default=40, ge=1, le=40)

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        out = {}
        for brand, tags in value.items():
            clean = [t.strip().lstrip("#").lower() for t in tags]
            if any(not re.fullmatch(r"\w+", t) for t in clean):
                raise ValueError(f"hashtags for {brand!r} must be words without spaces, got {tags!r}")
            out[brand] = clean
        return out


def snowflake(when: datetime) -> str:
    """The smallest Mastodon status id at `when` (ids are milliseconds << 16)."""
    return str(int(when.timestamp() * 1000) << 16)


class MastodonSource(Source):
    name = "mastodon"
    Config = MastodonConfig
    config: MastodonConfig

    def __init__(self, config: MastodonConfig, app: Any) -> None:
        super().__init__(config, app)
        check_brands(app, "sources.mastodon.hashtags", list(config.hashtags))
        self.matcher = BrandMatcher(app.all_tracked())
        self.brand_accounts = {a.lower().lstrip("@") for a in config.brand_accounts}
        self._clients: dict[str, Any] = {}
        self._roots: dict[tuple[str, str], tuple[str | None, str | None]] = {}

    # ------------------------------------------------------------ queries
    def tags_for(self, tracked: Any) -> list[str]:
        if tracked.name in self.config.hashtags:
            return self.config.hashtags[tracked.name]
        tags = [re.sub(r"\W", "", k).lower() for k in tracked.keywords]
        return list(dict.fromkeys(t for t in tags if t))

    def queries(self) -> list[SourceQuery]:
        out = []
        for inst in self.config.instances:
            host = host_of(inst.url)
            for t in self.app.all_tracked():
                out += [SourceQuery(key=f"{host} #{tag}", brand=t.name, text=f"#{tag}") for tag in self.tags_for(t)]
                if self.config.search and inst.access_token_env:
                    out += [SourceQuery(key=f"{host} search {term}", brand=t.name,
                                        text=f'"{term}"' if " " in term else term)
                            for term in brand_search_terms(t)]
        return out

    def client(self, host: str) -> Any:
        if host not in self._clients:
            i, inst = next((i, x) for i, x in enumerate(self.config.instances) if host_of(x.url) == host)
            key = f"sources.mastodon.instances[{i}].access_token_env"
            token = self.app.secret(key, inst.access_token_env) if inst.access_token_env else None
            self._clients[host] = _client_class()(
                api_base_url=inst.url.rstrip("/"), access_token=token, mastodon_version=MASTODON_VERSION,
                version_check_mode="created", ratelimit_method="throw", request_timeout=self.config.timeout_seconds,
                user_agent=USER_AGENT)
        return self._clients[host]

    def limit_scope(self, query: SourceQuery) -> str:
        return query.key.split(" ", 1)[0]  # each instance has its own rate limit and token

    def check(self) -> list[str]:
        problems = []
        for inst in self.config.instances:
            host = host_of(inst.url)
            try:
                api = self.client(host)
                try:
                    self.call(host, "instance", api.instance)
                except SourceError as exc:
                    if "not found" not in str(exc):
                        raise
                    # a server older than Mastodon 4.0 (or Pleroma, Akkoma): only the v1 endpoint exists
                    self.call(host, "instance", api.instance_v1)
                    api.instance_v2_missing = True
                if inst.access_token_env:
                    self.call(host, "token check", api.account_verify_credentials)
            except SourceError as exc:
                problems.append(str(exc))
        return problems

    # ------------------------------------------------------------ calls with our error rules
    def call(self, host: str, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        from mastodon import (
            MastodonAPIError,
            MastodonNetworkError,
            MastodonNotFoundError,
            MastodonRatelimitError,
            MastodonServerError,
            MastodonUnauthorizedError,
        )

        label = f"Mastodon {host} {what}"
        try:
            return with_retries(lambda: fn(*args, **kwargs), what=label, retries=self.config.retries,
                                backoff=self.config.retry_backoff_seconds,
                                is_transient=lambda e: isinstance(e, (MastodonServerError, MastodonNetworkError)))
        except MastodonRatelimitError:
            reset = getattr(self._clients.get(host), "ratelimit_reset", None)
            wait = max(reset - time.time(), 0.0) if reset else DEFAULT_RETRY_AFTER
            raise SourceError(f"{label}: rate limited; try again in {wait:.0f} s", retry_after=wait) from None
        except MastodonUnauthorizedError:
            raise SourceError(f"{label}: the access token was refused (HTTP 401)", auth=True) from None
        except MastodonServerError as exc:
            tries = self.config.retries + 1
            raise SourceError(f"{label}: server error HTTP {_status(exc)} ({tries} attempts)") from None
        except MastodonNetworkError as exc:
            raise SourceError(f"{label}: cannot reach the instance ({type(exc).__name__})") from None
        except MastodonNotFoundError:
            raise SourceError(f"{label}: not found (HTTP 404)") from None
        except MastodonAPIError as exc:
            status = _status(exc)
            if status == 403:
                raise SourceError(f"{label}: access refused (HTTP 403); check the token's scopes", auth=True) from None
            if status is None and "parse" in str(exc.args[0] if exc.args else ""):
                raise SourceError(f"{label}: the answer is not JSON") from None
            raise SourceError(f"{label}: HTTP {status}: {_detail(exc)}") from None

    # ------------------------------------------------------------ collecting
    def collect(self, query: SourceQuery, cursor: str | None,
                backfill: timedelta | None = None) -> Iterator[Batch]:
        host = query.key.split(" ", 1)[0]
        start = cursor or snowflake(utcnow() - (backfill or timedelta(days=self.config.first_run_days)))
        if query.text.startswith("#"):
            yield from self._timeline(host, query.text[1:], query, start)
        else:
            yield from self._search(host, query.text, query, start)

    def _timeline(self, host: str, tag: str, query: SourceQuery, position: str) -> Iterator[Batch]:
        """Forward from `position` with min_id: each page is the posts just after the last; its cursor commits."""
        api = self.client(host)
        for _ in range(self.config.max_pages):
            page = self.call(host, f"#{tag}", api.timeline_hashtag, tag, min_id=position, limit=self.config.page_size)
            if not isinstance(page, list):
                raise SourceError(f"Mastodon {host} #{tag}: the answer is not a list of posts")
            if not page:
                return
            batch = self._batch(host, page, query, f"https://{host}/tags/{tag}")
            newest = max((_id(s) for s in page if _id(s) is not None), key=id_order, default=None)
            if newest is None or id_order(newest) <= id_order(position):
                raise SourceError(f"Mastodon {host} #{tag}: the page does not move past id {position}")
            position = batch.cursor = newest
            yield batch

    def _search(self, host: str, term: str, query: SourceQuery, since_id: str) -> Iterator[Batch]:
        """Newest first with offsets; the cursor (newest id seen) commits with the last page."""
        api = self.client(host)
        newest = since_id
        for page_no in range(self.config.max_pages):
            found = self.call(host, f"search {term!r}", api.search_v2, term, resolve=False, result_type="statuses",
                              min_id=since_id, limit=self.config.page_size, offset=page_no * self.config.page_size)
            statuses = found.get("statuses") if isinstance(found, dict) else None
            if not isinstance(statuses, list):
                raise SourceError(f"Mastodon {host} search {term!r}: the answer has no `statuses` list")
            # the server applies min_id; anything at or before it that still comes back is not new
            fresh = [s for s in statuses if _id(s) is None or id_order(_id(s)) > id_order(since_id)]
            batch = self._batch(host, fresh, query, f"https://{host}/search?q={term}")
            newest = max([newest, *(i for i in map(_id, statuses) if i)], key=id_order)
            last = len(statuses) < self.config.page_size or page_no + 1 == self.config.max_pages
            batch.cursor = newest if last else None
            yield batch
            if last:
                return

    def _batch(self, host: str, statuses: list[Any], query: SourceQuery, where: str) -> Batch:
        batch = Batch()
        for i, status in enumerate(statuses):
            try:
                mention = self.to_mention(host, status, query)
            except (BadText, ValueError, TypeError, KeyError, AttributeError) as exc:
                batch.quarantined.append(Quarantined(self.name, f"{where} status {_id(status) or i}", str(exc),
                                                     raw_text(status)))
                continue
            if mention is not None:
                batch.mentions.append(mention)
        return batch

    def thread_of(self, host: str, status: Any) -> tuple[str | None, str | None]:
        """(root URI, parent URI) of a reply, from the status context; (None, None) when it cannot be seen."""
        key = (host, str(status["in_reply_to_id"]))
        if len(self._roots) > ROOT_CACHE_SIZE:  # a long-running daemon keeps one source object
            self._roots.clear()
        if key not in self._roots:
            try:
                context = self.call(host, "context", self.client(host).status_context, status["id"])
                ancestors = context.get("ancestors") or []
            except SourceError as exc:
                if exc.retry_after is not None or exc.auth:
                    raise
                ancestors = []  # deleted or private parent: the reply stands as its own thread
            self._roots[key] = (ancestors[0].get("uri"), ancestors[-1].get("uri")) if ancestors else (None, None)
        return self._roots[key]

    def to_mention(self, host: str, status: Any, query: SourceQuery) -> Mention | None:
        if not isinstance(status, dict):
            raise TypeError(f"status is {type(status).__name__}, not an object")
        if status.get("reblog"):
            return None  # a boost repeats someone else's post
        uri = status.get("uri") or status.get("url")
        if not uri or not status.get("id"):
            raise ValueError("status has no id or uri")
        text = clean_text(html_to_text(status.get("content") or ""), field="content")
        warning = html_to_text(status.get("spoiler_text") or "") or None
        brand = searched_brand(self.matcher, f"{warning or ''}\n{text}", query.brand)
        if brand is None:
            return None
        created = status.get("created_at")
        if not isinstance(created, datetime):
            raise TypeError(f"created_at {str(created)[:40]!r} is not a time")
        account = status.get("account") or {}
        acct = str(account.get("acct") or "")
        if acct and "@" not in acct:
            acct = f"{acct}@{host}"
        root, parent = self.thread_of(host, status) if status.get("in_reply_to_id") else (None, None)
        if parent is None and status.get("in_reply_to_id"):
            # The parent is deleted, private or on a server that refuses: the status still names it, so the
            # reply keeps its link (the parent's address on the instance it was seen on).
            parent = f"https://{host}/api/v1/statuses/{status['in_reply_to_id']}"
        counts = {k: _int(status.get(f"{k}_count")) for k in ("replies", "reblogs", "favourites")}
        return Mention(
            source=self.name,
            native_id=str(uri),
            text=text,
            title=warning,
            created_at=created,
            brand=brand,
            url=status.get("url") or str(uri),
            author=acct or None,
            author_id=account.get("url"),
            author_followers=_int(account.get("followers_count")) if account else None,
            lang=status.get("language"),
            thread_id=root,
            parent_id=parent,
            engagement=sum(counts.values()),
            is_brand_account=acct.lower() in self.brand_accounts,
            metrics={"instance": host, **counts,
                     "tags": [t.get("name") for t in status.get("tags") or [] if isinstance(t, dict)]},
            raw=status,
        )


@lru_cache(maxsize=1)
def _client_class() -> type:
    """Mastodon.py's client, remembering that a server has no /api/v2/instance.

    Before every timeline page Mastodon.py asks whether the timeline is public, from the v2 instance
    information it caches, but it caches only a success: on a server older than Mastodon 4.0 (and on
    Pleroma, Akkoma and other servers that speak the v1 API) the 404 made it ask again before every page.
    The first refusal is remembered here; the timeline is then assumed readable, as Mastodon.py itself
    assumes when it cannot tell, and the timeline request says otherwise if it is not.
    """
    from mastodon import Mastodon, MastodonNetworkError, MastodonRatelimitError, MastodonServerError

    class Client(Mastodon):  # type: ignore[misc]
        instance_v2_missing = False

        def timeline_is_available(self, timeline: str, local: bool = False, remote: bool = False,
                                  with_auth: bool = False, fail_hard: bool = False) -> bool:
            if self.instance_v2_missing:
                return True
            try:
                return super().timeline_is_available(timeline, local=local, remote=remote, with_auth=with_auth,
                                                     fail_hard=True)
            except Exception as exc:  # noqa: BLE001 - Mastodon.py wraps whatever went wrong
                cause = exc.__cause__
                if isinstance(cause, MastodonRatelimitError):
                    raise cause from None
                if not isinstance(cause, (MastodonNetworkError, MastodonServerError, KeyError, TypeError)):
                    self.instance_v2_missing = True  # 404, 401/403 or not JSON: it will not change this run
                return True

    return Client


def host_of(url: str) -> str:
    return urlsplit(url).netloc


def id_order(status_id: str) -> tuple[int, str]:
    """Sort key for status ids: Mastodon's are decimal snowflakes; ULIDs and flake ids (servers that speak
    its API) sort as strings of one length. Shorter first, then by characters, orders all three."""
    return len(status_id), status_id


def _id(status: Any) -> str | None:
    return str(status.get("id")) if isinstance(status, dict) and status.get("id") is not None else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _status(exc: Exception) -> int | None:
    return next((a for a in exc.args if isinstance(a, int)), None)


def _detail(exc: Exception) -> str:
    return " ".join(str(a) for a in exc.args if isinstance(a, str))[:200]
