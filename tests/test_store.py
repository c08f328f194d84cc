"""The store: migrations are numbered and re-runnable; a batch and its cursor commit together."""

from __future__ import annotations

import sqlite3

import pytest

from listener.migrations import MIGRATIONS
from listener.models import Batch, Mention, Quarantined
from listener.store import SaveResult, Store
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


def _dump(store: Store) -> dict:
    return {table: store.query(f"SELECT * FROM {table} ORDER BY 1, 2") for table in ("authors", "threads")} | {
        "mentions": store.query("SELECT source, native_id, brand, author, author_followers, engagement, metrics, "
                                "thread_key FROM mentions ORDER BY source, native_id")}


def test_a_batch_stores_what_mention_by_mention_stores(tmp_path, monkeypatch):
    """The batched upsert (a few statements per batch) against the one-mention-at-a-time path, on re-sent
    posts inside one batch and across batches, refreshed engagement and followers, and threads whose
    brand and title arrive with a later reply."""
    def batches():
        yield Batch([mention(1, engagement=1, thread_id="t1", author_followers=None),
                     mention(2, thread_id="t1", title="Outage"), mention(1, engagement=5, thread_id="t1"),
                     mention(4)], cursor="c1")
        yield Batch([mention(1, engagement=5, thread_id="t1"), mention(2, author_followers=900, thread_id="t1"),
                     mention(5, author_verified=True), mention(5, metrics={"likes": 2})], cursor="c2")

    def saved(folder, one_by_one: bool):
        store = Store(tmp_path / folder)
        if one_by_one:
            monkeypatch.setattr(Store, "_insert_mentions",
                                lambda self, ms: self._insert_one_by_one(ms, SaveResult()))
        results = [store.save_batch("x", "q", b) for b in batches()]
        monkeypatch.undo()
        for table in ("threads",):
            store.conn.execute(f"UPDATE {table} SET updated_at = ''")
        store.conn.execute("UPDATE mentions SET collected_at = ''")
        return [(r.new, r.duplicates) for r in results], _dump(store)

    batched, reference = saved("a.db", False), saved("b.db", True)
    assert batched[0] == [(3, 1), (1, 3)]
    assert batched == reference


def test_a_value_sqlite_cannot_take_costs_that_mention_not_the_batch(tmp_path):
    store = Store(tmp_path / "o.db")
    result = store.save_batch("x", "q", Batch([mention(1), mention(2, engagement=2 ** 70), mention(3)], cursor="c1"))
    assert (result.new, result.quarantined) == (2, 1)
    assert store.scalar("SELECT COUNT(*) FROM quarantine WHERE reason LIKE 'could not be stored%'") == 1
    assert store.get_cursor("x", "q") == "c1"
