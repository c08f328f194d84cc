"""Escalation risk of a thread, 0..100, with the reasons that made it. Pure: plain data in, Risk out."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Words and phrases that mean a complaint is about to cost money or reputation.
ESCALATION_CUES = (
    "refund", "chargeback", "charge back", "cancel", "cancelling", "canceling", "cancelled", "lawyer",
    "attorney", "sue", "suing", "lawsuit", "scam", "fraud", "never again", "switching to", "switch to",
    "small claims", "ombudsman", "regulator", "bbb", "trading standards", "report you", "class action",
)


@dataclass(frozen=True)
class RiskWeights:
    """Most points each factor can give; the brand-reply discount is taken off."""

    negativity: float = 35
    reach: float = 20
    velocity: float = 15
    cues: float = 20
    repeat_detractors: float = 10
    brand_replied_discount: float = 10


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
    author_negative_before: bool = False  # this author was negative about the brand within the window


@dataclass
class Risk:
    score: float
    reasons: list[str] = field(default_factory=list)  # most important first


def _cue_pattern(cues: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(c) for c in cues) + r")(?!\w)", re.IGNORECASE)


_DEFAULT_CUES = _cue_pattern(ESCALATION_CUES)


def _fmt_count(n: int) -> str:
    return f"{n / 1_000_000:.1f}M" if n >= 1_000_000 else f"{n / 1000:.0f}k" if n >= 10_000 else str(n)


def thread_risk(mentions: list[MentionFacts], weights: RiskWeights = RiskWeights(),
                extra_cues: tuple[str, ...] = ()) -> Risk:
    """Score a thread's escalation risk from its mentions (any order)."""
    customer = [m for m in mentions if not m.is_brand_account]
    if not customer:
        return Risk(0.0, [])
    parts: list[tuple[float, str]] = []

    negative = [m for m in customer if m.label == "negative"]
    if negative:
        share = len(negative) / len(customer)
        strength = sum(min(1.0, -(m.compound or 0.0)) for m in negative) / len(negative)
        volume = min(1.0, (len(negative) + 1) / 4)
        pts = weights.negativity * share * (0.5 + 0.5 * strength) * volume
        parts.append((pts, f"{len(negative)} of {len(customer)} mentions negative"))

    reach = max((m.followers or 0) for m in customer)
    engagement = sum(m.engagement for m in customer)
    if reach or engagement:
        reach_pts = weights.reach * min(1.0, math.log10(1 + reach + 10 * engagement) / 6)
        verified = any(m.verified for m in customer)
        if verified:
            reach_pts = min(weights.reach, reach_pts + weights.reach * 0.25)
        who = f"author has {_fmt_count(reach)} followers" if reach else f"{engagement} engagements"
        parts.append((reach_pts, who + ("; verified author" if verified else "")))

    ordered = sorted(customer, key=lambda m: m.created_at)
    last = ordered[-1].created_at
    recent = [m for m in ordered if m.created_at > last - timedelta(hours=1)]
    earlier = [m for m in ordered if m.created_at <= last - timedelta(hours=1)]
    span_h = max(1.0, (last - ordered[0].created_at).total_seconds() / 3600 - 1)
    base_rate = len(earlier) / span_h if earlier else 0.0
    if len(recent) >= 3 and len(recent) > 2 * base_rate:
        neg_recent = sum(1 for m in recent if m.label == "negative")
        minutes = max(1, round((last - recent[0].created_at).total_seconds() / 60))
        pts = weights.velocity * min(1.0, (len(recent) - 2) / 6)
        parts.append((pts, f"{len(recent)} mentions ({neg_recent} negative) in {minutes} min"))

    pattern = _cue_pattern(ESCALATION_CUES + extra_cues) if extra_cues else _DEFAULT_CUES
    cues = sorted({c.group(1).lower() for m in customer for c in pattern.finditer(m.text)})
    if cues:
        parts.append((weights.cues * min(1.0, len(cues) / 2),
                      "mentions " + ", ".join(f"'{c}'" for c in cues[:4])))

    repeaters = {m.author for m in customer if m.author_negative_before and m.author}
    if repeaters:
        parts.append((weights.repeat_detractors * min(1.0, len(repeaters) / 2),
                      f"{len(repeaters)} repeat detractor{'s' if len(repeaters) > 1 else ''}"))

    total = sum(p for p, _ in parts)
    reasons = [r for p, r in sorted(parts, key=lambda pr: -pr[0]) if p > 0.5]
    if any(m.is_brand_account for m in mentions):
        total -= weights.brand_replied_discount
        reasons.append("brand already replied")
    return Risk(round(max(0.0, min(100.0, total)), 1), reasons)
