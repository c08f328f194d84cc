"""Needs a reply: whether a mention asks the brand for something, beside what it feels.

In support terms a mention needs an answer when it is
- a **complaint** (scored negative),
- a **question about a problem** ("flight 212 still at the gate after 90 minutes, any update?",
  "where is my order? tracking hasn't moved since Monday"), even with no negative word in it, or
- a **request or question addressed to the brand** ("@Brightwave please move my install to Friday",
  "@Brightwave how do I change my plan?").
A question that is not about a problem and not to the brand ("Ping matters more than speed for me.
Which is better?") does not need one. The reason is stored with the mention (`mentions.needs_reply`).
"""

from __future__ import annotations

import re

COMPLAINT, QUESTION, REQUEST = "complaint", "question", "request"
REASONS = (COMPLAINT, QUESTION, REQUEST)

_QUESTION = re.compile(
    r"\?|\b(?:any update|any updates|any news|any word|anyone else|anybody else|is it just me|where is my|"
    r"where's my|when will (?:my|i|it|you)|why (?:is|does|did|has|hasn't|isn't|can't) (?:my|it|the|this))\b", re.I)
# Words of a problem or of something owed: a question with one of these is about a problem.
_PROBLEM = re.compile(
    r"\b(?:still|hasn'?t|haven'?t|isn'?t|aren'?t|wasn'?t|didn'?t|doesn'?t|won'?t|can'?t|cannot|not|no|never|"
    r"down|offline|outage|delay(?:ed)?|late|stuck|waiting|waited|missing|lost|broken|cancel(?:l?ed)?|"
    r"refund|charge[ds]?|bill(?:ed)?|order|tracking|parcel|package|delivery|flight|gate|booking|ticket|"
    r"account|password|locked|error|crash(?:ed|ing)?|signal|connection|internet|wifi|update)\b|"
    r"\bsince\s+\w+|\bafter\s+\d+|\bfor\s+\d+\s+(?:minutes?|mins?|hours?|hrs?|days?|weeks?)", re.I)
_REQUEST = re.compile(
    r"\b(?:please|pls|plz|can you|could you|would you|will you|can someone|can anyone|help me|need help|"
    r"i need|i want to|i'd like to|i would like to|dm me|dm'd|sent you a dm|call me|get back to me|"
    r"let me know|sort (?:this|it) out|fix (?:this|it|my)|how do i|how can i|how to)\b", re.I)


def needs_reply(text: str, label: str, addressed: bool) -> str | None:
    """Why the mention needs an answer (COMPLAINT, QUESTION, REQUEST) or None; `text` is the prepared
    text, `addressed` whether it names the brand's own account (an @handle)."""
    if label == "negative":
        return COMPLAINT
    if label == "unscored" and not text.strip():
        return None
    asks = _QUESTION.search(text) is not None
    if asks and _PROBLEM.search(text):
        return QUESTION
    if addressed and (asks or _REQUEST.search(text)):
        return REQUEST
    return None


def plain_question(text: str) -> bool:
    """A question with no problem in it ("Which is better?"): no reason to lean towards 'negative'."""
    return "?" in text and _PROBLEM.search(text) is None
