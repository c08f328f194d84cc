"""Trend maths: pure aggregation of scored mentions and queue items into per-period figures.

Nothing here reads a database or a file. The store side (listener.trends) feeds plain records in.

Time: every instant is timezone-aware. Periods are cut in the reporting zone. The finest bucket is
the *local hour* (the hour on the reporting zone's clock, kept as the UTC instant it starts at), so a
local day is exactly the local hours whose local date is that day: 23 of them on the spring DST
change, 25 in the autumn, and zones with half-hour offsets still cut cleanly at local midnight.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

PERIODS = ("hour", "day", "week", "month")
LABELS = ("positive", "neutral", "negative", "unscored")


# ---------------------------------------------------------------- additive tallies
@dataclass
class Tally:
    """Additive figures of a group of mentions: sums of tallies are tallies of the union."""

    mentions: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    unscored: int = 0
    detractors: int = 0
    reach: int = 0
    compound_sum: float = 0.0
    compound_n: int = 0  # mentions with a compound from a model (unscored ones have none)

    def add_mention(self, label: str | None, compound: float | None, detractor: bool, reach: int | None) -> None:
        """Count one mention. A label no model gave (None, unknown) counts as unscored."""
        self.mentions += 1
        bucket = label if label in LABELS else "unscored"
        setattr(self, bucket, getattr(self, bucket) + 1)
        if bucket != "unscored" and compound is not None:
            self.compound_sum += compound
            self.compound_n += 1
        self.detractors += int(bool(detractor))
        self.reach += max(int(reach or 0), 0)

    def add(self, other: Tally) -> None:
        self.mentions += other.mentions
        self.positive += other.positive
        self.neutral += other.neutral
        self.negative += other.negative
        self.unscored += other.unscored
        self.detractors += other.detractors
        self.reach += other.reach
        self.compound_sum += other.compound_sum
        self.compound_n += other.compound_n

    @property
    def rated(self) -> int:
        """Mentions with a sentiment label (positive, neutral or negative)."""
        return self.positive + self.neutral + self.negative

    @property
    def mean_compound(self) -> float | None:
        return round(self.compound_sum / self.compound_n, 4) if self.compound_n else None

    @property
    def net_sentiment(self) -> float | None:
        """Positive share minus negative share of the rated mentions, in points (-100..100)."""
        return round(100.0 * (self.positive - self.negative) / self.rated, 1) if self.rated else None

    @property
    def negative_pct(self) -> float | None:
        return pct(self.negative, self.rated)


def pct(part: float, whole: float) -> float | None:
    """part / whole in percent, one decimal; None when there is no whole to share."""
    return round(100.0 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class MentionFacts:
    """What the trend maths needs of one stored mention."""

    created_at: datetime  # timezone-aware
    brand: str
    source: str
    lang: str
    label: str | None
    compound: float | None
    detractor: bool
    reach: int
    themes: tuple[str, ...] = ()
    author: str | None = None


ALL_THEMES = ""  # the theme key of the row that counts every mention, whatever its themes


def hourly_tallies(mentions: Iterable[MentionFacts], tz: ZoneInfo) -> dict[tuple[datetime, str, str, str, str], Tally]:
    """Tallies keyed by (local hour start as UTC, brand, source, language, theme).

    Each mention counts once under theme ALL_THEMES and once under each of its themes, so summing
    the ALL_THEMES rows gives true totals while theme rows overlap (a mention can have two themes).
    """
    out: dict[tuple[datetime, str, str, str, str], Tally] = {}
    for m in mentions:
        hour = hour_start(m.created_at, tz)
        for (brand, source, lang, theme), tally in key_tallies([m]).items():
            out.setdefault((hour, brand, source, lang, theme), Tally()).add(tally)
    return out


def key_tallies(mentions: Iterable[MentionFacts]) -> dict[tuple[str, str, str, str], Tally]:
    """Tallies keyed by (brand, source, language, theme) of mentions already known to share a period."""
    out: dict[tuple[str, str, str, str], Tally] = {}
    for m in mentions:
        for theme in (ALL_THEMES, *sorted({t for t in m.themes if t})):
            tally = out.get((m.brand, m.source, m.lang, theme))
            if tally is None:
                tally = out[(m.brand, m.source, m.lang, theme)] = Tally()
            tally.add_mention(m.label, m.compound, m.detractor, m.reach)
    return out


# ---------------------------------------------------------------- periods in the reporting zone
def hour_start(ts: datetime, tz: ZoneInfo) -> datetime:
    """The start of the local hour holding `ts`, as a UTC instant (DST-safe: fold is kept)."""
    local = ts.astimezone(tz)
    floored = local.replace(minute=0, second=0, microsecond=0)
    return floored.astimezone(UTC)


def period_start(ts: datetime, period: str, tz: ZoneInfo) -> datetime | date:
    """The local start of the period holding `ts`: an aware local datetime for hours, else a date."""
    local = ts.astimezone(tz)
    if period == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date()
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if period == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")


def next_period(start: datetime | date, period: str, tz: ZoneInfo) -> datetime | date:
    """The start of the period after the one starting at `start`."""
    if period == "hour":
        assert isinstance(start, datetime)
        return hour_start(start.astimezone(UTC) + timedelta(hours=1), tz).astimezone(tz)
    assert isinstance(start, date) and not isinstance(start, datetime)
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    if period == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    raise ValueError(f"unknown period {period!r}")


def period_bounds(start: datetime | date, period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a local period; a local day at a DST change is 23 or 25 hours."""
    end = next_period(start, period, tz)
    return _instant(start, tz), _instant(end, tz)


def _instant(value: datetime | date, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    # Local midnight; where a zone skips midnight itself, zoneinfo resolves to the instant after the gap.
    return datetime(value.year, value.month, value.day, tzinfo=tz).astimezone(UTC)


def periods_between(since: datetime, until: datetime, period: str, tz: ZoneInfo) -> list[datetime | date]:
    """Every local period that overlaps [since, until), oldest first, empty ones included."""
    out: list[datetime | date] = []
    start = period_start(since, period, tz)
    while _instant(start, tz) < until:
        out.append(start)
        start = next_period(start, period, tz)
    return out


def period_text(start: datetime | date) -> str:
    """ISO text of a period start: 2026-11-24 for days, weeks, months; 2026-11-24T09:00:00+00:00 for hours."""
    return start.isoformat()


def rollup_periods(rows: Iterable[tuple[datetime, tuple[str, ...], Tally]], period: str,
                   tz: ZoneInfo) -> dict[tuple[datetime | date, tuple[str, ...]], Tally]:
    """Sum hourly tallies (hour start UTC, key, tally) into local periods: {(period start, key): tally}."""
    out: dict[tuple[datetime | date, tuple[str, ...]], Tally] = {}
    for hour, key, tally in rows:
        out.setdefault((period_start(hour, period, tz), key), Tally()).add(tally)
    return out


# ---------------------------------------------------------------- share of voice
@dataclass(frozen=True)
class VoiceShare:
    brand: str
    mentions: int
    positive: int
    set_mentions: int
    set_positive: int

    @property
    def share_of_voice_pct(self) -> float | None:
        return pct(self.mentions, self.set_mentions)

    @property
    def positive_share_of_voice_pct(self) -> float | None:
        return pct(self.positive, self.set_positive)


def share_of_voice(members: Sequence[str], tallies: dict[str, Tally]) -> list[VoiceShare]:
    """Each member's mentions and positive mentions against the whole competitor set's."""
    set_mentions = sum(tallies[m].mentions for m in members if m in tallies)
    set_positive = sum(tallies[m].positive for m in members if m in tallies)
    empty = Tally()
    return [
        VoiceShare(m, tallies.get(m, empty).mentions, tallies.get(m, empty).positive, set_mentions, set_positive)
        for m in members
    ]


# ---------------------------------------------------------------- queue figures
@dataclass(frozen=True)
class QueueFacts:
    """What the queue figures need of one queue item (times aware; None when it has not happened)."""

    created_at: datetime
    brand: str
    state: str
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    recovery: str | None = None
    # when the SLA clock started (the customer's post by default); response times count from it
    started_at: datetime | None = None

    @property
    def clock_start(self) -> datetime:
        return self.started_at or self.created_at


@dataclass(frozen=True)
class QueueFigures:
    flagged_threads: int = 0
    dismissed: int = 0
    answered: int = 0
    unanswered: int = 0
    resolved: int = 0
    first_response_median_min: float | None = None
    first_response_p90_min: float | None = None
    resolution_median_min: float | None = None
    resolution_p90_min: float | None = None
    first_response_sla_pct: float | None = None
    resolution_sla_pct: float | None = None
    recovery_checked: int = 0
    recovered: int = 0
    recovered_pct: float | None = None


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def p90(values: Sequence[float]) -> float | None:
    """Nearest-rank 90th percentile: the smallest value at least 90% of the values are at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(math.ceil(0.9 * len(ordered)), 1) - 1], 1)


def _sla(items: Iterable[QueueFacts], done: str, due: str, now: datetime) -> float | None:
    """Share met of the items whose target is decided: done by the due time (met), done late or
    still open past it (missed). Items still inside their target are not counted yet."""
    met = missed = 0
    for item in items:
        due_at: datetime | None = getattr(item, due)
        done_at: datetime | None = getattr(item, done)
        if due_at is None:
            continue
        if done_at is not None:
            met, missed = (met + 1, missed) if done_at <= due_at else (met, missed + 1)
        elif now > due_at:
            missed += 1
    return pct(met, met + missed)


def queue_figures(items: Sequence[QueueFacts], now: datetime) -> QueueFigures:
    """Figures of the queue items flagged in one period; times are minutes from each item's clock start
    (the customer's post, or flagging for items counted from the queue)."""
    worked = [i for i in items if i.state != "dismissed"]
    answered = [i for i in worked if i.first_response_at is not None]
    resolved = [i for i in worked if i.resolved_at is not None]
    first = [(i.first_response_at - i.clock_start).total_seconds() / 60 for i in answered]  # type: ignore[operator]
    resolution = [(i.resolved_at - i.clock_start).total_seconds() / 60 for i in resolved]  # type: ignore[operator]
    # The queue watches a resolved item's author ("watching") until it can tell recovered from not.
    checked = [i for i in worked if i.recovery and i.recovery != "watching"]
    recovered = [i for i in checked if i.recovery == "recovered"]
    return QueueFigures(
        flagged_threads=len(items),
        dismissed=len(items) - len(worked),
        answered=len(answered),
        unanswered=len(worked) - len(answered),
        resolved=len(resolved),
        first_response_median_min=median(first),
        first_response_p90_min=p90(first),
        resolution_median_min=median(resolution),
        resolution_p90_min=p90(resolution),
        first_response_sla_pct=_sla(worked, "first_response_at", "first_response_due", now),
        resolution_sla_pct=_sla(worked, "resolved_at", "resolution_due", now),
        recovery_checked=len(checked),
        recovered=len(recovered),
        recovered_pct=pct(len(recovered), len(checked)),
    )


# ---------------------------------------------------------------- spikes
def find_spikes(values: Sequence[float], *, factor: float = 2.0, min_excess: float = 5.0,
                limit: int = 3) -> list[int]:
    """Indexes of the biggest spikes: at least `factor` × the series' median and `min_excess` above it.

    The median (not the mean) is the baseline so one huge day does not hide itself; the absolute
    floor keeps a brand with 1-2 mentions a day from "spiking" on 5.
    """
    if len(values) < 3:
        return []
    base = statistics.median(values)
    spikes = [i for i, v in enumerate(values) if v >= factor * base and v - base >= min_excess]
    spikes.sort(key=lambda i: values[i], reverse=True)
    return sorted(spikes[:limit])


# ---------------------------------------------------------------- reach: the audience that could see it
_SUBREDDIT_IN_URL = re.compile(r"/r/([A-Za-z0-9_]+)", re.IGNORECASE)


def audience_of(source: str, author: str | None, followers: int | None, *, community: str | None = None,
                url: str | None = None, thread: str | None = None, mention: str | None = None) -> str:
    """Who could see a mention, as one key per audience (prefixed with the source).

    On Reddit the number stored with a mention is the subreddit's member count, so the audience is
    the community (named in the payload, else in the link, else the thread): seven comments in one
    subreddit reach its members once. Elsewhere it is the author's followers: one author counted once.
    A mention with neither stands alone.
    """
    if source == "reddit":
        name = community or (m.group(1) if url and (m := _SUBREDDIT_IN_URL.search(url)) else None)
        if name:
            return f"reddit:r/{name.lower()}"
        if thread:
            return f"reddit:thread:{thread}"
    if author:
        return f"{source}:@{author}"
    return f"{source}:#{mention or ''}"


def audience_reach(audiences: Iterable[tuple[str, int | None]]) -> int:
    """Reach of a group of mentions: each distinct audience once, at the largest size seen for it."""
    largest: dict[str, int] = {}
    for key, size in audiences:
        size = max(int(size or 0), 0)
        if size > largest.get(key, -1):
            largest[key] = size
    return sum(largest.values())
