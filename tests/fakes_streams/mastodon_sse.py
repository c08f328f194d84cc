"""A Mastodon instance on 127.0.0.1 that also streams: the REST fake (tests/fakes_web/mastodon.py) plus
`/api/v1/streaming/hashtag` and `/api/v1/streaming/list` as server-sent events, the way Mastodon's
streaming server writes them (`event: update` + `data: <status JSON>`, `:thump` heartbeats).
A post added while a client is connected is pushed to it; every post also shows in the REST timelines."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any, Self

from werkzeug import Request, Response
from werkzeug.serving import make_server

from tests.fakes_web.mastodon import MastodonFake, Post


class StreamingMastodon(MastodonFake):
    def __init__(self, posts: list[Post] | None = None, token: str | None = None,
                 heartbeat_seconds: float = 0.2) -> None:
        super().__init__("127.0.0.1:0", posts or [], token=token)
        self.heartbeat = heartbeat_seconds
        self.cond = threading.Condition()
        self.log: list[Post] = []  # posts in the order they were made, for the live streams
        self.lists: dict[str, list[str]] = {}  # list id -> users on it
        self.stream_connects: list[dict[str, str]] = []
        self.drop_after: list[int] = []
        self.closed = False
        self._server: Any = None

    def add(self, post: Post, lists: list[str] | None = None) -> Post:
        with self.cond:
            self.posts[post.id] = post
            self.log.append(post)
            self.cond.notify_all()
        return post

    # ------------------------------------------------------------ server
    def start(self) -> Self:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.host = f"127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-mastodon").start()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self._server.shutdown()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        if request.path.startswith("/api/v1/timelines/list/"):
            list_id = request.path.rsplit("/", 1)[1]
            on = set(self.lists.get(list_id, []))
            posts = [p for p in self.posts.values() if p.user in on]
            response = self._json([self.status(p) for p in self._page(posts, dict(request.args))])
        elif request.path.startswith("/api/v1/streaming/"):
            response = self._stream(request)
        else:
            response = self(request)
        return response(environ, start_response)

    def _stream(self, request: Request) -> Response:
        args = dict(request.args)
        with self.cond:
            self.stream_connects.append({"path": request.path, **args})
            drop = self.drop_after.pop(0) if self.drop_after else None
            pos = len(self.log)
        if request.path.endswith("/hashtag"):
            tag = args.get("tag", "").lower()

            def wanted(p: Post) -> bool:
                return tag in p.tags
        elif request.path.endswith("/list"):
            if not self.token or request.headers.get("Authorization") != f"Bearer {self.token}":
                return self._json({"error": "Error: Missing access token"}, 401)
            on = set(self.lists.get(args.get("list", ""), []))

            def wanted(p: Post) -> bool:
                return p.user in on
        else:
            return self._json({"error": "Unknown stream type"}, 400)

        def events() -> Iterator[bytes]:
            nonlocal pos
            sent = 0
            yield b":)\n"
            while not self.closed:
                with self.cond:
                    if pos >= len(self.log):
                        self.cond.wait(self.heartbeat)
                    fresh = self.log[pos:]
                    pos = len(self.log)
                if not fresh:
                    yield b":thump\n"
                    continue
                for p in fresh:
                    if not wanted(p):
                        continue
                    yield f"event: update\ndata: {json.dumps(self.status(p))}\n\n".encode()
                    with self.cond:
                        self.sent_at = getattr(self, "sent_at", {})
                        self.sent_at.setdefault(p.id, time.monotonic())
                    sent += 1
                    if drop is not None and sent >= drop:
                        return

        return Response(events(), status=200, content_type="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}, direct_passthrough=True)
