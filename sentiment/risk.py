"""Escalation risk of a thread, 0..100, with the reasons that made it. Pure: plain data in, Risk out.

Six factors, each worth at most its weight in points: negativity (share and strength), reach
(followers, subreddit size, verified authors, engagement), velocity (the last window against the
thread's pace before it), escalation cues (refund, chargeback, lawyer, tagging the support account),
repeat detractors (authors negative about the brand before, in other threads) and a discount when
the brand already replied and nobody complained since. Reasons are ranked by the points they gave.
"""

from __future__ import annotations

import math
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

# Words and phrases that mean a complaint is about to cost money or reputation.
ESCALATION_CUES = (
    "refund", "refunded", "chargeback", "charge back", "money back", "cancel", "cancelling", "canceling",
    "cancelled", "lawyer", "attorney", "sue", "suing", "lawsuit", "scam", "fraud", "never again",
    "switching to", "switch to", "leaving for", "small claims", "ombudsman", "regulator", "bbb",
    "trading standards", "report you", "class action", "telling everyone", "going to the press",
)


@dataclass(frozen=True)
class RiskWeights:
    """Most points each factor can give; the brand-reply discount is taken off."""

    negativity: float = 35
    reach: float = 20
    velocity: float = 15
    cues: float = 20
    repeat_detractors: float = 20
    brand_replied_discount: float = 10
    repeat_full_at: int = 2  # earlier negative mentions by one author that give the full repeat weight
    velocity_window: timedelta = timedelta(hours=1)
    reach_full_at: int = 1_000_000


@dataclass(frozen=True)
class MentionFacts:
    created_at: datetime
    label: str | None
    compound: float | None
    followers: int | None
    verified: bool
    engagement: int
    text: str
    author: str | None
    is_brand_account: bool = False
    # Complaints (see is_complaint) by this author about the brand in OTHER threads within the
    # window before this one, and when the earliest of them was.
    author_negative_before: int = 0
    author_negative_since: datetime | None = None
    stars: int | None = None  # reviews: 1..5
    source: str | None = None
    needs_reply: str | None = None  # "complaint", "question", "request" (sentiment/reply.py) or None


@dataclass
class Risk:
    score: float
    reasons: list[str] = field(default_factory=list)  # most important first


def nps_bucket(stars: int | None) -> str | None:
    """NPS-style bucket of a 1..5 star review: 5 promoter, 4 passive, 1-3 detractor; None if no stars."""
    if stars is None:
        return None
    return "promoter" if stars >= 5 else "passive" if stars == 4 else "detractor"


def is_negative(m: MentionFacts) -> bool:
    """Negative by its words, or a review in the detractor bucket whatever the words say."""
    return m.label == "negative" or nps_bucket(m.stars) == "detractor"


def cue_pattern(extra_cues: tuple[str, ...] = ()) -> re.Pattern[str]:
    """The compiled escalation-cue matcher (built-in cues plus a team's own)."""
    return _cue_pattern(ESCALATION_CUES + extra_cues) if extra_cues else _DEFAULT_CUES


def is_complaint(label: str | None, stars: int | None, text: str, cues: re.Pattern[str] | None = None) -> bool:
    """A complaint: negative words, a detractor review, or an escalation cue ("chargeback",
    "switching to") even when the words score neutral. Counts towards repeat detractors."""
    if label == "negative" or nps_bucket(stars) == "detractor":
        return True
    return bool((cues or _DEFAULT_CUES).search(text))


def _strength(m: MentionFacts) -> float:
    by_words = min(1.0, -(m.compound or 0.0)) if m.label == "negative" else 0.0
    by_stars = {1: 1.0, 2: 0.75, 3: 0.4}.get(m.stars or 0, 0.0)
    return max(by_words, by_stars)


def _cue_pattern(cues: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(c) for c in cues) + r")(?!\w)", re.IGNORECASE)


_DEFAULT_CUES = _cue_pattern(ESCALATION_CUES)


def fmt_count(n: int) -> str:
    """48300 -> '48k', 1_200_000 -> '1.2M': reach as people say it."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def _fmt_span(delta: timedelta) -> str:
    minutes = max(1, round(delta.total_seconds() / 60))
    if minutes < 120:
        return f"{minutes} min"
    hours = round(minutes / 60)
    return f"{hours} h" if hours < 48 else f"{round(hours / 24)} days"


def _who(author: str | None) -> str:
    return f"@{author.lstrip('@')}" if author else "an author"


def awaits_reply(mentions: list[MentionFacts], support_handles: tuple[str, ...] = ()) -> bool:
    """Whether a customer asked the brand's support account for something (a complaint, a question about a
    problem, a request) and no brand reply came after it: the thread belongs in the support queue whatever
    its risk ("@BrightwaveHelp any update on my refund?" sounds neutral and still needs an answer)."""
    handles = {h.lower().lstrip("@") for h in support_handles}
    if not handles:
        return False
    brand_times = [m.created_at for m in mentions if m.is_brand_account]
    last_brand = max(brand_times) if brand_times else None
    return any(
        not m.is_brand_account and m.needs_reply and (last_brand is None or m.created_at > last_brand)
        and any(h.lower() in handles for h in re.findall(r"@(\w+)", m.text))
        for m in mentions)


def thread_risk(mentions: list[MentionFacts], weights: RiskWeights = RiskWeights(),
                extra_cues: tuple[str, ...] = (), support_handles: tuple[str, ...] = ()) -> Risk:
    """Score a thread's escalation risk from its mentions (any order).

    `support_handles` are the brand's own accounts: a customer tagging one is an escalation cue.
    """
    ordered = sorted(mentions, key=lambda m: m.created_at)
    totals = RiskTotals()
    pattern = cue_pattern(extra_cues)
    repeaters: dict[str, dict[str, Any]] = {}
    # The brand's replies first: what came after them is known as each customer mention is counted.
    for i, m in sorted(enumerate(ordered), key=lambda im: not im[1].is_brand_account):
        totals.add(m, (m.created_at, i), pattern, support_handles, weights, repeaters)
    customer = [m for m in ordered if not m.is_brand_account]
    if not customer:
        return Risk(0.0, [])
    bound = customer[-1].created_at - weights.velocity_window
    recent = [m for m in customer if m.created_at > bound]
    return totals.risk(weights, (len(recent), sum(1 for m in recent if is_negative(m)),
                                 recent[0].created_at if recent else None))


class RecountNeeded(ValueError):
    """Running totals cannot take this mention: count the thread again from all its mentions."""


def _later(a: datetime | None, b: datetime) -> bool:
    return a is None or b > a


@dataclass
class RiskTotals:
    """What thread_risk needs of a thread, as running totals: add mentions one at a time, in any order,
    and risk() gives what thread_risk gives for all of them (the incremental thread rollup keeps these
    in the store, so a viral thread's recompute costs its new replies, not all of them).

    `order` is each mention's place in the thread ((created_at, tie-breaker)): the ties thread_risk
    breaks by position (the widest audience, each repeat detractor's first complaint) are broken by it.
    Sums are exact (Fraction), so the order mentions are added in cannot change a figure. Brand
    replies change what "after the brand replied" covers, so they are added before the customers'
    mentions; one arriving later outside the replies counted raises RecountNeeded.
    Only velocity needs more than totals: the caller counts the customers in the last window."""

    customers: int = 0
    negative: int = 0
    strength: Fraction = Fraction(0)
    first_at: datetime | None = None  # of the customers
    last_at: datetime | None = None
    widest: list[Any] | None = None  # [followers, order, author, source]: the first with the most
    engagement: int = 0
    verified: bool = False
    cues: set[str] = field(default_factory=set)
    tagged: set[str] = field(default_factory=set)
    review_stars: int | None = None  # the first customer's stars if a negative review (one-mention text)
    complaints: bool = False
    brand_first: datetime | None = None
    brand_last: datetime | None = None
    waiting: int = 0  # questions and requests after the last brand reply
    waiting_requests: int = 0
    unhappy_after: int = 0  # negative mentions after the first brand reply
    asked_at: datetime | None = None  # latest customer ask tagging a support handle (awaits_reply)
    repeaters: int = 0
    repeat_level: Fraction = Fraction(0)
    worst: dict[str, Any] | None = None  # the repeat detractor named in the reason

    def add(self, m: MentionFacts, order: Any, pattern: re.Pattern[str], support_handles: tuple[str, ...],
            weights: RiskWeights, repeaters: MutableMapping[str, dict[str, Any]]) -> None:
        """Count one mention. `repeaters` holds the per-author repeat state of (at least) m's author."""
        at = m.created_at
        if m.is_brand_account:
            moves = self.brand_first is None or at < self.brand_first or at > (self.brand_last or at)
            if self.customers and moves:
                # "After the first/last brand reply" would cover other customers: count them again.
                raise RecountNeeded("a brand reply outside the ones counted")
            self.brand_first = at if self.brand_first is None or at < self.brand_first else self.brand_first
            self.brand_last = at if _later(self.brand_last, at) else self.brand_last
            return
        negative = is_negative(m)
        strength = Fraction(_strength(m)) if negative else Fraction(0)
        handles = {h.lower().lstrip("@") for h in support_handles}
        found = {c.group(1).lower() for c in pattern.finditer(m.text)}
        tagged = {h for h in re.findall(r"@(\w+)", m.text) if h.lower() in handles}
        complaint = is_complaint(m.label, m.stars, m.text, pattern)
        repeat = bool(m.author and m.author_negative_before and complaint)
        # Everything that can fail is computed above: from here the totals change all together.
        if self.customers == 0 and negative and m.stars is not None:
            self.review_stars = m.stars
        self.customers += 1
        if negative:
            self.negative += 1
            self.strength += strength
            if self.brand_first is not None and at > self.brand_first:
                self.unhappy_after += 1
        self.first_at = at if self.first_at is None or at < self.first_at else self.first_at
        self.last_at = at if _later(self.last_at, at) else self.last_at
        followers = m.followers or 0
        if self.widest is None or followers > self.widest[0] or (followers == self.widest[0]
                                                                  and order < self.widest[1]):
            self.widest = [followers, order, m.author, m.source]
        self.engagement += m.engagement
        self.verified = self.verified or m.verified
        self.cues |= found
        self.tagged |= tagged
        self.complaints = self.complaints or complaint or bool(m.needs_reply)
        if m.needs_reply in ("question", "request") and (self.brand_last is None or at > self.brand_last):
            self.waiting += 1
            self.waiting_requests += m.needs_reply != "question"
        if m.needs_reply and tagged and _later(self.asked_at, at):
            self.asked_at = at
        if repeat:
            self._add_repeat(m, order, weights, repeaters)

    def _add_repeat(self, m: MentionFacts, order: Any, weights: RiskWeights,
                    repeaters: MutableMapping[str, dict[str, Any]]) -> None:
        n = m.author_negative_before
        mine = repeaters.get(m.author or "")
        if mine is None:
            mine = {"first": order, "n": n, "order": order, "at": m.created_at, "since": m.author_negative_since}
            self.repeaters += 1
            self.repeat_level += Fraction(min(n, weights.repeat_full_at), weights.repeat_full_at)
        else:
            before = mine["n"]
            mine = dict(mine)
            mine["first"] = order if order < mine["first"] else mine["first"]
            if n > before or (n == before and order < mine["order"]):
                mine.update(n=n, order=order, at=m.created_at, since=m.author_negative_since)
                self.repeat_level += (Fraction(min(n, weights.repeat_full_at), weights.repeat_full_at)
                                      - Fraction(min(before, weights.repeat_full_at), weights.repeat_full_at))
        repeaters[m.author or ""] = mine
        w = self.worst
        if w is None or w["author"] == m.author or mine["n"] > w["n"] or (mine["n"] == w["n"]
                                                                         and mine["first"] < w["first"]):
            self.worst = {"author": m.author, **mine}

    def awaits_reply(self) -> bool:
        """awaits_reply() of the same mentions (with the same support handles)."""
        return self.asked_at is not None and (self.brand_last is None or self.asked_at > self.brand_last)

    def risk(self, weights: RiskWeights, recent: tuple[int, int, datetime | None]) -> Risk:
        """The thread's risk; `recent` is (customers, negative ones, earliest time) after
        last_at - weights.velocity_window."""
        if not self.customers:
            return Risk(0.0, [])
        parts: list[tuple[float, str]] = []
        customers = self.customers
        if self.negative:
            share = self.negative / customers
            strength = float(self.strength / self.negative)
            volume = min(1.0, (self.negative + 1) / 4)
            pts = weights.negativity * (0.4 + 0.6 * share) * (0.6 + 0.4 * strength) * volume
            if customers == 1 and self.review_stars is not None:
                text = f"{self.review_stars}-star review"
            elif customers == 1:
                text = "negative mention"
            else:
                text = f"{self.negative} of {customers} mentions negative"
            parts.append((pts, text))

        reach, _, author, source = self.widest or [0, None, None, None]
        engagement = self.engagement
        if reach or engagement:
            full = math.log10(1 + weights.reach_full_at)
            reach_pts = weights.reach * min(1.0, math.log10(1 + reach + 10 * engagement) / full)
            if self.verified:
                reach_pts = min(weights.reach, reach_pts + weights.reach * 0.25)
            bits = []
            if reach:
                noun = ("members" if source == "reddit" else "followers")[:None if reach != 1 else -1]
                bits.append(f"{_who(author)} has {fmt_count(reach)} {noun}")
            if self.verified:
                bits.append("verified author")
            if engagement >= 20:
                bits.append(f"{fmt_count(engagement)} engagements")
            parts.append((reach_pts, "; ".join(bits) or f"{engagement} engagement{'s' if engagement != 1 else ''}"))

        # Velocity: mentions in the last window against the thread's pace before it.
        window = weights.velocity_window
        last, first = self.last_at, self.first_at
        assert last is not None and first is not None
        n_recent, neg_recent, recent_first = recent
        earlier = customers - n_recent
        span = max(window, last - first - window)
        base_rate = earlier / (span / window) if earlier else 0.0
        if n_recent >= 3 and n_recent > 2 * base_rate and recent_first is not None:
            replies = "replies" if customers > n_recent or n_recent > 1 else "mentions"
            pts = weights.velocity * min(1.0, (n_recent - 1) / 5) * (0.5 + 0.5 * neg_recent / n_recent)
            what = f"{neg_recent} negative {replies}" if neg_recent == n_recent else (
                f"{n_recent} {replies} ({neg_recent} negative)")
            parts.append((pts, f"{what} in {_fmt_span(last - recent_first)}"))

        # Escalation cues: money, law, leaving, going public, tagging the support account.
        found = sorted(self.cues)
        tagged = sorted(self.tagged)
        cue_words = [f"'{c}'" for c in found[:4]] + [f"tags @{h}" for h in tagged[:1]]
        if cue_words:
            strength_cues = len(found) + 0.5 * bool(tagged)
            parts.append((weights.cues * min(1.0, strength_cues / 2), "mentions " + ", ".join(cue_words)
                          if found else cue_words[0]))

        # Waiting for an answer: a question about a problem or a request to the brand that no brand reply
        # followed ("any update on my refund?" sounds neutral, and the customer is still waiting).
        if self.waiting:
            kinds = "question" if not self.waiting_requests else "request"
            parts.append((weights.cues * min(1.0, 0.5 + 0.25 * (self.waiting - 1)),
                          f"{self.waiting} {kinds}{'s' if self.waiting > 1 else ''} waiting for a reply"))

        # Repeat detractors: authors negative about the brand in other threads recently.
        if self.repeaters and self.worst is not None:
            worst = self.worst
            n = worst["n"]
            since = f" in {_fmt_span(worst['at'] - worst['since'])}" if worst["since"] else ""
            text = f"{_who(worst['author'])} complained {n} time{'s' if n > 1 else ''} before{since}"
            if self.repeaters > 1:
                text += f" (+{self.repeaters - 1} more repeat detractor{'s' if self.repeaters > 2 else ''})"
            parts.append((weights.repeat_detractors * min(1.0, float(self.repeat_level)), text))

        # Reach and speed amplify trouble; on a thread where nobody complains they are worth a quarter.
        if not self.complaints:
            parts = [(p / 4, r) for p, r in parts]
        total = sum(p for p, _ in parts)
        reasons = [r for p, r in sorted(parts, key=lambda pr: -pr[0]) if p >= 0.5]
        if self.brand_first is not None:
            if self.unhappy_after:
                n = self.unhappy_after
                reasons.append(f"brand replied, {n} negative mention{'s' if n > 1 else ''} since")
            else:
                total -= weights.brand_replied_discount
                reasons.append("brand already replied")
        return Risk(round(max(0.0, min(100.0, total)), 1), reasons)

