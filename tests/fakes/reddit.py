"""A fake Reddit (OAuth API) on 127.0.0.1: app-only token, search, new comments, subreddit and user about.

Serves both `reddit_url` (the token endpoint) and `oauth_url` (the API), so praw can be pointed at one
base URL for both. It answers like Reddit: `Listing` / `t3` / `t1` / `t5` / `t2` things with the usual
fields, newest first for sort=new, `after` fullnames for paging (a page after a fullname that no
longer exists is empty, as on Reddit), loose search (any of the query's words, in title or text),
`x-ratelimit-*` headers, 401 for a bad client secret or token, 404 / 403 for missing or private
subreddits.

    fake = FakeReddit(client_id="cid", client_secret="secret").start()
    fake.add_subreddit("brightwave", subscribers=48_000)
    post = fake.add_post("brightwave", "Brightwave outage again?", "No internet since 6am", author="sam")
    fake.add_comment(post, "Same here, Brightwave support is useless", author="kim")

Run on its own: `python -m tests.fakes.reddit --port 8702 --client-id cid --client-secret secret`;
add posts with `POST /_fake/posts` (JSON: {"subreddit", "title", "selftext", "author"}), comments with
`POST /_fake/comments` ({"post", "body", "author"}), faults with `POST /_fake/faults` ({"n", "status",
"reset_in"}); list what it holds with `GET /_fake/things` and what it served with `GET /_fake/requests`.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.base import FakeServer, Reply, Request, serve_forever


def _b36(n: int) -> str:
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = chars[r] + out
    return out or "0"


@dataclass
class FakeSubreddit:
    name: str
    subscribers: int
    kind: str = "public"  # public | private | banned


@dataclass
class Thing:
    fullname: str  # t3_… or t1_…
    subreddit: FakeSubreddit
    author: str
    created_utc: float
    title: str = ""
    selftext: str = ""
    body: str = ""
    score: int = 1
    num_comments: int = 0
    link: Thing | None = None  # a comment's submission
    parent: str | None = None  # a comment's parent fullname
    raw: dict[str, Any] | None = None  # sent as-is (a malformed item)
    match_text: str = ""
    omit: tuple[str, ...] = ()  # keys this listing leaves out (older answers have comments without permalink)

    @property
    def id(self) -> str:
        return self.fullname[3:]

    @property
    def is_comment(self) -> bool:
        return self.fullname.startswith("t1_")

    @property
    def permalink(self) -> str:
        if self.is_comment:
            assert self.link
            return f"{self.link.permalink}{self.id}/"
        slug = re.sub(r"[^a-z0-9]+", "_", self.title.lower()).strip("_")[:40]
        return f"/r/{self.subreddit.name}/comments/{self.id}/{slug}/"

    def searchable(self) -> str:
        return self.match_text or f"{self.title}\n{self.selftext}\n{self.body}"

    def as_json(self, base: str) -> dict[str, Any]:
        if self.raw is not None:
            return {"kind": self.fullname[:2], "data": self.raw}
        sub = self.subreddit
        common = {
            "id": self.id, "name": self.fullname, "author": self.author,
            "author_fullname": None if self.author == "[deleted]" else f"t2_{_b36(abs(hash(self.author)) % 10**9)}",
            "created_utc": self.created_utc, "created": self.created_utc, "score": self.score,
            "ups": self.score, "downs": 0, "subreddit": sub.name, "subreddit_id": f"t5_{_b36(len(sub.name) * 7919)}",
            "subreddit_name_prefixed": f"r/{sub.name}", "subreddit_type": sub.kind, "permalink": self.permalink,
            "author_flair_text": None, "distinguished": None, "stickied": False, "locked": False,
            "archived": False, "edited": False, "gilded": 0, "total_awards_received": 0, "send_replies": True,
        }
        for key in self.omit:
            common.pop(key, None)
        if self.is_comment:
            assert self.link
            return {"kind": "t1", "data": {
                **common, "body": self.body, "body_html": f"&lt;div class=\"md\"&gt;{self.body}&lt;/div&gt;",
                "link_id": self.link.fullname, "parent_id": self.parent or self.link.fullname,
                "link_title": self.link.title, "link_author": self.link.author,
                "link_permalink": f"{base}{self.link.permalink}", "link_url": f"{base}{self.link.permalink}",
                "num_comments": self.link.num_comments, "controversiality": 0, "depth": 0,
                "is_submitter": self.author == self.link.author, "score_hidden": False, "over_18": False,
            }}
        return {"kind": "t3", "data": {
            **common, "title": self.title, "selftext": self.selftext, "is_self": True,
            "url": f"{base}{self.permalink}", "domain": f"self.{sub.name}", "num_comments": self.num_comments,
            "upvote_ratio": 0.87, "subreddit_subscribers": sub.subscribers, "over_18": False, "spoiler": False,
            "link_flair_text": None, "thumbnail": "self", "removed_by_category": None, "num_crossposts": 0,
        }}


@dataclass
class FakeRedditor:
    name: str
    link_karma: int = 10
    comment_karma: int = 100
    suspended: bool = False


@dataclass
class _Token:
    value: str
    valid: bool = True


class FakeReddit(FakeServer):
    name = "fake-reddit"

    def __init__(self, client_id: str = "test-client-id", client_secret: str = "test-client-secret",
                 port: int = 0) -> None:
        super().__init__(port)
        self.client_id, self.client_secret = client_id, client_secret
        self.subreddits: dict[str, FakeSubreddit] = {}
        self.things: dict[str, Thing] = {}
        self.deleted: set[str] = set()
        self.redditors: dict[str, FakeRedditor] = {}
        self.tokens: list[_Token] = []
        self._ids = itertools.count(36**5)
        self.clock = time.time()  # created_utc of the next thing when none is given
        self.ratelimit_used = 0

    # ------------------------------------------------------------ scripting content
    def add_subreddit(self, name: str, *, subscribers: int = 1000, kind: str = "public") -> FakeSubreddit:
        with self.lock:
            sub = FakeSubreddit(name, subscribers, kind)
            self.subreddits[name.lower()] = sub
            return sub

    def _sub(self, name: str) -> FakeSubreddit:
        return self.subreddits.get(name.lower()) or self.add_subreddit(name)

    def _created(self, created_utc: float | None) -> float:
        if created_utc is not None:
            return created_utc
        self.clock += 1
        return min(self.clock, time.time())

    def add_post(self, subreddit: str, title: str, selftext: str = "", *, author: str = "someone",
                 created_utc: float | None = None, score: int = 1, num_comments: int = 0) -> str:
        """Add a self post; returns its fullname (t3_…)."""
        with self.lock:
            name = f"t3_{_b36(next(self._ids))}"
            self.things[name] = Thing(name, self._sub(subreddit), author, self._created(created_utc), title,
                                      selftext, score=score, num_comments=num_comments)
            return name

    def add_comment(self, post: str, body: str, *, author: str = "someone", parent: str | None = None,
                    created_utc: float | None = None, score: int = 1) -> str:
        """Add a comment on `post` (a t3_ fullname); returns its fullname (t1_…)."""
        with self.lock:
            link = self.things[post]
            name = f"t1_{_b36(next(self._ids))}"
            link.num_comments += 1
            self.things[name] = Thing(name, link.subreddit, author, self._created(created_utc), body=body,
                                      score=score, link=link, parent=parent or post)
            return name

    def add_raw(self, kind: str, subreddit: str, data: dict[str, Any], matching_text: str,
                *, created_utc: float | None = None) -> str:
        """A thing sent exactly as `data` (e.g. malformed); `matching_text` decides which searches return it."""
        with self.lock:
            name = f"{kind}_{_b36(next(self._ids))}"
            self.things[name] = Thing(name, self._sub(subreddit), "someone", self._created(created_utc),
                                      raw=data, match_text=matching_text)
            return name

    def add_redditor(self, name: str, *, link_karma: int = 10, comment_karma: int = 100,
                     suspended: bool = False) -> FakeRedditor:
        with self.lock:
            user = FakeRedditor(name, link_karma, comment_karma, suspended)
            self.redditors[name.lower()] = user
            return user

    def delete(self, fullname: str) -> None:
        with self.lock:
            self.deleted.add(fullname)

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (as when an hour has passed)."""
        with self.lock:
            for t in self.tokens:
                t.valid = False

    # ------------------------------------------------------------ protocol
    def rate_limit_headers(self, reset_in: float) -> dict[str, str]:
        return {"x-ratelimit-used": "1000", "x-ratelimit-remaining": "0.0", "x-ratelimit-reset": str(int(reset_in)),
                "retry-after": str(int(reset_in))}

    def error_body(self, status: int, title: str) -> Any:
        return {"message": title, "error": status}

    def handle(self, req: Request) -> Reply:
        if req.path.startswith("/_fake/"):
            return self._control(req)
        if req.path == "/api/v1/access_token":
            return self._token(req)
        auth = req.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        with self.lock:
            ok = any(t.value == token and t.valid for t in self.tokens)
            self.ratelimit_used += 1
            used = self.ratelimit_used
        if not ok:
            return Reply(401, {"message": "Unauthorized", "error": 401}, {"www-authenticate": 'Bearer realm="reddit"'})
        # Reddit: 1000 requests per 600-second window. The reset is kept short so prawcore does not pace tests.
        headers = {"x-ratelimit-used": str(used), "x-ratelimit-remaining": f"{max(0, 1000 - used)}.0",
                   "x-ratelimit-reset": "1"}
        reply = self._route(req)
        reply.headers.update(headers)
        return reply

    def _token(self, req: Request) -> Reply:
        auth = req.headers.get("authorization", "")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth != f"Basic {expected}":
            return Reply(401, {"message": "Unauthorized", "error": 401})
        if req.params.get("grant_type") != "client_credentials":
            return Reply(200, {"error": "unsupported_grant_type"})
        with self.lock:
            token = _Token(f"fake-token-{len(self.tokens) + 1}")
            self.tokens.append(token)
        return Reply(200, {"access_token": token.value, "token_type": "bearer", "expires_in": 86400, "scope": "*"})

    def _route(self, req: Request) -> Reply:
        m = re.fullmatch(r"/r/([^/]+)/(search|comments|about)/?", req.path)
        if m:
            names, what = m.group(1), m.group(2)
            subs = [] if names.lower() == "all" else [self.subreddits.get(n.lower()) for n in names.split("+")]
            if any(s is None for s in subs):
                return Reply(404, {"message": "Not Found", "error": 404})
            for s in subs:
                if s and s.kind != "public":
                    return Reply(403, {"reason": s.kind, "message": "Forbidden", "error": 403})
            if what == "about":
                if not subs:
                    return Reply(404, {"message": "Not Found", "error": 404})
                s = subs[0]
                return Reply(200, {"kind": "t5", "data": {
                    "display_name": s.name, "display_name_prefixed": f"r/{s.name}", "subscribers": s.subscribers,
                    "public_description": f"All about {s.name}", "subreddit_type": s.kind, "over18": False,
                    "name": f"t5_{_b36(len(s.name) * 7919)}", "url": f"/r/{s.name}/",
                    "created_utc": 1300000000.0, "lang": "en"}})
            names_ok = {s.name.lower() for s in subs if s}
            if what == "search":
                words = _loose_words(req.params.get("q", ""))
                if not words:
                    return Reply(400, {"message": "Bad Request", "error": 400})
                restrict = req.params.get("restrict_sr", "") in ("1", "on", "true", "True")
                return self._listing(req, lambda t: not t.is_comment and (
                    not names_ok or not restrict or t.subreddit.name.lower() in names_ok)
                    and any(w in t.searchable().lower() for w in words))
            return self._listing(req, lambda t: t.is_comment and (not names_ok or t.subreddit.name.lower() in names_ok))
        m = re.fullmatch(r"/user/([^/]+)/about/?", req.path)
        if m:
            user = self.redditors.get(m.group(1).lower())
            if user is None:
                return Reply(404, {"message": "Not Found", "error": 404})
            if user.suspended:
                return Reply(200, {"kind": "t2", "data": {"name": user.name, "is_suspended": True}})
            return Reply(200, {"kind": "t2", "data": {
                "name": user.name, "id": _b36(abs(hash(user.name)) % 10**9), "link_karma": user.link_karma,
                "comment_karma": user.comment_karma, "total_karma": user.link_karma + user.comment_karma,
                "created_utc": 1400000000.0, "is_gold": False, "is_mod": False, "verified": True}})
        return Reply(404, {"message": "Not Found", "error": 404})

    def _listing(self, req: Request, keep: Any) -> Reply:
        p = req.params
        limit = max(1, min(100, int(p.get("limit") or 25)))
        after = p.get("after")
        with self.lock:
            items = sorted((t for t in self.things.values() if t.fullname not in self.deleted and keep(t)),
                           key=lambda t: (t.created_utc, t.fullname), reverse=True)
            if after:
                pos = next((i for i, t in enumerate(items) if t.fullname == after), None)
                # Reddit pages relative to the `after` thing; when it is gone, the page is empty.
                items = [] if pos is None else items[pos + 1:]
            page = items[:limit]
            children = [t.as_json(self.base_url) for t in page]
        next_after = page[-1].fullname if len(items) > limit else None
        return Reply(200, {"kind": "Listing", "data": {
            "after": next_after, "dist": len(children), "modhash": None, "geo_filter": "",
            "children": children, "before": None}})

    def _control(self, req: Request) -> Reply:
        data = json.loads(req.body or b"{}")
        if req.path == "/_fake/posts" and req.method == "POST":
            name = self.add_post(data.get("subreddit", "all_things"), data["title"], data.get("selftext", ""),
                                 author=data.get("author", "someone"))
            return Reply(201, {"name": name})
        if req.path == "/_fake/comments" and req.method == "POST":
            return Reply(201, {"name": self.add_comment(data["post"], data["body"],
                                                        author=data.get("author", "someone"))})
        if req.path == "/_fake/faults" and req.method == "POST":
            if data.get("status") == 429:
                self.rate_limit_next(data.get("n", 1), reset_in=data.get("reset_in"))
            else:
                self.fail_next(data.get("n", 1), data["status"], body=self.error_body(data["status"], "fault"))
            return Reply(201, {"ok": True})
        if req.path == "/_fake/things":
            return Reply(200, [{"name": t.fullname, "subreddit": t.subreddit.name, "created_utc": t.created_utc,
                                "text": t.body or t.title, "deleted": t.fullname in self.deleted}
                               for t in self.things.values()])
        if req.path == "/_fake/requests":
            return Reply(200, [{"method": r.method, "path": r.path, "params": r.params, "status": r.status}
                               for r in self.served() if not r.path.startswith("/_fake/")])
        return Reply(404, {"error": "unknown control path"})


def _loose_words(q: str) -> list[str]:
    """Reddit search is fuzzy: any of the query's words (operators and punctuation dropped) matches."""
    words = re.findall(r"[\w@#'-]+", q.lower())
    return [w for w in words if w not in ("and", "or", "not") and len(w) >= 2]


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake Reddit API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--client-id", default="test-client-id")
    parser.add_argument("--client-secret", default="test-client-secret")
    args = parser.parse_args()
    serve_forever(FakeReddit(args.client_id, args.client_secret, args.port))


if __name__ == "__main__":
    main()
