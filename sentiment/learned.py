"""The learned scorer (the default): a linear model over hashed n-grams, VADER's scores and cue hits.

The model is a plain numpy file (coefficients, intercepts and the feature parameters as JSON), so it
loads with any numpy/scikit-learn version, in well under a second. `overheard sentiment train`
writes it; sentiment/models/learned.npz is the one shipped in the package.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.cues import all_cues, cue_matcher, cue_strength
from sentiment.features import FeatureSpec, Featurizer
from sentiment.language import detect_language_scored
from sentiment.phrases import words
from sentiment.preprocess import HANDLE, brand_pattern, brand_terms_from, has_content, prepare
from sentiment.reply import needs_reply, plain_question
from sentiment.score import Score
from sentiment.themes import build_themes, theme_clauses
from sentiment.tone import apply_tone, rewrite_slang, tone_logits

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "learned.npz"
CLASSES = ("negative", "neutral", "positive")
# Language codes the detector gives for varieties of a language the model covers.
LANGUAGE_ALIASES = {"arz": "ar", "ary": "ar", "apc": "ar", "acm": "ar", "afb": "ar", "pt-br": "pt"}
# Hindi is covered as it is tweeted in Latin letters (Hinglish); the training data has no Devanagari.
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")


class ModelFileError(ValueError):
    """The model file is missing, unreadable or not a model this version can use."""


@dataclass
class SentimentModel:
    """A trained model: weights (features x classes), intercepts and how to build its features."""

    weights: np.ndarray  # float32 (float16 when loaded from a file), shape (n_features, 3)
    intercept: np.ndarray  # float32, shape (3,)
    spec: FeatureSpec
    negative_boost: float = 0.0  # added to P(negative) before the arg-max: a missed complaint costs more
    cue_weight: float = 0.0  # logit added to 'negative' per customer-service cue found (at most two)
    boost_by_language: dict[str, float] = field(default_factory=dict)  # overrides negative_boost per language
    info: dict[str, Any] = field(default_factory=dict)  # how and on what it was trained
    # Language heads: a model trained on one language's texts alone, (weights, intercept) like the shared one.
    # A text in that language gets a weighted mean of the shared model's and its head's probabilities (the
    # head's share is head_weight): the shared model, four-fifths English, reads other languages through
    # English eyes.
    heads: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    head_weight: float = 0.5

    def save(self, path: Path) -> None:
        """Write the model as a compressed .npz of plain arrays (byte-identical for identical input)."""
        meta = {"format": 1, "classes": list(CLASSES), "spec": self.spec.to_dict(),
                "negative_boost": self.negative_boost, "cue_weight": self.cue_weight,
                "boost_by_language": self.boost_by_language, "heads": sorted(self.heads),
                "head_weight": self.head_weight, "info": self.info}
        arrays = {f"head_{lang}_{part}": array.astype(np.float16 if part == "weights" else np.float32)
                  for lang, (weights, intercept) in sorted(self.heads.items())
                  for part, array in (("weights", weights), ("intercept", intercept))}
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez_compressed(fh, weights=self.weights.astype(np.float16), intercept=self.intercept,
                                meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8),
                                **arrays)

    @classmethod
    def load(cls, path: Path) -> SentimentModel:
        """Read a model written by `save`; ModelFileError names the file when it cannot be used."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                # Weights stay float16 as stored (exact in float32 arithmetic): half the memory, faster loading.
                weights = data["weights"]
                intercept = data["intercept"].astype(np.float32)
                heads = {str(lang): (data[f"head_{lang}_weights"], data[f"head_{lang}_intercept"].astype(np.float32))
                         for lang in meta.get("heads", [])}
        except FileNotFoundError:
            raise ModelFileError(f"{path}: no such model file (train one with `overheard sentiment train`)") \
                from None
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFileError(f"{path}: not a sentiment model file ({exc})") from None
        if meta.get("format") != 1 or tuple(meta.get("classes", ())) != CLASSES:
            raise ModelFileError(f"{path}: model format {meta.get('format')!r} is not supported")
        spec = FeatureSpec.from_dict(meta["spec"])
        for name, w in [("weights", weights)] + [(f"head {lang}", h[0]) for lang, h in heads.items()]:
            if w.shape != (spec.n_features, len(CLASSES)):
                raise ModelFileError(f"{path}: {name} have shape {w.shape}, expected "
                                     f"{(spec.n_features, len(CLASSES))}")
        return cls(weights, intercept, spec, float(meta.get("negative_boost", 0.0)),
                   float(meta.get("cue_weight", 0.0)),
                   {str(k): float(v) for k, v in meta.get("boost_by_language", {}).items()}, meta.get("info", {}),
                   heads, float(meta.get("head_weight", 0.5)))

    @property
    def languages(self) -> tuple[str, ...]:
        return self.spec.languages


def _softmax(logits: np.ndarray, cue_logit: np.ndarray, positive_logit: np.ndarray | None = None) -> np.ndarray:
    """Class probabilities from logits, after the customer-service cues' (and sarcasm's) push towards
    'negative' and praise slang's push towards 'positive'."""
    logits[:, 0] += cue_logit
    if positive_logit is not None:
        logits[:, 2] += positive_logit
    logits -= logits.max(axis=1, keepdims=True)
    expd = np.exp(logits)
    return expd / expd.sum(axis=1, keepdims=True)


@lru_cache(maxsize=4)
def load_model(path: str) -> SentimentModel:
    """The model at `path`, loaded once per process."""
    return SentimentModel.load(Path(path))


# Calling a text unreadable is a stronger claim than reading it: a language no model covers counts only
# when the detector is at least this sure. Short English texts are often taken for another language with
# less ("Dead link": Basque, "glad u dig fam!": Swedish); on the val splits and the VADER-paper train half,
# 61 of 6,690 texts in scored languages were detected as an unscored one, 28 of them at this confidence or
# more, while short sentences really in Dutch, Turkish, Polish, Swedish or Finnish come out at 0.58-1.0.
OTHER_LANGUAGE_CONFIDENCE = 0.5
# The negative boost applies only where P(negative) is at least this: "ok" (P(negative) 0.08) is not a
# complaint however much a missed one costs. On val 0.25 raised macro-F1 on TweetEval (0.814 -> 0.823),
# UMSAB English (0.751 -> 0.757) and Spanish (0.572 -> 0.585), Arabic 0.603 -> 0.600.
BOOST_FLOOR = 0.25


def covered_language(lang: str | None, text: str, languages: Sequence[str],
                     confidence: float = 1.0) -> tuple[bool, str | None]:
    """Whether the model can score a text in `lang` (detected with `confidence`), and the language code
    to score it as (None: not sure which, scored by the language-neutral part of the model)."""
    if lang is not None and confidence < OTHER_LANGUAGE_CONFIDENCE \
            and LANGUAGE_ALIASES.get(lang, lang) not in languages:
        return True, None
    if lang is None:
        return True, None  # too little text to tell (emoji, "lol"): the model scores it language-neutrally
    lang = LANGUAGE_ALIASES.get(lang, lang)
    if lang not in languages:
        return False, lang
    if lang == "hi" and _DEVANAGARI.search(text):
        return False, lang
    return True, lang


def language_to_score(text: str, tag: str | None, languages: Sequence[str], detect: bool = True
                      ) -> tuple[bool, str | None]:
    """The scorer's language decision for a prepared text: (can the model score it, language code).
    Training uses the same decision for texts without a tag, so the two cannot drift apart."""
    lang, sure = detect_language_scored(text, tag) if detect else (tag, 1.0)
    return covered_language(lang, text, languages, sure)


@dataclass(frozen=True, slots=True)
class FastParts:
    """What score_many computed for one text the model scored: the raw text it was given, the prepared
    text, its cue strength, the model's probabilities (after the tone rules) and whether the negative
    boost was withheld."""

    raw: object
    prepared: str
    cue_hits: int
    probs: np.ndarray  # shape (3,): P(negative), P(neutral), P(positive)
    unboosted: bool


class LearnedScorer:
    """Scores texts with a SentimentModel, after brand-aware preparation; uncovered languages are unscored."""

    name = "learned"

    def __init__(
        self,
        model_path: str | Path | None = None,
        brand_terms: Iterable[str] = (),
        cues: Iterable[str] = (),
        themes: Mapping[str, Sequence[str]] | None = None,
        positive_threshold: float | None = None,
        negative_threshold: float | None = None,
        detect_lang: bool = True,
        tone_rules: bool = True,
        boost_floor: float = BOOST_FLOOR,
        **_ignored: object,
    ) -> None:
        path = Path(model_path) if model_path else DEFAULT_MODEL
        self.model = load_model(str(path.resolve()))
        self._featurizer = Featurizer(self.model.spec)
        self._brands = brand_pattern(brand_terms_from(brand_terms))
        self._cues = cue_matcher(all_cues(tuple(cues)))
        self._themes = build_themes(themes)
        self.positive_threshold = positive_threshold
        self.negative_threshold = negative_threshold
        self.detect_lang = detect_lang
        self.tone_rules = tone_rules  # sarcasm and praise-slang rules (sentiment/tone.py); off: the model alone
        self.boost_floor = boost_floor
        self._vader = None
        if self.model.spec.use_vader:
            from sentiment.vader_fast import FastVader

            self._vader = FastVader()  # vaderSentiment's scores, computed faster

    def score(self, text: str, lang: str | None = None) -> Score:
        """One text's score (see score_many)."""
        return self.score_many([text], [lang])[0]

    def score_many(self, texts: Sequence[str], langs: Iterable[str | None] | None = None) -> list[Score]:
        """Scores for a batch; `langs` are the sources' language tags (None: detect the language)."""
        return self.score_many_parts(texts, langs)[0]

    def score_many_parts(self, texts: Sequence[str], langs: Iterable[str | None] | None = None
                         ) -> tuple[list[Score], dict[int, FastParts]]:
        """score_many, with what it computed on the way for each text the model scored (by index): the
        cascade decides from these which mentions need its second look, without computing them again."""
        tags = list(langs) if langs is not None else [None] * len(texts)
        if len(tags) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(tags)} language tags")
        results: list[Score | None] = [None] * len(texts)
        prepared_of: dict[int, str] = {}
        todo: list[int] = []
        prepared: list[str] = []
        todo_langs: list[str | None] = []
        themes: list[tuple[str, ...]] = []
        cue_hits: list[int] = []
        addressed: list[bool] = []
        for i, (raw, tag) in enumerate(zip(texts, tags, strict=False)):
            raw = raw if isinstance(raw, str) else ""
            text = prepare(raw, self._brands)
            addressed.append(self._addressed(raw, text))
            ok, lang = language_to_score(text, tag, self.model.languages, self.detect_lang)
            tokens = words(text)
            found = self._themes.themes_in(tokens)
            themes.append(found)
            if not text or not ok:
                results[i] = Score("unscored", 0.0, 0.0, lang, self.name, found)
                continue
            if not has_content(text):  # only a brand name, a handle or a link: nothing said either way
                results[i] = Score("neutral", 0.0, 1.0, lang, self.name, found)
                continue
            prepared_of[i] = text
            todo.append(i)
            prepared.append(text)
            todo_langs.append(lang)
            cue_hits.append(cue_strength(self._cues.find_in(tokens)))
        parts: dict[int, FastParts] = {}
        if todo:
            probs = self.probabilities(prepared, todo_langs, cue_hits)
            unboosted = self.unboosted(prepared, cue_hits)
            labels, compounds, confidences = self.decide(probs, todo_langs, unboosted)
            for row, i in enumerate(todo):
                results[i] = Score(labels[row], compounds[row], confidences[row], todo_langs[row], self.name, themes[i])
                parts[i] = FastParts(texts[i], prepared[row], cue_hits[row], probs[row], unboosted[row])
            self._add_theme_sentiment(results, todo, prepared, todo_langs, themes)
        return [self._with_reply(r if r.theme_sentiment or not r.themes
                                 else replace(r, theme_sentiment=tuple((t, r.label) for t in r.themes)),
                                 prepared_of.get(i, ""), addressed[i])
                for i, r in enumerate(results) if r is not None], parts

    def _addressed(self, raw: str, prepared: str) -> bool:
        """Whether the text names an account (an @handle, the brand's own or any): said *to* someone."""
        return HANDLE.strip() in prepared or ("@" in raw and self._brands is not None
                                              and any(m.group(0).startswith("@") for m in self._brands.finditer(raw)))

    @staticmethod
    def _with_reply(score: Score, prepared: str, addressed: bool) -> Score:
        reason = needs_reply(prepared, score.label, addressed) if prepared else None
        return replace(score, needs_reply=reason) if reason else score

    def _add_theme_sentiment(self, results: list[Score | None], todo: list[int], prepared: list[str],
                             langs: list[str | None], themes: list[tuple[str, ...]]) -> None:
        """Score, for mentions with two or more themes, the clauses about each theme on their own."""
        jobs: list[tuple[int, str, str, str | None]] = []
        for row, i in enumerate(todo):
            if len(themes[i]) >= 2:
                for theme, clause in theme_clauses(prepared[row], self._themes).items():
                    jobs.append((i, theme, clause, langs[row]))
        if not jobs:
            return
        langs_of_jobs = [j[3] for j in jobs]
        labels = self.decide(self.probabilities([j[2] for j in jobs], langs_of_jobs), langs_of_jobs)[0]
        per_mention: dict[int, dict[str, str]] = {}
        for (i, theme, _clause, _lang), label in zip(jobs, labels, strict=True):
            per_mention.setdefault(i, {})[theme] = label
        for i, labels in per_mention.items():
            score = results[i]
            assert score is not None
            results[i] = replace(score, theme_sentiment=tuple((t, labels.get(t, score.label)) for t in score.themes))

    def probabilities(self, prepared: Sequence[str], langs: Sequence[str | None],
                      cue_hits: Sequence[int] | None = None) -> np.ndarray:
        """P(negative), P(neutral), P(positive) for texts already passed through `prepare`."""
        if cue_hits is None:
            cue_hits = [cue_strength(self._cues.find(t)) for t in prepared]
        if self.tone_rules:  # praise slang said plainly before the words are counted ("ridiculously fast")
            prepared = [rewrite_slang(t, h) for t, h in zip(prepared, cue_hits, strict=True)]
        vader = [self._vader.polarity_scores(t) for t in prepared] if self._vader is not None else None
        features = self._featurizer.transform(prepared, langs, cue_hits, vader)
        cue_logit = self.model.cue_weight * np.minimum(np.array(cue_hits, dtype=np.float64), 2.0)
        tones = np.array([tone_logits(t, h) if self.tone_rules else (0.0, 0.0)
                          for t, h in zip(prepared, cue_hits, strict=True)], dtype=np.float64).reshape(len(prepared), 2)
        cue_logit = cue_logit + tones[:, 0]
        positive_logit = tones[:, 1]
        probs = _softmax(features.dot(self.model.weights) + self.model.intercept, cue_logit, positive_logit)
        heads = self.model.heads
        if heads and any(lang in heads for lang in langs):
            head_number = {lang: number for number, lang in enumerate(heads, 1)}
            row_head = np.array([head_number.get(lang, 0) for lang in langs], dtype=np.int16)
            entry_head = row_head[features.rows]
            for number, (weights, intercept) in enumerate(heads.values(), 1):
                rows = np.flatnonzero(row_head == number)
                if rows.size:
                    part = features.select(rows, entry_head == number)
                    head = _softmax(part.dot(weights) + intercept, cue_logit[rows], positive_logit[rows])
                    probs[rows] = (1.0 - self.model.head_weight) * probs[rows] + self.model.head_weight * head
        return apply_tone(probs, prepared, cue_hits) if self.tone_rules else probs

    def unboosted(self, prepared: Sequence[str], cue_hits: Sequence[int]) -> list[bool]:
        """Rows that get no negative boost: plain questions with no problem and no cue in them."""
        return [hits == 0 and plain_question(t) for t, hits in zip(prepared, cue_hits, strict=True)]

    def decide(self, probs: np.ndarray, langs: Sequence[str | None],
               unboosted: Sequence[bool] | None = None) -> tuple[list[str], list[float], list[float]]:
        """Labels, compounds (P(positive) - P(negative)) and confidences for rows of probabilities.

        With thresholds set, the compound decides; otherwise the most probable class after the
        language's negative boost (a missed complaint costs more than a second look at a neutral one),
        except for the `unboosted` rows.
        """
        compound = np.clip(probs[:, 2] - probs[:, 0], -1.0, 1.0)
        if self.positive_threshold is not None or self.negative_threshold is not None:
            pos = self.positive_threshold if self.positive_threshold is not None else 1.01
            neg = self.negative_threshold if self.negative_threshold is not None else -1.01
            index = np.where(compound >= pos, 2, np.where(compound <= neg, 0, 1))
        else:
            boosts = self.model.boost_by_language
            boosted = probs.copy()
            boost = np.array([boosts.get(lang or "", self.model.negative_boost) for lang in langs])
            if unboosted is not None:
                boost[np.asarray(unboosted, dtype=bool)] = 0.0
            boost[probs[:, 0] < self.boost_floor] = 0.0  # no hint of a complaint: nothing to lean towards
            boosted[:, 0] += boost
            index = boosted.argmax(axis=1)
        confidence = probs[np.arange(len(index)), index]
        return ([CLASSES[k] for k in index.tolist()], np.round(compound, 4).tolist(),
                np.round(confidence, 4).tolist())
