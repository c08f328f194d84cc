"""Themes: rule-based topic tags (billing, outage, delivery …) so trends and alerts can group mentions.

A theme is a name and the phrases that signal it; a mention gets every theme one of whose phrases it
contains as whole words, unless that phrase sits inside one of the theme's contexts marked with "-"
("-any update" keeps "any update??" out of the app theme). Teams add or extend themes in
`[sentiment.themes]`, contexts included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sentiment.phrases import PhraseMatcher, words

# Phrases, not loose words: a bare word that also belongs to everyday talk ("update", "site",
# "network", "support", "package") points at the wrong cause when a crowd uses it for something
# else ("any update??" during an outage is not about the app). A phrase starting with "-" is a
# context that cancels the theme's phrases it overlaps ("-any update", "-calm down").
DEFAULT_THEMES: dict[str, tuple[str, ...]] = {
    "billing": (
        "bill", "bills", "billed", "billing", "invoice", "charged", "charged twice", "double charged",
        "overcharged", "charges", "refund", "refunded", "chargeback", "payment", "direct debit",
        "subscription", "credit card", "late fee",
        "-fully charged", "-charged my phone", "-charged up", "-bill gates", "-pay the bills",
    ),
    "outage": (
        "outage", "outages", "is down", "are down", "went down", "goes down", "down again", "still down",
        "down for", "down in", "completely down", "down everywhere", "no signal", "no service", "no internet",
        "no connection", "lost connection", "connection keeps dropping", "keeps dropping", "dropped calls",
        "offline", "not loading", "won't load", "can't connect", "cannot connect", "wifi down", "network down",
        "server down", "servers down", "service down", "status page", "downdetector",
        "-calm down", "-down the road", "-down to", "-let down", "-let me down", "-turned down",
        "-back online", "-offline mode", "-is down to",
    ),
    "delivery": (
        "delivery", "delivered", "not delivered", "shipping", "shipped", "parcel", "courier", "my package",
        "package arrived", "tracking number", "order hasn't arrived", "never arrived", "not arrived",
        "late order", "dispatch", "dispatched",
        "-deliver on", "-delivered on", "-delivered on its promise", "-deliver on its promise",
    ),
    "app": (
        "app", "apps", "crash", "crashes", "crashed", "crashing", "bug", "bugs", "buggy", "glitch", "glitchy",
        "login", "log in", "logging in", "logs me out", "logged out", "logging me out", "password", "website",
        "the site", "error message", "freezes", "frozen", "app update", "the update", "latest update",
        "new update", "last update", "since the update", "after the update", "this update", "update broke",
        "-any update", "-an update", "-no update", "-no updates", "-status update", "-update on",
        "-updates on", "-for updates", "-keep us updated", "-the update on", "-frozen food",
        "-stomach bug", "-caught a bug",
    ),
    "customer service": (
        "customer service", "customer support", "support team", "tech support", "support chat",
        "chat support", "agent", "on hold", "call centre", "call center", "no response", "no reply",
        "representative", "complaint", "hung up", "helpline", "live chat", "nobody calls back",
        "-estate agent", "-travel agent", "-free agent", "-no reply needed",
    ),
    "price": (
        "price", "prices", "pricing", "expensive", "overpriced", "cost", "costs", "fee", "fees", "rip off",
        "ripoff", "cheaper", "price hike", "price rise", "price increase", "value for money",
        "-at all costs", "-at any cost", "-price is right",
    ),
}


# Where one clause ends and another begins: sentence ends, and contrast words in our scored languages.
_CLAUSE = re.compile(r"(?<=[.!?;\n])\s+|\s+(?:but|however|although|though|pero|aunque|mas|mais|aber|jedoch|ma|però)\s+",
                     re.IGNORECASE)


class ThemeMatcher:
    """Finds the themes of a text."""

    def __init__(self, themes: dict[str, list[str]]):
        self.names = tuple(themes)
        pairs = [(p.strip(), name) for name, phrases in themes.items() for p in phrases if p.strip()]
        self._matcher = PhraseMatcher((p, name) for p, name in pairs if not p.startswith("-"))
        unless = [(p[1:].strip(), name) for p, name in pairs if p.startswith("-") and p[1:].strip()]
        self._unless = PhraseMatcher(unless) if unless else None

    def themes(self, text: str) -> tuple[str, ...]:
        """Names of the themes whose phrases occur in `text`, in configured order."""
        return self.themes_in(words(text))

    def themes_in(self, tokens: list[str]) -> tuple[str, ...]:
        """As `themes`, for text already split by sentiment.phrases.words."""
        if self._unless is None:
            found = set(self._matcher.find_in(tokens))
        else:
            # A phrase overlapping one of its theme's "-" contexts does not count ("any update" is not the app).
            blocked: dict[str, list[tuple[int, int]]] = {}
            for start, end, name in self._unless.spans_in(tokens):
                blocked.setdefault(name, []).append((start, end))
            found = {name for start, end, name in self._matcher.spans_in(tokens)
                     if not any(s < end and start < e for s, e in blocked.get(name, ()))}
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
