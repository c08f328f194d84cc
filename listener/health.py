"""Source health and backoff: what the daemon remembers about each source between runs.

A source is `ok`, `failing` (N failed runs in a row), `auth` (credentials refused: 401/403) or
`quiet` (far fewer new mentions than usual). Entering a bad state raises one health alert through the
alert rules (`kind = "health"`); getting better raises a `resolved` alert about the same incident, so
a receiver that edits messages (Slack) updates the one it sent. The state, the backoff and the alert
are written in one transaction: a crash never loses an alert nor sends one twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alerts.message import Alert
from alerts.rules import enqueue_system_alert
from listener.config import Config, DaemonConfig
from listener.errors import SourceError
from listener.logs import event
from listener.masking import mask
from listener.models import iso, parse_iso, utcnow
from listener.store import Store

log = logging.getLogger("overheard.health")
HEALTH_RULE = "source-health"
BAD_STATES = ("failing", "auth", "quiet")


@dataclass
class SourceHealth:
    source: str
    state: str = "ok"
    consecutive_failures: int = 0
    backoff_until: str | None = None
    last_error: str | None = None
    last_success_at: str | None = None
    last_failure_at: str | None = None
    state_since: str | None = None
    incident: int = 0

    @classmethod
    def load(cls, store: Store, source: str) -> SourceHealth:
        rows = store.query("SELECT * FROM source_health WHERE source = ?", (source,))
        if not rows:
            return cls(source)
        row = rows[0]
        row.pop("updated_at", None)
        return cls(**row)

    def save(self, store: Store, now: datetime) -> None:
        store.conn.execute(
            "INSERT INTO source_health (source, state, consecutive_failures, backoff_until, last_error, "
            "last_success_at, last_failure_at, state_since, incident, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (source) DO UPDATE SET state = excluded.state, "
            "consecutive_failures = excluded.consecutive_failures, backoff_until = excluded.backoff_until, "
            "last_error = excluded.last_error, last_success_at = excluded.last_success_at, "
            "last_failure_at = excluded.last_failure_at, state_since = excluded.state_since, "
            "incident = excluded.incident, updated_at = excluded.updated_at",
            (self.source, self.state, self.consecutive_failures, self.backoff_until, self.last_error,
             self.last_success_at, self.last_failure_at, self.state_since, self.incident, iso(now)),
        )

    def backoff_left(self, now: datetime) -> float:
        """Seconds until this source may be asked again (0 when it may be asked now)."""
        if not self.backoff_until:
            return 0.0
        return max(0.0, (parse_iso(self.backoff_until) - now).total_seconds())


def backoff_seconds(daemon: DaemonConfig, failures: int, retry_after: float | None, auth: bool) -> float:
    """How long to leave a source alone after `failures` failed runs in a row.

    The source's own Retry-After wins when it gave one; refused credentials wait the longest, but are
    still retried, so fixing them (or a provider's glitch passing) heals the source by itself.
    """
    if auth:
        return daemon.backoff_max_seconds
    exponential = min(daemon.backoff_max_seconds, daemon.backoff_base_seconds * 2 ** max(0, failures - 1))
    return float(retry_after) if retry_after is not None and retry_after > 0 else exponential


def scope_backoff_left(store: Store, source: str, scope: str, now: datetime) -> float:
    """Seconds until one rate-limit scope of a source (a feed's host, an instance) may be asked again."""
    if not scope:
        return 0.0
    until = store.scalar("SELECT backoff_until FROM source_backoff WHERE source = ? AND scope = ?", (source, scope))
    return max(0.0, (parse_iso(until) - now).total_seconds()) if until else 0.0


def record_failure(store: Store, config: Config, source: str, error: BaseException,
                   now: datetime | None = None, scope: str = "") -> SourceHealth:
    """A run of `source` failed: count it, back off (the whole source, or only the query's rate-limit
    `scope` when the source reads many hosts), and alert when the source turns unhealthy."""
    now = now or utcnow()
    daemon = config.daemon
    auth = isinstance(error, SourceError) and error.auth
    retry_after = error.retry_after if isinstance(error, SourceError) else None
    with store.transaction():
        health = SourceHealth.load(store, source)
        health.consecutive_failures += 1
        health.last_error = mask(str(error))[:500]
        health.last_failure_at = iso(now)
        until = now + timedelta(seconds=backoff_seconds(daemon, health.consecutive_failures, retry_after, auth))
        stamp = iso(until + timedelta(microseconds=999_999))  # rounded up: never ask early
        if scope:
            store.conn.execute(
                "INSERT INTO source_backoff (source, scope, backoff_until) VALUES (?, ?, ?) "
                "ON CONFLICT (source, scope) DO UPDATE SET backoff_until = excluded.backoff_until",
                (source, scope, stamp))
        else:
            health.backoff_until = stamp
        new_state = None
        if auth and health.state != "auth":
            new_state = "auth"
        elif health.state in ("ok", "quiet") and health.consecutive_failures >= daemon.failures_before_alert:
            new_state = "failing"
        if new_state:
            if health.state == "ok":
                health.incident += 1  # a new incident; failing → auth stays the same incident, louder
            health.state, health.state_since = new_state, iso(now)
            _raise(store, config, health, now)
        health.save(store, now)
    return health


def record_success(store: Store, config: Config, source: str, now: datetime | None = None,
                   scope: str = "") -> SourceHealth:
    """A run of `source` worked: clear the backoff; a failing source recovers (and says so)."""
    now = now or utcnow()
    with store.transaction():
        if scope:
            store.conn.execute("DELETE FROM source_backoff WHERE source = ? AND scope = ?", (source, scope))
        health = SourceHealth.load(store, source)
        health.consecutive_failures = 0
        health.backoff_until = None
        health.last_success_at = iso(now)
        if health.state in ("failing", "auth"):
            _recover(store, config, health, now)
        quiet = is_quiet(store, config.daemon, source, now, health.state == "quiet")
        if quiet is not None and health.state == "ok":
            health.incident += 1
            health.state, health.state_since, health.last_error = "quiet", iso(now), quiet
            _raise(store, config, health, now)
        elif quiet is None and health.state == "quiet":
            _recover(store, config, health, now)
        health.save(store, now)
    return health


def is_quiet(store: Store, daemon: DaemonConfig, source: str, now: datetime,
             currently_quiet: bool = False) -> str | None:
    """Why `source` counts as gone quiet, or None when its recent volume is normal (or too new to say)."""
    window = timedelta(hours=daemon.quiet_window_hours)
    first = store.scalar("SELECT MIN(started_at) FROM runs WHERE source = ?", (source,))
    if first is None:
        return None
    recent_start = now - window
    baseline_start = max(parse_iso(first), recent_start - timedelta(days=daemon.quiet_baseline_days))
    baseline_span = (recent_start - baseline_start).total_seconds()
    if baseline_span < window.total_seconds():
        return None  # not enough history to know what normal is
    baseline_new = store.scalar(
        "SELECT COALESCE(SUM(new), 0) FROM runs WHERE source = ? AND started_at >= ? AND started_at < ?",
        (source, iso(baseline_start), iso(recent_start)),
    )
    expected = baseline_new * window.total_seconds() / baseline_span
    if expected < max(daemon.quiet_min_expected, 1e-9):
        return None
    recent = store.scalar(
        "SELECT COALESCE(SUM(new), 0) FROM runs WHERE source = ? AND started_at >= ?", (source, iso(recent_start))
    )
    # Recovering needs twice the alerting threshold, so a source hovering at the line does not flap.
    threshold = daemon.quiet_ratio * expected * (2 if currently_quiet else 1)
    if recent < threshold:
        return (f"{recent} new mentions in the last {daemon.quiet_window_hours:g} h; "
                f"usually about {expected:.0f}")
    return None


def _raise(store: Store, config: Config, health: SourceHealth, now: datetime) -> None:
    what = {
        "failing": f"{health.consecutive_failures} runs in a row failed",
        "auth": "credentials were refused (401/403); check the source's *_env secrets",
        "quiet": "gone quiet, far below its usual volume",
    }[health.state]
    level = "critical" if health.state == "auth" else "warning"
    _enqueue(store, config, health, level, f"Source {health.source}: {what}", now)


def _recover(store: Store, config: Config, health: SourceHealth, now: datetime) -> None:
    was = health.state
    health.state, health.state_since, health.last_error = "ok", iso(now), None
    _enqueue(store, config, health, "resolved", f"Source {health.source} recovered (was {was})", now)


def _enqueue(store: Store, config: Config, health: SourceHealth, level: str, title: str, now: datetime) -> None:
    reasons = [r for r in (health.last_error,) if r]
    alert = Alert(kind="health", rule=HEALTH_RULE, level=level, brand=None, source=health.source,
                  thread_key=incident_key(health.source, health.incident), title=title, risk=0.0,
                  reasons=reasons, url=None, queue_url=None, created_at=iso(now))
    queued = enqueue_system_alert(store, config, alert)
    event(log, "health", logging.WARNING if level != "resolved" else logging.INFO, source=health.source,
          state=health.state, alert_level=level, incident=health.incident, alerts_queued=queued, reason=title)


def incident_key(source: str, incident: int) -> str:
    """The thread key of a health incident: one per source and incident, so each alerts once."""
    return f"health:{source}:{incident}"


def all_health(store: Store) -> dict[str, dict[str, Any]]:
    return {r["source"]: r for r in store.query("SELECT * FROM source_health ORDER BY source")}
