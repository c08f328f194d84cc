"""Retention and the right to be forgotten.

`prune` deletes mentions older than `[daemon].retention_days` (their scores and labels go with them)
and run records older than `run_history_days`. Rollups stay: threads keep their counts and risk,
queue items and their audit trail stay, authors keep their totals.

`forget_author` removes one person's data on request (`overheard forget --author NAME`): their
mentions with scores and labels, their author rows, their handle in the trend rollup's author sets
and on queue items, quarantined rows that carry their handle, and
their words wherever we copied them: the texts of their mentions inside queue events and undelivered
or delivered alert payloads are replaced with a marker, and their name is blanked in alert payloads.
Threads they were part of are recomputed without them; a thread they started keeps its row (queue
items point at it) but loses its title and link. A hash of (source, handle) — never the handle —
is kept so their posts are not collected again. Notes support staff wrote in their own words stay:
they are the company's record; the person's quoted text inside them is replaced all the same.
What already left the building (Slack messages, emails, webhook calls, alert files) is not ours to
delete; the command says so.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from listener.config import Config
from listener.logs import event
from listener.models import iso, utcnow
from listener.store import Store, author_hash

log = logging.getLogger("overheard.retention")
REMOVED = "[removed on request]"
CHUNK = 5000


@dataclass
class PruneResult:
    mentions: int = 0
    runs: int = 0


def prune(store: Store, config: Config, now: datetime | None = None) -> PruneResult:
    """Delete mentions older than the retention age (threads, queue items and rollups stay)."""
    now = now or utcnow()
    result = PruneResult()
    days = config.daemon.retention_days
    if days > 0:
        # Roll up what is not rolled up yet first: the trend rollup is what outlives the mentions.
        from listener.trends.rollup import update_rollup

        update_rollup(store, config.trends.timezone, now)
        cutoff = iso(now - timedelta(days=days))
        while True:  # in chunks, so the daemon's other writers are never blocked for long
            with store.transaction() as conn:
                ids = [r[0] for r in conn.execute(
                    "SELECT id FROM mentions WHERE created_at < ? LIMIT ?", (cutoff, CHUNK))]
                if ids:
                    marks = ",".join("?" * len(ids))
                    conn.execute(f"DELETE FROM scores WHERE mention_id IN ({marks})", ids)
                    conn.execute(f"DELETE FROM labels WHERE mention_id IN ({marks})", ids)
                    conn.execute(f"DELETE FROM mentions WHERE id IN ({marks})", ids)
            result.mentions += len(ids)
            if len(ids) < CHUNK:
                break
    history = iso(now - timedelta(days=config.daemon.run_history_days))
    with store.transaction() as conn:
        result.runs = conn.execute("DELETE FROM runs WHERE started_at < ?", (history,)).rowcount
    return result


@dataclass
class ForgetResult:
    mentions: int = 0
    authors: int = 0
    threads_recomputed: int = 0
    quarantined: int = 0
    events_scrubbed: int = 0
    alerts_scrubbed: int = 0
    alerts_already_sent: int = 0


def forget_author(store: Store, author: str, source: str | None = None) -> ForgetResult:
    """Remove what we hold of `author` (on one source, or on all); returns what was removed."""
    author = author.strip().lstrip("@")
    if not author:
        from listener.errors import UserError

        raise UserError("forget: --author must not be empty")
    result = ForgetResult()
    where = "LOWER(author) = LOWER(?)" + (" AND source = ?" if source else "")
    params: tuple[Any, ...] = (author, source) if source else (author,)
    with store.transaction() as conn:
        rows = store.query(f"SELECT id, source, author, text, title, thread_key, native_id FROM mentions "
                           f"WHERE {where}", params)
        texts = sorted({t for r in rows for t in (r["text"], r["title"]) if t and len(t) >= 8}, key=len,
                       reverse=True)
        sources = {r["source"] for r in rows} | {
            r[0] for r in conn.execute(f"SELECT source FROM authors WHERE {where}", params)}
        if source:
            sources.add(source)
        ids = [r["id"] for r in rows]
        threads = {r["thread_key"] for r in rows}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            conn.execute(f"DELETE FROM scores WHERE mention_id IN ({marks})", chunk)
            conn.execute(f"DELETE FROM labels WHERE mention_id IN ({marks})", chunk)
            conn.execute(f"DELETE FROM mentions WHERE id IN ({marks})", chunk)
        result.mentions = len(ids)
        result.authors = conn.execute(f"DELETE FROM authors WHERE {where}", params).rowcount
        # Their handle in the trend rollup's unique-author sets (the counts are aggregates and stay)
        # and on the queue items of their threads.
        conn.execute(f"DELETE FROM trend_hour_authors WHERE {where}", params)
        conn.execute(f"DELETE FROM trend_hour_audiences WHERE {where}", params)  # their followers in reach
        conn.execute(f"UPDATE queue_items SET author = NULL WHERE {where}", params)
        # Threads they started: the title and link were theirs.
        started = {f"{r['source']}:{r['native_id']}" for r in rows}
        for key in threads:
            conn.execute("UPDATE threads SET dirty = 1 WHERE thread_key = ?", (key,))
            if key in started:
                conn.execute("UPDATE threads SET title = NULL, url = NULL WHERE thread_key = ?", (key,))
            # A thread with nobody left in it keeps its row (queue items point at it) but no figures.
            conn.execute(
                "UPDATE threads SET mentions = 0, negative = 0, detractors = 0, reach = 0, engagement = 0, "
                "mean_compound = NULL, reasons = '[]', dirty = 0 WHERE thread_key = ? "
                "AND NOT EXISTS (SELECT 1 FROM mentions WHERE thread_key = ?)", (key, key))
        result.threads_recomputed = len(threads)
        quoted = json.dumps(author)  # the handle as a JSON string value in a raw row
        for q in store.query("SELECT id, raw, source FROM quarantine"):
            raw = q["raw"] or ""
            if (not source or q["source"] == source) and (quoted.lower() in raw.lower()
                                                          or f'"@{author}"'.lower() in raw.lower()):
                conn.execute("DELETE FROM quarantine WHERE id = ?", (q["id"],))
                result.quarantined += 1
        for ev in store.query("SELECT id, detail FROM queue_events"):
            scrubbed = _scrub(ev["detail"], texts, author)
            if scrubbed != ev["detail"]:
                conn.execute("UPDATE queue_events SET detail = ? WHERE id = ?", (scrubbed, ev["id"]))
                result.events_scrubbed += 1
        for alert in store.query("SELECT id, payload, delivered_at FROM outbox"):
            payload = _scrub_alert(alert["payload"], texts, author)
            if payload != alert["payload"]:
                conn.execute("UPDATE outbox SET payload = ? WHERE id = ?", (payload, alert["id"]))
                result.alerts_scrubbed += 1
                result.alerts_already_sent += int(alert["delivered_at"] is not None)
        for src in sources:
            conn.execute("INSERT OR IGNORE INTO forgotten_authors (author_hash, at) VALUES (?, ?)",
                         (author_hash(src, author), iso(utcnow())))
    # The name itself is never logged: the request is recorded by its counts.
    event(log, "forget", source=source, mentions=result.mentions, authors=result.authors,
          events_scrubbed=result.events_scrubbed, alerts_scrubbed=result.alerts_scrubbed)
    return result


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def _scrub(text: str, quotes: list[str], author: str) -> str:
    for quote in quotes:
        text = text.replace(quote, REMOVED)
        text = text.replace(json.dumps(quote, ensure_ascii=False)[1:-1], REMOVED)  # as escaped inside JSON
    # Their handle where we wrote it ourselves: "@handle" in reasons and notes, or a JSON value "handle".
    handle = re.escape(author)
    text = re.sub(rf"@{handle}(?![A-Za-z0-9_])", "@[removed]", text, flags=re.IGNORECASE)
    return re.sub(rf'"{handle}"', '"[removed]"', text, flags=re.IGNORECASE)


def _scrub_alert(payload: str, quotes: list[str], author: str) -> str:
    try:
        data = json.loads(payload)
    except json.JSONDecodeError:
        return _scrub(payload, quotes, author)
    changed = False
    for m in data.get("mentions") or []:
        if (m.get("author") or "").lower().lstrip("@") == author.lower():
            m["author"], m["text"], m["url"], m["followers"] = None, REMOVED, None, None
            changed = True
    out = json.dumps(data, ensure_ascii=False) if changed else payload
    return _scrub(out, quotes, author)
