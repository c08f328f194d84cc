"""The alert record every channel renders, and plain-text rendering shared by console, file and email."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class AlertMention:
    author: str | None
    followers: int | None
    text: str
    url: str | None
    label: str | None
    created_at: str


@dataclass
class Alert:
    kind: str  # "thread" (later: "spike", "health", "sla")
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        data = dict(data)
        data["mentions"] = [AlertMention(**m) for m in data.get("mentions", [])]
        return cls(**data)

    def plain_text(self) -> str:
        """A readable plain-text rendering (console, file, email fallback)."""
        lines = [f"[{self.level.upper()}] {self.title} — risk {self.risk:.0f}/100"]
        if self.reasons:
            lines.append("Why: " + "; ".join(self.reasons))
        for m in self.mentions[:3]:
            who = f"@{m.author}" if m.author else "someone"
            reach = f" ({m.followers:,} followers)" if m.followers else ""
            snippet = m.text if len(m.text) <= 200 else m.text[:199] + "…"
            lines.append(f"  {who}{reach}: {snippet}")
        if self.url:
            lines.append(f"Link: {self.url}")
        if self.queue_url:
            lines.append(f"Queue: {self.queue_url}")
        return "\n".join(lines)
