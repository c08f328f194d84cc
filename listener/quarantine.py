"""Quarantine: what the pipeline set aside, where it came from and why, and how it comes back.

Two kinds of record live in the `quarantine` table:
  - stage 'import': a row of an export (or an item of a source) that could not become a mention.
    Its location is `path:line` for files (the full path, so two exports with the same name in
    different folders never share a record).
  - stage 'score' | 'threads' | 'rules' | 'trends': a stored mention (or thread) a later stage could
    not handle. The mention is marked (`mentions.quarantined` = the stage), every stage leaves it out
    from then on, and the stage goes on with the rest. `retry` clears the mark.

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


@dataclass
class RetryReport:
    """What a retry did: records tried, how many came back (stored or handled), which are still bad."""

    tried: int = 0
    came_back: int = 0
    still_quarantined: list[QuarantineRecord] | None = None
    not_retried: list[tuple[QuarantineRecord, str]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"tried": self.tried, "came_back": self.came_back,
                "still_quarantined": [r.as_dict() for r in self.still_quarantined or []],
                "not_retried": [{**r.as_dict(), "why": why} for r, why in self.not_retried or []]}


def retry(config: Any, store: Any, records: list[QuarantineRecord]) -> RetryReport:
    """Try quarantined records again with today's code and config (a brand added, a bug fixed).

    An import row is read again from its file and line; a mention a stage set aside loses its mark and
    the pipeline runs (`process`, then the trend rollup for trends-stage mentions). A record that fails
    again is quarantined again, with the new reason.
    """
    from listener.pipeline import process
    from listener.trends.rollup import recompute_mentions

    report = RetryReport(still_quarantined=[], not_retried=[])
    by_file: dict[str, list[tuple[QuarantineRecord, int]]] = {}
    mentions: list[QuarantineRecord] = []
    threads: list[QuarantineRecord] = []
    for rec in records:
        place = split_location(rec.location)
        if rec.mention_id is not None:
            mentions.append(rec)
        elif rec.location.startswith("thread ") and rec.stage in ("threads", "rules"):
            threads.append(rec)
        elif rec.stage == "import" and place and place[0].startswith("/"):
            by_file.setdefault(place[0], []).append((rec, place[1]))
        else:
            report.not_retried.append((rec, "not from an export file: the source sends it again when it "
                                            "next fetches it"))
    for path, wanted in by_file.items():
        _retry_file(config, store, path, wanted, report)
    trends_ids: list[int] = []
    retried: list[QuarantineRecord] = []
    with store.transaction() as conn:
        for rec in mentions:
            found = conn.execute("SELECT thread_key FROM mentions WHERE id = ?", (rec.mention_id,)).fetchone()
            conn.execute("DELETE FROM quarantine WHERE id = ?", (rec.id,))
            if found is None:
                report.not_retried.append((rec, "the mention is no longer stored"))
                continue
            conn.execute("UPDATE mentions SET quarantined = NULL, rolled_up = NULL WHERE id = ?", (rec.mention_id,))
            conn.execute("DELETE FROM thread_totals WHERE thread_key = ?", (found[0],))
            conn.execute("UPDATE threads SET dirty = 1 WHERE thread_key = ?", (found[0],))
            if rec.stage == "trends":
                trends_ids.append(int(rec.mention_id or 0))
            retried.append(rec)
        for rec in threads:
            key = rec.location.removeprefix("thread ")
            conn.execute("DELETE FROM quarantine WHERE id = ?", (rec.id,))
            column = "dirty" if rec.stage == "threads" else "alert_pending"
            conn.execute(f"UPDATE threads SET {column} = 1 WHERE thread_key = ?", (key,))
            retried.append(rec)
    if retried:
        process(config, store)
        if trends_ids:
            recompute_mentions(store, config.trends.timezone, trends_ids)
        for rec in retried:
            report.tried += 1
            again = store.query("SELECT id, source, location, reason, COALESCE(raw, '') AS raw, at, stage, "
                                "mention_id FROM quarantine WHERE source = ? AND location = ?",
                                (rec.source, rec.location))
            if again:
                report.still_quarantined.append(QuarantineRecord(**again[0]))
            else:
                report.came_back += 1
    return report


def _retry_file(config: Any, store: Any, path: str, wanted: list[tuple[QuarantineRecord, int]],
                report: RetryReport) -> None:
    """Read the quarantined lines of one export again (with the config's field map for that file)."""
    from pathlib import Path

    from listener.errors import SourceError
    from listener.sources.file import FileImport, FileSource, FileSourceConfig, import_file

    file = Path(path)
    if not file.exists():
        report.not_retried.extend((rec, f"{path} is no longer there") for rec, _ in wanted)
        return
    spec = _configured_import(config, file) or FileImport(paths=[path], default_source=wanted[0][0].source)
    source = FileSource(FileSourceConfig(imports=[spec]), config)
    lines = {line for _, line in wanted}
    bad: set[str] = set()
    try:
        for batch in import_file(file, source, spec, None, only_lines=lines):
            store.save_batch("file", path, batch)  # no cursor: the file's own position stays as it was
            bad.update(q.location for q in batch.quarantined)
    except SourceError as exc:
        report.not_retried.extend((rec, f"{path}: {exc}") for rec, _ in wanted)
        return
    for rec, _ in wanted:
        report.tried += 1
        if rec.location in bad:
            found = get_record(store, rec.id)
            report.still_quarantined.append(found or rec)
        else:
            with store.transaction() as conn:
                conn.execute("DELETE FROM quarantine WHERE id = ?", (rec.id,))
            report.came_back += 1


def _configured_import(config: Any, file: Any) -> Any:
    """The [[sources.file.imports]] entry that reads `file`, if the config has one."""
    section = getattr(config, "sources", {}).get("file")
    if section is None:
        return None
    from listener.sources.file import FileSource

    try:
        for path, spec in FileSource(section, config).files():
            if path.resolve() == file.resolve():
                return spec
    except OSError:
        return None
    return None
