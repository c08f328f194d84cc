"""Pages and form actions of the queue web UI. Every action goes through alerts.queue.Queue."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from alerts import actions, live, routing, slack_actions
from alerts.queue import (
    DISMISS_REASONS,
    MAX_ID,
    OUTCOMES,
    PRIORITIES,
    STATES,
    ItemFilter,
    Queue,
    describe_event,
    filter_choices,
)
from alerts.rules import enqueue_system_alert
from alerts.users import authenticate, end_sessions, list_users
from alerts.web import throttle
from alerts.web.app import (
    check_csrf,
    client_address,
    error_page,
    flash,
    known_device,
    open_store,
    remember_device,
    render,
    require_user,
    security_event,
    start_session,
)
from alerts.web.reply_routes import reply_context
from listener.errors import UserError
from listener.labels import HUMAN_LABELS
from listener.logs import event
from listener.models import utcnow
from listener.store import Store

log = logging.getLogger("overheard.web")
router = APIRouter()
StoreDep = Annotated[Store, Depends(open_store)]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
FILTER_KEYS = ("state", "brand", "source", "priority", "assignee", "theme", "lang", "q", "sort")
TICK_SECONDS = 30
_REFUSED = {
    "name from this address": "Too many failed attempts for this name from your address; ",
    "this address": "Too many failed attempts from your address; ",
    "name from unknown browsers": "Too many failed attempts for this name: log in from a browser you used before, "
                                  "or ",
}


def _text(form: Any, key: str) -> str:
    """A form field as text; a file upload or a missing field counts as empty."""
    value = form.get(key)
    return value if isinstance(value, str) else ""


def _queue(request: Request, store: Store) -> Queue:
    return Queue(store, request.app.state.config.queue)


PRESENCE_WRITE_S = 60  # "online" is counted in minutes: one write a minute per user is plenty


def _online(request: Request, store: Store, name: str) -> None:
    """This user is working the queue now (routing gives items only to people online)."""
    seen = getattr(request.app.state, "presence_written", None)
    if seen is None:
        seen = request.app.state.presence_written = {}
    if time.monotonic() - seen.get(name, -1e9) >= PRESENCE_WRITE_S:
        seen[name] = time.monotonic()
        routing.mark_online(store, name)


@router.get("/healthz")
def healthz(store: StoreDep) -> dict[str, Any]:
    """Liveness for load balancers: no login, no data beyond "the database answers"."""
    store.scalar("SELECT 1")
    return {"status": "ok"}


# ---------------------------------------------------------------- login
def _safe_next(target: str | None) -> str:
    # Only paths on this site: "//evil.example" and "https://…" would send the user elsewhere after login.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login")
async def login(request: Request, store: StoreDep) -> Response:
    form = await request.form()
    check_csrf(request, form)
    # The store and scrypt off the event loop: a password check takes ~50 ms of CPU.
    return await run_in_threadpool(_login, request, store, form)


def _login(request: Request, store: Store, form: Any) -> Response:
    name = _text(form, "name").strip()
    password = _text(form, "password")
    target = _safe_next(_text(form, "next") or "/")
    client = client_address(request)
    # Counted and recorded before the password is checked (see alerts.web.throttle).
    attempt = throttle.reserve(store, name, client, known_device=known_device(request, name))
    if isinstance(attempt, throttle.Refusal):
        security_event("login_failed", request, user=name, why="throttled", limit=attempt.reason,
                       retry_after_s=attempt.retry_after_s)
        minutes = max(1, round(attempt.retry_after_s / 60))
        response = render(request, "login.html", status=429, next=target,
                          error=f"{_REFUSED[attempt.reason]}wait {minutes} minute{'s' if minutes > 1 else ''}.")
        response.headers["retry-after"] = str(attempt.retry_after_s)
        return response
    user = authenticate(store, name, password)
    if user is None:
        throttle.failed(store, attempt)
        security_event("login_failed", request, user=name, why="wrong name or password")
        return render(request, "login.html", status=401, next=target, error="Wrong name or password.")
    throttle.succeeded(store, attempt, name, client)
    start_session(request, user)
    request.state.user = user.name
    event(log, "login", user=user.name, client=client)
    response = RedirectResponse(target, status_code=303)
    remember_device(request, response, user.name)
    return response


@router.post("/logout")
async def logout(request: Request, store: StoreDep) -> Response:
    form = await request.form()
    check_csrf(request, form)
    name = request.session.get("user")
    if isinstance(name, str):
        # Every session of the user ends, in every browser: a copied cookie is worth nothing after logout.
        await run_in_threadpool(end_sessions, store, name)
        await run_in_threadpool(routing.mark_offline, store, name)
        getattr(request.app.state, "presence_written", {}).pop(name, None)
        event(log, "logout", user=name, client=client_address(request))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


# ---------------------------------------------------------------- the list
@router.get("/")
def queue_list(request: Request, store: StoreDep) -> Response:
    user = require_user(request, store)
    live_cursor = live.cursor(store)  # before reading: a change while the page renders is replayed, not lost
    _online(request, store, user.name)
    params = {k: (request.query_params.get(k) or "").strip() for k in FILTER_KEYS}
    flt = ItemFilter(
        state=params["state"] or "open", brand=params["brand"] or None, source=params["source"] or None,
        priority=params["priority"] or None, assignee=params["assignee"] or None, theme=params["theme"] or None,
        lang=params["lang"] or None, search=params["q"] or None, sort=params["sort"] or "sla")
    queue = _queue(request, store)
    # Keep the clock moving while people work even if no pipeline runs: snoozes end, breaches are raised.
    if time.monotonic() - request.app.state.last_tick > TICK_SECONDS:
        request.app.state.last_tick = time.monotonic()
        queue.tick(request.app.state.config, send_alert=enqueue_system_alert)
    error = None
    try:
        items = queue.list(flt)
        counts = queue.counts(flt)
    except UserError as exc:
        error, items, counts = str(exc), [], queue.counts(ItemFilter())
    now = utcnow()
    rows = [(item, queue.sla(item, now)) for item in items]

    def link(**change: str) -> str:
        merged = {**{k: v for k, v in params.items() if v}, **change}
        return "/?" + urlencode({k: v for k, v in merged.items() if v})

    here = "/?" + urlencode({k: v for k, v in params.items() if v}) if any(params.values()) else "/"
    return render(request, "list.html", user=user, rows=rows, counts=counts, params=params, flt=flt, here=here,
                  bulk_actions=BULK_ACTIONS,
                  choices=_filter_choices(request, store), states=STATES, priorities=PRIORITIES, link=link, error=error,
                  stats=queue.stats(), live_cursor=live_cursor)


def _filter_choices(request: Request, store: Store) -> dict[str, list[str]]:
    """The filter drop-downs, recomputed only when mentions, scores or queue items changed since last time.

    Computing them reads every queue item's thread (most of a queue page's time with a big history);
    the stamp is a few index look-ups on both engines (migration 290), and moves when a mention is
    stored (its id), scored or re-scored in place (keep_scores stamps scores.scored_at, the first score
    and a later look alike), or a queue item is added, changed or removed. Times are to the second: a
    change in the same second as the newest one before it is seen with the next change.
    """
    stamp = store.conn.execute(
        "SELECT (SELECT MAX(id) FROM mentions), (SELECT MAX(scored_at) FROM scores), "
        "(SELECT MAX(id) FROM queue_events), (SELECT COUNT(*) FROM queue_items), "
        "(SELECT MAX(updated_at) FROM queue_items)").fetchone()
    cached = getattr(request.app.state, "filter_choices", None)
    if cached is None or cached[0] != tuple(stamp):
        cached = (tuple(stamp), filter_choices(store))
        request.app.state.filter_choices = cached
    return cached[1]


# ---------------------------------------------------------------- one item
@router.get("/items/{item_id}")
def item_page(request: Request, item_id: ItemId, store: StoreDep) -> Response:
    user = require_user(request, store)
    queue = _queue(request, store)
    live_cursor = live.cursor(store)
    try:
        item = queue.get(item_id)
    except UserError as exc:
        return render(request, "error.html", status=404, user=user, message=str(exc), title="Not found")
    queue.seen_by(item_id, user.name)
    _online(request, store, user.name)
    events = queue.events(item_id)
    return render(
        request, "item.html", user=user, item=item, sla=queue.sla(item), mentions=queue.thread_mentions(item),
        events=events, notes=[e for e in events if e["action"] == "note"], describe=describe_event,
        history=queue.author_history(item), others=[v for v in queue.viewers(item_id) if v != user.name],
        outcomes=OUTCOMES, dismiss_reasons=DISMISS_REASONS, labels=HUMAN_LABELS,
        users=[u.name for u in list_users(store) if not u.disabled], snooze_default=queue.config.snooze_minutes,
        snooze_text=actions.minutes_text(queue.config.snooze_minutes), confirms=_confirms(),
        live_cursor=live_cursor, **reply_context(store, request.app.state.config, item, user))


def _confirms() -> dict[str, str]:
    """Action (and old path) -> the question the page asks before doing it (alerts.actions)."""
    found = {a.name: a.confirm for a in actions.on(actions.WEB) if a.confirm}
    found.update({alias: found[name] for alias, name in actions.ALIASES.items() if name in found})
    return found


@router.get("/items/{item_id}/presence")
def presence(request: Request, item_id: ItemId, store: StoreDep) -> Response:
    """Who else has the item open (polled by the item page, which also keeps our own presence fresh)."""
    user = require_user(request, store)
    queue = _queue(request, store)
    try:
        item = queue.get(item_id)
    except UserError as exc:
        return error_page(request, 404, str(exc))  # JSON for the page's script, which asks for it
    queue.seen_by(item_id, user.name)
    _online(request, store, user.name)
    return JSONResponse({"viewers": [v for v in queue.viewers(item_id) if v != user.name],
                         "assignee": item.assignee, "state": item.state, "updated_at": item.updated_at})


@router.post("/items/{item_id}/{action}")
async def item_action(request: Request, item_id: ItemId, action: str, store: StoreDep) -> Response:
    form = await request.form()
    # SQLite work off the event loop: a write that waits for the pipeline's lock must not freeze the UI.
    return await run_in_threadpool(_item_action, request, item_id, action, store, form)


def _item_action(request: Request, item_id: int, action: str, store: Store, form: Any) -> Response:
    user = require_user(request, store)
    check_csrf(request, form)
    queue = _queue(request, store)
    try:
        declared = actions.get(action)
    except UserError:
        declared = None
    if declared is None or actions.WEB not in declared.surfaces:
        return error_page(request, 404, f"unknown action {action!r}")
    # The form's fields are the action's arguments, by name (alerts.actions); the list parses them.
    values = {arg.name: _text(form, arg.name) for arg in declared.args}
    if declared.name == "assign" and user.is_admin:
        values["take_over"] = "1"  # the web's assign menu is an admin's reassignment tool as well
    try:
        item = actions.perform(queue, declared.name, item_id, user.name, values)
    except UserError as exc:
        flash(request, "error", str(exc))
        return RedirectResponse(f"/items/{item_id}", status_code=303)
    done = f"Assigned to {item.assignee}." if declared.name == "assign" else declared.done
    flash(request, "ok", done)
    return RedirectResponse(f"/items/{item_id}", status_code=303)


# action -> (what the menu says, what the confirmation says)
BULK_ACTIONS = {
    "claim": ("Claim", "Claimed"),
    "snooze": ("Snooze", "Snoozed"),
    "dismiss:spam": ("Dismiss as spam", "Dismissed as spam"),
    "dismiss:not_our_brand": ("Dismiss as not our brand", "Dismissed as not our brand"),
    "dismiss:duplicate": ("Dismiss as duplicates", "Dismissed as duplicates"),
    "dismiss:no_action": ("Dismiss (no action needed)", "Dismissed (no action needed)"),
}


def _safe_back(target: str) -> str:
    return target if target.startswith("/?") or target == "/" else "/"


@router.post("/bulk")
async def bulk_action(request: Request, store: StoreDep) -> Response:
    """One action on many items from the list (triage): each item succeeds or fails on its own."""
    form = await request.form()
    return await run_in_threadpool(_bulk_action, request, store, form)


def _bulk_action(request: Request, store: Store, form: Any) -> Response:
    user = require_user(request, store)
    check_csrf(request, form)
    queue = _queue(request, store)
    action = _text(form, "action")
    back = _safe_back(_text(form, "back") or "/")
    if action not in BULK_ACTIONS:
        flash(request, "error", "Pick an action for the selected items.")
        return RedirectResponse(back, status_code=303)
    try:
        ids = [int(v) for v in form.getlist("ids")]
    except (ValueError, TypeError):  # not a number, or a file where an id should be
        ids = []
    done, failed = [], []
    for item_id in ids:
        try:
            name, _, reason = action.partition(":")
            actions.perform(queue, name, item_id, user.name, {"reason": reason} if reason else {})
            done.append(item_id)
        except UserError as exc:
            failed.append(str(exc))
    if done:
        flash(request, "ok", f"{BULK_ACTIONS[action][1]}: {', '.join(f'#{i}' for i in done)}.")
    for message in failed[:3]:
        flash(request, "error", message)
    if not ids:
        flash(request, "error", "Select items first (x on the keyboard).")
    return RedirectResponse(back, status_code=303)


# ---------------------------------------------------------------- Slack buttons
@router.post("/slack/actions")
async def slack_interactivity(request: Request, background: BackgroundTasks,
                              store: StoreDep) -> Response:
    """Slack's interactivity URL. Signed by Slack instead of a session; see alerts.slack_actions."""
    body = await request.body()
    reply = await run_in_threadpool(slack_actions.handle, store, request.app.state.config,
                                    request.app.state.slack_signing_secret, body, request.headers)
    if reply.security_event:
        security_event(reply.security_event, request, why=reply.text or None)
    if reply.response_url and reply.followup:
        background.add_task(slack_actions.send_followup, reply.response_url, reply.followup)
    return Response(reply.text, status_code=reply.status, media_type="text/plain")
