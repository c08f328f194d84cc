"""A fake X (Twitter) API v2 on 127.0.0.1: recent search, user mentions timeline, user lookup.

It answers like the real API, as far as a client can tell: snowflake ids that sort by time,
newest-first pages with `meta.next_token`, only the fields that were asked for (`tweet.fields`,
`user.fields`, `expansions`), `includes.users` / `includes.tweets`, partial `errors` for deleted
referenced posts, the 7-day window of recent search, the 512-character query limit, bearer-token
auth, and `x-rate-limit-*` headers with a per-endpoint budget that ends in a 429.

    fake = FakeXApi(tokens={"t0ken"}).start()
    alice = fake.add_user("alice", followers=1200)
    fake.add_tweet("Brightwave is down again", alice)
    ...  fake.base_url  ...
    fake.stop()

Run on its own (for a daemon under test): `python -m tests.fakes.x_api --port 8701 --token t0ken`;
add posts with `POST /_fake/tweets` (JSON: {"text", "username", ...}), faults with `POST /_fake/faults`
(JSON: {"n", "status", "reset_in"}), read the log with `GET /_fake/requests`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.base import FakeServer, Reply, Request, serve_forever

TWITTER_EPOCH_MS = 1288834974657
MAX_QUERY_LENGTH = 512
ALWAYS_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
ALWAYS_USER_FIELDS = ("id", "name", "username")


def x_escape(text: str) -> str:
    """Post text as X's API sends it: &, < and > as HTML entities (and nothing else escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


URL = re.compile(r"https?://[^\s<>\"]+")
CJK = re.compile("[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
TCO_LENGTH = 23  # every link is shortened to a t.co address of this length
TEXT_LIMIT = 280  # a longer post (X Premium) comes as `text` cut here, plus `note_tweet` with all of it


def tco(url: str) -> str:
    """The t.co address X puts in place of `url` (deterministic, 23 characters)."""
    return "https://t.co/" + hashlib.sha1(url.encode()).hexdigest()[:10]


def shorten(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Text as X serves it (links as t.co) and its `entities.urls`, positions in the served text."""
    out, urls, pos = "", [], 0
    for m in URL.finditer(text):
        out += text[pos:m.start()]
        short = tco(m.group(0))
        display = re.sub(r"^https?://(www\.)?", "", m.group(0))
        urls.append({"start": len(out), "end": len(out) + len(short), "url": short, "expanded_url": m.group(0),
                     "display_url": display if len(display) <= 26 else display[:25] + "…"})
        out += short
        pos = m.end()
    return out + text[pos:], urls


def snowflake(at: datetime, seq: int) -> int:
    return ((int(at.timestamp() * 1000) - TWITTER_EPOCH_MS) << 22) | (seq & 0x3FFFFF)


def _x_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@dataclass
class FakeUser:
    id: str
    username: str
    name: str
    followers: int = 0
    verified: bool = False
    verified_type: str = "none"

    def as_json(self, fields: set[str]) -> dict[str, Any]:
        full: dict[str, Any] = {
            "id": self.id, "name": self.name, "username": self.username, "verified": self.verified,
            "verified_type": self.verified_type, "created_at": "2015-03-02T10:00:00.000Z",
            "description": f"{self.name} on X",
            "public_metrics": {"followers_count": self.followers, "following_count": 180,
                               "tweet_count": 5400, "listed_count": 12, "like_count": 900},
        }
        return {k: v for k, v in full.items() if k in fields or k in ALWAYS_USER_FIELDS}


@dataclass
class FakeTweet:
    id: int
    text: str
    author: FakeUser
    created_at: datetime
    conversation_id: int
    lang: str = "en"
    reply_to: FakeTweet | None = None
    quote_of: FakeTweet | None = None
    retweet_of: FakeTweet | None = None
    metrics: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] | None = None  # sent as-is instead (a malformed item)

    @property
    def served_text(self) -> str:
        """The text as X's search sees and sends it: links shortened; a retweet as "RT @author: …"."""
        if self.retweet_of:
            full = f"RT @{self.retweet_of.author.username}: " + shorten(self.retweet_of.text)[0]
            return full if len(full) <= 140 else full[:139] + "…"  # X cuts retweet text short
        return shorten(self.text)[0]

    def as_json(self, fields: set[str]) -> dict[str, Any]:
        if self.raw is not None:
            return self.raw
        refs = []
        if self.reply_to:
            refs.append({"type": "replied_to", "id": str(self.reply_to.id)})
        if self.quote_of:
            refs.append({"type": "quoted", "id": str(self.quote_of.id)})
        if self.retweet_of:
            refs.append({"type": "retweeted", "id": str(self.retweet_of.id)})
        full_text, urls = shorten(self.text)
        text = self.served_text
        if self.retweet_of:
            urls = [u for u in shorten(self.retweet_of.text)[1] if u["url"] in text]
        elif len(full_text) > TEXT_LIMIT:
            text = full_text[:TEXT_LIMIT - 1] + "…"
        # A retweet shows the original's repost count as its own, and none of the other counts.
        metrics = self.retweet_of.metrics if self.retweet_of else self.metrics
        full: dict[str, Any] = {
            "id": str(self.id), "text": x_escape(text), "edit_history_tweet_ids": [str(self.id)],
            "author_id": self.author.id, "created_at": _x_time(self.created_at),
            "conversation_id": str(self.conversation_id),
            "lang": self.retweet_of.lang if self.retweet_of else self.lang,
            "possibly_sensitive": False, "reply_settings": "everyone", "source": "Twitter for iPhone",
            "public_metrics": {
                "retweet_count": metrics.get("retweets", 0),
                "reply_count": 0 if self.retweet_of else metrics.get("replies", 0),
                "like_count": 0 if self.retweet_of else metrics.get("likes", 0),
                "quote_count": 0 if self.retweet_of else metrics.get("quotes", 0),
                "bookmark_count": 0, "impression_count": 0 if self.retweet_of else metrics.get("impressions", 0),
            },
        }
        entities: dict[str, Any] = {}
        if urls:
            entities["urls"] = [{**u, "start": text.find(u["url"]), "end": text.find(u["url"]) + TCO_LENGTH}
                                for u in urls if u["url"] in text]
        if self.retweet_of:
            name = self.retweet_of.author.username
            entities["mentions"] = [{"start": 3, "end": 4 + len(name), "username": name,
                                     "id": self.retweet_of.author.id}]
        if entities:
            full["entities"] = entities
        if not self.retweet_of and len(full_text) > TEXT_LIMIT:
            full["note_tweet"] = {"text": x_escape(full_text), "entities": {"urls": urls} if urls else {}}
        if refs:
            full["referenced_tweets"] = refs
        if self.reply_to:
            full["in_reply_to_user_id"] = self.reply_to.author.id
        return {k: v for k, v in full.items() if k in fields or k in ALWAYS_TWEET_FIELDS}


class QuerySyntaxError(ValueError):
    pass


class FakeXApi(FakeServer):
    """The fake X API v2. `tokens`: bearer tokens it accepts."""

    name = "fake-x-api"

    def __init__(self, tokens: set[str] | None = None, port: int = 0, *, rate_limit: int = 450) -> None:
        super().__init__(port)
        self.tokens = set(tokens or {"test-bearer-token"})
        self.users: dict[str, FakeUser] = {}
        self.tweets: dict[int, FakeTweet] = {}
        self.deleted: set[int] = set()
        self._seq = itertools.count(1)
        self._user_ids = itertools.count(2244994945)
        # endpoint -> requests left in the current 15-minute window (x-rate-limit-remaining)
        self.rate_limit = rate_limit
        self.remaining: dict[str, int] = {}
        self.window_reset = int(time.time()) + 900

    # ------------------------------------------------------------ scripting content
    def add_user(self, username: str, *, followers: int = 100, verified: bool = False,
                 name: str | None = None) -> FakeUser:
        with self.lock:
            user = FakeUser(str(next(self._user_ids)), username, name or username.title(), followers, verified,
                            "blue" if verified else "none")
            self.users[user.id] = user
            return user

    def user(self, username: str) -> FakeUser:
        found = next((u for u in self.users.values() if u.username.lower() == username.lower()), None)
        return found or self.add_user(username)

    def add_tweet(self, text: str, author: FakeUser | str, *, created_at: datetime | None = None,
                  reply_to: int | None = None, quote_of: int | None = None, retweet_of: int | None = None,
                  lang: str = "en", likes: int = 0, replies: int = 0, retweets: int = 0, quotes: int = 0) -> int:
        """Add a post; returns its id. Ids grow with created_at (default: now), as X's snowflakes do."""
        with self.lock:
            user = self.user(author) if isinstance(author, str) else author
            at = created_at or datetime.now(UTC)
            tid = snowflake(at, next(self._seq))
            parent = self.tweets.get(reply_to) if reply_to else None
            original = self.tweets.get(retweet_of) if retweet_of else None
            tweet = FakeTweet(tid, text, user, at, parent.conversation_id if parent else tid, lang, parent,
                              self.tweets.get(quote_of) if quote_of else None, original,
                              {"likes": likes, "replies": replies, "retweets": retweets, "quotes": quotes})
            if original is not None:
                original.metrics["retweets"] = original.metrics.get("retweets", 0) + 1
            self.tweets[tid] = tweet
            return tid

    def add_retweet(self, original_id: int, author: FakeUser | str, *, created_at: datetime | None = None) -> int:
        """`author` retweets a post: X serves it as "RT @…: " text with the original in includes.tweets."""
        return self.add_tweet("", author, created_at=created_at, retweet_of=original_id)

    def add_raw_tweet(self, raw: dict[str, Any], matching_text: str, *, created_at: datetime | None = None) -> int:
        """A post sent exactly as `raw` (e.g. malformed); `matching_text` decides which searches return it."""
        with self.lock:
            at = created_at or datetime.now(UTC)
            tid = snowflake(at, next(self._seq))
            author = next(iter(self.users.values()), None) or self.add_user("someone")
            self.tweets[tid] = FakeTweet(tid, matching_text, author, at, tid, raw=raw)
            return tid

    def delete_tweet(self, tweet_id: int) -> None:
        with self.lock:
            self.deleted.add(tweet_id)

    def set_metrics(self, tweet_id: int, **metrics: int) -> None:
        with self.lock:
            self.tweets[tweet_id].metrics.update(metrics)

    # ------------------------------------------------------------ protocol details
    def rate_limit_headers(self, reset_in: float) -> dict[str, str]:
        return {"x-rate-limit-limit": str(self.rate_limit), "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(time.time() + reset_in))}

    def error_body(self, status: int, title: str) -> Any:
        return {"title": title, "detail": title, "type": "about:blank", "status": status}

    def _invalid(self, message: str, parameter: str, value: str) -> Reply:
        return Reply(400, {
            "errors": [{"parameters": {parameter: [value]}, "message": message}],
            "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        })

    def handle(self, req: Request) -> Reply:
        if req.path.startswith("/_fake/"):
            return self._control(req)
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return Reply(401, self.error_body(401, "Unauthorized"))
        endpoint = ("search" if req.path == "/2/tweets/search/recent" else
                    "mentions" if re.fullmatch(r"/2/users/\d+/mentions", req.path) else
                    "user" if req.path.startswith("/2/users/by") else None)
        if endpoint is None:
            return Reply(404, {"title": "Not Found Error", "detail": f"no route {req.path}", "status": 404,
                               "type": "https://api.twitter.com/2/problems/resource-not-found"})
        with self.lock:
            if time.time() >= self.window_reset:
                self.remaining.clear()
                self.window_reset = int(time.time()) + 900
            left = self.remaining.get(endpoint, self.rate_limit)
            if left <= 0:
                return Reply(429, self.error_body(429, "Too Many Requests"),
                             self.rate_limit_headers(self.window_reset - time.time()))
            self.remaining[endpoint] = left - 1
        headers = {"x-rate-limit-limit": str(self.rate_limit), "x-rate-limit-remaining": str(left - 1),
                   "x-rate-limit-reset": str(self.window_reset)}
        if endpoint == "user" and req.path == "/2/users/by":
            reply = self._users_lookup(req.params.get("usernames", ""))
        elif endpoint == "user":
            reply = self._user_lookup(req.path.rsplit("/", 1)[1])
        elif endpoint == "search":
            reply = self._search(req)
        else:
            reply = self._mentions(req, req.path.split("/")[3])
        reply.headers.update(headers)
        return reply

    def _user_lookup(self, username: str) -> Reply:
        user = next((u for u in self.users.values() if u.username.lower() == username.lower()), None)
        if user is None:
            return Reply(200, {"errors": [{
                "value": username, "detail": f"Could not find user with username: [{username}].",
                "title": "Not Found Error", "resource_type": "user", "parameter": "username",
                "resource_id": username, "type": "https://api.twitter.com/2/problems/resource-not-found"}]})
        return Reply(200, {"data": user.as_json({"id", "name", "username"})})

    def _users_lookup(self, usernames: str) -> Reply:
        data, errors = [], []
        for name in filter(None, usernames.split(",")):
            found = self._user_lookup(name).body
            data.extend([found["data"]] if "data" in found else [])
            errors.extend(found.get("errors", []))
        for e in errors:
            e["parameter"] = "usernames"
        body: dict[str, Any] = {"data": data} if data else {}
        if errors:
            body["errors"] = errors
        return Reply(200, body)

    def _search(self, req: Request) -> Reply:
        q = req.params.get("query", "")
        if not q:
            return self._invalid("The `query` query parameter can not be empty", "query", q)
        if len(q) > MAX_QUERY_LENGTH:
            return self._invalid(f"There were errors processing your request: Query is too long "
                                 f"(max {MAX_QUERY_LENGTH} characters)", "query", q)
        try:
            matcher = _XQuery(q)
        except QuerySyntaxError as exc:
            return self._invalid(f"There were errors processing your request: {exc}", "query", q)
        now = datetime.now(UTC)
        start = req.params.get("start_time")
        start_dt = None
        if start:
            start_dt = datetime.fromisoformat(start)
            if start_dt < now - timedelta(days=7):
                return self._invalid(f"Invalid 'start_time':'{start}'. 'start_time' must be on or after "
                                     f"{_x_time(now - timedelta(days=7))}", "start_time", start)
        since = req.params.get("since_id")
        if since and since.isdigit():
            minted = datetime.fromtimestamp(((int(since) >> 22) + TWITTER_EPOCH_MS) / 1000, tz=UTC)
            if minted < now - timedelta(days=7):
                return self._invalid(f"Invalid 'since_id':'{since}'. 'since_id' must be a tweet id created "
                                     f"after {_x_time(now - timedelta(days=7))}.", "since_id", since)
        return self._page(req, lambda t: matcher.matches(t, self), "next_token", 10, start_dt)

    def _mentions(self, req: Request, user_id: str) -> Reply:
        user = self.users.get(user_id)
        if user is None:
            return Reply(404, {"title": "Not Found Error", "detail": f"no user {user_id}", "status": 404,
                               "type": "https://api.twitter.com/2/problems/resource-not-found"})
        handle = re.compile(rf"@{re.escape(user.username)}(?!\w)", re.IGNORECASE)
        return self._page(req, lambda t: bool(handle.search(t.served_text)), "pagination_token", 5, None)

    def _page(self, req: Request, match: Any, token_param: str, min_results: int,
              start_dt: datetime | None) -> Reply:
        p = req.params
        try:
            max_results = int(p.get("max_results", "10"))
        except ValueError:
            return self._invalid("max_results must be a number", "max_results", p["max_results"])
        if not min_results <= max_results <= 100:
            return self._invalid(f"The `max_results` query parameter value [{max_results}] is not between "
                                 f"{min_results} and 100", "max_results", str(max_results))
        since = int(p["since_id"]) if p.get("since_id") else 0
        until = int(p["until_id"]) if p.get("until_id") else None
        token = p.get(token_param)
        if token:
            try:
                until = int(base64.urlsafe_b64decode(token.encode()).decode())
            except ValueError:
                return self._invalid(f"Invalid '{token_param}'", token_param, token)
        with self.lock:
            candidates = sorted(
                (t for t in self.tweets.values()
                 if t.id not in self.deleted and t.id > since and (until is None or t.id < until)
                 and (start_dt is None or t.created_at >= start_dt) and match(t)),
                key=lambda t: t.id, reverse=True,
            )
            page, more = candidates[:max_results], len(candidates) > max_results
            tweet_fields = set(filter(None, p.get("tweet.fields", "").split(",")))
            user_fields = set(filter(None, p.get("user.fields", "").split(",")))
            expansions = set(filter(None, p.get("expansions", "").split(",")))
            data = [t.as_json(tweet_fields) for t in page]
            includes: dict[str, list[Any]] = {}
            errors: list[dict[str, Any]] = []
            seen: dict[str, Any] = {}
            if "author_id" in expansions:
                for t in page:
                    seen.setdefault(t.author.id, t.author.as_json(user_fields))
            if "referenced_tweets.id.author_id" in expansions:
                for t in page:
                    for ref in (t.reply_to, t.quote_of, t.retweet_of):
                        if ref is not None and ref.id not in self.deleted:
                            seen.setdefault(ref.author.id, ref.author.as_json(user_fields))
            if seen:
                includes["users"] = list(seen.values())
            if "referenced_tweets.id" in expansions:
                refs: dict[int, Any] = {}
                for t in page:
                    for ref in (t.reply_to, t.quote_of, t.retweet_of):
                        if ref is None:
                            continue
                        if ref.id in self.deleted:
                            errors.append({
                                "value": str(ref.id), "detail": f"Could not find tweet with referenced_tweets.id: "
                                f"[{ref.id}].", "title": "Not Found Error", "resource_type": "tweet",
                                "parameter": "referenced_tweets.id", "resource_id": str(ref.id),
                                "type": "https://api.twitter.com/2/problems/resource-not-found"})
                        else:
                            refs.setdefault(ref.id, ref.as_json(tweet_fields))
                if refs:
                    includes["tweets"] = list(refs.values())
        meta: dict[str, Any] = {"result_count": len(page)}
        body: dict[str, Any] = {}
        if page:
            body["data"] = data
            if includes:
                body["includes"] = includes
            meta["newest_id"], meta["oldest_id"] = str(page[0].id), str(page[-1].id)
            if more:
                meta["next_token"] = base64.urlsafe_b64encode(str(page[-1].id).encode()).decode()
        if errors:
            body["errors"] = errors
        body["meta"] = meta
        return Reply(200, body)

    # ------------------------------------------------------------ control endpoints (separate process)
    def _control(self, req: Request) -> Reply:
        data = json.loads(req.body or b"{}")
        if req.path == "/_fake/tweets" and req.method == "POST":
            created = data.get("created_at")
            tid = self.add_tweet(data["text"], self.user(data.get("username", "someone")),
                                 created_at=datetime.fromisoformat(created) if created else None,
                                 reply_to=data.get("reply_to"), lang=data.get("lang", "en"))
            return Reply(201, {"id": str(tid)})
        if req.path == "/_fake/faults" and req.method == "POST":
            if data.get("status") == 429:
                self.rate_limit_next(data.get("n", 1), reset_in=data.get("reset_in"))
            else:
                self.fail_next(data.get("n", 1), data["status"], body=self.error_body(data["status"], "fault"))
            return Reply(201, {"ok": True})
        if req.path == "/_fake/requests":
            return Reply(200, [{"method": r.method, "path": r.path, "params": r.params, "status": r.status}
                               for r in self.served() if not r.path.startswith("/_fake/")])
        if req.path == "/_fake/tweets":
            return Reply(200, [{"id": str(t.id), "text": t.text, "deleted": t.id in self.deleted}
                               for t in self.tweets.values()])
        return Reply(404, {"error": "unknown control path"})


# ---------------------------------------------------------------- the X query syntax, independently
_X_TOKEN = re.compile(r'\s*(\(|\)|-(?=["(\w@#])|"[^"]*"|[^\s()"]+)')


class _XQuery:
    """Evaluates X search syntax on a fake post: implicit AND, OR, -, (), "phrases", @, #, from:, lang:, is:.

    Uppercase AND / NOT are refused: X does not treat them as operators, so a client sending them has
    built a query that would silently search for the words "AND" and "NOT".
    """

    def __init__(self, q: str) -> None:
        self.tokens = [t for t in _X_TOKEN.findall(q)]
        if "".join(self.tokens).replace(" ", "") != q.replace(" ", ""):
            raise QuerySyntaxError(f"cannot parse query {q!r}")
        for t in self.tokens:
            if t in ("AND", "NOT"):
                raise QuerySyntaxError(f"'{t}' is not an X search operator")
        self.i = 0
        self.tree = self._or()
        if self.i != len(self.tokens):
            raise QuerySyntaxError(f"unexpected {self.tokens[self.i]!r}")

    def _or(self) -> Any:
        items = [self._and()]
        while self.i < len(self.tokens) and self.tokens[self.i] == "OR":
            self.i += 1
            items.append(self._and())
        return ("or", items)

    def _and(self) -> Any:
        items = []
        while self.i < len(self.tokens) and self.tokens[self.i] not in ("OR", ")"):
            items.append(self._unary())
        if not items:
            raise QuerySyntaxError("empty group")
        return ("and", items)

    def _unary(self) -> Any:
        tok = self.tokens[self.i]
        self.i += 1
        if tok == "-":
            return ("not", self._unary())
        if tok == "(":
            inner = self._or()
            if self.i >= len(self.tokens) or self.tokens[self.i] != ")":
                raise QuerySyntaxError("unbalanced parentheses")
            self.i += 1
            return inner
        return ("term", tok)

    def matches(self, tweet: FakeTweet, api: FakeXApi) -> bool:
        return self._eval(self.tree, tweet)

    def _eval(self, node: Any, t: FakeTweet) -> bool:
        kind, value = node
        if kind == "or":
            return any(self._eval(v, t) for v in value)
        if kind == "and":
            return all(self._eval(v, t) for v in value)
        if kind == "not":
            return not self._eval(value, t)
        tok: str = value
        low = tok.lower()
        if low.startswith("from:"):
            return t.author.username.lower() == low[5:].lstrip("@")
        if low.startswith("lang:"):
            return t.lang == low[5:]
        if low == "is:retweet":
            return t.retweet_of is not None
        if low == "is:reply":
            return t.reply_to is not None
        words = tok[1:-1].split() if tok.startswith('"') else [tok]
        pattern = r"\s+".join(re.escape(w) for w in words)
        if CJK.search(tok):  # X segments Chinese, Japanese and Thai text: a keyword is found inside it
            return re.search(pattern, t.served_text, re.IGNORECASE) is not None
        return re.search(rf"(?<![\w@#]){pattern}(?!\w)" if words[0][:1] in "@#" else
                         rf"(?<!\w){pattern}(?!\w)", t.served_text, re.IGNORECASE) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake X API v2 on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", action="append", default=[], help="bearer token to accept (repeatable)")
    parser.add_argument("--rate-limit", type=int, default=450, help="requests per endpoint per 15 minutes")
    args = parser.parse_args()
    serve_forever(FakeXApi(set(args.token) or None, args.port, rate_limit=args.rate_limit))


if __name__ == "__main__":
    main()
