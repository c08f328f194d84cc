"""Backtest: replay stored history through the current rules and report what would have fired.

The stored mentions (with their scores) are replayed into a scratch database in time steps; at each
step the thread rollup, the rules, noise control and a recording stand-in for every receiver run
with the clock set to that step. Nothing is sent and the real outbox is never written, so a team
can tune rules, levels and noise settings before switching them on.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.channels.base import Channel, ChannelConfig
from alerts.message import Alert
from alerts.outbox import deliver_pending
from alerts.rules import evaluate_pending
from listener.config import Config
from listener.errors import UserError
from listener.models import iso, parse_iso, utcnow
from listener.store import Store
from listener.threads import rollup_dirty

MENTION_COLUMNS = (
    "source", "native_id", "brand", "url", "author", "author_id", "author_followers", "author_verified", "text",
    "title", "stars", "source_lang", "created_at", "collected_at", "thread_key", "parent_id", "engagement",
    "metrics", "is_brand_account", "lang", "label", "compound", "confidence", "themes", "detractor", "scored_at",
)


@dataclass
class FiredAlert:
    """One message a receiver would have got."""

    at: datetime
    receiver: str
    rule: str
    kind: str
    level: str
    title: str
    risk: float
    reasons: list[str]
    thread_key: str | None
    update: bool  # an update of an earlier message about the same thread (Slack bot: chat.update)
    alerts: int = 1  # a digest carries several


@dataclass
class BacktestResult:
    since: datetime
    until: datetime
    step: timedelta
    mentions_replayed: int
    fired: list[FiredAlert] = field(default_factory=list)

    def per_rule_receiver(self) -> list[tuple[str, str, int, int, datetime, datetime]]:
        """(rule, receiver, messages, alerts, first, last), busiest first."""
        groups: dict[tuple[str, str], list[FiredAlert]] = {}
        for f in self.fired:
            groups.setdefault((f.rule, f.receiver), []).append(f)
        rows = [(rule, rec, len(fs), sum(f.alerts for f in fs), min(f.at for f in fs), max(f.at for f in fs))
                for (rule, rec), fs in groups.items()]
        return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))

    def busiest_hour(self) -> tuple[str, int] | None:
        """The receiver-hour with the most messages: what a channel would feel at its worst."""
        counts = Counter((f.receiver, f.at.strftime("%Y-%m-%d %H:00")) for f in self.fired)
        if not counts:
            return None
        (receiver, hour), n = counts.most_common(1)[0]
        return f"{receiver} at {hour} UTC", n


class _Recorder(Channel):
    """Stands in for a receiver: keeps its noise settings (quiet hours, cap), records, sends nothing."""

    def __init__(self, config: ChannelConfig, result: BacktestResult, clock: list[datetime]) -> None:
        super().__init__(config, None)
        self.result = result
        self.clock = clock

    def send(self, alert: Alert, idem_key: str, previous_ref: str | None = None) -> str | None:
        self.result.fired.append(FiredAlert(
            at=self.clock[0], receiver=self.name, rule=alert.rule, kind=alert.kind, level=alert.level,
            title=alert.title, risk=alert.risk, reasons=list(alert.reasons), thread_key=alert.thread_key,
            update=previous_ref is not None, alerts=max(1, len(alert.grouped)),
        ))
        return previous_ref or f"backtest:{len(self.result.fired)}"


def _copy_mentions(source: Store, target: Store, start: str | None, end: str) -> int:
    where = "scored_at IS NOT NULL AND created_at < ?" + (" AND created_at >= ?" if start else "")
    params: tuple[Any, ...] = (end, start) if start else (end,)
    rows = source.query(f"SELECT {', '.join(MENTION_COLUMNS)} FROM mentions WHERE {where} ORDER BY created_at, id",
                        params)
    if not rows:
        return 0
    now = iso(utcnow())
    with target.transaction() as conn:
        conn.executemany(
            f"INSERT OR IGNORE INTO mentions ({', '.join(MENTION_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in MENTION_COLUMNS)})",
            [tuple(r[c] for c in MENTION_COLUMNS) for r in rows],
        )
        for r in rows:
            conn.execute(
                "INSERT INTO threads (thread_key, source, brand, url, title, first_at, last_at, updated_at, dirty) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (thread_key) DO UPDATE SET dirty = 1, "
                "brand = COALESCE(threads.brand, excluded.brand), title = COALESCE(threads.title, excluded.title)",
                (r["thread_key"], r["source"], r["brand"], r["url"], r["title"], r["created_at"], r["created_at"], now),
            )
    return len(rows)


def run_backtest(config: Config, store: Store, since: datetime, until: datetime | None = None,
                 step: timedelta = timedelta(minutes=15)) -> BacktestResult:
    """Replay mentions created from `since` to `until` (default now) through the current rules."""
    until = until or utcnow()
    if since >= until:
        raise UserError(f"--since {iso(since)} is not before --until {iso(until)}")
    if step < timedelta(minutes=1):
        raise UserError("--step must be at least 1m")
    result = BacktestResult(since=since, until=until, step=step, mentions_replayed=0)
    clock = [since]
    recorders: dict[str, Channel] = {
        r.name: _Recorder(r, result, clock) for r in config.receivers if getattr(r, "enabled", True)
    }
    with tempfile.TemporaryDirectory(prefix="overheard-backtest-") as tmp:
        sim = Store(Path(tmp) / "backtest.db")
        try:
            # Silences as they were stored (each applies during its own time range).
            silences = store.query("SELECT * FROM silences")
            if silences:  # plain SQL rather than sqlite-utils: the scratch store may be on PostgreSQL too
                columns = list(silences[0])
                with sim.transaction() as conn:
                    conn.executemany(f"INSERT INTO silences ({', '.join(columns)}) "
                                     f"VALUES ({', '.join('?' for _ in columns)})",
                                     [tuple(s[c] for c in columns) for s in silences])
            # History before the window gives context (repeat detractors, threads already running) but
            # does not alert: the team already knows about it.
            history_start = iso(since - timedelta(days=config.risk.repeat_window_days))
            _copy_mentions(store, sim, history_start, iso(since))
            rollup_dirty(sim, config, since)
            sim.conn.execute("UPDATE threads SET alert_pending = 0")
            t = since
            while t < until:
                nxt = min(until, t + step)
                clock[0] = nxt
                result.mentions_replayed += _copy_mentions(store, sim, iso(t), iso(nxt))
                rollup_dirty(sim, config, nxt)
                evaluate_pending(sim, config, nxt)
                deliver_pending(sim, recorders, nxt)
                t = nxt
            # Holds that end after the window (quiet hours, group waits) are reported when they would go.
            pending_until = sim.scalar("SELECT MAX(next_attempt_at) FROM outbox WHERE delivered_at IS NULL "
                                       "AND attempts = 0")
            if pending_until:
                clock[0] = max(until, parse_iso(pending_until))
                deliver_pending(sim, recorders, clock[0])
        finally:
            sim.close()
    result.fired.sort(key=lambda f: f.at)
    return result
