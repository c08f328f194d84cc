"""Fast whole-phrase matching on word tokens, shared by customer-service cues and themes.

A Python regex with hundreds of alternatives tries each one at every position; looking up the text's
word n-grams in a dict costs a few microseconds whatever the number of phrases.

A number in a phrase stands for any number: "waited 2 hours" also finds "waited 45 hours".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"\w+(?:['’]\w+)*")
NUMBER = "#"  # what every all-digit word is matched as


def words(text: str) -> list[str]:
    """Lower-case word tokens; punctuation and hyphens separate words ("wi-fi" is "wi", "fi")."""
    return [w.replace("’", "'") for w in _WORD.findall(text.lower())]


class PhraseMatcher:
    """Finds configured phrases (as whole words) in texts and reports the tag of each phrase found."""

    def __init__(self, phrases: Iterable[tuple[str, str]]):
        """`phrases` are (phrase, tag) pairs; several phrases may share a tag."""
        table: dict[tuple[str, ...], set[str]] = {}
        for phrase, tag in phrases:
            key = tuple(NUMBER if w.isdigit() else w for w in words(phrase))
            if key:
                table.setdefault(key, set()).add(tag)
        # first word -> [(phrase length, phrase, its tags)]: most words start no phrase, one lookup each
        self._by_first: dict[str, list[tuple[int, tuple[str, ...], list[str]]]] = {}
        for key, tags in table.items():
            self._by_first.setdefault(key[0], []).append((len(key), key, sorted(tags)))

    def find(self, text: str) -> list[str]:
        """Tags of every phrase occurrence in `text`, in order (a tag repeats if its phrases recur)."""
        return self.find_in(words(text))

    def find_in(self, tokens: list[str]) -> list[str]:
        """As `find`, for text already split by `words` (so several matchers share one split)."""
        found: list[str] = []
        by_first = self._by_first
        for i, token in enumerate(tokens):
            candidates = by_first.get(NUMBER if token.isdigit() else token)
            if candidates:
                for n, key, tags in candidates:
                    if n == 1 or tuple(NUMBER if t.isdigit() else t for t in tokens[i:i + n]) == key:
                        found.extend(tags)
        return found

    def spans_in(self, tokens: list[str]) -> list[tuple[int, int, str]]:
        """(start, end, tag) of every phrase occurrence in tokens split by `words` (end exclusive)."""
        found: list[tuple[int, int, str]] = []
        by_first = self._by_first
        for i, token in enumerate(tokens):
            candidates = by_first.get(NUMBER if token.isdigit() else token)
            if candidates:
                for n, key, tags in candidates:
                    if n == 1 or tuple(NUMBER if t.isdigit() else t for t in tokens[i:i + n]) == key:
                        found.extend((i, i + n, tag) for tag in tags)
        return found
