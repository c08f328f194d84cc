"""The outbox: every alert is written before it is sent and marked delivered after.

The idempotency key (thread, rule, level, receiver) is unique, so re-evaluating a thread after a
crash or restart never queues the same alert twice; a failed receiver is retried with backoff and
never blocks the others.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.channels.base import Channel, DeliveryError
from alerts.message import Alert
from listener.models import iso, utcnow
from listener.store import Store

log = logging.getLogger("overheard.alerts")
MAX_ATTEMPTS = 12
BACKOFF_BASE_S = 30.0
BACKOFF_MAX_S = 3600.0


def idem_key(thread_key: str | None, rule: str, level: str, receiver: str) -> str:
    return f"{thread_key or '-'}|{rule}|{level}|{receiver}"


def enqueue(store: Store, alert: Alert, receiver: str) -> bool:
    """Write the alert for `receiver` unless that key is already there; True when it is new."""
    key = idem_key(alert.thread_key, alert.rule, alert.level, receiver)
    cur = store.conn.execute(
        "INSERT OR IGNORE INTO outbox (idem_key, receiver, rule, thread_key, level, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (key, receiver, alert.rule, alert.thread_key, alert.level,
         json.dumps(alert.to_dict(), ensure_ascii=False), alert.created_at or iso(utcnow())),
    )
    return cur.rowcount == 1


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    gave_up: int = 0


def deliver_pending(store: Store, channels: Mapping[str, Channel], now: datetime | None = None,
                    limit: int = 500) -> DeliveryReport:
    """Send what is due, oldest first. Each row is marked in its own transaction right after sending."""
    now = now or utcnow()
    report = DeliveryReport()
    rows = store.query(
        "SELECT * FROM outbox WHERE delivered_at IS NULL AND attempts < ? "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?",
        (MAX_ATTEMPTS, iso(now), limit),
    )
    blocked: set[str] = set()  # a receiver that just failed is not hammered again in this pass
    for row in rows:
        channel = channels.get(row["receiver"])
        if channel is None or row["receiver"] in blocked:
            continue
        previous = store.scalar(
            "SELECT external_ref FROM outbox WHERE receiver = ? AND thread_key IS ? AND external_ref IS NOT NULL "
            "AND id < ? ORDER BY id DESC LIMIT 1",
            (row["receiver"], row["thread_key"], row["id"]),
        ) if row["thread_key"] else None
        try:
            ref = channel.send(Alert.from_dict(json.loads(row["payload"])), row["idem_key"], previous)
        except DeliveryError as exc:
            attempts = row["attempts"] + 1
            delay = exc.retry_after if exc.retry_after is not None else min(
                BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempts - 1))
            give_up = exc.permanent or attempts >= MAX_ATTEMPTS
            with store.transaction():
                store.conn.execute(
                    "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
                    (MAX_ATTEMPTS if give_up else attempts, str(exc)[:500],
                     iso(now + timedelta(seconds=delay)), row["id"]),
                )
            report.failed += 1
            report.gave_up += int(give_up)
            blocked.add(row["receiver"])
            log.warning("alert %s to %s failed (attempt %d): %s", row["idem_key"], row["receiver"], attempts, exc)
            continue
        with store.transaction():
            store.conn.execute(
                "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, external_ref = ?, last_error = NULL "
                "WHERE id = ?",
                (iso(utcnow()), ref, row["id"]),
            )
        report.delivered += 1
    return report
