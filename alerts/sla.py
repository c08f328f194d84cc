"""SLA clocks in business hours: which minutes count, in one time zone.

Targets are business minutes. A clock started at 17:30 on a Friday with 09:00-17:00 Mon-Fri and a
60-minute target is due at 10:00 on Monday. Daylight-saving changes are handled by doing the
arithmetic in local wall time, one business window at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from listener.config import QueueConfig

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_DAYS = 3 * 366  # a target never needs to look further ahead than this


@dataclass(frozen=True)
class BusinessHours:
    zone: ZoneInfo
    weekdays: frozenset[int]  # 0 = Monday
    start: time
    end: time | None  # None: midnight at the end of the day
    holidays: frozenset[date]

    @classmethod
    def from_config(cls, config: QueueConfig) -> BusinessHours:
        def parse(value: str) -> time | None:
            hh, mm = (int(x) for x in value.split(":"))
            return None if hh == 24 else time(hh, mm)

        return cls(
            zone=ZoneInfo(config.timezone),
            weekdays=frozenset(_DAYS.index(d) for d in config.business_days),
            start=parse(config.business_start) or time(0, 0),
            end=parse(config.business_end),
            holidays=frozenset(date.fromisoformat(d) for d in config.holidays),
        )

    @property
    def round_the_clock(self) -> bool:
        """Every minute counts (the default): no closed days, hours or holidays."""
        return len(self.weekdays) == 7 and self.start == time(0, 0) and self.end is None and not self.holidays

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The business window of a local calendar day, as aware datetimes; None on a closed day."""
        if day.weekday() not in self.weekdays or day in self.holidays:
            return None
        opens = datetime.combine(day, self.start, self.zone)
        closes = (datetime.combine(day + timedelta(days=1), time(0, 0), self.zone) if self.end is None
                  else datetime.combine(day, self.end, self.zone))
        return opens, closes

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` business minutes after `start` (UTC)."""
        remaining = timedelta(minutes=minutes)
        local = start.astimezone(self.zone)
        day = local.date()
        for _ in range(_MAX_DAYS):
            window = self._window(day)
            if window:
                opens, closes = window
                begin = max(opens, local)
                if begin < closes:
                    available = closes.astimezone(UTC) - begin.astimezone(UTC)
                    if remaining <= available:
                        return (begin.astimezone(UTC) + remaining)
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError("no business hours within three years; check [queue] business_days and holidays")

    def between(self, a: datetime, b: datetime) -> float:
        """Business minutes from `a` to `b` (negative when b is before a)."""
        if b < a:
            return -self.between(b, a)
        total = timedelta()
        day = a.astimezone(self.zone).date()
        last = b.astimezone(self.zone).date()
        while day <= last:
            window = self._window(day)
            if window:
                begin, end = max(window[0], a), min(window[1], b)
                if begin < end:
                    total += end.astimezone(UTC) - begin.astimezone(UTC)
            day += timedelta(days=1)
        return total.total_seconds() / 60
