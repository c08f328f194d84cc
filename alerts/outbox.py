"""The outbox: every alert is written before it is sent and marked delivered after.

The idempotency key (thread, rule, level, receiver) is unique, so re-evaluating a thread after a
crash or restart never queues the same alert twice; a failed receiver is retried with backoff
(a Slack 429's Retry-After is honoured) and never blocks the others.

A message is marked "sending" (committed) before the receiver sees it and delivered right after.
A row found marked but not delivered — the process died in between, or the answer was lost — is
first looked up at the receiver (Channel.find_sent: the Slack bot reads the channel history for the
key in its message metadata), so it is not sent twice where the receiver can tell.

Several workers on one store: each receiver's outbox is sent by one worker at a time, the one holding
the lease "deliver:<receiver>" (listener.leases), renewed before every message, so the hourly cap,
grouping and the order of a thread's messages hold as with one worker. The rows are read after the
lease is taken, and each row is claimed by its sending mark (set only if nobody marked or delivered
it since it was read), so two workers never both send one. A worker that dies mid-send leaves its rows
marked: the next one (once the lease runs out) treats them as above — looked up at the receiver first.

Delivery applies the send-time half of noise control (see alerts.noise): quiet hours, the hourly
cap per receiver, and grouping — alerts of one group that are due together go out as one message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alerts import noise
from alerts.channels.base import Channel, DeliveryError
from alerts.message import Alert
from listener import leases
from listener.masking import mask
from listener.models import iso, parse_iso, utcnow
from listener.store import Store

log = logging.getLogger("overheard.alerts")
MAX_ATTEMPTS = 12
BACKOFF_BASE_S = 30.0
BACKOFF_MAX_S = 3600.0


def idem_key(thread_key: str | None, rule: str, level: str, receiver: str, suffix: str = "") -> str:
    return f"{thread_key or '-'}|{rule}|{level}|{receiver}{suffix}"


def enqueue(store: Store, alert: Alert, receiver: str, *, group: str | None = None,
            hold_until: datetime | None = None, hold: str | None = None, key_suffix: str = "") -> bool:
    """Write the alert for `receiver` unless that key is already there; True when it is new.

    `hold_until` keeps it back (group wait, cooldown) — `hold` says why, for `overheard alerts list`.
    """
    key = idem_key(alert.thread_key, alert.rule, alert.level, receiver, key_suffix)
    cur = store.conn.execute(
        "INSERT OR IGNORE INTO outbox (idem_key, receiver, rule, thread_key, level, payload, created_at, "
        "next_attempt_at, group_key, hold) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (key, receiver, alert.rule, alert.thread_key, alert.level,
         json.dumps(alert.to_dict(), ensure_ascii=False), alert.created_at or iso(utcnow()),
         iso(hold_until) if hold_until else None, group, hold if hold_until else None),
    )
    return cur.rowcount == 1


class _Taken(Exception):
    """A row of the message was marked or delivered by another worker since it was read."""


@dataclass
class DeliveryReport:
    delivered: int = 0  # outbox rows marked delivered (a digest delivers several)
    messages: int = 0  # messages sent
    failed: int = 0
    gave_up: int = 0
    held: int = 0  # kept back by quiet hours or the hourly cap


@dataclass
class _Batch:
    rows: list[dict[str, Any]]
    digest_reason: str | None = None  # quiet | cap | group; None: one alert


def _due(store: Store, now: datetime, limit: int, receiver: str | None = None) -> list[dict[str, Any]]:
    return store.query(
        "SELECT * FROM outbox WHERE delivered_at IS NULL AND attempts < ? "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) " + ("AND receiver = ? " if receiver else "")
        + "ORDER BY id LIMIT ?",
        (MAX_ATTEMPTS, iso(now), *((receiver,) if receiver else ()), limit),
    )


def _due_receivers(store: Store, now: datetime) -> list[str]:
    return [r[0] for r in store.conn.execute(
        "SELECT DISTINCT receiver FROM outbox WHERE delivered_at IS NULL AND attempts < ? "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY receiver", (MAX_ATTEMPTS, iso(now)))]


def _collapse(store: Store, rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Keep only the newest alert per thread: a thread is only re-alerted at a higher level, so a lower
    alert still waiting is superseded by the louder one."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row["thread_key"]:
            continue
        cur = best.get(row["thread_key"])
        if cur is None or row["id"] > cur["id"]:
            best[row["thread_key"]] = row
    superseded = [r for r in rows if r["thread_key"] and best[r["thread_key"]] is not r]
    if superseded:
        with store.transaction() as conn:
            for r in superseded:
                conn.execute("UPDATE outbox SET delivered_at = ?, sent_as = 'superseded', hold = NULL WHERE id = ?",
                             (iso(now), r["id"]))
    keep = {r["id"] for r in best.values()}
    return [r for r in rows if not r["thread_key"] or r["id"] in keep]


def _drop_stale(store: Store, rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """A held alert whose thread already went out louder on this receiver (a critical that skipped quiet
    hours) is superseded: the digest must not repeat old news."""
    fresh, stale = [], []
    for r in rows:
        newer = r["thread_key"] and store.scalar(
            "SELECT 1 FROM outbox WHERE receiver = ? AND thread_key = ? AND id > ? AND delivered_at IS NOT NULL "
            "AND sent_as != 'superseded' LIMIT 1", (r["receiver"], r["thread_key"], r["id"]))
        (stale if newer else fresh).append(r)
    if stale:
        with store.transaction() as conn:
            for r in stale:
                conn.execute("UPDATE outbox SET delivered_at = ?, sent_as = 'superseded', hold = NULL WHERE id = ?",
                             (iso(now), r["id"]))
    return fresh


def _batches(store: Store, rows: list[dict[str, Any]], now: datetime) -> list[_Batch]:
    rows = _drop_stale(store, rows, now)
    held = [r for r in rows if r["hold"] in ("quiet", "cap")]
    batches: list[_Batch] = []
    if held:
        held = _collapse(store, held, now)
        reason = "quiet" if all(r["hold"] == "quiet" for r in held) else "cap"
        batches.append(_Batch(held, reason if len(held) > 1 else None))
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["hold"] in ("quiet", "cap"):
            continue
        groups.setdefault(r["group_key"] or f"row:{r['id']}", []).append(r)
    for members in groups.values():
        members = _collapse(store, members, now)
        batches.append(_Batch(members, "group" if len(members) > 1 else None))
    return batches


def digest_alert(rows: list[dict[str, Any]], reason: str, receiver: str, note: str = "") -> Alert:
    """One message that summarises several alerts (quiet hours, the cap's overflow, or a group)."""
    alerts = [Alert.from_dict(json.loads(r["payload"])) for r in rows]
    alerts.sort(key=lambda a: -a.risk)
    n = len(alerts)
    titles = {
        "quiet": f"{n} alerts held during quiet hours",
        "cap": f"{n} alerts held back by the hourly limit for {receiver}",
        "group": f"{n} alerts",
    }
    brands = sorted({a.brand for a in alerts if a.brand})
    title = titles.get(reason, f"{n} alerts") + (f" about {', '.join(brands)}" if brands else "")
    top = max(alerts, key=lambda a: a.risk)
    return Alert(kind="digest", rule=",".join(sorted({a.rule for a in alerts})), level=top.level,
                 brand=brands[0] if len(brands) == 1 else None, source=None, thread_key=None, title=title,
                 risk=top.risk, reasons=[], url=None, queue_url=None, mentions=[], created_at=iso(utcnow()),
                 grouped=[a.summary() for a in alerts], note=note)


def _quiet_note(channel: Channel) -> str:
    q = getattr(channel.config, "quiet_hours", None)
    return f"Quiet hours {q.start}–{q.end} {q.timezone}" if q else ""


def deliver_pending(store: Store, channels: Mapping[str, Channel], now: datetime | None = None,
                    limit: int = 500, *, holder: str | None = None,
                    lease_s: float = leases.ONE_SHOT_LEASE_S) -> DeliveryReport:
    """Send what is due, oldest first. Each message's rows are marked sending (committed) before it goes
    out and delivered in one transaction right after; a row found marked sending but not delivered is
    first looked up at the receiver (see Channel.find_sent), so a crash in between sends nothing twice.
    Each receiver is sent to under its lease (`holder`: this worker's lease name); a receiver another
    worker is sending to is left to it."""
    now = now or utcnow()
    report = DeliveryReport()
    holder = holder or leases.worker_id()
    for receiver in _due_receivers(store, now):
        channel = channels.get(receiver)
        if channel is None:
            continue
        lease = f"deliver:{receiver}"
        with leases.held(store, lease, holder, lease_s) as mine:
            if mine:  # read under the lease: what another worker sent before it let go is not due any more
                _deliver_to(store, channel, receiver, _due(store, now, limit, receiver), now, report,
                            lambda lease=lease: leases.take(store, lease, holder, lease_s))
    return report


def _deliver_to(store: Store, channel: Channel, receiver: str, rows: list[dict[str, Any]], now: datetime,
                report: DeliveryReport, still_mine: Callable[[], bool]) -> None:
    if not rows:
        return
    cfg = channel.config
    quiet_end = noise.quiet_until(getattr(cfg, "quiet_hours", None), now)
    if quiet_end is not None:
        except_levels = set(cfg.quiet_hours.except_levels)
        wait = [r for r in rows if r["level"] not in except_levels]
        _hold(store, wait, quiet_end, "quiet")
        report.held += len(wait)
        rows = [r for r in rows if r["level"] in except_levels]
    cap = getattr(cfg, "max_per_hour", 0)
    batches = _batches(store, rows, now)
    for i, batch in enumerate(batches):
        if cap:
            recent = noise.sends_in_last_hour(store, receiver, now)
            if len(recent) >= cap:
                rest = [r for b in batches[i:] for r in b.rows]
                free_at = parse_iso(recent[0]) + timedelta(hours=1, seconds=1)
                _hold(store, rest, free_at, "cap")
                report.held += len(rest)
                log.warning("receiver %s reached its limit of %d messages an hour; %d alerts held",
                            receiver, cap, len(rest))
                break
        if i and not still_mine():  # the lease ran out (this worker paused): whoever took it sends the rest
            log.warning("lost the delivery lease for %s; leaving the rest to the worker that holds it",
                        receiver)
            break
        ok = _send_batch(store, channel, receiver, batch, now, report)
        if not ok:
            break  # a receiver that just failed is not hammered again in this pass


def _hold(store: Store, rows: list[dict[str, Any]], until: datetime, why: str) -> None:
    if not rows:
        return
    with store.transaction() as conn:
        for r in rows:
            conn.execute("UPDATE outbox SET next_attempt_at = ?, hold = ? WHERE id = ?", (iso(until), why, r["id"]))


def _send_batch(store: Store, channel: Channel, receiver: str, batch: _Batch, now: datetime,
                report: DeliveryReport) -> bool:
    try:
        rows = _recover(store, channel, receiver, batch.rows, now, report)
    except Exception as exc:  # noqa: BLE001 - one receiver's failure never holds up the others
        _failed(store, batch.rows, "(checking whether it already went out)", receiver, _as_delivery_error(exc),
                now, report)
        return False
    if not rows:
        return True
    if len(rows) != len(batch.rows):  # part of it went out before a crash: send the rest
        batch = _Batch(rows, batch.digest_reason if len(rows) > 1 else None)
    if batch.digest_reason is None:
        row = rows[0]
        alert = Alert.from_dict(json.loads(row["payload"]))
        if row["hold"] == "quiet":
            alert.note = (alert.note + " · " if alert.note else "") + "held during quiet hours"
        elif row["hold"] == "cap":
            alert.note = (alert.note + " · " if alert.note else "") + "held back by the hourly limit"
        key = row["idem_key"]
        previous = _previous_ref(store, receiver, row)
    else:
        note = _quiet_note(channel) if batch.digest_reason == "quiet" else ""
        alert = digest_alert(rows, batch.digest_reason, receiver, note)
        key = f"digest|{receiver}|{rows[0]['id']}-{rows[-1]['id']}|{len(rows)}"
        previous = None
    # The sending mark, committed before the receiver sees anything: if this process dies between the
    # receiver's answer and the delivered mark below, the next run knows to ask before sending again.
    # The mark is also this worker's claim on the rows: set only where nobody marked or delivered them
    # since they were read, else nothing is sent (another worker has them).
    try:
        with store.transaction() as conn:
            for r in rows:
                cur = conn.execute(
                    "UPDATE outbox SET sending_at = ?, sending_key = ? WHERE id = ? AND delivered_at IS NULL "
                    "AND sending_at IS ? AND sending_key IS ?",
                    (iso(now), key, r["id"], r["sending_at"], r["sending_key"]))
                if cur.rowcount != 1:
                    raise _Taken
    except _Taken:
        log.warning("alert %s to %s was taken by another worker; not sent from here", key, receiver)
        return True
    try:
        ref = channel.send(alert, key, previous)
    except Exception as exc:  # noqa: BLE001 - one receiver's failure never holds up the others
        _failed(store, rows, key, receiver, _as_delivery_error(exc), now, report)
        return False
    single = batch.digest_reason is None
    _mark_delivered(store, receiver, rows, ref, "single" if single else f"digest:{batch.digest_reason}", now)
    report.delivered += len(rows)
    report.messages += 1
    return True


def _previous_ref(store: Store, receiver: str, row: dict[str, Any]) -> str | None:
    """The reference of the last message about this row's thread on this receiver (Slack edits it)."""
    if not row["thread_key"]:
        return None
    return store.scalar(
        "SELECT external_ref FROM outbox WHERE receiver = ? AND thread_key IS ? AND external_ref IS NOT NULL "
        "AND id < ? ORDER BY id DESC LIMIT 1",
        (receiver, row["thread_key"], row["id"]),
    )


def _recover(store: Store, channel: Channel, receiver: str, rows: list[dict[str, Any]], now: datetime,
             report: DeliveryReport) -> list[dict[str, Any]]:
    """Rows whose sending began but was never marked delivered (a crash, a lost answer): ask the receiver
    whether that message arrived; the ones it has are marked delivered, the rest are returned to send."""
    marked: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["sending_at"] and r["sending_key"]:
            marked.setdefault(r["sending_key"], []).append(r)
    if not marked:
        return rows
    recovered: set[int] = set()
    recent = store.scalar("SELECT external_ref FROM outbox WHERE receiver = ? AND external_ref IS NOT NULL "
                          "ORDER BY id DESC LIMIT 1", (receiver,))
    for key, members in marked.items():
        started = sorted(parse_iso(r["sending_at"]) for r in members)
        single = len(members) == 1 and members[0]["idem_key"] == key
        previous = _previous_ref(store, receiver, members[0]) if single else None
        found = channel.find_sent([key], (started[0], started[-1]), previous, recent)
        if key not in found:
            continue
        _mark_delivered(store, receiver, members, found[key], "single" if single else "digest", now)
        recovered.update(r["id"] for r in members)
        report.delivered += len(members)
        log.info("alert %s to %s was already delivered before a restart; not sent again", key, receiver)
    return [r for r in rows if r["id"] not in recovered]


def _mark_delivered(store: Store, receiver: str, rows: list[dict[str, Any]], ref: str | None, kind: str,
                    now: datetime) -> None:
    """One transaction: the rows delivered (with the message's reference) and the send logged for the cap."""
    sent_at = iso(now)
    single = kind == "single"
    with store.transaction() as conn:
        for r in rows:
            conn.execute(
                "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, external_ref = ?, last_error = NULL, "
                "sent_as = ?, hold = NULL WHERE id = ?",
                (sent_at, ref if single else None, "single" if single else "digest", r["id"]),
            )
        conn.execute(
            "INSERT INTO alert_sends (receiver, group_key, at, alerts, kind, external_ref) VALUES (?, ?, ?, ?, ?, ?)",
            (receiver, rows[0]["group_key"] if len({r["group_key"] for r in rows}) == 1 else None, sent_at,
             len(rows), kind, ref),
        )


def _as_delivery_error(exc: Exception) -> DeliveryError:
    """Any exception a channel lets out (a client library's ValueError, our bug) as a retryable failure,
    so it is recorded, backed off and given up on like any other, never a traceback in the daemon."""
    if isinstance(exc, DeliveryError):
        return exc
    return DeliveryError(f"{type(exc).__name__}: {exc}")


def _failed(store: Store, rows: list[dict[str, Any]], key: str, receiver: str, exc: DeliveryError,
            now: datetime, report: DeliveryReport) -> None:
    attempts = max(r["attempts"] for r in rows) + 1
    error = mask(str(exc))[:500]  # receivers echo URLs and tokens in their errors: never stored or logged as is
    delay = exc.retry_after if exc.retry_after is not None else min(
        BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempts - 1))
    give_up = exc.permanent or attempts >= MAX_ATTEMPTS
    with store.transaction() as conn:
        for r in rows:
            conn.execute(
                "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
                (MAX_ATTEMPTS if give_up else attempts, error, iso(now + timedelta(seconds=delay)),
                 r["id"]),
            )
    report.failed += len(rows)
    report.gave_up += len(rows) if give_up else 0
    log.warning("alert %s to %s failed (attempt %d): %s", key, receiver, attempts, error)
