"""Pages of Apple's customer-reviews JSON feed (itunes.apple.com/{cc}/rss/customerreviews/...)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any


def _pacific(when: datetime) -> str:
    """Apple writes feed times in Cupertino's offset."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(timezone(timedelta(hours=-7))).strftime("%Y-%m-%dT%H:%M:%S-07:00")


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


def entry(r: Review, *, dated: bool = True) -> dict[str, Any]:
    """A review as the feed serves it. dated=False: the older shape, whose entries carry no `updated`."""
    updated = r.updated if isinstance(r.updated, str) else _pacific(r.updated)
    body = {
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
    if not dated:
        del body["updated"]
    return body


def app_entry(app_id: str, name: str = "Brightwave") -> dict[str, Any]:
    """The entry the older feed shape opens page 1 with: the app itself, not a review."""
    return {
        "im:name": {"label": name}, "rights": {"label": f"© {name} Ltd"},
        "im:price": {"label": "Get", "attributes": {"amount": "0.00000", "currency": "USD"}},
        "im:image": [{"label": "https://is1-ssl.mzstatic.com/image/thumb/53x53bb.png", "attributes": {"height": "53"}}],
        "im:artist": {"label": f"{name} Ltd", "attributes": {"href": f"https://apps.apple.com/us/developer/id{app_id}"}},
        "title": {"label": f"{name} - {name} Ltd"},
        "link": {"attributes": {"rel": "alternate", "type": "text/html",
                                "href": f"https://apps.apple.com/us/app/id{app_id}?uo=2"}},
        "id": {"label": f"https://apps.apple.com/us/app/id{app_id}?uo=2",
               "attributes": {"im:id": app_id, "im:bundleId": "com.brightwave.app"}},
        "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
        "category": {"attributes": {"im:id": "6002", "term": "Utilities", "label": "Utilities"}},
        "im:releaseDate": {"label": "2019-04-02T09:00:00-07:00", "attributes": {"label": "April 2, 2019"}},
    }


def page(app_id: str, country: str, n: int, entries: list[dict[str, Any]] | dict[str, Any] | None,
         last: int = 10, updated: datetime | None = None) -> dict[str, Any]:
    base = f"https://itunes.apple.com/{country}/rss/customerreviews"
    feed: dict[str, Any] = {
        "author": {"name": {"label": "iTunes Store"}, "uri": {"label": "http://www.apple.com/uk/itunes/"}},
        "updated": {"label": _pacific(updated) if updated else "2026-11-24T01:00:00-07:00"},
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
