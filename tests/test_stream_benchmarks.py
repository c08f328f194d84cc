"""The stream benchmarks run end to end at a tiny size and print their figures (pytest -m benchmark)."""

from __future__ import annotations

import pytest

from benchmarks import jetstream_matching

pytestmark = pytest.mark.benchmark


def test_jetstream_matching_stores_exactly_the_posts_that_mention_a_brand(capsys: pytest.CaptureFixture[str]):
    figs = jetstream_matching.main(["--events", "2000", "--mention-share", "0.05"])
    for fig in figs:
        assert fig["events"] == 2000 and fig["stored"] == fig["hits"] > 0
        assert fig["stream_rate"] > 0 and fig["json_rate"] > 0
    out = capsys.readouterr().out
    assert "events/s" in out and "rerun:" in out and "machine" in out


def test_latency_prints_the_stream_case_beside_polling(tmp_path, capsys: pytest.CaptureFixture[str]):
    from benchmarks import latency

    fig = latency.measure_stream(2, tmp_path)
    assert fig["measured"] == 2 and not fig["missed"] and all(ms > 0 for ms in fig["ms"])
    assert "stream latency" in latency.report_stream(fig)[0]
