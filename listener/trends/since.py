"""`--since` values for the trend code: the one grammar of listener.timeparse, with ValueError for
callers that validate config values (pydantic turns it into the config's one-line error)."""

from __future__ import annotations

from datetime import datetime, timedelta

from listener.errors import UserError
from listener.timeparse import parse_duration as _parse_duration
from listener.timeparse import parse_since as _parse_since


def parse_duration(text: str) -> timedelta:
    """'90d' -> 90 days (any unit listener.timeparse takes: s, m, h, d, w). ValueError with the accepted forms."""
    try:
        return _parse_duration(text, "duration")
    except UserError as exc:
        raise ValueError(str(exc).removeprefix("duration ")) from None


def parse_since(text: str, now: datetime, tz_name: str = "UTC") -> datetime:
    """A duration back from `now`, or an ISO date/time (a date is local midnight in `tz_name`)."""
    try:
        return _parse_since(text, now, tz_name, "--since")
    except UserError as exc:
        raise ValueError(str(exc)) from None


def up_to_now(now: datetime) -> datetime:
    """`now` rounded up to the whole second: the store keeps seconds, so an exclusive bound of
    02:39:08.5 must be 02:39:09 to include what was stored at 02:39:08."""
    return now if now.microsecond == 0 else now.replace(microsecond=0) + timedelta(seconds=1)
