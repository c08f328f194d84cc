"""Noise control: silences, levels, grouping, cooldown, quiet hours, the hourly cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from alerts.noise import add_silence, expire_silence, list_silences, parse_until, quiet_until
from alerts.outbox import deliver_pending
from alerts.rules import evaluate_pending
from listener.cli import cli
from listener.config import QuietHours
from listener.errors import UserError
from listener.store import Store
from tests.alerts_support import Recorder, alerts_config, put_thread
from tests.helpers import at

RECEIVER = """
[[alerts.receivers]]
name = "rec"
type = "file"
path = "alerts.jsonl"
{extra}
"""


def _config(tmp_path, rule_extra="group_interval_minutes = 0", receiver_extra="max_per_hour = 0"):
    return alerts_config(tmp_path, RECEIVER.format(extra=receiver_extra), f"""
    [[alerts.rules]]
    name = "threads"
    min_risk = 30
    receivers = ["rec"]
    {rule_extra}
    """)


def _recorder(config):
    return Recorder("rec", config.receivers[0])


def _cycle(store, config, rec, now):
    evaluate_pending(store, config, now)
    return deliver_pending(store, {"rec": rec}, now)


# ----------------------------------------------------------------- levels
def test_a_thread_re_alerts_only_when_it_crosses_a_higher_level(tmp_path):
    config = _config(tmp_path)
    rec = _recorder(config)
    with Store(config.db_path) as store:
        steps = [(55, "warning"), (60, None), (52, None), (80, "critical"), (90, None), (55, None)]
        for i, (risk, expected) in enumerate(steps):
            put_thread(store, "x:1", risk)
            before = len(rec.sent)
            _cycle(store, config, rec, at(20, 10 + i))
            got = [a.level for a, _, _ in rec.sent[before:]]
            assert got == ([expected] if expected else []), f"risk {risk}"
    assert rec.sent[1][0].previous_level == "warning"
    assert rec.sent[1][2] == "ref-1"  # the channel is told which message to update


def test_a_restart_between_write_and_send_sends_once(tmp_path):
    config = _config(tmp_path)
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 80)
        evaluate_pending(store, config, at(20, 10))  # ...and the process dies before delivering
        put_thread(store, "x:1", 80)
        evaluate_pending(store, config, at(20, 11))  # re-evaluated after the restart
        rec = _recorder(config)
        deliver_pending(store, {"rec": rec}, at(20, 11))
        deliver_pending(store, {"rec": rec}, at(20, 12))
    assert len(rec.sent) == 1


def test_repeat_interval_re_notifies_a_thread_still_growing(tmp_path):
    config = _config(tmp_path, "group_interval_minutes = 0\nrepeat_interval_hours = 4")
    rec = _recorder(config)
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 60, when=at(20, 10))
        _cycle(store, config, rec, at(20, 10, 5))
        put_thread(store, "x:1", 60, when=at(20, 11), n_mentions=2)
        _cycle(store, config, rec, at(20, 12))  # only 2 h later: quiet
        put_thread(store, "x:1", 60, when=at(20, 14), n_mentions=3)
        _cycle(store, config, rec, at(20, 14, 30))  # 4 h later with new mentions: reminded once
        _cycle(store, config, rec, at(20, 15))
    assert [k for _, k, _ in rec.sent] == ["x:1|threads|warning|rec", "x:1|threads|warning|rec#r2"]


# ----------------------------------------------------------------- silences
@pytest.mark.parametrize("matcher, value", [("author", "@Amy_K"), ("keyword", "REFUND"), ("thread", "x:1"),
                                            ("brand", "Brightwave"), ("source", "x")])
def test_a_silence_mutes_until_it_ends(tmp_path, matcher, value):
    config = _config(tmp_path)
    rec = _recorder(config)
    with Store(config.db_path) as store:
        s = add_silence(store, matcher, value, at(20, 12), "ana", "known issue", now=at(20, 9))
        put_thread(store, "x:1", 80)
        report = evaluate_pending(store, config, at(20, 10))
        assert report.silenced == 1 and store.scalar("SELECT COUNT(*) FROM outbox") == 0
        assert [x.id for x in list_silences(store, at(20, 10))] == [s.id]
        put_thread(store, "x:1", 80)
        _cycle(store, config, rec, at(20, 13))  # the silence has ended
    assert len(rec.sent) == 1


def test_an_author_silence_does_not_hide_a_pile_on_by_others(tmp_path):
    config = _config(tmp_path)
    with Store(config.db_path) as store:
        add_silence(store, "author", "amy_k", at(21), now=at(20, 9))
        put_thread(store, "x:1", 80)
        store.conn.execute(
            "INSERT INTO mentions (source, native_id, brand, author, text, created_at, collected_at, thread_key, "
            "label) VALUES ('x', 'other', 'Brightwave', 'ben_t', 'same here', ?, ?, 'x:1', 'negative')",
            ("2026-11-20T12:05:00Z", "2026-11-20T12:05:00Z"),
        )
        assert evaluate_pending(store, config, at(20, 13)).alerts_enqueued == 1


def test_expired_silence_stops_muting(tmp_path):
    config = _config(tmp_path)
    with Store(config.db_path) as store:
        s = add_silence(store, "thread", "x:1", at(25), now=at(20, 9))
        expire_silence(store, s.id, now=at(20, 9, 30))
        put_thread(store, "x:1", 80)
        assert evaluate_pending(store, config, at(20, 10)).alerts_enqueued == 1
        assert list_silences(store, at(20, 10)) == []


def test_silence_cli_adds_lists_expires_and_rejects_bad_input(tmp_path):
    config = _config(tmp_path)
    path = str(config.path)
    runner = CliRunner()
    added = runner.invoke(cli, ["alerts", "silence", "add", "--keyword", "outage", "--for", "2h",
                                "--comment", "status page is up", "--config", path])
    assert added.exit_code == 0, added.output
    assert "silence 1: keyword = outage until" in added.output
    listed = runner.invoke(cli, ["alerts", "silence", "list", "--config", path])
    assert "outage" in listed.output and "status page is up" in listed.output
    assert runner.invoke(cli, ["alerts", "silence", "expire", "1", "--config", path]).exit_code == 0
    assert "No silences." in runner.invoke(cli, ["alerts", "silence", "list", "--config", path]).output
    bad = runner.invoke(cli, ["alerts", "silence", "add", "--keyword", "x", "--for", "soon", "--config", path])
    assert bad.exit_code == 2 and "'soon' is not a duration" in bad.output
    both = runner.invoke(cli, ["alerts", "silence", "add", "--keyword", "x", "--author", "y", "--for", "1h",
                               "--config", path])
    assert both.exit_code == 2 and "exactly one of --author" in both.output
    missing = runner.invoke(cli, ["alerts", "silence", "expire", "99", "--config", path])
    assert missing.exit_code == 2 and "no silence with id 99" in missing.output


def test_parse_until_takes_durations_and_times():
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert parse_until("90m", now) == now + timedelta(minutes=90)
    assert parse_until("2026-12-01T09:00Z", now) == datetime(2026, 12, 1, 9, tzinfo=UTC)
    with pytest.raises(UserError):
        parse_until("next tuesday", now)


# ----------------------------------------------------------------- grouping and cooldown
def test_group_by_brand_with_group_wait_sends_a_burst_as_one_digest(tmp_path):
    config = _config(tmp_path, 'group_by = ["brand"]\ngroup_wait_seconds = 120\ngroup_interval_minutes = 30')
    rec = _recorder(config)
    with Store(config.db_path) as store:
        for i in range(3):
            put_thread(store, f"x:{i}", 60 + i)
            _cycle(store, config, rec, at(20, 10, 0) + timedelta(seconds=30 * i))
        assert rec.sent == []  # still waiting for the burst to finish
        _cycle(store, config, rec, at(20, 10, 3))
        assert len(rec.sent) == 1
        digest = rec.sent[0][0]
        assert digest.kind == "digest" and len(digest.grouped) == 3 and "3 alerts about Brightwave" in digest.title
        put_thread(store, "x:9", 70)
        _cycle(store, config, rec, at(20, 10, 10))
        assert len(rec.sent) == 1  # group_interval: the next notice for this group waits
        _cycle(store, config, rec, at(20, 10, 34))
        assert len(rec.sent) == 2 and rec.sent[1][0].thread_key == "x:9"


def test_cooldown_holds_the_next_alert_of_a_thread_and_sends_only_the_loudest(tmp_path):
    config = _config(tmp_path, "group_interval_minutes = 0\ncooldown_minutes = 30")
    alerts_levels = config.alerts.levels
    assert alerts_levels == {"warning": 50, "critical": 75}
    rec = _recorder(config)
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 55)
        _cycle(store, config, rec, at(20, 10))
        put_thread(store, "x:1", 80)
        _cycle(store, config, rec, at(20, 10, 10))
        assert len(rec.sent) == 1
        assert store.scalar("SELECT hold FROM outbox WHERE level = 'critical'") == "cooldown"
        _cycle(store, config, rec, at(20, 10, 31))
    assert [a.level for a, _, _ in rec.sent] == ["warning", "critical"]


# ----------------------------------------------------------------- quiet hours and the cap
def test_quiet_hours_hold_alerts_and_send_one_digest_when_they_end(tmp_path):
    quiet = 'quiet_hours = { start = "22:00", end = "07:00", timezone = "Europe/London", except_levels = ["critical"] }'
    config = _config(tmp_path, receiver_extra="max_per_hour = 0\n" + quiet)
    rec = _recorder(config)
    night = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)  # 23:00 in London in November
    with Store(config.db_path) as store:
        for i in range(3):
            put_thread(store, f"x:{i}", 55 + i)
        put_thread(store, "x:hot", 90)
        report = _cycle(store, config, rec, night)
        assert [a.level for a, _, _ in rec.sent] == ["critical"]  # critical still wakes someone
        assert report.held == 3
        _cycle(store, config, rec, datetime(2026, 11, 21, 6, 59, tzinfo=UTC))
        assert len(rec.sent) == 1
        _cycle(store, config, rec, datetime(2026, 11, 21, 7, 0, tzinfo=UTC))
    assert len(rec.sent) == 2
    digest = rec.sent[1][0]
    assert digest.kind == "digest" and len(digest.grouped) == 3
    assert digest.title.startswith("3 alerts held during quiet hours")
    assert "Quiet hours 22:00–07:00 Europe/London" in digest.note


def test_a_held_alert_is_dropped_when_its_thread_already_went_out_louder(tmp_path):
    quiet = 'quiet_hours = { start = "22:00", end = "07:00", timezone = "UTC", except_levels = ["critical"] }'
    config = _config(tmp_path, receiver_extra="max_per_hour = 0\n" + quiet)
    rec = _recorder(config)
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 55)
        put_thread(store, "x:2", 55)
        _cycle(store, config, rec, datetime(2026, 11, 20, 23, 0, tzinfo=UTC))
        put_thread(store, "x:1", 90)  # the same thread turns critical in the night: sent at once
        _cycle(store, config, rec, datetime(2026, 11, 21, 2, 0, tzinfo=UTC))
        _cycle(store, config, rec, datetime(2026, 11, 21, 7, 0, tzinfo=UTC))
    assert [(a.kind, a.thread_key, a.level) for a, _, _ in rec.sent] == [
        ("thread", "x:1", "critical"), ("thread", "x:2", "warning")]
    assert "held during quiet hours" in rec.sent[1][0].note


def test_quiet_until_handles_zones_and_overnight_ranges():
    q = QuietHours(start="22:00", end="07:00", timezone="America/New_York")
    assert quiet_until(q, datetime(2026, 11, 20, 12, tzinfo=UTC)) is None  # 07:00 in New York
    assert quiet_until(q, datetime(2026, 11, 21, 4, tzinfo=UTC)) == datetime(2026, 11, 21, 12, tzinfo=UTC)
    day = QuietHours(start="12:00", end="13:00", timezone="UTC")
    assert quiet_until(day, datetime(2026, 11, 20, 12, 30, tzinfo=UTC)) == datetime(2026, 11, 20, 13, tzinfo=UTC)


def test_the_hourly_cap_holds_the_overflow_and_summarises_it(tmp_path):
    config = _config(tmp_path, receiver_extra="max_per_hour = 2")
    rec = _recorder(config)
    with Store(config.db_path) as store:
        for i in range(5):
            put_thread(store, f"x:{i}", 60)
        report = _cycle(store, config, rec, at(20, 10))
        assert report.messages == 2 and report.held == 3
        _cycle(store, config, rec, at(20, 10, 30))
        assert len(rec.sent) == 2  # still within the hour
        _cycle(store, config, rec, at(20, 11, 1))
    assert len(rec.sent) == 3
    overflow = rec.sent[2][0]
    assert overflow.kind == "digest" and len(overflow.grouped) == 3
    assert "held back by the hourly limit for rec" in overflow.title


def test_alerts_list_shows_held_and_delivered(tmp_path):
    config = _config(tmp_path, receiver_extra="max_per_hour = 1")
    rec = _recorder(config)
    with Store(config.db_path) as store:
        put_thread(store, "x:1", 60)
        put_thread(store, "x:2", 60)
        _cycle(store, config, rec, at(20, 10))
    out = CliRunner().invoke(cli, ["alerts", "list", "--config", str(config.path)], terminal_width=200)
    assert out.exit_code == 0, out.output
    assert "single" in out.output and "held (cap)" in out.output


@pytest.mark.sqlite_only("counts statements with sqlite3's trace callback")
def test_the_group_hold_is_a_seek_not_a_scan_of_the_receivers_outbox(tmp_path):
    """A 100k import spent 15 minutes here: each new alert read every outbox row of its receiver.
    The question hold_until asks now walks the (receiver, group_key, due time) index of pending rows."""
    from alerts.noise import hold_until
    from listener.config import RuleConfig

    store = Store(tmp_path / "o.db")
    now = at(20)
    rows = [(f"k{i}", "support", "rule", f"t{i}", "warning", "{}", "2026-11-20T11:00:00Z", f"rule|thread=t{i}")
            for i in range(3000)]
    rows.append(("k-late", "support", "rule", "late", "warning", "{}", "2026-11-20T12:05:00Z", "rule|thread=late"))
    store.conn.executemany(
        "INSERT INTO outbox (idem_key, receiver, rule, thread_key, level, payload, created_at, group_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    asked: list[str] = []
    store.conn.set_trace_callback(asked.append)
    rule = RuleConfig(name="rule", receivers=["support"])
    until, why = hold_until(store, rule, "support", "rule|thread=late", "late", now)
    store.conn.set_trace_callback(None)
    assert (until, why) == (datetime(2026, 11, 20, 12, 5, tzinfo=UTC), "group")  # joins the pending flush
    question = next(sql for sql in asked if "group_key" in sql and "outbox" in sql)
    plan = " ".join(r[3] for r in store.conn.execute("EXPLAIN QUERY PLAN " + question))
    assert "USING INDEX outbox_group_pending (receiver=? AND group_key=?)" in plan and "TEMP B-TREE" not in plan
