"""Quarantine: what the pipeline set aside, where it came from and why, and how it comes back.

Two kinds of record live in the `quarantine` table:
  - stage 'import': a row of an export (or an item of a source) that could not become a mention.
    Its location is `path:line` for files (the full path, so two exports with the same name in
    different folders never share a record).
  - stage 'score' | 'threads' | 'rules' | 'trends': a stored mention (or thread) a later stage could
    not handle. The mention is marked (`mentions.quarantined` = the stage), every stage leaves it out
    from then on, and the stage goes on with the rest. `listener.retry.retry` (in the app layer: it
    runs the pipeline) clears the mark.

A poisoned row must never stop a stage: a monitor that stops at one bad value goes quiet, and every
later run stops at the same value.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from listener.models import iso, parse_iso, utcnow

log = logging.getLogger("overheard.quarantine")

# The plausible window for a post's time. Nothing we monitor existed before the first tweet
# (2006-03-21); app reviews, Reddit and Hacker News are younger still. A day ahead of our clock
# allows for a source's clock or a zone mistake in an export; further ahead is a broken value
# (9999-12-31 is what spreadsheets write for "never"), and such values overflow date maths later.
EARLIEST_POST = datetime(2006, 3, 21, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)

STAGES = ("import", "score", "threads", "rules", "trends")
# Errors that are about the machine, not the row: never quarantine a row because the disk is full.
NOT_THE_ROW = (sqlite3.OperationalError, MemoryError)

T = TypeVar("T")
R = TypeVar("R")


def implausible_time(value: datetime, now: datetime | None = None) -> str | None:
    """Why `value` cannot be a post's time, or None when it is inside the window."""
    now = now or utcnow()
    try:
        utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        return f"{value.isoformat()} is outside the range of dates that can be stored"
    if utc < EARLIEST_POST:
        return f"{iso(utc)} is before 2006-03-21, the earliest plausible post time"
    if utc > now + FUTURE_SLACK:
        return f"{iso(utc)} is more than a day in the future"
    return None


def implausible_stored_time(value: Any) -> str | None:
    """The same check for a `created_at` already in the store (a database from before this guard)."""
    if not isinstance(value, str):
        return f"created_at {value!r} is not a stored time"
    try:
        parsed = parse_iso(value)
    except (ValueError, OverflowError):
        return f"created_at {value[:40]!r} is not a stored time"
    reason = implausible_time(parsed)
    return f"created_at {reason}" if reason else None


def describe(exc: BaseException) -> str:
    """An exception as a quarantine reason: its kind and message, one line, bounded."""
    text = " ".join(str(exc).split()) or "no message"
    return f"{type(exc).__name__}: {text}"[:500]


def one_by_one(items: Sequence[T], run: Callable[[Sequence[T]], Sequence[R]]) -> list[R | Exception]:
    """`run(items)` for a whole chunk; when it raises, each item alone, so one bad item fails alone.

    Returns one result or exception per item, in order. Machine errors (locked database, memory) are
    raised, not blamed on an item.
    """
    try:
        return list(run(items))
    except NOT_THE_ROW:
        raise
    except Exception as exc:
        if len(items) == 1:
            return [exc]
    out: list[R | Exception] = []
    for item in items:
        try:
            out.extend(run([item]))
        except NOT_THE_ROW:
            raise
        except Exception as exc:
            out.append(exc)
    return out


def record(conn: sqlite3.Connection, source: str, location: str, reason: str, raw: str = "",
           stage: str = "import", mention_id: int | None = None) -> None:
    """Write (or refresh) one quarantine record; the latest reason wins for the same place."""
    conn.execute(
        "INSERT INTO quarantine (source, location, reason, raw, at, stage, mention_id) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (source, location) DO UPDATE SET reason = excluded.reason, raw = excluded.raw, "
        "at = excluded.at, stage = excluded.stage, mention_id = excluded.mention_id",
        (source, location, reason, safe_text(raw)[:10000], iso(utcnow()), stage, mention_id),
    )


def safe_text(value: str) -> str:
    """Text SQLite can store: lone surrogates (from a JSON escape or undecodable bytes) shown as \\udXXX."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def quarantine_mention(conn: sqlite3.Connection, mention: dict[str, Any] | int, stage: str, reason: str) -> None:
    """Set a stored mention aside at `stage`: marked, recorded with its reason, left out by every stage."""
    row = mention if isinstance(mention, dict) else {"id": mention}
    mention_id = int(row["id"])
    if "source" not in row:
        found = conn.execute("SELECT source, native_id FROM mentions WHERE id = ?", (mention_id,)).fetchone()
        row = {"id": mention_id, "source": found[0] if found else "?", "native_id": found[1] if found else "?"}
    # Left out of its thread from now on: running totals that counted it are counted again (listener/threads.py).
    conn.execute("DELETE FROM thread_totals WHERE thread_key IN (SELECT thread_key FROM mentions WHERE id = ? "
                 "AND rolled_up IS NOT NULL)", (mention_id,))
    conn.execute("UPDATE mentions SET quarantined = ? WHERE id = ?", (stage, mention_id))
    source = str(row.get("source") or "?")
    record(conn, source, f"mention {mention_id} ({source} {row.get('native_id')})", reason, "", stage, mention_id)
    log.warning("quarantined mention %s at the %s stage: %s", mention_id, stage, reason)


def quarantine_thread(conn: sqlite3.Connection, thread: dict[str, Any], stage: str, reason: str) -> None:
    """Set a thread aside at `stage` (its mentions stay; the stage skips the thread until a retry)."""
    record(conn, str(thread.get("source") or "?"), f"thread {thread['thread_key']}", reason, "", stage)
    log.warning("quarantined thread %s at the %s stage: %s", thread["thread_key"], stage, reason)


@dataclass
class QuarantineRecord:
    id: int
    source: str
    location: str
    reason: str
    raw: str
    at: str
    stage: str
    mention_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_records(store: Any, stage: str | None = None, source: str | None = None,
                 limit: int | None = None, since: str | None = None) -> list[QuarantineRecord]:
    """Quarantine records, newest first; filtered by stage, source and time (`at >= since`) when given."""
    sql = "SELECT id, source, location, reason, COALESCE(raw, '') AS raw, at, stage, mention_id FROM quarantine"
    where: list[str] = []
    params: list[Any] = []
    if stage:
        where.append("stage = ?")
        params.append(stage)
    if source:
        where.append("source = ?")
        params.append(source)
    if since:
        where.append("at >= ?")
        params.append(since)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY at DESC, id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [QuarantineRecord(**r) for r in store.query(sql, params)]


def count_records(store: Any, stage: str | None = None, source: str | None = None) -> int:
    sql = "SELECT COUNT(*) FROM quarantine WHERE (? IS NULL OR stage = ?) AND (? IS NULL OR source = ?)"
    return int(store.scalar(sql, (stage, stage, source, source)))


def count_in_files(store: Any, prefixes: tuple[str, ...]) -> int:
    """Import records of these files (location prefixes `path:`)."""
    return sum(int(store.scalar("SELECT COUNT(*) FROM quarantine WHERE stage = 'import' "
                                "AND substr(location, 1, ?) = ?", (len(p), p))) for p in prefixes)


def get_record(store: Any, record_id: int) -> QuarantineRecord | None:
    rows = store.query("SELECT id, source, location, reason, COALESCE(raw, '') AS raw, at, stage, mention_id "
                       "FROM quarantine WHERE id = ?", (record_id,))
    return QuarantineRecord(**rows[0]) if rows else None


def split_location(location: str) -> tuple[str, int] | None:
    """'path:line' -> (path, line) for an import row of a file; None for other locations."""
    path, sep, line = location.rpartition(":")
    return (path, int(line)) if sep and path and line.isdigit() else None


def release_mention(conn: sqlite3.Connection, mention_id: int) -> None:
    """Let a set-aside mention back in: every stage takes it again (a retry)."""
    conn.execute("UPDATE mentions SET quarantined = NULL, rolled_up = NULL WHERE id = ?", (mention_id,))


def drop_record(conn: sqlite3.Connection, record_id: int) -> None:
    """Remove a quarantine record (it came back, or is being tried again)."""
    conn.execute("DELETE FROM quarantine WHERE id = ?", (record_id,))
