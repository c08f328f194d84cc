"""Scorers by name. A new scorer is one module plus one line in _BUILTIN."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sentiment.score import Scorer

# name -> "module:factory"; imported lazily so a scorer's dependencies load only when it is chosen.
_BUILTIN: dict[str, str] = {
    "vader": "sentiment.vader:VaderScorer",
    "learned": "sentiment.learned:LearnedScorer",
    "cascade": "sentiment.cascade:CascadeScorer",
}
_FACTORIES: dict[str, Callable[..., Scorer]] = {}


def register_scorer(name: str, factory: Callable[..., Scorer]) -> None:
    """Make a scorer available under `name` (for plug-ins and tests)."""
    _FACTORIES[name] = factory


def available_scorers() -> list[str]:
    return sorted(set(_BUILTIN) | set(_FACTORIES))


def get_scorer(name: str, **options: Any) -> Scorer:
    """Build the scorer called `name` with its options (thresholds, brand names, cues)."""
    if name in _FACTORIES:
        return _FACTORIES[name](**options)
    if name not in _BUILTIN:
        raise KeyError(f"unknown scorer {name!r}; available: {', '.join(available_scorers())}")
    module_name, attr = _BUILTIN[name].split(":")
    factory = getattr(importlib.import_module(module_name), attr)
    return factory(**options)
