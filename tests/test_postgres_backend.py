"""The PostgreSQL backend: every migration has its PostgreSQL form, statements are rewritten as SQLite
means them, queue search finds the same items on both engines, and `db copy` / `db check` move a store
over completely, resuming after an interruption."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from alerts.queue import ItemFilter, Queue
from listener.backends import resolve
from listener.backends.pg_schema import PRELUDE, pg_statements
from listener.backends.translate import translate
from listener.cli import cli
from listener.dbcopy import check_stores, copy_store
from listener.migrations import MIGRATIONS
from listener.models import Batch, Mention
from listener.pipeline import process
from listener.store import Store
from tests.queue_support import angry_thread, write_config

SEARCHES = ["Brightwave", "bright*", "refund", "zebra", "Rechnung", "rechn*", "never again", "Brightwave refund",
            "outage furious", "nobody*", "ombudsman", "kangaroo", '" OR ) NEAR(', "b*", "kündige", "kundige",
            "app-crash", "crash", "e-mail", "BRIGHTWAVE's"]


def test_one_numbering_and_every_migration_has_a_postgresql_form():
    numbers = [n for n, _, _ in MIGRATIONS]
    assert numbers == sorted(set(numbers)), "migration numbers must be unique and in order"
    for number, name, sql in MIGRATIONS:
        statements = pg_statements(number, sql)
        assert statements or "DELETE" in sql, f"migration {number} ({name}) has no PostgreSQL statement"
        for statement in statements:
            if statement in PRELUDE:
                continue
            assert "?" not in statement and "WITHOUT ROWID" not in statement.upper(), (number, statement)
            assert "VIRTUAL TABLE" not in statement.upper() and "INSERT OR" not in statement.upper()


@pytest.mark.parametrize("sqlite, postgresql", [
    ("INSERT OR IGNORE INTO forgotten_authors (author_hash, at) VALUES (?, ?)",
     "INSERT INTO forgotten_authors (author_hash, at) VALUES (%s, %s) ON CONFLICT DO NOTHING"),
    ("INSERT OR REPLACE INTO report_emails (send_time, sent, at) VALUES (?, ?, ?)",
     "INSERT INTO report_emails (send_time, sent, at) VALUES (%s, %s, %s) ON CONFLICT (send_time) "
     "DO UPDATE SET sent = excluded.sent, at = excluded.at"),
    ("INSERT INTO authors (source, author, first_seen, last_seen) VALUES (?, ?, ?, ?) ON CONFLICT (source, author) "
     "DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen), mentions = mentions + 1",
     "INSERT INTO authors (source, author, first_seen, last_seen) VALUES (%s, %s, %s, %s) ON CONFLICT (source, author) "
     "DO UPDATE SET last_seen = GREATEST(authors.last_seen, excluded.last_seen), mentions = authors.mentions + 1"),
    ("SELECT id FROM queue_items WHERE assignee IS ? ORDER BY due, id DESC LIMIT 5",
     "SELECT id FROM queue_items WHERE assignee IS NOT DISTINCT FROM %s ORDER BY due NULLS FIRST, "
     "id DESC NULLS LAST LIMIT 5"),
    ("SELECT COUNT(*) FROM mentions WHERE text LIKE '%refund%' AND 1",
     "SELECT COUNT(*) FROM mentions WHERE text ILIKE '%%refund%%' AND TRUE"),
])
def test_statements_are_rewritten_as_sqlite_means_them(sqlite, postgresql):
    assert " ".join(translate(sqlite).sql.split()) == postgresql


def _queue_data(store: Store) -> None:
    start = datetime.now(UTC) - timedelta(hours=30)
    texts = {
        "a": None,
        "b": ["Brightwave Rechnung doppelt abgebucht, Betrug, ich kündige. Furchtbar, awful",
              "Brightwave charged me twice too, scam, terrible, cancelling",
              "Brightwave is the worst, refund now, disgusting"],
        "c": ["Brightwave lost my parcel, awful, I am furious, never again",
              "Brightwave zebra striped router is dead after the app-crash, terrible, scam",
              "Brightwave support useless, e-mail ignored, disgusting, cancelling"],
        "d": ["BRIGHTWAVE's ombudsman case, awful service, terrible",
              "Brightwave never answers, useless, worst ever, furious",
              "Brightwave is a scam, disgusting, cancelling now, nobody cares"],
    }
    for n, (thread, thread_texts) in enumerate(texts.items()):
        angry_thread(store, thread, author=f"customer-{thread}", texts=thread_texts,
                     source="reddit" if thread == "b" else "x", lang="de" if thread == "b" else "en",
                     at=start + timedelta(hours=n))
    store.save_batch("x", "test", Batch(mentions=[Mention(
        source="x", native_id="loose-1", text="Brightwave refund kangaroo, I am happy", brand="Brightwave",
        created_at=start, author="someone")]))


def _searches(store: Store, config) -> dict[str, list[str]]:
    queue = Queue(store, config.queue)
    return {s: [i.thread_key for i in queue.list(ItemFilter(state="all", search=s))] for s in SEARCHES}


def _sqlite_store(monkeypatch, tmp_path):
    """The same config on SQLite, whatever backend the run is on."""
    config = write_config(tmp_path)
    store = Store(config.db_path, file=True)
    assert store.backend == "sqlite"
    return config, store


def _pg(pg_url: str) -> str:
    return f"{pg_url}?schema=c_{uuid.uuid4().hex[:16]}"


def test_queue_search_finds_the_same_items_on_both_engines(tmp_path, monkeypatch, pg_url):
    config, lite = _sqlite_store(monkeypatch, tmp_path)
    pg = Store(_pg(pg_url))
    for store in (lite, pg):
        _queue_data(store)
        process(config, store, channels={})
    on_sqlite, on_pg = _searches(lite, config), _searches(pg, config)
    assert sum(map(len, on_sqlite.values())) > 15 and on_sqlite["kangaroo"] == []
    assert on_sqlite["kündige"] == on_sqlite["kundige"] != []
    assert on_pg == on_sqlite


def test_db_copy_is_complete_resumes_after_an_interruption_and_check_agrees(tmp_path, monkeypatch, pg_url):
    config, lite = _sqlite_store(monkeypatch, tmp_path)
    _queue_data(lite)
    lite.save_batch("x", "bulk", Batch(mentions=[Mention(
        source="x", native_id=f"bulk-{i}", text=f"Brightwave post number {i}, all fine", brand="Brightwave",
        created_at=datetime.now(UTC) - timedelta(minutes=i), author=f"fan{i % 40}") for i in range(300)]))
    process(config, lite, channels={})
    assert lite.scalar("SELECT COUNT(*) FROM queue_items") >= 3
    url = _pg(pg_url)

    class Interrupted(Exception):
        pass

    batches = []

    def stop_in_mentions(table: str, rows: int) -> None:
        batches.append(table)
        if table == "mentions" and rows >= 200:
            raise Interrupted  # as a kill between two batches: what was committed stays

    with Store(url) as pg, pytest.raises(Interrupted):
        copy_store(lite, pg, batch=50, on_batch=stop_in_mentions)
    with Store(url) as pg:
        partial = {c.table: c for c in check_stores(lite, pg)}
    assert 0 < partial["mentions"].target < partial["mentions"].source
    lite.close()

    runner = CliRunner()
    check = runner.invoke(cli, ["db", "check", "--to", url, "--json", "--config", str(config.path)])
    assert check.exit_code == 1 and not json.loads(check.output)["same"]

    result = runner.invoke(cli, ["db", "copy", "--to", url, "--batch", "50", "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    assert "resumed mentions" in result.output and "same count on both sides" in result.output

    check = runner.invoke(cli, ["db", "check", "--to", url, "--json", "--config", str(config.path)])
    assert check.exit_code == 0, check.output
    tables = {t["table"]: t for t in json.loads(check.output)["tables"]}
    assert tables["mentions"]["postgresql"] == tables["mentions"]["sqlite"] >= 312
    assert tables["queue_items"]["postgresql"] >= 3

    lite = Store(config.db_path, file=True)
    pg = Store(url)
    columns = "id, source, native_id, text, label, compound, themes, scored_at, thread_key"
    assert pg.query(f"SELECT {columns} FROM mentions ORDER BY id") == lite.query(
        f"SELECT {columns} FROM mentions ORDER BY id")
    # new rows on PostgreSQL get new ids, and the copied store works: search finds the copied items
    new = pg.start_run("x", "q", "2026-12-01T00:00:00Z")
    assert new > (lite.scalar("SELECT MAX(id) FROM runs") or 0) and pg.scalar("SELECT COUNT(*) FROM runs") == 1
    assert _searches(pg, config) == _searches(lite, config)


def test_a_url_names_its_schema_and_hides_its_password():
    target = resolve("postgresql://ov:s3cretpass@db.example/overheard?schema=brand_a&sslmode=require")
    assert target.backend == "postgresql" and target.schema == "brand_a"
    assert "schema" not in target.location and "sslmode=require" in target.location
    assert "s3cretpass" not in target.shown
    with pytest.raises(ValueError):
        resolve("postgresql://db.example/overheard?schema=Robert');DROP")
