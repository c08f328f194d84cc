"""`forget --author`: a person asked to be forgotten, and afterwards nothing we hold says who or what.

Searched afterwards: every table and column, both full-text indexes, the raw bytes of the database
and its -wal file, the trend files and the alert file (the file receiver's JSONL).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from listener.cli import cli
from listener.config import load_config
from listener.models import Batch, Mention, Quarantined
from listener.pipeline import process
from listener.store import Store
from listener.trendfiles import write_trend_files
from tests.helpers import write_config

HANDLE = "@Zoë_Ångström"  # stored with its @, non-ASCII
SECRET_WORDS = "PURPLEHIPPO"  # only in her posts
HER_TEXTS = [f"Brightwave charged me twice, flat 4B {SECRET_WORDS} refund now or chargeback, scam",
             f"Brightwave still no refund for {SECRET_WORDS} order, awful, cancelling, scam"]
HER_URL = "https://x.com/zoe_a/status/4242"


def _config(tmp_path: Path):
    return load_config(write_config(tmp_path, """
    [store]
    path = "ws/overheard.db"
    [trends]
    out_dir = "ws/trends"
    [[alerts.receivers]]
    name = "support"
    type = "file"
    path = "ws/alerts.jsonl"
    max_per_hour = 0
    [[alerts.rules]]
    name = "all"
    min_risk = 0
    receivers = ["support"]
    group_by = ["thread"]
    [alerts.levels]
    warning = 10
    """))


def _mentions(now: datetime) -> list[Mention]:
    base = now - timedelta(hours=5)
    out = [Mention(source="x", native_id=f"z{i}", text=t, created_at=base + timedelta(minutes=i), brand="Brightwave",
                   author=HANDLE, author_followers=80_000, engagement=300, thread_id="z0",
                   url=HER_URL if i == 0 else f"{HER_URL}{i}") for i, t in enumerate(HER_TEXTS)]
    out.append(Mention(source="x", native_id="o1", text=f"Brightwave same here, {HANDLE} is right, refund me too",
                       created_at=base + timedelta(minutes=5), brand="Brightwave", author="someone_else",
                       author_followers=100, thread_id="z0", url="https://x.com/someone_else/status/1"))
    return out


def _quarantined() -> list[Quarantined]:
    return [
        # hers: JSON with \u escapes, a CSV line with the handle in another case, a broken JSON line
        Quarantined("file", "in/a.jsonl:3", "created_at is missing",
                    json.dumps({"id": "q1", "author": HANDLE, "text": f"{SECRET_WORDS} again"})),
        Quarantined("file", "in/b.csv:7", "followers is not a number",
                    f'q2,"Brightwave {SECRET_WORDS}",2026-11-20,ZOË_ÅNGSTRÖM,lots'),
        Quarantined("file", "in/c.jsonl:9", "not valid JSON",
                    f'{{"id": "q3", "author": "zoë_ångström", "text": "{SECRET_WORDS}'),
        # someone else's, quoting her: kept, with her handle blanked
        Quarantined("file", "in/a.jsonl:4", "created_at is missing",
                    json.dumps({"id": "q4", "author": "bystander", "text": f"agree with {HANDLE}"},
                               ensure_ascii=False)),
    ]


def _needles() -> list[str]:
    return ["zoë_ångström", "zoe_angstrom", "ångström", "angstrom", SECRET_WORDS.lower(), "zoe_a/status/4242",
            "flat 4b"]


def _search_everything(config, store: Store) -> list[str]:
    found = []
    for (table,) in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        if table.startswith("sqlite_") or "_fts_" in table:
            continue
        try:
            rows = store.conn.execute(f"SELECT * FROM {table}").fetchall()
        except sqlite3.DatabaseError:
            continue
        text = json.dumps(rows, ensure_ascii=False, default=str).lower()
        found += [f"table {table}: {n}" for n in _needles() if n in text]
    for fts in ("mentions_fts", "queue_fts"):
        for word in (SECRET_WORDS, "angstrom", "zoe"):
            if store.scalar(f"SELECT COUNT(*) FROM {fts} WHERE {fts} MATCH ?", (word,)):
                found.append(f"index {fts}: {word}")
    for path in [config.db_path, Path(f"{config.db_path}-wal")]:
        if path.exists():
            raw = path.read_bytes().lower()
            found += [f"bytes of {path.name}: {n}" for n in _needles() if n.encode() in raw]
    for path in [*config.resolve("ws/trends").rglob("*"), config.resolve("ws/alerts.jsonl")]:
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace").lower()
            found += [f"file {path.name}: {n}" for n in _needles() if n in text]
    return found


def test_forget_leaves_nothing_readable_anywhere_and_keeps_her_out(tmp_path, backend):
    config = _config(tmp_path)
    now = datetime.now(UTC)
    with Store(config.db_path) as store:
        store.save_batch("x", "q", Batch(_mentions(now)))
        store.save_batch("file", "f", Batch([], _quarantined()))
        process(config, store)
        write_trend_files(config, store)
        store.conn.execute("INSERT INTO silences (matcher, value, starts_at, ends_at, created_by, created_at) "
                           "VALUES ('author', 'zoë_ångström', 'a', 'z', 'agent', 'a')")
        before = _search_everything(config, store)
    assert any(f.startswith("table outbox") for f in before) and any("alerts.jsonl" in f for f in before)
    assert any(f.startswith("index") for f in before)
    if backend == "sqlite":  # on PostgreSQL the database is not a file here
        assert any(f.startswith("bytes of") for f in before)

    result = CliRunner().invoke(cli, ["forget", "--author", "ZOË_ÅNGSTRÖM", "--yes", "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    assert "2 mentions" in result.output and "3 quarantined rows" in result.output
    assert "alerts.jsonl" in result.output and "lines rewritten" in result.output

    with Store(config.db_path) as store:
        left = _search_everything(config, store)
        assert left == [], "\n".join(left)
        # Everyone else is still there: the bystander's row and the other person's mention.
        assert store.scalar("SELECT COUNT(*) FROM quarantine") == 1
        assert store.scalar("SELECT COUNT(*) FROM mentions WHERE author = 'someone_else'") == 1
        # She does not come back: not her posts, not her bad rows, with or without the @, in any case.
        again = store.save_batch("x", "q", Batch([Mention(source="x", native_id="z9", text="Brightwave hello",
                                                          created_at=now, author="zoë_ångström")]))
        assert (again.new, again.forgotten) == (0, 1)
        store.save_batch("file", "f", Batch([], _quarantined()[:3]))
        assert store.scalar("SELECT COUNT(*) FROM quarantine") == 1
    for line in config.resolve("ws/alerts.jsonl").read_text(encoding="utf-8").splitlines():
        json.loads(line)  # still one alert per line, readable by other tools
    assert oct(config.resolve("ws/alerts.jsonl").stat().st_mode & 0o777) == "0o600"
    assert oct(config.resolve("ws").stat().st_mode & 0o777) == "0o700"


def test_forgetting_someone_never_seen_exits_2_and_suggests_the_closest(tmp_path):
    config = _config(tmp_path)
    with Store(config.db_path) as store:
        store.save_batch("x", "q", Batch(_mentions(datetime.now(UTC))))
        before = store.scalar("SELECT COUNT(*) FROM mentions")
    result = CliRunner().invoke(cli, ["forget", "--author", "someone_els", "--yes", "--config", str(config.path)])
    assert result.exit_code == 2
    assert result.output.strip() == ("overheard: forget: nothing stored matches author 'someone_els', nothing was "
                                     "changed; did you mean 'someone_else'?")
    with Store(config.db_path) as store:
        assert store.scalar("SELECT COUNT(*) FROM mentions") == before
        assert store.scalar("SELECT COUNT(*) FROM forgotten_authors") == 0  # a typo records no stranger
