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
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
    customer = sorted((m for m in mentions if not m.is_brand_account), key=lambda m: m.created_at)
    if not customer:
        return Risk(0.0, [])
    parts: list[tuple[float, str]] = []
    negative = [m for m in customer if is_negative(m)]
    last = customer[-1].created_at

    # Negativity: share, strength and volume (one angry post is half as alarming as four; a pile-on
    # with some neutral replies is still a pile-on).
    if negative:
        share = len(negative) / len(customer)
        strength = sum(_strength(m) for m in negative) / len(negative)
        volume = min(1.0, (len(negative) + 1) / 4)
        pts = weights.negativity * (0.4 + 0.6 * share) * (0.6 + 0.4 * strength) * volume
        reviews = [m for m in negative if m.stars is not None]
        if len(customer) == 1 and reviews:
            text = f"{reviews[0].stars}-star review"
        elif len(customer) == 1:
            text = "negative mention"
        else:
            text = f"{len(negative)} of {len(customer)} mentions negative"
        parts.append((pts, text))

    # Reach: the widest audience in the thread (followers or subreddit members), plus engagement.
    widest = max(customer, key=lambda m: m.followers or 0)
    reach = widest.followers or 0
    engagement = sum(m.engagement for m in customer)
    if reach or engagement:
        full = math.log10(1 + weights.reach_full_at)
        reach_pts = weights.reach * min(1.0, math.log10(1 + reach + 10 * engagement) / full)
        verified = any(m.verified for m in customer)
        if verified:
            reach_pts = min(weights.reach, reach_pts + weights.reach * 0.25)
        bits = []
        if reach:
            noun = ("members" if widest.source == "reddit" else "followers")[:None if reach != 1 else -1]
            bits.append(f"{_who(widest.author)} has {fmt_count(reach)} {noun}")
        if verified:
            bits.append("verified author")
        if engagement >= 20:
            bits.append(f"{fmt_count(engagement)} engagements")
        parts.append((reach_pts, "; ".join(bits) or f"{engagement} engagement{'s' if engagement != 1 else ''}"))

    # Velocity: mentions in the last window against the thread's pace before it.
    window = weights.velocity_window
    recent = [m for m in customer if m.created_at > last - window]
    earlier = [m for m in customer if m.created_at <= last - window]
    span = max(window, last - customer[0].created_at - window)
    base_rate = len(earlier) / (span / window) if earlier else 0.0
    if len(recent) >= 3 and len(recent) > 2 * base_rate:
        neg_recent = sum(1 for m in recent if is_negative(m))
        replies = "replies" if len(customer) > len(recent) or len(recent) > 1 else "mentions"
        pts = weights.velocity * min(1.0, (len(recent) - 1) / 5) * (0.5 + 0.5 * neg_recent / len(recent))
        what = f"{neg_recent} negative {replies}" if neg_recent == len(recent) else (
            f"{len(recent)} {replies} ({neg_recent} negative)")
        parts.append((pts, f"{what} in {_fmt_span(last - recent[0].created_at)}"))

    # Escalation cues: money, law, leaving, going public, tagging the support account.
    pattern = cue_pattern(extra_cues)
    found = sorted({c.group(1).lower() for m in customer for c in pattern.finditer(m.text)})
    handles = {h.lower().lstrip("@") for h in support_handles}
    tagged = sorted({h for m in customer for h in re.findall(r"@(\w+)", m.text) if h.lower() in handles})
    cue_words = [f"'{c}'" for c in found[:4]] + [f"tags @{h}" for h in tagged[:1]]
    if cue_words:
        strength = len(found) + 0.5 * bool(tagged)
        parts.append((weights.cues * min(1.0, strength / 2), "mentions " + ", ".join(cue_words)
                      if found else cue_words[0]))

    # Waiting for an answer: a question about a problem or a request to the brand that no brand reply
    # followed ("any update on my refund?" sounds neutral, and the customer is still waiting).
    brand_times = [m.created_at for m in mentions if m.is_brand_account]
    last_brand = max(brand_times) if brand_times else None
    waiting = [m for m in customer if m.needs_reply in ("question", "request")
               and (last_brand is None or m.created_at > last_brand)]
    if waiting:
        kinds = "question" if all(m.needs_reply == "question" for m in waiting) else "request"
        parts.append((weights.cues * min(1.0, 0.5 + 0.25 * (len(waiting) - 1)),
                      f"{len(waiting)} {kinds}{'s' if len(waiting) > 1 else ''} waiting for a reply"))

    # Repeat detractors: authors negative about the brand in other threads recently.
    repeaters: dict[str, MentionFacts] = {}
    for m in customer:
        if m.author and m.author_negative_before and is_complaint(m.label, m.stars, m.text, pattern):
            best = repeaters.get(m.author)
            if best is None or m.author_negative_before > best.author_negative_before:
                repeaters[m.author] = m
    if repeaters:
        worst = max(repeaters.values(), key=lambda m: m.author_negative_before)
        level = sum(min(1.0, m.author_negative_before / weights.repeat_full_at) for m in repeaters.values())
        n = worst.author_negative_before
        since = f" in {_fmt_span(worst.created_at - worst.author_negative_since)}" \
            if worst.author_negative_since else ""
        text = f"{_who(worst.author)} complained {n} time{'s' if n > 1 else ''} before{since}"
        if len(repeaters) > 1:
            text += f" (+{len(repeaters) - 1} more repeat detractor{'s' if len(repeaters) > 2 else ''})"
        parts.append((weights.repeat_detractors * min(1.0, level), text))

    # Reach and speed amplify trouble; on a thread where nobody complains they are worth a quarter.
    complaints = any(is_complaint(m.label, m.stars, m.text, pattern) or m.needs_reply for m in customer)
    if not complaints:
        parts = [(p / 4, r) for p, r in parts]
    total = sum(p for p, _ in parts)
    reasons = [r for p, r in sorted(parts, key=lambda pr: -pr[0]) if p >= 0.5]
    brand_posts = [m for m in mentions if m.is_brand_account]
    if brand_posts:
        first_reply = min(m.created_at for m in brand_posts)
        unhappy_after = sum(1 for m in negative if m.created_at > first_reply)
        if unhappy_after:
            reasons.append(f"brand replied, {unhappy_after} negative mention{'s' if unhappy_after > 1 else ''}"
                           " since")
        else:
            total -= weights.brand_replied_discount
            reasons.append("brand already replied")
    return Risk(round(max(0.0, min(100.0, total)), 1), reasons)
