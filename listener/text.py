"""Incoming text hygiene, shared by every source: one place decides what is too odd to keep."""

from __future__ import annotations

import re
import unicodedata

MAX_TEXT_CHARS = 50_000  # longer than any real post or review; beyond it an item is quarantined
# C0/C1 control characters except tab and newline; also lone surrogates that cannot be encoded.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class BadText(ValueError):
    """The text cannot be kept as it is; the message says why (used as the quarantine reason)."""


def clean_text(value: object, *, field: str = "text") -> str:
    """NFC-normalised text without control characters; BadText when missing, empty or too long."""
    if value is None:
        raise BadText(f"{field} is missing")
    if not isinstance(value, str):
        raise BadText(f"{field} is {type(value).__name__}, not text")
    if len(value) > MAX_TEXT_CHARS:
        raise BadText(f"{field} is {len(value)} characters; the limit is {MAX_TEXT_CHARS}")
    text = _CONTROL.sub("", unicodedata.normalize("NFC", value)).strip()
    if not text:
        raise BadText(f"{field} is empty")
    return text
