"""Hostile exports: each bad row sits between valid ones, and none of them may stop the pipeline.

The files are generated here (JSONL and CSV). For every case: the import prints `file:line: reason`
and exits 1 (no traceback), every valid row is stored AND scored, the bad row is quarantined with its
full path, line and reason, and `run --once`, `trends` and `report` still work afterwards.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.cli import cli
from listener.config import load_config
from listener.models import iso
from listener.store import Store
from tests.helpers import write_config

NOW = datetime.now(UTC).replace(microsecond=0)
EXTRA = """
[sources.file]
[[sources.file.imports]]
paths = ["exports/hostile.jsonl"]
default_source = "x"
[[sources.file.imports]]
paths = ["exports/hostile.csv"]
default_source = "x"

[[alerts.receivers]]
name = "support"
type = "file"
path = "alerts.jsonl"

[[alerts.rules]]
name = "all"
min_risk = 0
receivers = ["support"]

[alerts.levels]
warning = 10

[trends]
timezone = "Asia/Tokyo"
periods = ["hour", "day"]
"""


def when(hours_ago: float) -> str:
    return iso(NOW - timedelta(hours=hours_ago))


def valid(n: int) -> dict:
    return {"id": f"ok-{n}", "text": f"Brightwave charged me twice again, ticket {n}, awful",
            "created_at": when(1 + n % 30), "author": f"customer{n}", "followers": 100 + n,
            "engagement": n % 7, "verified": n % 2 == 0, "lang": "en", "thread_id": f"t{n % 5}"}


def bad(case: str, **fields: object) -> dict:
    row = {"id": f"bad-{case}", "text": f"Brightwave hostile row {case}", "created_at": when(2),
           "author": f"attacker-{case}"}
    row.update(fields)
    return row


def dumps(row: dict) -> str:
    return json.dumps(row, ensure_ascii=True)


def _deep(depth: int) -> str:
    return dumps(bad("deep"))[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}"


@dataclass(frozen=True)
class Case:
    name: str
    line: bytes  # the row exactly as it is written to the file
    reason: str  # what the quarantine reason must contain


def jcase(name: str, line: str | bytes, reason: str) -> Case:
    return Case(name, line if isinstance(line, bytes) else line.encode("utf-8"), reason)


JSONL_CASES = [
    jcase("nested 100,000 deep", _deep(100_000), "nested deeper than 64 levels"),
    jcase("nested 200 deep", _deep(200), "nested deeper than 64 levels"),
    jcase("followers Infinity", dumps(bad("inf"))[:-1] + ', "followers": Infinity}', "Infinity"),
    jcase("followers NaN", dumps(bad("nan"))[:-1] + ', "followers": NaN}', "NaN"),
    jcase("followers '1e400'", dumps(bad("1e400", followers="1e400")), "followers '1e400' is not a finite number"),
    jcase("followers 1e30", dumps(bad("1e30"))[:-1] + ', "followers": 1e30}', "larger than can be stored"),
    jcase("engagement 1e19", dumps(bad("1e19"))[:-1] + ', "engagement": 1e19}', "larger than can be stored"),
    jcase("engagement 2**64", dumps(bad("int64", engagement=2**64)), "larger than can be stored"),
    jcase("author an object", dumps(bad("authobj", author={"name": "x"})), "author is an object, not text"),
    jcase("url a list", dumps(bad("urllist", url=["https://example.org"])), "url is a list, not text"),
    jcase("lang an object", dumps(bad("langobj", lang={"code": "en"})), "lang is an object, not text"),
    jcase("lone surrogate in author", dumps(bad("surrogate", author="bad\ud800name")),
          "author is not valid Unicode"),
    jcase("created_at 1e20", dumps(bad("ts1e20"))[:-1] + ', "created_at": 1e20}', "not a plausible Unix time"),
    jcase("created_at in milliseconds", dumps(bad("ms", created_at=1_764_000_000_000)), "not a plausible Unix"),
    jcase("created_at year 1 east of UTC", dumps(bad("year1", created_at="0001-01-01T00:00:00+01:00")),
          "outside the range of dates"),
    jcase("created_at 9999-12-31", dumps(bad("y9999", created_at="9999-12-31T00:00:00Z")),
          "more than a day in the future"),
    jcase("created_at 9999-12-31 date", dumps(bad("d9999", created_at="9999-12-31")), "more than a day in the future"),
    jcase("created_at before the first tweet", dumps(bad("y2001", created_at="2001-09-01T10:00:00Z")),
          "before 2006-03-21"),
    jcase("created_at true", dumps(bad("tstrue", created_at=True)), "created_at is true/false, not a time"),
    jcase("id an object", dumps(bad("x") | {"id": {"nested": 1}}), "id is an object, not text"),
    jcase("id true", dumps(bad("x") | {"id": True}), "id is true/false, not text"),
    jcase("engagement -5", dumps(bad("neg", engagement=-5)), "engagement -5 is negative"),
    jcase("followers true", dumps(bad("ftrue", followers=True)), "followers is true/false, not a number"),
    jcase("verified 'maybe'", dumps(bad("maybe", verified="maybe")), "verified 'maybe' is not true or false"),
    jcase("stars 2.5", dumps(bad("stars", stars=2.5)), "stars 2.5 is not a whole number"),
    jcase("text an object", dumps(bad("textobj", text={"body": "Brightwave"})), "text is dict, not text"),
    jcase("brand a list", dumps(bad("brandlist", brand=["Brightwave"])), "brand is a list, not text"),
    jcase("thread_id an object", dumps(bad("thr", thread_id={"a": 1})), "thread_id is an object, not text"),
    jcase("invalid UTF-8", dumps(bad("utf8"))[:-1].encode() + b', "note": "caf\xe9"}', "not valid UTF-8 (byte 0xe9"),
    jcase("not JSON", '{"id": "cut", "text": "Brightwave cut off mid-', "not valid JSON"),
    jcase("a JSON list", "[1, 2, 3]", "expected a JSON object, got a list"),
    jcase("line over 2 MB", dumps(bad("huge", text="Brightwave " + "x" * 2_100_000)), "longer than 2,000,000 bytes"),
]

CSV_HEADER = "id,text,created_at,author,followers,engagement,verified,lang,thread_id"


def csv_valid(n: int) -> str:
    r = valid(n)
    return (f"{r['id']},{r['text'].replace(',', ' ')},{r['created_at']},{r['author']},{r['followers']},"
            f"{r['engagement']},{str(r['verified']).lower()},en,{r['thread_id']}")


def csv_bad(case: str, **cells: str) -> str:
    row = {"id": f"csvbad-{case}", "text": f"Brightwave hostile cell {case}", "created_at": when(3),
           "author": f"attacker-{case}", "followers": "10", "engagement": "1", "verified": "false", "lang": "en",
           "thread_id": ""}
    row.update(cells)
    return ",".join(row[c] for c in CSV_HEADER.split(","))


def ccase(name: str, line: str | bytes, reason: str) -> Case:
    return Case(name, line if isinstance(line, bytes) else line.encode("utf-8"), reason)


CSV_CASES = [
    ccase("unclosed quote", csv_bad("quote", text='"Brightwave swallowed, the quote never closes'), "unclosed quote"),
    ccase("cell over the csv field limit", csv_bad("bigcell", text="Brightwave " + "y" * 200_000),
          "over the 131,072 limit"),
    ccase("line over 2 MB", csv_bad("hugeline", text="Brightwave " + "z" * 2_100_000), "longer than 2,000,000"),
    ccase("invalid UTF-8", csv_bad("utf8").encode().replace(b"hostile", b"hostil\xe9"),
          "not valid UTF-8 (byte 0xe9 in column 'text')"),
    ccase("engagement -5", csv_bad("neg", engagement="-5"), "engagement -5 is negative"),
    ccase("verified maybe", csv_bad("maybe", verified="maybe"), "verified 'maybe' is not true or false"),
    ccase("followers 1e400", csv_bad("1e400", followers="1e400"), "is not a finite number"),
    ccase("followers 1e30", csv_bad("1e30", followers="1e30"), "larger than can be stored"),
    ccase("created_at 9999-12-31", csv_bad("y9999", created_at="9999-12-31"), "more than a day in the future"),
    ccase("created_at year 1", csv_bad("year1", created_at="0001-01-01T00:00:00+01:00"), "outside the range"),
    ccase("created_at 1e20", csv_bad("ts", created_at="100000000000000000000"), "not a plausible Unix time"),
    ccase("more cells than the header", csv_bad("cells") + ",extra,cells", "more cells than the header"),
]


@dataclass
class Imported:
    folder: Path
    jsonl: Path
    csv: Path
    lines: dict[tuple[str, str], int]  # (file kind, case name) -> line of the bad row
    valid_ids: list[str]
    result: object
    later: dict[str, object]


def _write(folder: Path) -> tuple[Path, Path, dict[tuple[str, str], int], list[str]]:
    exports = folder / "exports"
    exports.mkdir()
    lines: dict[tuple[str, str], int] = {}
    ids: list[str] = []
    n = 0
    # JSONL: a byte-order mark before the first (valid) row must not cost that row.
    out = [b"\xef\xbb\xbf" + dumps(valid(n)).encode()]
    ids.append(f"ok-{n}")
    for case in JSONL_CASES:
        out.append(case.line)
        lines[("jsonl", case.name)] = len(out)
        n += 1
        out.append(dumps(valid(n)).encode())
        ids.append(f"ok-{n}")
    jsonl = exports / "hostile.jsonl"
    jsonl.write_bytes(b"\n".join(out) + b"\n")
    # CSV, with a byte-order mark before the header as spreadsheets write it.
    n += 1
    rows = [b"\xef\xbb\xbf" + CSV_HEADER.encode(), csv_valid(n).encode()]
    ids.append(f"ok-{n}")
    for case in CSV_CASES:
        rows.append(case.line)
        lines[("csv", case.name)] = len(rows)
        for _ in range(2):  # two valid rows after each bad one: an unclosed quote must swallow neither
            n += 1
            rows.append(csv_valid(n).encode())
            ids.append(f"ok-{n}")
    csv_path = exports / "hostile.csv"
    csv_path.write_bytes(b"\r\n".join(rows) + b"\r\n")
    return jsonl, csv_path, lines, ids


def _invoke(args: list[str]) -> object:
    return CliRunner().invoke(cli, args)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Imported:
    folder = tmp_path_factory.mktemp("hostile")
    jsonl, csv_path, lines, ids = _write(folder)
    config = write_config(folder, EXTRA)
    result = _invoke(["import", str(jsonl), str(csv_path), "--source", "x", "--config", str(config)])
    later = {
        "run --once": _invoke(["run", "--once", "--config", str(config)]),
        "trends": _invoke(["trends", "--config", str(config)]),
        "report": _invoke(["report", "--since", "7d", "--out", str(folder / "report.html"), "--config", str(config)]),
    }
    return Imported(folder, jsonl, csv_path, lines, ids, result, later)


def _no_traceback(result) -> None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("".join(traceback.format_exception(result.exception)))


def test_the_import_tells_each_bad_row_and_exits_1(imported):
    result = imported.result
    _no_traceback(result)
    assert result.exit_code == 1, result.output
    total = len(JSONL_CASES) + len(CSV_CASES)
    assert f"{total} quarantined" in result.output
    assert f"… and {total - 20} more (overheard quarantine list)" in result.output
    printed = [ln for ln in result.output.splitlines() if ln.startswith(str(imported.folder))]
    assert len(printed) == 20  # capped
    first = CSV_CASES[0]
    assert f"{imported.csv.resolve()}:{imported.lines[('csv', first.name)]}: {first.reason}" in result.output


def test_every_valid_row_is_stored_and_scored(imported):
    config = load_config(imported.folder / "overheard.toml")
    with Store(config.db_path) as store:
        stored = {r["native_id"]: r for r in store.query(
            "SELECT native_id, scored_at, quarantined, label FROM mentions")}
    missing = [i for i in imported.valid_ids if i not in stored]
    assert missing == []  # rows lost: none
    assert all(stored[i]["scored_at"] and stored[i]["quarantined"] is None for i in imported.valid_ids)
    assert set(stored) == set(imported.valid_ids)  # and no hostile row slipped in


@pytest.mark.parametrize("kind, case", [("jsonl", c) for c in JSONL_CASES] + [("csv", c) for c in CSV_CASES],
                         ids=[f"jsonl: {c.name}" for c in JSONL_CASES] + [f"csv: {c.name}" for c in CSV_CASES])
def test_each_bad_row_is_quarantined_with_file_line_and_reason(imported, kind, case):
    path = imported.jsonl if kind == "jsonl" else imported.csv
    location = f"{path.resolve()}:{imported.lines[(kind, case.name)]}"
    config = load_config(imported.folder / "overheard.toml")
    with Store(config.db_path) as store:
        rows = store.query("SELECT reason, stage FROM quarantine WHERE location = ?", (location,))
    assert len(rows) == 1, f"{location} not quarantined"
    assert case.reason in rows[0]["reason"]
    assert rows[0]["stage"] == "import"


@pytest.mark.parametrize("command", ["run --once", "trends", "report"])
def test_later_stages_and_trend_files_still_run(imported, command):
    result = imported.later[command]
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    if command == "trends":
        files = list((imported.folder / "trends").glob("*"))
        assert any(f.suffix == ".csv" for f in files) and any(f.suffix == ".json" for f in files)
    if command == "report":
        assert "Brightwave" in (imported.folder / "report.html").read_text(encoding="utf-8")


def test_the_unclosed_quote_swallowed_nothing_and_the_file_is_done(imported):
    """The two rows after the unclosed quote are stored; the cursor marks the file read only because
    every row of it is now a mention or a quarantine record; a row appended later is imported."""
    config = load_config(imported.folder / "overheard.toml")
    line = imported.lines[("csv", "unclosed quote")]
    after = imported.csv.read_bytes().split(b"\r\n")[line:line + 2]
    ids = [row.split(b",")[0].decode() for row in after]
    with Store(config.db_path) as store:
        assert store.scalar(f"SELECT COUNT(*) FROM mentions WHERE native_id IN ({', '.join('?' * len(ids))})",
                            ids) == 2
    with open(imported.csv, "ab") as fh:
        fh.write(csv_valid(999).encode() + b"\r\n")
    result = _invoke(["run", "--once", "--config", str(imported.folder / "overheard.toml")])
    assert result.exit_code == 0, result.output
    with Store(config.db_path) as store:
        assert store.scalar("SELECT scored_at FROM mentions WHERE native_id = 'ok-999'")


def test_same_file_name_in_two_folders_gets_two_quarantine_records(tmp_path):
    config = write_config(tmp_path)
    files = []
    for folder in ("north", "south"):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / "export.jsonl"
        path.write_text(dumps(valid(1 if folder == "north" else 2)) + "\n" + dumps(bad("dup", engagement=-1)) + "\n",
                        encoding="utf-8")
        files.append(path)
    result = _invoke(["import", *map(str, files), "--config", str(config)])
    assert result.exit_code == 1
    with Store(load_config(config).db_path) as store:
        where = sorted(r[0] for r in store.conn.execute("SELECT location FROM quarantine"))
    assert where == [f"{files[0].resolve()}:2", f"{files[1].resolve()}:2"]


def test_a_utf16_export_is_one_clear_line(tmp_path):
    config = write_config(tmp_path)
    path = tmp_path / "excel.csv"
    path.write_bytes("id,text,created_at\n1,Brightwave ok,2026-11-20T10:00:00Z\n".encode("utf-16"))
    result = _invoke(["import", str(path), "--config", str(config)])
    _no_traceback(result)
    assert result.exit_code == 2
    assert f"overheard: file {path}: is UTF-16 encoded; save it as UTF-8" in result.output


@pytest.mark.benchmark
def test_the_import_benchmark_runs_and_reports(capsys):
    from benchmarks import import_alerts

    fig = import_alerts.main(["--mentions", "300"])
    assert fig["mentions"] == fig["scored"] > 0 and fig["alerts"] > 0
    out = capsys.readouterr().out
    assert "wall time" in out and "USING INDEX outbox_group_pending" in out and "rerun:" in out


def test_importing_an_unchanged_file_again_says_its_rows_are_still_quarantined(tmp_path):
    config = write_config(tmp_path)
    path = tmp_path / "export.jsonl"
    path.write_text(dumps(valid(1)) + "\n" + dumps(bad("neg", engagement=-5)) + "\n", encoding="utf-8")
    assert _invoke(["import", str(path), "--config", str(config)]).exit_code == 1
    again = _invoke(["import", str(path), "--config", str(config)])
    assert again.exit_code == 0  # this run set nothing aside
    assert "1 rows of these files are still in quarantine from an earlier import" in again.output
