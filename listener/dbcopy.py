"""Moving a store over: `overheard db copy --to postgresql://…` and `overheard db check`.

The copy reads the SQLite file table by table, parents before children (foreign keys), in key order,
and writes batches of rows with `ON CONFLICT DO NOTHING`. Each batch commits together with its place
(table, last key) in `overheard_copy_progress` on the target, so a copy killed at any moment goes on
from the last committed batch when run again, and nothing is written twice. Identity counters are
moved past the copied ids, so new rows on PostgreSQL get new ids.

Stop `overheard run` (and `overheard serve`) while copying: rows that change in SQLite after their
batch was copied are not copied again. `db check` then compares every table's row count (and largest
id) on both sides and names each table that differs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from listener.backends.catalog import CATALOG
from listener.errors import UserError
from listener.store import Store

PROGRESS_TABLE = "overheard_copy_progress"


@dataclass
class TableCount:
    table: str
    source: int
    target: int
    source_max_id: int | None = None
    target_max_id: int | None = None

    @property
    def same(self) -> bool:
        return self.source == self.target and self.source_max_id == self.target_max_id


@dataclass
class CopyResult:
    copied: dict[str, int] = field(default_factory=dict)  # rows written by this run, per table
    resumed: list[str] = field(default_factory=list)  # tables a previous run had started


def copy_order(source: Store) -> list[str]:
    """The schema's tables, every table after the ones its foreign keys point at."""
    tables = sorted(name for name in CATALOG.keys() if name != "schema_migrations")
    present = {r[0].lower() for r in source.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tables = [t for t in tables if t in present]
    parents = {t: {r[2].lower() for r in source.conn.execute(f"PRAGMA foreign_key_list({t})")} - {t} for t in tables}
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = [t for t in tables if t not in ordered and parents[t] <= set(ordered)]
        if not ready:  # a cycle: keep the rest in name order (none in our schema)
            ready = [t for t in tables if t not in ordered]
        ordered.extend(ready)
    return ordered


def _key(source: Store, table: str) -> tuple[list[str], bool]:
    """The columns the copy walks a table in: rowid when it has one, else the primary key."""
    sql = source.scalar("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)) or ""
    if "WITHOUT ROWID" in sql.upper():
        return list(CATALOG[table].pk), False
    return ["rowid"], True


def _batches(source: Store, table: str, columns: list[str], after: list[Any] | None,
             batch: int) -> Iterator[tuple[list[tuple], list[Any]]]:
    key, rowid = _key(source, table)
    select = ", ".join(key + [f'"{c}"' for c in columns])
    order = ", ".join(key)
    while True:
        if after is None:
            rows = source.conn.execute(f"SELECT {select} FROM {table} ORDER BY {order} LIMIT ?", (batch,)).fetchall()
        else:
            marks = ", ".join("?" for _ in key)
            rows = source.conn.execute(f"SELECT {select} FROM {table} WHERE ({order}) > ({marks}) "
                                       f"ORDER BY {order} LIMIT ?", (*after, batch)).fetchall()
        if not rows:
            return
        after = list(rows[-1][: len(key)])
        yield [r[len(key):] for r in rows], after
        if len(rows) < batch:
            return


def copy_store(source: Store, target: Store, batch: int = 1000,
               on_batch: Callable[[str, int], None] | None = None) -> CopyResult:
    """Copy every table of the SQLite `source` into the PostgreSQL `target` (already migrated)."""
    if source.backend != "sqlite":
        raise UserError(f"{source.path}: db copy reads an SQLite store; this one is already on {source.backend}")
    if target.backend != "postgresql":
        raise UserError(f"{target.path}: db copy writes to PostgreSQL: give --to postgresql://…")
    conn = target.conn
    conn.execute_raw(f"CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (table_name TEXT PRIMARY KEY, "
                     "after_key TEXT, rows BIGINT NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0)")
    progress = {r[0]: (json.loads(r[1]) if r[1] else None, r[2], r[3]) for r in conn.execute_raw(
        f"SELECT table_name, after_key, rows, done FROM {PROGRESS_TABLE}")}
    if not progress and target.scalar("SELECT COUNT(*) FROM mentions"):
        raise UserError(f"{target.path}: already holds {target.scalar('SELECT COUNT(*) FROM mentions'):,} mentions "
                        "that no `db copy` wrote; copy into a new, empty database")
    result = CopyResult()
    for table in copy_order(source):
        after, _rows, done = progress.get(table, (None, 0, 0))
        if done:
            continue
        if table in progress:
            result.resumed.append(table)
        source_columns = [r[1] for r in source.conn.execute(f"PRAGMA table_info({table})")]
        columns = [c for c in source_columns if c.lower() in CATALOG[table].columns]
        names = ", ".join(f'"{c}"' for c in columns)
        row_marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
        copied = 0
        for rows, last in _batches(source, table, columns, after, batch):
            values = ", ".join([row_marks] * len(rows))
            params = [_value(v) for row in rows for v in row]
            with target.transaction():
                conn.execute_raw(f"INSERT INTO {table} ({names}) VALUES {values} ON CONFLICT DO NOTHING", params)
                conn.execute_raw(
                    f"INSERT INTO {PROGRESS_TABLE} (table_name, after_key, rows) VALUES (%s, %s, %s) "
                    "ON CONFLICT (table_name) DO UPDATE SET after_key = excluded.after_key, "
                    f"rows = {PROGRESS_TABLE}.rows + excluded.rows", (table, json.dumps(last), len(rows)))
            copied += len(rows)
            if on_batch:
                on_batch(table, copied)
        with target.transaction():
            if "id" in CATALOG[table].columns and CATALOG[table].pk == ("id",):
                conn.execute_raw(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"GREATEST((SELECT MAX(id) FROM {table}), 1))")
            conn.execute_raw(f"INSERT INTO {PROGRESS_TABLE} (table_name, done) VALUES (%s, 1) "
                             "ON CONFLICT (table_name) DO UPDATE SET done = 1", (table,))
        result.copied[table] = copied
    return result


def _value(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise UserError("a text value holds a NUL character, which PostgreSQL cannot store")
    return value


def check_stores(source: Store, target: Store) -> list[TableCount]:
    """Row counts (and largest ids) of every table on both sides."""
    out = []
    for table in copy_order(source):
        has_id = "id" in CATALOG[table].columns
        counts = []
        for store in (source, target):
            try:
                n = store.scalar(f"SELECT COUNT(*) FROM {table}")
                top = store.scalar(f"SELECT MAX(id) FROM {table}") if has_id else None
            except sqlite3.OperationalError:
                n, top = -1, None
            counts.append((n, top))
        out.append(TableCount(table, counts[0][0], counts[1][0], counts[0][1], counts[1][1]))
    return out
