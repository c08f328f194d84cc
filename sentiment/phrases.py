"""Fast whole-phrase matching on word tokens, shared by customer-service cues and themes.

A Python regex with hundreds of alternatives tries each one at every position; looking up the text's
word n-grams in a dict costs a few microseconds whatever the number of phrases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"\w+(?:['’]\w+)*")


def words(text: str) -> list[str]:
    """Lower-case word tokens; punctuation and hyphens separate words ("wi-fi" is "wi", "fi")."""
    return [w.replace("’", "'") for w in _WORD.findall(text.lower())]


class PhraseMatcher:
    """Finds configured phrases (as whole words) in texts and reports the tag of each phrase found."""

    def __init__(self, phrases: Iterable[tuple[str, str]]):
        """`phrases` are (phrase, tag) pairs; several phrases may share a tag."""
        self._table: dict[tuple[str, ...], set[str]] = {}
        for phrase, tag in phrases:
            key = tuple(words(phrase))
            if key:
                self._table.setdefault(key, set()).add(tag)
        self._longest = max((len(k) for k in self._table), default=0)

    def find(self, text: str) -> list[str]:
        """Tags of every phrase occurrence in `text`, in order (a tag repeats if its phrases recur)."""
        if not self._table:
            return []
        tokens = tuple(words(text))
        found: list[str] = []
        table = self._table
        for i in range(len(tokens)):
            for n in range(1, min(self._longest, len(tokens) - i) + 1):
                tags = table.get(tokens[i:i + n])
                if tags:
                    found.extend(sorted(tags))
        return found
