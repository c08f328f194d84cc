"""Upgrading a store: migration 140 recomputes the stored thread reach (a subreddit once, not once per
comment) without marking every thread for re-evaluation."""

from __future__ import annotations

import listener.store
from listener import migrations
from listener.models import Batch, Mention, parse_iso
from listener.store import Store


def test_upgrade_counts_a_subreddit_once_per_thread(tmp_path, monkeypatch) -> None:
    before = [m for m in migrations.MIGRATIONS if m[0] < 140]
    monkeypatch.setattr(listener.store, "MIGRATIONS", before)  # a store from before this change
    at = parse_iso("2026-11-20T10:00:00Z")
    with Store(tmp_path / "s.db") as store:
        pile_on = [Mention(source="reddit", native_id=f"t1_{i}", text="same here", created_at=at, brand="B",
                           author=f"u{i}", author_followers=220_000, thread_id="t3_x") for i in range(7)]
        x_thread = [Mention(source="x", native_id=f"{i}", text="down?", created_at=at, brand="B",
                            author="jess" if i < 2 else "sam", author_followers=48_300 if i < 2 else 800,
                            thread_id="1") for i in range(3)]
        store.save_batch("reddit", "q", Batch(pile_on + x_thread))
        for key, reach in (("reddit:t3_x", 7 * 220_000), ("x:1", 2 * 48_300 + 800)):
            store.conn.execute("INSERT OR REPLACE INTO threads (thread_key, source, brand, first_at, last_at, "
                               "mentions, reach, dirty, updated_at) VALUES (?, 'x', 'B', '', '', 1, ?, 0, '')",
                               (key, reach))
    monkeypatch.undo()
    with Store(tmp_path / "s.db") as store:
        assert store.scalar("SELECT reach FROM threads WHERE thread_key = 'reddit:t3_x'") == 220_000
        assert store.scalar("SELECT reach FROM threads WHERE thread_key = 'x:1'") == 48_300 + 800
        assert store.scalar("SELECT COUNT(*) FROM threads WHERE dirty = 1") == 0
