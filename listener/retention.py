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
The file receivers' alert files are rewritten without them; deletes run with secure_delete, the
full-text indexes are optimised and the WAL checkpointed, so the raw file holds nothing readable.
What already left the building (Slack messages, emails, webhook calls) is not ours to delete; the
command says so. A handle nothing matches is an error (UnknownAuthor) with the closest handles.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from listener.config import Config
from listener.errors import UserError
from listener.logs import event
from listener.models import iso, utcnow
from listener.store import ANY_SOURCE, Store, author_hash, normal_handle, raw_author_candidates

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
                    # Threads and authors' histories lost mentions: every thread is counted again in full.
                    conn.execute("DELETE FROM thread_totals")
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
    mentions_scrubbed: int = 0  # other people's posts that named them: the handle blanked
    quarantine_scrubbed: int = 0  # other people's bad rows that named them: the handle blanked
    events_scrubbed: int = 0
    alerts_scrubbed: int = 0
    alerts_already_sent: int = 0
    silences: int = 0
    alert_files: list[AlertFileResult] = field(default_factory=list)
    wal_checkpointed: bool = True  # False: a reader kept the -wal file; the old pages go at its next checkpoint


@dataclass
class AlertFileResult:
    path: Path
    lines: int = 0  # lines that quoted them, rewritten
    problem: str | None = None  # why the file could not be cleaned


class UnknownAuthor(UserError):
    """Nothing stored matches the handle: nothing was changed (a typo must not record a stranger)."""


def forget_author(store: Store, author: str, source: str | None = None,
                  alert_files: list[Path] | None = None) -> ForgetResult:
    """Remove what we hold of `author` (on one source, or on all); returns what was removed.

    `@Name`, `name` and `NAME` are one person (platform handles ignore case). The deleted rows are
    overwritten in the file (secure_delete), the full-text indexes are rebuilt without them and the
    WAL is checkpointed, so their words cannot be read from the raw database or -wal file either.
    `alert_files` (the file receivers' JSONL files) are rewritten without them. UnknownAuthor when
    nothing matches, with the closest stored handles.
    """
    handle = normal_handle(author)
    if not handle:
        raise UserError("forget: --author must not be empty")
    conn = store.conn
    conn.create_function("overheard_handle", 1, lambda v: normal_handle(v) if isinstance(v, str) else None,
                         deterministic=True)
    result = ForgetResult()
    where = "overheard_handle(author) = ?" + (" AND source = ?" if source else "")
    params: tuple[Any, ...] = (handle, source) if source else (handle,)
    secure = conn.execute("PRAGMA secure_delete").fetchone()[0]
    conn.execute("PRAGMA secure_delete = ON")  # deleted cells are overwritten with zeros, not left in free space
    try:
        with store.transaction():
            scrub = _forget_in_store(store, handle, author, source, where, params, result)
    finally:
        conn.execute(f"PRAGMA secure_delete = {int(secure)}")
    _purge_indexes_and_wal(store, result)
    for path in alert_files or []:
        result.alert_files.append(_clean_alert_file(path, scrub))
    # The name itself is never logged: the request is recorded by its counts.
    event(log, "forget", source=source, mentions=result.mentions, authors=result.authors,
          quarantined=result.quarantined, events_scrubbed=result.events_scrubbed,
          alerts_scrubbed=result.alerts_scrubbed,
          alert_file_lines=sum(f.lines for f in result.alert_files))
    return result


def _forget_in_store(store: Store, handle: str, given: str, source: str | None, where: str,
                     params: tuple[Any, ...], result: ForgetResult) -> _Scrubber:
    conn = store.conn
    rows = store.query(f"SELECT id, source, author, text, title, thread_key, native_id, url FROM mentions "
                       f"WHERE {where}", params)
    stored_names = {r["author"] for r in rows if r["author"]} | {
        r[0] for r in conn.execute(f"SELECT author FROM authors WHERE {where}", params)}
    texts = sorted({t for r in rows for t in (r["text"], r["title"]) if t and len(t) >= 8}, key=len, reverse=True)
    urls = sorted({r["url"] for r in rows if r["url"]}, key=len, reverse=True)
    sources = {r["source"] for r in rows} | {
        r[0] for r in conn.execute(f"SELECT source FROM authors WHERE {where}", params)}
    if source:
        sources.add(source)
    ids = [r["id"] for r in rows]
    threads = {r["thread_key"] for r in rows}
    scrub = _Scrubber(handle, stored_names, texts, urls)
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM scores WHERE mention_id IN ({marks})", chunk)
        conn.execute(f"DELETE FROM labels WHERE mention_id IN ({marks})", chunk)
        conn.execute(f"DELETE FROM mentions WHERE id IN ({marks})", chunk)
    result.mentions = len(ids)
    conn.execute("DELETE FROM thread_totals")  # their mentions and words leave threads: counted again in full
    # Other people's posts that name them: the handle blanked (the post itself is theirs and stays).
    conn.create_function("overheard_fold", 1, lambda v: v.casefold() if isinstance(v, str) else None,
                         deterministic=True)
    for other in store.query("SELECT id, text, title FROM mentions WHERE instr(overheard_fold(text), ?) "
                             "OR instr(overheard_fold(COALESCE(title, '')), ?)", (handle, handle)):
        text, title = scrub.text(other["text"]), scrub.text(other["title"] or "") or other["title"]
        if (text, title) != (other["text"], other["title"]):
            conn.execute("UPDATE mentions SET text = ?, title = ? WHERE id = ?", (text, title, other["id"]))
            result.mentions_scrubbed += 1
    result.authors = conn.execute(f"DELETE FROM authors WHERE {where}", params).rowcount
    # Their handle in the trend rollup's unique-author sets (the counts are aggregates and stay)
    # and on the queue items of their threads.
    conn.execute(f"DELETE FROM trend_hour_authors WHERE {where}", params)
    conn.execute(f"DELETE FROM trend_hour_audiences WHERE {where}", params)  # their followers in reach
    conn.execute("DELETE FROM trend_terms_kept")  # their words in the terms table's kept counts: recounted
    conn.execute(f"UPDATE queue_items SET author = NULL WHERE {where}", params)
    # A silence that mutes them names them; their posts are not collected any more anyway.
    result.silences = conn.execute(
        "DELETE FROM silences WHERE matcher = 'author' AND overheard_handle(value) = ?", (handle,)).rowcount
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
    # Quarantined rows: theirs are deleted (JSON or CSV, any capitalisation, non-ASCII handles);
    # other people's rows that quote them have the handle and their words blanked.
    for q in store.query("SELECT id, source, raw, reason FROM quarantine"):
        raw = q["raw"] or ""
        if source and q["source"] != source:
            continue
        if handle in raw_author_candidates(raw) and _is_their_row(raw, handle):
            conn.execute("DELETE FROM quarantine WHERE id = ?", (q["id"],))
            result.quarantined += 1
            continue
        new_raw, new_reason = scrub.text(raw), scrub.text(q["reason"] or "")
        if (new_raw, new_reason) != (raw, q["reason"] or ""):
            conn.execute("UPDATE quarantine SET raw = ?, reason = ? WHERE id = ?", (new_raw, new_reason, q["id"]))
            result.quarantine_scrubbed += 1
    for ev in store.query("SELECT id, detail FROM queue_events"):
        scrubbed = scrub.text(ev["detail"])
        if scrubbed != ev["detail"]:
            conn.execute("UPDATE queue_events SET detail = ? WHERE id = ?", (scrubbed, ev["id"]))
            result.events_scrubbed += 1
    for alert in store.query("SELECT id, payload, delivered_at FROM outbox"):
        payload = scrub.alert(alert["payload"])
        if payload != alert["payload"]:
            conn.execute("UPDATE outbox SET payload = ? WHERE id = ?", (payload, alert["id"]))
            result.alerts_scrubbed += 1
            result.alerts_already_sent += int(alert["delivered_at"] is not None)
    if not (result.mentions or result.authors or result.mentions_scrubbed or result.quarantined
            or result.quarantine_scrubbed or result.events_scrubbed or result.alerts_scrubbed or result.silences):
        raise UnknownAuthor(_not_seen(store, given, handle, source))
    for src in sources | ({ANY_SOURCE} if not source else set()):
        conn.execute("INSERT OR IGNORE INTO forgotten_authors (author_hash, at) VALUES (?, ?)",
                     (author_hash(src, handle), iso(utcnow())))
    return scrub


_AUTHOR_FIELD = re.compile(r'"(?:author|user|username|user_name|screen_name|handle|acct)"\s*:\s*"([^"]{1,200})"',
                           re.IGNORECASE)


def _is_their_row(raw: str, handle: str) -> bool:
    """Their own row, not someone else's that mentions them: the author field (JSON) or a whole CSV cell."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if data is None and _AUTHOR_FIELD.search(raw):  # a broken JSON line: its author key still says whose it is
        return any(normal_handle(m) == handle for m in _AUTHOR_FIELD.findall(raw))
    if isinstance(data, dict):
        return any(isinstance(v, str) and normal_handle(v) == handle for v in data.values()) or any(
            isinstance(v, dict) and any(isinstance(x, str) and normal_handle(x) == handle for x in v.values())
            for v in data.values())
    import csv

    for delimiter in (",", ";", "\t"):
        try:
            if any(normal_handle(c) == handle for c in next(csv.reader([raw], delimiter=delimiter))):
                return True
        except (csv.Error, StopIteration):
            continue
    return False


def _not_seen(store: Store, given: str, handle: str, source: str | None) -> str:
    names = {r[0] for r in store.conn.execute("SELECT author FROM authors" + (" WHERE source = ?" if source else ""),
                                              (source,) if source else ())}
    names |= {r[0] for r in store.conn.execute(
        "SELECT DISTINCT author FROM mentions WHERE author IS NOT NULL" + (" AND source = ?" if source else ""),
        (source,) if source else ())}
    by_normal = {normal_handle(n): n for n in names if n}
    close = difflib.get_close_matches(handle, list(by_normal), n=3, cutoff=0.6)
    where = f" on {source}" if source else ""
    hint = f"; did you mean {' or '.join(repr(by_normal[c]) for c in close)}?" if close else \
        "; check the spelling (as shown by `overheard queue show`)"
    return f"forget: nothing stored matches author {given!r}{where}, nothing was changed{hint}"


def _purge_indexes_and_wal(store: Store, result: ForgetResult) -> None:
    """Rebuild the full-text indexes without the deleted rows and checkpoint the WAL into the zeroed file."""
    conn = store.conn
    secure = conn.execute("PRAGMA secure_delete").fetchone()[0]
    conn.execute("PRAGMA secure_delete = ON")
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE '%USING fts5%'")}
        with store.transaction():
            for table in sorted(tables):
                # FTS5 keeps a deleted row's words in older index segments until they are merged.
                conn.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")
    finally:
        conn.execute(f"PRAGMA secure_delete = {int(secure)}")
    if store.path != ":memory:":
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        result.wal_checkpointed = not busy


class _Scrubber:
    """Their words, links and handle, replaced wherever we copied them."""

    def __init__(self, handle: str, names: set[str], texts: list[str], urls: list[str]) -> None:
        self.handle = handle
        self.quotes = texts
        self.urls = urls
        spellings = sorted({handle, *(n.strip().lstrip("@") for n in names), *(normal_handle(n) for n in names)},
                           key=len, reverse=True)
        alternatives = "|".join(re.escape(x) for x in spellings)
        self._at = re.compile(rf"@(?:{alternatives})(?![\w.-]*\w)", re.IGNORECASE)
        self._quoted = re.compile(rf'"@?(?:{alternatives})"', re.IGNORECASE)

    def text(self, text: str) -> str:
        if not text:
            return text
        for quote in self.quotes:
            text = text.replace(quote, REMOVED)
            text = text.replace(json.dumps(quote, ensure_ascii=False)[1:-1], REMOVED)  # as escaped inside JSON
            text = text.replace(json.dumps(quote)[1:-1], REMOVED)  # and with \u escapes
        for url in self.urls:
            text = text.replace(url, "[removed]").replace(url.replace("/", "\\/"), "[removed]")
        # Their handle where we wrote it ourselves: "@handle" in reasons and notes, or a JSON value "handle".
        text = self._at.sub("@[removed]", text)
        return self._quoted.sub('"[removed]"', text)

    def alert(self, payload: str) -> str:
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError):
            return self.text(payload)
        changed = self._blank_mentions(data)
        out = json.dumps(data, ensure_ascii=False) if changed else payload
        return self.text(out)

    def _blank_mentions(self, data: Any) -> bool:
        changed = False
        if isinstance(data, dict):
            for m in data.get("mentions") or []:
                if isinstance(m, dict) and normal_handle(m.get("author") or "") == self.handle:
                    m["author"], m["text"], m["url"], m["followers"] = None, REMOVED, None, None
                    changed = True
            if data.get("url") in self.urls:
                data["url"] = None
                changed = True
            for key in ("grouped", "slack"):
                if isinstance(data.get(key), list):
                    for item in data[key]:
                        changed = self._blank_mentions(item) or changed
        return changed


def _clean_alert_file(path: Path, scrub: _Scrubber) -> AlertFileResult:
    """Rewrite a file receiver's JSONL without them: a new file beside it, then an atomic rename."""
    out = AlertFileResult(path)
    if not path.exists():
        return out
    from alerts.channels.file import alert_file_lock, open_private

    try:
        with alert_file_lock(path):
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            cleaned = []
            for line in lines:
                new = scrub.alert(line.rstrip("\n"))
                if new != line.rstrip("\n"):
                    out.lines += 1
                cleaned.append(new + "\n" if line.endswith("\n") else new)
            if out.lines:
                tmp = path.with_name(f".{path.name}.forget-tmp")
                with open_private(tmp, "w") as fh:
                    fh.writelines(cleaned)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, path.stat().st_mode & 0o777)
                os.replace(tmp, path)
    except (OSError, UnicodeDecodeError) as exc:
        out.problem = f"{exc.strerror or exc}" if isinstance(exc, OSError) else "not UTF-8 text"
    return out


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]
