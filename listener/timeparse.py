"""Durations and times typed on the command line, one grammar for every command.

A duration is a number and a unit: `30m`, `90m`, `12h`, `1d`, `90d`, `1w`, `2w` (also `45s`, `1.5h`).
A time is ISO 8601: `2026-12-01`, `2026-12-01T09:00`, `2026-12-01 09:00`, `2026-12-01T09:00Z`,
`2026-12-01T09:00+01:00`. The one rule for time zones: a time without an offset (or Z) is in the
config's time zone (`[queue] timezone` for queue and alert commands, `[trends] timezone` for trends
and reports), a date alone is midnight there. The same rule as the web UI, where times show in that zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from listener.errors import UserError
from listener.quarantine import EARLIEST_POST

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|w|wk)s?\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "w": 7 * 86400,
            "wk": 7 * 86400}
DURATION_HELP = "30m, 12h, 1d, 90d, 2w"


def is_duration(text: str | None) -> bool:
    return bool(_DURATION.match(text or ""))


def parse_duration(text: str, option: str = "duration") -> timedelta:
    """'30m', '12h', '90d', '2w' -> timedelta; UserError naming the option and the accepted forms."""
    m = _DURATION.match(text or "")
    if not m or float(m.group(1)) <= 0:
        raise UserError(f"{option} {text!r} is not a duration; use a number and a unit (s, m, h, d or w), "
                        f"e.g. {DURATION_HELP}")
    try:
        return timedelta(seconds=float(m.group(1)) * _SECONDS[m.group(2).lower()])
    except OverflowError:
        raise UserError(f"{option} {text!r} is too long a duration") from None


def parse_time(text: str, tz_name: str = "UTC", option: str = "time") -> datetime:
    """An ISO date or date/time as UTC; without an offset it is local time in `tz_name`."""
    value = (text or "").strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{option} {text!r}: use a duration ({DURATION_HELP}) or a date/time such as "
                        f"2026-12-01 or 2026-12-01T09:00 (in {tz_name} unless it has an offset or Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz_name))
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last time Python can hold in UTC
        raise UserError(f"{option} {text!r} is out of range") from None


def parse_since(text: str, now: datetime, tz_name: str = "UTC", option: str = "--since") -> datetime:
    """A duration back from `now` ('14d') or a time (see parse_time)."""
    if is_duration(text):
        return _shift(now, -parse_duration(text, option), text, option)
    try:
        if datetime.fromisoformat((text or "").strip().removesuffix("Z").removesuffix("z")).year < 2006:
            # Nothing older is stored (listener.quarantine's post-time window), and year 1 overflows
            # east of UTC: an early date means "everything".
            return EARLIEST_POST
    except ValueError:
        pass  # parse_time names the accepted forms
    since = parse_time(text, tz_name, option)
    if since > now:
        raise UserError(f"{option} {text!r} is in the future")
    return since


def parse_until(text: str, now: datetime, tz_name: str = "UTC", option: str = "--until") -> datetime:
    """A duration ahead of `now` ('2h') or a time (see parse_time)."""
    if is_duration(text):
        return _shift(now, parse_duration(text, option), text, option)
    return parse_time(text, tz_name, option)


def _shift(now: datetime, delta: timedelta, text: str, option: str) -> datetime:
    try:
        return now + delta
    except OverflowError:
        raise UserError(f"{option} {text!r} reaches past the dates a calendar can hold") from None
