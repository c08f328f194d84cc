"""What the platform repliers share: reading a mention row, counting text as the platforms do, and the
outcome of a post whose answer never came back.
"""

from __future__ import annotations

import json
from typing import Any

import regex

from alerts.replies import base
from alerts.replies.base import ReplyRefused

# A URL as Mastodon's and Bluesky's composers see one: a scheme, then anything up to a space; trailing
# punctuation belongs to the sentence ("see https://example.com/help."), as twitter-text decides too.
URL = regex.compile(r"https?://[^\s<>\"]+")
_TRAILING = ".,:;!?'\")]}"


def row_json(mention: dict[str, Any], column: str) -> Any:
    """A JSON column of a mentions row (raw, metrics), whether the caller decoded it or not."""
    value = mention.get(column)
    if isinstance(value, (bytes, str)):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def graphemes(text: str) -> int:
    """User-perceived characters: a flag, a family emoji or e + combining accent count once."""
    return len(regex.findall(r"\X", text))


def urls(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of each link in `text`, sentence punctuation after it left out."""
    out = []
    for m in URL.finditer(text):
        url = m.group(0).rstrip(_TRAILING)
        if len(url) > len("https://"):
            out.append((m.start(), m.start() + len(url), url))
    return out


def uncertain(platform: str, exc: BaseException) -> Exception:
    """The request went out and no answer came: the reply may be up. Never retried on its own.

    Uses `ReplyUncertain` where the reply action defines it, so it can show "may have been posted".
    """
    reason = (f"{platform} did not answer ({type(exc).__name__}); the reply may have been posted: "
              "check the thread before retrying")
    cls = getattr(base, "ReplyUncertain", None)
    return cls(reason) if cls is not None else ReplyRefused(reason, "unavailable")


def missing_credentials(exc: Exception) -> ReplyRefused:
    """A ConfigError about a secret, as a refusal the queue shows (the line names the key and variable)."""
    return ReplyRefused(str(exc), "auth")
