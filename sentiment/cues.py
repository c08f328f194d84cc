"""Customer-service cues: phrases that mean trouble in a support conversation, even when polite.

"thanks for nothing", "still waiting 2 hours", "charged twice" read as positive or neutral to a
general-purpose lexicon. Every hit adds one shared feature to the learned scorer, so cues a team adds
in `[sentiment] cues` use the weight the model learned for the built-in ones.
"""

from __future__ import annotations

from functools import lru_cache

from sentiment.phrases import PhraseMatcher

DEFAULT_CUES: tuple[str, ...] = (
    # waiting and chasing
    "still waiting", "been waiting", "waiting for", "on hold", "no response", "no reply", "not responding",
    "no one answers", "nobody answers", "ignored", "ignoring", "any update", "still no", "still not",
    "still haven't", "still hasn't", "still can't", "still cannot", "not yet received", "never received",
    "never arrived", "hasn't arrived", "didn't arrive", "not arrived", "where is my", "where's my",
    "no updates", "zero updates", "never came", "never showed up", "didn't show up", "hung up on me",
    # how long it has taken (a number in a cue stands for any number: "waited 2 hours" finds "waited 45 hours")
    "waited 2 minutes", "waited 2 mins", "waited 2 hours", "waited 2 hrs", "waited 2 days", "waited 2 weeks",
    "waiting 2 minutes", "waiting 2 mins", "waiting 2 hours", "waiting 2 hrs", "waiting 2 days", "waiting 2 weeks",
    "for 2 hours now", "for 2 days now", "for 2 weeks now", "2 hours late", "2 hour delay", "2 hours delay",
    "third time this", "what am i paying for",
    # money
    "refund", "charged twice", "double charged", "billed twice", "double billed", "overcharged", "charged me",
    "hidden fee", "hidden fees",
    "chargeback", "money back", "rip off", "ripoff", "ripped off", "scam",
    # failures
    "cancelled", "canceled", "delayed", "lost my", "lost luggage", "broken", "doesn't work", "does not work",
    "not working", "stopped working", "keeps crashing", "still broken", "not fixed", "crashed", "outage",
    "down again", "no signal", "offline", "down for everyone", "down for anyone", "no word from", "is it down",
    "no service", "no internet", "is down", "still down", "internet down", "for the third time",
    "for the second time", "error", "failed", "wrong order", "missing",
    # leaving
    "never again", "switching to", "cancel my", "cancelling my", "canceling my", "close my account",
    "last time i", "worst", "unacceptable", "disgraceful", "ridiculous", "joke",
    # polite but unhappy
    "thanks for nothing", "thanks a lot for", "please help", "please fix", "help me", "fix this",
    "what is going on", "what's going on", "how hard is it", "how is this acceptable", "seriously",
    "complaint", "complain", "frustrating", "frustrated", "fed up", "went up again", "without warning",
    "no warning", "nobody calls back", "no one calls back",
    # Spanish, Portuguese, French, German, Italian: the same trouble in the other languages we score
    "sigo esperando", "esperando 2 horas", "esperando 2 días", "esperando 2 dias", "todavía no", "todavia no",
    "reembolso", "cancelado", "cancelaron", "nunca más",
    "gracias por nada", "no funciona", "nadie responde", "cobrado dos veces", "estafa",
    "ainda não", "ainda nao", "esperando há", "aguardando há", "nunca mais", "obrigado por nada", "não funciona",
    "nao funciona",
    "ninguém responde", "cobrado duas vezes", "golpe",
    "toujours pas", "toujours rien", "attends depuis", "attend depuis", "remboursement", "annulé", "annule",
    "plus jamais", "merci pour rien",
    "ne fonctionne pas", "ne marche pas", "personne ne répond", "ne répond", "répond jamais", "arnaque",
    "immer noch nicht", "warte seit", "warten seit", "erstattung",
    "rückerstattung", "storniert",
    "nie wieder", "danke für nichts", "funktioniert nicht", "keine antwort", "abzocke",
    "ancora niente", "sto ancora aspettando", "aspetto da", "aspettando da", "rimborso", "cancellato", "mai più",
    "grazie per niente",
    "non funziona", "nessuno risponde", "truffa",
)


# Phrases that are a complaint whatever surrounds them (sarcastic thanks, repeated failure, leaving):
# each counts as two cues, enough to outweigh the polite words around it.
STRONG_CUES: frozenset[str] = frozenset({
    "thanks for nothing", "never again", "charged twice", "double charged", "billed twice", "still waiting", "still no",
    "still not", "still haven't", "on hold", "no one answers", "nobody answers", "nobody calls back",
    "no one calls back", "switching to", "unacceptable", "gracias por nada", "sigo esperando", "nunca más",
    "obrigado por nada", "nunca mais", "merci pour rien", "plus jamais", "toujours pas", "danke für nichts",
    "nie wieder", "immer noch nicht", "grazie per niente", "mai più", "sto ancora aspettando",
})


def cue_strength(found: list[str]) -> int:
    """How strongly the cues found point to a complaint: strong cues count twice."""
    return sum(2 if phrase in STRONG_CUES else 1 for phrase in found)


@lru_cache(maxsize=32)
def cue_matcher(cues: tuple[str, ...]) -> PhraseMatcher:
    """A matcher for the given cue phrases (each phrase is its own tag)."""
    return PhraseMatcher((c, c.strip().lower()) for c in cues if c.strip())


def all_cues(extra: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
    """The built-in cues plus a team's own, as one cache-friendly tuple."""
    return tuple(sorted(set(DEFAULT_CUES) | {c.strip().lower() for c in extra if c.strip()}))


def find_cues(text: str, matcher: PhraseMatcher) -> list[str]:
    """The cue phrases found in `text`, lower-cased, in order of appearance."""
    return matcher.find(text)
