"""The rollup computes a chunk's threads first and writes them together (listener/threads.py,
_rollup_chunk): one thread that breaks is set aside and the other threads of the same chunk are
still written, whether it breaks in the maths (nothing of it is written) or in a write (the chunk is
written again thread by thread, each in a savepoint)."""

from __future__ import annotations

import listener.threads
from listener.pipeline import process
from listener.store import Store
from tests.queue_support import angry_thread, write_config


def _records(store, stage):
    return store.query("SELECT location, reason, mention_id FROM quarantine WHERE stage = ? ORDER BY location",
                       (stage,))


def _threads(store):
    return {r["thread_key"]: (r["mentions"], r["dirty"], r["flagged"])
            for r in store.query("SELECT thread_key, mentions, dirty, flagged FROM threads")}


def count_savepoints(monkeypatch) -> list[int]:
    """From now on, each savepoint the store opens appends a 1 to the list returned."""
    savepoints: list[int] = []
    real_savepoint = Store.savepoint

    def savepoint(self):
        savepoints.append(1)
        return real_savepoint(self)

    monkeypatch.setattr(Store, "savepoint", savepoint)
    return savepoints


def _three_threads(store):
    for name in "abc":
        angry_thread(store, name, author=f"{name}-customer")
    # c: a stored time no maths can take (a database from before the import checked them): that one
    # mention is set aside, in the same chunk as the thread that breaks
    store.conn.execute("UPDATE mentions SET created_at = '9999-12-31T23:30:00Z' WHERE native_id = 'c-3'")


def test_a_thread_whose_maths_break_is_set_aside_and_the_rest_of_its_chunk_is_written(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    real = listener.threads.mentions_reach

    def reach(rows):
        if any(r["thread_key"] == "x:b-0" for r in rows):
            raise ZeroDivisionError("reach maths failed")
        return real(rows)

    monkeypatch.setattr(listener.threads, "mentions_reach", reach)
    with Store(config.db_path) as store:
        _three_threads(store)
        # b's own broken mention would be set aside with it: not once the whole thread is
        store.conn.execute("UPDATE mentions SET created_at = '9999-12-31T23:30:00Z' WHERE native_id = 'b-2'")
        process(config, store, channels={})
        records = _records(store, "threads")
        assert [(r["location"], r["reason"]) for r in records if r["mention_id"] is None] == [
            ("thread x:b-0", "ZeroDivisionError: reach maths failed")]
        assert [r["mention_id"] for r in records if r["mention_id"] is not None] == [
            store.scalar("SELECT id FROM mentions WHERE native_id = 'c-3'")]
        threads = _threads(store)
        assert threads["x:a-0"] == (4, 0, 1)
        assert threads["x:c-0"] == (3, 0, 1)
        assert threads["x:b-0"][:2] == (0, 0)  # waits for a retry, not rolled up again every pass
        assert store.scalar("SELECT quarantined FROM mentions WHERE native_id = 'b-2'") is None
        assert [r[0] for r in store.conn.execute("SELECT thread_key FROM queue_items ORDER BY thread_key")] == [
            "x:a-0", "x:c-0"]


def test_a_thread_whose_write_fails_is_set_aside_and_the_rest_of_its_chunk_is_written(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    with Store(config.db_path) as store:
        _three_threads(store)
        # Each mention's engagement is storable, their sum (the thread's engagement) is not: 2**63
        store.conn.execute("UPDATE mentions SET engagement = ? WHERE thread_key = 'x:b-0'", (2**61,))
        savepoints = count_savepoints(monkeypatch)
        listener.threads.rollup_dirty(store, config)
        records = _records(store, "threads")
        [thread] = [r for r in records if r["mention_id"] is None]
        assert thread["location"] == "thread x:b-0"
        assert thread["reason"].startswith("OverflowError")
        # c's broken mention is set aside once, on the thread-by-thread retry
        assert [r["mention_id"] for r in records if r["mention_id"] is not None] == [
            store.scalar("SELECT id FROM mentions WHERE native_id = 'c-3'")]
        threads = _threads(store)  # (not scored here, so not flagged)
        assert threads["x:a-0"][:2] == (4, 0)
        assert threads["x:c-0"][:2] == (3, 0)
        assert threads["x:b-0"][:2] == (0, 0)
        assert [r[0] for r in store.conn.execute(
            "SELECT thread_key FROM threads WHERE alert_pending = 1 ORDER BY thread_key")] == ["x:a-0", "x:c-0"]
        assert savepoints == [1] * 4  # the chunk's, then one per thread on the retry


def test_a_chunk_with_nothing_broken_takes_one_savepoint(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    with Store(config.db_path) as store:
        for name in "abcdef":
            angry_thread(store, name, author=f"{name}-customer")
        savepoints = count_savepoints(monkeypatch)
        rolled = listener.threads.rollup_dirty(store, config)
        assert sorted(rolled) == [f"x:{n}-0" for n in "abcdef"]
        assert savepoints == [1]
        assert store.scalar("SELECT COUNT(*) FROM threads WHERE dirty = 0 AND mentions = 4 AND alert_pending = 1") == 6
