"""SLA breaches in the support queue, as `overheard status` lists them (read-only).

Raising the breach alerts is the queue's clock (`alerts.queue.Queue.tick`), which the daemon's `sla`
job and every `process` pass run; this module only reads the same due times for the status view.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from listener.models import iso, parse_iso, utcnow
from listener.store import Store


@dataclass
class SlaBreach:
    item_id: int
    thread_key: str
    brand: str | None
    source: str | None
    priority: str
    target: str  # "first-response" or "resolution"
    due: str
    overdue_minutes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sla_breaches(store: Store, now: datetime | None = None) -> list[SlaBreach]:
    """Open queue items past a due time: no first response yet, or not resolved yet (an item waiting on
    the customer does not run its resolution clock, as in the queue)."""
    now = now or utcnow()
    stamp = iso(now)
    rows = store.query(
        "SELECT id, thread_key, brand, source, priority, state, first_response_due, resolution_due, "
        "first_response_at, resolved_at FROM queue_items WHERE state NOT IN ('resolved', 'dismissed') "
        "AND ((first_response_at IS NULL AND first_response_due < ?) "
        "OR (state != 'waiting' AND resolved_at IS NULL AND resolution_due < ?)) ORDER BY id",
        (stamp, stamp),
    )
    out = []
    for r in rows:
        for target, due, done in (("first-response", r["first_response_due"], r["first_response_at"]),
                                  ("resolution", r["resolution_due"], r["resolved_at"] or r["state"] == "waiting")):
            if due and not done and due < stamp:
                minutes = int((now - parse_iso(due)).total_seconds() // 60)
                out.append(SlaBreach(r["id"], r["thread_key"], r["brand"], r["source"], r["priority"], target,
                                     due, minutes))
    return out
