"""Raw vaderSentiment, thresholds from config. Kept as the baseline and as a feature for other scorers.

It sees the same brand-aware text as every scorer (brand names, handles and URLs neutralised) and
scores every language as if it were English, as vaderSentiment does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentiment.language import detect_language
from sentiment.preprocess import brand_pattern, brand_terms_from, prepare
from sentiment.score import Score
from sentiment.themes import build_themes


class VaderScorer:
    """compound >= positive_threshold is positive, <= negative_threshold negative, else neutral."""

    name = "vader"

    def __init__(
        self,
        positive_threshold: float | None = None,
        negative_threshold: float | None = None,
        detect_lang: bool = True,
        brand_terms: Iterable[str] = (),
        themes: Mapping[str, Sequence[str]] | None = None,
        **_ignored: object,
    ) -> None:
        self._analyzer = SentimentIntensityAnalyzer()
        self.positive_threshold = 0.05 if positive_threshold is None else positive_threshold
        self.negative_threshold = -0.05 if negative_threshold is None else negative_threshold
        self.detect_lang = detect_lang
        self._brands = brand_pattern(brand_terms_from(brand_terms))
        self._themes = build_themes(themes)

    def polarity(self, text: str) -> dict[str, float]:
        """VADER's neg/neu/pos/compound for the brand-aware form of `text`."""
        return self._analyzer.polarity_scores(prepare(text, self._brands))

    def score(self, text: str, lang: str | None = None) -> Score:
        """One text's score; empty text is unscored."""
        text = prepare(text if isinstance(text, str) else "", self._brands)
        if self.detect_lang:
            lang = detect_language(text, lang)
        themes = self._themes.themes(text)
        if not text:
            return Score("unscored", 0.0, 0.0, lang, self.name, themes, tuple((t, "unscored") for t in themes))
        compound = float(self._analyzer.polarity_scores(text)["compound"])
        if compound >= self.positive_threshold:
            label = "positive"
        elif compound <= self.negative_threshold:
            label = "negative"
        else:
            label = "neutral"
        confidence = min(1.0, abs(compound)) if label != "neutral" else 1.0 - min(1.0, abs(compound) * 10)
        return Score(label, compound, round(confidence, 4), lang, self.name, themes,
                     tuple((t, label) for t in themes))

    def score_many(self, texts: Sequence[str], langs: Iterable[str | None] | None = None) -> list[Score]:
        """Scores for a batch, one per text, in order."""
        langs_list = list(langs) if langs is not None else [None] * len(texts)
        return [self.score(t, lg) for t, lg in zip(texts, langs_list, strict=True)]
