"""A search API on 127.0.0.1 that misbehaves on cue, and a source that reads it over real HTTP
(requests), under several names: several sources failing in different ways at once, in one config.
The X source itself is tested through tweepy against tests/fakes/x_api.py; these add the many-source
cases and a source whose answers the crash test controls between restarts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from listener.errors import SourceError
from listener.models import Batch, Mention
from listener.sources.base import Source, SourceConfig, SourceQuery
from listener.sources.file import parse_time


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1:0 answering with `self.respond(method, path, query, body)`."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                status, headers, payload = owner.respond(self.command, url.path, parse_qs(url.query), body,
                                                         dict(self.headers))
                data = payload if isinstance(payload, bytes) else payload.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def respond(self, method: str, path: str, query: dict, body: bytes, headers: dict) -> tuple[int, dict, Any]:
        raise NotImplementedError


class FakeSearchApi(_Server):
    """Posts newer than `since_id`, JSON like X's v2 search. `faults` is a queue of answers to give
    instead of the data, one per request: 429 (no reset header), "429:2" (Retry-After 2), 500, 502,
    401, "malformed"; `stuck` repeats a fault for every request until cleared."""

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[dict] = []
        self.faults: list[Any] = []
        self.stuck: Any = None
        self.requests = 0
        self.request_log: list[tuple[str, Any]] = []
        self.delay = 0.0  # seconds before each answer: a slow API

    def add(self, n: int, prefix: str, brand: str = "Brightwave", text: str | None = None) -> list[str]:
        with self.lock:
            start = len(self.posts)
            for i in range(start, start + n):
                self.posts.append({"id": str(1000 + i), "text": text or f"{brand} post {prefix}{i}",
                                   "author": f"{prefix}{i}", "created_at": "2026-11-20T10:00:00Z"})
            return [p["id"] for p in self.posts[start:]]

    def respond(self, method, path, query, body, headers):
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.requests += 1
            fault = self.stuck if self.stuck is not None else (self.faults.pop(0) if self.faults else None)
            self.request_log.append((path, fault))
            if fault is not None:
                return _fault(fault)
            since = int(query.get("since_id", ["0"])[0])
            data = [p for p in self.posts if int(p["id"]) > since][:50]
        payload = {"data": data, "meta": {"result_count": len(data)}}
        return 200, {"Content-Type": "application/json"}, json.dumps(payload)


def _fault(fault: Any) -> tuple[int, dict, str]:
    if fault == "malformed":
        return 200, {"Content-Type": "application/json"}, '{"data": [{"id": "1", "text": '
    if isinstance(fault, str) and fault.startswith("429:"):
        return 429, {"Retry-After": fault.split(":")[1]}, '{"title": "Too Many Requests"}'
    code = int(fault)
    return code, {"Content-Type": "application/json"}, json.dumps({"title": f"error {code}"})


class FakeApiSourceConfig(SourceConfig):
    base_url: str
    token_env: str | None = None


class FakeApiSource(Source):
    """Reads FakeSearchApi over HTTP with requests: maps 429/5xx/401/bad JSON the way real sources do."""

    name = "fake"
    Config = FakeApiSourceConfig
    config: FakeApiSourceConfig

    def queries(self) -> list[SourceQuery]:
        return [SourceQuery(key="Brightwave", brand="Brightwave", text="Brightwave")]

    def collect(self, query: SourceQuery, cursor: str | None, backfill: timedelta | None = None) -> Iterator[Batch]:
        while True:
            try:
                resp = requests.get(f"{self.config.base_url}/search", params={"since_id": cursor or "0"}, timeout=5)
            except requests.RequestException as exc:
                raise SourceError(f"{self.name}: cannot reach the API ({exc})") from None
            if resp.status_code == 429:
                after = resp.headers.get("Retry-After")
                raise SourceError(f"{self.name}: rate limited (429)", retry_after=float(after) if after else None)
            if resp.status_code in (401, 403):
                raise SourceError(f"{self.name}: credentials refused ({resp.status_code})", auth=True)
            if resp.status_code >= 400:
                raise SourceError(f"{self.name}: the API answered {resp.status_code}")
            try:
                data = resp.json()["data"]
            except (ValueError, KeyError) as exc:
                raise SourceError(f"{self.name}: malformed JSON from the API ({exc})") from None
            if not data:
                return
            mentions = [Mention(source=self.name, native_id=d["id"], text=d["text"], author=d["author"],
                                created_at=parse_time(d["created_at"]), brand=query.brand) for d in data]
            cursor = data[-1]["id"]
            yield Batch(mentions, cursor=cursor)


def source_class(name: str) -> type[FakeApiSource]:
    """A FakeApiSource under another name, so one config can hold several that fail differently."""
    return type(f"Fake_{name}", (FakeApiSource,), {"name": name})


# Several names, so one config can hold sources that fail differently (registered by the tests).
FAKE_SOURCE_NAMES = ["api_ok", "api_ratelimited", "api_flaky", "api_broken", "api_noauth"]
for _name in FAKE_SOURCE_NAMES:
    globals()[f"Source_{_name}"] = source_class(_name)


def register() -> None:
    """Make the fake sources known by name (also inside a daemon subprocess)."""
    from listener.sources import SOURCES

    for name in FAKE_SOURCE_NAMES:
        SOURCES[name] = f"tests.daemon_fakes:Source_{name}"
