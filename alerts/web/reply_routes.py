"""The item page's reply composer: send, count, retry, approve, reject. Every action goes through
alerts.replies.send (the same function the CLI calls); CSRF and login as on every other form."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from alerts.queue import MAX_ID, QueueItem
from alerts.replies import send as replies
from alerts.users import User
from alerts.web.app import check_csrf, flash, open_store, require_user, wants_html
from listener.config import Config
from listener.errors import UserError
from listener.store import Store

log = logging.getLogger("overheard.web")
router = APIRouter()
StoreDep = Annotated[Store, Depends(open_store)]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
ReplyId = Annotated[int, Path(ge=1, le=MAX_ID)]


def reply_context(store: Store, config: Config, item: QueueItem, user: User) -> dict[str, Any]:
    """What item.html needs for the composer and the list of reply attempts."""
    targets = replies.targets(store, config, item.thread_key)
    options = []
    for t in targets:
        measured = replies.measure(config, t.source, "")
        options.append({"mention_id": t.mention_id, "author": t.author or "unknown", "text": t.text,
                        "source": t.source, "platform": measured["platform"], "limit": measured["limit"],
                        "configured": t.configured})
    default = next((o for o in options if o["configured"]), options[0] if options else None)
    try:
        saved = replies.offered_saved_replies(store, config, item.id)
    except UserError:
        saved = []
    row = {"brand": item.brand, "priority": item.priority}
    return {
        "composer": {"targets": options, "default": default, "saved": saved,
                     "approval": replies.needs_approval(store, config, user.name, row),
                     "open": item.state in replies.REPLYABLE_STATES},
        "replies": replies.list_replies(store, item.id),
    }


def _answer(request: Request, item_id: int, ok: bool, message: str, reply: replies.Reply | None = None,
            status: int = 200) -> Response:
    """JSON for the composer's script (it keeps the text on an error); a redirect with a flash otherwise."""
    if not wants_html(request):
        if reply is not None:  # the script reloads the page to show the attempt: the flash says what happened
            flash(request, "ok" if ok else "error", message)
        return JSONResponse({"ok": ok, "message": message, "reply": reply.to_dict() if reply else None},
                            status_code=status)
    flash(request, "ok" if ok else "error", message)
    return RedirectResponse(f"/items/{item_id}#replies", status_code=303)


def _said(reply: replies.Reply) -> tuple[bool, str]:
    if reply.state == replies.POSTED:
        return True, f"Posted on {reply.platform}."
    if reply.state == replies.AWAITING:
        return True, "Saved: it waits for an admin's approval before it is posted."
    if reply.state == replies.REJECTED:
        return True, "Rejected: it will not be posted."
    if reply.state == replies.FAILED:
        return False, f"Not posted: {reply.platform} refused it: {reply.error}"
    return False, f"The reply may have been posted ({reply.error or 'no answer'}); check on {reply.platform}."


def _int(value: Any) -> int | None:
    try:
        return int(value) if isinstance(value, str) and value.strip() else None
    except ValueError:
        raise UserError(f"mention {value!r}: not a mention id") from None


@router.post("/items/{item_id}/reply/send")
async def send(request: Request, item_id: ItemId, store: StoreDep) -> Response:
    form = await request.form()
    return await run_in_threadpool(_send, request, item_id, store, form)


def _send(request: Request, item_id: int, store: Store, form: Any) -> Response:
    user = require_user(request, store)
    check_csrf(request, form)
    config = request.app.state.config
    text = form.get("text") if isinstance(form.get("text"), str) else ""
    saved = form.get("saved") if isinstance(form.get("saved"), str) else ""
    try:
        reply = replies.send_reply(store, config, item_id, text, user.name, mention_id=_int(form.get("mention_id")),
                                   saved=saved.strip() or None)
    except UserError as exc:
        return _answer(request, item_id, False, str(exc), status=400)
    ok, message = _said(reply)
    return _answer(request, item_id, ok, message, reply, 200 if ok else 502)


@router.post("/items/{item_id}/reply/count")
async def count(request: Request, item_id: ItemId, store: StoreDep) -> Response:
    """The reply's length as the platform counts it: the counter's authority (the page's script mirrors it)."""
    form = await request.form()
    return await run_in_threadpool(_count, request, item_id, store, form)


def _count(request: Request, item_id: int, store: Store, form: Any) -> Response:
    require_user(request, store)
    check_csrf(request, form)
    config = request.app.state.config
    text = form.get("text") if isinstance(form.get("text"), str) else ""
    try:
        item = replies.Queue(store, config.queue)._load(item_id)
        target = replies.pick_target(store, config, item, _int(form.get("mention_id")))
    except UserError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(replies.measure(config, target.source, text.strip()))


@router.post("/items/{item_id}/reply/{reply_id}/{action}")
async def reply_action(request: Request, item_id: ItemId, reply_id: ReplyId, action: str,
                       store: StoreDep) -> Response:
    form = await request.form()
    return await run_in_threadpool(_reply_action, request, item_id, reply_id, action, store, form)


def _reply_action(request: Request, item_id: int, reply_id: int, action: str, store: Store, form: Any) -> Response:
    user = require_user(request, store)
    check_csrf(request, form)
    config = request.app.state.config
    try:
        if replies.get_reply(store, reply_id).item_id != item_id:
            raise UserError(f"reply {reply_id}: not a reply of queue item {item_id}")
        if action == "retry":
            reply = replies.retry_reply(store, config, reply_id, user.name, checked=form.get("checked") == "1")
        elif action == "approve":
            reply = replies.approve_reply(store, config, reply_id, user.name)
        elif action == "reject":
            reason = form.get("reason") if isinstance(form.get("reason"), str) else ""
            reply = replies.reject_reply(store, config, reply_id, user.name, reason)
        else:
            return _answer(request, item_id, False, f"unknown reply action {action!r}", status=404)
    except UserError as exc:
        return _answer(request, item_id, False, str(exc), status=400)
    ok, message = _said(reply)
    return _answer(request, item_id, ok, message, reply, 200 if ok else 502)
