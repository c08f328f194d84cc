"""The pipeline: one ordered list of stages (STAGES) that the CLI, the daemon and the tests all run.

collect → score → threads (rollup, risk) → rules (outbox, queue items) → queue clock → delivery → trend files.
`run_pipeline` runs every stage in order; the daemon runs the same list split into its jobs (each stage
names its job: `collect` per source query, `process`, `trends`), each job its stages in list order, so
the daemon cannot skip or reorder a stage. Every stage picks up its work from marks in the store, so a
crash between stages loses nothing: the next run finishes what the last one started.

Several workers on one store (`overheard run --join`, on one host or several) share the stages through
leases (listener.leases), each stage as it says in `Stage.claim`: collect per source query, score per
block of mentions, delivery per receiver; threads, rules, queue clock and trend files one worker at a
time (a stage another worker holds is skipped in this pass and listed in `PipelineReport.skipped`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from alerts.channels import build_channel
from alerts.channels.base import Channel
from alerts.outbox import DeliveryReport, deliver_pending
from alerts.queue import Queue, TickReport
from alerts.rules import EvaluationReport, enqueue_system_alert, evaluate_pending
from listener import leases
from listener.collect import CollectReport, collect
from listener.config import Config
from listener.query import BrandMatcher
from listener.scoring import build_scorer, score_pending
from listener.store import Store
from listener.threads import rollup_dirty
from listener.trendfiles import write_trend_files
from sentiment import Scorer

log = logging.getLogger("overheard.pipeline")


@dataclass
class PipelineReport:
    collected: CollectReport = field(default_factory=CollectReport)
    scored: int = 0
    threads_updated: int = 0
    evaluation: EvaluationReport = field(default_factory=EvaluationReport)
    queue: TickReport = field(default_factory=TickReport)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    trend_files: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each stage that ran, by name
    skipped: list[str] = field(default_factory=list)  # stages another worker was running (it does them)


def build_channels(config: Config) -> dict[str, Channel]:
    return {r.name: build_channel(r, config) for r in config.receivers if getattr(r, "enabled", True)}


@dataclass
class Pass:
    """What the stages of one pass share: the config, the store, the scorer and channels (built once, on
    first use), the collect options, and the report they fill in."""

    config: Config
    store: Store
    report: PipelineReport
    scorer: Scorer | None = None
    channels: dict[str, Channel] | None = None
    sources: list[str] | None = None
    backfill: timedelta | None = None
    # Who holds this pass's leases, and for how long without renewal: the daemon's worker id and
    # [daemon] lease_seconds (it renews them); a one-off pass gets an id of its own and a long lease.
    worker: str | None = None
    lease_s: float = leases.ONE_SHOT_LEASE_S

    def holder(self) -> str:
        if self.worker is None:
            self.worker = leases.worker_id()
        return self.worker

    def the_scorer(self) -> Scorer:
        if self.scorer is None:
            self.scorer = build_scorer(self.config)
        return self.scorer

    def the_channels(self) -> dict[str, Channel]:
        if self.channels is None:
            self.channels = build_channels(self.config)
        return self.channels


@dataclass(frozen=True)
class Stage:
    name: str
    job: str  # the daemon job that runs it (listener.scheduler): "collect", "process" or "trends"
    run: Callable[[Pass], None]
    doc: str = ""
    # How several workers share it: "stage" — one worker at a time runs the whole stage (a lease named
    # "stage:<name>"); "pieces" — the stage claims its own pieces (queries, blocks, receivers).
    claim: str = "stage"


def _collect(p: Pass) -> None:
    p.report.collected = collect(p.config, p.store, only=p.sources, backfill=p.backfill)


def _score(p: Pass) -> None:
    s = p.config.sentiment
    p.report.scored = score_pending(p.store, p.the_scorer(), s.detractor_confidence, s.label_reviews_by_stars,
                                    BrandMatcher(p.config.all_tracked()), holder=p.holder(), lease_s=p.lease_s)


def _threads(p: Pass) -> None:
    p.report.threads_updated = len(rollup_dirty(p.store, p.config))


def _rules(p: Pass) -> None:
    p.report.evaluation = evaluate_pending(p.store, p.config)


def _queue_clock(p: Pass) -> None:
    p.report.queue = Queue(p.store, p.config.queue).tick(p.config, send_alert=enqueue_system_alert)


def _delivery(p: Pass) -> None:
    p.report.delivery = deliver_pending(p.store, p.the_channels(), holder=p.holder(), lease_s=p.lease_s)


def _trend_files(p: Pass) -> None:
    p.report.trend_files = write_trend_files(p.config, p.store)


# The pipeline, in order. Each stage reads its work from marks the stages before it left in the store.
STAGES: tuple[Stage, ...] = (
    # Collect: the daemon leases each source query (listener.scheduler); a one-off pass stores what it
    # fetches by upsert, so a query another worker is fetching too costs a re-fetch, never a double.
    Stage("collect", "collect", _collect, "ask each source from its cursor; store each batch with its cursor",
          "pieces"),
    Stage("score", "process", _score, "score unscored mentions; flag detractors", "pieces"),
    Stage("threads", "process", _threads, "roll up dirty threads: risk, reasons, flags"),
    Stage("rules", "process", _rules, "alert rules on rolled-up threads: outbox rows, queue items"),
    # The queue's clock: snoozes that ended, SLA breach alerts (delivered just below), recovery.
    Stage("queue clock", "process", _queue_clock, "snoozes that ended, SLA breaches, recovery checks"),
    Stage("delivery", "process", _delivery, "send the outbox", "pieces"),
    Stage("trend files", "trends", _trend_files, "update the hourly rollup; write the trend files"),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)
JOBS = tuple(dict.fromkeys(stage.job for stage in STAGES))


def stages(*, job: str | None = None, names: Iterable[str] | None = None) -> list[Stage]:
    """The stages of one daemon job, or the named ones, always in pipeline order."""
    wanted = set(names) if names is not None else None
    if wanted is not None and wanted - set(STAGE_NAMES):
        raise ValueError(f"unknown stages: {sorted(wanted - set(STAGE_NAMES))}; the stages are {list(STAGE_NAMES)}")
    if job is not None and job not in JOBS:
        raise ValueError(f"unknown job {job!r}; the jobs are {list(JOBS)}")
    return [s for s in STAGES if (job is None or s.job == job) and (wanted is None or s.name in wanted)]


def run_stages(chosen: list[Stage], p: Pass) -> PipelineReport:
    """Run stages in the order given (see `stages`), timing each into the report. A stage run one worker
    at a time is skipped when another worker is running it (it will have done the work when it is done)."""
    for stage in chosen:
        started = time.perf_counter()
        try:
            if stage.claim != "stage":
                stage.run(p)
                continue
            with leases.held(p.store, f"stage:{stage.name}", p.holder(), p.lease_s) as mine:
                if mine:
                    stage.run(p)
                else:
                    p.report.skipped.append(stage.name)
        finally:
            p.report.seconds[stage.name] = p.report.seconds.get(stage.name, 0.0) + time.perf_counter() - started
    return p.report


def process(config: Config, store: Store, *, scorer: Scorer | None = None,
            channels: dict[str, Channel] | None = None, report: PipelineReport | None = None,
            worker: str | None = None, lease_s: float = leases.ONE_SHOT_LEASE_S) -> PipelineReport:
    """Everything after collection up to delivery: the stages of the daemon's `process` job."""
    p = Pass(config, store, report or PipelineReport(), scorer, channels, worker=worker, lease_s=lease_s)
    return run_stages(stages(job="process"), p)


def run_pipeline(config: Config, store: Store, *, sources: list[str] | None = None,
                 backfill: timedelta | None = None, scorer: Scorer | None = None,
                 channels: dict[str, Channel] | None = None, trends: bool = True,
                 worker: str | None = None, lease_s: float = leases.ONE_SHOT_LEASE_S) -> PipelineReport:
    """One full pass: every stage in STAGES order (the trend files left out with `trends=False`)."""
    p = Pass(config, store, PipelineReport(), scorer, channels, sources, backfill, worker, lease_s)
    chosen = [s for s in STAGES if trends or s.job != "trends"]
    return run_stages(chosen, p)
