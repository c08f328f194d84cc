"""The sentiment stage as a user meets it: brand names never move a score, complaints are caught,
languages no model covers are unscored (never silently neutral), odd input never raises."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment import LABELS, get_scorer
from sentiment.learned import DEFAULT_MODEL, ModelFileError, SentimentModel
from sentiment.preprocess import brand_pattern, prepare

BRANDS = ["Spirit", "Joy", "United", "@SpiritAirlines", "Delta"]


@pytest.fixture(scope="module")
def learned():
    return get_scorer("learned", brand_terms=BRANDS)


@pytest.fixture(scope="module")
def vader():
    return get_scorer("vader", brand_terms=BRANDS)


@pytest.mark.parametrize("scorer_name", ["learned", "vader"])
@pytest.mark.parametrize("template", [
    "Flying {} to Denver this afternoon",
    "{} lost my bag and nobody answers the phone",
    "Great crew on my {} flight today, thank you!",
    "@{} my flight is delayed again",
])
def test_brand_names_never_move_the_score(scorer_name: str, template: str) -> None:
    """'Spirit', 'Joy' and 'United' are sentiment words to a lexicon; as brands they must weigh nothing."""
    scorer = get_scorer(scorer_name, brand_terms=["Spirit", "Joy", "United", "Acme"])
    scores = {name: scorer.score(template.format(name), "en") for name in ("Spirit", "Joy", "United", "Acme")}
    reference = scores["Acme"]
    for name, score in scores.items():
        assert (score.label, score.compound) == (reference.label, reference.compound), name


def test_without_brand_terms_a_brand_name_would_move_raw_vader() -> None:
    """The reason for masking: unmasked, VADER reads the airline 'Spirit' as a positive word."""
    raw = get_scorer("vader")
    assert raw.score("Flying Spirit today", "en").label == "positive"
    assert get_scorer("vader", brand_terms=["Spirit"]).score("Flying Spirit today", "en").label == "neutral"


def test_brand_hashtags_handles_and_urls_are_neutralised() -> None:
    pattern = brand_pattern(("Spirit Airlines", "@SpiritAirlines", "Joy"))
    text = prepare("#SpiritAirlines and @SpiritAirlines, Spirit Airlines' app: https://joy.example/x Joy's", pattern)
    assert "spirit" not in text.lower() and "joy" not in text.lower()
    assert "http" in text and "https://" not in text


@pytest.mark.parametrize("text", [
    "thanks for nothing @united",
    "please help, still waiting 2 hours for my bag",
    "@SpiritAirlines charged me twice for a carry-on. never again",
    "my order never arrived and no one answers the phone",
    "Any update on my refund? It's been a month",
    "Switching to Delta, done with this",
    "I was charged twice this month, please fix",
    "Been on hold for 45 minutes. Great customer service, United.",
    "Vuelo cancelado otra vez, gracias por nada",
    "Ich warte seit drei Wochen auf meine Erstattung",
])
def test_complaints_are_negative(learned, text: str) -> None:
    """Polite or not, in English or not: a complaint about the brand is negative."""
    assert learned.score(text).label == "negative", learned.score(text)


@pytest.mark.parametrize("text", [
    "Great crew on my Spirit flight today, thank you!",
    "Got my refund today, thanks for the quick help!",
    "Me encanta la nueva app, funciona perfecto",
])
def test_praise_is_not_negative(learned, text: str) -> None:
    assert learned.score(text).label == "positive"


def test_raw_vader_misses_the_polite_complaints_the_learned_scorer_catches(learned) -> None:
    texts = ["thanks for nothing @united", "please help, still waiting 2 hours for my bag"]
    assert [get_scorer("vader").score(t).label for t in texts] == ["positive", "positive"]
    assert [learned.score(t).label for t in texts] == ["negative", "negative"]


@pytest.mark.parametrize("text, tag, lang", [
    ("最悪のサービスです、二度と使いません", None, "ja"),
    ("मुझे यह सेवा बिल्कुल पसंद नहीं है", None, "hi"),  # Hindi in Devanagari: no training data
    ("Ужасное обслуживание, больше никогда", None, "ru"),
    ("Vuelo cancelado otra vez", "ja", "ja"),  # the source's tag wins over detection
])
def test_languages_no_model_covers_are_unscored(learned, text: str, tag: str | None, lang: str) -> None:
    score = learned.score(text, tag)
    assert score.label == "unscored" and score.lang == lang
    assert score.confidence == 0.0


def test_a_short_text_the_detector_is_unsure_about_is_scored_not_dropped(learned) -> None:
    """"Dead link" looks Basque to the detector (confidence 0.50): too unsure to call it unreadable."""
    dead = learned.score("Dead link")
    assert dead.label == "negative" and dead.lang is None
    assert learned.score("Dit is echt de slechtste service ooit").label == "unscored"  # Dutch, detected at 0.61


def test_source_language_tag_is_preferred(learned) -> None:
    assert learned.score("Le service client ne répond jamais", "fr-FR").lang == "fr"
    assert learned.score("Le service client ne répond jamais").lang == "fr"


@pytest.mark.parametrize("text", [
    "", "   ", "\x00\x01\x02 hello \x7f", "a" * 100_000, "bad " * 25_000, "😡" * 5000,
    "Spirit 你好 مرحبا שלום Привет hello 🙂", "\ud800 lone surrogate", "e\u0301\u0301\u0301" * 1000,
    "<!channel> <script>alert(1)</script>", "Spirit",
    "@SpiritAirlines #Joy", "!", "a", "\u202eevil right-to-left", "http://x.y/" * 500,
])
def test_odd_input_gets_a_score_or_unscored_without_raising(learned, vader, text: str) -> None:
    for scorer in (learned, vader):
        score = scorer.score(text)
        assert score.label in LABELS
        assert -1.0 <= score.compound <= 1.0 and 0.0 <= score.confidence <= 1.0
    assert learned.score("").label == "unscored"


def test_batch_scores_match_one_by_one(learned) -> None:
    texts = ["love it", "hate it", "", "最悪", "ok then", "Spirit is late again"]
    assert learned.score_many(texts) == [learned.score(t) for t in texts]


def test_every_score_carries_label_compound_confidence_lang_model_and_themes(learned) -> None:
    score = learned.score("The app keeps crashing and I was billed twice", "en")
    assert score.model == "learned" and score.lang == "en"
    assert set(score.themes) == {"app", "billing"}
    assert score.label == "negative" and score.compound < 0


def test_configured_thresholds_decide_from_compound() -> None:
    strict = get_scorer("learned", positive_threshold=0.99, negative_threshold=-0.99)
    assert strict.score("it is fine I guess", "en").label == "neutral"


def test_extra_cues_from_config_tip_a_domain_complaint() -> None:
    text = "porting my number has taken nine days"
    plain = get_scorer("learned").score(text, "en")
    tuned = get_scorer("learned", cues=["porting my number"]).score(text, "en")
    assert tuned.compound < plain.compound
    assert tuned.label == "negative"


def test_shipped_model_is_plain_arrays_small_and_loads(tmp_path) -> None:
    assert DEFAULT_MODEL.stat().st_size <= 20 * 1024 * 1024
    model = SentimentModel.load(DEFAULT_MODEL)
    assert set(model.languages) == {"ar", "de", "en", "es", "fr", "hi", "it", "pt"}
    # Every scored language but English has a head of its own, next to the shared weights.
    assert set(model.heads) == {"ar", "de", "es", "fr", "hi", "it", "pt"}
    heads = {f"head_{lang}_{part}" for lang in model.heads for part in ("weights", "intercept")}
    with np.load(DEFAULT_MODEL, allow_pickle=False) as data:  # no pickles: loads with any numpy
        assert set(data.files) == {"weights", "intercept", "meta"} | heads
    copy = tmp_path / "copy.npz"
    model.save(copy)
    again = SentimentModel.load(copy)
    assert np.array_equal(again.weights, model.weights) and again.spec == model.spec
    assert all(np.array_equal(again.heads[lang][0], model.heads[lang][0]) for lang in model.heads)
    assert copy.read_bytes() == DEFAULT_MODEL.read_bytes()  # saving is deterministic


def test_a_language_head_changes_the_scores_of_its_language_only(tmp_path) -> None:
    """Spanish texts get the mean of the shared model and the Spanish head; English texts the shared model."""
    model = SentimentModel.load(DEFAULT_MODEL)
    shared_only = tmp_path / "shared-only.npz"
    SentimentModel(model.weights, model.intercept, model.spec, model.negative_boost, model.cue_weight,
                   model.boost_by_language, model.info).save(shared_only)
    texts, langs = ["El servicio fue un desastre, nunca más", "The service was a disaster, never again"], ["es", "en"]
    full = get_scorer("learned").score_many(texts, langs)
    plain = get_scorer("learned", model_path=shared_only).score_many(texts, langs)
    assert full[0].compound != plain[0].compound
    assert full[1].compound == plain[1].compound


def test_a_broken_model_file_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="model.npz"):
        SentimentModel.load(bad)
    with pytest.raises(ModelFileError, match="no such model file"):
        SentimentModel.load(tmp_path / "missing.npz")


def test_a_mixed_mention_has_sentiment_per_theme(learned) -> None:
    score = learned.score("Love the new app, but billing charged me twice this month.", "en")
    assert dict(score.theme_sentiment) == {"app": "positive", "billing": "negative"}
    single = learned.score("The app keeps crashing and I was billed twice", "en")
    assert dict(single.theme_sentiment) == {"app": single.label, "billing": single.label}
    assert learned.score("最悪のアプリ app", None).theme_sentiment == (("app", "unscored"),)


def test_a_number_in_a_cue_stands_for_any_number() -> None:
    """A team writes "waited 2 hours" once; "waited 45 hours" and "waited 3 hours" are the same trouble."""
    from sentiment.cues import all_cues, cue_matcher

    matcher = cue_matcher(all_cues(("late by 2 days",)))
    assert "late by 2 days" in matcher.find("The parcel is late by 11 days")
    assert "late by 2 days" not in matcher.find("The parcel is late by two days")  # only digits are numbers
    assert "waited 2 hours" in matcher.find("We waited 3 hours at the gate")
    text = "mobile order, waited 25 minutes at the counter"
    assert get_scorer("learned").score(text, "en").label == "negative"

