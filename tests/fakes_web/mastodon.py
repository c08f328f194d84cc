"""A Mastodon instance on 127.0.0.1: hashtag timelines (min_id paging), v2 search, status context,
instance info and token checks, answering with the JSON shapes Mastodon 4.3 sends."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from html import unescape
from typing import Any

from werkzeug import Request, Response


@dataclass
class Post:
    id: int
    html: str
    when: datetime
    user: str = "alice"
    domain: str | None = None  # None: a local account
    followers: int = 120
    tags: list[str] = field(default_factory=list)
    reply_to: int | None = None
    language: str | None = "en"
    favourites: int = 0
    reblogs: int = 0
    replies: int = 0
    spoiler: str = ""
    override: dict[str, Any] = field(default_factory=dict)  # keys to replace in the JSON (malformed posts)


def _window_end() -> str:
    """Mastodon's rate-limit windows are five minutes; the header says when the current one ends."""
    from datetime import UTC, timedelta

    return (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def status_id(when: datetime, seq: int = 0) -> int:
    return (int(when.timestamp() * 1000) << 16) + seq


class MastodonFake:
    def __init__(self, host: str, posts: list[Post], token: str | None = None, version: str = "4.3.0") -> None:
        self.host = host
        # Servers before Mastodon 4.0 (and Pleroma/Akkoma) have no /api/v2/instance: it answers 404.
        self.version = version
        self.posts = {p.id: p for p in posts}
        self.token = token
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.fail_next: list[tuple[str, int, str, dict[str, str]]] = []  # (path prefix, status, body, headers)

    def status(self, p: Post) -> dict[str, Any]:
        origin = p.domain or self.host
        acct = p.user if p.domain is None else f"{p.user}@{p.domain}"
        return {**self._status(p, origin, acct), **p.override}

    def _status(self, p: Post, origin: str, acct: str) -> dict[str, Any]:
        return {
            "id": str(p.id), "created_at": p.when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "in_reply_to_id": str(p.reply_to) if p.reply_to else None,
            "in_reply_to_account_id": "1" if p.reply_to else None, "sensitive": bool(p.spoiler),
            "spoiler_text": p.spoiler, "visibility": "public", "language": p.language,
            "uri": f"https://{origin}/users/{p.user}/statuses/{p.id}", "url": f"https://{origin}/@{p.user}/{p.id}",
            "replies_count": p.replies, "reblogs_count": p.reblogs, "favourites_count": p.favourites,
            "edited_at": None, "content": p.html, "reblog": None, "application": None,
            "account": {"id": str(abs(hash(acct)) % 10**6), "username": p.user, "acct": acct,
                        "display_name": p.user.title(), "locked": False, "bot": False, "discoverable": True,
                        "group": False, "created_at": "2022-11-01T00:00:00.000Z", "note": "<p>hi</p>",
                        "url": f"https://{origin}/@{p.user}", "uri": f"https://{origin}/users/{p.user}",
                        "avatar": f"https://{origin}/avatars/{p.user}.png", "header": "",
                        "followers_count": p.followers, "following_count": 10, "statuses_count": 99,
                        "last_status_at": p.when.strftime("%Y-%m-%d"), "emojis": [], "fields": []},
            "media_attachments": [], "mentions": [],
            "tags": [{"name": t, "url": f"https://{self.host}/tags/{t}"} for t in p.tags],
            "emojis": [], "card": None, "poll": None,
        }

    def _json(self, body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8",
                        headers={"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
                                 "X-RateLimit-Reset": _window_end()})

    def __call__(self, request: Request) -> Response:
        path, args = request.path, dict(request.args)
        self.requests.append((path, args))
        for i, (prefix, status, body, headers) in enumerate(self.fail_next):
            if path.startswith(prefix):
                del self.fail_next[i]
                return Response(body, status=status, headers=headers, content_type="application/json")
        authed = self.token is not None and request.headers.get("Authorization") == f"Bearer {self.token}"
        if request.headers.get("Authorization") and not authed:
            return self._json({"error": "The access token is invalid"}, 401)
        if path.rstrip("/") == "/api/v2/instance":
            if int(self.version.split(".")[0]) < 4:
                return Response("<html><body>The page you were looking for doesn't exist.</body></html>",
                                status=404, content_type="text/html")
            return self._json({"domain": self.host, "title": "Fake", "version": self.version, "languages": ["en"],
                               "api_versions": {"mastodon": 2},
                               "configuration": {"statuses": {"max_characters": 500}},
                               "registrations": {"enabled": False}})
        if path.rstrip("/") == "/api/v1/instance":
            return self._json({"uri": self.host, "title": "Fake", "version": self.version, "languages": ["en"]})
        if path == "/api/v1/accounts/verify_credentials":
            if not authed:
                return self._json({"error": "The access token is invalid"}, 401)
            return self._json(self.status(Post(1, "", datetime(2024, 1, 1)))["account"])
        m = re.fullmatch(r"/api/v1/timelines/tag/(\w+)", path)
        if m:
            tagged = [p for p in self.posts.values() if m.group(1).lower() in p.tags]
            return self._json([self.status(p) for p in self._page(tagged, args)])
        m = re.fullmatch(r"/api/v1/statuses/(\d+)/context", path)
        if m:
            chain, post = [], self.posts.get(int(m.group(1)))
            while post and post.reply_to and post.reply_to in self.posts:
                post = self.posts[post.reply_to]
                chain.insert(0, self.status(post))
            return self._json({"ancestors": chain, "descendants": []})
        if path == "/api/v2/search":
            if not authed:
                return self._json({"error": "Search queries pagination is not supported without authentication"},
                                  401)
            q = args.get("q", "").strip('"').lower()  # a quoted phrase: the words in that order
            hits = [p for p in self.posts.values() if q in unescape(re.sub("<[^>]+>", "", p.html)).lower()]
            hits = [p for p in hits if "min_id" not in args or p.id > int(args["min_id"])]
            hits.sort(key=lambda p: p.id, reverse=True)
            offset, limit = int(args.get("offset", 0)), int(args.get("limit", 20))
            return self._json({"accounts": [], "hashtags": [],
                               "statuses": [self.status(p) for p in hits[offset:offset + limit]]})
        return self._json({"error": "Record not found"}, 404)

    @staticmethod
    def _page(posts: list[Post], args: dict[str, str]) -> list[Post]:
        limit = int(args.get("limit", 20))
        if "min_id" in args:  # the posts just after min_id, newest first within the page
            newer = sorted((p for p in posts if p.id > int(args["min_id"])), key=lambda p: p.id)[:limit]
            return sorted(newer, key=lambda p: p.id, reverse=True)
        return sorted(posts, key=lambda p: p.id, reverse=True)[:limit]
