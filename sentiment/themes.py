"""Themes: rule-based topic tags (billing, outage, delivery …) so trends and alerts can group mentions.

A theme is a name and the phrases that signal it; a mention gets every theme one of whose phrases it
contains as whole words. Teams add or extend themes in `[sentiment.themes]`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sentiment.phrases import PhraseMatcher, words

DEFAULT_THEMES: dict[str, tuple[str, ...]] = {
    "billing": (
        "bill",
        "billed",
        "billing",
        "invoice",
        "charged",
        "charges",
        "refund",
        "refunded",
        "payment",
        "overcharged",
        "double charged",
        "direct debit",
        "subscription",
        "credit card",
    ),
    "outage": (
        "outage",
        "is down",
        "went down",
        "goes down",
        "down again",
        "still down",
        "no signal",
        "no service",
        "no internet",
        "offline",
        "connection",
        "connectivity",
        "wifi",
        "wi-fi",
        "network",
        "dropped calls",
        "not loading",
        "server",
    ),
    "delivery": (
        "delivery",
        "delivered",
        "deliver",
        "shipping",
        "shipped",
        "package",
        "parcel",
        "courier",
        "tracking",
        "order hasn't arrived",
        "never arrived",
        "not arrived",
        "late order",
        "dispatch",
    ),
    "app": (
        "app",
        "crash",
        "crashes",
        "crashed",
        "crashing",
        "bug",
        "glitch",
        "update",
        "login",
        "log in",
        "password",
        "website",
        "site",
        "error message",
        "freezes",
        "frozen",
    ),
    "customer service": (
        "customer service",
        "customer support",
        "support",
        "agent",
        "on hold",
        "call centre",
        "call center",
        "no response",
        "no reply",
        "representative",
        "manager",
        "complaint",
        "hung up",
        "helpline",
        "live chat",
    ),
    "price": (
        "price",
        "prices",
        "pricing",
        "expensive",
        "overpriced",
        "cost",
        "costs",
        "fee",
        "fees",
        "rip off",
        "ripoff",
        "cheaper",
        "price hike",
        "value for money",
    ),
}


# Where one clause ends and another begins: sentence ends, and contrast words in our scored languages.
_CLAUSE = re.compile(r"(?<=[.!?;\n])\s+|\s+(?:but|however|although|though|pero|aunque|mas|mais|aber|jedoch|ma|però)\s+",
                     re.IGNORECASE)


class ThemeMatcher:
    """Finds the themes of a text."""

    def __init__(self, themes: dict[str, list[str]]):
        self.names = tuple(themes)
        self._matcher = PhraseMatcher((p, name) for name, phrases in themes.items() for p in phrases)

    def themes(self, text: str) -> tuple[str, ...]:
        """Names of the themes whose phrases occur in `text`, in configured order."""
        return self.themes_in(words(text))

    def themes_in(self, tokens: list[str]) -> tuple[str, ...]:
        """As `themes`, for text already split by sentiment.phrases.words."""
        found = set(self._matcher.find_in(tokens))
        return tuple(name for name in self.names if name in found)


def build_themes(extra: Mapping[str, Sequence[str]] | None = None, *, defaults: bool = True) -> ThemeMatcher:
    """The default themes merged with a team's own: a configured theme adds phrases to a default of the
    same name, or defines a new theme. A theme configured with an empty list is switched off."""
    merged: dict[str, list[str]] = {k: list(v) for k, v in DEFAULT_THEMES.items()} if defaults else {}
    for name, phrases in (extra or {}).items():
        name = name.strip()
        if not phrases:
            merged.pop(name, None)
            continue
        merged.setdefault(name, []).extend(phrases)
    return ThemeMatcher(merged)


def theme_clauses(text: str, matcher: ThemeMatcher) -> dict[str, str]:
    """For each theme found in only part of `text`, the clauses that mention it (joined).

    Themes found in every clause, or in a one-clause text, are left out: the text's own sentiment is theirs.
    """
    clauses = [c for c in _CLAUSE.split(text) if c and c.strip()]
    if len(clauses) < 2:
        return {}
    found: dict[str, list[str]] = {}
    for clause in clauses:
        for theme in matcher.themes(clause):
            found.setdefault(theme, []).append(clause)
    return {theme: " ".join(parts) for theme, parts in found.items() if len(parts) < len(clauses)}
