"""The alert record every channel renders, and plain-text rendering shared by console, file and email."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DIGEST_LINES = 20  # a digest lists this many alerts and counts the rest


@dataclass
class AlertMention:
    author: str | None
    followers: int | None
    text: str
    url: str | None
    label: str | None
    created_at: str
    source: str | None = None
    verified: bool = False
    complaints_before: int = 0  # this author's earlier complaints about the brand (repeat detractor)


@dataclass
class GroupedAlert:
    """One alert inside a digest (quiet hours, the hourly cap, or a group of several threads)."""

    level: str
    title: str
    risk: float
    brand: str | None
    source: str | None
    thread_key: str | None
    reasons: list[str]
    url: str | None
    queue_url: str | None
    created_at: str


@dataclass
class Alert:
    kind: str  # "thread", "spike", "sla", "health", or "digest" (several alerts in one message)
    rule: str
    level: str
    brand: str | None
    source: str | None
    thread_key: str | None
    title: str
    risk: float
    reasons: list[str]
    url: str | None
    queue_url: str | None
    mentions: list[AlertMention] = field(default_factory=list)
    created_at: str = ""
    queue_item_id: int | None = None  # the support-queue item, for Slack buttons
    # The queue item's facts shown in Slack (alerts.rules.build_alert): when the thread's first post was
    # made, who holds it, the SLA target that runs and when it is due, and the snooze the button gives.
    started_at: str | None = None
    assignee: str | None = None
    sla_target: str | None = None  # "first response" | "resolution"
    sla_due: str | None = None
    snooze_minutes: int | None = None
    previous_level: str | None = None  # set when a thread escalates past a level it alerted at
    grouped: list[GroupedAlert] = field(default_factory=list)  # kind "digest": what it summarises
    note: str = ""  # why this message looks the way it does ("held during quiet hours", ...)
    # kind "spike": what drove it (listener.topics.Explanation.to_dict(), plus "lines" as plain text)
    explanation: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        known = set(cls.__dataclass_fields__)
        data = {k: v for k, v in data.items() if k in known}
        mention_fields = set(AlertMention.__dataclass_fields__)
        data["mentions"] = [AlertMention(**{k: v for k, v in m.items() if k in mention_fields})
                            for m in data.get("mentions", [])]
        data["grouped"] = [GroupedAlert(**g) for g in data.get("grouped", [])]
        return cls(**data)

    def summary(self) -> GroupedAlert:
        """This alert as one line of a digest."""
        return GroupedAlert(level=self.level, title=self.title, risk=self.risk, brand=self.brand,
                            source=self.source, thread_key=self.thread_key, reasons=list(self.reasons[:3]),
                            url=self.url, queue_url=self.queue_url, created_at=self.created_at)

    def headline(self) -> str:
        """One line for subjects and notifications: level, brand, source and title (plain text)."""
        if self.kind == "digest":
            return self.title
        where = " on ".join(x for x in (self.brand, self.source) if x)
        escalated = f" (was {self.previous_level})" if self.previous_level else ""
        return f"{self.level.upper()}{escalated}{' · ' + where if where else ''}: {self.title}"

    def plain_text(self) -> str:
        """A readable plain-text rendering (console, file, email fallback)."""
        if self.kind == "digest":
            lines = [self.title]
            if self.note:
                lines.append(self.note)
            for g in self.grouped[:DIGEST_LINES]:
                lines.append(f"  [{g.level.upper()}] risk {g.risk:.0f} · {g.brand or ''} {g.source or ''}: "
                             f"{g.title}" + (f" — {g.reasons[0]}" if g.reasons else ""))
                if g.url or g.queue_url:
                    lines.append(f"      {g.url or ''} {g.queue_url or ''}".rstrip())
            if len(self.grouped) > DIGEST_LINES:
                lines.append(f"  …and {len(self.grouped) - DIGEST_LINES} more")
            return "\n".join(lines)
        escalated = f" (was {self.previous_level})" if self.previous_level else ""
        lines = [f"[{self.level.upper()}{escalated}] {self.title} — risk {self.risk:.0f}/100"]
        if self.note:
            lines.append(self.note)
        if self.reasons:
            lines.append("Why: " + "; ".join(self.reasons))
        if self.explanation.get("summary"):
            lines.append("Summary (written by a language model): " + self.explanation["summary"])
        if self.explanation.get("lines"):
            lines.append("What drove it:")
            lines.extend(f"  - {line}" for line in self.explanation["lines"])
        for m in self.mentions[:3]:
            who = f"@{m.author}" if m.author else "someone"
            reach = f" ({m.followers:,} {'members' if m.source == 'reddit' else 'followers'})" \
                if m.followers else ""
            if m.complaints_before:
                reach += f" [complained {m.complaints_before}x before]"
            snippet = m.text if len(m.text) <= 200 else m.text[:199] + "…"
            lines.append(f"  {who}{reach}: {snippet}")
        if self.url:
            lines.append(f"Link: {self.url}")
        if self.queue_url:
            lines.append(f"Queue: {self.queue_url}")
        return "\n".join(lines)
