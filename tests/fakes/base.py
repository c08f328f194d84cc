"""A scriptable HTTP server on 127.0.0.1 for driving real client libraries in tests.

Subclasses answer like one real API. Every fake can be told to misbehave for the next N requests
(429 with or without reset headers, 5xx, 401, malformed JSON, a dropped connection) and records
every request it served, so tests can assert what the client actually sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request the fake served."""

    method: str
    path: str
    params: dict[str, str]  # query string, one value per key (the last)
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived
    status: int = 0


@dataclass
class Fault:
    status: int  # 0: drop the connection without answering
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    path_contains: str = ""  # only requests whose path contains this


@dataclass
class Reply:
    status: int
    body: Any  # dict/list (sent as JSON), bytes or str
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """Base class: start()/stop(), base_url, scripted faults, a request log. Thread-safe."""

    name = "fake"

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._faults: list[Fault] = []
        # Called with each Request before it is answered (e.g. to delete a post between two pages).
        self.before_request: Callable[[Request], None] | None = None

    # ------------------------------------------------------------ life cycle
    def start(self) -> Self:
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=f"{self.name}-server",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server, "start() the fake first"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ scripting faults
    def fail_next(self, n: int, status: int, *, headers: dict[str, str] | None = None,
                  body: Any = b"", path_contains: str = "") -> None:
        """Answer the next `n` (matching) requests with `status` instead of serving them."""
        raw = json.dumps(body).encode() if isinstance(body, (dict, list)) else (
            body.encode() if isinstance(body, str) else body)
        with self.lock:
            self._faults.extend(Fault(status, dict(headers or {}), raw, path_contains) for _ in range(n))

    def rate_limit_next(self, n: int = 1, *, reset_in: float | None = 60, path_contains: str = "") -> None:
        """429 for the next `n` requests; with the API's reset headers unless `reset_in` is None."""
        self.fail_next(n, 429, headers=self.rate_limit_headers(reset_in) if reset_in is not None else {},
                       body=self.error_body(429, "Too Many Requests"), path_contains=path_contains)

    def server_error_next(self, n: int = 1, status: int = 500, path_contains: str = "") -> None:
        self.fail_next(n, status, body=self.error_body(status, "Internal Server Error"),
                       path_contains=path_contains)

    def unauthorized_next(self, n: int = 1, status: int = 401, path_contains: str = "") -> None:
        self.fail_next(n, status, body=self.error_body(status, "Unauthorized"), path_contains=path_contains)

    def malformed_next(self, n: int = 1, path_contains: str = "") -> None:
        """200 with a body that is not valid JSON (a truncated payload, as a broken proxy sends)."""
        self.fail_next(n, 200, headers={"Content-Type": "application/json"},
                       body=b'{"data": [{"id": "1", "text": "trunc', path_contains=path_contains)

    def drop_next(self, n: int = 1, path_contains: str = "") -> None:
        """Close the connection without answering."""
        self.fail_next(n, 0, path_contains=path_contains)

    def rate_limit_headers(self, reset_in: float) -> dict[str, str]:
        return {}

    def error_body(self, status: int, title: str) -> Any:
        return {"error": status, "message": title}

    def served(self, path_contains: str = "") -> list[Request]:
        """The requests served so far (optionally only those whose path contains a string)."""
        with self.lock:
            return [r for r in self.requests if path_contains in r.path]

    # ------------------------------------------------------------ answering
    def handle(self, req: Request) -> Reply:  # pragma: no cover - subclasses answer
        return Reply(404, {"error": "not found"})

    def _take_fault(self, req: Request) -> Fault | None:
        with self.lock:
            for i, fault in enumerate(self._faults):
                if fault.path_contains in req.path:
                    return self._faults.pop(i)
        return None


def _make_handler(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if body and self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                params.update({k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()})
            req = Request(self.command, parts.path, params, {k.lower(): v for k, v in self.headers.items()},
                          body, time.monotonic())
            with fake.lock:
                fake.requests.append(req)
            if fake.before_request:
                fake.before_request(req)
            fault = fake._take_fault(req)
            if fault is not None:
                req.status = fault.status
                if fault.status == 0:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._send(fault.status, fault.body, fault.headers)
                return
            try:
                reply = fake.handle(req)
            except Exception as exc:  # noqa: BLE001 - a bug in the fake: answer 500 loudly rather than hang the client
                reply = Reply(500, {"error": f"fake crashed: {exc!r}"})
            req.status = reply.status
            body_out = reply.body
            if isinstance(body_out, (dict, list)):
                body_out = json.dumps(body_out).encode()
            elif isinstance(body_out, str):
                body_out = body_out.encode()
            self._send(reply.status, body_out, {"Content-Type": "application/json; charset=utf-8",
                                                **reply.headers})

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            headers = {"Content-Type": "application/json; charset=utf-8", **headers}
            if self.close_connection:  # the client asked for it (prawcore does for its token request): say so
                headers["Connection"] = "close"
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

    return Handler


def serve_forever(fake: FakeServer) -> None:
    """Run a fake in the foreground until Ctrl-C / SIGTERM (for `python -m tests.fakes.<api>`)."""
    import signal

    fake.start()
    print(f"{fake.name} listening on {fake.base_url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
