"""`--since` values: a duration back from now (90d, 12h, 6w) or a date/time (2026-09-01)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from listener.quarantine import EARLIEST_POST

_DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """'90d' -> 90 days; hours (h), days (d) and weeks (w). ValueError with the accepted forms."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration; use a number and h, d or w, e.g. 90d, 12h, 6w")
    return timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})


def parse_since(text: str, now: datetime, tz_name: str = "UTC") -> datetime:
    """A duration back from `now`, or an ISO date/time (a date is local midnight in `tz_name`)."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r}: use a duration (90d, 12h, 6w) or a date (2026-09-01)") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz_name))
    if value.year < 2006:
        return EARLIEST_POST  # nothing older is stored (listener.quarantine); year 1 overflows east of UTC
    if value.astimezone(UTC) > now:
        raise ValueError(f"{text!r} is in the future")
    return value.astimezone(UTC)


def up_to_now(now: datetime) -> datetime:
    """`now` rounded up to the whole second: the store keeps seconds, so an exclusive bound of
    02:39:08.5 must be 02:39:09 to include what was stored at 02:39:08."""
    return now if now.microsecond == 0 else now.replace(microsecond=0) + timedelta(seconds=1)
