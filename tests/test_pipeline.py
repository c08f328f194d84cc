"""The pipeline resumes from marks in the store: a crash between or inside stages loses nothing."""

from __future__ import annotations

import json

import pytest

from alerts.channels.base import Channel, ChannelConfig, DeliveryError
from listener.collect import collect
from listener.config import load_config
from listener.pipeline import process, run_pipeline
from listener.store import Store
from tests.helpers import write_config

ANGRY = [
    "@BrightwaveHelp Brightwave charged me twice, I want a refund or it's a chargeback",
    "Brightwave is a scam, cancelling today and switching to Lumacell",
    "Same here, Brightwave awful, never again",
    "Brightwave outage again, terrible service, I'm furious",
]


class Recorder(Channel):
    """A receiver that records what arrives and can be told to fail (stands in for Slack)."""

    def __init__(self, name: str, fail_after: int | None = None) -> None:
        super().__init__(ChannelConfig(name=name, type="test"), None)
        self.sent: list[str] = []
        self.fail_after = fail_after

    def send(self, alert, idem_key, previous_ref=None):
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise DeliveryError("receiver is down", retry_after=0)
        self.sent.append(idem_key)
        return None


def _workspace(tmp_path, n_threads=3):
    rows = []
    for t in range(n_threads):
        for i, text in enumerate(ANGRY):
            rows.append({"id": f"{t}-{i}", "text": text, "created_at": f"2026-11-20T10:{10 * i:02d}:00Z",
                         "thread_id": f"{t}-0", "author": f"user{t}{i}", "followers": 50_000})
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    extra = """
    [sources.file]
    [[sources.file.imports]]
    paths = ["in.jsonl"]
    default_source = "x"
    [[alerts.receivers]]
    name = "support"
    type = "file"
    path = "unused.jsonl"
    [[alerts.rules]]
    name = "all"
    min_risk = 0
    receivers = ["support"]
    [alerts.levels]
    warning = 10
    """
    return load_config(write_config(tmp_path, extra))


def test_crash_after_collect_is_finished_by_the_next_run(tmp_path):
    config = _workspace(tmp_path)
    with Store(config.db_path) as store:
        collect(config, store)  # ...and the process dies here
    recorder = Recorder("support")
    with Store(config.db_path) as store:
        report = process(config, store, channels={"support": recorder})
        assert report.scored == 12
        assert store.scalar("SELECT COUNT(*) FROM threads WHERE flagged = 1") == 3
    assert len(recorder.sent) == 3


def test_receiver_down_mid_way_delivers_the_rest_later_once(tmp_path):
    config = _workspace(tmp_path)
    flaky = Recorder("support", fail_after=1)
    with Store(config.db_path) as store:
        report = run_pipeline(config, store, channels={"support": flaky}, trends=False)
        assert (report.delivery.delivered, report.delivery.failed) == (1, 1)
        flaky.fail_after = None
        process(config, store, channels={"support": flaky})
        process(config, store, channels={"support": flaky})
        assert store.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL") == 0
    assert len(flaky.sent) == len(set(flaky.sent)) == 3


@pytest.mark.parametrize("stage", ["score", "rollup", "rules"])
def test_crash_inside_a_stage_rolls_back_and_resumes(tmp_path, monkeypatch, stage):
    config = _workspace(tmp_path)
    import listener.pipeline as pipeline

    targets = {"score": "score_pending", "rollup": "rollup_dirty", "rules": "evaluate_pending"}
    real = getattr(pipeline, targets[stage])

    def crash(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt  # killed right after the stage's work

    monkeypatch.setattr(pipeline, targets[stage], crash)
    with Store(config.db_path) as store, pytest.raises(KeyboardInterrupt):
        run_pipeline(config, store, channels={}, trends=False)
    monkeypatch.setattr(pipeline, targets[stage], real)
    recorder = Recorder("support")
    with Store(config.db_path) as store:
        process(config, store, channels={"support": recorder})
        assert store.scalar("SELECT COUNT(*) FROM mentions WHERE scored_at IS NULL") == 0
    assert sorted(recorder.sent) == sorted(set(recorder.sent)) and len(recorder.sent) == 3


def test_the_daemon_runs_the_pipelines_stages_in_the_same_order(tmp_path, monkeypatch):
    """One list of stages (listener.pipeline.STAGES) for run_pipeline and the daemon's jobs: a pass of the
    daemon's jobs (collect, process, trends) runs every stage run_pipeline runs, in the same order."""
    import listener.pipeline as pipeline
    import listener.scheduler as scheduler
    from listener.scheduler import Daemon

    config = _workspace(tmp_path)
    ran: list[str] = []
    real_collect_query = scheduler.collect_query

    def recorded(stage):
        def run(p):
            ran.append(stage.name)
            stage.run(p)
        return pipeline.Stage(stage.name, stage.job, run, stage.doc)

    monkeypatch.setattr(pipeline, "STAGES", tuple(recorded(s) for s in pipeline.STAGES))
    with Store(config.db_path) as store:
        run_pipeline(config, store, channels={})
    assert ran == list(pipeline.STAGE_NAMES)

    # The daemon: its collect jobs are the collect stage one query at a time; then its process and trends jobs.
    ran.clear()
    monkeypatch.setattr(scheduler, "collect_query",
                        lambda *a, **k: ran.append("collect") or real_collect_query(*a, **k))
    daemon = Daemon(config, channels={})
    plan = daemon.plan()
    jobs = {spec.kind: spec for spec in plan}
    for spec in plan:
        if spec.kind == "collect":
            spec.func(spec.source, spec.query_key)
    jobs["process"].func()
    jobs["trends"].func()
    assert list(dict.fromkeys(ran)) == list(pipeline.STAGE_NAMES)
    assert [s.job for s in pipeline.STAGES] == ["collect", "process", "process", "process", "process", "process",
                                                "trends"]
