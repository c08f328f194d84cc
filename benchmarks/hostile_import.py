"""Each hostile row of tests/test_hostile_import.py on its own, between valid rows, through a checkout's
real `overheard import` and then `overheard run --once` (child processes); counts tracebacks and valid
rows not stored and scored. Run it against the code before a fix to see what the fix changed.

Run:  .venv/bin/python -m benchmarks.hostile_import [CHECKOUT]      (default: this checkout)
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from tests.helpers import write_config  # noqa: E402
from tests.test_hostile_import import CSV_CASES, CSV_HEADER, EXTRA, JSONL_CASES, csv_valid, dumps, valid  # noqa: E402


def run_case(code: Path, kind: str, line: bytes) -> tuple[bool, bool, int, int]:
    """(import crashed, run --once crashed, valid rows stored and scored, valid rows written)."""
    env = {**os.environ, "PYTHONPATH": str(code), "COLUMNS": "200"}
    with tempfile.TemporaryDirectory(prefix="overheard-hostile-") as tmp:
        folder = Path(tmp)
        (folder / "exports").mkdir()
        if kind == "jsonl":
            path = folder / "exports" / "hostile.jsonl"
            path.write_bytes(b"\n".join([dumps(valid(1)).encode(), line, dumps(valid(2)).encode()]) + b"\n")
            want = 2
        else:
            path = folder / "exports" / "hostile.csv"
            path.write_bytes(b"\r\n".join([CSV_HEADER.encode(), csv_valid(1).encode(), line,
                                           csv_valid(2).encode(), csv_valid(3).encode()]) + b"\r\n")
            want = 3
        config = write_config(folder, EXTRA)
        cli = [sys.executable, "-c", "from listener.cli import main; main()"]
        imported = subprocess.run([*cli, "import", str(path), "--config", str(config)], cwd=folder, env=env,
                                  capture_output=True, text=True)
        later = subprocess.run([*cli, "run", "--once", "--config", str(config)], cwd=folder, env=env,
                               capture_output=True, text=True)
        try:
            with sqlite3.connect(folder / "overheard.db") as db:
                got = db.execute("SELECT COUNT(*) FROM mentions WHERE native_id LIKE 'ok-%' "
                                 "AND scored_at IS NOT NULL").fetchone()[0]
        except sqlite3.Error:
            got = 0
    return "Traceback" in imported.stderr, "Traceback" in later.stderr, got, want


def main(argv: list[str] | None = None) -> dict:
    args = sys.argv[1:] if argv is None else argv
    code = Path(args[0]).resolve() if args else HERE
    cases = [("jsonl", c) for c in JSONL_CASES] + [("csv", c) for c in CSV_CASES]
    crashes = later_crashes = lost = 0
    for kind, case in cases:
        crashed, later, got, want = run_case(code, kind, case.line)
        crashes += crashed
        later_crashes += later
        lost += want - got
        if crashed or later or got != want:
            print(f"  {kind}: {case.name}: import {'traceback' if crashed else 'ok'}, "
                  f"run --once {'traceback' if later else 'ok'}, valid rows stored and scored {got}/{want}")
    print(f"hostile rows through `overheard import` then `run --once` (code in {code}): {len(cases)} cases, "
          f"import crashes {crashes}, run --once crashes {later_crashes}, valid rows lost {lost}")
    print(f"  rerun: .venv/bin/python -m benchmarks.hostile_import {code}")
    return {"cases": len(cases), "crashes": crashes, "later_crashes": later_crashes, "lost": lost}


if __name__ == "__main__":
    main()
