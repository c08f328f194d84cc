"""A fake Reddit for replying: the refresh-token grant and `POST /api/comment`, answering as Reddit does.

- `POST /api/v1/access_token` (Basic auth with the app's id and secret), `grant_type=refresh_token` →
  `{"access_token","token_type":"bearer","expires_in":86400,"scope"}`; an unknown refresh token →
  200 `{"error":"invalid_grant"}` (Reddit's way; prawcore raises OAuthException).
- `POST /api/comment/` (form: `api_type=json`, `thing_id`, `text`) → `{"json":{"errors":[],"data":{"things":
  [{"kind":"t1","data":{...}}]}}}`. Refusals come the way Reddit sends them: HTTP 200 with
  `json.errors` such as `[["DELETED_COMMENT", "that comment has been deleted", "parent"]]`,
  `THREAD_LOCKED`, `RATELIMIT`; 403 for a subreddit that banned the account; 429 with the ratelimit headers.

    fake = FakeRedditReplies().start()
    fake.add_thing("t1_abc", subreddit="Brightwave", link_id="t3_post1")
"""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.base import FakeServer, Reply, Request


@dataclass
class Thing:
    fullname: str
    subreddit: str
    link_id: str
    author: str = "someone"
    deleted: bool = False
    locked: bool = False
    banned: bool = False  # the brand account is banned from its subreddit


class FakeRedditReplies(FakeServer):
    name = "fake-reddit-replies"

    def __init__(self, client_id: str = "reddit-app-id", client_secret: str = "reddit-app-secret",
                 refresh_tokens: tuple[str, ...] = ("reddit-refresh-1",), account: str = "BrightwaveSupport") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_tokens = set(refresh_tokens)
        self.account = account
        self.access_tokens: set[str] = set()
        self.things: dict[str, Thing] = {}
        self.comments: list[dict[str, Any]] = []
        self.slow_down: str | None = None  # a RATELIMIT message for the next comment
        self._ids = itertools.count(int("k0000", 36))

    def add_thing(self, fullname: str, *, subreddit: str = "Brightwave", link_id: str | None = None,
                  author: str = "someone") -> Thing:
        thing = Thing(fullname, subreddit, link_id or (fullname if fullname.startswith("t3_") else "t3_post"), author)
        with self.lock:
            self.things[fullname] = thing
        return thing

    def replies_to(self, fullname: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.comments if c["parent_id"] == fullname]

    def rate_limit_headers(self, reset_in: float) -> dict[str, str]:
        return {"x-ratelimit-used": "100", "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset_in)),
                "retry-after": str(int(reset_in))}

    def error_body(self, status: int, title: str) -> Any:
        return {"message": title, "error": status}

    def handle(self, req: Request) -> Reply:
        if req.path == "/api/v1/access_token":
            return self._token(req)
        auth = req.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or auth[7:] not in self.access_tokens:
            return Reply(401, {"message": "Unauthorized", "error": 401}, {"www-authenticate": 'Bearer realm="reddit"'})
        if req.path == "/api/comment/" and req.method == "POST":
            return self._comment(req)
        return Reply(404, {"message": "Not Found", "error": 404})

    def _token(self, req: Request) -> Reply:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if req.headers.get("authorization", "") != f"Basic {expected}":
            return Reply(401, {"message": "Unauthorized", "error": 401})
        grant, given = req.params.get("grant_type"), req.params.get("refresh_token")
        if grant != "refresh_token" or given not in self.refresh_tokens:
            # Reddit answers a revoked or unknown refresh token with HTTP 200 and an error field.
            return Reply(200, {"error": "invalid_grant"})
        token = "rd-" + secrets.token_hex(8)
        with self.lock:
            self.access_tokens.add(token)
        return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": 86400,
                           "scope": "identity read submit"})

    def _comment(self, req: Request) -> Reply:
        parent_id, text = req.params.get("thing_id", ""), req.params.get("text", "")
        with self.lock:
            thing = self.things.get(parent_id)
            if thing is not None and thing.banned:
                return Reply(403, {"message": "Forbidden", "error": 403})
            if thing is None or thing.deleted:
                error = (["DELETED_COMMENT", "that comment has been deleted", "parent"] if parent_id.startswith("t1_")
                         else ["DELETED_LINK", "the link you are commenting on has been deleted", "parent"])
                return Reply(200, {"json": {"errors": [error]}})
            if thing.locked or self.things.get(thing.link_id, thing).locked:
                return Reply(200, {"json": {"errors": [["THREAD_LOCKED", "Comments are locked.", "parent"]]}})
            if self.slow_down:
                message, self.slow_down = self.slow_down, None
                return Reply(200, {"json": {"errors": [["RATELIMIT", message, "ratelimit"]]}})
            if not text.strip():
                return Reply(200, {"json": {"errors": [["NO_TEXT", "we need something here", "text"]]}})
            if len(text) > 10_000:
                return Reply(200, {"json": {"errors": [["TOO_LONG", "this is too long (max: 10000)", "text"]]}})
            cid = _b36(next(self._ids))
            post_short = thing.link_id.removeprefix("t3_")
            data = {
                "id": cid, "name": f"t1_{cid}", "author": self.account, "author_fullname": "t2_brand",
                "body": text, "body_html": f"<div class=\"md\"><p>{text}</p></div>", "parent_id": parent_id,
                "link_id": thing.link_id, "subreddit": thing.subreddit, "subreddit_id": "t5_brand",
                "permalink": f"/r/{thing.subreddit}/comments/{post_short}/_/{cid}/", "created_utc": time.time(),
                "score": 1, "ups": 1, "replies": "", "is_submitter": False, "locked": False, "archived": False,
                "edited": False, "distinguished": None, "stickied": False,
            }
            self.comments.append(data)
        return Reply(200, {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": data}]}}})


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"
