"""Bluesky on 127.0.0.1, shaped like bsky.social: an entryway that logs accounts in, and the account's
own PDS that answers everything else.

createSession answers as the real entryway does, with the account's DID document (`didDoc`), whose
`#atproto_pds` service names the server that holds the account; atproto's client moves there after
login. `BlueskyFake(posts, pds_url=..., entryway=True)` only logs in (every other method is refused, so
a client that stays behind fails); `BlueskyFake(posts, access=entry.access)` is the PDS, accepting the
entryway's tokens: app.bsky.feed.searchPosts (sort=latest, since, cursor paging) and
app.bsky.actor.getProfiles (proxied to the AppView on the real network). With `pds_url` set to its own
address and entryway=False, one fake plays both, like a self-hosted PDS."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from werkzeug import Request, Response


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def jwt(did: str, scope: str, lifetime: int = 7200) -> str:
    now = int(time.time())
    payload = {"scope": scope, "sub": did, "iat": now, "exp": now + lifetime, "aud": "did:web:bsky.social"}
    return f"{_b64({'typ': 'at+jwt', 'alg': 'ES256K'})}.{_b64(payload)}.c2lnbmF0dXJl"


@dataclass
class Skeet:
    rkey: str
    text: str
    when: datetime
    handle: str = "alice.bsky.social"
    followers: int = 50
    langs: list[str] = field(default_factory=lambda: ["en"])
    reply_root: str | None = None
    reply_parent: str | None = None
    likes: int = 0
    reposts: int = 0
    override: dict[str, Any] = field(default_factory=dict)

    @property
    def did(self) -> str:
        return "did:plc:" + self.handle.split(".")[0].ljust(24, "x")[:24]

    @property
    def uri(self) -> str:
        return f"at://{self.did}/app.bsky.feed.post/{self.rkey}"

    def view(self) -> dict[str, Any]:
        stamp = self.when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": self.text, "createdAt": stamp,
                                  "langs": self.langs}
        if self.reply_root:
            record["reply"] = {"root": {"uri": self.reply_root, "cid": "bafyreiroot"},
                               "parent": {"uri": self.reply_parent or self.reply_root, "cid": "bafyreiparent"}}
        return {
            "uri": self.uri, "cid": f"bafyrei{self.rkey}",
            "author": {"did": self.did, "handle": self.handle, "displayName": self.handle.split(".")[0].title(),
                       "avatar": "https://cdn.bsky.app/img/avatar/plain/x.jpg", "labels": [],
                       "createdAt": "2023-05-01T00:00:00.000Z"},
            "record": record, "replyCount": 0, "repostCount": self.reposts, "likeCount": self.likes,
            "quoteCount": 0, "indexedAt": stamp, "labels": []
        , **self.override}


class BlueskyFake:
    def __init__(self, posts: list[Skeet], handle: str = "listener.bsky.social", password: str = "app-pass",
                 *, pds_url: str | None = None, entryway: bool = False, access: str | None = None) -> None:
        self.posts = posts
        self.handle, self.password = handle, password
        self.did = "did:plc:listenerxxxxxxxxxxxxxxxx"
        self.access = access or jwt(self.did, "com.atproto.appPass")
        self.pds_url = pds_url  # the PDS the login answer's didDoc names (None: no didDoc)
        self.entryway = entryway  # logs in only; the account's data is on pds_url
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.fail_next: list[tuple[str, int, str, dict[str, str]]] = []

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8",
                        headers=headers or {})

    def __call__(self, request: Request) -> Response:
        nsid = request.path.removeprefix("/xrpc/")
        args = {k: request.args.getlist(k) if k == "actors" else v for k, v in request.args.items()}
        self.requests.append((nsid, args))
        for i, (name, status, body, headers) in enumerate(self.fail_next):
            if nsid == name:
                del self.fail_next[i]
                kind = headers.pop("Content-Type", "application/json")
                return Response(body, status=status, headers=headers, content_type=kind)
        if nsid == "com.atproto.server.createSession":
            body = request.get_json(force=True)
            if body.get("identifier") != self.handle or body.get("password") != self.password:
                return self._json({"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
                                  401)
            session = {"did": self.did, "handle": self.handle, "email": "team@brightwave.example",
                       "emailConfirmed": True, "emailAuthFactor": False, "accessJwt": self.access,
                       "refreshJwt": jwt(self.did, "com.atproto.refresh", 86400), "active": True}
            if self.pds_url:
                session["didDoc"] = self.did_doc(self.pds_url)
            return self._json(session)
        if self.entryway:  # it holds no repositories and, in this fake, proxies nothing
            return self._json({"error": "InvalidRequest", "message": f"this account lives on {self.pds_url}"},
                              400)
        if request.headers.get("Authorization") != f"Bearer {self.access}":
            return self._json({"error": "AuthMissing", "message": "Authentication Required"}, 401)
        if nsid == "app.bsky.feed.searchPosts":
            return self._search(args)
        if nsid == "app.bsky.actor.getProfiles":
            by_did = {p.did: p for p in self.posts}
            return self._json({"profiles": [
                {"did": d, "handle": by_did[d].handle, "followersCount": by_did[d].followers, "followsCount": 3,
                 "postsCount": 10} for d in args.get("actors", []) if d in by_did]})
        return self._json({"error": "MethodNotImplemented", "message": "Method Not Implemented"}, 501)

    def did_doc(self, pds_url: str) -> dict[str, Any]:
        """The account's DID document as createSession sends it (did:plc, one PDS service)."""
        return {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1",
                         "https://w3id.org/security/suites/secp256k1-2019/v1"],
            "id": self.did,
            "alsoKnownAs": [f"at://{self.handle}"],
            "verificationMethod": [{"id": f"{self.did}#atproto", "type": "Multikey", "controller": self.did,
                                    "publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"}],
            "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds_url}],
        }

    def _search(self, args: dict[str, Any]) -> Response:
        q = args.get("q", "").strip('"').lower()
        since = args.get("since")
        hits = [p for p in self.posts if q in p.text.lower()]
        if since:
            floor = datetime.fromisoformat(since)
            hits = [p for p in hits if p.when >= floor]
        hits.sort(key=lambda p: p.when, reverse=True)
        offset, limit = int(args.get("cursor") or 0), int(args.get("limit", 25))
        page = hits[offset:offset + limit]
        body: dict[str, Any] = {"posts": [p.view() for p in page], "hitsTotal": len(hits)}
        if offset + limit < len(hits):
            body["cursor"] = str(offset + limit)
        return self._json(body)
