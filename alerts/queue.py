"""The support queue: one item per flagged thread. New mentions in the thread join the item."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from listener.config import QueueConfig
from listener.models import iso, parse_iso, utcnow
from listener.store import Store

OPEN_STATES = ("new", "claimed", "waiting", "replied", "snoozed")


def priority_for(risk: float) -> str:
    return "high" if risk >= 75 else "medium" if risk >= 50 else "low"


def add_event(store: Store, item_id: int, actor: str, action: str, detail: dict[str, Any] | None = None,
              at: datetime | None = None) -> None:
    store.conn.execute(
        "INSERT INTO queue_events (item_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
        (item_id, iso(at or utcnow()), actor, action, json.dumps(detail or {}, ensure_ascii=False)),
    )


def upsert_for_thread(store: Store, thread: dict[str, Any], sla: QueueConfig,
                      now: datetime | None = None) -> tuple[int, bool]:
    """Create the queue item of a flagged thread, or refresh its risk; returns (item id, created)."""
    now = now or utcnow()
    priority = priority_for(thread["risk"])
    existing = store.query("SELECT * FROM queue_items WHERE thread_key = ?", (thread["thread_key"],))
    if existing:
        item = existing[0]
        if item["risk"] != thread["risk"] or item["priority"] != priority:
            store.conn.execute(
                "UPDATE queue_items SET risk = ?, priority = ?, updated_at = ? WHERE id = ?",
                (thread["risk"], priority, iso(now), item["id"]),
            )
            if item["priority"] != priority:
                add_event(store, item["id"], "overheard", "priority",
                          {"from": item["priority"], "to": priority, "risk": thread["risk"]}, now)
        return item["id"], False
    target = sla.sla.get(priority)
    opened = max(now, parse_iso(thread["last_at"])) if thread.get("last_at") else now
    cur = store.conn.execute(
        "INSERT INTO queue_items (thread_key, brand, source, state, priority, risk, created_at, updated_at, "
        "first_response_due, resolution_due) VALUES (?, ?, ?, 'new', ?, ?, ?, ?, ?, ?)",
        (thread["thread_key"], thread["brand"], thread["source"], priority, thread["risk"], iso(now), iso(now),
         iso(opened + timedelta(minutes=target.first_response_minutes)) if target else None,
         iso(opened + timedelta(minutes=target.resolution_minutes)) if target else None),
    )
    item_id = int(cur.lastrowid)
    add_event(store, item_id, "overheard", "created", {"risk": thread["risk"], "priority": priority}, now)
    return item_id, True
