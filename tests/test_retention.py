"""Retention prunes old mentions but keeps rollups; `forget --author` removes one person's data."""

from __future__ import annotations

import json

from click.testing import CliRunner

from alerts.channels.base import Channel, ChannelConfig
from listener.cli import cli
from listener.config import load_config
from listener.models import Batch, Mention
from listener.pipeline import process
from listener.retention import REMOVED, forget_author, prune
from listener.store import Store
from tests.helpers import at, write_config

ANGRY = "Brightwave charged me twice, I want a refund or it's a chargeback, scam"


class Keep(Channel):
    def __init__(self) -> None:
        super().__init__(ChannelConfig(name="support", type="test"), None)
        self.sent: list = []

    def send(self, alert, idem_key, previous_ref=None):
        self.sent.append(alert)
        return None


def _config(tmp_path, days=30):
    return load_config(write_config(tmp_path, f"""
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
    [daemon]
    retention_days = {days}
    run_history_days = 7
    """))


def _mention(i, author, day, thread="t1", text=ANGRY):
    return Mention(source="x", native_id=str(i), text=text, created_at=at(day), brand="Brightwave",
                   author=author, author_followers=30_000, thread_id=thread)


def test_prune_deletes_old_mentions_and_keeps_threads_and_queue(tmp_path):
    config = _config(tmp_path, days=10)
    now = at(24)
    with Store(config.db_path) as store:
        store.save_batch("x", "q", Batch([_mention(1, "old1", 1, "old"), _mention(2, "old2", 2, "old"),
                                          _mention(3, "new1", 20, "new")]))
        process(config, store, channels={"support": Keep()})
        old_thread = store.query("SELECT mentions, risk, flagged FROM threads WHERE thread_key = 'x:old'")[0]
        queue_before = store.scalar("SELECT COUNT(*) FROM queue_items")
        store.conn.execute("INSERT INTO runs (source, query_key, started_at) VALUES ('x', 'q', '2026-11-01T00:00:00Z')")
        result = prune(store, config, now=now)
        assert (result.mentions, result.runs) == (2, 1)
        assert {r["native_id"] for r in store.query("SELECT native_id FROM mentions")} == {"3"}
        assert store.scalar("SELECT COUNT(*) FROM scores") == 1  # the old mentions' scores went with them
        # The rollup stays as it was: the queue and the figures still show the old thread.
        assert store.query("SELECT mentions, risk, flagged FROM threads WHERE thread_key = 'x:old'")[0] == old_thread
        assert store.scalar("SELECT COUNT(*) FROM queue_items") == queue_before > 0
        assert store.scalar("SELECT mentions FROM authors WHERE author = 'old1'") == 1
        # The trend rollup outlives the mentions: the old days still count in trend files.
        assert store.scalar("SELECT SUM(mentions) FROM trend_hours WHERE theme = '' AND hour_start < '2026-11-10'") == 2


def test_retention_zero_keeps_everything(tmp_path):
    config = _config(tmp_path, days=0)
    with Store(config.db_path) as store:
        store.save_batch("x", "q", Batch([_mention(1, "a", 1)]))
        assert prune(store, config, now=at(30)).mentions == 0
        assert store.scalar("SELECT COUNT(*) FROM mentions") == 1


def test_forget_removes_a_person_everywhere_and_keeps_them_out(tmp_path):
    config = _config(tmp_path)
    with Store(config.db_path) as store:
        store.save_batch("x", "q", Batch([
            _mention(1, "Dana_K", 20, "d1", "Brightwave lost my order, Dana's flat 4B, refund now, scam"),
            _mention(2, "someone", 20, "d1", "Brightwave same problem here, awful, refund"),
            _mention(3, "someone", 20, "s1", "Brightwave support never answers, chargeback, scam"),
        ]))
        process(config, store, channels={"support": Keep()})
        item = store.scalar("SELECT id FROM queue_items WHERE thread_key = 'x:d1'")
        store.conn.execute("INSERT INTO queue_events (item_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
                           (item, "2026-11-20T12:00:00Z", "agent", "note", json.dumps(
                               {"text": "Customer wrote: Brightwave lost my order, Dana's flat 4B, refund now, scam"})))
        mention_id = store.scalar("SELECT id FROM mentions WHERE author = 'Dana_K'")
        store.conn.execute("INSERT INTO labels (mention_id, label, actor, at) VALUES (?, 'negative', 'a', 'x')",
                           (mention_id,))
        payload_before = store.scalar("SELECT payload FROM outbox WHERE thread_key = 'x:d1'")
        assert "flat 4B" in payload_before

        from listener.trends.rollup import update_rollup

        update_rollup(store, "UTC", at(24))
        assert store.scalar("SELECT COUNT(*) FROM trend_hour_authors WHERE author = 'Dana_K'") >= 1
        result = forget_author(store, "@dana_k")  # case and @ do not matter
        assert store.scalar("SELECT COUNT(*) FROM trend_hour_authors WHERE author = 'Dana_K'") == 0
        assert (result.mentions, result.authors) == (1, 1)
        assert store.scalar("SELECT COUNT(*) FROM mentions WHERE author = 'Dana_K'") == 0
        assert store.scalar("SELECT COUNT(*) FROM labels") == 0
        assert store.scalar("SELECT COUNT(*) FROM authors WHERE author = 'Dana_K'") == 0
        everything = json.dumps(store.query("SELECT detail FROM queue_events")) + json.dumps(
            store.query("SELECT payload FROM outbox"))
        assert "flat 4B" not in everything and "Dana_K" not in everything
        assert REMOVED in everything
        # Other people's mentions in the same thread stay, and the thread is recomputed without hers.
        assert store.scalar("SELECT COUNT(*) FROM mentions WHERE author = 'someone'") == 2
        assert result.alerts_already_sent == 1  # the alert quoting her already went out: reported, not recallable
        # Her posts are not collected again, under any capitalisation.
        again = store.save_batch("x", "q", Batch([_mention(9, "DANA_K", 21, "d9")]))
        assert (again.new, again.forgotten) == (0, 1)
        assert store.scalar("SELECT COUNT(*) FROM forgotten_authors") == 2  # on x, and on any source (bad rows)
        assert "dana" not in json.dumps(store.query("SELECT * FROM forgotten_authors")).lower()


def test_forget_command_reports_and_recomputes_threads(tmp_path):
    config = _config(tmp_path)
    with Store(config.db_path) as store:
        store.save_batch("x", "q", Batch([_mention(1, "solo", 20, "only")]))
        process(config, store, channels={"support": Keep()})
        assert store.scalar("SELECT mentions FROM threads WHERE thread_key = 'x:only'") == 1
    result = CliRunner().invoke(cli, ["forget", "--author", "solo", "--yes", "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    assert "1 mentions" in result.output
    with Store(config.db_path) as store:
        thread = store.query("SELECT mentions, reasons, title FROM threads WHERE thread_key = 'x:only'")[0]
        assert thread == {"mentions": 0, "reasons": "[]", "title": None}
    refused = CliRunner().invoke(cli, ["forget", "--author", "solo", "--config", str(config.path)], input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
