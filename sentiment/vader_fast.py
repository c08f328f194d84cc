"""vaderSentiment's polarity_scores, the same numbers in less time: the learned scorer's VADER features.

vaderSentiment 3.3.2 lower-cases the whole text's word list again for every look at a neighbouring word
(several times per sentiment word) and rebuilds the text character by character to find emoji. This
subclass lower-cases the words once per text and skips the emoji pass when the text has none; every rule,
every float operation and its order are vaderSentiment's (its own functions where they are cheap), so the
scores are identical (tests/test_scorer_pinned.py compares them with vaderSentiment's on every pinned text
and the lexicon). The baseline scorer (sentiment/vader.py) and the benchmarks' raw VADER use
vaderSentiment itself.
"""

from __future__ import annotations

from vaderSentiment import vaderSentiment as _v


class FastVader(_v.SentimentIntensityAnalyzer):
    """SentimentIntensityAnalyzer with a faster polarity_scores (same results)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Only one-character emoji can match: polarity_scores looks each character of the text up.
        self._emoji_chars = frozenset(k for k in self.emojis if len(k) == 1)

    def polarity_scores(self, text):  # type: ignore[no-untyped-def]
        if not isinstance(text, str):
            return super().polarity_scores(text)
        if self._emoji_chars.isdisjoint(text):
            text = text.strip()  # what vaderSentiment's emoji pass gives a text without emoji
        else:
            text_no_emoji = ""
            prev_space = True
            for ch in text:
                if ch in self.emojis:
                    description = self.emojis[ch]
                    if not prev_space:
                        text_no_emoji += " "
                    text_no_emoji += description
                    prev_space = False
                else:
                    text_no_emoji += ch
                    prev_space = ch == " "
            text = text_no_emoji.strip()

        sentitext = _v.SentiText(text)
        words = sentitext.words_and_emoticons
        lower = [w.lower() for w in words]
        is_cap_diff = sentitext.is_cap_diff
        sentiments: list[float] = []
        booster = _v.BOOSTER_DICT
        last = len(words) - 1
        for i, item in enumerate(words):
            valence = 0
            if lower[i] in booster:
                sentiments.append(valence)
                continue
            if i < last and lower[i] == "kind" and lower[i + 1] == "of":
                sentiments.append(valence)
                continue
            sentiments.append(self._valence(item, i, words, lower, is_cap_diff))
        sentiments = self._but_check(words, sentiments)
        return self.score_valence(sentiments, text)

    def _valence(self, item: str, i: int, words: list[str], lower: list[str], is_cap_diff: bool) -> float:
        """vaderSentiment's sentiment_valence for word i, with the words lower-cased once (`lower`)."""
        valence = 0
        lexicon = self.lexicon
        item_lowercase = lower[i]
        if item_lowercase in lexicon:
            valence = lexicon[item_lowercase]
            if item_lowercase == "no" and i != len(words) - 1 and lower[i + 1] in lexicon:
                valence = 0.0
            if (i > 0 and lower[i - 1] == "no") \
               or (i > 1 and lower[i - 2] == "no") \
               or (i > 2 and lower[i - 3] == "no" and lower[i - 1] in ["or", "nor"]):
                valence = lexicon[item_lowercase] * _v.N_SCALAR
            if item.isupper() and is_cap_diff:
                if valence > 0:
                    valence += _v.C_INCR
                else:
                    valence -= _v.C_INCR
            for start_i in range(0, 3):
                if i > start_i and lower[i - (start_i + 1)] not in lexicon:
                    s = _v.scalar_inc_dec(words[i - (start_i + 1)], valence, is_cap_diff)
                    if start_i == 1 and s != 0:
                        s = s * 0.95
                    if start_i == 2 and s != 0:
                        s = s * 0.9
                    valence = valence + s
                    valence = _negation_check(valence, lower, start_i, i)
                    if start_i == 2:
                        valence = _special_idioms_check(valence, lower, i)
            valence = _least_check(valence, lower, i, lexicon)
        return valence


def _least_check(valence: float, lower: list[str], i: int, lexicon: dict[str, float]) -> float:
    if i > 1 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        if lower[i - 2] != "at" and lower[i - 2] != "very":
            valence = valence * _v.N_SCALAR
    elif i > 0 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        valence = valence * _v.N_SCALAR
    return valence


def _negation_check(valence: float, lower: list[str], start_i: int, i: int) -> float:
    negated = _v.negated
    if start_i == 0:
        if negated([lower[i - (start_i + 1)]]):
            valence = valence * _v.N_SCALAR
    if start_i == 1:
        if lower[i - 2] == "never" and (lower[i - 1] == "so" or lower[i - 1] == "this"):
            valence = valence * 1.25
        elif lower[i - 2] == "without" and lower[i - 1] == "doubt":
            valence = valence
        elif negated([lower[i - (start_i + 1)]]):
            valence = valence * _v.N_SCALAR
    if start_i == 2:
        if lower[i - 3] == "never" and (lower[i - 2] == "so" or lower[i - 2] == "this") or \
                (lower[i - 1] == "so" or lower[i - 1] == "this"):
            valence = valence * 1.25
        elif lower[i - 3] == "without" and (lower[i - 2] == "doubt" or lower[i - 1] == "doubt"):
            valence = valence
        elif negated([lower[i - (start_i + 1)]]):
            valence = valence * _v.N_SCALAR
    return valence


def _special_idioms_check(valence: float, lower: list[str], i: int) -> float:
    special = _v.SPECIAL_CASES
    onezero = f"{lower[i - 1]} {lower[i]}"
    twoonezero = f"{lower[i - 2]} {lower[i - 1]} {lower[i]}"
    twoone = f"{lower[i - 2]} {lower[i - 1]}"
    threetwoone = f"{lower[i - 3]} {lower[i - 2]} {lower[i - 1]}"
    threetwo = f"{lower[i - 3]} {lower[i - 2]}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in special:
            valence = special[seq]
            break
    if len(lower) - 1 > i:
        zeroone = f"{lower[i]} {lower[i + 1]}"
        if zeroone in special:
            valence = special[zeroone]
    if len(lower) - 1 > i + 1:
        zeroonetwo = f"{lower[i]} {lower[i + 1]} {lower[i + 2]}"
        if zeroonetwo in special:
            valence = special[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in _v.BOOSTER_DICT:
            valence = valence + _v.BOOSTER_DICT[n_gram]
    return valence
