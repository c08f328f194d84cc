"""Pages of Apple's customer-reviews JSON feed (itunes.apple.com/{cc}/rss/customerreviews/...)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class Review:
    id: str
    stars: int | str
    title: str
    text: str
    updated: datetime | str
    author: str = "happycamper"
    version: str = "5.2.1"
    votes: int = 0


def entry(r: Review) -> dict[str, Any]:
    updated = r.updated if isinstance(r.updated, str) else r.updated.strftime("%Y-%m-%dT%H:%M:%S-07:00")
    return {
        "author": {"uri": {"label": f"https://itunes.apple.com/us/reviews/id{abs(hash(r.author)) % 10**9}"},
                   "name": {"label": r.author}, "label": ""},
        "updated": {"label": updated},
        "im:rating": {"label": str(r.stars)},
        "im:version": {"label": r.version},
        "id": {"label": r.id},
        "title": {"label": r.title},
        "content": {"label": r.text, "attributes": {"type": "text"}},
        "link": {"attributes": {"rel": "related", "href": f"https://itunes.apple.com/us/review?id={r.id}"}},
        "im:voteSum": {"label": str(r.votes)},
        "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
        "im:voteCount": {"label": str(r.votes)},
    }


def page(app_id: str, country: str, n: int, entries: list[dict[str, Any]] | dict[str, Any] | None,
         last: int = 10) -> dict[str, Any]:
    base = f"https://itunes.apple.com/{country}/rss/customerreviews"
    feed: dict[str, Any] = {
        "author": {"name": {"label": "iTunes Store"}, "uri": {"label": "http://www.apple.com/uk/itunes/"}},
        "updated": {"label": "2026-11-24T01:00:00-07:00"},
        "rights": {"label": "Copyright 2008 Apple Inc."},
        "title": {"label": "iTunes Store: Customer Reviews"},
        "icon": {"label": "http://itunes.apple.com/favicon.ico"},
        "link": [
            {"attributes": {"rel": "alternate", "type": "text/html",
                            "href": f"https://apps.apple.com/WebObjects/MZStore.woa/wa/viewGrouping?cc={country}"}},
            {"attributes": {"rel": "self", "href": f"{base}/page={n}/id={app_id}/sortby=mostrecent/json"}},
            {"attributes": {"rel": "first", "href": f"{base}/page=1/id={app_id}/sortby=mostrecent/xml"}},
            {"attributes": {"rel": "last", "href": f"{base}/page={last}/id={app_id}/sortby=mostrecent/xml"}},
            {"attributes": {"rel": "next", "href": f"{base}/page={n + 1}/id={app_id}/sortby=mostrecent/xml"}},
        ],
        "id": {"label": f"{base}/page={n}/id={app_id}/sortby=mostrecent/json"},
    }
    if entries is not None:
        feed["entry"] = entries
    return {"feed": feed}


def path(app_id: str, country: str, n: int) -> str:
    return f"/{country}/rss/customerreviews/page={n}/id={app_id}/sortby=mostrecent/json"
