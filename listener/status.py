"""What `overheard status` shows: the daemon, each source, the queue and the outbox, read from the store.

It runs in its own process while the daemon runs: everything comes from tables the daemon writes
(daemon_jobs, source_health, runs, outbox, queue_items, and leases for the workers), never from the
daemon's memory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.outbox import MAX_ATTEMPTS
from alerts.queue import OPEN_STATES
from listener.config import Config
from listener.daemonlock import daemon_pid
from listener.leases import WORKER_LEASE, dead_here, holder_parts
from listener.masking import mask
from listener.models import iso, parse_iso, utcnow
from listener.sla import SlaBreach, sla_breaches
from listener.store import Store


@dataclass
class SourceStatus:
    source: str
    enabled: bool
    state: str  # ok | failing | auth | quiet | never run
    last_success_at: str | None
    last_run_at: str | None
    next_run_at: str | None
    backoff_until: str | None
    consecutive_failures: int
    last_error: str | None
    runs_24h: int
    fetched_24h: int
    new_24h: int
    duplicates_24h: int
    quarantined_24h: int
    errors_24h: int


STREAM_DOWN_AFTER = timedelta(minutes=5)


@dataclass
class StreamStatus:
    """One stream connection as the daemon last wrote it (state, since when, last event, lag, reconnects)."""

    stream: str
    source: str
    state: str  # connecting | connected | backoff | stopped
    connected_since: str | None
    last_event_at: str | None
    lag_seconds: float | None
    events: int
    mentions: int
    reconnects: int
    errors: int
    last_error: str | None
    last_error_at: str | None
    retry_at: str | None
    updated_at: str | None


# A worker whose lease ran out (killed, its machine gone, hung) is shown this long after, then left out.
WORKER_SHOWN_AFTER_EXPIRY = timedelta(hours=24)


@dataclass
class WorkerStatus:
    """One `overheard run` worker on this store, as its leases say (docs/running.md#several-workers)."""

    worker: str  # the holder id, host:pid:nonce
    host: str
    pid: int | None
    state: str  # live | expired (its lease ran out: it died or hung) | gone (on this host, its pid is gone)
    started_at: str | None  # when it took its `worker:` lease (None: a one-off pass, no worker lease)
    renewed_at: str | None  # its heartbeat's last renewal of its leases
    expires_at: str | None  # its `worker:` lease runs out then unless renewed
    leases: list[str] = field(default_factory=list)  # what it holds now (besides itself)
    expired_leases: list[str] = field(default_factory=list)  # held, but run out: free for another worker


def read_workers(store: Store, now: datetime) -> list[WorkerStatus]:
    """Every worker with a `worker:` lease (live, or run out within WORKER_SHOWN_AFTER_EXPIRY), and every
    other holder of a lease (a one-off pass: `run --once`, `process`), oldest first."""
    stamp, shown_from = iso(now), iso(now - WORKER_SHOWN_AFTER_EXPIRY)
    rows = store.query("SELECT name, holder, acquired_at, expires_at, renewed_at FROM leases "
                       "ORDER BY acquired_at, name")
    workers: dict[str, WorkerStatus] = {}
    for r in rows:
        if r["name"].startswith(WORKER_LEASE) and r["name"][len(WORKER_LEASE):] == r["holder"]:
            if r["expires_at"] <= shown_from:
                continue
            host, pid = holder_parts(r["holder"])
            state = "live" if r["expires_at"] > stamp else "expired"
            if state == "live" and dead_here(r["holder"]):
                state = "gone"
            workers[r["holder"]] = WorkerStatus(r["holder"], host, pid, state, r["acquired_at"], r["renewed_at"],
                                                r["expires_at"])
    for r in rows:
        if r["name"].startswith(WORKER_LEASE):
            continue
        w = workers.get(r["holder"])
        if w is None:
            if r["expires_at"] <= stamp:
                continue  # a run-out lease of a worker no longer shown, or of a one-off pass
            host, pid = holder_parts(r["holder"])
            w = workers[r["holder"]] = WorkerStatus(r["holder"], host, pid, "gone" if dead_here(r["holder"])
                                                    else "live", None, r["renewed_at"], None)
        (w.leases if r["expires_at"] > stamp else w.expired_leases).append(r["name"])
        if r["renewed_at"] and (w.renewed_at is None or r["renewed_at"] > w.renewed_at):
            w.renewed_at = r["renewed_at"]
    return list(workers.values())


@dataclass
class Status:
    now: str
    daemon_running: bool
    daemon_pid: int | None
    daemon_started_at: str | None
    daemon_stopped_at: str | None
    sources: list[SourceStatus]
    mentions: int
    queue_open: int
    queue_by_state: dict[str, int]
    sla_breaches: list[SlaBreach]
    outbox_pending: int
    outbox_retrying: int
    outbox_gave_up: int
    outbox_oldest_pending_at: str | None
    jobs: list[dict[str, Any]] = field(default_factory=list)
    streams: list[StreamStatus] = field(default_factory=list)
    workers: list[WorkerStatus] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def healthy(self) -> bool:
        """Every source ok, every stream connected (or only briefly away), nothing given up on, no SLA breached."""
        return (all(s.state in ("ok", "never run") or not s.enabled for s in self.sources)
                and not self.streams_down and not self.outbox_gave_up and not self.sla_breaches)

    @property
    def streams_down(self) -> list[StreamStatus]:
        """Streams waiting to reconnect after a failure, with no event for STREAM_DOWN_AFTER: a blip while
        a stream reconnects is not worth a page; a stream that stays away is a source that stopped."""
        now = parse_iso(self.now)
        return [x for x in self.streams if x.state == "backoff" and x.errors
                and (x.last_event_at is None or now - parse_iso(x.last_event_at) > STREAM_DOWN_AFTER)]


def read_status(store: Store, config: Config, now: datetime | None = None) -> Status:
    """Collect the status from the store (safe to call while the daemon runs)."""
    now = now or utcnow()
    since = iso(now - timedelta(hours=24))
    pid = daemon_pid(config)
    state = (store.query("SELECT * FROM daemon_state WHERE id = 1") or [{}])[0]
    health = {r["source"]: r for r in store.query("SELECT * FROM source_health")}
    jobs = store.query("SELECT * FROM daemon_jobs ORDER BY job_id")
    names = list(config.sources) + sorted(
        {r["source"] for r in store.query("SELECT DISTINCT source FROM runs")} - set(config.sources))
    sources = []
    for name in names:
        section = config.sources.get(name)
        h = health.get(name, {})
        agg = store.query(
            "SELECT COUNT(*) AS runs, COALESCE(SUM(fetched),0) AS fetched, COALESCE(SUM(new),0) AS new, "
            "COALESCE(SUM(duplicates),0) AS duplicates, COALESCE(SUM(quarantined),0) AS quarantined, "
            "COALESCE(SUM(errors),0) AS errors FROM runs WHERE source = ? AND started_at >= ?", (name, since))[0]
        last_run = store.scalar("SELECT MAX(started_at) FROM runs WHERE source = ?", (name,))
        last_ok = h.get("last_success_at") or store.scalar(
            "SELECT MAX(finished_at) FROM runs WHERE source = ? AND errors = 0", (name,))
        next_runs = [j["next_run_at"] for j in jobs if j["source"] == name and j["next_run_at"]]
        next_run = min(next_runs) if next_runs and pid else None
        backoff = max(filter(None, [h.get("backoff_until"), store.scalar(
            "SELECT MAX(backoff_until) FROM source_backoff WHERE source = ?", (name,))]), default=None)
        if backoff and parse_iso(backoff) <= now:
            backoff = None
        if backoff and next_run and backoff > next_run:
            next_run = backoff  # runs before then are skipped
        health_state = h.get("state") or ("never run" if last_run is None else "ok")
        last_error = h.get("last_error")
        if health_state == "ok" and not h:
            # Only the daemon keeps source_health (it turns a source "failing" after a few failed runs
            # in a row); a one-off pass (`run --once`, `collect`) whose last run of a query failed must
            # not read as healthy.
            failed = store.query(
                "SELECT error FROM runs WHERE errors > 0 AND id IN "
                "(SELECT MAX(id) FROM runs WHERE source = ? GROUP BY query_key) ORDER BY id DESC", (name,))
            if failed:
                health_state, last_error = "failing", failed[0]["error"]
        sources.append(SourceStatus(
            source=name, enabled=bool(section is not None and getattr(section, "enabled", True)),
            state=health_state,
            last_success_at=last_ok, last_run_at=last_run, next_run_at=next_run, backoff_until=backoff,
            consecutive_failures=h.get("consecutive_failures", 0), last_error=mask(last_error) if last_error else None,
            runs_24h=agg["runs"], fetched_24h=agg["fetched"], new_24h=agg["new"],
            duplicates_24h=agg["duplicates"], quarantined_24h=agg["quarantined"], errors_24h=agg["errors"],
        ))
    by_state = {r["state"]: r["n"] for r in store.query(
        "SELECT state, COUNT(*) AS n FROM queue_items GROUP BY state ORDER BY state")}
    return Status(
        now=iso(now), daemon_running=pid is not None, daemon_pid=pid if pid and pid > 0 else None,
        daemon_started_at=state.get("started_at"), daemon_stopped_at=state.get("stopped_at"),
        sources=sources, mentions=store.scalar("SELECT COUNT(*) FROM mentions"),
        # The queue's own definition (Queue.counts): open is every open state but snoozed.
        queue_open=sum(n for s, n in by_state.items() if s in OPEN_STATES and s != "snoozed"),
        queue_by_state=by_state, sla_breaches=sla_breaches(store, now),
        outbox_pending=store.scalar(
            "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND attempts < ?", (MAX_ATTEMPTS,)),
        outbox_retrying=store.scalar(
            "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND attempts > 0 AND attempts < ?",
            (MAX_ATTEMPTS,)),
        outbox_gave_up=store.scalar(
            "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND attempts >= ?", (MAX_ATTEMPTS,)),
        outbox_oldest_pending_at=store.scalar(
            "SELECT MIN(created_at) FROM outbox WHERE delivered_at IS NULL AND attempts < ?", (MAX_ATTEMPTS,)),
        jobs=jobs if pid else [],
        streams=[StreamStatus(**{k: r.get(k) for k in StreamStatus.__dataclass_fields__})
                 for r in store.query("SELECT * FROM stream_status ORDER BY stream")] if pid else [],
        workers=read_workers(store, now),
    )
