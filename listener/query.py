"""Which brand a text is about: keywords, handles and exclusions from the brand config.

Every source matches locally with these rules, so all sources agree on what a mention is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class TrackedName(Protocol):
    name: str
    keywords: list[str]
    handles: list[str]
    exclusions: list[str]


def _term_pattern(term: str) -> str:
    term = term.strip()
    body = re.escape(term)
    # Word boundaries only where the term starts/ends with a word character (so "@brand" and "#brand" work).
    left = r"(?<!\w)" if term[:1].isalnum() or term[:1] in "@#_" else ""
    right = r"(?!\w)" if term[-1:].isalnum() or term[-1:] == "_" else ""
    return left + body + right


@dataclass
class BrandMatch:
    brand: str
    term: str


class BrandMatcher:
    """Finds the tracked brands (own brands and competitors) a text mentions."""

    def __init__(self, tracked: Iterable[TrackedName]) -> None:
        self._rules = []
        for t in tracked:
            terms = [*t.keywords, *t.handles]
            include = re.compile("|".join(f"({_term_pattern(x)})" for x in terms), re.IGNORECASE)
            exclude = (
                re.compile("|".join(_term_pattern(x) for x in t.exclusions), re.IGNORECASE)
                if t.exclusions else None
            )
            self._rules.append((t.name, terms, include, exclude))

    def matches(self, text: str) -> list[BrandMatch]:
        found = []
        for name, terms, include, exclude in self._rules:
            m = include.search(text)
            if m and not (exclude and exclude.search(text)):
                idx = next(i for i, g in enumerate(m.groups()) if g is not None)
                found.append(BrandMatch(name, terms[idx]))
        return found

    def first(self, text: str) -> str | None:
        hits = self.matches(text)
        return hits[0].brand if hits else None
