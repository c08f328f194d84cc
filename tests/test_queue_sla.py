"""SLA clocks in business hours and time zones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.sla import BusinessHours
from listener.config import QueueConfig

OFFICE = QueueConfig(timezone="Europe/London", business_days=["mon", "tue", "wed", "thu", "fri"],
                     business_start="09:00", business_end="17:00", holidays=["2026-12-25"])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_friday_evening_item_is_due_on_monday_morning():
    hours = BusinessHours.from_config(OFFICE)
    assert hours.add(utc(2026, 11, 27, 17, 30), 60) == utc(2026, 11, 30, 10, 0)


def test_time_inside_hours_counts_minute_for_minute_and_between_agrees():
    hours = BusinessHours.from_config(OFFICE)
    start = utc(2026, 11, 24, 16, 0)  # Tuesday 16:00 London (GMT)
    due = hours.add(start, 4 * 60)  # 1 h today, 3 h tomorrow
    assert due == utc(2026, 11, 25, 12, 0)
    assert hours.between(start, due) == 240


def test_holidays_stop_the_clock():
    hours = BusinessHours.from_config(OFFICE)
    assert hours.add(utc(2026, 12, 24, 16, 30), 60) == utc(2026, 12, 28, 9, 30)  # Fri 25th is a holiday


def test_summer_time_uses_local_office_hours():
    hours = BusinessHours.from_config(OFFICE)
    # 1 July: London is UTC+1, so 09:00 local opens at 08:00 UTC
    assert hours.add(utc(2026, 7, 1, 6, 0), 30) == utc(2026, 7, 1, 8, 30)


def test_round_the_clock_is_the_default():
    hours = BusinessHours.from_config(QueueConfig())
    assert hours.add(utc(2026, 11, 28, 23, 0), 120) == utc(2026, 11, 29, 1, 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"business_start": "9am"}, "is not a time of day"),
    ({"business_start": "18:00", "business_end": "09:00"}, "must be before business_end"),
    ({"holidays": ["25/12/2026"]}, "is not a date"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"sla": {"urgent": {"first_response_minutes": 5, "resolution_minutes": 10}}}, "unknown priority 'urgent'"),
])
def test_bad_queue_config_is_one_clear_line(tmp_path, kwargs, message):
    from listener.config import config_from_dict
    from listener.errors import ConfigError

    raw = {"brands": [{"name": "B", "keywords": ["b"]}], "queue": kwargs}
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw, tmp_path / "overheard.toml")
    assert message in str(err.value) and str(err.value).startswith("overheard.toml: queue")
