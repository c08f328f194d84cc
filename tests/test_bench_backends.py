"""The backends benchmark runs end to end at a tiny size and prints its side-by-side table (pytest -m benchmark).

On SQLite always; on PostgreSQL too in a --backend=postgresql run (`.ci/with-postgres pytest --backend=postgresql`).
Never asserts on speed: it checks that every figure was measured on the store it names, and that the
two-worker pass (two real `overheard run --join` daemons) stored and scored each row of its batch once.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import backends

pytestmark = pytest.mark.benchmark
TINY = ["--mentions", "3000", "--batch", "300", "--runs", "2", "--queries", "3"]


def _check(fig: backends.BackendFigures) -> None:
    assert fig.mentions >= 2900 and fig.threads > 0 and fig.queue_items > 0
    assert fig.run is not None and fig.run.new > 250 and fig.run.scored == fig.run.new
    assert fig.run.duplicates > 0  # the batch's re-sent rows were deduped, not stored twice
    assert fig.pipeline_rate > 0 and fig.vader_rate > 0
    assert len(fig.trend_s) == 2 and all(n >= 100 for n in fig.new_hour)
    assert all(len(v) == 3 for v in fig.timings.values())
    assert fig.db_bytes > 1_000_000
    # The same rows again by two joined workers: each stored once, scored once, by one of them.
    two = fig.two
    assert two is not None and two.once, two
    assert two.stored == two.expected == fig.run.new == two.scored == sum(two.collected.values())
    assert sum(two.first_scores.values()) == two.stored and two.scored_by_both == 0
    assert two.rolled_up == two.threads > 0
    assert set(two.collected) == {"a", "b"} and two.rate > 0 and two.vader_rate > 0
    assert 0 < two.started_s <= two.seconds


def test_sqlite_side(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("OVERHEARD_TEST_DATABASE_URL", raising=False)  # the benchmark pops it; keep ours
    (fig,) = backends.main([*TINY, "--backend", "sqlite", "--json", str(tmp_path / "figures.json")])
    assert fig.backend == "sqlite" and fig.settings["journal_mode"] == "wal"
    _check(fig)
    out = capsys.readouterr().out
    assert "| What | sqlite |" in out and "pipeline rate" in out and "trend files after one new hour" in out
    assert "2 workers (`overheard run --join`)" in out and "each row stored once, scored once | yes:" in out
    (saved,) = json.loads((tmp_path / "figures.json").read_text(encoding="utf-8"))
    assert saved["two"]["stored"] == fig.two.stored and saved["two"]["scored_by_both"] == 0
    assert saved["run"]["second_looks"] == fig.run.second_looks
    assert "machine: " in out and "rerun: nice -n 19 .venv/bin/python -m benchmarks.backends --mentions 3000" in out


def test_postgresql_needs_a_server(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("OVERHEARD_TEST_DATABASE_URL", "OVERHEARD_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exit_:
        backends.main([*TINY, "--backend", "postgresql"])
    assert exit_.value.code == 2
    assert "postgresql needs a server" in capsys.readouterr().err


def test_both_side_by_side(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, pg_url: str) -> None:
    url = pg_url
    monkeypatch.setenv("OVERHEARD_TEST_DATABASE_URL", url)  # restored after: the benchmark pops it
    sqlite_fig, pg_fig = backends.main([*TINY, "--database-url", url])
    assert (sqlite_fig.backend, pg_fig.backend) == ("sqlite", "postgresql")
    for fig in (sqlite_fig, pg_fig):
        _check(fig)
    # The same generated history on both: the same counts.
    assert (sqlite_fig.mentions, sqlite_fig.threads, sqlite_fig.queue_items) == \
        (pg_fig.mentions, pg_fig.threads, pg_fig.queue_items)
    assert pg_fig.run.new == sqlite_fig.run.new
    assert "shared_buffers" in pg_fig.settings
    out = capsys.readouterr().out
    assert "| What | sqlite | postgresql |" in out and "2 workers (`overheard run --join`)" in out
    assert pg_fig.two.stored == sqlite_fig.two.stored
    import psycopg

    with psycopg.connect(url) as conn:  # the benchmark's schema is gone
        left = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'bench_%'").fetchone()[0]
    assert left == 0
