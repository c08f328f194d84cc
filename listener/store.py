"""The store: SQLite through sqlite-utils, WAL mode, numbered migrations.

Rules that keep data safe live here: a batch of mentions and the cursor that follows it are written
in one transaction, and mentions upsert on (source, native_id), so a re-fetch stores nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from listener.migrations import MIGRATIONS
from listener.models import Batch, Mention, Quarantined, iso, utcnow
from listener.quarantine import describe, implausible_time, safe_text
from listener.quarantine import record as record_quarantine


@dataclass
class SaveResult:
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    quarantined: int = 0
    forgotten: int = 0  # posts by people who asked to be forgotten: not stored


def author_hash(source: str, author: str) -> str:
    """How a forgotten author is remembered: a hash, never the name."""
    return hashlib.sha256(f"{source}\0{author.lower()}".encode()).hexdigest()


class Store:
    """One connection to the overheard database. Open one per thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE) so a batch and its cursor commit together.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA busy_timeout = 30000")
        self.conn = conn
        self._savepoints = 0
        self.db = sqlite_utils.Database(conn)
        if self.path != ":memory:":
            self.db.enable_wal()
        self.migrate()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ schema
    def migrate(self) -> list[int]:
        """Apply the migrations this database has not seen yet; returns their numbers."""
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (number INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"
        )
        done = {row[0] for row in self.conn.execute("SELECT number FROM schema_migrations")}
        applied = []
        for number, name, sql in MIGRATIONS:
            if number in done:
                continue
            with self.transaction():
                for statement in _split_sql(sql):
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", (number, name, iso(utcnow()))
                )
            applied.append(number)
        return applied

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; rolls back on any exception. Nested calls join the outer one."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params))

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------ cursors
    def get_cursor(self, source: str, query_key: str) -> str | None:
        return self.scalar("SELECT value FROM cursors WHERE source = ? AND query_key = ?", (source, query_key))

    def _set_cursor(self, source: str, query_key: str, value: str | None) -> None:
        self.conn.execute(
            "INSERT INTO cursors (source, query_key, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source, query_key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (source, query_key, value, iso(utcnow())),
        )

    # ------------------------------------------------------------ mentions
    def save_batch(self, source: str, query_key: str, batch: Batch) -> SaveResult:
        """Store a batch and move the cursor, in one transaction."""
        result = SaveResult(fetched=len(batch.mentions), quarantined=len(batch.quarantined))
        with self.transaction():
            forgotten = {r[0] for r in self.conn.execute("SELECT author_hash FROM forgotten_authors")}
            for mention in batch.mentions:
                if forgotten and mention.author and author_hash(mention.source, mention.author) in forgotten:
                    result.forgotten += 1
                    continue
                refused = self._refuse(mention)
                if refused:
                    self._quarantine(refused)
                    result.quarantined += 1
                    continue
                try:
                    with self.savepoint():
                        inserted = self._insert_mention(mention)
                except (OverflowError, UnicodeError, sqlite3.InterfaceError) as exc:
                    # The last line of defence for every source: one value SQLite cannot take (an
                    # integer over 64 bits, a lone surrogate) costs that mention, never the batch.
                    self._quarantine(Quarantined(mention.source, f"{mention.source} {mention.native_id}"[:500],
                                                 f"could not be stored: {describe(exc)}", _quarantine_raw(mention.raw)))
                    result.quarantined += 1
                    continue
                if inserted:
                    result.new += 1
                else:
                    result.duplicates += 1
            for item in batch.quarantined:
                self._quarantine(item)
            if batch.cursor is not None:
                self._set_cursor(source, query_key, batch.cursor)
        return result

    def _insert_mention(self, m: Mention) -> bool:
        now = iso(utcnow())
        created = iso(m.created_at)
        metrics = json.dumps(m.metrics, sort_keys=True, ensure_ascii=False)
        cur = self.conn.execute(
            """INSERT INTO mentions (source, native_id, brand, url, author, author_id, author_followers,
                   author_verified, text, title, stars, source_lang, created_at, collected_at, thread_key,
                   parent_id, engagement, metrics, is_brand_account, raw)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (source, native_id) DO NOTHING""",
            (
                m.source, m.native_id, m.brand, m.url, m.author, m.author_id, m.author_followers,
                int(m.author_verified), m.text, m.title, m.stars, m.lang, created, now, m.thread_key,
                m.parent_id, m.engagement, metrics, int(m.is_brand_account),
                None if m.raw is None else _raw_text(m.raw),
            ),
        )
        inserted = cur.rowcount == 1
        if not inserted:
            # Seen before: engagement and reach grow, so refresh them; everything else stays as first stored.
            changed = self.conn.execute(
                """UPDATE mentions SET engagement = ?, metrics = ?, author_followers = COALESCE(?, author_followers)
                   WHERE source = ? AND native_id = ?
                     AND (engagement != ? OR metrics != ? OR (? IS NOT NULL AND author_followers IS NOT ?))""",
                (m.engagement, metrics, m.author_followers, m.source, m.native_id,
                 m.engagement, metrics, m.author_followers, m.author_followers),
            ).rowcount
            if changed:
                self._touch_thread(m, created, now)
            return False
        self._touch_thread(m, created, now)
        if m.author:
            self.conn.execute(
                """INSERT INTO authors (source, author, author_id, followers, verified, first_seen, last_seen, mentions)
                   VALUES (?, ?, ?, ?, ?, ?, ?, 1)
                   ON CONFLICT (source, author) DO UPDATE SET
                     followers = COALESCE(excluded.followers, followers),
                     verified = MAX(verified, excluded.verified),
                     first_seen = MIN(first_seen, excluded.first_seen),
                     last_seen = MAX(last_seen, excluded.last_seen),
                     mentions = mentions + 1""",
                (m.source, m.author, m.author_id, m.author_followers, int(m.author_verified), created, created),
            )
        return True

    def _touch_thread(self, m: Mention, created: str, now: str) -> None:
        self.conn.execute(
            """INSERT INTO threads (thread_key, source, brand, url, title, first_at, last_at, updated_at, dirty)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
               ON CONFLICT (thread_key) DO UPDATE SET dirty = 1,
                 brand = COALESCE(threads.brand, excluded.brand),
                 title = COALESCE(threads.title, excluded.title)""",
            (m.thread_key, m.source, m.brand, m.url if not m.thread_id or m.thread_id == m.native_id else None,
             m.title, created, created, now),
        )

    def _quarantine(self, item: Quarantined) -> None:
        record_quarantine(self.conn, item.source, item.location, item.reason, item.raw or "")

    @staticmethod
    def _refuse(m: Mention) -> Quarantined | None:
        """A mention no stage could handle, from any source: a post time outside the plausible window."""
        reason = implausible_time(m.created_at)
        if reason:
            return Quarantined(m.source, f"{m.source} {m.native_id}"[:500], f"created_at {reason}",
                               _quarantine_raw(m.raw))
        return None

    @contextmanager
    def savepoint(self) -> Iterator[sqlite3.Connection]:
        """A nested transaction: what the block wrote is undone when it raises, the outer one goes on."""
        name = f"sp{id(self)}_{self._savepoints}"
        self._savepoints += 1
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        else:
            self.conn.execute(f"RELEASE {name}")
        finally:
            self._savepoints -= 1

    def start_run(self, source: str, query_key: str, started_at: str) -> int:
        """A run row written before fetching: a run killed half-way stays visible (finished_at NULL)."""
        with self.transaction() as conn:
            cur = conn.execute("INSERT INTO runs (source, query_key, started_at) VALUES (?, ?, ?)",
                               (source, query_key, started_at))
        return int(cur.lastrowid)

    def save_batch_in_run(self, run_id: int, source: str, query_key: str, batch: Batch) -> SaveResult:
        """save_batch, with the run's counts moved in the same transaction: they add up after any crash."""
        with self.transaction() as conn:
            saved = self.save_batch(source, query_key, batch)
            conn.execute(
                "UPDATE runs SET fetched = fetched + ?, new = new + ?, duplicates = duplicates + ?, "
                "quarantined = quarantined + ? WHERE id = ?",
                (saved.fetched, saved.new, saved.duplicates, saved.quarantined, run_id),
            )
        return saved

    def finish_run(self, run_id: int, errors: int = 0, error: str | None = None,
                   duration_s: float | None = None) -> None:
        self.conn.execute("UPDATE runs SET finished_at = ?, errors = ?, error = ?, duration_s = ? WHERE id = ?",
                          (iso(utcnow()), errors, error, duration_s, run_id))

    def record_run(self, source: str, query_key: str, started_at: str, result: SaveResult,
                   errors: int = 0, error: str | None = None, duration_s: float | None = None) -> int:
        return int(self.db["runs"].insert(
            {
                "source": source, "query_key": query_key, "started_at": started_at,
                "finished_at": iso(utcnow()), "fetched": result.fetched, "new": result.new,
                "duplicates": result.duplicates, "quarantined": result.quarantined,
                "errors": errors, "error": error, "duration_s": duration_s,
            }
        ).last_pk)

    def counts(self) -> dict[str, int]:
        """Headline counts for summaries and status."""
        return {
            "mentions": self.scalar("SELECT COUNT(*) FROM mentions"),
            "negative": self.scalar("SELECT COUNT(*) FROM mentions WHERE label = 'negative'"),
            "scored": self.scalar("SELECT COUNT(*) FROM mentions WHERE scored_at IS NOT NULL"),
            "detractors": self.scalar("SELECT COUNT(*) FROM mentions WHERE detractor = 1"),
            "threads": self.scalar("SELECT COUNT(*) FROM threads"),
            "flagged_threads": self.scalar("SELECT COUNT(*) FROM threads WHERE flagged = 1"),
            "queue_open": self.scalar(
                "SELECT COUNT(*) FROM queue_items WHERE state NOT IN ('resolved', 'dismissed')"
            ),
            "alerts": self.scalar("SELECT COUNT(*) FROM outbox"),
            "alerts_delivered": self.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL"),
            "quarantined": self.scalar("SELECT COUNT(*) FROM quarantine"),
        }


def _raw_text(raw: Any) -> str:
    """A source's payload as JSON text SQLite can store (a lone surrogate kept as its escape)."""
    try:
        return safe_text(json.dumps(raw, ensure_ascii=False, default=str))
    except (ValueError, TypeError, RecursionError):
        return safe_text(repr(raw)[:10000])


def _quarantine_raw(raw: Any) -> str:
    return safe_text(raw) if isinstance(raw, str) else _raw_text(raw)


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements (no semicolons inside our string literals).

    A trigger body holds `;`-separated statements: chunks are joined until SQLite says the
    statement is complete.
    """
    parts = []
    pending = ""
    for chunk in sql.split(";"):
        lines = [ln for ln in chunk.splitlines() if not ln.strip().startswith("--")]
        pending += "\n".join(lines) + ";"
        if sqlite3.complete_statement(pending):
            stmt = pending.strip().rstrip(";").strip()
            if stmt:
                parts.append(stmt)
            pending = ""
    if pending.strip().rstrip(";").strip():
        parts.append(pending.strip().rstrip(";").strip())
    return parts


def open_store(path: str | Path) -> Store:
    return Store(path)
