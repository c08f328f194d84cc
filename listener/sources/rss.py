"""RSS and Atom feeds: Google Alerts, news, blogs, status pages. One query per feed.

feedparser has no timeout, so the feed is fetched with requests (timeout, ETag, Last-Modified) and
feedparser only parses the bytes. A feed that has not changed answers 304 and costs nothing.
A feed with a `brand` is about that brand (a Google Alert, the brand's status page): every entry is a
mention of it. A feed without one (general news) keeps only the entries the shared brand rules match.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser
from pydantic import Field

from listener.config import Section
from listener.errors import SourceError
from listener.models import Batch, Mention, Quarantined, iso, parse_iso, utcnow
from listener.query import BrandMatcher
from listener.sources.base import Source, SourceQuery
from listener.sources.html_text import html_to_text
from listener.sources.web import (
    WebSourceConfig,
    check_brands,
    host_of,
    http_get,
    new_session,
    raw_text,
    searched_brand,
)
from listener.text import BadText, clean_text


class Feed(Section):
    """One feed URL, and the brand it is about when it is about one."""

    url: str = Field(pattern=r"^https?://")
    # Every entry is a mention of this brand (Google Alerts, your status page). Empty: keywords decide.
    brand: str | None = None


class RssConfig(WebSourceConfig):
    feeds: list[Feed] = Field(min_length=1)
    interval_minutes: float = Field(default=30, gt=0)


class RssSource(Source):
    name = "rss"
    Config = RssConfig
    config: RssConfig

    def __init__(self, config: RssConfig, app: Any) -> None:
        super().__init__(config, app)
        check_brands(app, "sources.rss.feeds", [f.brand for f in config.feeds])
        self.matcher = BrandMatcher(app.all_tracked())
        self.session = new_session()

    def queries(self) -> list[SourceQuery]:
        return [SourceQuery(key=f.url, brand=f.brand, text=f.url) for f in self.config.feeds]

    def limit_scope(self, query: SourceQuery) -> str:
        return host_of(query.key)  # one site blocking or throttling us says nothing about the others

    def check(self) -> list[str]:
        problems = []
        for feed in self.config.feeds:
            try:
                self.parse(self.fetch(feed.url, {})[0], feed.url)
            except SourceError as exc:
                problems.append(str(exc))
        return problems

    def fetch(self, url: str, state: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The response (None when unchanged since `state`) and the validators for next time."""
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("modified"):
            headers["If-Modified-Since"] = state["modified"]
        resp = http_get(self.session, url, self.config, what=f"feed {url}", headers=headers, ok=(200, 304))
        if resp.status_code == 304:
            return None, state
        return resp, {**state, "etag": resp.headers.get("ETag"), "modified": resp.headers.get("Last-Modified")}

    def parse(self, resp: Any, url: str) -> Any:
        if resp is None:
            return None
        parsed = feedparser.parse(resp.content, response_headers={
            "content-type": resp.headers.get("Content-Type", "application/xml"), "content-location": url})
        if not parsed.version and not parsed.entries:
            why = f" ({parsed.get('bozo_exception')})" if parsed.get("bozo") else ""
            raise SourceError(f"feed {url}: not an RSS or Atom feed{why}")
        return parsed

    def collect(self, query: SourceQuery, cursor: str | None,
                backfill: timedelta | None = None) -> Iterator[Batch]:
        state = _load(cursor)
        if "since" not in state:  # first run (or backfill): entries older than the window are not news
            state["since"] = iso(utcnow() - (backfill or timedelta(days=self.config.first_run_days)))
        resp, new_state = self.fetch(query.key, state)
        parsed = self.parse(resp, query.key)
        if parsed is None:
            return
        since = parse_iso(state["since"])
        lang = _lang(parsed.feed.get("language"))
        feed_title = html_to_text(parsed.feed.get("title", "")) or None
        batch = Batch(cursor=json.dumps(new_state, sort_keys=True))
        for i, entry in enumerate(parsed.entries):
            where = f"{query.key} entry {entry.get('id') or entry.get('link') or i}"
            try:
                mention = self.to_mention(entry, query, lang, feed_title)
            except (BadText, ValueError) as exc:
                batch.quarantined.append(Quarantined(self.name, where, str(exc), raw_text(dict(entry))))
                continue
            if mention is not None and mention.created_at >= since:
                batch.mentions.append(mention)
        yield batch

    def to_mention(self, entry: Any, query: SourceQuery, lang: str | None, feed_title: str | None) -> Mention | None:
        native_id = entry.get("id") or entry.get("link")
        if not native_id:
            raise ValueError("entry has neither an id nor a link")
        title = html_to_text(entry.get("title", "")) or None
        body = ""
        if entry.get("content"):
            body = html_to_text(entry.content[0].get("value", ""))
        body = body or html_to_text(entry.get("summary", ""))
        text = clean_text(body or title, field="summary")
        brand = query.brand or searched_brand(self.matcher, f"{title or ''}\n{text}", None)
        if brand is None:
            return None  # a general feed's entry about none of the tracked brands: not a mention
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        created = datetime(*stamp[:6], tzinfo=UTC) if stamp else utcnow().replace(microsecond=0)
        return Mention(
            source=self.name,
            native_id=str(native_id) if ":" in str(native_id) else f"{query.key}#{native_id}",
            text=text,
            title=clean_text(title, field="title") if title and title != text else None,
            created_at=created,
            brand=brand,
            url=_unwrap(entry.get("link")),
            author=entry.get("author") or None,
            lang=lang,
            metrics={"feed": feed_title, "feed_url": query.key, "dated": bool(stamp)},
            raw=dict(entry),
        )


def _load(cursor: str | None) -> dict[str, Any]:
    try:
        state = json.loads(cursor) if cursor else {}
    except ValueError:
        state = {}
    return state if isinstance(state, dict) else {}


def _lang(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower().replace("_", "-").split("-")[0]


def _unwrap(link: Any) -> str | None:
    """Google Alerts links go through google.com/url?...&url=<the article>; keep the article's address."""
    if not isinstance(link, str):
        return None
    parts = urlsplit(link)
    if parts.netloc.endswith("google.com") and parts.path == "/url":
        target = parse_qs(parts.query).get("url") or parse_qs(parts.query).get("q")
        if target and target[0].startswith("http"):
            return target[0]
    return link
