"""The incremental thread rollup (running totals per big thread, only new mentions read) must give
exactly what counting every mention again gives, whatever happens in between: new replies, late
ones, brand replies, re-scoring, re-labels, refreshed engagement, mentions set aside, authors
forgotten, and a crash in the middle of a rollup."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

import listener.threads
from listener.config import load_config
from listener.labels import relabel
from listener.models import Batch, Mention, utcnow
from listener.quarantine import quarantine_mention
from listener.retention import forget_author
from listener.scoring import score_pending
from listener.store import Store
from listener.threads import rollup_dirty
from sentiment.score import Score
from tests.helpers import write_config

TEXTS = ["@BrightwaveHelp outage again, I want a refund", "same here, down since 8", "works for me",
         "switching to Lumacell after this", "this is a scam, chargeback time", "any update @BrightwaveHelp?",
         "lol", "awful service", "Brightwave is down in Leeds too", "my router is blinking red",
         "they never answer", "cancelling today", "thanks, fixed now", "@brightwavehelp can you DM me"]
AUTHORS = [f"user{i}" for i in range(14)]
THREADS = ["x:viral", "x:big", "x:t1", "x:t2", "reddit:r1", "appstore:a1"]


class WordScorer:
    """A deterministic stand-in for the model: the label follows the words (the rollup is under test)."""

    name = "words"

    def score_many(self, texts, langs=None):
        out = []
        for t in texts:
            low = t.lower()
            label = "negative" if any(w in low for w in ("awful", "scam", "refund", "never", "down")) else (
                "positive" if any(w in low for w in ("thanks", "works")) else "neutral")
            compound = {"negative": -0.3 - (len(t) % 7) / 10, "positive": 0.41 + (len(t) % 5) / 9}.get(label,
                                                                                                      len(t) % 3 / 97)
            reply = "question" if "?" in t else "request" if "dm me" in low else (
                "complaint" if label == "negative" else None)
            out.append(Score(label, compound, 0.9 if label != "neutral" else 0.5, "en", self.name,
                             needs_reply=reply))
        return out


class World:
    """The same random history applied to two stores: one rolled up incrementally, one in full."""

    def __init__(self, rng: random.Random, start) -> None:
        self.rng = rng
        self.clock = start
        self.n = 0

    def mentions(self, k: int) -> list[Mention]:
        rng = self.rng
        out = []
        for _ in range(k):
            self.n += 1
            key = rng.choice(THREADS + THREADS[:2] * 3 + [f"x:new{self.n // 40}"])
            source = key.split(":")[0]
            self.clock += timedelta(seconds=rng.choice([5, 40, 300, 1200]))
            late = rng.random() < 0.12
            created = self.clock - timedelta(hours=rng.uniform(1, 60)) if late else self.clock
            brand_account = rng.random() < 0.04
            out.append(Mention(
                source=source, native_id=f"m{self.n}", text=rng.choice(TEXTS), created_at=created,
                brand=rng.choice(["Brightwave"] * 6 + ["Lumacell", None]), url=f"https://example.com/{key}/{self.n}",
                author="BrightwaveHelp" if brand_account else rng.choice(AUTHORS + [None]),
                author_followers=rng.choice([None, 0, 12, 800, 48_300]), author_verified=rng.random() < 0.05,
                stars=rng.choice([None, 1, 2, 3, 4, 5]) if source == "appstore" else None,
                thread_id=key.split(":")[1], engagement=rng.choice([0, 0, 3, 40]),
                metrics={"subreddit": rng.choice(["brightwave", "phones"])} if source == "reddit" else {},
                is_brand_account=brand_account))
        return out


def _state(store: Store) -> tuple:
    threads = store.query("SELECT * FROM threads ORDER BY thread_key")
    for t in threads:
        t.pop("updated_at")
    authors = store.query("SELECT source, author, repeat_detractor_at FROM authors ORDER BY source, author")
    return threads, authors


def _rollup(store: Store, config, now, incremental: bool, monkeypatch) -> list[str]:
    monkeypatch.setattr(listener.threads, "INCREMENTAL_FROM", 3 if incremental else 10**9)
    return rollup_dirty(store, config, now)


def _native(store: Store, native_id: str) -> int | None:
    return store.scalar("SELECT id FROM mentions WHERE native_id = ?", (native_id,))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_rollup_is_identical_to_counting_every_mention_again(tmp_path, monkeypatch, seed):
    config = load_config(write_config(tmp_path))
    rng = random.Random(seed)
    world = World(rng, utcnow() - timedelta(days=20))
    scorer = WordScorer()
    incremental_steps = 0
    with Store(tmp_path / "inc.db") as inc, Store(tmp_path / "full.db") as full:
        stores = (inc, full)
        for step in range(60):
            now = world.clock
            op = rng.random()
            if op < 0.55:
                batch = world.mentions(rng.randint(1, 25))
                # Seen again: engagement grew on a few already stored.
                for m in rng.sample(batch, k=min(2, len(batch))) if step > 5 and rng.random() < 0.3 else []:
                    old = Mention(**{**m.__dict__, "native_id": f"m{rng.randint(1, max(1, world.n - 30))}"})
                    batch.append(Mention(**{**old.__dict__, "engagement": old.engagement + 7}))
                for s in stores:
                    s.save_batch("x", "q", Batch(list(batch)))
                if rng.random() < 0.8:  # usually scored before the rollup; sometimes rolled up unscored first
                    for s in stores:
                        score_pending(s, scorer, workers=1)
            elif op < 0.65:
                for s in stores:
                    score_pending(s, scorer, workers=1)
            elif op < 0.75 and world.n:
                target = f"m{rng.randint(1, world.n)}"
                label = rng.choice(["negative", "neutral", "positive"])
                for s in stores:
                    if (mid := _native(s, target)) is not None:
                        relabel(s, mid, label, "tester")
            elif op < 0.8 and world.n:
                target = f"m{rng.randint(1, world.n)}"
                for s in stores:
                    if (mid := _native(s, target)) is not None:
                        with s.transaction() as conn:
                            quarantine_mention(conn, mid, "trends", "set aside by the test")
            elif op < 0.82 and step > 30:
                for s in stores:
                    try:
                        forget_author(s, "user13")
                    except Exception as exc:  # nobody left to forget the second time
                        assert "user13" in str(exc)
            incremental_steps += inc.scalar(
                "SELECT COUNT(*) FROM threads t JOIN thread_totals tt ON tt.thread_key = t.thread_key "
                "WHERE t.dirty = 1") or 0
            assert sorted(_rollup(inc, config, now, True, monkeypatch)) == sorted(
                _rollup(full, config, now, False, monkeypatch))
            assert _state(inc) == _state(full), f"seed {seed} step {step}"
        # Not vacuous: big threads were rolled up from their totals, many times.
        assert incremental_steps > 20
        assert inc.scalar("SELECT MAX(mentions) FROM threads") > 40
        assert full.scalar("SELECT COUNT(*) FROM thread_totals") == 0


def test_a_late_complaint_elsewhere_recounts_the_threads_it_changes(tmp_path, monkeypatch):
    """An author's complaint in another thread, posted before their counted mentions here, makes them a
    repeat detractor here: the totals that counted them without it are not used again."""
    config = load_config(write_config(tmp_path))
    now = utcnow()
    t0 = now - timedelta(days=2)
    big = [Mention(source="x", native_id=f"b{i}", text="awful service", created_at=t0 + timedelta(minutes=i),
                   brand="Brightwave", author=f"u{i}", thread_id="big") for i in range(10)]
    late = Mention(source="x", native_id="late", text="this is a scam, chargeback time",
                   created_at=t0 - timedelta(hours=3), brand="Brightwave", author="u4",
                   thread_id="other")
    with Store(tmp_path / "inc.db") as inc, Store(tmp_path / "full.db") as full:
        for s, incremental in ((inc, True), (full, False)):
            s.save_batch("x", "q", Batch(big))
            score_pending(s, WordScorer(), workers=1)
            _rollup(s, config, now, incremental, monkeypatch)
            s.save_batch("x", "q", Batch([late]))
            score_pending(s, WordScorer(), workers=1)
            s.conn.execute("UPDATE threads SET dirty = 1 WHERE thread_key = 'x:big'")  # a new reply's mark
            _rollup(s, config, now, incremental, monkeypatch)
        assert _state(inc) == _state(full)
        reasons = inc.scalar("SELECT reasons FROM threads WHERE thread_key = 'x:big'")
        assert "@u4 complained 1 time before" in reasons


def _fill_and_roll(store: Store, config, now, monkeypatch, rng: random.Random, world: World) -> None:
    for _ in range(6):
        store.save_batch("x", "q", Batch(world.mentions(30)))
        score_pending(store, WordScorer(), workers=1)
        _rollup(store, config, now, True, monkeypatch)


def test_killed_in_the_middle_of_a_rollup_nothing_is_counted_twice(tmp_path, monkeypatch):
    """A process killed after writing the threads' totals but before its commit: the next rollup counts
    each new mention once (totals, the counted marks and the dirty mark are one transaction)."""
    config = load_config(write_config(tmp_path))
    now = utcnow()
    world_a = World(random.Random(7), now - timedelta(days=10))
    world_b = World(random.Random(7), now - timedelta(days=10))
    with Store(tmp_path / "inc.db") as inc, Store(tmp_path / "full.db") as full:
        _fill_and_roll(inc, config, now, monkeypatch, random.Random(1), world_a)
        for _ in range(6):
            full.save_batch("x", "q", Batch(world_b.mentions(30)))
            score_pending(full, WordScorer(), workers=1)
            _rollup(full, config, now, False, monkeypatch)
        for s in (inc, full):
            s.save_batch("x", "q", Batch(World(random.Random(8), now - timedelta(days=1)).mentions(60)))
            score_pending(s, WordScorer(), workers=1)
        assert inc.scalar("SELECT COUNT(*) FROM thread_totals") >= 2
        # The kill: a child process rolls up and dies (os._exit, no cleanup) once the chunk's writes (totals,
        # counted marks, threads) are sent, before its commit.
        script = textwrap.dedent(f"""
            import os, sys
            sys.path.insert(0, {str(os.getcwd())!r})
            from datetime import datetime
            import listener.threads as t
            from listener.config import load_config
            from listener.store import Store
            t.INCREMENTAL_FROM = 3
            real = t._write_chunk
            def dying(conn, writes):
                real(conn, writes)
                if len(writes.totals) >= 2:
                    os._exit(9)
            t._write_chunk = dying
            with Store({str(tmp_path / "inc.db")!r}) as store:
                t.rollup_dirty(store, load_config({str(config.path)!r}), datetime.fromisoformat({now.isoformat()!r}))
            """)
        died = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ.copy())
        assert died.returncode == 9, died.stderr
        assert inc.scalar("SELECT COUNT(*) FROM threads WHERE dirty = 1") > 0  # nothing of it committed
        _rollup(inc, config, now, True, monkeypatch)
        _rollup(full, config, now, False, monkeypatch)
        assert _state(inc) == _state(full)
        assert inc.scalar("SELECT COUNT(*) FROM mentions WHERE rolled_up IS NULL AND quarantined IS NULL "
                          "AND thread_key IN (SELECT thread_key FROM thread_totals)") == 0


def test_changed_settings_recount_the_thread(tmp_path, monkeypatch):
    """Totals counted with other escalation cues are not used: the thread is counted again in full."""
    now = utcnow()
    world = World(random.Random(3), now - timedelta(days=3))
    path = write_config(tmp_path)
    with Store(tmp_path / "inc.db") as inc:
        _fill_and_roll(inc, load_config(path), now, monkeypatch, random.Random(2), world)
        before = inc.scalar("SELECT reasons FROM threads WHERE thread_key = 'x:viral'")
        assert "blinking" not in before
        config = load_config(write_config(tmp_path, '[sentiment]\ncues = ["blinking red"]\n'))
        inc.conn.execute("UPDATE threads SET dirty = 1")
        _rollup(inc, config, now, True, monkeypatch)
        assert "'blinking red'" in inc.scalar("SELECT reasons FROM threads WHERE thread_key = 'x:viral'")
