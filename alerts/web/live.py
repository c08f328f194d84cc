"""The live inbox stream: `GET /events`, server-sent events of queue changes (see alerts.live).

Why server-sent events and not WebSockets or polling alone: the pages only listen, SSE is plain HTTP
(it passes the session cookie, the proxy and the CSP `connect-src 'self'` like any request), and the
browser's EventSource reconnects by itself and sends `Last-Event-ID`, so nothing is lost across a
dropped connection or a server restart. Each stream checks the store once a second (one indexed
query) instead of listening in memory, because the changes come from other processes (the pipeline,
the daemon, other `serve` workers). A list page asks with `counts=1` and its own filters
(`brand=...&q=...`): after each batch of changes it gets a `counts` event, the items per state under
those filters counted by the server (one GROUP BY, only when something changed), so its state tabs
stay what a reload would show. A stream lasts at most STREAM_SECONDS and then ends: the browser
reconnects at once from its last id, and the login is checked again on every connection (and every
AUTH_SECONDS inside one), so logging out or disabling a user ends their stream too. Browsers without
EventSource poll `GET /events?format=json&after=N` instead (app.js).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from alerts import live
from alerts.queue import ItemFilter, Queue
from alerts.users import User, get_user
from alerts.web.app import open_store, require_user
from listener.store import Store

router = APIRouter()
StoreDep = Annotated[Store, Depends(open_store)]
POLL_SECONDS = 1.0
STREAM_SECONDS = 30.0
AUTH_SECONDS = 10.0
HEARTBEAT_SECONDS = 15.0


def _after(request: Request, store: Store) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or ""
    try:
        value = int(raw)
    except ValueError:
        return live.cursor(store)  # a fresh page without a cursor starts from now
    return value if 0 <= value < 2**63 else live.cursor(store)


@router.get("/events")
async def events(request: Request, store: StoreDep) -> Response:
    user = await run_in_threadpool(require_user, request, store)
    after = await run_in_threadpool(_after, request, store)
    queue = Queue(store, request.app.state.config.queue)
    flt = live.counts_filter(request.query_params) if request.query_params.get("counts") == "1" else None
    if request.query_params.get("format") == "json":
        cursor, changes = await run_in_threadpool(live.changes, store, queue, user, after)
        body: dict[str, object] = {"cursor": cursor, "changes": changes}
        if flt is not None:
            body["counts"] = await run_in_threadpool(live.tab_counts, queue, flt)
        return JSONResponse(body)
    config = request.app.state.config
    session_version = request.session.get("sv")
    return StreamingResponse(_stream(request, config, user, session_version, after, flt),
                             media_type="text/event-stream", headers={"x-accel-buffering": "no"})


def _still_allowed(store: Store, user: User, session_version: object) -> bool:
    current = get_user(store, user.name)
    return current is not None and not current.disabled and current.session_version == session_version


async def _stream(request: Request, config: object, user: User, session_version: object,
                  after: int, flt: ItemFilter | None = None) -> AsyncIterator[str]:
    # The request's own store closes when the handler returns: the stream keeps one of its own.
    store = await run_in_threadpool(Store, config.db_path)  # type: ignore[attr-defined]
    queue = Queue(store, config.queue)  # type: ignore[attr-defined]
    started = last_auth = last_sent = time.monotonic()
    try:
        yield f"retry: 1000\nid: {after}\nevent: hello\ndata: {json.dumps({'cursor': after})}\n\n"
        while time.monotonic() - started < STREAM_SECONDS:
            if await request.is_disconnected():
                return
            now = time.monotonic()
            if now - last_auth >= AUTH_SECONDS:
                last_auth = now
                if not await run_in_threadpool(_still_allowed, store, user, session_version):
                    yield "event: logout\ndata: {}\n\n"
                    return
            before = after
            after, changes = await run_in_threadpool(live.changes, store, queue, user, after)
            for change in changes:
                yield f"id: {change['id']}\nevent: change\ndata: {json.dumps(change, ensure_ascii=False)}\n\n"
            if changes:
                last_sent = now
                counts = await run_in_threadpool(live.tab_counts, queue, flt) if flt is not None else None
                if counts is not None:
                    yield f"event: counts\ndata: {json.dumps(counts)}\n\n"
            elif now - last_sent >= HEARTBEAT_SECONDS:
                last_sent = now
                yield ": still here\n\n"  # a comment keeps proxies from closing an idle stream
            if after != before and not changes:
                yield f"id: {after}\n\n"  # the cursor moves past changes this user may not see, too
            await asyncio.sleep(POLL_SECONDS)
    finally:
        store.close()
