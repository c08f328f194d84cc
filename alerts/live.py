"""What changed in the queue since a cursor, for the live inbox (`GET /events`).

The cursor is the id of the last `queue_events` row a page has seen. Every change to an item is such a
row (created, claimed, assigned, replied, resolved, snoozed, breached, ...; see alerts.queue.add_event),
written in the same transaction as the change, so the events table is the change feed: it is in the
store, so every web process (and the pipeline or daemon in another process) sees the same feed, and a
browser that reconnects after a restart resumes where it stopped (EventSource sends the last id back).

A change carries only what the list and the item page show about an item (state, assignee, priority,
brand, the SLA line, the first response time) and one line saying what happened ("replied on
Mastodon"), never note text, reply text or mention text: the page fetches those through its own
authenticated routes if it needs them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.queue import ItemFilter, Queue, QueueItem, describe_event
from alerts.users import User
from listener.errors import UserError
from listener.models import parse_iso, utcnow
from listener.store import Store

MAX_BATCH = 200
# The list's filters (the query string of `GET /`) that narrow its state tabs' counts; state and sort do not.
COUNT_FILTERS = {"brand": "brand", "source": "source", "priority": "priority", "assignee": "assignee",
                 "theme": "theme", "lang": "lang", "q": "search"}


def cursor(store: Store) -> int:
    """The newest change id now: a page rendered after this call has seen everything up to it."""
    return int(store.scalar("SELECT MAX(id) FROM queue_events") or 0)


def may_see(user: User, item: dict[str, Any]) -> bool:
    """Whether `user` may see changes to `item`. Every user works one shared queue today (docs/queue.md,
    "Who may do what"); a rule that narrows who sees which brand belongs here and in the pages alike."""
    return not user.disabled


def changes(store: Store, queue: Queue, user: User, after: int, *, limit: int = MAX_BATCH,
            now: datetime | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Changes after `after` (oldest first, at most `limit`) and the cursor to ask from next."""
    now = now or utcnow()
    events = store.query("SELECT id, item_id, at, actor, action, detail FROM queue_events WHERE id > ? ORDER BY id "
                         "LIMIT ?", (after, limit))
    if not events:
        return after, []
    ids = sorted({e["item_id"] for e in events})
    marks = ", ".join("?" for _ in ids)
    items = {r["id"]: r for r in store.query(f"SELECT * FROM queue_items WHERE id IN ({marks})", ids)}
    zone = ZoneInfo(queue.config.timezone)
    out = []
    for e in events:
        row = items.get(e["item_id"])
        if row is None or not may_see(user, row):
            continue
        item = QueueItem.from_row(row)
        sla = queue.sla(item, now)
        out.append({"id": e["id"], "item_id": e["item_id"], "at": e["at"], "actor": e["actor"], "action": e["action"],
                    "state": item.state, "assignee": item.assignee, "priority": item.priority, "brand": item.brand,
                    "sla": sla.label(), "sla_status": sla.status, "sla_reason": sla.reason,
                    "post_age": sla.post_age, "first_response": local_time(item.first_response_at, zone),
                    "what": what_happened(e["action"], e["detail"], e)})
    return events[-1]["id"], out


# Events whose audit line quotes text someone wrote (a note, a reply, a rejection's reason): the feed
# says what happened without the words.
_WITHOUT_TEXT = {
    "note": lambda d: "added a note",
    "reply_posted": lambda d: f"replied on {d.get('platform')}",
    "reply_awaiting_approval": lambda d: f"wrote reply {d.get('reply_id')}, waiting for approval",
    "reply_rejected": lambda d: f"rejected reply {d.get('reply_id')} by {d.get('author')}",
}


def what_happened(action: str, detail: Any, event: dict[str, Any]) -> str:
    """The event's audit-trail line as the item page shows it, minus any text a person wrote."""
    try:
        d = json.loads(detail) if isinstance(detail, (str, bytes)) else (detail or {})
    except ValueError:
        d = {}
    if not isinstance(d, dict):
        d = {}
    if action in _WITHOUT_TEXT:
        return _WITHOUT_TEXT[action](d)
    try:
        return describe_event({**event, "detail": d})
    except (KeyError, TypeError, ValueError):  # an old event without the fields today's line reads
        return action.replace("_", " ")


def local_time(value: str | None, zone: ZoneInfo) -> str:
    """A stored time as the pages print it (the `local` filter of alerts.web.app), "" for none."""
    if not value:
        return ""
    try:
        return parse_iso(value).astimezone(zone).strftime("%a %d %b %H:%M")
    except (OverflowError, ValueError):
        return value


def counts_filter(params: Any) -> ItemFilter:
    """The filter a list page's tab counts are under, from its query string (as `GET /` reads it)."""
    values = {field: (params.get(key) or "").strip() or None for key, field in COUNT_FILTERS.items()}
    return ItemFilter(state="all", **values)


def tab_counts(queue: Queue, flt: ItemFilter) -> dict[str, int] | None:
    """Items per state under the list's filters, as the list's tabs show them; None for a filter the list
    itself refuses (it shows its error instead of counts)."""
    try:
        return queue.counts(flt)
    except UserError:
        return None
