"""The brand account's PDS on 127.0.0.1, for posting replies: createSession, refreshSession,
app.bsky.feed.getPosts (proxied to the AppView on the real network) and com.atproto.repo.createRecord.

It checks what the PDS checks: the bearer token (an expired or revoked access token answers 400
ExpiredToken, as the PDS does), that the repo is the logged-in account, the post record's required
fields and limits (text at most 300 graphemes and 3000 bytes; reply.root and reply.parent each with
uri and cid), and serves post views with `viewer.replyDisabled` for gated threads.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import regex
from werkzeug import Request, Response

from tests.fakes_web.bluesky import _b64


@dataclass
class Post:
    uri: str
    cid: str
    handle: str
    text: str
    reply_root: tuple[str, str] | None = None  # (uri, cid)
    reply_parent: tuple[str, str] | None = None
    reply_disabled: bool = False


@dataclass
class BlueskyReplyFake:
    handle: str = "brightwave.bsky.social"
    password: str = "abcd-efgh-ijkl-mnop"
    did: str = "did:plc:brightwavexxxxxxxxxxxxx"
    access_lifetime: int = 7200
    posts: dict[str, Post] = field(default_factory=dict)
    created: list[dict[str, Any]] = field(default_factory=list)  # createRecord bodies that were stored
    calls: list[str] = field(default_factory=list)  # nsids in order
    fail_next: list[tuple[str, int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    _access: set[str] = field(default_factory=set)
    _refresh: set[str] = field(default_factory=set)
    _seq: int = 0

    def add(self, handle: str, rkey: str, text: str, **kw: Any) -> Post:
        did = "did:plc:" + handle.split(".")[0].ljust(24, "x")[:24]
        post = Post(f"at://{did}/app.bsky.feed.post/{rkey}", f"bafyrei{hashlib.sha1(rkey.encode()).hexdigest()[:40]}",
                    handle, text, **kw)
        self.posts[post.uri] = post
        return post

    def expire_sessions(self) -> None:
        """The server forgets every access and refresh token (a password change, a revoked app password)."""
        self._access.clear()
        self._refresh.clear()

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8",
                        headers=headers or {})

    def _session(self) -> dict[str, Any]:
        self._seq += 1
        access = self._jwt("com.atproto.appPass", self.access_lifetime)
        refresh = self._jwt("com.atproto.refresh", 86400)
        self._access.add(access)
        self._refresh.add(refresh)
        return {"did": self.did, "handle": self.handle, "email": "social@brightwave.example",
                "emailConfirmed": True, "emailAuthFactor": False, "accessJwt": access, "refreshJwt": refresh,
                "active": True}

    def _jwt(self, scope: str, lifetime: int) -> str:
        """A token shaped like the PDS's (atproto reads its exp to refresh in time); each one unique (jti)."""
        now = int(time.time())
        payload = {"scope": scope, "sub": self.did, "iat": now, "exp": now + lifetime, "jti": f"{scope}-{self._seq}",
                   "aud": "did:web:bsky.social"}
        return f"{_b64({'typ': 'at+jwt', 'alg': 'ES256K'})}.{_b64(payload)}.c2lnbmF0dXJl"

    def view(self, p: Post) -> dict[str, Any]:
        did = p.uri.split("/")[2]
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": p.text,
                                  "createdAt": "2026-12-01T09:30:00.000Z", "langs": ["en"]}
        if p.reply_root:
            parent = p.reply_parent or p.reply_root
            record["reply"] = {"root": {"uri": p.reply_root[0], "cid": p.reply_root[1]},
                               "parent": {"uri": parent[0], "cid": parent[1]}}
        view = {"uri": p.uri, "cid": p.cid,
                "author": {"did": did, "handle": p.handle, "displayName": p.handle.split(".")[0].title(),
                           "avatar": "https://cdn.bsky.app/img/avatar/plain/x.jpg", "labels": [],
                           "createdAt": "2023-05-01T00:00:00.000Z"},
                "record": record, "replyCount": 0, "repostCount": 0, "likeCount": 0, "quoteCount": 0,
                "indexedAt": "2026-12-01T09:30:01.000Z", "labels": [], "viewer": {"threadMuted": False}}
        if p.reply_disabled:
            view["viewer"]["replyDisabled"] = True
            view["threadgate"] = {"uri": p.uri.replace("app.bsky.feed.post", "app.bsky.feed.threadgate"),
                                  "cid": "bafyreigate", "record": {"$type": "app.bsky.feed.threadgate",
                                                                   "post": p.uri, "allow": [], "createdAt":
                                                                   "2026-12-01T09:30:00.000Z"}, "lists": []}
        return view

    def __call__(self, request: Request) -> Response:
        nsid = request.path.removeprefix("/xrpc/")
        self.calls.append(nsid)
        for i, (name, status, body, headers) in enumerate(self.fail_next):
            if nsid == name:
                del self.fail_next[i]
                return self._json(body, status, headers)
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if nsid == "com.atproto.server.createSession":
            body = request.get_json(force=True)
            if body.get("identifier") not in (self.handle, self.did) or body.get("password") != self.password:
                return self._json({"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
                                  401)
            return self._json(self._session())
        if nsid == "com.atproto.server.refreshSession":
            if bearer not in self._refresh:
                return self._json({"error": "ExpiredToken", "message": "Token has expired"}, 400)
            self._refresh.discard(bearer)  # refresh tokens are single use
            return self._json(self._session())
        if not bearer:
            return self._json({"error": "AuthMissing", "message": "Authentication Required"}, 401)
        if bearer not in self._access:
            return self._json({"error": "ExpiredToken", "message": "Token has expired"}, 400)
        if nsid == "app.bsky.feed.getPosts":
            uris = request.args.getlist("uris")
            return self._json({"posts": [self.view(self.posts[u]) for u in uris if u in self.posts]})
        if nsid == "com.atproto.repo.createRecord" and request.method == "POST":
            return self._create(request.get_json(force=True))
        return self._json({"error": "MethodNotImplemented", "message": "Method Not Implemented"}, 501)

    def _create(self, body: dict[str, Any]) -> Response:
        if body.get("repo") not in (self.handle, self.did):
            return self._json({"error": "InvalidRequest", "message": "Input/repo must be the logged-in account"},
                              400)
        record = body.get("record") or {}
        problem = self._invalid(body.get("collection"), record)
        if problem:
            return self._json({"error": "InvalidRequest", "message": f"Invalid app.bsky.feed.post record: {problem}"},
                              400)
        self._seq += 1
        rkey = f"3lbrand{self._seq:06d}"
        uri = f"at://{self.did}/app.bsky.feed.post/{rkey}"
        cid = f"bafyrei{hashlib.sha1(uri.encode()).hexdigest()[:40]}"
        self.created.append(body)
        return self._json({"uri": uri, "cid": cid, "commit": {"cid": "bafyreicommit", "rev": "3lbrev"},
                           "validationStatus": "valid"})

    @staticmethod
    def _invalid(collection: Any, record: dict[str, Any]) -> str | None:
        if collection != "app.bsky.feed.post" or record.get("$type") != "app.bsky.feed.post":
            return "Record/$type must be app.bsky.feed.post"
        text = record.get("text")
        if not isinstance(text, str) or not isinstance(record.get("createdAt"), str):
            return "Record must have the properties \"text\" and \"createdAt\""
        if len(regex.findall(r"\X", text)) > 300:
            return "Record/text must not be longer than 300 graphemes"
        if len(text.encode()) > 3000:
            return "Record/text must not be longer than 3000 characters"
        reply = record.get("reply")
        if reply is not None:
            for part in ("root", "parent"):
                ref = reply.get(part) or {}
                if not isinstance(ref.get("uri"), str) or not isinstance(ref.get("cid"), str):
                    return f"Record/reply/{part} must have the properties \"uri\" and \"cid\""
        for facet in record.get("facets") or []:
            index = facet.get("index") or {}
            if not 0 <= index.get("byteStart", -1) < index.get("byteEnd", -1) <= len(text.encode()):
                return "Record/facets/index is out of range"
        return None
