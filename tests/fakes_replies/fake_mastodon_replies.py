"""The brand's Mastodon instance on 127.0.0.1, for posting replies: POST /api/v1/statuses, v2 search with
resolve, verify_credentials and instance info, shaped like Mastodon 4.3's answers.

It checks what Mastodon checks: the bearer token and its scopes (write:statuses to post, read:search to
resolve), that `status` is there, that in_reply_to_id names a status it knows (404 "Record not found"),
the 500-character limit (422), and Idempotency-Key (the same key gives back the same status).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import regex
from werkzeug import Request, Response


@dataclass
class Status:
    id: str
    uri: str
    acct: str  # as this instance writes it: "user" for local, "user@domain" for remote
    text: str
    visibility: str = "public"
    in_reply_to_id: str | None = None


@dataclass
class MastodonReplyFake:
    host: str
    tokens: dict[str, set[str]] = field(default_factory=dict)  # token -> scopes
    max_characters: int = 500
    statuses: dict[str, Status] = field(default_factory=dict)  # local id -> status
    remote: dict[str, Status] = field(default_factory=dict)  # URI -> a status this instance can fetch
    posted: list[dict[str, Any]] = field(default_factory=list)  # what each successful POST asked for
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    fail_next: list[tuple[str, int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    _next_id: int = 113_000_000_000_000_000
    _idempotent: dict[tuple[str, str], str] = field(default_factory=dict)

    def add_local(self, acct: str, text: str, visibility: str = "public") -> Status:
        sid = self._new_id()
        status = Status(sid, f"https://{self.host}/users/{acct}/statuses/{sid}", acct, text, visibility)
        self.statuses[sid] = status
        return status

    def add_remote(self, uri: str, acct: str, text: str, visibility: str = "public") -> None:
        self.remote[uri] = Status("", uri, acct, text, visibility)

    def _new_id(self) -> str:
        self._next_id += 65_536
        return str(self._next_id)

    # ------------------------------------------------------------ JSON as Mastodon writes it
    def status_json(self, s: Status) -> dict[str, Any]:
        user, _, domain = s.acct.partition("@")
        origin = domain or self.host
        return {
            "id": s.id, "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "in_reply_to_id": s.in_reply_to_id, "in_reply_to_account_id": "7" if s.in_reply_to_id else None,
            "sensitive": False, "spoiler_text": "", "visibility": s.visibility, "language": "en", "uri": s.uri,
            "url": s.uri.replace("/users/", "/@").replace("/statuses/", "/") if "/users/" in s.uri else s.uri,
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "edited_at": None,
            "content": f"<p>{s.text}</p>", "reblog": None, "application": {"name": "overheard", "website": None},
            "account": {"id": str(abs(hash(s.acct)) % 10**6), "username": user, "acct": s.acct,
                        "display_name": user.title(), "locked": False, "bot": False, "group": False,
                        "created_at": "2022-11-01T00:00:00.000Z", "note": "", "url": f"https://{origin}/@{user}",
                        "uri": f"https://{origin}/users/{user}", "avatar": "", "header": "", "followers_count": 5,
                        "following_count": 1, "statuses_count": 9, "last_status_at": "2026-11-30", "emojis": [],
                        "fields": []},
            "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None,
        }

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        reset = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8",
                        headers={"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
                                 "X-RateLimit-Reset": reset, **(headers or {})})

    def _scopes(self, request: Request) -> set[str] | None:
        auth = request.headers.get("Authorization", "")
        return self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None

    @staticmethod
    def _allowed(scopes: set[str], wanted: str) -> bool:
        return wanted in scopes or wanted.split(":")[0] in scopes  # "write" covers write:statuses

    def length(self, text: str) -> int:
        """Mastodon's StatusLengthValidator: links 23, remote mentions as @user, grapheme clusters."""
        text = re.sub(r"https?://\S+", "x" * 23, text)
        text = re.sub(r"@(\w+)@[\w.-]+\w", r"@\1", text)
        return len(regex.findall(r"\X", text))

    # ------------------------------------------------------------ the routes
    def __call__(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        self.requests.append((request.method, path))
        for i, (prefix, status, body, headers) in enumerate(self.fail_next):
            if path.startswith(prefix):
                del self.fail_next[i]
                return self._json(body, status, headers)
        scopes = self._scopes(request)
        if request.headers.get("Authorization") and scopes is None:
            return self._json({"error": "The access token is invalid"}, 401)
        if path == "/api/v2/instance":
            return self._json({"domain": self.host, "title": "Brand instance", "version": "4.3.0",
                               "configuration": {"statuses": {"max_characters": self.max_characters,
                                                              "characters_reserved_per_url": 23}}})
        if path == "/api/v1/accounts/verify_credentials":
            if scopes is None:
                return self._json({"error": "The access token is invalid"}, 401)
            return self._json(self.status_json(Status("1", "", "brightwave", ""))["account"])
        if path == "/api/v2/search":
            return self._search(request, scopes)
        if path == "/api/v1/statuses" and request.method == "POST":
            return self._post(request, scopes)
        return self._json({"error": "Record not found"}, 404)

    def _search(self, request: Request, scopes: set[str] | None) -> Response:
        resolve = request.args.get("resolve") in ("true", "1", "True")
        if resolve and scopes is None:
            return self._json({"error": "Search queries that resolve remote resources are not supported "
                                        "without authentication"}, 401)
        if resolve and not self._allowed(scopes or set(), "read:search"):
            return self._json({"error": "This action is outside the authorized scopes"}, 403)
        q = request.args.get("q", "")
        found = [s for s in self.statuses.values() if q in (s.uri, self.status_json(s)["url"])]
        if not found and resolve and q in self.remote:
            fetched = self.remote.pop(q)  # fetched once, then known under a local id
            fetched.id = self._new_id()
            self.statuses[fetched.id] = fetched
            found = [fetched]
        return self._json({"accounts": [], "hashtags": [], "statuses": [self.status_json(s) for s in found]})

    def _post(self, request: Request, scopes: set[str] | None) -> Response:
        if scopes is None:
            return self._json({"error": "The access token is invalid"}, 401)
        if not self._allowed(scopes, "write:statuses"):
            return self._json({"error": "This action is outside the authorized scopes"}, 403)
        form = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        text = (form or {}).get("status")
        if not text:
            return self._json({"error": "Validation failed: Text can't be blank"}, 422)
        key = request.headers.get("Idempotency-Key")
        token = request.headers["Authorization"]
        if key and (token, key) in self._idempotent:
            return self._json(self.status_json(self.statuses[self._idempotent[token, key]]))
        parent = form.get("in_reply_to_id")
        if parent and parent not in self.statuses:
            return self._json({"error": "Record not found"}, 404)
        if self.length(text) > self.max_characters:
            return self._json({"error": f"Validation failed: Text character limit of {self.max_characters} "
                                        "exceeded"}, 422)
        visibility = form.get("visibility") or "public"
        if visibility not in ("public", "unlisted", "private", "direct"):
            return self._json({"error": "Validation failed: Visibility is not included in the list"}, 422)
        posted = self.add_local("brightwave", text, visibility)
        posted.in_reply_to_id = parent
        if key:
            self._idempotent[token, key] = posted.id
        self.posted.append({"status": text, "in_reply_to_id": parent, "visibility": visibility,
                            "idempotency_key": key})
        return self._json(self.status_json(posted))
