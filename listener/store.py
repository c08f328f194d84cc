"""The store: SQLite through sqlite-utils, WAL mode, numbered migrations.

Rules that keep data safe live here: a batch of mentions and the cursor that follows it are written
in one transaction, and mentions upsert on (source, native_id), so a re-fetch stores nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from listener.backends import Target
from listener.backends import password as backend_password
from listener.backends import resolve as resolve_target
from listener.errors import UserError
from listener.masking import mask
from listener.migrations import MIGRATIONS
from listener.models import Batch, Mention, Quarantined, iso, utcnow
from listener.quarantine import describe, implausible_time, safe_text
from listener.quarantine import record as record_quarantine

if TYPE_CHECKING:
    import sqlite_utils


@dataclass
class SaveResult:
    fetched: int = 0
    new: int = 0
    duplicates: int = 0
    quarantined: int = 0
    forgotten: int = 0  # posts by people who asked to be forgotten: not stored


def normal_handle(author: str) -> str:
    """A handle as platforms compare them: without a leading @, NFC, case-folded (X, Reddit, Mastodon,
    Bluesky and the app stores all ignore case in user names)."""
    return unicodedata.normalize("NFC", author).strip().lstrip("@").casefold()


ANY_SOURCE = "*"  # forget on every source also records this hash: it matches rows whose source we cannot tell


def author_hash(source: str, author: str) -> str:
    """How a forgotten author is remembered: a hash, never the name."""
    return hashlib.sha256(f"{source}\0{normal_handle(author)}".encode()).hexdigest()


_AUTHOR_KEYS = {"author", "user", "username", "user_name", "screen_name", "handle", "acct", "author_name", "name",
                "by", "userName", "authorName", "author_handle", "login"}
_TOKENS = re.compile(r"[\w][\w.@-]*")


def raw_author_candidates(raw: str) -> set[str]:
    """Strings in a raw (quarantined) row that may be its author: the author-like values of a JSON object,
    else every cell of a CSV line, and every handle-shaped word of either."""
    values: list[str] = []
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, (dict, list)):
        stack: list[Any] = [data]
        while stack and len(values) < 500:
            item = stack.pop()
            if isinstance(item, dict):
                for key, value in item.items():
                    if isinstance(value, str) and key in _AUTHOR_KEYS:
                        values.append(value)
                    elif isinstance(value, (dict, list)):
                        stack.append(value)
                    elif isinstance(value, str):
                        values.extend(_TOKENS.findall(value)[:50])
            elif isinstance(item, list):
                stack.extend(item)
    else:
        import csv

        for delimiter in (",", ";", "\t"):
            try:
                cells = next(csv.reader([raw], delimiter=delimiter))
            except (csv.Error, StopIteration):
                continue
            values.extend(c for c in cells if c and len(c) <= 200)
        values.extend(_TOKENS.findall(raw)[:200])
    return {normal_handle(v) for v in values if v and v.strip()}


def is_forgotten_raw(raw: str, source: str, forgotten: set[str]) -> bool:
    """True when a raw row names someone who asked to be forgotten (on its source, or on every source)."""
    if not forgotten or not raw:
        return False
    for candidate in raw_author_candidates(raw):
        if author_hash(source, candidate) in forgotten or author_hash(ANY_SOURCE, candidate) in forgotten:
            return True
    return False


class StoreError(UserError):
    """The database file cannot be used as it is: one line naming the file and what to do (exit 2)."""


# SQLite's words for a file that is damaged or not a database, for one it cannot write, and for a lock
# held too long. Any other sqlite3 error is our bug and keeps its traceback.
_DAMAGED = ("file is not a database", "malformed", "disk image", "file is encrypted", "not an error")
_CANNOT_WRITE = ("unable to open database file", "readonly database", "disk i/o error", "database or disk is full",
                 "cannot open", "permission denied")
_LOCKED = ("database is locked",)
_MAGIC = {b"\x89PNG": "a PNG image", b"%PDF": "a PDF document", b"PK\x03\x04": "a ZIP archive",
          b"\x1f\x8b": "a gzip file", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image"}
SQLITE_HEADER = b"SQLite format 3\x00"


def store_problem(path: str | Path, exc: BaseException) -> StoreError | None:
    """The one line for a sqlite3 or OS error about the database file, or None when it is not one."""
    text = str(exc).lower()
    if isinstance(exc, sqlite3.DatabaseError):
        if any(word in text for word in _DAMAGED):
            return StoreError(f"{path}: the database file is damaged ({exc}); restore it from a backup, or move "
                              "it aside and overheard starts a new one (`sqlite3 FILE .recover` may save its data)")
        if any(word in text for word in _LOCKED):
            return StoreError(f"{path}: the database is locked by another program (waited 30 s); stop the other "
                              "program or try again")
        if any(word in text for word in _CANNOT_WRITE):
            return StoreError(f"{path}: cannot open or write the database ({exc}); check that the file and its "
                              "folder exist, are writable by this user and have space, or set [store] path elsewhere")
        return None
    if isinstance(exc, OSError):
        return StoreError(f"{path}: cannot create or open the database ({exc.strerror or exc}); check the folder "
                          "and its permissions, or set [store] path elsewhere")
    return None


def _make_private_dirs(folder: Path) -> None:
    """Create the missing folders of `folder` as 0700: the database holds people's posts and handles."""
    missing = []
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        parent.mkdir()
        os.chmod(parent, 0o700)  # whatever the umask


def _check_file(path: Path) -> None:
    """Refuse a folder or an unwritable file before SQLite sees it; create a new one 0600.

    The existing file is never opened here: closing any descriptor of a database file drops the
    POSIX locks every SQLite connection of this process holds on it (the daemon's other jobs).
    """
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a database file; set [store] path to a file name")
    if not path.exists():
        _make_private_dirs(path.parent)
        if not path.parent.is_dir():
            raise StoreError(f"{path}: {path.parent} is not a folder; set [store] path elsewhere")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(fd, 0o600)  # whatever the umask; SQLite gives the -wal and -shm files the same mode
        os.close(fd)
        return
    folder = "its folder (SQLite writes -wal and -shm files beside it)"
    for what, where, mode in (("the database file", path, os.R_OK | os.W_OK), (folder, path.parent, os.W_OK)):
        if not os.access(where, mode):
            raise StoreError(f"{path}: this user cannot write {what}; fix the permissions (e.g. chmod u+rw) "
                             "or set [store] path to a writable place")


def _diagnose(path: Path) -> StoreError | None:
    """After SQLite called the file damaged or not a database: what it is instead, or that it is cut
    short. Read only then, never on a good open (closing a descriptor of a database file drops the
    locks this process's other SQLite connections hold on it). Zero bytes is SQLite's empty database."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
        size = path.stat().st_size
    except OSError:
        return None
    if not head:
        return None
    if not head.startswith(SQLITE_HEADER):
        kind = next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)
        what = kind or ("a text file" if _is_text(head) else "not an SQLite database")
        return StoreError(f"{path}: is {what}, not an overheard database; set [store] path to another file "
                          "(overheard creates it) or restore the database from a backup")
    cut = StoreError(f"{path}: the database file is cut short ({size:,} bytes); restore it from a backup, "
                     "or move it aside and overheard starts a new one")
    if len(head) < 100:
        return cut
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    wal = Path(f"{path}-wal")
    # The header's page count is valid when its version stamp matches the change counter; with no WAL to
    # replay, a file shorter than that lost its end (a copy or download that stopped).
    if head[24:28] == head[92:96] and (not wal.exists() or wal.stat().st_size == 0) and size < pages * page_size:
        return StoreError(f"{path}: the database file is cut short ({size:,} of {pages * page_size:,} bytes); "
                          "restore it from a backup, or move it aside and overheard starts a new one")
    return None


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class Store:
    """One connection to the overheard database. Open one per thread.

    Opening refuses, with one StoreError line, a file that is damaged, cut short, not a database,
    another program's database, one written by a newer overheard, or one it cannot write.
    """

    backend = "sqlite"

    def __init__(self, path: str | Path, *, file: bool = False) -> None:
        """`path`: an SQLite file (or ":memory:") or a postgresql:// URL. file=True: the SQLite file at
        path whatever the environment says (db copy reads it while tests redirect stores)."""
        target = Target("sqlite", str(path)) if file else resolve_target(path)
        if target.backend == "postgresql":
            self._open_postgresql(target)
            return
        self.path = str(path)
        memory = self.path == ":memory:"
        try:
            if not memory:
                _check_file(Path(self.path))
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE) so a batch and its cursor commit together.
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise (store_problem(self.path, exc) or exc) from None
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA busy_timeout = 30000")
            self.conn = conn
            self._savepoints = 0
            self._check_schema()
            if not memory and conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = wal")
            self.migrate()
        except (OSError, sqlite3.DatabaseError) as exc:
            conn.close()
            problem = store_problem(self.path, exc)
            if problem is not None and not memory and any(w in str(exc).lower() for w in _DAMAGED):
                problem = _diagnose(Path(self.path)) or problem
            if problem is None:
                raise
            raise problem from None
        except BaseException:
            conn.close()
            raise

    def _open_postgresql(self, target: Target) -> None:
        """The same store on PostgreSQL (listener.backends.postgres): connect, check, migrate."""
        from listener.backends.postgres import PgConnection

        self.backend = "postgresql"
        self.path = target.shown
        try:
            conn = PgConnection(target.location, schema=target.schema, password=backend_password())
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot connect to PostgreSQL ({mask(str(exc))}); check [store] url, that "
                             "the server is running and accepts this user, and the password variable "
                             "([store] password_env)") from None
        try:
            if target.schema:
                try:
                    conn.execute_raw(f'CREATE SCHEMA IF NOT EXISTS "{target.schema}"')
                except sqlite3.IntegrityError:
                    pass  # another process created it at the same moment
            self.conn = conn
            self._savepoints = 0
            self._check_schema()
            self.migrate()
        except BaseException:
            conn.close()
            raise

    def _tables(self) -> list[str]:
        if self.backend == "postgresql":
            return [r[0] for r in self.conn.execute_raw(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() "
                "AND table_type = 'BASE TABLE' ORDER BY 1")]
        return [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def _check_schema(self) -> None:
        """Our database, at a schema this version knows; anything else is left untouched."""
        if self.backend == "postgresql":
            try:  # the common case in one round trip (information_schema is slow to ask)
                numbers = {r[0] for r in self.conn.execute_raw("SELECT number FROM schema_migrations")}
            except sqlite3.OperationalError:
                numbers = None
            if numbers is not None:
                self._check_numbers(numbers)
                return
        tables = self._tables()
        if not tables:
            return  # new or empty: migrate() creates everything
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(schema_migrations)")}
        if "number" not in columns:
            shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
            if self.backend == "postgresql":
                raise StoreError(f"{self.path}: holds another program's tables ({shown}), not an overheard database; "
                                 "overheard will not write into it: point [store] url at an empty database")
            raise StoreError(f"{self.path}: is another program's SQLite database (tables: {shown}), not an overheard "
                             "database; overheard will not write into it: set [store] path to a new file")
        self._check_numbers({r[0] for r in self.conn.execute("SELECT number FROM schema_migrations")})

    def _check_numbers(self, numbers: set[int]) -> None:
        known = {number for number, _, _ in MIGRATIONS}
        unknown = sorted(numbers - known)
        if unknown:
            shown = ", ".join(str(n) for n in unknown[:5]) + ("…" if len(unknown) > 5 else "")
            raise StoreError(f"{self.path}: was written by a newer version of overheard (schema migrations {shown} "
                             "are unknown to this one); upgrade overheard, or point [store] path at a database "
                             "this version made")

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the same connection, built on first use: importing it costs ~0.1 s, which
        the quick CLI commands (queue, status) never need. SQLite only: code that runs on both engines
        goes through query/scalar/conn.execute."""
        if self.backend != "sqlite":
            raise TypeError("store.db (sqlite-utils) is SQLite only; use store.query / store.conn.execute")
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.close()
        # A file damaged past its first pages is only found when a command reads there: one line, not a traceback.
        if isinstance(exc, sqlite3.DatabaseError):
            problem = store_problem(self.path, exc)
            if problem is not None and any(word in str(exc).lower() for word in (*_DAMAGED, *_CANNOT_WRITE)):
                raise problem from None

    # ------------------------------------------------------------ schema
    def migrate(self) -> list[int]:
        """Apply the migrations this database has not seen yet; returns their numbers."""
        if self.backend == "postgresql":
            return self._migrate_postgresql()
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

    def _migrate_postgresql(self) -> list[int]:
        """The same numbers, their PostgreSQL statements (listener.backends.pg_schema), all pending ones in
        one transaction under the write lock: two workers starting together apply each once."""
        from listener.backends.pg_schema import pg_statements

        known = [number for number, _, _ in MIGRATIONS]
        try:
            done = {r[0] for r in self.conn.execute_raw("SELECT number FROM schema_migrations")}
        except sqlite3.OperationalError:
            done = set()
        if done.issuperset(known):
            return []
        applied = []
        with self.transaction():
            self.conn.execute_raw("CREATE TABLE IF NOT EXISTS schema_migrations "
                                  "(number BIGINT PRIMARY KEY, name TEXT, applied_at TEXT)")
            done = {r[0] for r in self.conn.execute_raw("SELECT number FROM schema_migrations")}
            script = []
            for number, name, sql in MIGRATIONS:
                if number in done:
                    continue
                script.extend(pg_statements(number, sql))
                stamp = _literal(iso(utcnow()))
                script.append(f"INSERT INTO schema_migrations VALUES ({number}, {_literal(name)}, {stamp})")
                applied.append(number)
            # One round trip for the whole script (no parameters: PostgreSQL runs it statement by statement).
            self.conn.execute_raw(";\n".join(script))
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
        cursor = self.conn.execute(sql, params)
        keys = [d[0] for d in cursor.description or ()]
        return [dict(zip(keys, row, strict=True)) for row in cursor]

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
            keep: list[Mention] = []
            for mention in batch.mentions:
                if forgotten and mention.author and (author_hash(mention.source, mention.author) in forgotten
                                                     or author_hash(ANY_SOURCE, mention.author) in forgotten):
                    result.forgotten += 1
                    continue
                refused = self._refuse(mention)
                if refused:
                    self._quarantine(refused)
                    result.quarantined += 1
                    continue
                keep.append(mention)
            try:
                with self.savepoint():
                    new, duplicates = self._insert_mentions(keep)
            except (OverflowError, UnicodeError, sqlite3.InterfaceError, ValueError, TypeError):
                # One value SQLite cannot take somewhere in the batch: store it mention by mention
                # so that mention alone is set aside.
                new, duplicates = self._insert_one_by_one(keep, result)
            result.new += new
            result.duplicates += duplicates
            for item in batch.quarantined:
                if forgotten and is_forgotten_raw(item.raw, item.source, forgotten):
                    continue  # a forgotten person's bad row is not kept either
                self._quarantine(item)
            if batch.cursor is not None:
                self._set_cursor(source, query_key, batch.cursor)
        return result

    def _insert_one_by_one(self, mentions: list[Mention], result: SaveResult) -> tuple[int, int]:
        new = duplicates = 0
        for mention in mentions:
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
                new += 1
            else:
                duplicates += 1
        return new, duplicates

    def _insert_mentions(self, mentions: list[Mention]) -> tuple[int, int]:
        """Upsert a batch in a few statements: which are stored already (one look-up per 500), the new ones
        in one INSERT, the changed ones' refresh, their threads marked dirty and their authors counted.

        Exactly what _insert_mention does mention by mention, in the same order (a post sent twice in one
        batch is stored by the first and refreshed by the second)."""
        if not mentions:
            return 0, 0
        now = iso(utcnow())
        stored: dict[tuple[str, str], list[Any]] = {}  # (source, native_id) -> [engagement, metrics, followers]
        by_source: dict[str, list[str]] = {}
        for m in mentions:
            by_source.setdefault(m.source, []).append(m.native_id)
        for source, ids in by_source.items():
            ids = sorted(set(ids))
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                for native_id, engagement, metrics, followers in self.conn.execute(
                    "SELECT native_id, engagement, metrics, author_followers FROM mentions "
                    f"WHERE source = ? AND native_id IN ({','.join('?' * len(part))})", (source, *part),
                ):
                    stored[(source, native_id)] = [engagement, metrics, followers]
        inserts: list[tuple] = []
        refreshes: list[tuple] = []
        touched: list[tuple[Mention, str]] = []
        authors: list[tuple] = []
        duplicates = 0
        for m in mentions:
            created = iso(m.created_at)
            metrics = json.dumps(m.metrics, sort_keys=True, ensure_ascii=False)
            key = (m.source, m.native_id)
            seen = stored.get(key)
            if seen is None:
                stored[key] = [m.engagement, metrics, m.author_followers]
                inserts.append((
                    m.source, m.native_id, m.brand, m.url, m.author, m.author_id, m.author_followers,
                    int(m.author_verified), m.text, m.title, m.stars, m.lang, created, now, m.thread_key,
                    m.parent_id, m.engagement, metrics, int(m.is_brand_account),
                    None if m.raw is None else _raw_text(m.raw),
                ))
                touched.append((m, created))
                if m.author:
                    authors.append((m.source, m.author, m.author_id, m.author_followers, int(m.author_verified),
                                    created, created))
                continue
            duplicates += 1
            engagement, old_metrics, followers = seen
            # As SQL compares: a NULL on either side is never "different".
            changed = ((engagement is not None and m.engagement is not None and engagement != m.engagement)
                       or (old_metrics is not None and old_metrics != metrics)
                       or (m.author_followers is not None and followers != m.author_followers))
            if changed:
                refreshes.append((m.engagement, metrics, m.author_followers, m.source, m.native_id))
                seen[:] = [m.engagement, metrics, m.author_followers if m.author_followers is not None else followers]
                touched.append((m, created))
        if inserts:
            self.conn.executemany(
                """INSERT INTO mentions (source, native_id, brand, url, author, author_id, author_followers,
                       author_verified, text, title, stars, source_lang, created_at, collected_at, thread_key,
                       parent_id, engagement, metrics, is_brand_account, raw)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (source, native_id) DO NOTHING""", inserts)
        if refreshes:
            # Seen before: engagement and reach grow, so refresh them; everything else stays as first stored.
            # Running thread totals that counted the old figures are counted again (listener/threads.py).
            self.conn.executemany(
                "DELETE FROM thread_totals WHERE thread_key IN (SELECT thread_key FROM mentions "
                "WHERE source = ? AND native_id = ? AND rolled_up IS NOT NULL)", [r[-2:] for r in refreshes])
            self.conn.executemany(
                "UPDATE mentions SET engagement = ?, metrics = ?, author_followers = COALESCE(?, author_followers) "
                "WHERE source = ? AND native_id = ?", refreshes)
        self._touch_threads(touched, now)
        if authors:
            self.conn.executemany(
                """INSERT INTO authors (source, author, author_id, followers, verified, first_seen, last_seen, mentions)
                   VALUES (?, ?, ?, ?, ?, ?, ?, 1)
                   ON CONFLICT (source, author) DO UPDATE SET
                     followers = COALESCE(excluded.followers, authors.followers),
                     verified = CASE WHEN excluded.verified > authors.verified THEN excluded.verified
                                     ELSE authors.verified END,
                     first_seen = CASE WHEN excluded.first_seen < authors.first_seen THEN excluded.first_seen
                                       ELSE authors.first_seen END,
                     last_seen = CASE WHEN excluded.last_seen > authors.last_seen THEN excluded.last_seen
                                      ELSE authors.last_seen END,
                     mentions = authors.mentions + 1""", authors)
        return len(inserts), duplicates

    def _touch_threads(self, touched: list[tuple[Mention, str]], now: str) -> None:
        """Mark the threads of new or changed mentions dirty: one row per thread, with what the mention-by-
        mention upserts would leave (the first mention's url and times, the first brand and title given)."""
        rows: dict[str, list[Any]] = {}
        for m, created in touched:
            row = rows.get(m.thread_key)
            if row is None:
                rows[m.thread_key] = [m.thread_key, m.source, m.brand,
                                      m.url if not m.thread_id or m.thread_id == m.native_id else None,
                                      m.title, created, created, now]
            else:
                row[2] = row[2] if row[2] is not None else m.brand
                row[4] = row[4] if row[4] is not None else m.title
        if rows:
            self.conn.executemany(
                """INSERT INTO threads (thread_key, source, brand, url, title, first_at, last_at, updated_at, dirty)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
                   ON CONFLICT (thread_key) DO UPDATE SET dirty = 1,
                     brand = COALESCE(threads.brand, excluded.brand),
                     title = COALESCE(threads.title, excluded.title)""", [tuple(r) for r in rows.values()])

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
                self.conn.execute(
                    "DELETE FROM thread_totals WHERE thread_key IN (SELECT thread_key FROM mentions "
                    "WHERE source = ? AND native_id = ? AND rolled_up IS NOT NULL)", (m.source, m.native_id))
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
                          (iso(utcnow()), errors, None if error is None else mask(error), duration_s, run_id))

    def record_run(self, source: str, query_key: str, started_at: str, result: SaveResult,
                   errors: int = 0, error: str | None = None, duration_s: float | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO runs (source, query_key, started_at, finished_at, fetched, new, duplicates, quarantined, "
            "errors, error, duration_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (source, query_key, started_at, iso(utcnow()), result.fetched, result.new, result.duplicates,
             result.quarantined, errors, None if error is None else mask(error), duration_s))
        return int(cur.lastrowid)

    def counts(self) -> dict[str, int]:
        """Headline counts for summaries and status."""
        return {
            "mentions": self.scalar("SELECT COUNT(*) FROM mentions"),
            "negative": self.scalar("SELECT COUNT(*) FROM mentions WHERE label = 'negative'"),
            "scored": self.scalar("SELECT COUNT(*) FROM mentions WHERE scored_at IS NOT NULL"),
            "detractors": self.scalar("SELECT COUNT(*) FROM mentions WHERE detractor = 1"),
            "threads": self.scalar("SELECT COUNT(*) FROM threads"),
            "flagged_threads": self.scalar("SELECT COUNT(*) FROM threads WHERE flagged = 1"),
            # Open as the queue counts it (alerts.queue.Queue.counts): not closed, not snoozed.
            "queue_open": self.scalar(
                "SELECT COUNT(*) FROM queue_items WHERE state NOT IN ('resolved', 'dismissed', 'snoozed')"
            ),
            "alerts": self.scalar("SELECT COUNT(*) FROM outbox"),  # messages: one per alert and receiver
            "alerts_distinct": self.scalar(
                "SELECT COUNT(DISTINCT COALESCE(thread_key, idem_key) || '|' || rule || '|' || level) FROM outbox"),
            "alert_receivers": self.scalar("SELECT COUNT(DISTINCT receiver) FROM outbox"),
            "alerts_delivered": self.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL"),
            "quarantined": self.scalar("SELECT COUNT(*) FROM quarantine"),
        }


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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


# ---------------------------------------------------------------- later stages' writes to mentions
# listener.store owns the writes to the mentions table (tests/test_table_owners.py): the score stage
# and human labels change a stored mention through these, inside their own transaction (`conn`).


def save_scores(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """The score stage's results, one tuple per mention: (lang, label, compound, confidence, themes,
    theme_sentiment, detractor, scored_at, also_brands, needs_reply, scored_by, second_look, id)."""
    conn.executemany(
        "UPDATE mentions SET lang = ?, label = ?, compound = ?, confidence = ?, themes = ?, "
        "theme_sentiment = ?, detractor = ?, scored_at = ?, also_brands = ?, needs_reply = ?, "
        "scored_by = ?, second_look = ?, rolled_up = NULL WHERE id = ?", rows)


def save_second_look(conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
    """A deferred second look's result: (label, compound, confidence, theme_sentiment, detractor,
    needs_reply, scored_by, id); the mention no longer waits for one."""
    conn.execute(
        "UPDATE mentions SET label = ?, compound = ?, confidence = ?, theme_sentiment = ?, detractor = ?, "
        "needs_reply = ?, scored_by = ?, second_look = 0, rolled_up = NULL WHERE id = ?", row)


def set_label(conn: sqlite3.Connection, mention_id: int, label: str) -> None:
    """A person's label becomes the mention's current label (listener.labels keeps the record)."""
    conn.execute("UPDATE mentions SET label = ?, rolled_up = NULL WHERE id = ?", (label, mention_id))


def count_negatives(conn: sqlite3.Connection, rows: list[tuple[str, str, str, str]]) -> None:
    """One more negative mention for each author, (created_at, created_at, source, author): the count and
    the latest time feed the repeat-detractor signal."""
    conn.executemany(
        "UPDATE authors SET negative = negative + 1, last_negative_at = CASE WHEN last_negative_at IS NULL "
        "OR last_negative_at < ? THEN ? ELSE last_negative_at END WHERE source = ? AND author = ?",
        rows)


def mark_repeat_detractors(conn: sqlite3.Connection, rows: list[tuple[str, str, str]]) -> None:
    """Authors the thread rollup found complaining again, (created_at, source, author): each author's
    repeat_detractor_at becomes the latest such time (the thread rollup calls it for a whole chunk)."""
    if rows:
        conn.executemany(
            "UPDATE authors SET repeat_detractor_at = ? WHERE source = ? AND author = ? "
            "AND (repeat_detractor_at IS NULL OR repeat_detractor_at < ?)",
            [(at, source, author, at) for at, source, author in rows])
