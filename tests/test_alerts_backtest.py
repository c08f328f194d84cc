"""Backtest: replay stored history through the current rules without sending or writing the outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from alerts.backtest import run_backtest
from listener.cli import cli
from listener.collect import collect
from listener.config import load_config
from listener.pipeline import process
from listener.store import Store
from tests.fakes_slack import FakeSlack
from tests.helpers import write_config

T0 = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
PILE_ON = ["@BrightwaveHelp whole street offline again, I want a refund", "same here, awful service",
           "this is a scam, chargeback time", "down for me too, terrible", "never again, switching to Lumacell",
           "Brightwave support is useless, furious", "lawyer letter going out today, disgraceful"]


def _history(tmp_path, rules):
    rows = [{"id": f"o{i}", "text": t, "thread_id": "o0", "brand": "Brightwave", "author": f"u{i}",
             "followers": 120_000, "verified": i == 0, "created_at": (T0 + timedelta(minutes=7 * i)).isoformat()}
            for i, t in enumerate(PILE_ON)]
    rows += [{"id": f"c{i}", "text": "Brightwave is fine, nothing to report", "author": f"calm{i}",
              "created_at": (T0 + timedelta(days=1, hours=i)).isoformat()} for i in range(5)]
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    config = load_config(write_config(tmp_path, f"""
    [sources.file]
    [[sources.file.imports]]
    paths = ["in.jsonl"]
    default_source = "x"
    {rules}
    """))
    with Store(config.db_path) as store:
        collect(config, store)
        process(config, store, channels={})  # no receivers: what is stored is the history
        store.conn.execute("DELETE FROM outbox")
    return config


RULES = """
[[alerts.receivers]]
name = "support"
type = "file"
path = "alerts.jsonl"

[[alerts.receivers]]
name = "pager"
type = "file"
path = "pager.jsonl"

[[alerts.rules]]
name = "all-negative"
min_risk = 50
receivers = ["support"]

[[alerts.rules]]
name = "critical-only"
min_level = "critical"
receivers = ["pager"]
"""


def test_backtest_shows_what_would_fire_per_rule_and_receiver_and_when(tmp_path):
    config = _history(tmp_path, RULES)
    with Store(config.db_path) as store:
        result = run_backtest(config, store, T0 - timedelta(hours=1), T0 + timedelta(days=2))
        assert store.scalar("SELECT COUNT(*) FROM outbox") == 0  # the real outbox is untouched
    assert result.mentions_replayed == 12
    by_receiver = {f.receiver: f for f in result.fired if not f.update}
    assert set(by_receiver) == {"support", "pager"}
    support, pager = by_receiver["support"], by_receiver["pager"]
    # It fires while the pile-on is still small: within the first half hour of the thread.
    assert T0 < support.at <= T0 + timedelta(minutes=30)
    assert pager.level == "critical" and support.at <= pager.at
    assert any("refund" in r or "chargeback" in r for r in support.reasons)
    summary = {(rule, rec): n for rule, rec, n, *_ in result.per_rule_receiver()}
    assert summary[("critical-only", "pager")] == 1
    assert not (tmp_path / "alerts.jsonl").exists() and not (tmp_path / "pager.jsonl").exists()


def test_backtest_command_sends_nothing_to_slack(tmp_path, monkeypatch):
    slack = FakeSlack().start()
    try:
        monkeypatch.setenv("OVERHEARD_TEST_SLACK_URL", slack.webhook_url)
        config = _history(tmp_path, """
        [[alerts.receivers]]
        name = "slack"
        type = "slack_webhook"
        url_env = "OVERHEARD_TEST_SLACK_URL"

        [[alerts.rules]]
        name = "threads"
        receivers = ["slack"]
        """)
        since = (datetime.now(UTC) - T0).days + 1
        out = CliRunner().invoke(cli, ["alerts", "backtest", "--since", f"{since}d", "--config", str(config.path)],
                                 terminal_width=200)
        assert out.exit_code == 0, out.output
        assert "Replayed 12 mentions" in out.output and "nothing was sent" in out.output
        assert "threads" in out.output and "slack" in out.output and "why:" in out.output
        assert slack.requests == []
        bad = CliRunner().invoke(cli, ["alerts", "backtest", "--since", "a while", "--config", str(config.path)])
        assert bad.exit_code == 2 and "--since 'a while'" in bad.output
    finally:
        slack.stop()
