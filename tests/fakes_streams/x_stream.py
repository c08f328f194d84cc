"""The X API v2 filtered stream on 127.0.0.1: stream rules (GET/POST .../stream/rules) and the stream itself
(chunked, one JSON object per line with `data`, `includes`, `matching_rules`, "\\r\\n" keep-alives).

Rules match posts the way X's operators do for plain keywords and quoted phrases (case-insensitive,
`-term` excludes); that is all the brand rules use. Misbehaviour on demand: refuse the next connects
with an HTTP status, drop a connection after N posts, go silent (no keep-alives), send an operational
disconnect, send a broken line.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


def rule_matches(rule: str, text: str) -> bool:
    """Keywords/phrases joined by OR, `-x` exclusions; an implicit AND of the groups (X's precedence)."""
    low = text.lower()
    body = re.sub(r"\b(lang|from|is):\S+", " ", rule)
    body = re.sub(r"-is:\S+", " ", body)
    negatives = re.findall(r'-("[^"]+"|\w+)', body)
    body = re.sub(r'-("[^"]+"|\w+)', " ", body)
    terms = [t.strip('"').lower() for t in re.findall(r'"[^"]+"|[\w@]+', body) if t != "OR"]
    if any(n.strip('"').lower() in low for n in negatives):
        return False
    return any(re.search(rf"(?<!\w){re.escape(t)}(?!\w)", low) for t in terms)


class FakeXStream:
    def __init__(self, token: str, keepalive_seconds: float = 0.2) -> None:
        self.token = token
        self.keepalive = keepalive_seconds
        self.rules: list[dict[str, str]] = []
        self.posts: list[dict[str, Any]] = []  # the lines in publication order
        self.cond = threading.Condition()
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []  # (method, path, params, json body)
        self.connections = 0
        self.refuse: list[int] = []  # per next stream connect: answer with this status
        self.drop_after: list[int] = []  # per next stream connection: cut it after this many posts
        self.silent: list[bool] = []  # per next stream connection: send nothing at all
        self.sent_at: dict[str, float] = {}
        self._next_id = 1_860_000_000_000_000_000
        self._server: ThreadingHTTPServer | None = None
        self.closed = False

    # ------------------------------------------------------------ content
    def post(self, text: str, *, username: str = "dana_k", followers: int = 1200, reply_to: str | None = None,
             raw: str | None = None, retweet_of: dict[str, Any] | None = None) -> str:
        """A post as the stream sends it. `retweet_of` (an original post's data and its author) makes it a
        retweet the way X sends one: a cut "RT @user: …" text, `referenced_tweets` type retweeted, the
        original in includes.tweets and its author in includes.users, the original's counts copied."""
        with self.cond:
            self._next_id += 4096
            pid = str(self._next_id)
            if raw is not None:
                self.posts.append({"__raw__": raw, "id": pid, "text": ""})
            else:
                uid = str(abs(hash(username)) % 10**9)
                data = {"id": pid, "text": text, "author_id": uid, "edit_history_tweet_ids": [pid],
                        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        "conversation_id": reply_to or pid, "lang": "en",
                        "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0,
                                           "quote_count": 0, "bookmark_count": 0, "impression_count": 3}}
                if reply_to:
                    data["referenced_tweets"] = [{"type": "replied_to", "id": reply_to}]
                    data["in_reply_to_user_id"] = "42"
                user = {"id": uid, "username": username, "name": username.title(), "verified": False,
                        "public_metrics": {"followers_count": followers, "following_count": 80, "tweet_count": 900,
                                           "listed_count": 1}}
                includes: dict[str, Any] = {"users": [user]}
                if retweet_of is not None:
                    original, original_user = retweet_of["data"], retweet_of["user"]
                    data["text"] = f"RT @{original_user['username']}: {original['text']}"[:140]
                    data["referenced_tweets"] = [{"type": "retweeted", "id": original["id"]}]
                    data["conversation_id"] = pid
                    data["public_metrics"] = dict(original["public_metrics"])
                    includes = {"users": [user, original_user], "tweets": [original]}
                self.posts.append({"id": pid, "text": text, "data": data, "includes": includes})
            self.cond.notify_all()
            return pid

    def operational_disconnect(self) -> None:
        with self.cond:
            self.posts.append({"__raw__": json.dumps({"errors": [{
                "title": "operational-disconnect", "disconnect_type": "OperationalDisconnect",
                "detail": "This stream has been disconnected for operational reasons.",
                "type": "https://api.twitter.com/2/problems/operational-disconnect"}]}), "id": None, "text": ""})
            self.cond.notify_all()

    def matching(self, text: str) -> list[dict[str, str]]:
        return [{"id": r["id"], "tag": r["tag"]} for r in self.rules if rule_matches(r["value"], text)]

    # ------------------------------------------------------------ server
    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                fake._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _json(self, h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        body = json.loads(h.rfile.read(length)) if length else None
        with self.cond:
            self.requests.append((method, url.path, params, body))
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._json(h, 401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                                       "detail": "Unauthorized"})
        if url.path == "/2/tweets/search/stream/rules":
            return self._rules(h, method, body)
        if url.path == "/2/tweets/search/stream" and method == "GET":
            return self._stream(h)
        return self._json(h, 404, {"title": "Not Found Error", "detail": f"no route {url.path}"})

    def _rules(self, h: BaseHTTPRequestHandler, method: str, body: Any) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        with self.cond:
            if method == "GET":
                meta = {"sent": now, "result_count": len(self.rules)}
                return self._json(h, 200, {"data": list(self.rules), "meta": meta} if self.rules else {"meta": meta})
            if "add" in body:
                made = []
                for rule in body["add"]:
                    self._next_id += 1
                    made.append({"id": str(self._next_id), "value": rule["value"], "tag": rule.get("tag")})
                self.rules += made
                return self._json(h, 201, {"data": made, "meta": {"sent": now, "summary": {
                    "created": len(made), "not_created": 0, "valid": len(made), "invalid": 0}}})
            if "delete" in body:
                ids = set(body["delete"]["ids"])
                before = len(self.rules)
                self.rules = [r for r in self.rules if r["id"] not in ids]
                return self._json(h, 200, {"meta": {"sent": now, "summary": {
                    "deleted": before - len(self.rules), "not_deleted": 0}}})
        return self._json(h, 400, {"title": "Invalid Request"})

    def _stream(self, h: BaseHTTPRequestHandler) -> None:
        with self.cond:
            self.connections += 1
            if self.refuse:
                status = self.refuse.pop(0)
                headers = {"x-rate-limit-reset": str(int(time.time()) + 1)} if status == 429 else {}
                title = "TooManyConnections" if status == 429 else "Service Unavailable"
                return self._json(h, status, {"title": title, "detail": title, "type": "about:blank"}, headers)
            drop = self.drop_after.pop(0) if self.drop_after else None
            silent = self.silent.pop(0) if self.silent else False
            pos = len(self.posts)  # a filtered stream is live: no replay
        h.send_response(200)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def chunk(data: bytes) -> None:
            h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            h.wfile.flush()

        sent = 0
        try:
            while not self.closed:
                with self.cond:
                    if pos >= len(self.posts):
                        self.cond.wait(self.keepalive)
                    line = None
                    if pos < len(self.posts):
                        item = self.posts[pos]
                        pos += 1
                        rules = self.matching(item["text"])
                        if "__raw__" in item:
                            line = item["__raw__"].encode()
                        elif rules:
                            line = json.dumps({"data": item["data"], "includes": item["includes"],
                                               "matching_rules": rules}).encode()
                if silent:
                    continue
                if line is None:
                    chunk(b"\r\n")  # keep-alive
                    continue
                chunk(line + b"\r\n")
                with self.cond:
                    self.sent_at.setdefault(item["id"], time.monotonic())
                sent += 1
                if drop is not None and sent >= drop:
                    h.connection.shutdown(socket.SHUT_RDWR)  # cut mid-stream, no final chunk
                    return
        except OSError:
            return
