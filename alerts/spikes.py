"""Spike alerts: a brand's negative volume or negative share jumps against its baseline.

The last hour is compared with the hourly rate over the previous 24 hours and with the same hour a
week ago (the larger of the two is the baseline, so a Monday-morning rush is not a spike). Minimum
counts keep small brands quiet: three negative mentions against a baseline of one is not news.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.message import Alert, AlertMention
from listener.config import Config, SpikeConfig
from listener.models import iso, utcnow
from listener.store import Store

NEGATIVE = "(label = 'negative' OR detractor = 1)"


@dataclass
class Window:
    mentions: int
    negative: int

    @property
    def share(self) -> float:
        return self.negative / self.mentions if self.mentions else 0.0


@dataclass
class Spike:
    brand: str
    level: str  # "warning" or "critical" (the lowest and highest configured levels)
    hour: Window
    day: Window  # the previous 24 hours
    last_week: Window  # the same hour a week ago
    baseline_rate: float  # negative mentions an hour the last hour is compared with
    reasons: list[str]


def _window(store: Store, brand: str, start: datetime, end: datetime) -> Window:
    total, negative = store.conn.execute(
        f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {NEGATIVE} THEN 1 ELSE 0 END), 0) FROM mentions "
        "WHERE brand = ? AND is_brand_account = 0 AND quarantined IS NULL AND created_at >= ? AND created_at < ?",
        (brand, iso(start), iso(end)),
    ).fetchone()
    return Window(int(total), int(negative))


def detect(store: Store, brand: str, cfg: SpikeConfig, levels: dict[str, float], now: datetime) -> Spike | None:
    """A spike for `brand` in the hour before `now`, or None. Pure reading; writes nothing."""
    hour = _window(store, brand, now - timedelta(hours=1), now)
    if hour.negative < cfg.min_negative:
        return None
    day = _window(store, brand, now - timedelta(hours=25), now - timedelta(hours=1))
    week = _window(store, brand, now - timedelta(days=7, hours=1), now - timedelta(days=7))
    baseline = max(1.0, day.negative / 24, float(week.negative))
    ratio = hour.negative / baseline
    reasons: list[str] = []
    volume = ratio >= cfg.ratio
    if volume:
        reasons.append(f"{hour.negative} negative mentions in the last hour vs {day.negative / 24:.1f} an hour "
                       f"over the previous 24 h ({ratio:.1f}×)")
        reasons.append(f"same hour last week: {week.negative} negative")
    base_share = day.share if day.mentions >= cfg.min_mentions else None
    share_rise = hour.mentions >= cfg.min_mentions and base_share is not None and \
        (hour.share - base_share) * 100 >= cfg.share_rise_points
    if share_rise:
        reasons.append(f"negative share {hour.share:.0%} of {hour.mentions} mentions vs {base_share:.0%} "
                       f"in the previous 24 h")
    if not (volume or share_rise):
        return None
    ordered = sorted(levels, key=lambda n: levels[n])
    level = ordered[-1] if ratio >= cfg.critical_ratio else ordered[0]
    return Spike(brand, level, hour, day, week, baseline, reasons)


def spike_alert(store: Store, spike: Spike, now: datetime, levels: dict[str, float],
                config: Config | None = None) -> Alert:
    """The alert for `spike`; with `config`, it says what drove it (listener.topics.explain) and, when
    [topics.summary] is on and the model answers in time, a written summary of that explanation."""
    hour_key = now.strftime("%Y-%m-%dT%H")
    rows = store.query(
        f"SELECT * FROM mentions WHERE brand = ? AND is_brand_account = 0 AND quarantined IS NULL AND {NEGATIVE} "
        "AND created_at >= ? AND created_at < ? ORDER BY compound, author_followers DESC LIMIT 3",
        (spike.brand, iso(now - timedelta(hours=1)), iso(now)),
    )
    mentions = [AlertMention(author=r["author"], followers=r["author_followers"], text=r["text"], url=r["url"],
                             label=r["label"], created_at=r["created_at"], source=r["source"]) for r in rows]
    explanation: dict = {}
    title = f"Negative spike for {spike.brand}: {spike.hour.negative} negative mentions in the last hour"
    if config is not None:
        from listener.summary import summarise
        from listener.topics import explain

        found = explain(config, store, spike.brand, now - timedelta(hours=1), now, negative_only=True)
        found.summary = summarise(config.topics.summary, found) or ""
        explanation = {**found.to_dict(), "lines": found.lines()}
        if found.headline():
            title += f", {found.headline()}"
    return Alert(
        kind="spike", rule="spike", level=spike.level, brand=spike.brand, source=None,
        thread_key=f"spike:{spike.brand}:{hour_key}",
        title=title, risk=levels.get(spike.level, 0.0), reasons=spike.reasons, url=None, queue_url=None,
        mentions=mentions, created_at=iso(now), explanation=explanation,
    )


def check_spikes(store: Store, config: Config, now: datetime | None = None) -> int:
    """Detect spikes for every own brand and route them like other system alerts; returns how many were written."""
    from alerts.rules import enqueue_system_alert

    cfg = config.alerts.spikes
    if not cfg.enabled or not config.alerts.levels:
        return 0
    now = now or utcnow()
    written = 0
    for brand in config.brand_names():
        spike = detect(store, brand, cfg, config.alerts.levels, now)
        if spike is not None:
            written += enqueue_system_alert(store, config, spike_alert(store, spike, now, config.alerts.levels, config),
                                            now)
    return written
