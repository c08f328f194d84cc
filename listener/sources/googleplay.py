"""Google Play reviews through google-play-scraper, one query per app and country, newest first.

Importing google-play-scraper sets `ssl._create_default_https_context = ssl._create_unverified_context`,
switching off certificate checks for every HTTPS request in the process. So overheard never imports it:
each query runs in a short-lived worker process (`python -m listener.sources.googleplay_worker`) that puts
certificate checks back right after the import, so even the Play requests are verified.

The library's `reviews()` swallows every error and returns []: a ban, a 429 and "no new reviews" would
look the same. The worker calls the page fetch underneath it (`_fetch_review_items`) so errors surface;
timestamps come from the raw review (the library's are naive local times).
A developer's answer to a review is stored as a brand reply in the review's thread.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field, field_validator

from listener.config import Section
from listener.errors import SourceError
from listener.models import Batch, Mention, Quarantined
from listener.sources.base import Source, SourceQuery
from listener.sources.web import (
    DEFAULT_RETRY_AFTER,
    Watermark,
    WebSourceConfig,
    check_brands,
    country_codes,
    nps_bucket,
    raw_text,
    retry_after_seconds,
    window_start,
)
from listener.text import BadText, clean_text

WORKER = "listener.sources.googleplay_worker"  # stdlib + google-play-scraper only, so it starts fast


class GooglePlayApp(Section):
    """One app: its package name, the brand it belongs to, and the countries and language to read."""

    id: str = Field(pattern=r"^[A-Za-z][\w]*(\.[A-Za-z_][\w]*)+$")
    brand: str = Field(min_length=1)
    # Two-letter country codes (gl); each is read separately.
    countries: list[str] = Field(default=["us"], min_length=1)
    # Review language to ask for (hl), e.g. "en", "de", "pt-BR".
    lang: str = Field(default="en", pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z]{2,4})?$")

    _codes = field_validator("countries")(country_codes)


class GooglePlayConfig(WebSourceConfig):
    base_url: str = "https://play.google.com"
    apps: list[GooglePlayApp] = Field(min_length=1)
    interval_minutes: float = Field(default=60, gt=0)  # reviews come slower than posts
    # Reviews per request.
    page_size: int = Field(default=100, ge=1, le=4500)
    # When Play throttles it answers "PlayGatewayError"; the client waits this × attempt before trying again.
    gateway_retry_delay_seconds: float = Field(default=5, ge=0)


class GooglePlaySource(Source):
    name = "googleplay"
    Config = GooglePlayConfig
    config: GooglePlayConfig

    def __init__(self, config: GooglePlayConfig, app: Any) -> None:
        super().__init__(config, app)
        check_brands(app, "sources.googleplay.apps", [a.brand for a in config.apps])

    def queries(self) -> list[SourceQuery]:
        return [SourceQuery(key=f"{a.id}/{cc}", brand=a.brand, text=f"{a.id} in {cc} ({a.lang})")
                for a in self.config.apps for cc in a.countries]

    def check(self) -> list[str]:
        problems = []
        for q in self.queries():
            try:
                self.fetch(q, since=datetime.now(UTC), pages=1, count=1)
            except SourceError as exc:
                problems.append(str(exc))
        return problems

    def fetch(self, query: SourceQuery, *, since: datetime, pages: int, count: int) -> list[dict[str, Any]]:
        """Pages of raw reviews, newest first, from the worker process; stops at reviews older than `since`."""
        app_id, country = query.key.split("/")
        app = next(a for a in self.config.apps if a.id == app_id)
        job = {"base_url": self.config.base_url.rstrip("/"), "app_id": app_id, "lang": app.lang,
               "country": country, "count": count, "max_pages": pages, "since": since.timestamp(),
               "timeout": self.config.timeout_seconds, "attempts": self.config.retries + 1,
               "gateway_delay": self.config.gateway_retry_delay_seconds}
        what = f"Google Play {app_id} ({country})"
        budget = pages * (self.config.retries + 1) * (self.config.timeout_seconds + 3 * job["gateway_delay"]) + 30
        try:
            done = subprocess.run([sys.executable, "-m", WORKER], input=json.dumps(job), capture_output=True,
                                  text=True, timeout=budget, check=False)
        except subprocess.TimeoutExpired:
            raise SourceError(f"{what}: no answer within {budget:.0f} s") from None
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise SourceError(f"{what}: the review worker failed: {done.stderr.strip()[-300:] or done.returncode}")
        result = lines[-1]
        if "error" in result:
            raise _error(what, result["error"])
        return result["pages"]

    def collect(self, query: SourceQuery, cursor: str | None,
                backfill: timedelta | None = None) -> Iterator[Batch]:
        app_id, country = query.key.split("/")
        app = next(a for a in self.config.apps if a.id == app_id)
        seen = Watermark.load(cursor)
        since = window_start(seen, backfill, self.config)
        moved = Watermark(seen.newest, set(seen.ids))
        pages = self.fetch(query, since=since, pages=self.config.max_pages, count=self.config.page_size)
        for n, page in enumerate(pages, 1):
            batch = Batch()
            for i, review in enumerate(page):
                try:
                    found = self.to_mentions(review, query, app_id, country, app.lang)
                except (BadText, ValueError, TypeError, IndexError) as exc:
                    rid = review[0] if isinstance(review, list) and review and isinstance(review[0], str) else i
                    batch.quarantined.append(Quarantined(self.name, f"{query.key} page {n} review {rid}", str(exc),
                                                         raw_text(review)))
                    continue
                first = found[0]
                if first.created_at < since or not seen.is_new(first.created_at, first.native_id):
                    batch.mentions.extend(found[1:])  # the developer may answer an older review later
                    continue
                batch.mentions.extend(found)
                moved.advance(first.created_at, first.native_id)
            if n == len(pages):
                batch.cursor = moved.dump()
            yield batch
        if not pages:
            yield Batch(cursor=moved.dump())

    def to_mentions(self, review: Any, query: SourceQuery, app_id: str, country: str, lang: str) -> list[Mention]:
        """The review, and the developer's answer to it when there is one."""
        if not isinstance(review, list) or len(review) < 6:
            raise TypeError("review is not the list Google Play sends")
        rid = review[0]
        if not isinstance(rid, str) or not rid:
            raise ValueError("review has no id")
        stars = review[2]
        if not isinstance(stars, int) or not 1 <= stars <= 5:
            raise ValueError(f"score {stars!r} is not between 1 and 5")
        created = _time(review[5], "review time")
        author = review[1][0] if isinstance(review[1], list) and review[1] else None
        version = review[10] if len(review) > 10 and isinstance(review[10], str) else None
        thumbs = review[6] if isinstance(review[6], int) else 0
        url = f"https://play.google.com/store/apps/details?id={app_id}&hl={lang}&gl={country}&reviewId={rid}"
        mention = Mention(
            source=self.name, native_id=rid, text=clean_text(review[4], field="content"), created_at=created,
            brand=query.brand, url=url, author=author if isinstance(author, str) else None, stars=stars,
            lang=lang.split("-")[0].split("_")[0].lower(), engagement=thumbs,
            metrics={"version": version, "country": country, "app_id": app_id, "nps_bucket": nps_bucket(stars)},
            raw=review,
        )
        out = [mention]
        reply = review[7] if len(review) > 7 else None
        if isinstance(reply, list) and len(reply) > 2 and isinstance(reply[1], str) and reply[1].strip():
            out.append(Mention(
                source=self.name, native_id=f"{rid}/reply", text=clean_text(reply[1], field="reply"),
                created_at=_time(reply[2], "reply time"), brand=query.brand, url=url, author="developer",
                thread_id=rid, parent_id=rid, is_brand_account=True,
                metrics={"country": country, "app_id": app_id}, raw=reply,
            ))
        return out


def _time(value: Any, what: str) -> datetime:
    if isinstance(value, list) and value and isinstance(value[0], (int, float)) and not isinstance(value[0], bool):
        return datetime.fromtimestamp(value[0], tz=UTC)
    raise ValueError(f"{what} {str(value)[:40]!r} is not [seconds, nanos]")


def _error(what: str, err: dict[str, Any]) -> SourceError:
    status, message = err.get("status"), err.get("message", "")
    if status == 429 or "PlayGatewayError" in message:
        wait = retry_after_seconds(err.get("retry_after"), DEFAULT_RETRY_AFTER)
        return SourceError(f"{what}: rate limited; try again in {wait:.0f} s", retry_after=wait)
    if status in (401, 403):
        return SourceError(f"{what}: access refused (HTTP {status})", auth=True)
    if status == 404:
        return SourceError(f"{what}: app not found (HTTP 404); check the package name")
    if isinstance(status, int) and status >= 500:
        return SourceError(f"{what}: server error HTTP {status} ({err.get('attempts')} attempts)")
    return SourceError(f"{what}: {message}")
