"""App Store reviews from Apple's public customer-reviews JSON feed, one query per app and country.

The feed lists the newest reviews first, 50 a page, at most 10 pages (500 reviews) per app and country.
No credentials. Every review is a mention of the brand the app belongs to.

Two shapes of the feed are served: the current one dates every entry (`updated`); the older one has no
per-entry date, only the feed's own `updated` (when Apple built the page). An undated review is dated
by the feed's `updated` (it was written at or before then) and marked `dated_by: feed` in its metrics;
whether it is new is decided by its id, since App Store review ids grow over time: the cursor keeps the
newest review id stored, and a run stops at the first undated review at or below it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, field_validator

from listener.config import Section
from listener.errors import SourceError
from listener.models import Batch, Mention, Quarantined, utcnow
from listener.sources.base import Source, SourceQuery
from listener.sources.web import (
    Watermark,
    WebSourceConfig,
    check_brands,
    country_codes,
    http_get,
    json_body,
    new_session,
    nps_bucket,
    parse_time,
    raw_text,
    window_start,
)
from listener.text import BadText, clean_text

FEED_PAGES = 10  # Apple serves pages 1..10 of 50 reviews each


class AppStoreApp(Section):
    """One app: its numeric App Store id, the brand it belongs to, and the storefronts to read."""

    id: str = Field(pattern=r"^\d+$")
    brand: str = Field(min_length=1)
    # Two-letter storefront codes (us, gb, de, jp, …); each has its own reviews.
    countries: list[str] = Field(default=["us"], min_length=1)

    _codes = field_validator("countries")(country_codes)


class AppStoreConfig(WebSourceConfig):
    base_url: str = "https://itunes.apple.com"
    apps: list[AppStoreApp] = Field(min_length=1)
    max_pages: int = Field(default=FEED_PAGES, ge=1, le=FEED_PAGES)
    interval_minutes: float = Field(default=60, gt=0)  # reviews come slower than posts


def _label(entry: dict[str, Any], key: str) -> Any:
    value = entry.get(key)
    return value.get("label") if isinstance(value, dict) else None


class AppStoreSource(Source):
    name = "appstore"
    Config = AppStoreConfig
    config: AppStoreConfig

    def __init__(self, config: AppStoreConfig, app: Any) -> None:
        super().__init__(config, app)
        check_brands(app, "sources.appstore.apps", [a.brand for a in config.apps])
        self.session = new_session()

    def queries(self) -> list[SourceQuery]:
        return [SourceQuery(key=f"{a.id}/{cc}", brand=a.brand, text=f"app {a.id} in {cc}")
                for a in self.config.apps for cc in a.countries]

    def page_url(self, app_id: str, country: str, page: int) -> str:
        base = self.config.base_url.rstrip("/")
        return f"{base}/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"

    def check(self) -> list[str]:
        problems = []
        for q in self.queries():
            app_id, country = q.key.split("/")
            try:
                self.read_page(app_id, country, 1)
            except SourceError as exc:
                problems.append(str(exc))
        return problems

    def read_page(self, app_id: str, country: str, page: int) -> tuple[str, list[Any]]:
        url, entries, _ = self.read_feed(app_id, country, page)
        return url, entries

    def read_feed(self, app_id: str, country: str, page: int) -> tuple[str, list[Any], datetime | None]:
        """One page: its address, its entries, and the feed's own `updated` time (None when absent)."""
        url = self.page_url(app_id, country, page)
        what = f"App Store app {app_id} ({country}) page {page}"
        data = json_body(http_get(self.session, url, self.config, what=what), what)
        feed = data.get("feed") if isinstance(data, dict) else None
        if not isinstance(feed, dict):
            raise SourceError(f"{what}: the answer has no `feed` object; is this the customer-reviews feed?")
        entries = feed.get("entry", [])
        if isinstance(entries, dict):  # a page with one review has an object, not a list
            entries = [entries]
        if not isinstance(entries, list):
            raise SourceError(f"{what}: `feed.entry` is {type(entries).__name__}, not a list")
        try:
            updated: datetime | None = parse_time(_label(feed, "updated"), "feed.updated")
        except ValueError:
            updated = None
        return url, entries, updated

    def collect(self, query: SourceQuery, cursor: str | None,
                backfill: timedelta | None = None) -> Iterator[Batch]:
        app_id, country = query.key.split("/")
        seen = Watermark.load(cursor)
        seen_id = _newest_review_id(cursor)
        since = window_start(seen, backfill, self.config)
        moved = Watermark(seen.newest, set(seen.ids))
        newest_id = seen_id
        for page in range(1, self.config.max_pages + 1):
            url, entries, feed_updated = self.read_feed(app_id, country, page)
            batch, reached_old = Batch(), False
            for i, entry in enumerate(entries):
                if isinstance(entry, dict) and "im:name" in entry and "im:rating" not in entry:
                    continue  # older feeds open page 1 with the app itself, not a review
                try:
                    mention = self.to_mention(entry, query, country, app_id, feed_updated=feed_updated)
                except (BadText, ValueError, TypeError, AttributeError) as exc:
                    rid = _label(entry, "id") if isinstance(entry, dict) else None
                    batch.quarantined.append(Quarantined(self.name, f"{url} entry {rid or i}", str(exc),
                                                         raw_text(entry)))
                    continue
                number = int(mention.native_id) if mention.native_id.isdigit() else None
                if mention.metrics.get("dated_by") == "feed":
                    # No date of its own: the review id says whether it was stored before.
                    if seen_id is not None and number is not None and number <= seen_id:
                        reached_old = True
                        continue
                    new = True
                else:
                    if mention.created_at < since:
                        reached_old = True
                        continue
                    new = seen.is_new(mention.created_at, mention.native_id)
                if new:
                    batch.mentions.append(mention)
                    moved.advance(mention.created_at, mention.native_id)
                    if number is not None:
                        newest_id = max(newest_id or 0, number)
            last = reached_old or not entries or page == self.config.max_pages
            if last:
                batch.cursor = _with_review_id(moved.dump(), newest_id)
            yield batch
            if last:
                return

    def to_mention(self, entry: Any, query: SourceQuery, country: str, app_id: str,
                   feed_updated: datetime | None = None) -> Mention:
        if not isinstance(entry, dict):
            raise TypeError(f"review is {type(entry).__name__}, not an object")
        review_id = _label(entry, "id")
        if not review_id:
            raise ValueError("review has no id")
        rating = _label(entry, "im:rating")
        try:
            stars = int(rating)
        except (TypeError, ValueError):
            raise ValueError(f"im:rating {rating!r} is not a number") from None
        if not 1 <= stars <= 5:
            raise ValueError(f"im:rating {stars} is not between 1 and 5")
        title = _label(entry, "title")
        author = entry.get("author") if isinstance(entry.get("author"), dict) else {}
        version = _label(entry, "im:version")
        votes = _label(entry, "im:voteCount")
        metrics = {"version": version, "country": country, "app_id": app_id, "nps_bucket": nps_bucket(stars)}
        if "updated" in entry:
            created_at = parse_time(_label(entry, "updated"), "updated")
        else:  # the older feed shape: dated by the feed, never later than when Apple built the page
            created_at = min(feed_updated or utcnow(), utcnow())
            metrics["dated_by"] = "feed"
        return Mention(
            source=self.name,
            native_id=str(review_id),
            text=clean_text(_label(entry, "content"), field="content"),
            title=clean_text(title, field="title") if title else None,
            created_at=created_at,
            brand=query.brand,
            url=f"https://apps.apple.com/{country}/app/id{app_id}?see-all=reviews",
            author=_label(author, "name"),
            author_id=_label(author, "uri"),
            stars=stars,
            engagement=int(votes) if str(votes or "").isdigit() else 0,
            metrics=metrics,
            raw=entry,
        )


def _newest_review_id(cursor: str | None) -> int | None:
    try:
        value = json.loads(cursor).get("newest_review_id") if cursor else None
    except (ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _with_review_id(watermark: str, review_id: int | None) -> str:
    data = json.loads(watermark)
    if review_id is not None:
        data["newest_review_id"] = str(review_id)
    return json.dumps(data)
