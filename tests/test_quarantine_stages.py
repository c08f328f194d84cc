"""A poisoned mention at a later stage (score, thread rollup, rules, trends) is quarantined with its stage
and reason, and the stage goes on with the rest. Poison is injected straight into the store (as an old
database or another writer could leave it) and by making a stage raise for one mention."""

from __future__ import annotations

import json
import traceback
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from fastapi.testclient import TestClient

import alerts.rules
import listener.threads
import listener.trends.rollup
from alerts.users import add_user
from alerts.web.app import create_app
from listener.cli import cli
from listener.pipeline import process
from listener.scoring import build_scorer
from listener.store import Store
from listener.trends.rollup import update_rollup
from tests.queue_support import angry_thread, write_config

EAST = """
[trends]
timezone = "Asia/Tokyo"

[queue]
timezone = "Asia/Tokyo"
"""


def _records(store, stage):
    return store.query("SELECT location, reason, mention_id FROM quarantine WHERE stage = ?", (stage,))


def _mention_id(store, native_id):
    return store.scalar("SELECT id FROM mentions WHERE native_id = ?", (native_id,))


def _no_traceback(result):
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("".join(traceback.format_exception(result.exception)))


def test_an_unscoreable_stored_mention_is_quarantined_at_score_and_the_rest_are_scored(tmp_path, backend):
    config = write_config(tmp_path)
    with Store(config.db_path) as store:
        angry_thread(store, "a")
        angry_thread(store, "b", author="erin")
        poison = "UPDATE mentions SET title = X'00ff' WHERE native_id = 'a-1'"  # bytes where text goes
        if backend == "postgresql":
            # A PostgreSQL text column holds only text (the bytes arrive as their hex digits), so no other
            # writer can leave this poison there: every mention is scored (a scorer raising for one mention
            # is tested on both backends below).
            store.conn.execute(poison)
            assert store.scalar("SELECT title FROM mentions WHERE native_id = 'a-1'") == "\\x00ff"
            assert process(config, store, channels={}).scored == 8
            assert store.scalar("SELECT COUNT(*) FROM quarantine") == 0
            return
        store.conn.execute(poison)
        report = process(config, store, channels={})
        assert report.scored == 7
        assert store.scalar("SELECT COUNT(*) FROM mentions WHERE scored_at IS NULL") == 1
        [record] = _records(store, "score")
        assert record["mention_id"] == _mention_id(store, "a-1")
        assert record["reason"].startswith("TypeError")
        assert store.scalar("SELECT COUNT(*) FROM queue_items") == 2  # both threads still reached the queue
        again = process(config, store, channels={})  # the next run neither stops nor retries it forever
        assert again.scored == 0


def test_a_scorer_that_raises_for_one_mention_costs_only_that_mention(tmp_path):
    config = write_config(tmp_path)
    real = build_scorer(config)

    class Poisoned:
        name = real.name

        def score(self, text, lang=None):
            return self.score_many([text], [lang])[0]

        def score_many(self, texts, langs=None):
            if any("POISON" in t for t in texts):
                raise ValueError("the model cannot read this text")
            return real.score_many(texts, langs)

    with Store(config.db_path) as store:
        angry_thread(store, "a", texts=["Brightwave is down again", "POISON Brightwave", "Brightwave, awful"])
        report = process(config, store, scorer=Poisoned(), channels={})
        assert report.scored == 2
        [record] = _records(store, "score")
        assert record["mention_id"] == _mention_id(store, "a-1")
        assert record["reason"] == "ValueError: the model cannot read this text"


def test_a_stored_post_time_of_9999_does_not_break_trends_report_run_or_the_item_page(tmp_path):
    """A database from before the import checked post times: the 9999-12-31 mention is quarantined by the
    rollups (it overflowed the hour maths in zones east of UTC) and everything else still runs."""
    config = write_config(tmp_path, EAST)
    with Store(config.db_path) as store:
        angry_thread(store, "a")
        store.conn.execute("UPDATE mentions SET created_at = '9999-12-31T23:30:00Z' WHERE native_id = 'a-3'")
        process(config, store, channels={})
        [record] = _records(store, "threads")
        assert record["mention_id"] == _mention_id(store, "a-3")
        assert "9999-12-31T23:30:00Z is more than a day in the future" in record["reason"]
        assert store.scalar("SELECT mentions FROM threads WHERE thread_key = 'x:a-0'") == 3
        item = store.scalar("SELECT id FROM queue_items")
        add_user(store, "alice", "agent", "correct horse battery")
    runner = CliRunner()
    for args in (["trends"], ["report", "--since", "7d", "--out", str(tmp_path / "r.html")], ["run", "--once"]):
        result = runner.invoke(cli, [*args, "--config", str(config.path)])
        _no_traceback(result)
        assert result.exit_code == 0, result.output
    with Store(config.db_path) as store:
        assert store.scalar("SELECT SUM(mentions) FROM trend_hours WHERE theme = ''") == 3
    client = TestClient(create_app(config, secret="test-secret-" + "x" * 20))
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"name": "alice", "password": "correct horse battery", "csrf_token": token,
                                "next": "/"})
    assert client.get(f"/items/{item}").status_code == 200


def test_the_trend_rollup_quarantines_a_stored_time_it_cannot_place(tmp_path):
    config = write_config(tmp_path, EAST)
    with Store(config.db_path) as store:
        angry_thread(store, "a")
        process(config, store, channels={})
        # Scored before the guard existed: only the trends stage sees it now.
        store.conn.execute("UPDATE mentions SET created_at = '9999-12-31T23:30:00Z', scored_at = ? "
                           "WHERE native_id = 'a-2'", (datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),))
        update_rollup(store, "Asia/Tokyo")
        [record] = _records(store, "trends")
        assert record["mention_id"] == _mention_id(store, "a-2")
        assert store.scalar("SELECT SUM(mentions) FROM trend_hours WHERE theme = ''") == 3


def test_the_thread_rollup_sets_one_mention_aside_and_scores_the_thread_without_it(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    real = listener.threads.thread_risk

    def risk(facts, *args, **kwargs):
        if any("POISON" in f.text for f in facts):
            raise ArithmeticError("risk maths failed")
        return real(facts, *args, **kwargs)

    monkeypatch.setattr(listener.threads, "thread_risk", risk)
    with Store(config.db_path) as store:
        angry_thread(store, "a", texts=["Brightwave outage, furious", "POISON Brightwave", "Brightwave awful"])
        angry_thread(store, "b", author="erin")
        process(config, store, channels={})
        [record] = _records(store, "threads")
        assert record["mention_id"] == _mention_id(store, "a-1")
        assert record["reason"] == "ArithmeticError: risk maths failed"
        rolled = {r["thread_key"]: r["mentions"] for r in store.query("SELECT thread_key, mentions FROM threads")}
        assert rolled == {"x:a-0": 2, "x:b-0": 4}


def test_rules_set_a_thread_aside_and_alert_the_others(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    real = alerts.rules.build_alert

    def build(config, store, thread, *args, **kwargs):
        if thread["thread_key"] == "x:a-0":
            raise KeyError("payload field")
        return real(config, store, thread, *args, **kwargs)

    monkeypatch.setattr(alerts.rules, "build_alert", build)
    with Store(config.db_path) as store:
        angry_thread(store, "a")
        angry_thread(store, "b", author="erin")
        process(config, store, channels={})
        [record] = _records(store, "rules")
        assert record["location"] == "thread x:a-0"
        assert "KeyError" in record["reason"]
        # (the posts are 2 h old, so the queue item's SLA breach alerts too: rule 'sla', not a thread alert)
        assert [r[0] for r in store.conn.execute(
            "SELECT DISTINCT thread_key FROM outbox WHERE rule != 'sla'")] == ["x:b-0"]
        # Rolled back with it: no queue item half-made for the thread set aside.
        assert [r[0] for r in store.conn.execute("SELECT thread_key FROM queue_items")] == ["x:b-0"]


def test_trends_set_one_mention_aside_and_count_the_rest(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    real = listener.trends.rollup.key_tallies

    def tallies(facts):
        facts = list(facts)
        if any(f.author == "poisoned" for f in facts):
            raise TypeError("reach is text")
        return real(facts)

    monkeypatch.setattr(listener.trends.rollup, "key_tallies", tallies)
    with Store(config.db_path) as store:
        angry_thread(store, "a")
        store.conn.execute("UPDATE mentions SET author = 'poisoned' WHERE native_id = 'a-1'")
        process(config, store, channels={})
        update_rollup(store, "UTC")
        [record] = _records(store, "trends")
        assert record["mention_id"] == _mention_id(store, "a-1")
        assert store.scalar("SELECT SUM(mentions) FROM trend_hours WHERE theme = ''") == 3


def test_quarantine_list_show_and_retry(tmp_path, monkeypatch):
    """An import row quarantined for naming no configured brand comes back once the brand is added; a
    mention the score stage set aside comes back once the stage works again."""
    config = write_config(tmp_path)
    export = tmp_path / "export.jsonl"
    at = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = [{"id": "1", "text": "Brightwave is down", "created_at": at},
            {"id": "2", "text": "Zentrix lost my parcel", "created_at": at},
            {"id": "3", "text": "Brightwave POISON", "created_at": at}]
    export.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    real = build_scorer(config)

    class Poisoned:
        name = real.name

        def score_many(self, texts, langs=None):
            if any("POISON" in t for t in texts):
                raise ValueError("cannot score")
            return real.score_many(texts, langs)

    monkeypatch.setattr("listener.pipeline.build_scorer", lambda config: Poisoned())
    runner = CliRunner()
    args = ["--config", str(config.path)]
    result = runner.invoke(cli, ["import", str(export), *args])
    assert result.exit_code == 1
    assert f"{export.resolve()}:2: mentions no configured brand" in result.output
    assert "mention " in result.output and "[score] ValueError: cannot score" in result.output

    listing = runner.invoke(cli, ["quarantine", "list", "--json", *args]).output
    listed = [json.loads(line) for line in listing.splitlines() if line]
    assert {r["stage"] for r in listed} == {"import", "score"}
    row_record = next(r for r in listed if r["stage"] == "import")
    shown = json.loads(runner.invoke(cli, ["quarantine", "show", str(row_record["id"]), "--json", *args]).output)
    assert shown["location"] == f"{export.resolve()}:2" and "Zentrix" in shown["raw"]
    assert runner.invoke(cli, ["quarantine", "show", "999", *args]).exit_code == 2

    # Still failing: retry says so and exits 1.
    result = runner.invoke(cli, ["quarantine", "retry", "--all", "--json", *args])
    assert result.exit_code == 1
    assert json.loads(result.output)["came_back"] == 0

    monkeypatch.setattr("listener.pipeline.build_scorer", lambda config: real)
    config.path.write_text(config.path.read_text() + '\n[[competitors]]\nname = "Zentrix"\nkeywords = ["Zentrix"]\n',
                           encoding="utf-8")
    result = runner.invoke(cli, ["quarantine", "retry", "--all", *args])
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "retried 2: 2 came back, 0 still quarantined" in result.output
    with Store(config.db_path) as store:
        assert store.scalar("SELECT COUNT(*) FROM quarantine") == 0
        assert store.scalar("SELECT COUNT(*) FROM mentions WHERE scored_at IS NOT NULL") == 3
        assert store.scalar("SELECT brand FROM mentions WHERE native_id = '2'") == "Zentrix"


def test_since_at_the_edges_of_the_calendar_is_no_traceback(tmp_path):
    config = write_config(tmp_path, EAST)
    with Store(config.db_path) as store:
        angry_thread(store, "a")
    runner = CliRunner()
    result = runner.invoke(cli, ["trends", "--since", "0001-01-01", "--period", "month", "--config", str(config.path)])
    _no_traceback(result)
    assert result.exit_code == 0, result.output  # year 1 means "everything": from 2006-03-21 on
    result = runner.invoke(cli, ["trends", "--since", "9999-12-31", "--config", str(config.path)])
    assert result.exit_code == 2 and "'9999-12-31' is in the future" in result.output


def test_the_store_refuses_what_no_stage_could_handle_from_any_source(tmp_path):
    """The last line of defence for collectors other than the file import: the batch is stored, the
    mention with a 9999 post time, a 70-bit follower count or a lone surrogate is quarantined."""
    from listener.models import Batch, Mention

    at = datetime.now(UTC) - timedelta(hours=1)

    def mention(native_id, **kw):
        return Mention(**{"source": "mastodon", "native_id": native_id, "text": "Brightwave is down",
                          "created_at": at, "brand": "Brightwave", **kw})

    batch = Batch([mention("1"), mention("2", created_at=datetime(9999, 12, 31, tzinfo=UTC)),
                   mention("3", author_followers=2**70), mention("4", author="bad\ud800name"), mention("5")],
                  cursor="next")
    config = write_config(tmp_path)
    with Store(config.db_path) as store:
        saved = store.save_batch("mastodon", "q", batch)
        assert (saved.new, saved.quarantined) == (2, 3)
        assert store.get_cursor("mastodon", "q") == "next"
        reasons = dict(store.conn.execute("SELECT location, reason FROM quarantine"))
        assert "more than a day in the future" in reasons["mastodon 2"]
        assert reasons["mastodon 3"].startswith("could not be stored: OverflowError")
        assert reasons["mastodon 4"].startswith("could not be stored: UnicodeEncodeError")
        assert store.scalar("SELECT COUNT(*) FROM threads") == 2  # nothing half-written for the refused
