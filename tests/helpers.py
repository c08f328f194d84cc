"""Small builders shared by tests: a config file on disk, a mention, a store."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

BASE_CONFIG = """
[[brands]]
name = "Brightwave"
keywords = ["Brightwave"]
handles = ["@BrightwaveHelp"]
competitors = ["Lumacell"]

[[competitors]]
name = "Lumacell"
keywords = ["Lumacell"]
"""


def write_config(folder: Path, extra: str = "", base: str = BASE_CONFIG, name: str = "overheard.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(base) + "\n" + textwrap.dedent(extra), encoding="utf-8")
    return path


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)

ROOT_EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def _pg_target(path: Path):
    """The PostgreSQL schema a test store on `path` lives in (tests redirect file stores), else None."""
    from listener.backends import resolve

    target = resolve(path)
    return target if target.backend == "postgresql" else None


def copy_workspace(source: Path, target: Path, store: str = "overheard.db") -> None:
    """A copy of a workspace folder with its store, on either backend. On PostgreSQL a test store lives in
    a schema named after its file path, so the folder's copy gets the rows copied into its own schema."""
    import shutil

    shutil.copytree(source, target)
    if _pg_target(source / store) is not None:
        copy_pg_store(source / store, target / store)


def copy_pg_store(source: Path, target: Path) -> None:
    """Every row of the test store on `source` into a fresh store on `target` (both PostgreSQL schemas)."""
    from listener.store import Store

    src = _pg_target(source)
    with Store(target) as store:  # migrated: the same tables, columns in the same order
        conn = store.conn
        tables = [t for t in store._tables() if t != "schema_migrations"]
        parents: dict[str, set[str]] = {t: set() for t in tables}
        for child, parent in conn.execute_raw(
                "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
                "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace").fetchall():
            if child in parents and parent != child:
                parents[child].add(parent)
        ordered: list[str] = []
        while len(ordered) < len(tables):
            ordered += [t for t in tables if t not in ordered and parents[t] <= set(ordered)] or \
                       [t for t in tables if t not in ordered]
        with store.transaction():
            conn.execute_raw("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
            for table in ordered:
                columns = ", ".join(f'"{r[0]}"' for r in conn.execute_raw(
                    "SELECT attname::text FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                    "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum", (f'"{table}"',)).fetchall())
                conn.execute_raw(f'INSERT INTO "{table}" ({columns}) OVERRIDING SYSTEM VALUE '
                                 f'SELECT {columns} FROM "{src.schema}"."{table}"')
                has_id = '"id"' in columns.split(", ")
                if has_id and conn.execute_raw("SELECT pg_get_serial_sequence(%s, 'id')",
                                               (f'"{table}"',)).fetchone()[0]:
                    conn.execute_raw(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                     f'GREATEST((SELECT MAX(id) FROM "{table}"), 1))')


def stored_bytes(store_path: Path) -> bytes:
    """Everything the store keeps at rest, as bytes: the SQLite file and its WAL, or on PostgreSQL the text
    of every row of every table of the store's schema."""
    target = _pg_target(store_path)
    if target is None:
        wal = store_path.parent / (store_path.name + "-wal")
        return store_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    from listener.store import Store

    with Store(store_path) as store:
        rows = [store.conn.execute_raw(f'SELECT string_agg(t::text, chr(10)) FROM "{table}" t').fetchone()[0]
                for table in store._tables()]
    return "\n".join(r for r in rows if r).encode()
