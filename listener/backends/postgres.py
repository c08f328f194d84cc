"""A PostgreSQL connection with the surface the modules use on sqlite3's (psycopg 3).

`execute`, `executemany`, cursors with `fetchone`/`fetchall`/iteration/`description`/`rowcount`/
`lastrowid`, `in_transaction`: each statement is rewritten once (listener.backends.translate) and
parameters are bound client-side (psycopg's ClientCursor), so a `?` compared with NULL or used in a
SELECT list needs no type, as in SQLite. Errors come out as sqlite3's classes, so the modules'
`except sqlite3.IntegrityError` and the store's "one bad value costs one mention" keep working.

Transactions: the connection is in autocommit, like the store's sqlite3 connection, and `BEGIN
IMMEDIATE` (the store's write transaction) becomes BEGIN plus a transaction-scoped advisory lock: one
writer at a time per database schema, what the code was written against. Readers never wait for it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import adapt
from psycopg.pq import TransactionStatus

from listener.backends.catalog import CATALOG
from listener.backends.translate import Translated, translate


class _NumericLoader(adapt.Loader):
    """SUM over integers is numeric in PostgreSQL: back to int (or float), as SQLite returns it."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        try:
            return int(text)
        except ValueError:
            return float(text)


class _BoolLoader(adapt.Loader):
    """A comparison in a SELECT list is 0 or 1 in SQLite."""

    def load(self, data: Any) -> int:
        return 1 if bytes(data) in (b"t", b"true") else 0


class PgDataError(sqlite3.InterfaceError):
    """A value PostgreSQL cannot store (an integer over 64 bits, a NUL character): the row's problem."""


def _sqlite_error(exc: psycopg.Error) -> Exception:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.QueryCanceled):
        return sqlite3.OperationalError(f"database is locked ({message})")
    if isinstance(exc, psycopg.IntegrityError):
        return sqlite3.IntegrityError(message)
    if isinstance(exc, psycopg.DataError):
        return PgDataError(message)
    if isinstance(exc, psycopg.OperationalError | psycopg.ProgrammingError):
        return sqlite3.OperationalError(message)
    return sqlite3.DatabaseError(message)


_INT64 = (-(2**63), 2**63 - 1)


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        # What sqlite3 raises for the same value, before it reaches the server: the store quarantines
        # the one mention with the same reason on both backends.
        raise OverflowError("Python int too large to convert to a 64-bit INTEGER")
    if isinstance(value, dt.datetime):
        return value.isoformat(" ")  # what sqlite3's default adapter stored
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, str) and "\x00" in value:
        raise PgDataError("PostgreSQL text cannot hold a NUL character")
    return value


def _params(params: Any) -> Sequence[Any]:
    if params is None:
        return ()
    if isinstance(params, dict):
        raise sqlite3.ProgrammingError("named parameters are not translated for PostgreSQL; use ?")
    return [_param(v) for v in params]


class PgCursor:
    """What a sqlite3 cursor offers, over a psycopg one."""

    def __init__(self, cur: psycopg.ClientCursor, lastrowid: int | None = None, rows: list | None = None,
                 description: Any = None, rowcount: int | None = None) -> None:
        self._cur = cur
        self.lastrowid = lastrowid
        self._rows = rows
        self._description = description
        self._rowcount = rowcount

    @property
    def description(self) -> Any:
        if self._description is not None:
            return self._description
        if self._rows is not None:
            return None
        desc = self._cur.description
        return None if desc is None else [(c.name, None, None, None, None, None, None) for c in desc]

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount if self._rowcount is None else self._rowcount

    def fetchone(self) -> tuple | None:
        if self._rows is not None:
            return self._rows.pop(0) if self._rows else None
        if self._cur.description is None:
            return None
        try:
            return self._cur.fetchone()
        except psycopg.Error as exc:
            raise _sqlite_error(exc) from exc

    def fetchall(self) -> list[tuple]:
        if self._rows is not None:
            rows, self._rows = self._rows, []
            return rows
        if self._cur.description is None:
            return []
        return self._cur.fetchall()

    def fetchmany(self, size: int = 1) -> list[tuple]:
        if self._rows is not None:
            rows, self._rows = self._rows[:size], self._rows[size:]
            return rows
        if self._cur.description is None:
            return []
        return self._cur.fetchmany(size)

    def __iter__(self) -> Iterator[tuple]:
        row = self.fetchone()
        while row is not None:
            yield row
            row = self.fetchone()

    def close(self) -> None:
        self._cur.close()


class PgConnection:
    """One psycopg connection in autocommit, its statements rewritten from SQLite's dialect."""

    backend = "postgresql"

    def __init__(self, url: str, schema: str | None = None, password: str | None = None) -> None:
        # jit=off: the trend queries join a temporary table PostgreSQL has no statistics for; the planner
        # overestimates it and JIT-compiles each query (428 of 482 ms at 200k mentions; 0.19 ms without).
        # The store's statements are short OLTP ones that JIT never pays back.
        options = "-c lock_timeout=30s -c client_min_messages=warning -c jit=off"
        if schema:
            options += f" -c search_path={schema}"
        try:
            self.raw = psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor,
                                       options=options, connect_timeout=10,
                                       **({"password": password} if password else {}))
        except psycopg.Error as exc:
            raise _sqlite_error(exc) from None
        self.raw.adapters.register_loader("numeric", _NumericLoader)
        self.raw.adapters.register_loader("bool", _BoolLoader)
        self.schema = schema or "public"
        # The write lock: one per schema, so parallel tests (a schema each) do not queue behind each other.
        self.lock_key = zlib.crc32(self.schema.encode())

    # ------------------------------------------------------------ sqlite3.Connection's surface
    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params: Any = ()) -> PgCursor:
        try:
            t = translate(sql)
        except ValueError as exc:
            raise sqlite3.OperationalError(f"cannot translate for PostgreSQL: {exc}: {sql[:200]}") from None
        return self._run(t, _params(params))

    def executemany(self, sql: str, seq: Iterable[Any]) -> PgCursor:
        t = translate(sql)
        rows = [_params(p) for p in seq]
        cur = self.raw.cursor()
        if not rows:
            return PgCursor(cur, rowcount=0)
        stmt = t.sql[: -len(" RETURNING id")] if t.returning_id else t.sql
        try:
            cur.executemany(stmt, rows)
        except psycopg.Error as exc:
            raise _sqlite_error(exc) from exc
        if t.bump_sequence:
            self._bump(t.bump_sequence)
        return PgCursor(cur)

    def executescript(self, sql: str) -> None:
        from listener.store import _split_sql

        for statement in _split_sql(sql):
            self.execute(statement)

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        """SQLite's Python functions: their PostgreSQL forms are in the schema (listener.backends.pg_schema)."""

    def commit(self) -> None:
        if self.in_transaction:
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.raw.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()

    # ------------------------------------------------------------ running
    def execute_raw(self, sql: str, params: Any = None) -> PgCursor:
        """A statement already in PostgreSQL's dialect (migrations, db copy)."""
        cur = self.raw.cursor()
        try:
            cur.execute(sql, params)
        except psycopg.Error as exc:
            raise _sqlite_error(exc) from exc
        return PgCursor(cur)

    def _run(self, t: Translated, params: Sequence[Any]) -> PgCursor:
        cur = self.raw.cursor()
        if t.kind == "noop":
            return PgCursor(cur, rows=[])
        if t.kind == "pragma":
            return PgCursor(cur, rows=self._pragma(t.pragma), rowcount=-1)
        try:
            if t.kind in ("begin", "begin_write"):
                cur.execute("BEGIN")
                if t.kind == "begin_write":
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
                return PgCursor(cur, rows=[], rowcount=-1)
            cur.execute(t.sql, params)
        except psycopg.Error as exc:
            error = _sqlite_error(exc)
            if isinstance(exc, psycopg.ProgrammingError):  # our SQL's fault: say which statement
                error.args = (f"{error.args[0]} (in: {' '.join(t.sql.split())[:300]})",)
            raise error from exc
        if t.bump_sequence:
            self._bump(t.bump_sequence)
        if t.returning_id:
            row = cur.fetchone()
            return PgCursor(cur, lastrowid=row[0] if row else None, rows=[], rowcount=cur.rowcount)
        return PgCursor(cur)

    def _bump(self, table: str) -> None:
        """An explicit id went in: the identity moves past it, as SQLite's next rowid would."""
        self.raw.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                         f"GREATEST((SELECT MAX(id) FROM {table}), 1))")

    def _pragma(self, text: str) -> list[tuple]:
        """The PRAGMAs our code reads, answered as SQLite would; the settings ones mean nothing here."""
        name = text.split("=")[0].split("(")[0].strip().lower()
        if name == "table_info":
            table = text.split("(", 1)[1].rstrip(")").strip().strip("'\"").lower()
            rows = self.raw.execute(
                "SELECT ordinal_position - 1, column_name::text, data_type::text, "
                "CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END, column_default FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
                (table,)).fetchall()
            info = CATALOG.get(table)
            pk = info.pk if info else ()
            return [(*r, (pk.index(r[1]) + 1) if r[1] in pk else 0) for r in rows]
        if name == "wal_checkpoint":
            return [(0, 0, 0)]
        if name in ("secure_delete", "foreign_keys"):
            return [(1,)] if "=" not in text else []
        if name == "journal_mode":
            return [("postgresql",)]
        if name == "integrity_check" or name == "quick_check":
            return [("ok",)]
        return []
