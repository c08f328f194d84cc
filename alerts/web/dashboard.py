"""The dashboard pages: /dashboard (HTML, with a period picker) and /dashboard.json (the same figures).

Both call `alerts.dashboard.dashboard`, as `overheard queue dashboard --json` does.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from alerts.dashboard import PERIODS, dashboard, resolve_period
from alerts.web.app import open_store, render, require_user
from listener.errors import UserError
from listener.store import Store

router = APIRouter()
StoreDep = Annotated[Store, Depends(open_store)]


def _figures(request: Request, store: Store) -> dict:
    config = request.app.state.config
    q = request.query_params
    period = resolve_period((q.get("period") or "today").strip(), config.queue.timezone,
                            since=(q.get("since") or "").strip() or None, until=(q.get("until") or "").strip() or None)
    return dashboard(store, config, period)


@router.get("/dashboard")
async def dashboard_page(request: Request, store: StoreDep) -> Response:
    # The figures read many rows at 200k items: off the event loop, so the live stream keeps flowing.
    return await run_in_threadpool(_dashboard_page, request, store)


def _dashboard_page(request: Request, store: Store) -> Response:
    user = require_user(request, store)
    as_json = request.query_params.get("format") == "json"
    try:
        figures = _figures(request, store)
    except UserError as exc:
        if as_json:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return render(request, "error.html", status=400, user=user, message=str(exc), title="Bad request")
    if as_json:
        return JSONResponse(figures)
    query = urlencode([(k, v) for k, v in request.query_params.items() if k in ("period", "since", "until")])
    return render(request, "dashboard.html", user=user, f=figures, periods=PERIODS, params=request.query_params,
                  json_link="/dashboard.json" + (f"?{query}" if query else ""))


@router.get("/dashboard.json")
async def dashboard_json(request: Request, store: StoreDep) -> Response:
    return await run_in_threadpool(_dashboard_json, request, store)


def _dashboard_json(request: Request, store: Store) -> Response:
    require_user(request, store)
    try:
        return JSONResponse(_figures(request, store))
    except UserError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
