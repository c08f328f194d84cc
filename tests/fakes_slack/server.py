"""A Slack-compatible server (incoming webhooks, chat.postMessage, chat.update, conversations.history /
replies / list with message metadata and cursor pagination) and a webhook receiver."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Fault:
    status: int
    times: int
    retry_after: float | None = None
    body: str | None = None
    path_prefix: str = ""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None


@dataclass
class SlackMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)  # each chat.update, in order
    metadata: dict[str, Any] | None = None  # as posted: {"event_type": ..., "event_payload": {...}}
    broadcast: bool = False  # a threaded reply also shown in the channel (reply_broadcast)


class HangUp(Exception):
    """Raised by an on_post hook: the post is recorded but no answer is sent (the connection closes)."""


class LocalServer:
    """An HTTP server on 127.0.0.1 in a background thread, with injectable faults and a request log."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._faults: list[Fault] = []
        # Called with each request before it is answered (or logged); may raise HangUp so the server
        # closes the connection without doing anything, as if the request never arrived.
        self.on_request: Callable[[Request], None] | None = None
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                return

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                self._reply(Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))

            def do_GET(self) -> None:  # noqa: N802
                self._reply(Request("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, b""))

            def _reply(self, req: Request) -> None:
                try:
                    status, headers, payload = owner._handle(req)
                except HangUp:
                    self.close_connection = True
                    return
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -------------------------------------------------------------- faults
    def fail(self, status: int, times: int = 1, retry_after: float | None = None, body: str | None = None,
             path_prefix: str = "") -> None:
        """Answer the next `times` requests (whose path starts with `path_prefix`) with `status`."""
        with self._lock:
            self._faults.append(Fault(status, times, retry_after, body, path_prefix))

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix) and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _handle(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        if self.on_request is not None:
            self.on_request(req)
        with self._lock:
            self.requests.append(req)
        fault = self._take_fault(req.path)
        if fault is not None:
            headers = {"Content-Type": "application/json"}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(int(fault.retry_after))
            if fault.body is None and req.path.startswith("/services/"):  # webhooks answer in plain text
                headers["Content-Type"] = "text/plain"
                body = "rate_limited" if fault.status == 429 else "internal_error"
            else:
                body = fault.body if fault.body is not None else self._fault_body(fault)
            return fault.status, headers, body.encode()
        return self.answer(req)

    def _fault_body(self, fault: Fault) -> str:
        return json.dumps({"ok": False, "error": "ratelimited" if fault.status == 429 else "internal_error"})

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _json(status: int, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(data).encode()


class FakeSlack(LocalServer):
    """Slack's incoming webhooks (POST /services/...) and Web API chat.postMessage / chat.update."""

    WEBHOOK_PATH = "/services/T0000TEST/B0000TEST/abcdefghijklmnop"

    def __init__(self, token: str = "xoxb-test-token", channels: dict[str, str] | None = None) -> None:
        super().__init__()
        self.token = token
        # channel name -> id; IDs are accepted as themselves
        self.channels = channels or {"#support-alerts": "C0SUPPORT", "#social": "C0SOCIAL"}
        self.webhook_posts: list[dict[str, Any]] = []
        self.messages: dict[str, SlackMessage] = {}  # ts -> message, in posting order
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (API method, arguments) that succeeded
        self._ts = itertools.count(1)
        # Slack's clock for message timestamps (seconds since the epoch); a test may set its own.
        self.clock: Callable[[], float] = time.time
        # API method -> the scope it needs that the token lacks: the call answers missing_scope.
        self.missing_scopes: dict[str, str] = {}
        # Called with each message chat.postMessage stores, before answering; may raise HangUp, or
        # kill the client process, to leave the client without the answer.
        self.on_post: Callable[[SlackMessage], None] | None = None

    @property
    def webhook_url(self) -> str:
        return self.base_url + self.WEBHOOK_PATH

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def top_level(self) -> list[SlackMessage]:
        """Messages posted to a channel (not threaded replies)."""
        return [m for m in self.messages.values() if m.thread_ts is None]

    def replies(self, ts: str) -> list[SlackMessage]:
        return [m for m in self.messages.values() if m.thread_ts == ts]

    def post_as_someone_else(self, channel: str, text: str) -> SlackMessage:
        """A message a person posts in the channel (no metadata), to make the history busy."""
        with self._lock:
            ts = f"{int(self.clock())}.{next(self._ts):06d}"
            self.messages[ts] = SlackMessage(self.channels.get(channel, channel), ts, text, [])
            return self.messages[ts]

    def api_calls(self, method: str) -> list[Request]:
        """Requests made to one Web API method (e.g. conversations.history), answered or not."""
        return [r for r in self.requests if r.path.split("?")[0] == f"/api/{method}"]

    def all_text(self) -> str:
        """Every string Slack received (webhook and API), for checks such as 'no <!channel> anywhere'."""
        return "\n".join(r.body.decode("utf-8", "replace") for r in self.requests)

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        if req.path.startswith("/services/"):
            return self._webhook(req)
        if req.path.startswith("/api/"):
            return self._api(req.path[len("/api/"):].split("?")[0], req)
        return 404, {"Content-Type": "text/plain"}, b"not found"

    def _webhook(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        if req.path != self.WEBHOOK_PATH:
            return 404, {"Content-Type": "text/plain"}, b"no_service"
        try:
            data = json.loads(req.body or b"{}")
        except json.JSONDecodeError:
            return 400, {"Content-Type": "text/plain"}, b"invalid_payload"
        if not data.get("text") and not data.get("blocks"):
            return 400, {"Content-Type": "text/plain"}, b"no_text"
        req.json = data
        with self._lock:
            self.webhook_posts.append(data)
        return 200, {"Content-Type": "text/html"}, b"ok"

    def _args(self, req: Request) -> dict[str, Any]:
        if req.method == "GET":
            return {k: v[0] for k, v in parse_qs(urlsplit(req.path).query).items()}
        ctype = req.headers.get("content-type", "")
        if "json" in ctype:
            return json.loads(req.body or b"{}")
        args: dict[str, Any] = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        if isinstance(args.get("blocks"), str):
            args["blocks"] = json.loads(args["blocks"])
        return args

    def _api(self, method: str, req: Request) -> tuple[int, dict[str, str], bytes]:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return _json(200, {"ok": False, "error": "invalid_auth"})
        args = self._args(req)
        req.json = args
        if method == "auth.test":
            return _json(200, {"ok": True, "team_id": "T0000TEST", "user_id": "U0BOT"})
        if method in self.missing_scopes:
            return _json(200, {"ok": False, "error": "missing_scope", "needed": self.missing_scopes[method],
                               "provided": "chat:write"})
        if method == "conversations.list":
            return self._list(args)
        if method in ("conversations.history", "conversations.replies"):
            return self._read(method, args)
        if method not in ("chat.postMessage", "chat.update"):
            return _json(200, {"ok": False, "error": "unknown_method"})
        channel = self.channels.get(args.get("channel", ""), args.get("channel", ""))
        if not channel.startswith(("C", "G", "D")):
            return _json(200, {"ok": False, "error": "channel_not_found"})
        if not args.get("text") and not args.get("blocks"):
            return _json(200, {"ok": False, "error": "no_text"})
        with self._lock:
            if method == "chat.postMessage":
                thread_ts = args.get("thread_ts")
                if thread_ts and thread_ts not in self.messages:
                    return _json(200, {"ok": False, "error": "thread_not_found"})
                metadata = args.get("metadata")
                if isinstance(metadata, str):
                    metadata = json.loads(metadata)
                if metadata is not None and not (isinstance(metadata, dict) and metadata.get("event_type")
                                                 and isinstance(metadata.get("event_payload"), dict)):
                    return _json(200, {"ok": False, "error": "invalid_metadata_format"})
                ts = f"{int(self.clock())}.{next(self._ts):06d}"
                msg = SlackMessage(channel, ts, args.get("text", ""), args.get("blocks") or [], thread_ts,
                                   metadata=metadata, broadcast=_truthy(args.get("reply_broadcast")))
                self.messages[ts] = msg
            else:
                ts = args.get("ts", "")
                msg = self.messages.get(ts)
                if msg is None or msg.channel != channel:
                    return _json(200, {"ok": False, "error": "message_not_found"})
                msg.updates.append(args)
                msg.text, msg.blocks = args.get("text", msg.text), args.get("blocks") or msg.blocks
            self.calls.append((method, args))
        if method == "chat.postMessage" and self.on_post is not None:
            self.on_post(self.messages[ts])  # outside the lock: a hook may take its time
        return _json(200, {"ok": True, "channel": channel, "ts": ts,
                           "message": {"text": args.get("text", ""), "ts": ts}})

    def _list(self, args: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        channels = [{"id": cid, "name": name.lstrip("#"), "is_channel": True, "is_archived": False}
                    for name, cid in self.channels.items()]
        return _json(200, {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}})

    def _read(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """conversations.history (newest first) and .replies (the parent, then replies oldest first),
        filtered by oldest/latest, paged by limit and cursor; metadata only with include_all_metadata."""
        channel = args.get("channel", "")
        if channel not in self.channels.values():  # like Slack: a name is not accepted here
            return _json(200, {"ok": False, "error": "channel_not_found"})
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or 9e12)
        inclusive = _truthy(args.get("inclusive"))

        def in_window(ts: str) -> bool:
            t = float(ts)
            return (oldest <= t <= latest) if inclusive else (oldest < t < latest)

        with self._lock:
            msgs = [m for m in self.messages.values() if m.channel == channel]
        if method == "conversations.history":
            found = [m for m in msgs if (m.thread_ts is None or m.broadcast) and in_window(m.ts)]
            found.sort(key=lambda m: float(m.ts), reverse=True)
        else:
            parent = next((m for m in msgs if m.ts == args.get("ts") and m.thread_ts is None), None)
            if parent is None:
                return _json(200, {"ok": False, "error": "thread_not_found"})
            replies = sorted((m for m in msgs if m.thread_ts == parent.ts and in_window(m.ts)),
                             key=lambda m: float(m.ts))
            found = [parent, *replies]
        limit = max(1, min(int(args.get("limit") or 100), 999))
        start = int(base64.b64decode(args["cursor"]).decode().split(":")[1]) if args.get("cursor") else 0
        page = found[start:start + limit]
        more = start + limit < len(found)
        with_meta = _truthy(args.get("include_all_metadata"))
        data: dict[str, Any] = {"ok": True, "messages": [self._as_api(m, with_meta) for m in page],
                                "has_more": more}
        if more:
            data["response_metadata"] = {"next_cursor": base64.b64encode(f"offset:{start + limit}".encode()).decode()}
        return _json(200, data)

    def _as_api(self, m: SlackMessage, with_meta: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "user": "U0BOT", "bot_id": "B0BOT", "app_id": "A0OVERHEARD",
                               "text": m.text, "ts": m.ts, "blocks": m.blocks}
        if m.thread_ts:
            out["thread_ts"] = m.thread_ts
            out["parent_user_id"] = "U0BOT"
            if m.broadcast:
                out["subtype"] = "thread_broadcast"
        elif self.replies(m.ts):
            out["thread_ts"], out["reply_count"] = m.ts, len(self.replies(m.ts))
        if with_meta and m.metadata:
            out["metadata"] = m.metadata
        return out


class WebhookReceiver(LocalServer):
    """A generic JSON webhook endpoint: records every POST, answers 200 unless told to fail."""

    def __init__(self, path: str = "/hooks/overheard") -> None:
        super().__init__()
        self.path = path
        self.received: list[Request] = []

    @property
    def url(self) -> str:
        return self.base_url + self.path

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        if req.path != self.path:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        try:
            req.json = json.loads(req.body or b"null")
        except json.JSONDecodeError:
            return 400, {"Content-Type": "text/plain"}, b"bad json"
        with self._lock:
            self.received.append(req)
        return 200, {"Content-Type": "application/json"}, b'{"accepted": true}'
