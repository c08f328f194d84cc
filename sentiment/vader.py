"""Raw vaderSentiment, thresholds from config. Kept as the baseline and as a feature for other scorers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentiment.language import detect_language
from sentiment.score import Score

MAX_CHARS = 5000  # VADER is quadratic-ish in some paths; no real post needs more to be judged


class VaderScorer:
    """compound >= positive_threshold is positive, <= negative_threshold negative, else neutral."""

    name = "vader"

    def __init__(
        self,
        positive_threshold: float = 0.05,
        negative_threshold: float = -0.05,
        detect_lang: bool = True,
        **_ignored: object,
    ) -> None:
        self._analyzer = SentimentIntensityAnalyzer()
        self.positive_threshold = positive_threshold
        self.negative_threshold = negative_threshold
        self.detect_lang = detect_lang

    def polarity(self, text: str) -> dict[str, float]:
        return self._analyzer.polarity_scores(text[:MAX_CHARS])

    def score(self, text: str, lang: str | None = None) -> Score:
        text = text or ""
        if self.detect_lang:
            lang = detect_language(text, lang)
        if not text.strip():
            return Score("unscored", 0.0, 0.0, lang, self.name)
        compound = float(self.polarity(text)["compound"])
        if compound >= self.positive_threshold:
            label = "positive"
        elif compound <= self.negative_threshold:
            label = "negative"
        else:
            label = "neutral"
        confidence = min(1.0, abs(compound)) if label != "neutral" else 1.0 - min(1.0, abs(compound) * 10)
        return Score(label, compound, round(confidence, 4), lang, self.name)

    def score_many(self, texts: Sequence[str], langs: Iterable[str | None] | None = None) -> list[Score]:
        langs_list = list(langs) if langs is not None else [None] * len(texts)
        return [self.score(t, lg) for t, lg in zip(texts, langs_list, strict=True)]
