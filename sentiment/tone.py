"""Tone rules the statistics miss: sarcastic praise in a complaint, and praise slang.

"Great, another outage. Just great." has two praise words and one trouble word, so a word-counting
model calls it positive; "ridiculously fast 🚀" and "this update is sick" have words that are negative
on their own. Both are rare in the training tweets and common in brand mentions. Each rule gives a
push (a logit) towards one class that the scorers add before choosing a label; they never decide
alone against strong evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Praise words that turn sarcastic beside trouble ("great, another outage", "stellar service 👏").
_PRAISE = (r"great|fantastic|wonderful|brilliant|amazing|awesome|stellar|perfect|lovely|excellent|superb|"
           r"nice|fabulous|outstanding|impressive|genius|classy|love it|thanks|thank you|cheers|bravo")
# Trouble that makes the praise beside it sarcastic.
_TROUBLE = (r"outages?|down|offline|delay(?:ed)?|cancel(?:l?ed)|late|crash(?:ed|es|ing)?|broken|bug(?:gy|s)?|"
            r"lost|stuck|on hold|waiting|waited|no signal|no service|no internet|error|fail(?:ed|s)?|"
            r"charged|overcharged|refund|missing|again|nothing|no (?:one|reply|response|word)|no[- ]shows?|"
            r"(?:second|third|fourth|fifth|another) (?:time|engineer|outage|delay|day|week|call|visit)")
_SARCASM = [
    # "Great, another outage." / "Fantastic. Delayed again."
    re.compile(rf"\b(?:oh\s+)?(?:{_PRAISE})\b[\s,.!…]*(?:another|more|yet another|no|zero|a)\b", re.I),
    # "Just great." / "just perfect" / "real classy"
    re.compile(r"\b(?:just|simply|real|really|so|totally)\s+(?:great|perfect|fantastic|wonderful|brilliant|classy|"
               r"lovely|amazing)\s*(?:[.!…]|$)", re.I),
    # "Amazing service as always" / "Great job @x, third no-show": praise of the very thing that failed
    re.compile(rf"\b(?:{_PRAISE})\b[^.!?]{{0,40}}\bas (?:always|usual|ever)\b", re.I),
    re.compile(r"^\W*(?:great|amazing|fantastic|brilliant|awesome|stellar|nice|excellent) (?:job|work|service|stuff)\b",
               re.I),
    # "stellar service 👏" / "great job 👏": clapping is sarcastic beside trouble
    re.compile(r"👏|🙄|🙃|😒|/s\b|#sarcasm\b|#not\b", re.I),
    # "thanks a lot" / "love that for me" / "what a great way to"
    re.compile(r"\b(?:thanks a lot|thanks a bunch|love that for me|what a (?:great|fantastic|wonderful) way|"
               r"love (?:waiting|being|paying|getting|how)|nothing like|gotta love|got to love|way to go)\b", re.I),
]
_TROUBLE_RE = re.compile(rf"\b(?:{_TROUBLE})\b", re.I)

# Slang praise: an intensifier that is negative on its own before a good quality, and words that mean
# "excellent" in casual English. A negative word nearby ("sick of", "insane wait") keeps them negative.
_GOOD = (r"fast|quick|good|smooth|easy|cheap|reliable|strong|stable|helpful|friendly|comfy|comfortable|"
         r"clean|clear|responsive|speedy|snappy|nice|great|well")
_SLANG = [
    re.compile(rf"\b(?:ridiculously|insanely|stupidly|crazy|absurdly|wickedly|obscenely|unreasonably|"
               rf"scary|scarily|dangerously|disgustingly|sickeningly|unbelievably|silly)\s+(?:{_GOOD})\b", re.I),
    re.compile(r"\b(?:is|are|was|looks|look|so|sooo*|pretty|damn|bloody|fucking|absolutely)\s+(?:sick|insane|fire|"
               r"lit|dope|nuts|unreal|mental|bonkers)\b(?!\s+(?:of|and tired|wait|delay|queue|price|bill))", re.I),
    re.compile(r"\b(?:slaps|goated|no cap|chef'?s kiss|a banger|bussin|killing it|killed it|nailed it)\b", re.I),
    re.compile(r"🔥|🚀|🙌|😍|🥰|💯"),
    # A burden that never came is praise: "didn't even have to ask twice", "never had to chase them".
    re.compile(r"\b(?:did ?n[o'’]?t|never|no need to|without having to)\s+(?:even\s+)?(?:(?:have|need|had)\s+to\s+)?"
               r"(?:ask(?:ed)? twice|chase|chased|call back|ring back|follow up|repeat myself|explain twice)\b", re.I),
]
_NOT_PRAISE = re.compile(r"\b(?:sick of|sick and tired|insane (?:wait|delay|queue|price|bill|fee)|not (?:fast|good|"
                         r"quick|smooth|easy|reliable))\b|\b(?:wait|waits|queue|delay|delays|price|prices|bill|bills|"
                         r"fee|fees|hold|line|lines)\b[^.!?]{0,30}\b(?:is|are|was|were)\s+(?:insane|nuts|mental|unreal|"
                         r"bonkers|sick|ridiculous)\b", re.I)
# A bare acknowledgement ("ok", "noted"): says nothing either way.
_ACK = re.compile(r"^\W*(?:ok|okay|k|kk|ok then|okay then|alright|noted|sure|fine|right|hmm+|mhm)\W*$", re.I)

# Non-ASCII characters that re.IGNORECASE matches to an ASCII letter (İ, ı, ſ and the Kelvin sign;
# tests/test_scorer_pinned.py checks every code point). In a text without them, a match of an ASCII word of
# a pattern is that word in the text's lower-cased form, which a plain substring search finds far faster
# than Python's regex engine tries a case-insensitive alternation at every position.
_FOLDS_TO_ASCII = frozenset("\u0130\u0131\u017f\u212a")


class _Gated:
    """A case-insensitive pattern, and literal lower-case words one of which every match of it contains:
    `search` runs the pattern only on a text whose lower-cased form has one of them (or that has one of
    _FOLDS_TO_ASCII), so it finds exactly what the pattern alone finds."""

    __slots__ = ("pattern", "words")

    def __init__(self, pattern: re.Pattern[str], words: Sequence[str] | None) -> None:
        self.pattern = pattern
        self.words = re.compile("|".join(re.escape(w) for w in words)) if words else None

    def search(self, text: str, lower: str | None) -> re.Match[str] | None:
        """pattern.search(text); `lower` is text.lower(), or None when the text has a _FOLDS_TO_ASCII character."""
        if self.words is not None and lower is not None and self.words.search(lower) is None:
            return None
        return self.pattern.search(text)


def _lower_for_gates(text: str) -> str | None:
    return text.lower() if _FOLDS_TO_ASCII.isdisjoint(text) else None


_PRAISE_WORDS = _PRAISE.split("|")
# The words each pattern cannot match without (None: cheap enough to run on every text, or not words).
_SARCASM_GATED = [_Gated(p, words) for p, words in zip(_SARCASM, [
    _PRAISE_WORDS,
    ["great", "perfect", "fantastic", "wonderful", "brilliant", "classy", "lovely", "amazing"],
    ["as always", "as usual", "as ever"],
    None,
    None,
    ["thanks a lot", "thanks a bunch", "love that for me", "what a great way", "what a fantastic way",
     "what a wonderful way", "love waiting", "love being", "love paying", "love getting", "love how",
     "nothing like", "gotta love", "got to love", "way to go"],
], strict=True)]
_SLANG_GATED = [_Gated(p, words) for p, words in zip(_SLANG, [
    ["ridiculously", "insanely", "stupidly", "crazy", "absurdly", "wickedly", "obscenely", "unreasonably", "scary",
     "scarily", "dangerously", "disgustingly", "sickeningly", "unbelievably", "silly"],
    ["sick", "insane", "fire", "lit", "dope", "nuts", "unreal", "mental", "bonkers"],
    ["slaps", "goated", "no cap", "s kiss", "a banger", "bussin", "killing it", "killed it", "nailed it"],
    None,
    ["twice", "chase", "call back", "ring back", "follow up", "repeat myself"],
], strict=True)]
_NOT_PRAISE_GATED = _Gated(_NOT_PRAISE, ["sick of", "sick and tired", "insane", "not fast", "not good", "not quick",
                                         "not smooth", "not easy", "not reliable", "nuts", "mental", "unreal",
                                         "bonkers", "sick", "ridiculous"])
SARCASM_LOGIT = 8.0  # per rule found (at most one counts), towards negative
SLANG_LOGIT = 2.0  # towards positive, when no sarcasm and no complaint cue


# Asking for advice or a comparison ("Which is better?", "is it worth it?"): a question, not a verdict.
_ADVICE = re.compile(r"\b(?:which (?:is|one|plan|would)|what'?s better|which'?s better|what is better|should i|"
                     r"is it worth|are they worth|any good\?|recommend|thoughts on|opinions on|vs\.?|versus)\b", re.I)
_ADVICE_GATED = _Gated(_ADVICE, ["which is", "which one", "which plan", "which would", "s better", "what is better",
                                 "should i", "is it worth", "are they worth", "any good?", "recommend", "thoughts on",
                                 "opinions on", "vs", "versus"])


@dataclass(frozen=True, slots=True)
class Tone:
    sarcastic: bool
    slang_praise: bool
    advice: bool = False


@lru_cache(maxsize=8192)
def tone_of(text: str, cue_hits: int = 0) -> Tone:
    """Whether `text` is sarcastic praise beside trouble, praise in slang, or a request for advice
    (see the module doc). Cached: a scorer asks it three times of each text (slang, pushes, probabilities)."""
    lower = _lower_for_gates(text)
    has_trouble = cue_hits > 0 or _TROUBLE_RE.search(text) is not None  # matches 4 in 10 texts: no gate
    sarcastic = has_trouble and any(p.search(text, lower) for p in _SARCASM_GATED)
    slang = (not sarcastic and cue_hits == 0 and _NOT_PRAISE_GATED.search(text, lower) is None
             and any(p.search(text, lower) for p in _SLANG_GATED))
    advice = not sarcastic and not has_trouble and "?" in text and _ADVICE_GATED.search(text, lower) is not None
    return Tone(sarcastic, slang, advice)


def apply_tone(probs: np.ndarray, texts: Sequence[str], cue_hits: Sequence[int]) -> np.ndarray:
    """Class probabilities after the rules a linear model cannot learn from its few examples: sarcastic
    praise counts as complaint (its positive share moves to negative: "Great, another outage"), and a
    request for advice leans neutral; slang words in a complaint ("the wait is insane") count as complaint
    too (70 % of its positive and negative share moves to neutral)."""
    out = probs.copy()
    for row, (text, hits) in enumerate(zip(texts, cue_hits, strict=True)):
        tone = tone_of(text, hits)
        if tone.sarcastic or _NOT_PRAISE_GATED.search(text, _lower_for_gates(text)):
            out[row, 0] += out[row, 2]
            out[row, 2] = 0.0
        elif _ACK.match(text):
            out[row] = (0.05, 0.9, 0.05)
        elif tone.advice:
            moved = 0.7 * (out[row, 0] + out[row, 2])
            out[row, 0] *= 0.3
            out[row, 2] *= 0.3
            out[row, 1] += moved
    return out


_INTENSIFIER = re.compile(rf"\b(?:ridiculously|insanely|stupidly|crazy|absurdly|wickedly|obscenely|unreasonably|"
                          rf"scary|scarily|dangerously|disgustingly|sickeningly|unbelievably|silly)(?=\s+(?:{_GOOD})\b)",
                          re.I)
_SLANG_WORD = re.compile(r"(?<=\s)(?:sick|insane|fire|lit|dope|nuts|unreal|mental|bonkers)\b"
                         r"(?!\s+(?:of|and tired|wait|delay|queue|price|bill))", re.I)


def rewrite_slang(text: str, cue_hits: int = 0) -> str:
    """The text with praise slang said plainly ("ridiculously fast" -> "very fast", "is sick" -> "is
    awesome"), so that the words' usual negative weight does not count; unchanged when it is not praise."""
    if not tone_of(text, cue_hits).slang_praise:
        return text
    return _SLANG_WORD.sub("awesome", _INTENSIFIER.sub("very", text))


def tone_logits(text: str, cue_hits: int = 0) -> tuple[float, float]:
    """(push towards negative, push towards positive) for one prepared text."""
    tone = tone_of(text, cue_hits)
    return (SARCASM_LOGIT if tone.sarcastic else 0.0, SLANG_LOGIT if tone.slang_praise else 0.0)
