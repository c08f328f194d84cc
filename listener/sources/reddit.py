"""Reddit through praw: brand searches (r/all and chosen subreddits, sort=new) and new comments in the
brands' own communities. What comes back is matched locally with the shared query rules.

praw carries the requests (app-only OAuth token, prawcore's rate-limit pacing, its retries and
error types); pages are read as raw JSON (`reddit.request`) so one malformed item is quarantined
instead of breaking the page, and the raw JSON is kept with each mention.

The cursor is a small JSON document per (brand, query):

    {"mark": <created_utc of the newest item stored by the last finished sweep>,
     "sweep": {"top": ..., "after": "t3_…", "anchors": ["t3_…"], "floor": ...}}  # only mid-sweep

Listings run newest first and page with `after=<fullname>`. A sweep reads down to `floor` (the mark
less `overlap_minutes`, because Reddit's search index lags); `mark` moves up only when the sweep
ends, and each page is stored with the `after` to resume from. When the `after` item was deleted
Reddit answers an empty page; the sweep then steps back to an earlier anchor instead of stopping.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import praw
import prawcore
import requests
from pydantic import Field

from listener.errors import ConfigError, SourceError
from listener.models import Batch, Mention, Quarantined, utcnow
from listener.query import BrandMatcher, brand_query, to_reddit
from listener.sources.base import Source, SourceConfig, SourceQuery
from listener.text import BadText, clean_text

log = logging.getLogger("overheard.sources.reddit")

PAGE_SIZE = 100  # Reddit's largest page
MAX_QUERY_LENGTH = 512  # Reddit refuses longer search queries
GONE = {"[deleted]", "[removed]"}
DEFAULT_USER_AGENT = "python:overheard:0.1 (by /u/your-reddit-username)"


class RedditConfig(SourceConfig):
    """[sources.reddit]"""

    client_id_env: str = "REDDIT_CLIENT_ID"  # env var holding the app's client id
    client_secret_env: str = "REDDIT_CLIENT_SECRET"  # env var holding the app's secret
    user_agent: str = DEFAULT_USER_AGENT  # Reddit asks for "<platform>:<app>:<version> (by /u/<you>)"
    oauth_url: str = "https://oauth.reddit.com"  # API host
    reddit_url: str = "https://www.reddit.com"  # token host
    web_url: str = "https://www.reddit.com"  # for links to posts and comments
    search_all: bool = True  # search r/all for each brand
    subreddits: list[str] = Field(default_factory=list)  # also search these subreddits (restrict_sr) for each brand
    # brand -> its own subreddits; their new comments are read
    communities: dict[str, list[str]] = Field(default_factory=dict)
    community_match_all: bool = False  # every comment in a brand's community counts, named or not
    # Reddit usernames of the brands' own accounts (besides their handles)
    brand_accounts: list[str] = Field(default_factory=list)
    competitors: bool = True  # also search for [[competitors]]
    max_pages: int = Field(default=3, ge=1, le=10)  # pages of 100 per query per run: the request budget
    first_run_hours: float = Field(default=24, gt=0)  # how far back a first run reads
    overlap_minutes: float = Field(default=10, ge=0)  # re-read this far below the mark (search index lag)
    requests_per_minute: int = Field(default=100, ge=1)  # client-side cap, shared by all queries of a process
    author_karma_lookups: int = Field(default=10, ge=0, le=100)  # /user/<name>/about requests per run
    max_retries: int = Field(default=1, ge=0, le=5)  # on top of prawcore's own two retries of a 5xx
    retry_backoff_seconds: float = Field(default=2.0, ge=0)
    timeout_seconds: int = Field(default=30, gt=0)


class RequestPacer:
    """At most `limit` requests in any `window` seconds (Reddit allows about 100 a minute per client)."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self.sent: deque[float] = deque()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            while self.sent and now - self.sent[0] >= self.window:
                self.sent.popleft()
            if len(self.sent) >= self.limit:
                pause = self.window - (now - self.sent[0])
                log.info("Reddit: %d requests in the last %.0f s; pausing %.1f s", len(self.sent), self.window, pause)
                time.sleep(max(0.0, pause))
                self.sent.popleft()
            self.sent.append(time.monotonic())


_pacers: dict[str, RequestPacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(client_id: str, limit: int, window: float = 60.0) -> RequestPacer:
    """One pacer per OAuth client in this process: Reddit counts requests per client."""
    with _pacers_lock:
        pacer = _pacers.get(client_id)
        if pacer is None or pacer.limit != limit or pacer.window != window:
            pacer = _pacers[client_id] = RequestPacer(limit, window)
        return pacer


class _PacedSession(requests.Session):
    def __init__(self, pacer: RequestPacer) -> None:
        super().__init__()
        self.pacer = pacer
        self.count = 0

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.pacer.wait()
        self.count += 1
        return super().request(method, url, *args, **kwargs)


@dataclass
class RedditCursor:
    mark: float | None = None
    top: float | None = None
    after: str | None = None
    anchors: list[str] = field(default_factory=list)
    floor: float | None = None

    @classmethod
    def load(cls, value: str | None) -> RedditCursor:
        if not value:
            return cls()
        try:
            data = json.loads(value)
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            log.warning("Reddit cursor %r is not readable; starting from the first-run window", value[:80])
            return cls()
        sweep = data.get("sweep") or {}
        return cls(mark=data.get("mark"), top=sweep.get("top"), after=sweep.get("after"),
                   anchors=list(sweep.get("anchors") or []), floor=sweep.get("floor"))

    @property
    def in_sweep(self) -> bool:
        return self.after is not None

    def dump(self) -> str:
        data: dict[str, Any] = {"mark": self.mark}
        if self.in_sweep:
            data["sweep"] = {"top": self.top, "after": self.after, "anchors": self.anchors[-3:], "floor": self.floor}
        return json.dumps(data, sort_keys=True)


def _time_filter(floor: float) -> str:
    age = time.time() - floor
    for name, seconds in (("hour", 3600), ("day", 86400), ("week", 7 * 86400), ("month", 31 * 86400),
                          ("year", 366 * 86400)):
        if age < seconds - 60:
            return name
    return "all"


class RedditSource(Source):
    name = "reddit"
    Config = RedditConfig
    config: RedditConfig

    def __init__(self, config: RedditConfig, app: Any) -> None:
        super().__init__(config, app)
        self.matcher = BrandMatcher(app.all_tracked())
        self._reddit: praw.Reddit | None = None
        self._session: _PacedSession | None = None
        self._subscribers: dict[str, int | None] = {}
        self._karma: dict[str, dict[str, Any]] = {}
        self._karma_left = config.author_karma_lookups
        known = {t.name for t in app.all_tracked()}
        for brand in config.communities:
            if brand not in known:
                raise ConfigError(app.path.name, f"sources.reddit.communities.{brand}",
                                  "not a name from [[brands]] or [[competitors]]")

    # ------------------------------------------------------------ what to ask for
    def queries(self) -> list[SourceQuery]:
        # A run starts by listing its queries: the per-run allowances and caches start afresh here.
        self._karma_left = self.config.author_karma_lookups
        self._subscribers.clear()
        out = []
        tracked = self.app.all_tracked() if self.config.competitors else self.app.brands
        for t in tracked:
            text = to_reddit(brand_query(t))
            if self.config.search_all:
                out.append(SourceQuery(key=f"search:{t.name}:all", brand=t.name, text=text))
            if self.config.subreddits:
                subs = "+".join(s.removeprefix("r/") for s in self.config.subreddits)
                out.append(SourceQuery(key=f"search:{t.name}:r/{subs}", brand=t.name, text=text))
        for brand, subs in self.config.communities.items():
            joined = "+".join(s.removeprefix("r/") for s in subs)
            out.append(SourceQuery(key=f"comments:{brand}:r/{joined}", brand=brand, text=joined))
        return out

    # ------------------------------------------------------------ the client
    def reddit(self) -> praw.Reddit:
        if self._reddit is None:
            c = self.config
            client_id = self.app.secret("sources.reddit.client_id_env", c.client_id_env)
            secret = self.app.secret("sources.reddit.client_secret_env", c.client_secret_env)
            self._session = _PacedSession(pacer_for(client_id, c.requests_per_minute))
            # check_for_updates=False: otherwise praw contacts the package index on every construction.
            self._reddit = praw.Reddit(
                client_id=client_id, client_secret=secret, user_agent=c.user_agent,
                oauth_url=c.oauth_url.rstrip("/"), reddit_url=c.reddit_url.rstrip("/"),
                check_for_updates=False, timeout=c.timeout_seconds, requestor_kwargs={"session": self._session},
            )
        return self._reddit

    def _get(self, path: str, params: dict[str, Any], what: str) -> Any:
        """One API request as raw JSON; bounded retries; SourceError for what retrying cannot fix."""
        reddit = self.reddit()
        env = f"${self.config.client_id_env} / ${self.config.client_secret_env}"
        for attempt in range(self.config.max_retries + 1):
            try:
                return reddit.request(method="GET", path=path, params=params)
            except prawcore.TooManyRequests as exc:
                header = exc.retry_after or exc.response.headers.get("x-ratelimit-reset")
                wait, said = (float(header), True) if header else (600.0, False)
                raise SourceError(f"Reddit rate limit reached ({what}); " + (
                    f"it resets in {wait:.0f} s" if said else "no reset time given; waiting out Reddit's "
                    "10-minute window"), retry_after=wait) from None
            except prawcore.OAuthException as exc:
                raise SourceError(f"Reddit refused the app credentials in {env} ({exc.error}); check the "
                                  "client id and secret of a 'script' or 'web' app at reddit.com/prefs/apps",
                                  auth=True) from None
            except prawcore.BadJSON:
                problem = "malformed JSON"
            except prawcore.Redirect:
                raise SourceError(f"Reddit has no such subreddit for {what}; check the name in "
                                  "[sources.reddit]") from None
            except prawcore.ResponseException as exc:
                status = exc.response.status_code
                if status == 401:
                    raise SourceError(f"Reddit refused the app credentials in {env} (HTTP 401); check the client "
                                      "id and secret at reddit.com/prefs/apps", auth=True) from None
                if status == 403:
                    reason = _json(exc.response).get("reason") or "forbidden"
                    raise SourceError(f"Reddit refused {what} (HTTP 403, {reason}): the subreddit is private, "
                                      "quarantined or banned") from None
                if status in (404, 302, 301):
                    raise SourceError(f"Reddit has no such subreddit for {what} (HTTP {status}); check the "
                                      "name in [sources.reddit]") from None
                if status < 500:
                    raise SourceError(f"Reddit rejected {what} (HTTP {status})") from None
                problem = f"HTTP {status}"
            except prawcore.RequestException as exc:
                problem = f"cannot reach {self.config.oauth_url} ({type(exc.original_exception).__name__})"
            except (prawcore.PrawcoreException, praw.exceptions.PRAWException) as exc:
                raise SourceError(f"Reddit: {what} failed: {exc}") from None
            if attempt >= self.config.max_retries:
                raise SourceError(f"Reddit: {what} failed ({problem}) after {attempt + 1} tries; the next run "
                                  "retries from the cursor")
            wait = self.config.retry_backoff_seconds * (2 ** attempt)
            log.warning("Reddit: %s: %s; retrying in %.1f s", what, problem, wait)
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------ collecting
    def collect(self, query: SourceQuery, cursor: str | None,
                backfill: timedelta | None = None) -> Iterator[Batch]:
        """Pages newer than the cursor's mark, newest first; each batch carries the cursor to store."""
        state = RedditCursor.load(cursor)
        kind, _, where = query.key.partition(":")
        subs = where.split(":r/", 1)[1] if ":r/" in where else "all"
        if kind == "search" and len(query.text) > MAX_QUERY_LENGTH:
            raise SourceError(f"the Reddit search for {query.brand} is {len(query.text)} characters; Reddit allows "
                              f"{MAX_QUERY_LENGTH}: use fewer keywords or a shorter `query`")
        if kind == "search":
            path = f"r/{subs}/search/"
            what = f"the search for {query.brand} in r/{subs}"
        else:
            path = f"r/{subs}/comments/"
            what = f"new comments in r/{subs}"
        if not state.in_sweep:
            lookback = backfill or timedelta(hours=self.config.first_run_hours)
            state.floor = (state.mark - self.config.overlap_minutes * 60 if state.mark is not None
                           else (utcnow() - lookback).timestamp())
            state.top = None
        pages_left = self.config.max_pages
        stepped_back = False
        while pages_left > 0:
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if kind == "search":
                params.update(q=query.text, sort="new", t=_time_filter(state.floor or 0), type="link")
                if subs != "all":
                    params["restrict_sr"] = "on"
            if state.after:
                params["after"] = state.after
            listing = self._get(path, params, what)
            pages_left -= 1
            children, next_after = _children(listing)
            if not children and state.after is not None and state.anchors and not stepped_back:
                # The item we page after is gone (deleted); Reddit answers an empty page. Step back.
                log.info("Reddit %s: the page after %s is empty; stepping back one page", what, state.after)
                state.after = state.anchors.pop()
                stepped_back = True
                continue
            stepped_back = False
            batch, newest, oldest = self._to_batch(children, query, state)
            if newest is not None:
                state.top = max(state.top or newest, newest)
            reached_floor = oldest is not None and state.floor is not None and oldest < state.floor
            if reached_floor or not next_after or not children:
                # the sweep is complete: everything down to the floor is stored
                if state.top is not None:
                    state.mark = max(state.mark or state.top, state.top)
                state.after, state.anchors, state.top = None, [], None
                batch.cursor = state.dump()
                yield batch
                return
            state.anchors.append(state.after)  # None stands for the top of the listing
            state.after = next_after
            batch.cursor = state.dump()
            yield batch
        log.info("Reddit %s: page budget (%d) used; the next run continues this sweep", what, self.config.max_pages)

    def _to_batch(self, children: list[Any], query: SourceQuery,
                  state: RedditCursor) -> tuple[Batch, float | None, float | None]:
        """The page's mentions above the sweep's floor; unreadable items quarantined. Also its time span."""
        batch = Batch()
        newest = oldest = None
        for child in children:
            data = child.get("data") if isinstance(child, dict) else None
            created = data.get("created_utc") if isinstance(data, dict) else None
            if isinstance(created, (int, float)):
                newest = created if newest is None else max(newest, created)
                oldest = created if oldest is None else min(oldest, created)
                if state.floor is not None and created < state.floor:
                    continue  # below the floor: stored by an earlier sweep, or older than asked for
            try:
                # Karma only for items newer than the last sweep: the overlap was looked up then.
                mention = self._to_mention(child, query, lookups=state.mark is None or
                                           not isinstance(created, (int, float)) or created > state.mark)
            except (BadText, ValueError, TypeError, KeyError, AttributeError) as exc:
                name = data.get("name") if isinstance(data, dict) else None
                reason = f"{exc.args[0]} is missing" if isinstance(exc, KeyError) else str(exc)
                digest = hashlib.sha1(json.dumps(child, sort_keys=True, default=str).encode()).hexdigest()[:10]
                batch.quarantined.append(Quarantined(
                    "reddit", f"{self.config.oauth_url} {query.key} {name or '?'} ({digest})", reason,
                    json.dumps(child, ensure_ascii=False, default=str)[:10000]))
                continue
            if mention is None:
                continue
            batch.mentions.append(mention)
        return batch, newest, oldest

    def _is_mention(self, query: SourceQuery, text: str, kind: str) -> bool:
        if kind == "comments" and self.config.community_match_all:
            return True
        return self.matcher.matches_brand(query.brand or "", text)

    def _to_mention(self, child: Any, query: SourceQuery, *, lookups: bool = True) -> Mention | None:
        """The item as a mention; None when it is not one (removed, or the brand is not named)."""
        if not isinstance(child, dict) or not isinstance(child.get("data"), dict):
            raise TypeError("expected a Reddit thing {kind, data}")
        kind, d = child.get("kind"), child["data"]
        if kind not in ("t3", "t1"):
            raise ValueError(f"unexpected kind {kind!r}")
        fullname = d["name"]
        if not isinstance(fullname, str) or not fullname.startswith(f"{kind}_"):
            raise ValueError(f"name {fullname!r} is not a {kind} fullname")
        created = d["created_utc"]
        if not isinstance(created, (int, float)):
            raise TypeError(f"created_utc {created!r} is not a time")
        author = d.get("author")
        if kind == "t3":
            title = clean_text(d.get("title"), field="title")
            body = d.get("selftext") or ""
            if body in GONE:
                body = ""
            text = clean_text(body, field="selftext") if body.strip() else title
            if not self._is_mention(query, f"{title}\n{body}", "search"):
                return None
            thread, parent = fullname, None
            engagement = int(d.get("score") or 0) + int(d.get("num_comments") or 0)
        else:
            body = d.get("body")
            if body in GONE:
                return None
            text = clean_text(body, field="body")
            title = d.get("link_title")
            title = clean_text(title, field="link_title") if title else None
            if not self._is_mention(query, text, "comments"):
                return None
            thread, parent = d["link_id"], d.get("parent_id")
            engagement = int(d.get("score") or 0)
        subreddit = d.get("subreddit")
        subscribers = d.get("subreddit_subscribers")
        if subscribers is None and subreddit:
            subscribers = self._subreddit_subscribers(subreddit)
        accounts = {a.lstrip("@").removeprefix("u/").lower() for a in self._brand_accounts(query.brand)}
        metrics = {
            "subreddit": subreddit, "score": d.get("score"), "num_comments": d.get("num_comments"),
            "upvote_ratio": d.get("upvote_ratio"), "subreddit_subscribers": subscribers,
            "flair": d.get("link_flair_text") or d.get("author_flair_text"), "via": query.key,
        }
        if lookups:
            metrics.update(self._author_karma(author))
        permalink = d.get("permalink")
        if not isinstance(permalink, str) or not permalink.startswith("/"):
            permalink = _permalink(fullname, thread, subreddit)
        return Mention(
            source="reddit",
            native_id=fullname,
            text=text,
            created_at=datetime.fromtimestamp(float(created), tz=UTC),
            brand=query.brand,
            url=f"{self.config.web_url.rstrip('/')}{permalink}",
            author=None if author in (None, *GONE) else str(author),
            author_id=d.get("author_fullname"),
            author_followers=None if subscribers is None else int(subscribers),
            lang=None,
            thread_id=thread,
            parent_id=parent,
            engagement=engagement,
            metrics=metrics,
            title=title,
            is_brand_account=bool(author) and str(author).lower() in accounts,
            raw=child,
        )

    def _brand_accounts(self, brand: str | None) -> list[str]:
        tracked = next((t for t in self.app.all_tracked() if t.name == brand), None)
        return [*(tracked.handles if tracked else []), *self.config.brand_accounts]

    def _subreddit_subscribers(self, name: str) -> int | None:
        """Subscribers of a subreddit (the audience of a comment), once per run; None when unknown."""
        key = name.lower()
        if key not in self._subscribers:
            try:
                about = self._get(f"r/{name}/about/", {}, f"the about page of r/{name}")
                self._subscribers[key] = int((about.get("data") or {}).get("subscribers") or 0) or None
            except SourceError as exc:
                if exc.auth or exc.retry_after is not None:
                    raise
                self._subscribers[key] = None
        return self._subscribers[key]

    def _author_karma(self, author: Any) -> dict[str, Any]:
        """Karma of an author, for up to author_karma_lookups new authors per run (the rest: unknown)."""
        if not isinstance(author, str) or author in GONE or author == "AutoModerator":
            return {}
        key = author.lower()
        if key not in self._karma:
            if self._karma_left <= 0:
                return {}
            self._karma_left -= 1
            try:
                about = self._get(f"user/{author}/about/", {}, f"the profile of u/{author}")
                data = about.get("data") or {}
                self._karma[key] = {} if data.get("is_suspended") else {
                    "author_link_karma": data.get("link_karma"), "author_comment_karma": data.get("comment_karma"),
                    "author_created_utc": data.get("created_utc")}
            except SourceError as exc:
                if exc.auth or exc.retry_after is not None:
                    self._karma_left = 0  # stop spending requests on a nicety
                self._karma[key] = {}
        return self._karma[key]

    # ------------------------------------------------------------ doctor
    def check(self) -> list[str]:
        """Credentials set and accepted, API reachable, every configured subreddit readable."""
        problems = []
        if self.config.user_agent == DEFAULT_USER_AGENT:
            problems.append("sources.reddit.user_agent still names no Reddit account; Reddit blocks generic "
                            "user agents (use 'python:overheard:0.1 (by /u/<you>)')")
        try:
            self.reddit()
        except ConfigError as exc:
            return [*problems, str(exc)]
        subs = sorted({s.removeprefix("r/") for s in [*self.config.subreddits,
                                                      *(x for v in self.config.communities.values() for x in v)]})
        for name in subs or ["all"]:
            try:
                self._get(f"r/{name}/about/" if name != "all" else "r/all/search/",
                          {} if name != "all" else {"q": "overheard", "limit": 1, "sort": "new", "t": "hour"},
                          f"r/{name}")
            except SourceError as exc:
                problems.append(str(exc))
                if exc.auth or exc.retry_after is not None:
                    break
        return problems


def _children(listing: Any) -> tuple[list[Any], str | None]:
    if not isinstance(listing, dict) or not isinstance(listing.get("data"), dict):
        raise SourceError("Reddit answered something that is not a listing")
    data = listing["data"]
    children = data.get("children")
    return (children if isinstance(children, list) else []), data.get("after")


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _permalink(fullname: str, thread: str | None, subreddit: Any) -> str:
    """A comment's or post's address when the listing leaves `permalink` out (comment listings from some
    endpoints and older answers do): built from the post (`link_id`) and the item's own id. Reddit
    accepts any slug in place of the title ("_")."""
    own = fullname.split("_", 1)[-1]
    post = (thread or fullname).split("_", 1)[-1]
    where = f"/r/{subreddit}" if isinstance(subreddit, str) and subreddit else ""
    if fullname.startswith("t1_"):
        return f"{where}/comments/{post}/_/{own}/"
    return f"{where}/comments/{own}/"
