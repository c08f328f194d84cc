"""Bluesky post search (atproto), one query per brand keyword, newest first.

Search needs a logged-in account: a handle and an app password (Settings → App passwords), never the
main password. One login per run. A reply's thread is its root post; reach comes from the authors'
follower counts (getProfiles, 25 authors a request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import Field

from listener.errors import SourceError
from listener.models import Batch, Mention, Quarantined, iso, utcnow
from listener.query import BrandMatcher
from listener.sources.base import Source, SourceQuery
from listener.sources.web import (
    DEFAULT_RETRY_AFTER,
    Watermark,
    WebSourceConfig,
    brand_search_terms,
    parse_time,
    raw_text,
    searched_brand,
    window_start,
    with_retries,
)
from listener.text import BadText, clean_text

T = TypeVar("T")
PROFILES_PER_REQUEST = 25
FOLLOWER_CACHE_SIZE = 5_000


class BlueskyConfig(WebSourceConfig):
    # Where the account logs in: bsky.social for accounts Bluesky hosts, your own PDS if self-hosted.
    # After login atproto's client moves to the account's own PDS, named in the login answer's DID
    # document (bsky.social accounts live on *.host.bsky.network); search is proxied through it.
    base_url: str = "https://bsky.social"
    # The account that searches, e.g. "brightwave-listening.bsky.social".
    handle: str = Field(min_length=3)
    # Environment variable holding that account's app password.
    app_password_env: str = "BLUESKY_APP_PASSWORD"
    # Handles that belong to your brands: their posts count as the brand answering.
    brand_accounts: list[str] = Field(default_factory=list)
    page_size: int = Field(default=100, ge=1, le=100)
    # Look up authors' follower counts (reach); one extra request per 25 authors.
    followers: bool = True


class BlueskySource(Source):
    name = "bluesky"
    Config = BlueskyConfig
    config: BlueskyConfig

    def __init__(self, config: BlueskyConfig, app: Any) -> None:
        super().__init__(config, app)
        self.matcher = BrandMatcher(app.all_tracked())
        self.brand_accounts = {a.lower().lstrip("@") for a in config.brand_accounts}
        self._client: Any = None
        self._followers: dict[str, int | None] = {}

    def queries(self) -> list[SourceQuery]:
        return [SourceQuery(key=f"{t.name}:{term}", brand=t.name, text=f'"{term}"' if " " in term else term)
                for t in self.app.all_tracked() for term in brand_search_terms(t)]

    def client(self) -> Any:
        """A logged-in client (one login per run: createSession is limited to 30 per 5 minutes)."""
        if self._client is None:
            from atproto import Client
            from atproto_client.request import Request

            password = self.app.secret("sources.bluesky.app_password_env", self.config.app_password_env)
            client = Client(base_url=self.config.base_url, request=Request(timeout=self.config.timeout_seconds))
            self.call("login", lambda: client.login(self.config.handle, password, fetch_bsky_profile=False))
            self._client = client
        return self._client

    def check(self) -> list[str]:
        try:
            self.client()
        except SourceError as exc:
            return [str(exc)]
        return []

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one atproto call with our error rules: 429, refused credentials, bounded retries on 5xx."""
        from atproto_client.exceptions import (
            NetworkError,
            RateLimitExceededError,
            RequestErrorBase,
            UnauthorizedError,
        )

        label = f"Bluesky {what}"

        def transient(exc: Exception) -> bool:
            if isinstance(exc, NetworkError):
                return True
            response = getattr(exc, "response", None)
            return isinstance(exc, RequestErrorBase) and response is not None and response.status_code >= 500

        try:
            return with_retries(fn, what=label, retries=self.config.retries,
                                backoff=self.config.retry_backoff_seconds, is_transient=transient)
        except RateLimitExceededError as exc:
            wait = exc.retry_after
            if wait is None and exc.reset_at is not None:
                wait = max((exc.reset_at - utcnow()).total_seconds(), 0.0)
            wait = DEFAULT_RETRY_AFTER if wait is None else wait
            raise SourceError(f"{label}: rate limited; try again in {wait:.0f} s", retry_after=wait) from None
        except UnauthorizedError as exc:
            raise SourceError(f"{label}: refused ({exc}); check the handle and app password", auth=True) from None
        except ValueError:  # atproto parses a body labelled JSON before we see it
            raise SourceError(f"{label}: the answer is not JSON") from None
        except RequestErrorBase as exc:
            if transient(exc):
                tries = self.config.retries + 1
                raise SourceError(f"{label}: server error {exc} ({tries} attempts)") from None
            raise SourceError(f"{label}: {exc}") from None

    def _query(self, nsid: str, params: Any, what: str) -> dict[str, Any]:
        client = self.client()
        response = self.call(what, lambda: client.invoke_query(nsid, params=params, output_encoding="application/json"))
        if not isinstance(response.content, dict):
            start = response.content[:80] if isinstance(response.content, bytes) else response.content
            raise SourceError(f"Bluesky {what}: the answer is not JSON (starts {start!r})")
        return response.content

    def collect(self, query: SourceQuery, cursor: str | None,
                backfill: timedelta | None = None) -> Iterator[Batch]:
        from atproto import models

        seen = Watermark.load(cursor)
        since = window_start(seen, backfill, self.config)
        moved = Watermark(seen.newest, set(seen.ids))
        page_cursor = None
        for page in range(self.config.max_pages):
            params = models.AppBskyFeedSearchPosts.Params(
                q=query.text, sort="latest", since=iso(since), limit=self.config.page_size, cursor=page_cursor)
            what = f"search {query.text!r} page {page + 1}"
            data = self._query("app.bsky.feed.searchPosts", params, what)
            posts = data.get("posts")
            if not isinstance(posts, list):
                raise SourceError(f"Bluesky {what}: the answer has no `posts` list")
            self._learn_followers(posts)
            batch = Batch()
            for i, post in enumerate(posts):
                try:
                    mention = self.to_mention(post, query)
                except (BadText, ValueError, TypeError, KeyError, AttributeError) as exc:
                    uri = post.get("uri") if isinstance(post, dict) else None
                    batch.quarantined.append(Quarantined(self.name, f"search {query.text!r} post {uri or i}",
                                                         str(exc), raw_text(post)))
                    continue
                if mention is None or mention.created_at < since:
                    continue
                if seen.is_new(mention.created_at, mention.native_id):
                    batch.mentions.append(mention)
                    moved.advance(mention.created_at, mention.native_id)
            page_cursor = data.get("cursor")
            last = not posts or not page_cursor or page + 1 == self.config.max_pages
            if last:
                batch.cursor = moved.dump()
            yield batch
            if last:
                return

    def _learn_followers(self, posts: list[Any]) -> None:
        if not self.config.followers:
            return
        if len(self._followers) > FOLLOWER_CACHE_SIZE:  # counts go stale and a daemon keeps one source object
            self._followers.clear()
        from atproto import models

        dids = list(dict.fromkeys(
            p["author"]["did"] for p in posts
            if isinstance(p, dict) and isinstance(p.get("author"), dict) and isinstance(p["author"].get("did"), str)
            and p["author"]["did"] not in self._followers))
        for start in range(0, len(dids), PROFILES_PER_REQUEST):
            chunk = dids[start:start + PROFILES_PER_REQUEST]
            try:
                data = self._query("app.bsky.actor.getProfiles", models.AppBskyActorGetProfiles.Params(actors=chunk),
                                   "author profiles")
            except SourceError as exc:
                if exc.retry_after is not None or exc.auth:
                    raise
                data = {}  # reach is a nice-to-have: the mentions are stored without it
            for profile in data.get("profiles") or []:
                if isinstance(profile, dict) and isinstance(profile.get("followersCount"), int):
                    self._followers[profile.get("did")] = profile["followersCount"]
            for did in chunk:
                self._followers.setdefault(did, None)

    def to_mention(self, post: Any, query: SourceQuery) -> Mention | None:
        if not isinstance(post, dict):
            raise TypeError(f"post is {type(post).__name__}, not an object")
        uri, record, author = post.get("uri"), post.get("record"), post.get("author")
        if not isinstance(uri, str) or not uri.startswith("at://"):
            raise ValueError(f"uri {str(uri)[:60]!r} is not an at:// URI")
        if not isinstance(record, dict) or not isinstance(author, dict):
            raise TypeError("post has no record or no author")
        text = clean_text(record.get("text"), field="record.text")
        brand = searched_brand(self.matcher, text, query.brand)
        if brand is None:
            return None
        created = parse_time(record.get("createdAt"), "record.createdAt")
        if post.get("indexedAt"):
            # search orders and filters by sortAt = the earlier of createdAt and indexedAt (clients set createdAt)
            created = min(created, parse_time(post["indexedAt"], "indexedAt"))
        reply = record.get("reply") if isinstance(record.get("reply"), dict) else {}
        handle = str(author.get("handle") or "")
        langs = record.get("langs") if isinstance(record.get("langs"), list) else []
        counts = {k: post.get(f"{k}Count") if isinstance(post.get(f"{k}Count"), int) else 0
                  for k in ("reply", "repost", "like", "quote")}
        return Mention(
            source=self.name,
            native_id=uri,
            text=text,
            created_at=created,
            brand=brand,
            url=f"https://bsky.app/profile/{handle or author.get('did')}/post/{uri.rsplit('/', 1)[-1]}",
            author=handle or None,
            author_id=author.get("did"),
            author_followers=self._followers.get(author.get("did")),
            lang=langs[0] if langs and isinstance(langs[0], str) else None,
            thread_id=(reply.get("root") or {}).get("uri") if reply else None,
            parent_id=(reply.get("parent") or {}).get("uri") if reply else None,
            engagement=sum(counts.values()),
            is_brand_account=handle.lower() in self.brand_accounts,
            metrics={**counts, "display_name": author.get("displayName")},
            raw=post,
        )

