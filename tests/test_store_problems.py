"""A database file that cannot be used ends every command in one line naming it and what to do, exit 2.

Damaged, cut short, foreign (a PNG, another program's SQLite database), a newer schema, a folder, a
path that cannot be created: each is refused before anything is written. Zero bytes is what SQLite
calls an empty database, so it is initialised like a new file.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.cli import cli
from listener.models import Batch, Mention
from listener.store import Store, StoreError
from tests.helpers import at, write_config

pytestmark = pytest.mark.sqlite_only("about the SQLite file itself: damaged, cut short, not a database, "
                                     "permissions and file modes")

# Every kind of command that opens the store: the daemon (`run` refuses before taking its lock), `serve`
# (before the web server starts), and the plain CLI commands.
COMMANDS = [
    ["status"], ["run", "--once"], ["run"], ["serve", "--port", "1"], ["queue", "list"], ["alerts", "list"],
    ["trends"], ["forget", "--author", "someone", "--yes"],
]


def _good_db(path: Path, rows: int = 400) -> None:
    with Store(path) as store:
        store.save_batch("x", "q", Batch([
            Mention(source="x", native_id=str(i), text=f"Brightwave order {i} never arrived " + "x" * 300,
                    created_at=at(20), brand="Brightwave", author=f"user{i}") for i in range(rows)]))
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _png(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(200))


def _other_app(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE bookmarks (id INTEGER PRIMARY KEY, url TEXT)")
    conn.execute("CREATE TABLE schema_migrations (version TEXT)")  # a Rails-style table of the same name
    conn.commit()
    conn.close()


def _newer(path: Path) -> None:
    _good_db(path, rows=1)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (9001, 'from a newer overheard', '2027-01-01T00:00:00Z')")
    conn.commit()
    conn.close()


def _truncated(path: Path) -> None:
    _good_db(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _damaged(path: Path) -> None:
    _good_db(path)
    data = bytearray(path.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)  # the header survives, the pages do not
    path.write_bytes(bytes(data))


def _folder(path: Path) -> None:
    path.mkdir()


CASES = {
    "png": (_png, "is a PNG image, not an overheard database"),
    "text": (lambda p: p.write_text("id,text\n1,hello\n"), "is a text file, not an overheard database"),
    "other program's database": (_other_app, "another program's SQLite database (tables: bookmarks"),
    "newer schema": (_newer, "newer version of overheard (schema migrations 9001"),
    "truncated": (_truncated, "cut short"),
    "damaged": (_damaged, "damaged"),
    "a folder": (_folder, "is a folder, not a database file"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_command_refuses_a_bad_database_in_one_line(tmp_path, case):
    make, words = CASES[case]
    db = tmp_path / "overheard.db"
    make(db)
    before = db.read_bytes() if db.is_file() else None
    config = write_config(tmp_path, '[store]\npath = "overheard.db"\n')
    for command in COMMANDS:
        result = CliRunner().invoke(cli, [*command, "--config", str(config)])
        assert result.exit_code == 2, (command, result.output, result.exception)
        assert isinstance(result.exception, SystemExit), (command, result.exception)  # not a traceback
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"overheard: {db}: "), (command, result.output)
        assert words in lines[0], (command, lines[0])
        assert any(hint in lines[0] for hint in ("restore", "set [store] path", "upgrade overheard")), lines[0]
    if before is not None:  # refused, not "repaired": the file is left exactly as it was
        assert db.read_bytes() == before


def test_a_newer_schema_is_refused_before_any_migration_runs(tmp_path):
    db = tmp_path / "o.db"
    _newer(db)
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM schema_migrations WHERE number = (SELECT MAX(number) FROM schema_migrations "
                 "WHERE number < 9001)")  # one of ours looks unapplied: an older version would apply it
    conn.commit()
    conn.close()
    rows_before = sqlite3.connect(db).execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
    with pytest.raises(StoreError, match="newer version"):
        Store(db)
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == rows_before


def test_zero_bytes_is_initialised_as_a_new_database(tmp_path):
    db = tmp_path / "o.db"
    db.write_bytes(b"")
    config = write_config(tmp_path, '[store]\npath = "o.db"\n')
    result = CliRunner().invoke(cli, ["status", "--config", str(config)])
    assert "mentions stored: 0" in result.output, result.output
    assert db.stat().st_size > 0


def test_a_path_that_cannot_be_created(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    for path, words in ((tmp_path / "afile" / "o.db", "is not a folder"),
                        (Path("/proc/overheard-test/o.db"), "cannot create or open the database")):
        config = write_config(tmp_path, f'[store]\npath = "{path}"\n')
        for command in (["status"], ["run"], ["queue", "list"]):
            result = CliRunner().invoke(cli, [*command, "--config", str(config)])
            assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
            assert result.output.startswith(f"overheard: {path}: ") and words in result.output, result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_a_read_only_database_or_folder(tmp_path):
    folder = tmp_path / "ws"
    folder.mkdir()
    _good_db(folder / "o.db", rows=1)
    config = write_config(tmp_path, f'[store]\npath = "{folder / "o.db"}"\n')
    os.chmod(folder / "o.db", 0o400)
    try:
        result = CliRunner().invoke(cli, ["status", "--config", str(config)])
        assert result.exit_code == 2 and "cannot write the database file" in result.output
        os.chmod(folder / "o.db", 0o600)
        os.chmod(folder, 0o500)
        result = CliRunner().invoke(cli, ["status", "--config", str(config)])
        assert result.exit_code == 2 and "cannot write its folder" in result.output
    finally:
        os.chmod(folder, 0o700)
        os.chmod(folder / "o.db", 0o600)


def test_the_real_command_prints_no_traceback(tmp_path):
    db = tmp_path / "overheard.db"
    _damaged(db)
    config = write_config(tmp_path, '[store]\npath = "overheard.db"\n')
    proc = subprocess.run([sys.executable, "-c", "from listener.cli import main; main()", "queue", "list",
                           "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert f"{db}: the database file is damaged" in proc.stderr


def test_database_and_folder_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o000)  # the most open umask: files would be 0666 and folders 0777
    try:
        db = tmp_path / "new" / "place" / "o.db"
        with Store(db) as store:
            store.save_batch("x", "q", Batch([Mention(source="x", native_id="1", text="Brightwave hi",
                                                      created_at=at(20), author="a")]))
            for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    finally:
        os.umask(old)


def test_a_store_problem_inside_the_daemon_is_logged_as_one_line(tmp_path):
    import io
    import logging

    from listener.logs import setup_logging

    db = tmp_path / "o.db"
    _png(db)
    stream = io.StringIO()
    handler = setup_logging("text", logging.INFO, stream=stream)
    try:
        try:
            Store(db)
        except StoreError:
            # what APScheduler does with a job that raised (the daemon's jobs open their own store)
            logging.getLogger("apscheduler.executors.default").exception("Job \"process\" raised an exception")
    finally:
        logging.getLogger().removeHandler(handler)
    out = stream.getvalue()
    assert "Traceback" not in out and out.count("\n") == 1
    assert f"raised an exception: {db}: is a PNG image" in out
