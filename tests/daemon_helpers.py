"""Running `overheard run` as a real subprocess for the daemon tests, and waiting on what it stores."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The real CLI, with the test's fake sources registered by name first.
DAEMON_CMD = [sys.executable, "-c",
              "import tests.daemon_fakes as f; f.register(); from listener.cli import main; main()"]
ROOT = Path(__file__).resolve().parent.parent

ANGRY = [
    "@BrightwaveHelp Brightwave charged me twice, I want a refund or it's a chargeback",
    "Brightwave is a scam, cancelling today and switching to Lumacell",
    "Same here, Brightwave awful, never again",
    "Brightwave outage again, terrible service, I'm furious",
]
CALM = "Brightwave router arrived today, set it up in ten minutes"

# Short intervals so the daemon does a lot in a second; every key is a real [daemon] key.
# The file source every 0.3 s, reading the export files a test drops into `in/` (posts from X).
FILE_SOURCE = """
[sources.file]
interval_minutes = 0.005
[[sources.file.imports]]
paths = ["in/*.jsonl"]
default_source = "x"
"""

FAST_DAEMON = """
[daemon]
process_seconds = 0.3
sla_seconds = 1
trends_seconds = 2
retention_seconds = 3
jitter_fraction = 0.2
backoff_base_seconds = 0.3
backoff_max_seconds = 1.5
failures_before_alert = 2
shutdown_timeout_seconds = 10
"""


def rows_for_thread(thread: str, angry: bool, day: int = 20) -> list[dict]:
    texts = ANGRY if angry else [CALM, CALM + " and it works"]
    return [{"id": f"{thread}-{i}", "text": text, "created_at": f"2026-11-{day:02d}T10:{10 * i:02d}:00Z",
             "thread_id": f"{thread}-0", "author": f"{thread}-user{i}", "followers": 40_000}
            for i, text in enumerate(texts)]


def append_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def start_daemon(config: Path, log: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as fh:
        return subprocess.Popen([*DAEMON_CMD, "run", "--config", str(config), "--log-format", "json", *extra],
                                stdout=fh, stderr=subprocess.STDOUT, cwd=config.parent, env=env)


def wait_for(check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen | None = None,
             log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"daemon exited ({proc.returncode}) while waiting for {what}:\n{tail(log)}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{tail(log)}")


def tail(log: Path | None, lines: int = 40) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def log_events(log: Path) -> list[dict]:
    out = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def db_query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read the daemon's database from outside (a separate connection, as `overheard status` does), on
    either backend: with --backend=postgresql the daemon's store is the schema named after this path."""
    from listener.backends import resolve

    target = resolve(db)
    if target.backend == "postgresql":
        from listener.backends.postgres import PgConnection

        pg = PgConnection(target.location, schema=target.schema)
        try:
            return [tuple(r) for r in pg.execute(sql, params).fetchall()]
        except sqlite3.OperationalError:  # schema or tables not created yet
            return []
        finally:
            pg.close()
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # tables not created yet (killed before the first migration)
        return []
    finally:
        conn.close()


def stop_daemon(proc: subprocess.Popen, timeout: float = 15) -> int:
    proc.terminate()
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("daemon did not stop within 15 s of SIGTERM") from None
