"""Each benchmark runs end to end at a tiny size and reports what it measured (run: pytest -m benchmark).

These check that the benchmarks work and print their figures, machine and rerun command; they never
assert on speed (benchmarks are not timed tests).
"""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks import __main__ as runner
from benchmarks import scale, throughput, viral_thread
from benchmarks.corpus import generate

pytestmark = pytest.mark.benchmark


def test_corpus_looks_like_a_real_stream() -> None:
    rows = list(generate(3000, seed=5))
    assert rows == list(generate(3000, seed=5))  # deterministic: reruns measure the same data
    with_text = [r for r in rows if "text" in r]
    langs = Counter(r.get("lang") for r in rows if r["source"] == "x")
    assert {"en", "es", "de", "fr"} <= set(langs) and langs["en"] > len(with_text) * 0.3
    assert Counter(r["source"] for r in rows).keys() == {"x", "reddit", "appstore"}
    replies = sum(1 for r in with_text if r.get("thread_id"))
    assert 0.15 < replies / len(with_text) < 0.5
    assert len({r["author"] for r in with_text}) < len(with_text) * 0.6  # authors post more than once
    assert len({r["id"] for r in rows}) < len(rows)  # some re-sent rows for the dedupe
    assert any("text" not in r for r in rows)  # and a malformed one for the quarantine


def test_throughput_imports_everything_and_compares_with_vader(capsys: pytest.CaptureFixture[str]) -> None:
    fig = throughput.main(["--mentions", "400"])
    run = fig["run"]
    assert run.new + run.duplicates + run.quarantined == 400
    assert run.scored == run.new and run.threads > 0
    assert fig["pipeline_rate"] > 0 and fig["vader_rate"] > 0
    assert fig["ratio"] == pytest.approx(fig["pipeline_rate"] / fig["vader_rate"])
    assert run.peak_rss_mb > 10 and run.db_bytes > 0
    out = capsys.readouterr().out
    assert "ratio pipeline / raw VADER" in out and "machine: " in out
    assert "rerun: nice -n 19 .venv/bin/python -m benchmarks.throughput --mentions 400" in out


def test_scale_times_queue_trends_and_report(capsys: pytest.CaptureFixture[str]) -> None:
    fig = scale.main(["--mentions", "3000", "--runs", "3"])
    assert fig.mentions >= 2900 and fig.queue_items > 0 and fig.threads > 0
    assert all(len(v) == 3 for v in fig.timings.values())
    assert "web GET /items/<id> (item view)" in fig.timings
    assert fig.new_hour > 0 and fig.trend_regen_s > 0 and fig.report_s > 0
    assert fig.trend_first_s > 0 and fig.trend_same_as_scratch  # kept periods give the files a rebuild gives
    out = capsys.readouterr().out
    assert "GB per million mentions" in out and "rerun: .venv/bin/python -m benchmarks.scale" in out


def test_runner_prints_the_summary_table(capsys: pytest.CaptureFixture[str]) -> None:
    runner.main(["--only", "throughput", "--mentions", "300"])
    out = capsys.readouterr().out
    assert "| pipeline throughput (300 mentions) |" in out
    assert "| peak memory during import |" in out and "<= 300 MB" in out
    assert "rerun: python -m benchmarks --only throughput" in out


def test_latency_times_bursts_from_fake_x_to_fake_slack(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("listener.scheduler", reason="the daemon (issue 8) is not on this branch")
    from benchmarks import latency

    fig = latency.main(["--bursts", "2"])
    assert fig["measured"] == 2 and fig["missed"] == 0, fig.get("log")
    assert all(ms > 0 for ms in fig["ms"])  # Slack got each alert after X served its burst
    out = capsys.readouterr().out
    assert "p95" in out and "rerun: .venv/bin/python -m benchmarks.latency --bursts 2" in out


def test_the_viral_thread_benchmark_prints_each_batch_and_the_full_recount(capsys: pytest.CaptureFixture[str]) -> None:
    fig = viral_thread.main(["--replies", "600", "--batch", "100"])
    out = capsys.readouterr().out
    assert [size for size, _ in fig["times"]] == [100, 200, 300, 400, 500, 600]
    assert [size for size, _ in fig["full"]] == [600]
    assert "thread at     600 replies" in out and "full recount" in out and "results identical" in out
    assert "machine: " in out and "rerun: nice -n 19 .venv/bin/python -m benchmarks.viral_thread --replies 600" in out
