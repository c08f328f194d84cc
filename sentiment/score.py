"""The score record every scorer returns, and the interface a scorer implements."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

LABELS = ("negative", "neutral", "positive", "unscored")


@dataclass(frozen=True, slots=True)
class Score:
    """One text's sentiment: label, compound in [-1, 1], confidence in [0, 1], language and model."""

    label: str
    compound: float
    confidence: float
    lang: str | None
    model: str
    themes: tuple[str, ...] = field(default=())
    # (theme, label) for each theme: a mixed mention ("love the app, but billing is a mess") can be
    # positive about one theme and negative about another; otherwise every theme gets the mention's label.
    theme_sentiment: tuple[tuple[str, str], ...] = field(default=())
    # Why the mention needs an answer from the brand: "complaint", "question" (about a problem) or
    # "request" (addressed to the brand); None when it needs none (see sentiment/reply.py).
    needs_reply: str | None = None

    @property
    def is_negative(self) -> bool:
        return self.label == "negative"


@runtime_checkable
class Scorer(Protocol):
    """Turns texts into scores. `langs` carries a language tag per text when the source has one."""

    name: str

    def score(self, text: str, lang: str | None = None) -> Score: ...

    def score_many(self, texts: Sequence[str], langs: Iterable[str | None] | None = None) -> list[Score]: ...
