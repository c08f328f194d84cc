"""Records that flow between stages. Sources produce Mentions; the store keeps them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from listener.language_tags import language_code


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """UTC ISO-8601 with seconds, the one timestamp format in the store: 2026-11-24T09:30:00Z."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass
class Mention:
    """One post, comment or review that mentions a tracked brand, as a source delivers it."""

    source: str
    native_id: str
    text: str
    created_at: datetime
    brand: str | None = None
    url: str | None = None
    author: str | None = None  # handle / username as shown to people
    author_id: str | None = None
    author_followers: int | None = None  # reach of the author (followers, subreddit size, ...)
    author_verified: bool = False
    lang: str | None = None  # the source's own language tag, as one code list (listener.language_tags)
    thread_id: str | None = None  # native id of the conversation/submission/story; None: its own thread
    parent_id: str | None = None  # native id of what it replies to
    engagement: int = 0  # likes + replies + reposts + quotes (or score + comments)
    metrics: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    stars: int | None = None  # reviews: 1..5
    is_brand_account: bool = False  # posted by the brand's own account (a reply from the brand)
    raw: Any = None  # the payload as the source sent it

    def __post_init__(self) -> None:
        # Every source's tags in one code list, whichever source (or stream) built the mention.
        self.lang = language_code(self.lang)

    @property
    def thread_key(self) -> str:
        return f"{self.source}:{self.thread_id or self.native_id}"


@dataclass
class Quarantined:
    """An item a source could not turn into a Mention: kept with where it came from and why."""

    source: str
    location: str  # file:line, URL + item id, ...
    reason: str
    raw: str = ""


@dataclass
class Batch:
    """What one fetch produced. Stored in one transaction together with `cursor`."""

    mentions: list[Mention] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    cursor: str | None = None  # the position to resume from after this batch; None: unchanged
