"""`overheard demo`: the whole pipeline on bundled demo data; a second run doubles nothing."""

from __future__ import annotations

import csv
import json

from click.testing import CliRunner

from listener.cli import cli
from listener.demo import run_demo
from listener.store import Store


def test_demo_runs_end_to_end_and_twice_changes_nothing(tmp_path):
    ws = tmp_path / "demo"
    first = run_demo(ws, channels={})  # no console noise; the outbox keeps the alerts undelivered
    counts = first.counts
    assert 250 <= counts["mentions"] <= 600
    assert counts["quarantined"] == 2  # the two broken rows in the demo data, with reasons
    assert counts["negative"] > 0 and counts["flagged_threads"] >= 1
    assert counts["alerts"] >= 1 and counts["queue_open"] >= 1
    trend_csv = next(p for p in first.files if p.suffix == ".csv")
    rows = list(csv.DictReader(open(trend_csv, encoding="utf-8")))
    assert {r["brand"] for r in rows} >= {"Brightwave", "Lumacell"}
    with Store(first.config.db_path) as store:
        customer = store.scalar("SELECT COUNT(*) FROM mentions WHERE is_brand_account = 0")
        comparisons = store.scalar("SELECT COALESCE(SUM(json_array_length(also_brands)), 0) FROM mentions "
                                   "WHERE is_brand_account = 0 AND also_brands IS NOT NULL")
    # trend files count what customers say: the brand's own replies are left out, and a mention that
    # names both brands ("switching to Lumacell") counts once for each
    assert comparisons > 0
    assert sum(int(r["mentions"]) for r in rows) == customer + comparisons
    assert customer < counts["mentions"]

    second = run_demo(ws, channels={})
    assert second.counts == counts
    assert second.report.collected.new == 0


def test_demo_command_prints_summary_and_writes_alert_file(tmp_path):
    runner = CliRunner()
    ws = tmp_path / "ws"
    result = runner.invoke(cli, ["demo", "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    assert "mentions stored" in result.output and "flagged threads" in result.output
    lines = (ws / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines and all(json.loads(line)["reasons"] for line in lines)
    again = runner.invoke(cli, ["demo", "--workspace", str(ws)])
    assert again.exit_code == 0
    assert (ws / "alerts.jsonl").read_text(encoding="utf-8").splitlines() == lines  # no alert sent twice
