"""X (Twitter API v2) through tweepy: recent search for each brand, plus the brand accounts' mentions.

The cursor is a small JSON document per (brand, query):

    {"since_id": "<newest post stored by the last finished sweep>",
     "sweep": {"newest_id": "...", "until_id": "...", "start_time": "..."}}   # only while a sweep is unfinished

X pages newest first. A sweep asks for everything newer than `since_id`; `since_id` moves to the
sweep's newest post only when its last (oldest) page is stored. Each page is stored together with a
cursor whose `sweep.until_id` is the oldest post of that page, so a run stopped between pages (crash,
kill, 429, page budget) resumes the same sweep below `until_id` and above `since_id`: nothing is
skipped and the upsert makes the overlap harmless.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy
from pydantic import Field

from listener.errors import ConfigError, SourceError
from listener.models import Batch, Mention, Quarantined, iso, parse_iso, utcnow
from listener.query import BrandMatcher, brand_query, to_x
from listener.sources.base import Source, SourceConfig, SourceQuery
from listener.text import BadText, clean_text

log = logging.getLogger("overheard.sources.x")

TWEEPY_HOST = "https://api.twitter.com"  # hard-coded inside tweepy; rewritten to api_url by the session
TWITTER_EPOCH_MS = 1288834974657
RECENT_SEARCH_DAYS = 7
WINDOW_MARGIN = timedelta(minutes=2)  # stay inside the 7-day window though clocks differ a little
# note_tweet: the full text of a long post (`text` stops at 280 characters); entities: the links behind t.co.
TWEET_FIELDS = ["author_id", "created_at", "conversation_id", "in_reply_to_user_id", "referenced_tweets",
                "public_metrics", "lang", "note_tweet", "entities"]
USER_FIELDS = ["username", "name", "public_metrics", "verified", "verified_type"]
# referenced_tweets.id.author_id: the authors of retweeted posts, so the original can be stored too.
EXPANSIONS = ["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"]
RETWEET_PREFIX = re.compile(r"^RT @\w+: ")


class XConfig(SourceConfig):
    """[sources.x]"""

    bearer_token_env: str = "X_BEARER_TOKEN"  # env var holding the app's OAuth 2.0 bearer token
    api_url: str = "https://api.twitter.com"  # the API host (point at a proxy or a test server)
    web_url: str = "https://x.com"  # for links to posts
    max_results: int = Field(default=100, ge=10, le=100)  # posts per page (X: 10..100)
    max_pages: int = Field(default=5, ge=1, le=100)  # pages per query per run: the request budget
    first_run_hours: float = Field(default=24, gt=0, le=24 * RECENT_SEARCH_DAYS)  # how far back a first run looks
    include_retweets: bool = False  # adds -is:retweet when false
    include_brand_replies: bool = True  # also collect the brand accounts' replies (from:handle is:reply)
    mentions_timeline: bool = True  # also read each own brand handle's mentions timeline
    competitors: bool = True  # also search for [[competitors]] (share of voice)
    max_query_length: int = Field(default=512, ge=1)  # X's limit for your access level (512; 4096 for Pro)
    max_retries: int = Field(default=3, ge=0, le=10)  # retries of one page on 5xx, timeouts, broken JSON
    retry_backoff_seconds: float = Field(default=2.0, ge=0)  # first wait; doubles on each retry
    timeout_seconds: float = Field(default=30, gt=0)


class _RebasedSession(requests.Session):
    """tweepy's session, pointed at `api_url` and never without a timeout."""

    def __init__(self, api_url: str, timeout: float) -> None:
        super().__init__()
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.last_headers: dict[str, str] = {}
        self.hooks["response"].append(self._remember)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if url.startswith(TWEEPY_HOST):
            url = self.api_url + url[len(TWEEPY_HOST):]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # x-rate-limit-remaining is not on tweepy's response object; only a hook sees it.
        self.last_headers = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("x-rate")}


def x_unescape(text: object) -> object:
    """X sends post text with &, < and > as HTML entities ("AT&amp;T"); store what the author typed.
    Only those three: X escapes nothing else, so a literal "&eacute;" someone typed stays as it is."""
    if not isinstance(text, str):
        return text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass
class XCursor:
    since_id: int | None = None
    user_id: str | None = None  # mentions timeline: the handle's numeric id, looked up once
    sweep_newest: int | None = None
    sweep_until: int | None = None
    sweep_start: str | None = None  # ISO time: the lower bound of a sweep that has no since_id

    @classmethod
    def load(cls, value: str | None) -> XCursor:
        if not value:
            return cls()
        try:
            data = json.loads(value)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, int) or value.isdigit():  # a bare id (hand-written cursor) is a since_id
            return cls(since_id=int(value))
        if not isinstance(data, dict):
            log.warning("X cursor %r is not readable; starting from the first-run window", value[:80])
            return cls()
        sweep = data.get("sweep") or {}
        return cls(
            since_id=_int(data.get("since_id")), user_id=data.get("user_id"),
            sweep_newest=_int(sweep.get("newest_id")), sweep_until=_int(sweep.get("until_id")),
            sweep_start=sweep.get("start_time"),
        )

    @property
    def in_sweep(self) -> bool:
        return self.sweep_until is not None

    def dump(self) -> str:
        data: dict[str, Any] = {"since_id": None if self.since_id is None else str(self.since_id)}
        if self.user_id:
            data["user_id"] = self.user_id
        if self.in_sweep:
            data["sweep"] = {"newest_id": None if self.sweep_newest is None else str(self.sweep_newest),
                             "until_id": str(self.sweep_until), "start_time": self.sweep_start}
        return json.dumps(data, sort_keys=True)


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def snowflake_time(post_id: int) -> datetime:
    """When an X post id was minted (ids are time-ordered snowflakes)."""
    return datetime.fromtimestamp(((post_id >> 22) + TWITTER_EPOCH_MS) / 1000, tz=UTC)


class XSource(Source):
    name = "x"
    Config = XConfig
    config: XConfig

    def __init__(self, config: XConfig, app: Any) -> None:
        super().__init__(config, app)
        self.matcher = BrandMatcher(app.all_tracked())

    # ------------------------------------------------------------ what to ask for
    def _tracked(self) -> list[Any]:
        return list(self.app.all_tracked()) if self.config.competitors else list(self.app.brands)

    def _handles(self, name: str) -> list[str]:
        tracked = next((t for t in self.app.all_tracked() if t.name == name), None)
        return [h.lstrip("@") for h in (tracked.handles if tracked else [])]

    def search_query(self, tracked: Any) -> str:
        """The X search query for one brand or competitor, built from its config."""
        query = to_x(brand_query(tracked))
        handles = [h.lstrip("@") for h in tracked.handles]
        if self.config.include_brand_replies and handles and tracked in self.app.brands:
            froms = f"from:{handles[0]}" if len(handles) == 1 else "(" + " OR ".join(f"from:{h}" for h in handles) + ")"
            query = f"(({query}) OR ({froms} is:reply))"
        if not self.config.include_retweets:
            query += " -is:retweet"
        langs = list(getattr(tracked, "languages", []) or [])
        if langs:
            options = " OR ".join(f"lang:{x}" for x in langs)
            query += f" lang:{langs[0]}" if len(langs) == 1 else f" ({options})"
        return query

    def queries(self) -> list[SourceQuery]:
        out = [SourceQuery(key=f"search:{t.name}", brand=t.name, text=self.search_query(t)) for t in self._tracked()]
        if self.config.mentions_timeline:
            for brand in self.app.brands:
                for handle in brand.handles:
                    out.append(SourceQuery(key=f"mentions:{handle.lstrip('@').lower()}", brand=brand.name,
                                           text=handle.lstrip("@")))
        return out

    # ------------------------------------------------------------ the client
    def token(self) -> str:
        return self.app.secret("sources.x.bearer_token_env", self.config.bearer_token_env)

    def client(self) -> tweepy.Client:
        # return_type=dict keeps the raw JSON; wait_on_rate_limit=False because tweepy would otherwise
        # sleep (or, without a reset header, retry forever) inside our run.
        client = tweepy.Client(bearer_token=self.token(), return_type=dict, wait_on_rate_limit=False)
        client.session = _RebasedSession(self.config.api_url, self.config.timeout_seconds)
        return client

    # ------------------------------------------------------------ collecting
    def collect(self, query: SourceQuery, cursor: str | None,
                backfill: timedelta | None = None) -> Iterator[Batch]:
        """Pages newer than the cursor, oldest sweep state first; each batch carries the cursor to store."""
        if len(query.text) > self.config.max_query_length and query.key.startswith("search:"):
            raise SourceError(f"the X search query for {query.brand} is {len(query.text)} characters; X allows "
                              f"{self.config.max_query_length} (sources.x.max_query_length): use fewer keywords")
        client = self.client()
        state = XCursor.load(cursor)
        lookback = timedelta(hours=self.config.first_run_hours) if backfill is None else backfill
        window = timedelta(days=RECENT_SEARCH_DAYS) - WINDOW_MARGIN
        if lookback > window:
            log.warning("X recent search reaches back 7 days; backfilling %s instead of %s", window, lookback)
            lookback = window
        if state.since_id is not None and snowflake_time(state.since_id) < utcnow() - window:
            # Paused for more than a week: X refuses a since_id that old. Take what the window still has.
            log.warning("X %s: the cursor is older than 7 days; collecting the last 7 days (older posts are "
                        "out of reach of recent search)", query.key)
            state.since_id, state.sweep_until, state.sweep_newest = None, None, None
            lookback = window

        if query.key.startswith("mentions:"):
            if not state.user_id:
                state.user_id = self._user_id(client, query.text)
            method: Callable[..., Any] = client.get_users_mentions
            args: tuple[Any, ...] = (state.user_id,)
            endpoint = f"the mentions timeline of @{query.text}"
        else:
            method, args, endpoint = client.search_recent_tweets, (query.text,), "recent search"
        base = {"max_results": self.config.max_results, "tweet_fields": TWEET_FIELDS,
                "user_fields": USER_FIELDS, "expansions": EXPANSIONS}
        pages_left = self.config.max_pages
        for _ in range(2):  # finish an interrupted sweep, then (budget allowing) start a fresh one
            resumed = state.in_sweep
            if not resumed:
                state.sweep_start = None if state.since_id else iso(utcnow() - lookback)
            elif state.sweep_start and parse_iso(state.sweep_start) < utcnow() - window:
                state.sweep_start = iso(utcnow() - window)  # an interrupted sweep left for over a week
            params = dict(base)
            if state.since_id is not None:
                params["since_id"] = state.since_id
            elif state.sweep_start:
                params["start_time"] = parse_iso(state.sweep_start)
            if resumed:
                params["until_id"] = state.sweep_until
            # Paginator must wrap the client's own bound method: it picks next_token vs pagination_token
            # by the method's __name__.
            pages = iter(tweepy.Paginator(method, *args, **params))
            finished = False
            while pages_left > 0:
                response = self._next_page(pages, client, endpoint)
                pages_left -= 1
                if response is None:  # the paginator ended on the previous page (no next_token)
                    finished = True
                    break
                batch, oldest = self._to_batch(response, query)
                meta = response.get("meta") or {}
                if state.sweep_newest is None and meta.get("newest_id"):
                    state.sweep_newest = int(meta["newest_id"])
                if meta.get("next_token"):
                    if oldest is not None:  # an empty page with a next_token leaves the place as it was
                        state.sweep_until = oldest
                        batch.cursor = state.dump()
                    yield batch
                    self._stop_if_exhausted(client, endpoint)
                    continue
                # the last page of the sweep: everything up to its newest post is stored
                if state.sweep_newest is not None:
                    state.since_id = max(state.since_id or 0, state.sweep_newest)
                state.sweep_newest = state.sweep_until = state.sweep_start = None
                batch.cursor = state.dump()
                yield batch
                finished = True
                break
            if not finished:
                log.info("X %s: page budget (%d) used; the next run continues this sweep",
                         query.key, self.config.max_pages)
                return
            if not resumed or pages_left <= 0:
                return
            self._stop_if_exhausted(client, endpoint)

    def _next_page(self, pages: Iterator[Any], client: tweepy.Client, endpoint: str) -> dict[str, Any] | None:
        """One page, retried on 5xx / network / broken JSON; SourceError on what retrying cannot fix."""
        env = self.config.bearer_token_env
        for attempt in range(self.config.max_retries + 1):
            try:
                return next(pages, None)
            except tweepy.TooManyRequests as exc:
                if exc.reset_time:
                    wait = max(0.0, exc.reset_time - time.time())
                    raise SourceError(f"X rate limit reached for {endpoint}; it resets in {wait:.0f} s",
                                      retry_after=wait) from None
                raise SourceError(f"X rate limit reached for {endpoint} (no reset time given; "
                                  "waiting out X's 15-minute window)", retry_after=900.0) from None
            except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
                detail = "; ".join(exc.api_messages) or exc.response.reason
                raise SourceError(
                    f"X refused the bearer token in ${env} for {endpoint} (HTTP {exc.response.status_code}: "
                    f"{detail}); check the token and that its project has access to this endpoint",
                    auth=True) from None
            except tweepy.BadRequest as exc:
                raise SourceError(f"X rejected the request to {endpoint}: {'; '.join(exc.api_messages)}") from None
            except tweepy.NotFound as exc:
                raise SourceError(f"X answered 404 for {endpoint}: {'; '.join(exc.api_messages) or 'not found'}; "
                                  f"check api_url ({self.config.api_url})") from None
            except (tweepy.TwitterServerError, requests.ConnectionError, requests.Timeout,
                    requests.exceptions.JSONDecodeError, requests.exceptions.ChunkedEncodingError) as exc:
                what = (f"HTTP {exc.response.status_code}" if isinstance(exc, tweepy.TwitterServerError)
                        else "malformed JSON" if isinstance(exc, ValueError) else type(exc).__name__)
                if attempt >= self.config.max_retries:
                    raise SourceError(f"X {endpoint} failed after {attempt + 1} tries ({what}) at "
                                      f"{self.config.api_url}; the next run retries from the cursor") from None
                wait = self.config.retry_backoff_seconds * (2 ** attempt)
                log.warning("X %s: %s; retrying in %.1f s", endpoint, what, wait)
                time.sleep(wait)
            except tweepy.HTTPException as exc:  # any other status X may invent
                raise SourceError(f"X answered HTTP {exc.response.status_code} for {endpoint}: "
                                  f"{'; '.join(exc.api_messages) or exc.response.reason}") from None
            except requests.RequestException as exc:
                raise SourceError(f"X {endpoint}: {type(exc).__name__} talking to {self.config.api_url}") from None
        return None  # pragma: no cover - the loop always returns or raises

    def _stop_if_exhausted(self, client: tweepy.Client, endpoint: str) -> None:
        # Asking again with no requests left only earns a 429: stop now, the cursor holds the place.
        headers = getattr(client.session, "last_headers", {})
        if headers.get("x-rate-limit-remaining") == "0":
            reset = float(headers.get("x-rate-limit-reset") or time.time() + 900)
            wait = max(0.0, reset - time.time())
            raise SourceError(f"X rate limit for {endpoint} used up; it resets in {wait:.0f} s", retry_after=wait)

    def _user_id(self, client: tweepy.Client, handle: str) -> str:
        response = self._next_page(_Once(lambda: client.get_user(username=handle)), client,
                                   f"the user lookup of @{handle}")
        data = (response or {}).get("data")
        if not data:
            raise SourceError(f"X has no account @{handle} (brands' handles); fix the handle in the config")
        return str(data["id"])

    # ------------------------------------------------------------ payload -> mentions
    def _to_batch(self, response: dict[str, Any], query: SourceQuery) -> tuple[Batch, int | None]:
        """The page's posts as mentions; a post that cannot be read is quarantined. Returns the oldest id too."""
        batch = Batch()
        includes = response.get("includes") or {}
        users = {str(u.get("id")): u for u in includes.get("users") or [] if isinstance(u, dict)}
        refs = {str(t.get("id")): t for t in includes.get("tweets") or [] if isinstance(t, dict)}
        handles = {h.lower() for h in self._handles(query.brand or "")}
        oldest: int | None = None
        seen: set[str] = set()
        data = response.get("data") or []
        if not isinstance(data, list):
            batch.quarantined.append(Quarantined("x", f"{self.config.api_url} {query.key} page ({_digest(data)})",
                                                 f"data is a {type(data).__name__}, not a list of posts",
                                                 json.dumps(data, ensure_ascii=False, default=str)[:10000]))
            data = []
        for item in data:
            raw_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(raw_id, (str, int)) and str(raw_id).isdigit():
                oldest = int(raw_id) if oldest is None else min(oldest, int(raw_id))
            try:
                found = self._to_mentions(item, users, refs, handles, query)
                # A timeline post names the handle; the brand's exclusions still decide, as for search.
                if query.key.startswith("mentions:") and not self.matcher.matches_brand(query.brand or "",
                                                                                        found[-1].text):
                    continue
                for mention in found:
                    if mention.native_id in seen:  # an original retweeted twice on one page is stored once
                        continue
                    seen.add(mention.native_id)
                    batch.mentions.append(mention)
            except (BadText, ValueError, TypeError, KeyError, AttributeError) as exc:
                where = f"{self.config.api_url} {query.key} post {raw_id} ({_digest(item)})"
                batch.quarantined.append(Quarantined("x", where, _reason(exc),
                                                     json.dumps(item, ensure_ascii=False, default=str)[:10000]))
        if oldest is None:
            meta_oldest = (response.get("meta") or {}).get("oldest_id")
            oldest = int(meta_oldest) if meta_oldest else None
        return batch, oldest

    def _to_mentions(self, t: Any, users: dict[str, Any], refs: dict[str, Any], handles: set[str],
                     query: SourceQuery) -> list[Mention]:
        """A post as mentions: itself; a retweet as the original (when X included it) plus the retweet."""
        if not isinstance(t, dict):
            raise TypeError(f"expected a post object, got {type(t).__name__}")
        referenced = [r for r in t.get("referenced_tweets") or [] if isinstance(r, dict)]
        retweeted = next((str(r["id"]) for r in referenced if r.get("type") == "retweeted"), None)
        if retweeted is None:
            return [self._to_mention(t, users, refs, handles, query)]
        original = refs.get(retweeted)
        try:
            first = None if original is None else self._to_mention(original, users, refs, handles, query)
        except (BadText, ValueError, TypeError, KeyError, AttributeError):
            first = None  # an unreadable original must not cost the retweet
        if first is None:  # deleted or withheld (X sends an error for it instead), or unreadable
            return [self._retweet(t, None, retweeted, users, query)]
        return [first, self._retweet(t, first, retweeted, users, query)]

    def _retweet(self, t: dict[str, Any], original: Mention | None, original_id: str, users: dict[str, Any],
                 query: SourceQuery) -> Mention:
        """A retweet amplifies its original: it joins the original's thread with the original's words, and
        brings the retweeter's audience (reach) and its time (velocity), but no engagement of its own (X
        copies the original's counts onto every retweet; they are counted once, on the original)."""
        post_id = _post_id(t)
        created_at = _created_at(t)
        user = users.get(str(t.get("author_id"))) or {}
        username = user.get("username")
        upm = user.get("public_metrics") or {}
        if original is not None:
            text, links, lang, thread = original.text, original.metrics.get("links") or [], original.lang, \
                original.thread_id
        else:
            text, links = _full_text(t)
            text = RETWEET_PREFIX.sub("", text)
            lang, thread = t.get("lang"), original_id
        return Mention(
            source="x",
            native_id=post_id,
            text=text,
            created_at=created_at,
            brand=query.brand,
            url=_post_url(self.config.web_url, username, post_id),
            author=username,
            author_id=None if t.get("author_id") is None else str(t["author_id"]),
            author_followers=None if upm.get("followers_count") is None else int(upm["followers_count"]),
            author_verified=_verified(user),
            lang=lang,
            thread_id=thread,
            parent_id=original_id,
            engagement=0,
            metrics={"kind": "retweet", "retweet_of": original_id, "links": links, "via": query.key,
                     "author_name": user.get("name"), "verified_type": user.get("verified_type"),
                     "original_author": original.author if original else None},
            # Retweeting the brand's own post repeats the brand's words: it is not a customer complaining.
            is_brand_account=bool(original and original.is_brand_account),
            raw={"post": t, "author": user or None, "referenced": [original.raw["post"]] if original else []},
        )

    def _to_mention(self, t: Any, users: dict[str, Any], refs: dict[str, Any], handles: set[str],
                    query: SourceQuery) -> Mention:
        if not isinstance(t, dict):
            raise TypeError(f"expected a post object, got {type(t).__name__}")
        post_id = _post_id(t)
        text, links = _full_text(t)
        created_at = _created_at(t)
        user = users.get(str(t.get("author_id"))) or {}
        username = user.get("username")
        pm = t.get("public_metrics") or {}
        upm = user.get("public_metrics") or {}
        counts = {k: int(pm.get(k) or 0) for k in ("like_count", "reply_count", "retweet_count", "quote_count")}
        referenced = [r for r in t.get("referenced_tweets") or [] if isinstance(r, dict)]
        replied_to = next((str(r["id"]) for r in referenced if r.get("type") == "replied_to"), None)
        quoted = next((str(r["id"]) for r in referenced if r.get("type") == "quoted"), None)
        return Mention(
            source="x",
            native_id=post_id,
            text=text,
            created_at=created_at,
            brand=query.brand,
            url=_post_url(self.config.web_url, username, post_id),
            author=username,
            author_id=None if t.get("author_id") is None else str(t["author_id"]),
            author_followers=None if upm.get("followers_count") is None else int(upm["followers_count"]),
            author_verified=_verified(user),
            lang=t.get("lang"),  # X's own tag; Mention turns "in", "iw", "und", "qme" ... into the one code list
            thread_id=str(t.get("conversation_id") or post_id),
            parent_id=replied_to,
            engagement=sum(counts.values()),
            metrics={
                "likes": counts["like_count"], "replies": counts["reply_count"],
                "reposts": counts["retweet_count"], "quotes": counts["quote_count"],
                "impressions": pm.get("impression_count"), "bookmarks": pm.get("bookmark_count"),
                "quoted_id": quoted, "author_name": user.get("name"), "links": links,
                "author_following": upm.get("following_count"), "author_posts": upm.get("tweet_count"),
                "verified_type": user.get("verified_type"), "via": query.key,
            },
            is_brand_account=bool(username) and username.lower() in handles,
            raw={"post": t, "author": user or None,
                 "referenced": [refs[str(r["id"])] for r in referenced if str(r.get("id")) in refs]},
        )

    # ------------------------------------------------------------ doctor
    def check(self) -> list[str]:
        """Token set and accepted, API reachable, every brand handle exists, queries within X's length limit."""
        problems = []
        for q in self.queries():
            if q.key.startswith("search:") and len(q.text) > self.config.max_query_length:
                problems.append(f"the search query for {q.brand} is {len(q.text)} characters; X allows "
                                f"{self.config.max_query_length} (sources.x.max_query_length)")
        try:
            client = self.client()
        except ConfigError as exc:  # the env var is not set
            return [*problems, str(exc)]
        handles = sorted({h.lstrip("@") for b in self.app.brands for h in b.handles})
        lookup = handles or ["X"]
        try:
            response = self._next_page(_Once(lambda: client.get_users(usernames=lookup)), client,
                                       "the user lookup") or {}
        except SourceError as exc:
            return [*problems, str(exc)]
        for err in response.get("errors") or []:
            if handles and err.get("parameter") == "usernames":
                problems.append(f"X has no account @{err.get('value')} (a handle in [[brands]])")
        return problems


class _Once:
    """One API call as an iterator, so single calls share the page retry and error mapping."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call

    def __iter__(self) -> _Once:
        return self

    def __next__(self) -> Any:
        return self.call()


def _post_id(t: dict[str, Any]) -> str:
    post_id = str(t["id"])
    if not post_id.isdigit():
        raise ValueError(f"id {post_id!r} is not an X post id")
    return post_id


def _created_at(t: dict[str, Any]) -> datetime:
    created = t.get("created_at")
    if created is None:
        raise ValueError("created_at is missing")
    if not isinstance(created, str):
        raise TypeError(f"created_at {created!r} is not a time")
    return parse_iso(created)


def _full_text(t: dict[str, Any]) -> tuple[str, list[str]]:
    """The post's whole text, with t.co links replaced by the addresses they stand for, and those addresses.

    A long post's `text` is its first 280 characters; `note_tweet.text` is all of it, with its own entities.
    """
    note = t.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("text"), str):
        raw, entities = note["text"], note.get("entities")
    else:
        raw, entities = t.get("text"), t.get("entities")
    text = x_unescape(raw)
    links: list[str] = []
    urls = entities.get("urls") if isinstance(entities, dict) else None
    for u in urls if isinstance(urls, list) else []:
        if not isinstance(u, dict):
            continue
        short, full = u.get("url"), u.get("expanded_url")
        if isinstance(short, str) and isinstance(full, str) and full:
            if isinstance(text, str):
                text = text.replace(short, full)
            if full not in links:
                links.append(full)
    return clean_text(text), links


def _post_url(web_url: str, username: str | None, post_id: str) -> str:
    return f"{web_url}/{username}/status/{post_id}" if username else f"{web_url}/i/web/status/{post_id}"


def _verified(user: dict[str, Any]) -> bool:
    return bool(user.get("verified")) or user.get("verified_type") in ("blue", "business", "government")


def _digest(item: Any) -> str:
    """A short fingerprint, so two different unreadable items never share a quarantine location."""
    return hashlib.sha1(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"{exc.args[0]} is missing"
    return str(exc) or type(exc).__name__
