"""A Jetstream server on 127.0.0.1 (websockets): commit/identity events as Jetstream sends them, replay
from `cursor` (time_us), `wantedCollections` filtering, live events, and scripted misbehaviour
(drop the connection after N events, refuse the handshake with an HTTP status, send a broken frame)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

POST = "app.bsky.feed.post"


@dataclass
class Connection:
    params: dict[str, str]
    sent: list[int] = field(default_factory=list)  # time_us of every event sent on it


class FakeJetstream:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.connections: list[Connection] = []
        self.drop_after: list[int] = []  # per next connection: close abruptly after sending this many events
        self.refuse: list[int] = []  # per next handshake: answer with this HTTP status instead
        self.sent_at: dict[int, float] = {}  # time_us -> monotonic time it was first sent
        self._last_us = 0
        self._server: Any = None
        self.closed = False

    # ------------------------------------------------------------ events
    def _time_us(self) -> int:
        self._last_us = max(int(time.time() * 1_000_000), self._last_us + 1)
        return self._last_us

    def post(self, text: str, *, did: str = "did:plc:alice", rkey: str | None = None, langs: list[str] | None = None,
             reply_root: str | None = None, operation: str = "create", record: dict[str, Any] | None = None) -> dict:
        """A new post on the network (a commit event on app.bsky.feed.post)."""
        with self.cond:
            t = self._time_us()
            rec = record if record is not None else {
                "$type": POST, "text": text, "createdAt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t / 1e6))
                + f".{(t // 1000) % 1000:03d}Z", "langs": langs or ["en"]}
            if reply_root and record is None:
                ref = {"uri": reply_root, "cid": "bafyreiroot"}
                rec["reply"] = {"root": ref, "parent": ref}
            ev = {"did": did, "time_us": t, "kind": "commit",
                  "commit": {"rev": f"3l{t}", "operation": operation, "collection": POST,
                             "rkey": rkey or f"3k{t:x}", "record": rec, "cid": f"bafyrei{t:x}"}}
            self.events.append(ev)
            self.cond.notify_all()
            return ev

    def other(self, kind: str = "identity", collection: str = "app.bsky.feed.like") -> dict:
        """An event that is not a post: an identity change or a like (filtered by wantedCollections)."""
        with self.cond:
            t = self._time_us()
            if kind == "identity":
                ev = {"did": "did:plc:bob", "time_us": t, "kind": "identity",
                      "identity": {"did": "did:plc:bob", "handle": "bob.bsky.social", "seq": t, "time": "now"}}
            else:
                ev = {"did": "did:plc:bob", "time_us": t, "kind": "commit",
                      "commit": {"rev": "x", "operation": "create", "collection": collection, "rkey": f"l{t}",
                                 "record": {"$type": collection, "subject": {"uri": "at://x", "cid": "y"}},
                                 "cid": "z"}}
            self.events.append(ev)
            self.cond.notify_all()
            return ev

    def broken(self) -> None:
        with self.cond:
            self.events.append({"__raw__": "{not json", "time_us": self._time_us()})
            self.cond.notify_all()

    # ------------------------------------------------------------ server
    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/subscribe"

    def start(self) -> Self:
        self._server = serve(self._handler, "127.0.0.1", 0, process_request=self._process_request,
                             compression=None)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-jetstream").start()
        return self

    def stop(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self._server.shutdown()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        with self.cond:
            if self.refuse:
                status = self.refuse.pop(0)
                return conn.respond(status, "slow down\n" if status == 429 else "unavailable\n")
        return None

    def _handler(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        params = {k: v[-1] for k, v in query.items()}
        wanted = set(query.get("wantedCollections", []))
        cursor = int(params["cursor"]) if params.get("cursor", "").isdigit() else None
        with self.cond:
            conn = Connection(params)
            self.connections.append(conn)
            drop = self.drop_after.pop(0) if self.drop_after else None
            # Replay from the cursor (inclusive), else live from now.
            pos = next((i for i, e in enumerate(self.events) if e["time_us"] >= cursor), len(self.events)) \
                if cursor is not None else len(self.events)
        try:
            while True:
                with self.cond:
                    while pos >= len(self.events):
                        self.cond.wait(0.5)
                        if self.closed:
                            return
                    ev = self.events[pos]
                    pos += 1
                commit = ev.get("commit")
                if wanted and commit and commit.get("collection") not in wanted:
                    continue
                frame = ev["__raw__"] if "__raw__" in ev else json.dumps(ev)
                ws.send(frame)
                with self.cond:
                    conn.sent.append(ev["time_us"])
                    self.sent_at.setdefault(ev["time_us"], time.monotonic())
                if drop is not None and len(conn.sent) >= drop:
                    ws.close_socket()  # a dropped connection: no close frame
                    return
        except Exception:  # the client went away
            return
