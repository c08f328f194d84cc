"""`overheard run`: the daemon. APScheduler 3.x in the foreground, one job per source query.

Jobs (ids as shown by `overheard status`):
- `collect:<source>:<query>`: one query of one source, every `interval_minutes` plus jitter.
- `process`: the pipeline's `process` stages (listener.pipeline.STAGES, in order: score, threads, rules,
  queue clock, delivery); also woken by new mentions.
- `trends`: the pipeline's `trends` stage (trend files). `sla`: the queue-clock stage on its own clock.
- `retention`: pruning old mentions.
- `sources`: picks up queries that appear (a new export file matching a glob) or go away.
- streams ([streams.*]: Jetstream, the X filtered stream, Mastodon hashtags and lists) each run in a
  thread of their own, not as jobs: they stay connected, store each batch with its cursor and wake
  `process` as soon as a batch brought new mentions.

Several workers (`overheard run --join`, on this host or on others sharing a PostgreSQL store) plan the
same jobs and share the work through leases in the store (listener.leases; each stage says how in
listener.pipeline): a collect run holds its query, scoring its block of mentions, delivery its
receiver, and threads, rules, the queue clock, trend files, retention and the report email are run by
one worker at a time. Each worker's leases are renewed by a heartbeat thread every third of
`[daemon] lease_seconds`; a worker that dies holds nothing once they run out (at once on its own host).

Nothing the daemon needs to resume lives in memory or in job arguments: cursors, run records,
backoff, health and the outbox are in the store, so a kill -9 at any moment costs at most a
re-fetch (stored once, by upsert) and a restart carries on. The job store is in memory and
private to this process. Sources run in their own thread pool, so a slow or hanging source never
delays alert delivery; each job opens its own Store (one SQLite connection per thread).
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from alerts.channels.base import Channel
from listener import leases
from listener.collect import build_sources, collect_query
from listener.config import Config
from listener.daemonlock import daemon_pid, lock_path  # noqa: F401 - re-exported, used below
from listener.errors import UserError
from listener.health import SourceHealth, record_failure, record_success, scope_backoff_left
from listener.logs import event
from listener.masking import mask
from listener.models import iso, utcnow
from listener.pipeline import JOBS, Pass, PipelineReport, build_channels, process, run_stages, stages
from listener.scoring import build_scorer
from listener.sources.base import Source
from listener.store import SaveResult, Store
from listener.streams import build_streams
from listener.streams.base import Stream, forget_connections

log = logging.getLogger("overheard.daemon")
SYSTEM_WORKERS = 3  # process, sla/trends/retention and the query refresh never wait for a source
REFRESH_SECONDS = 60.0
# How long a collect run holds its query against other workers when nothing renews it; the daemon's
# heartbeat renews it (to [daemon] lease_seconds) while the run goes on. A dead worker's lease on this
# host is taken over at once, one on another host once it runs out (a re-fetch stores nothing twice).
COLLECT_LEASE_S = 900.0
WORKER_LEASE = leases.WORKER_LEASE  # + the worker id: held while the worker lives, so others can tell it is there


def collect_job_id(source: str, query_key: str) -> str:
    return f"collect:{source}:{query_key}"


@dataclass
class JobSpec:
    """A job as the daemon plans it (also what status shows before the first run)."""

    job_id: str
    kind: str
    func: Callable[..., None]
    seconds: float
    jitter: float = 0.0
    first_delay: float = 0.0
    executor: str = "default"
    source: str | None = None
    query_key: str | None = None


class Daemon:
    """The long-running collector and alerter. `run()` blocks until SIGTERM/SIGINT or `stop()`."""

    def __init__(self, config: Config, *, channels: dict[str, Channel] | None = None, join: bool = False) -> None:
        self.config = config
        self.db_path = config.database
        self.worker = leases.worker_id()
        self.join = join  # run beside other workers on this store (else refuse to start while one runs)
        self.lease_s = float(config.daemon.lease_seconds)
        self._heartbeat = leases.Heartbeat(lambda: Store(self.db_path), self.worker, self.lease_s)
        self.stopping = threading.Event()
        self.sources: dict[str, Source] = {s.name: s for s in build_sources(config)}
        self.channels = channels if channels is not None else build_channels(config)
        self.scorer = build_scorer(config)
        self.streams: list[Stream] = build_streams(config)
        for stream in self.streams:
            stream.check()  # a missing token is a config error now, not a reconnect loop later
        self._stream_threads: list[threading.Thread] = []
        self._process_lock = threading.Lock()
        self._source_locks = {name: threading.Lock() for name in self.sources}
        self._process_again = threading.Event()
        self._inflight = 0
        self._inflight_cond = threading.Condition()
        self._lock_file: Any = None
        self._finished = False
        d = config.daemon
        self.scheduler = BlockingScheduler(
            timezone=UTC,
            executors={
                "default": ThreadPoolExecutor(SYSTEM_WORKERS),
                "sources": ThreadPoolExecutor(d.workers),
            },
            job_defaults={
                # A run missed while the machine slept or the pool was busy is run once, late, rather
                # than skipped or run several times in a row: collection resumes from its cursor anyway.
                "coalesce": True,
                # Never two runs of one query at once: they would fetch the same page twice.
                "max_instances": 1,
                "misfire_grace_time": max(1, int(d.misfire_grace_seconds)),
            },
        )

    # ------------------------------------------------------------ plan
    def plan(self) -> list[JobSpec]:
        """Every job the daemon runs, with its interval."""
        d = self.config.daemon
        specs = [
            JobSpec("process", "process", self.process_job, d.process_seconds),
            JobSpec("sla", "sla", self.sla_job, d.sla_seconds, first_delay=min(d.sla_seconds, 5.0)),
            JobSpec("trends", "trends", self.trends_job, d.trends_seconds, first_delay=min(d.trends_seconds, 30.0)),
            JobSpec("retention", "retention", self.retention_job, d.retention_seconds,
                    first_delay=min(d.retention_seconds, 60.0)),
            JobSpec("sources", "sources", self.refresh_job, self._refresh_seconds(),
                    first_delay=self._refresh_seconds()),
        ]
        # Every job of the pipeline's stage list has its job here (collect: one per source query).
        missing = set(JOBS) - {s.kind for s in specs} - {"collect"}
        if missing:
            raise RuntimeError(f"pipeline stages of jobs {sorted(missing)} have no daemon job")
        if self.config.report_email.enabled:  # the report mailed on a schedule (listener.report_email)
            specs.append(JobSpec("report_email", "report_email", self.report_email_job, 300.0, first_delay=60.0))
        for spec in self._collect_specs():
            specs.append(spec)
        return specs

    def _refresh_seconds(self) -> float:
        # As often as the most frequent source runs, at most once a minute: a new export file
        # matching a glob is picked up by the next run.
        intervals = [float(s.config.interval_minutes) * 60 for s in self.sources.values()]
        return min([REFRESH_SECONDS, *intervals])

    def _collect_specs(self) -> list[JobSpec]:
        specs = []
        for name, source in self.sources.items():
            seconds = float(source.config.interval_minutes) * 60
            jitter = seconds * self.config.daemon.jitter_fraction
            try:
                queries = source.queries()
            except Exception as exc:  # a source that cannot even list its queries must not stop the rest
                event(log, "source_error", logging.ERROR, source=name, error=f"cannot list queries: {exc}")
                continue
            for query in queries:
                specs.append(JobSpec(
                    collect_job_id(name, query.key), "collect", self.collect_job, seconds, jitter=jitter,
                    first_delay=random.uniform(0, jitter), executor="sources", source=name, query_key=query.key,
                ))
        return specs

    def _add(self, spec: JobSpec) -> None:
        now = datetime.now(UTC)
        first = now + timedelta(seconds=spec.first_delay)
        args = (spec.source, spec.query_key) if spec.kind == "collect" else ()
        self.scheduler.add_job(
            spec.func, IntervalTrigger(seconds=spec.seconds, jitter=spec.jitter or None, timezone=UTC),
            args=args, id=spec.job_id, name=spec.job_id, executor=spec.executor, next_run_time=first,
            replace_existing=True,
        )
        with self._store() as store:
            _save_job(store, spec, first)

    # ------------------------------------------------------------ lifecycle
    def run(self) -> None:
        """Take the database's daemon lock, schedule every job and block until stopped."""
        self._take_lock()
        self._install_signals()  # before anything slow, so SIGTERM during start-up is graceful too
        try:
            with self._store() as store:
                self._check_alone(store)
                leases.take(store, WORKER_LEASE + self.worker, self.worker, self.lease_s)
            self._heartbeat.start()
            with self._store() as store, store.transaction():
                if not self.join:
                    store.conn.execute("DELETE FROM daemon_jobs")  # a previous run's plan is not ours
                store.conn.execute(
                    "INSERT INTO daemon_state (id, pid, host, started_at, heartbeat_at, stopped_at) "
                    "VALUES (1, ?, ?, ?, ?, NULL) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, "
                    "host = excluded.host, started_at = excluded.started_at, "
                    "heartbeat_at = excluded.heartbeat_at, stopped_at = NULL",
                    (os.getpid(), socket.gethostname(), iso(utcnow()), iso(utcnow())),
                )
            for spec in self.plan():
                self._add(spec)
            if not self.join:  # (other workers' connections are theirs)
                with self._store() as store:
                    forget_connections(store)  # a previous run's connections are gone
            event(log, "daemon_started", pid=os.getpid(), sources=",".join(self.sources) or "none",
                  jobs=len(self.scheduler.get_jobs()), receivers=",".join(self.channels) or "none",
                  streams=",".join(s.name for s in self.streams) or None)
            if not self.stopping.is_set():
                self._start_streams()
                self.scheduler.start()  # blocks until stop()
            self._finished = True
            self._stop_streams()
            self._wait_for_running_jobs()
            with self._store() as store:
                # Stopped, unless another worker still runs on this store.
                store.conn.execute(
                    "UPDATE daemon_state SET stopped_at = ? WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM leases "
                    "WHERE name >= ? AND name < ? AND holder != ? AND expires_at > ?)",
                    (iso(utcnow()), WORKER_LEASE, WORKER_LEASE[:-1] + ";", self.worker, iso(utcnow())))
            event(log, "daemon_stopped", pid=os.getpid())
        finally:
            self._finished = True
            self._heartbeat.stop()
            with suppress(Exception), self._store() as store:
                leases.release_all(store, self.worker)  # what this worker held is free at once
            self._release_lock()

    def _start_streams(self) -> None:
        for stream in self.streams:
            thread = threading.Thread(target=stream.run, args=(self.db_path, self._on_streamed),
                                      name=f"overheard-stream-{stream.name}", daemon=True)
            thread.start()
            self._stream_threads.append(thread)

    def _on_streamed(self, new: int) -> None:
        if not self.stopping.is_set():
            self.wake_process()

    def _stop_streams(self) -> None:
        """Close every stream connection; each stores what it had buffered, with its cursor, first."""
        for stream in self.streams:
            stream.stop()
        deadline = time.monotonic() + self.config.daemon.shutdown_timeout_seconds
        for thread in self._stream_threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                event(log, "daemon_shutdown_timeout", logging.WARNING, stream=thread.name)

    def stop(self) -> None:
        """Stop fetching: running jobs finish their current write, no new job starts."""
        self.stopping.set()
        for stream in self.streams:
            stream.stop()
        # Asked during start-up: wait until the scheduler runs (or run() gave up) to shut it down.
        deadline = time.monotonic() + 30
        while not self.scheduler.running and not self._finished and time.monotonic() < deadline:
            time.sleep(0.02)
        with suppress(Exception):
            if self.scheduler.state != STATE_STOPPED:
                self.scheduler.shutdown(wait=False)

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, frame: object) -> None:
            event(log, "daemon_stopping", signal=signal.Signals(signum).name)
            # The handler runs on the main thread, which may hold the scheduler's locks: stop from another.
            threading.Thread(target=self.stop, name="overheard-stop", daemon=True).start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def _wait_for_running_jobs(self) -> None:
        deadline = time.monotonic() + self.config.daemon.shutdown_timeout_seconds
        with self._inflight_cond:
            while self._inflight and time.monotonic() < deadline:
                self._inflight_cond.wait(timeout=0.1)
            if self._inflight:
                event(log, "daemon_shutdown_timeout", logging.WARNING, running_jobs=self._inflight)

    def _take_lock(self) -> None:
        """The lock file (listener.daemonlock): exclusive for a daemon on its own, shared with --join."""
        path = lock_path(self.config)
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+")  # noqa: SIM115 - held for the daemon's lifetime
        try:
            fcntl.flock(fh, (fcntl.LOCK_SH if self.join else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            other = fh.read().strip() or "?"
            fh.close()
            if self.join:
                raise UserError(f"{self.db_path}: an `overheard run` started without --join (pid {other}) is "
                                "using this database on its own; restart it with --join to run several "
                                "workers") from None
            raise UserError(f"{self.db_path}: another `overheard run` (pid {other}) is already using this "
                            "database; stop it first, or start every worker with --join to share the work "
                            "(see docs/running.md, several workers)") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock_file = fh

    def _check_alone(self, store: Store) -> None:
        """Without --join: refuse while a worker on another host is live on this store (PostgreSQL);
        one on this host is refused by the lock file already."""
        if self.join:
            return
        now = iso(utcnow())
        others = [r[0] for r in store.conn.execute(
            "SELECT holder FROM leases WHERE name >= ? AND name < ? AND expires_at > ? ORDER BY holder",
            (WORKER_LEASE, WORKER_LEASE[:-1] + ";", now))
            if r[0].partition(":")[0] != leases.host_name()]
        if others:
            host, _, rest = others[0].partition(":")
            raise UserError(f"{self.db_path}: an `overheard run` on {host} (pid {rest.partition(':')[0]}) is "
                            "using this store; start every worker with --join to share the work, or stop it "
                            f"first (a worker that died holds nothing after {self.lease_s:g} s)")

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            with suppress(OSError):
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    @contextmanager
    def _store(self) -> Iterator[Store]:
        store = Store(self.db_path)
        try:
            yield store
        finally:
            store.close()

    @contextmanager
    def _job(self, job_id: str) -> Iterator[Store]:
        """Bookkeeping around every job: in-flight count, last start/finish/error, next run, own Store."""
        with self._inflight_cond:
            self._inflight += 1
        started = iso(utcnow())
        error: str | None = None
        try:
            with self._store() as store:
                try:
                    yield store
                except Exception as exc:  # one job's bug is logged; the daemon and the other jobs go on
                    error = mask(f"{type(exc).__name__}: {exc}")
                    log.exception("job %s failed", job_id)
                job = self.scheduler.get_job(job_id)
                next_run = iso(job.next_run_time) if job and job.next_run_time else None
                store.conn.execute(
                    "UPDATE daemon_jobs SET last_started_at = ?, last_finished_at = ?, last_error = ?, "
                    "next_run_at = COALESCE(?, next_run_at), updated_at = ? WHERE job_id = ?",
                    (started, iso(utcnow()), error, next_run, iso(utcnow()), job_id),
                )
                store.conn.execute("UPDATE daemon_state SET heartbeat_at = ? WHERE id = 1", (iso(utcnow()),))
        finally:
            with self._inflight_cond:
                self._inflight -= 1
                self._inflight_cond.notify_all()

    # ------------------------------------------------------------ jobs
    def collect_job(self, source_name: str, query_key: str) -> None:
        """One run of one query: skipped while the source backs off; health and backoff updated after."""
        if self.stopping.is_set():
            return
        new = 0
        lock = self._source_locks[source_name]
        if not lock.acquire(blocking=False):
            # Another query of this source is running: one client, one rate limit, so one at a time.
            # Try again shortly rather than hold a worker that other sources need.
            with suppress(Exception):
                self.scheduler.modify_job(collect_job_id(source_name, query_key),
                                          next_run_time=datetime.now(UTC) + timedelta(seconds=random.uniform(0.2, 2)))
            return
        try:
            new = self._collect(source_name, query_key)
        finally:
            lock.release()
        if new and not self.stopping.is_set():
            self.wake_process()

    def _collect(self, source_name: str, query_key: str) -> int:
        new = 0
        with self._job(collect_job_id(source_name, query_key)) as store:
            now = utcnow()
            source = self.sources[source_name]
            query = next((q for q in source.queries() if q.key == query_key), None)
            if query is None:
                return 0  # the query went away (file removed); the refresh job drops its job
            scope = source.limit_scope(query)
            wait = max(SourceHealth.load(store, source_name).backoff_left(now),
                       scope_backoff_left(store, source_name, scope, now))
            if wait > 0:
                event(log, "run_skipped", logging.DEBUG, source=source_name, query=query_key,
                      backoff_s=round(wait, 1))
                return 0
            lease = f"collect:{source_name}:{query_key}"
            if not leases.take(store, lease, self.worker, self.lease_s, now):
                # another worker on this store collects this query now (several daemons share the sources)
                event(log, "run_skipped", logging.DEBUG, source=source_name, query=query_key,
                      held_by=leases.holder_of(store, lease))
                return 0
            error: BaseException | None = None
            try:
                run = collect_query(store, source, query, should_stop=self.stopping.is_set)
                error = run.error
                result, duration = run.result, run.duration_s
            except Exception as exc:  # a client error the source did not wrap: a failure like any other
                log.exception("source %s raised %s (not a SourceError)", source_name, type(exc).__name__)
                error, result, duration = exc, SaveResult(), 0.0
            finally:
                leases.release(store, lease, self.worker)
            if error is not None:
                health = record_failure(store, self.config, source_name, error, scope=scope)
            else:
                health = record_success(store, self.config, source_name, scope=scope)
            event(log, "run", logging.WARNING if error else logging.INFO, source=source_name, query=query_key,
                  fetched=result.fetched, new=result.new, duplicates=result.duplicates,
                  quarantined=result.quarantined, errors=int(error is not None), duration_s=duration,
                  error=str(error) if error else None, health=health.state,
                  backoff_s=round(max(health.backoff_left(utcnow()),
                                      scope_backoff_left(store, source_name, scope, utcnow())), 1) or None)
            new = result.new
        return new

    def wake_process(self) -> None:
        """Run the process job now (or once more right after the running one)."""
        self._process_again.set()
        if not self._process_lock.locked():
            with suppress(Exception):
                self.scheduler.modify_job("process", next_run_time=datetime.now(UTC))

    def process_job(self) -> None:
        """Score, flag, evaluate rules, deliver: one line per alert delivered or failed."""
        if self.stopping.is_set() or not self._process_lock.acquire(blocking=False):
            return
        skipped: list[str] = []
        try:
            with self._job("process") as store:
                for _ in range(5):  # new mentions that arrived meanwhile are handled in the same job
                    self._process_again.clear()
                    skipped = self._process_once(store)
                    if not self._process_again.is_set() or self.stopping.is_set():
                        break
        finally:
            self._process_lock.release()
        if self._process_again.is_set() and not self.stopping.is_set():
            self.wake_process()  # woken while finishing: run again rather than wait a whole interval
        elif skipped and not self.stopping.is_set():
            # Another worker was running a stage: what this pass left for it (threads this pass scored)
            # is looked at again shortly rather than a whole interval later.
            with suppress(Exception):
                self.scheduler.modify_job("process", next_run_time=datetime.now(UTC) + timedelta(
                    seconds=min(self.config.daemon.process_seconds, random.uniform(0.5, 2.0))))

    def _process_once(self, store: Store) -> list[str]:
        pending = store.query("SELECT id, attempts FROM outbox WHERE delivered_at IS NULL")
        before = {r["id"]: r["attempts"] for r in pending}
        max_id = store.scalar("SELECT COALESCE(MAX(id), 0) FROM outbox")
        report = process(self.config, store, scorer=self.scorer, channels=self.channels, worker=self.worker,
                         lease_s=self.lease_s)
        changed = store.query(
            "SELECT id, idem_key, receiver, rule, level, thread_key, attempts, delivered_at, last_error "
            f"FROM outbox WHERE id > ? OR id IN ({','.join('?' * len(before)) or 'NULL'}) ORDER BY id",
            (max_id, *before),
        )
        for row in changed:
            fields = {"alert": row["idem_key"], "receiver": row["receiver"], "rule": row["rule"],
                      "alert_level": row["level"], "thread": row["thread_key"], "attempts": row["attempts"]}
            if row["delivered_at"]:
                event(log, "alert_delivered", **fields)
            elif row["attempts"] > before.get(row["id"], 0):
                event(log, "alert_failed", logging.WARNING, **fields, error=row["last_error"])
            elif row["id"] > max_id:
                event(log, "alert_queued", **fields)
        if report.scored or report.threads_updated:
            event(log, "processed", scored=report.scored, threads=report.threads_updated,
                  alerts_queued=report.evaluation.alerts_enqueued,
                  queue_items=report.evaluation.queue_items_created)
        return report.skipped

    def sla_job(self) -> None:
        """The queue's clock: SLA breach alerts (once each), snoozes that ended, recovery checks."""
        if self.stopping.is_set():
            return
        # Never at the same time as a process pass, which runs the same clock.
        if not self._process_lock.acquire(timeout=self.config.daemon.sla_seconds):
            return
        try:
            with self._job("sla") as store:
                # The process job's queue-clock stage, on its own clock too (SLAs fall due between passes).
                report = run_stages(stages(names=["queue clock"]), self._pass(store)).queue
                if report.alerts or report.breaches:
                    event(log, "sla_breaches", breaches=report.breaches, alerts_queued=report.alerts)
                    self._process_again.set()
        finally:
            self._process_lock.release()
        if self._process_again.is_set():
            self.wake_process()

    def trends_job(self) -> None:
        """The stages of the `trends` job (listener.pipeline.STAGES): the trend files."""
        if self.stopping.is_set():
            return
        with self._job("trends") as store:
            report = run_stages(stages(job="trends"), self._pass(store))
            if "trend files" not in report.skipped:
                event(log, "trend_files", files=len(report.trend_files))

    def _pass(self, store: Store) -> Pass:
        return Pass(self.config, store, PipelineReport(), worker=self.worker, lease_s=self.lease_s)

    def report_email_job(self) -> None:
        from listener.report_email import send_due_report

        if self.stopping.is_set():
            return
        with self._job("report_email") as store, leases.held(store, "job:report email", self.worker,
                                                              self.lease_s) as mine:
            if mine and send_due_report(self.config, store):  # else another worker is mailing it
                event(log, "report_email", sent=1)

    def retention_job(self) -> None:
        from listener.retention import prune

        if self.stopping.is_set():
            return
        with self._job("retention") as store, leases.held(store, "job:retention", self.worker, self.lease_s) as mine:
            if mine:  # else another worker is pruning
                result = prune(store, self.config)
                event(log, "retention", mentions_deleted=result.mentions, runs_deleted=result.runs)

    def refresh_job(self) -> None:
        """Add jobs for queries that appeared, drop jobs whose query went away."""
        if self.stopping.is_set():
            return
        with self._job("sources") as store:
            wanted = {s.job_id: s for s in self._collect_specs()}
            have = {j.id for j in self.scheduler.get_jobs() if j.id.startswith("collect:")}
            for job_id in have - set(wanted):
                with suppress(Exception):
                    self.scheduler.remove_job(job_id)
                store.conn.execute("DELETE FROM daemon_jobs WHERE job_id = ?", (job_id,))
            for job_id in set(wanted) - have:
                self._add(wanted[job_id])
                event(log, "query_added", job=job_id)


def _save_job(store: Store, spec: JobSpec, next_run: datetime) -> None:
    store.conn.execute(
        "INSERT INTO daemon_jobs (job_id, kind, source, query_key, next_run_at, updated_at) VALUES (?,?,?,?,?,?) "
        "ON CONFLICT (job_id) DO UPDATE SET next_run_at = excluded.next_run_at, updated_at = excluded.updated_at",
        (spec.job_id, spec.kind, spec.source, spec.query_key, iso(next_run), iso(utcnow())),
    )
