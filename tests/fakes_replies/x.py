"""A fake X for replying: OAuth 2.0 with PKCE (authorize, token with both grants), /2/users/me, POST /2/tweets.

Shaped like X's documented answers, not like our code:
- `GET /i/oauth2/authorize` checks client id, registered redirect URI and an S256 challenge, then (as if the
  person pressed "Authorize app") redirects 302 to `redirect_uri?state=…&code=…` (or `error=access_denied`).
- `POST /2/oauth2/token`, form-encoded: `authorization_code` (code once, same redirect URI, the PKCE verifier
  must hash to the challenge) and `refresh_token` (rotating: each refresh returns a new refresh token and
  the old one stops working). Answers `{"token_type":"bearer","expires_in":7200,"access_token",
  "scope","refresh_token"}`; refusals are 400 `{"error":"invalid_request","error_description":…}`.
- `POST /2/tweets` with `{"text", "reply":{"in_reply_to_tweet_id"}}` → 201 `{"data":{"id","text",
  "edit_history_tweet_ids"}}`. Refusals as X words them: 401 (expired or revoked token), 403
  `{"detail":"You are not allowed to create a Tweet with duplicate content."}`, 403 for a post whose
  author limited replies, 403 for a deleted post, 429 with `x-rate-limit-reset`.

    fake = FakeXReplies(client_id="cid").start()
    fake.add_post("1850000000000000001", "techwithjess")
    ...
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tests.fakes.base import FakeServer, Reply, Request

PROBLEM = "about:blank"


@dataclass
class Post:
    id: str
    author: str
    text: str = ""
    reply_settings: str = "everyone"  # everyone | mentionedUsers | following
    deleted: bool = False
    in_reply_to: str | None = None


@dataclass
class Grant:
    access: str
    refresh: str | None
    expires_at: float
    user: str
    revoked: bool = False


@dataclass
class PendingCode:
    code: str
    redirect_uri: str
    challenge: str
    scope: str
    used: bool = False


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"title": title, "type": PROBLEM, "status": status, "detail": detail}


class FakeXReplies(FakeServer):
    name = "fake-x-replies"

    def __init__(self, client_id: str = "fake-client-id", *, username: str = "Brightwave",
                 user_id: str = "1440000000000000001", redirect_uris: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.client_id = client_id
        self.username = username
        self.user_id = user_id
        self.redirect_uris = set(redirect_uris)  # empty: any loopback redirect URI is registered
        self.posts: dict[str, Post] = {}
        self.grants: list[Grant] = []
        self.codes: dict[str, PendingCode] = {}
        self.deny = False
        self.hold_posts_s = 0.0  # answer POST /2/tweets only after this long (a slow X)
        self.posted = threading.Event()  # set when a post has been created (before its answer is sent)
        self._ids = itertools.count(1860000000000000001)

    # ------------------------------------------------------------ scripting
    def add_post(self, post_id: str, author: str, text: str = "", *, reply_settings: str = "everyone") -> Post:
        post = Post(str(post_id), author, text, reply_settings)
        with self.lock:
            self.posts[post.id] = post
        return post

    def delete(self, post_id: str) -> None:
        with self.lock:
            self.posts[str(post_id)].deleted = True

    def grant(self, *, expires_in: float = 7200, refresh: bool = True) -> Grant:
        """Tokens as if `connect x` had run (for tests that start connected)."""
        g = Grant("acc-" + secrets.token_hex(8), ("ref-" + secrets.token_hex(8)) if refresh else None,
                  time.time() + expires_in, self.username)
        with self.lock:
            self.grants.append(g)
        return g

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is refused (401), as two hours later or after a revocation."""
        with self.lock:
            for g in self.grants:
                g.expires_at = 0

    def replies_to(self, post_id: str) -> list[Post]:
        with self.lock:
            return [p for p in self.posts.values() if p.in_reply_to == str(post_id)]

    def rate_limit_headers(self, reset_in: float) -> dict[str, str]:
        return {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(time.time() + reset_in))}

    def error_body(self, status: int, title: str) -> Any:
        return _problem(status, title, title)

    # ------------------------------------------------------------ answering
    def handle(self, req: Request) -> Reply:
        if req.path == "/i/oauth2/authorize" and req.method == "GET":
            return self._authorize(req)
        if req.path == "/2/oauth2/token" and req.method == "POST":
            return self._token(req)
        grant = self._bearer(req)
        if grant is None:
            return Reply(401, _problem(401, "Unauthorized", "Unauthorized"))
        if req.path == "/2/users/me" and req.method == "GET":
            return Reply(200, {"data": {"id": self.user_id, "name": "Brightwave Support", "username": self.username}})
        if req.path == "/2/tweets" and req.method == "POST":
            return self._create(req)
        return Reply(404, _problem(404, "Not Found Error", f"no route {req.path}"))

    def _bearer(self, req: Request) -> Grant | None:
        auth = req.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        with self.lock:
            for g in self.grants:
                if g.access == token and not g.revoked and g.expires_at > time.time():
                    return g
        return None

    def _authorize(self, req: Request) -> Reply:
        p = req.params
        redirect = p.get("redirect_uri", "")
        if p.get("client_id") != self.client_id or p.get("response_type") != "code":
            return Reply(400, "Something went wrong: the app's client id is not valid", {"Content-Type": "text/html"})
        if self.redirect_uris and redirect not in self.redirect_uris:
            return Reply(400, "Something went wrong: redirect_uri is not registered", {"Content-Type": "text/html"})
        if p.get("code_challenge_method") != "S256" or not p.get("code_challenge"):
            return Reply(400, "Something went wrong: PKCE challenge missing", {"Content-Type": "text/html"})
        if self.deny:
            query = {"error": "access_denied", "state": p.get("state", "")}
        else:
            code = secrets.token_urlsafe(24)
            with self.lock:
                self.codes[code] = PendingCode(code, redirect, p["code_challenge"], p.get("scope", ""))
            query = {"state": p.get("state", ""), "code": code}
        return Reply(302, b"", {"Location": f"{redirect}?{urlencode(query)}"})

    def _client_ok(self, req: Request) -> bool:
        auth = req.headers.get("authorization", "")
        if auth.startswith("Basic "):
            client = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
            return client == self.client_id
        return req.params.get("client_id") == self.client_id

    def _token(self, req: Request) -> Reply:
        p = req.params
        invalid = Reply(400, {"error": "invalid_request",
                              "error_description": "Value passed for the token was invalid."})
        if not self._client_ok(req):
            return Reply(401, {"error": "unauthorized_client",
                               "error_description": "Missing valid authorization header"})
        if p.get("grant_type") == "authorization_code":
            with self.lock:
                pending = self.codes.get(p.get("code", ""))
                if pending is None or pending.used or pending.redirect_uri != p.get("redirect_uri"):
                    return invalid
                verifier = p.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if digest != pending.challenge:
                    return invalid
                pending.used = True
                scope = pending.scope
            g = self.grant(refresh="offline.access" in scope.split())
            return Reply(200, self._token_body(g, scope))
        if p.get("grant_type") == "refresh_token":
            with self.lock:
                old = next((g for g in self.grants if g.refresh and g.refresh == p.get("refresh_token")
                            and not g.revoked), None)
                if old is None:
                    return invalid
                old.revoked = True  # rotation: the old refresh token (and its access token) stop working
            g = self.grant()
            return Reply(200, self._token_body(g, "tweet.read tweet.write users.read offline.access"))
        return Reply(400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"})

    @staticmethod
    def _token_body(g: Grant, scope: str) -> dict[str, Any]:
        body = {"token_type": "bearer", "expires_in": 7200, "access_token": g.access, "scope": scope}
        if g.refresh:
            body["refresh_token"] = g.refresh
        return body

    def _create(self, req: Request) -> Reply:
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            return Reply(400, _problem(400, "Invalid Request", "Request body is not valid JSON"))
        text = body.get("text")
        parent_id = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if not isinstance(text, str) or not text:
            return Reply(400, {"errors": [{"parameters": {"text": [text]}, "message": "text must not be empty"}],
                               "title": "Invalid Request", "detail": "One or more parameters to your request was "
                               "invalid.", "type": "https://api.twitter.com/2/problems/invalid-request"})
        with self.lock:
            parent = self.posts.get(str(parent_id)) if parent_id else None
            if parent_id and (parent is None or parent.deleted):
                return Reply(403, _problem(403, "Forbidden", "You attempted to reply to a Tweet that is deleted or "
                                                             "not visible to you."))
            if parent and parent.reply_settings != "everyone" and f"@{self.username}".lower() not in \
                    parent.text.lower():
                return Reply(403, _problem(403, "Forbidden", "Reply to this conversation is not allowed because you "
                                                             "have not been mentioned or otherwise engaged by the "
                                                             "author of the post you are replying to."))
            if any(p.author == self.username and p.text == text and not p.deleted for p in self.posts.values()):
                return Reply(403, _problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate "
                                                             "content."))
            post = Post(str(next(self._ids)), self.username, text, in_reply_to=str(parent_id) if parent_id else None)
            self.posts[post.id] = post
        self.posted.set()
        if self.hold_posts_s:
            time.sleep(self.hold_posts_s)
        return Reply(201, {"data": {"id": post.id, "text": text, "edit_history_tweet_ids": [post.id]}})
