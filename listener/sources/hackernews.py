"""Hacker News stories and comments through Algolia's HN search (search_by_date), one query per brand keyword.

No credentials. Algolia answers newest first and stops at 1,000 hits per query; a run asks only for
items since the cursor, so that limit matters only for a long backfill of a busy term.
A comment's thread is its story; the brand rules decide on the comment's own text.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field

from listener.errors import SourceError
from listener.models import Batch, Mention, Quarantined
from listener.query import BrandMatcher
from listener.sources.base import Source, SourceQuery
from listener.sources.html_text import html_to_text
from listener.sources.web import (
    Watermark,
    WebSourceConfig,
    brand_search_terms,
    http_get,
    json_body,
    log,
    new_session,
    parse_time,
    raw_text,
    searched_brand,
    window_start,
)
from listener.text import BadText, clean_text

ITEM_URL = "https://news.ycombinator.com/item?id={}"
ALGOLIA_HIT_LIMIT = 1000


class HackerNewsConfig(WebSourceConfig):
    base_url: str = "https://hn.algolia.com"
    # Which items to collect: stories (title, text) and/or comments.
    kinds: list[Literal["story", "comment"]] = Field(default=["story", "comment"], min_length=1)
    # HN usernames that belong to your brands: their comments count as the brand answering.
    brand_accounts: list[str] = Field(default_factory=list)
    hits_per_page: int = Field(default=100, ge=1, le=1000)


class HackerNewsSource(Source):
    name = "hackernews"
    Config = HackerNewsConfig
    config: HackerNewsConfig

    def __init__(self, config: HackerNewsConfig, app: Any) -> None:
        super().__init__(config, app)
        self.matcher = BrandMatcher(app.all_tracked())
        self.session = new_session()
        self.brand_accounts = {a.lower() for a in config.brand_accounts}

    def queries(self) -> list[SourceQuery]:
        return [SourceQuery(key=f"{t.name}:{term}", brand=t.name, text=term)
                for t in self.app.all_tracked() for term in brand_search_terms(t)]

    def check(self) -> list[str]:
        try:
            self.search("test", since_epoch=0, page=0, per_page=1)
        except SourceError as exc:
            return [str(exc)]
        return []

    def search(self, term: str, *, since_epoch: int, page: int, per_page: int) -> tuple[str, dict[str, Any]]:
        url = self.config.base_url.rstrip("/") + "/api/v1/search_by_date"
        kinds = ",".join(self.config.kinds)
        params = {
            "query": f'"{term}"' if " " in term else term,
            "advancedSyntax": "true",
            "tags": f"({kinds})",
            "numericFilters": f"created_at_i>={since_epoch}",
            "hitsPerPage": per_page,
            "page": page,
        }
        what = f"Hacker News search {term!r} page {page}"
        data = json_body(http_get(self.session, url, self.config, what=what, params=params), what)
        if not isinstance(data, dict) or not isinstance(data.get("hits"), list):
            raise SourceError(f"{what}: the answer has no `hits` list")
        return f"{url}?query={term}&page={page}", data

    def collect(self, query: SourceQuery, cursor: str | None,
                backfill: timedelta | None = None) -> Iterator[Batch]:
        seen = Watermark.load(cursor)
        since = window_start(seen, backfill, self.config)
        moved = Watermark(seen.newest, set(seen.ids))
        per_page = self.config.hits_per_page
        max_pages = min(self.config.max_pages, -(-ALGOLIA_HIT_LIMIT // per_page))
        for page in range(max_pages):
            where, data = self.search(query.text, since_epoch=int(since.timestamp()), page=page, per_page=per_page)
            hits = data["hits"]
            batch = Batch()
            for i, hit in enumerate(hits):
                try:
                    mention = self.to_mention(hit, query)
                except (BadText, ValueError, TypeError) as exc:
                    oid = hit.get("objectID") if isinstance(hit, dict) else None
                    batch.quarantined.append(Quarantined(self.name, f"{where} hit {oid or i}", str(exc), raw_text(hit)))
                    continue
                if mention is None or mention.created_at < since:
                    continue
                if seen.is_new(mention.created_at, mention.native_id):
                    batch.mentions.append(mention)
                    moved.advance(mention.created_at, mention.native_id)
            pages = data.get("nbPages") if isinstance(data.get("nbPages"), int) else 0
            last = not hits or page + 1 >= pages or page + 1 >= max_pages
            if last:
                if hits and page + 1 < pages:
                    log.warning("hackernews %s: stopped after %d pages; older hits are left for a backfill",
                                query.key, page + 1)
                batch.cursor = moved.dump()
            yield batch
            if last:
                return

    def to_mention(self, hit: Any, query: SourceQuery) -> Mention | None:
        if not isinstance(hit, dict):
            raise TypeError(f"hit is {type(hit).__name__}, not an object")
        oid = hit.get("objectID")
        if not oid:
            raise ValueError("hit has no objectID")
        tags = hit.get("_tags") or []
        is_comment = "comment" in tags or hit.get("comment_text") is not None
        if is_comment:
            text = clean_text(html_to_text(hit.get("comment_text") or ""), field="comment_text")
            title = None
        else:
            title = clean_text(html_to_text(hit.get("title") or ""), field="title")
            body = html_to_text(hit.get("story_text") or "")
            text = f"{title}\n\n{body}" if body else title
        brand = searched_brand(self.matcher, text, query.brand)
        if brand is None:
            return None  # Algolia matched a word form or another field; the shared rules say it is no mention
        created = hit.get("created_at_i", hit.get("created_at"))
        points = hit.get("points") if isinstance(hit.get("points"), int) else 0
        comments = hit.get("num_comments") if isinstance(hit.get("num_comments"), int) else 0
        story = hit.get("story_id")
        author = hit.get("author") or None
        return Mention(
            source=self.name,
            native_id=str(oid),
            text=text,
            title=title,
            created_at=parse_time(created, "created_at_i"),
            brand=brand,
            url=ITEM_URL.format(oid),
            author=author,
            author_id=author,
            thread_id=str(story) if is_comment and story else None,
            parent_id=str(hit["parent_id"]) if is_comment and hit.get("parent_id") else None,
            engagement=points + comments,
            is_brand_account=bool(author and author.lower() in self.brand_accounts),
            metrics={"kind": "comment" if is_comment else "story", "points": points, "comments": comments,
                     "story_title": hit.get("story_title") if is_comment else title,
                     "link": hit.get("story_url") if is_comment else hit.get("url")},
            raw=hit,
        )
