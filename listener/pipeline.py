"""The pipeline as one function the CLI, the daemon and the tests all call.

collect → store → score → flag (thread rollup, risk) → alert (outbox, queue) → deliver → trend files.
Every stage picks up its work from marks in the store, so a crash between stages loses nothing:
the next run finishes what the last one started.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from alerts.channels import build_channel
from alerts.channels.base import Channel
from alerts.outbox import DeliveryReport, deliver_pending
from alerts.queue import Queue, TickReport
from alerts.rules import EvaluationReport, evaluate_pending
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


def build_channels(config: Config) -> dict[str, Channel]:
    return {r.name: build_channel(r, config) for r in config.receivers if getattr(r, "enabled", True)}


def process(config: Config, store: Store, *, scorer: Scorer | None = None,
            channels: dict[str, Channel] | None = None, report: PipelineReport | None = None) -> PipelineReport:
    """Everything after collection: score, roll up threads, evaluate rules, deliver the outbox."""
    report = report or PipelineReport()
    report.scored = score_pending(store, scorer or build_scorer(config), config.sentiment.detractor_confidence,
                                  config.sentiment.label_reviews_by_stars, BrandMatcher(config.all_tracked()))
    report.threads_updated = len(rollup_dirty(store, config))
    report.evaluation = evaluate_pending(store, config)
    # The queue's clock: snoozes that ended, SLA breach alerts (delivered just below), recovery.
    report.queue = Queue(store, config.queue).tick(config)
    report.delivery = deliver_pending(store, channels if channels is not None else build_channels(config))
    return report


def run_pipeline(config: Config, store: Store, *, sources: list[str] | None = None,
                 backfill: timedelta | None = None, scorer: Scorer | None = None,
                 channels: dict[str, Channel] | None = None, trends: bool = True) -> PipelineReport:
    """One full pass: collect from the configured (or named) sources, then process, then trend files."""
    report = PipelineReport()
    report.collected = collect(config, store, only=sources, backfill=backfill)
    process(config, store, scorer=scorer, channels=channels, report=report)
    if trends:
        report.trend_files = write_trend_files(config, store)
    return report
