"""Algolia HN search (hn.algolia.com/api/v1/search_by_date): hits and a server that pages them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from werkzeug import Request, Response


def story(oid: int, title: str, when: datetime, *, author: str = "jdoe", text: str | None = None,
          points: int = 12, comments: int = 3, url: str | None = "https://example.com/post") -> dict[str, Any]:
    return {
        "_tags": ["story", f"author_{author}", f"story_{oid}"], "author": author, "children": [],
        "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "created_at_i": int(when.timestamp()),
        "num_comments": comments, "objectID": str(oid), "points": points, "story_id": oid,
        "story_text": text, "title": title, "updated_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "url": url,
        "_highlightResult": {"title": {"value": title, "matchLevel": "full", "matchedWords": []}},
    }


def comment(oid: int, html: str, when: datetime, *, story_id: int, parent_id: int, author: str = "throwaway",
            story_title: str = "Ask HN: Which ISP?") -> dict[str, Any]:
    return {
        "_tags": ["comment", f"author_{author}", f"story_{story_id}"], "author": author, "children": [],
        "comment_text": html, "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_at_i": int(when.timestamp()), "objectID": str(oid), "parent_id": parent_id, "points": None,
        "story_id": story_id, "story_title": story_title, "story_url": None,
        "updated_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def page(hits: list[Any], page_no: int, pages: int, query: str, per_page: int = 100) -> dict[str, Any]:
    return {"exhaustive": {"nbHits": True, "typo": True}, "exhaustiveNbHits": True, "hits": hits,
            "hitsPerPage": per_page, "nbHits": len(hits) * pages, "nbPages": pages, "page": page_no,
            "params": f"query={query}&page={page_no}", "processingTimeMS": 1, "query": query,
            "serverTimeMS": 2}


class AlgoliaFake:
    """Serves `pages[query]` (a list of hit lists) by the `page` argument; records every request's args."""

    def __init__(self, pages: dict[str, list[list[Any]]]) -> None:
        self.pages = pages
        self.requests: list[dict[str, str]] = []

    def __call__(self, request: Request) -> Response:
        import json

        args = dict(request.args)
        self.requests.append(args)
        query = args.get("query", "")
        pages = self.pages.get(query, [[]])
        n = int(args.get("page", 0))
        hits = pages[n] if n < len(pages) else []
        body = page(hits, n, len(pages), query, int(args.get("hitsPerPage", 100)))
        return Response(json.dumps(body), content_type="application/json; charset=utf-8")
