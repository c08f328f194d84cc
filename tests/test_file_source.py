"""Importing exports: malformed rows are reported (file:line, why) and skipped; re-imports change nothing."""

from __future__ import annotations

import json

from click.testing import CliRunner

from listener.cli import cli
from listener.collect import collect
from listener.config import load_config
from listener.store import Store
from tests.helpers import write_config

FILE_SECTION = """
[sources.file]
[[sources.file.imports]]
paths = ["in/*.jsonl"]
default_source = "x"
[[sources.file.imports]]
paths = ["in/reviews.csv"]
default_source = "appstore"
fields = { id = "review_id", text = "body", stars = "rating", created_at = "date" }
"""


def _setup(tmp_path, rows, csv_text=None):
    (tmp_path / "in").mkdir()
    with open(tmp_path / "in" / "a.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n")
    if csv_text is not None:
        (tmp_path / "in" / "reviews.csv").write_text(csv_text, encoding="utf-8")
    config = load_config(write_config(tmp_path, FILE_SECTION))
    return config, Store(config.db_path)


def row(i, text="Brightwave is great", **kw):
    return {"id": str(i), "text": text, "created_at": "2026-11-20T10:00:00Z", **kw}


def test_import_twice_stores_each_mention_once(tmp_path):
    config, store = _setup(tmp_path, [row(1), row(2, "Lumacell coverage is bad"), row(3)],
                           "review_id,body,rating,date\nr1,Brightwave app crashes,1,2026-11-20T09:00:00Z\n")
    first = collect(config, store)
    assert first.per_source["file"].new == 4
    # Touch the file so the cursor does not skip it: a re-read must still store nothing twice.
    (tmp_path / "in" / "a.jsonl").write_text((tmp_path / "in" / "a.jsonl").read_text() + "\n")
    second = collect(config, store)
    assert second.per_source["file"].new == 0
    assert second.per_source["file"].duplicates == 3
    assert store.scalar("SELECT COUNT(*) FROM mentions") == 4
    brands = dict(store.conn.execute("SELECT native_id, brand FROM mentions WHERE source='x'").fetchall())
    assert brands == {"1": "Brightwave", "2": "Lumacell", "3": "Brightwave"}
    review = store.query("SELECT source, stars FROM mentions WHERE native_id = 'r1'")[0]
    assert review == {"source": "appstore", "stars": 1}


def test_a_semicolon_separated_export_is_imported(tmp_path):
    """A spreadsheet in a European locale saves CSV with semicolons (and often a byte-order mark)."""
    config, store = _setup(tmp_path, [], "\ufeffreview_id;body;rating;date\n"
                                         "r1;Brightwave app crashes, again;1;2026-11-20T09:00:00Z\n")
    assert collect(config, store).per_source["file"].new == 1
    assert store.query("SELECT text, stars FROM mentions")[0] == {"text": "Brightwave app crashes, again", "stars": 1}


def test_unchanged_file_is_not_read_again(tmp_path):
    config, store = _setup(tmp_path, [row(1)])
    collect(config, store)
    again = collect(config, store)
    assert again.per_source["file"].fetched == 0


def test_malformed_rows_are_quarantined_with_file_line_and_reason(tmp_path):
    rows = [
        row(1),
        '{"id": "2", "text": "Brightwave cut off mid-',
        row(3, text=""),
        row(4, text="no brand here at all"),
        row(5, created_at="yesterday"),
        "[1, 2, 3]",
        row(7, text="x" * 60_000 + " Brightwave"),
        row(8, brand="Nokia"),
        row(9, text="Brightwave <!channel> <script>alert(1)</script> \u0000\u202e ok 🙂"),
    ]
    config, store = _setup(tmp_path, rows)
    report = collect(config, store)
    assert report.per_source["file"].new == 2
    prefix = str((tmp_path / "in").resolve()) + "/"
    reasons = {r["location"].removeprefix(prefix): r["reason"]
               for r in store.query("SELECT location, reason FROM quarantine")}
    assert reasons["a.jsonl:2"].startswith("not valid JSON")
    assert reasons["a.jsonl:3"] == "text is missing"
    assert reasons["a.jsonl:4"] == "mentions no configured brand (keywords, handles) and has no brand field"
    assert reasons["a.jsonl:5"] == "created_at 'yesterday' is not an ISO 8601 time"
    assert reasons["a.jsonl:6"] == "expected a JSON object, got a list"
    assert reasons["a.jsonl:7"].startswith("text is 60011 characters; the limit is 50000")
    assert reasons["a.jsonl:8"] == "brand 'Nokia' is not a configured brand or competitor"
    hostile = store.scalar("SELECT text FROM mentions WHERE native_id = '9'")
    assert "\u0000" not in hostile and "<script>" in hostile  # kept as text, control characters gone


def test_import_command_reports_counts(tmp_path):
    config_path = write_config(tmp_path)
    export = tmp_path / "export.csv"
    export.write_text("id,text,created_at\n1,Brightwave broke my router,2026-11-20T10:00:00Z\n2,,2026-11-20\n",
                      encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["import", str(export), "--source", "x", "--config", str(config_path)])
    assert result.exit_code == 1, result.output  # rows were quarantined: a script notices
    assert f"{export.resolve()}:3: text is missing" in result.output
    assert "imported 1 new, 0 already stored, 1 quarantined; scored 1" in result.output
    export.write_text(export.read_text() + "3,More Brightwave,2026-11-21T10:00:00Z\n", encoding="utf-8")
    result = runner.invoke(cli, ["import", str(export), "--source", "x", "--config", str(config_path)])
    assert "imported 1 new, 1 already stored, 1 quarantined" in result.output
