"""The rules claim a chunk of pending threads in one statement (listener.threads.claim_alert_checks):
as exclusive as the one-thread claim was, so two workers never both alert a thread."""

from __future__ import annotations

import alerts.rules
from listener.pipeline import process
from listener.store import Store
from listener.threads import checked_for_alerts, claim_alert_checks
from tests.queue_support import angry_thread, write_config


def _pending(store, keys):
    with store.transaction() as conn:
        conn.executemany("UPDATE threads SET alert_pending = 1 WHERE thread_key = ?", [(k,) for k in keys])


def test_two_stores_claiming_the_same_threads_get_each_once(tmp_path):
    config = write_config(tmp_path)
    with Store(config.db_path) as one, Store(config.db_path) as two:
        for name in "abcd":
            angry_thread(one, name, author=f"{name}-customer")
        keys = [r[0] for r in one.conn.execute("SELECT thread_key FROM threads ORDER BY thread_key")]
        _pending(one, keys)
        with one.transaction() as conn:
            assert claim_alert_checks(conn, keys[:3]) == set(keys[:3])
        with two.transaction() as conn:  # read before the first claim: only what is left is its
            assert claim_alert_checks(conn, keys) == {keys[3]}
        with one.transaction() as conn:
            assert claim_alert_checks(conn, keys) == set()
            assert not checked_for_alerts(conn, keys[0])
        _pending(one, keys[:1])
        with two.transaction() as conn:
            assert checked_for_alerts(conn, keys[0])


def test_a_thread_checked_by_another_worker_since_it_was_read_is_not_alerted_again(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    real = alerts.rules.claim_alert_checks
    checked = []

    def claim(conn, keys):
        # another worker checked x:b-0 between this worker's read and its claim
        conn.execute("UPDATE threads SET alert_pending = 0 WHERE thread_key = 'x:b-0'")
        out = real(conn, keys)
        checked.append(sorted(out))
        return out

    monkeypatch.setattr(alerts.rules, "claim_alert_checks", claim)
    with Store(config.db_path) as store:
        for name in "abc":
            angry_thread(store, name, author=f"{name}-customer")
        process(config, store, channels={})
        assert checked == [["x:a-0", "x:c-0"]]
        assert [r[0] for r in store.conn.execute("SELECT thread_key FROM queue_items ORDER BY thread_key")] == [
            "x:a-0", "x:c-0"]
        assert store.scalar("SELECT COUNT(*) FROM outbox WHERE thread_key = 'x:b-0'") == 0
        assert store.scalar("SELECT COUNT(*) FROM threads WHERE alert_pending = 1") == 0
