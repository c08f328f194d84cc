"""The store: migrations are numbered and re-runnable; a batch and its cursor commit together."""

from __future__ import annotations

import sqlite3

import pytest

from listener.migrations import MIGRATIONS
from listener.models import Batch, Mention, Quarantined
from listener.store import Store
from tests.helpers import at


def mention(i: int, **kw) -> Mention:
    return Mention(source="x", native_id=str(i), text=f"Brightwave post {i}", created_at=at(20), brand="Brightwave",
                   author=f"user{i % 3}", **kw)


def test_migrations_are_numbered_upwards_and_applied_once(tmp_path, backend):
    numbers = [n for n, _, _ in MIGRATIONS]
    assert numbers == sorted(set(numbers))
    store = Store(tmp_path / "o.db")
    assert store.scalar("SELECT COUNT(*) FROM schema_migrations") == len(MIGRATIONS)
    store.close()
    again = Store(tmp_path / "o.db")
    assert again.migrate() == []
    if backend == "sqlite":
        assert again.scalar("PRAGMA journal_mode") == "wal"


def test_batch_and_cursor_commit_together(tmp_path):
    store = Store(tmp_path / "o.db")
    result = store.save_batch("x", "q", Batch([mention(1), mention(2)], [Quarantined("x", "p1", "bad")], "c1"))
    assert (result.new, result.quarantined) == (2, 1)
    assert store.get_cursor("x", "q") == "c1"


def test_a_failing_batch_moves_neither_data_nor_cursor(tmp_path):
    store = Store(tmp_path / "o.db")
    store.save_batch("x", "q", Batch([mention(1)], cursor="c1"))
    broken = mention(3)
    broken.text = None  # type: ignore[assignment]  # NOT NULL violation half-way through the batch
    with pytest.raises(sqlite3.IntegrityError):
        store.save_batch("x", "q", Batch([mention(2), broken], cursor="c2"))
    assert store.get_cursor("x", "q") == "c1"
    assert store.scalar("SELECT COUNT(*) FROM mentions") == 1


def test_refetch_refreshes_engagement_but_stores_once(tmp_path):
    store = Store(tmp_path / "o.db")
    store.save_batch("x", "q", Batch([mention(1, engagement=3)]))
    store.conn.execute("UPDATE threads SET dirty = 0")
    result = store.save_batch("x", "q", Batch([mention(1, engagement=40)]))
    assert (result.new, result.duplicates) == (0, 1)
    assert store.scalar("SELECT engagement FROM mentions") == 40
    assert store.scalar("SELECT COUNT(*) FROM threads WHERE dirty = 1") == 1  # risk is recomputed
    assert store.scalar("SELECT mentions FROM authors WHERE author = 'user1'") == 1
