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


def test_the_learned_scorer_is_the_default_and_knows_the_brands(tmp_path: Path) -> None:
    scorer = build_scorer(config(tmp_path))
    assert scorer.name == "learned"
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
    assert models == {"learned"}
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
