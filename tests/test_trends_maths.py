"""Trend maths (sentiment.trends), checked against figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sentiment.trends import (
    MentionFacts,
    QueueFacts,
    Tally,
    find_spikes,
    hour_start,
    hourly_tallies,
    median,
    p90,
    period_bounds,
    period_start,
    periods_between,
    queue_figures,
    rollup_periods,
    share_of_voice,
)

LONDON = ZoneInfo("Europe/London")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_tally_figures_by_hand() -> None:
    t = Tally()
    # 3 positive (0.6, 0.4, 0.2), 1 neutral (0.0), 2 negative (-0.5, -0.7), 1 unscored (no model)
    for label, compound in [("positive", 0.6), ("positive", 0.4), ("positive", 0.2), ("neutral", 0.0),
                            ("negative", -0.5), ("negative", -0.7), ("unscored", 0.0)]:
        t.add_mention(label, compound, label == "negative", 100)
    assert (t.mentions, t.positive, t.neutral, t.negative, t.unscored) == (7, 3, 1, 2, 1)
    # mean over the 6 rated: (0.6+0.4+0.2+0-0.5-0.7)/6 = 0
    assert t.mean_compound == 0.0
    # net: (3 - 2) / 6 rated = 16.7 points; the unscored mention is not in the base
    assert t.net_sentiment == 16.7
    assert t.detractors == 2 and t.reach == 700


def test_no_mentions_means_no_figure_not_zero() -> None:
    t = Tally()
    assert t.net_sentiment is None and t.mean_compound is None
    only_unscored = Tally()
    only_unscored.add_mention("unscored", None, False, 0)
    assert only_unscored.net_sentiment is None and only_unscored.unscored == 1


def test_spring_forward_day_has_23_hours_and_autumn_day_25() -> None:
    start, end = period_bounds(date(2026, 3, 29), "day", LONDON)
    assert (start, end) == (utc("2026-03-29T00:00"), utc("2026-03-29T23:00"))
    assert len(periods_between(start, end, "hour", LONDON)) == 23
    start, end = period_bounds(date(2026, 10, 25), "day", LONDON)
    assert (start, end) == (utc("2026-10-24T23:00"), utc("2026-10-26T00:00"))
    hours = periods_between(start, end, "hour", LONDON)
    assert len(hours) == 25
    # the repeated 01:00 appears twice, told apart by its offset
    texts = [h.isoformat() for h in hours]
    assert "2026-10-25T01:00:00+01:00" in texts and "2026-10-25T01:00:00+00:00" in texts


def test_local_day_of_a_mention_across_dst() -> None:
    assert period_start(utc("2026-03-29T23:30"), "day", LONDON) == date(2026, 3, 30)  # 00:30 BST
    assert period_start(utc("2026-03-28T23:30"), "day", LONDON) == date(2026, 3, 28)  # 23:30 GMT
    assert period_start(utc("2026-03-29T00:30"), "week", LONDON) == date(2026, 3, 23)  # ISO week starts Monday
    assert period_start(utc("2026-03-31T23:30"), "month", LONDON) == date(2026, 4, 1)


def test_half_hour_zone_hours_cut_at_local_midnight() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    # 18:45 UTC is 00:15 the next day in India: its local hour starts at 18:30 UTC
    assert hour_start(utc("2026-01-01T18:45"), kolkata) == utc("2026-01-01T18:30")
    tallies = hourly_tallies([
        MentionFacts(utc("2026-01-01T18:20"), "A", "x", "hi", "positive", 0.5, False, 1),
        MentionFacts(utc("2026-01-01T18:40"), "A", "x", "hi", "negative", -0.5, False, 1),
    ], kolkata)
    days = rollup_periods([(h, (b,), t) for (h, b, s, lang, theme), t in tallies.items() if theme == ""],
                          "day", kolkata)
    assert {d: t.mentions for (d, _), t in days.items()} == {date(2026, 1, 1): 1, date(2026, 1, 2): 1}


def test_theme_rows_overlap_but_totals_do_not() -> None:
    mentions = [
        MentionFacts(utc("2026-04-01T09:10"), "A", "x", "en", "negative", -0.6, True, 10, ("billing", "app")),
        MentionFacts(utc("2026-04-01T09:20"), "A", "x", "en", "positive", 0.6, False, 10, ("app",)),
    ]
    t = hourly_tallies(mentions, LONDON)
    hour = utc("2026-04-01T09:00")
    assert t[(hour, "A", "x", "en", "")].mentions == 2
    assert t[(hour, "A", "x", "en", "app")].mentions == 2
    assert t[(hour, "A", "x", "en", "billing")].negative == 1


def test_share_of_voice_with_a_brand_that_has_no_mentions() -> None:
    a, b = Tally(), Tally()
    for label in ("positive", "positive", "negative"):
        a.add_mention(label, 0.1, False, 0)
    b.add_mention("positive", 0.3, False, 0)
    shares = {s.brand: s for s in share_of_voice(["A", "B", "Ghost"], {"A": a, "B": b})}
    assert shares["A"].share_of_voice_pct == 75.0 and shares["B"].share_of_voice_pct == 25.0
    assert shares["A"].positive_share_of_voice_pct == 66.7
    assert shares["Ghost"].mentions == 0 and shares["Ghost"].share_of_voice_pct == 0.0
    nobody = share_of_voice(["A", "B"], {})
    assert all(s.share_of_voice_pct is None for s in nobody)  # nothing to share: no figure, not 0%


def test_median_and_nearest_rank_p90() -> None:
    assert median([30, 120, 10]) == 30 and p90([30, 120, 10]) == 120
    assert p90(list(range(10, 101, 10))) == 90
    assert median([120, 1440]) == 780 and p90([]) is None


def test_queue_figures_by_hand() -> None:
    def q(created: str, state: str = "resolved", first: str | None = None, resolved: str | None = None,
          first_due: str | None = None, res_due: str | None = None, recovery: str | None = None) -> QueueFacts:
        return QueueFacts(utc(created), "A", state, first and utc(first), resolved and utc(resolved),
                          first_due and utc(first_due), res_due and utc(res_due), recovery)

    items = [
        q("2026-04-01T09:00", first="2026-04-01T09:30", resolved="2026-04-01T11:00",
          first_due="2026-04-01T10:00", res_due="2026-04-01T17:00", recovery="recovered"),
        q("2026-04-01T10:00", first="2026-04-01T12:00", resolved="2026-04-02T10:00",
          first_due="2026-04-01T11:00", res_due="2026-04-01T18:00", recovery="still_unhappy"),
        q("2026-04-01T11:00", state="new", first_due="2026-04-01T12:00", res_due="2026-04-01T19:00"),
        q("2026-04-01T12:00", state="dismissed"),
        q("2026-04-01T13:00", state="replied", first="2026-04-01T13:10", first_due="2026-04-01T14:00",
          res_due="2026-04-10T13:00", recovery="watching"),
    ]
    f = queue_figures(items, now=utc("2026-04-03T00:00"))
    assert (f.flagged_threads, f.dismissed, f.answered, f.unanswered, f.resolved) == (5, 1, 3, 1, 2)
    assert (f.first_response_median_min, f.first_response_p90_min) == (30, 120)
    assert (f.resolution_median_min, f.resolution_p90_min) == (780, 1440)
    assert f.first_response_sla_pct == 50.0  # met: 1st and 5th; missed: 2nd (late), 3rd (open past due)
    assert f.resolution_sla_pct == 33.3  # met: 1st; missed: 2nd, 3rd; 5th not due yet
    assert (f.recovery_checked, f.recovered, f.recovered_pct) == (2, 1, 50.0)  # "watching" is not decided


def test_empty_queue_period() -> None:
    f = queue_figures([], now=utc("2026-04-03T00:00"))
    assert f.flagged_threads == 0 and f.first_response_median_min is None and f.first_response_sla_pct is None


def test_spikes_against_the_median() -> None:
    series = [3, 4, 2, 3, 15, 3, 4]
    assert find_spikes(series) == [4]
    assert find_spikes([1, 1, 4, 1, 1]) == []  # 4x the median but only 3 above it: not a spike
    assert find_spikes([0, 0]) == []


@pytest.mark.parametrize("period,count", [("day", 31), ("week", 5), ("month", 1), ("hour", 31 * 24)])
def test_periods_between_counts_empty_ones(period: str, count: int) -> None:
    utc_zone = ZoneInfo("UTC")
    since = utc("2026-12-01T00:00")
    assert len(periods_between(since, since + timedelta(days=31), period, utc_zone)) == count
