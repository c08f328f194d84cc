"""The schema's tables, columns and primary keys, read once from the migrations themselves.

The SQL rewriting for PostgreSQL needs them (INSERT OR REPLACE becomes an upsert on the primary key,
upsert columns are qualified, inserts into id tables return the id). Applying the migrations to an
in-memory SQLite database is the one source of truth both backends share.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[str, ...]
    pk: tuple[str, ...]


def _read() -> dict[str, TableInfo]:
    from listener.migrations import MIGRATIONS
    from listener.store import _split_sql

    conn = sqlite3.connect(":memory:")
    for _number, _name, sql in MIGRATIONS:
        for statement in _split_sql(sql):
            conn.execute(statement)
    tables: dict[str, TableInfo] = {}
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE '%VIRTUAL%'")]
    names.append("schema_migrations")
    conn.execute("CREATE TABLE schema_migrations (number INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    for name in names:
        info = conn.execute(f"PRAGMA table_info({name})").fetchall()
        if not info or "_fts_" in name:
            continue
        columns = tuple(r[1].lower() for r in info)
        pk = tuple(r[1].lower() for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
        tables[name.lower()] = TableInfo(name, columns, pk)
    conn.close()
    return tables


class _Catalog(dict):
    """Read on first use (listener.store imports this module before the migrations are complete)."""

    def _load(self) -> None:
        if not self:
            self.update(_read())

    def get(self, key, default=None):  # type: ignore[override]
        self._load()
        return super().get(key, default)

    def __getitem__(self, key):
        self._load()
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self._load()
        return super().__contains__(key)

    def values(self):  # type: ignore[override]
        self._load()
        return super().values()

    def keys(self):  # type: ignore[override]
        self._load()
        return super().keys()


CATALOG: _Catalog = _Catalog()
