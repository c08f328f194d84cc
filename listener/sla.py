"""SLA breaches in the support queue: listed for `overheard status`, alerted once each by the daemon."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from alerts.message import Alert
from alerts.rules import enqueue_system_alert
from listener.config import Config
from listener.models import iso, parse_iso, utcnow
from listener.store import Store

SLA_RULE = "sla-breach"


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
    """Open queue items past a due time: no first response yet, or not resolved yet. Snoozed items wait."""
    now = now or utcnow()
    stamp = iso(now)
    rows = store.query(
        "SELECT id, thread_key, brand, source, priority, first_response_due, resolution_due, first_response_at, "
        "resolved_at FROM queue_items WHERE state NOT IN ('resolved', 'dismissed') "
        "AND NOT (state = 'snoozed' AND COALESCE(snoozed_until, '') > ?) "
        "AND ((first_response_at IS NULL AND first_response_due < ?) OR (resolved_at IS NULL AND resolution_due < ?)) "
        "ORDER BY id",
        (stamp, stamp, stamp),
    )
    out = []
    for r in rows:
        for target, due, done in (("first-response", r["first_response_due"], r["first_response_at"]),
                                  ("resolution", r["resolution_due"], r["resolved_at"])):
            if due and not done and due < stamp:
                minutes = int((now - parse_iso(due)).total_seconds() // 60)
                out.append(SlaBreach(r["id"], r["thread_key"], r["brand"], r["source"], r["priority"], target,
                                     due, minutes))
    return out


def alert_sla_breaches(store: Store, config: Config, now: datetime | None = None) -> int:
    """Queue one `sla` alert per breached item and target (the outbox key makes repeats free)."""
    queued = 0
    for breach in sla_breaches(store, now):
        what = "no first response" if breach.target == "first-response" else "not resolved"
        base = config.alerts.queue_url.rstrip("/")
        alert = Alert(
            kind="sla", rule=SLA_RULE, level=breach.target, brand=breach.brand, source=breach.source,
            thread_key=breach.thread_key,
            title=f"SLA breached: queue item #{breach.item_id} ({breach.priority} priority), {what}, "
                  f"due {breach.due}",
            risk=0.0, reasons=[f"{breach.overdue_minutes} minutes overdue"], url=None,
            queue_url=f"{base}/items/{breach.item_id}", created_at=iso(now or utcnow()),
        )
        queued += enqueue_system_alert(store, config, alert)
    return queued
