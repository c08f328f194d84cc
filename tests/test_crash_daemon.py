"""Crash safety: `overheard run` killed with SIGKILL at random moments, many times, then restarted.

Mentions arrive between restarts from two sources: export files (the file source) and a search API
over HTTP with a since_id cursor. Alerts go to four receivers: an alert file, a generic JSON webhook
(the real webhook channel, with its Idempotency-Key header), a Slack bot (the real slack_bot channel:
chat.postMessage through slack_sdk's WebClient) and a Slack incoming webhook (slack_webhook), both
on a Slack-compatible server on 127.0.0.1. At the end every mention the sources served is stored
exactly once and every alert reached every receiver: the file exactly once; the webhook exactly
once per idempotency key (a receiver that drops keys it has seen gets each alert once); the Slack
bot exactly once — a message in the channel per alert, never two, because a row marked "sending"
but not delivered is looked up in the channel history (by the key in the message metadata) before
posting again; the incoming webhook at least once — it cannot be asked whether a post was made, so
a kill between Slack accepting a post and the outbox marking it can repeat that one post. The test
counts those repeats and allows at most one per kill. The kills are seeded, so a failure can be
replayed: the seed and the kill times are in the assertion message.
"""

from __future__ import annotations

import json
import os
import random
import re
import time

import pytest

from tests.daemon_fakes import FakeSearchApi
from tests.daemon_helpers import (
    ANGRY,
    FAST_DAEMON,
    FILE_SOURCE,
    append_jsonl,
    db_query,
    log_events,
    rows_for_thread,
    start_daemon,
    stop_daemon,
    tail,
    wait_for,
)
from tests.fakes_slack.server import FakeSlack, WebhookReceiver
from tests.helpers import write_config

SEED = int(os.environ.get("OVERHEARD_CRASH_SEED", "20261124"))  # set it to explore other kill times
CYCLES = int(os.environ.get("OVERHEARD_CRASH_CYCLES", "14"))

CONFIG = FILE_SOURCE + """

# Hundreds of alerts in a minute: the hourly cap per receiver (which would send the overflow as a
# digest) is off, so each alert is a message the test can count.
[[alerts.receivers]]
name = "support"
type = "file"
path = "alerts.jsonl"
max_per_hour = 0

[sources.api_ok]
interval_minutes = 0.005
base_url = "{api}"

[[alerts.receivers]]
name = "hook"
type = "webhook"
url = "{hook}"
max_per_hour = 0

[[alerts.receivers]]
name = "slack"
type = "slack_bot"
token_env = "CRASH_TEST_SLACK_TOKEN"
channel = "#support-alerts"
base_url = "{slack_api}"
max_per_hour = 0

[[alerts.receivers]]
name = "slackhook"
type = "slack_webhook"
url_env = "CRASH_TEST_SLACK_URL"
max_per_hour = 0

[[alerts.rules]]
name = "all"
min_risk = 0
receivers = ["support", "hook", "slack", "slackhook"]

[alerts.levels]
warning = 10
""" + FAST_DAEMON


def _started(log, pid: int) -> bool:
    return any(e.get("event") == "daemon_started" and e.get("pid") == pid for e in log_events(log))


def _what_the_kills_hit(log) -> str:
    """A summary for the report: how many killed daemons had stored mentions or sent alerts first."""
    by_pid: dict[int, set[str]] = {}
    pid = None
    for e in log_events(log):
        if e.get("event") == "daemon_started":
            pid = e["pid"]
            by_pid[pid] = set()
        elif pid is not None:
            if e.get("event") == "run" and e.get("new"):
                by_pid[pid].add("stored")
            if e.get("event") == "run" and e.get("duplicates"):
                by_pid[pid].add("refetched")
            if e.get("event") in ("alert_delivered", "processed"):
                by_pid[pid].add(e["event"])
    counts = {k: sum(k in v for v in by_pid.values()) for k in ("stored", "refetched", "processed", "alert_delivered")}
    return f"{len(by_pid)} daemons started; of them {counts}"


def _received(path, live: bool = False) -> list[str]:
    """The idem keys in the alert file. `live`: the daemon may be appending right now, so a last line
    without its newline is one being written (a reader can see part of a write), not a torn one."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace" if live else "strict")
    if live:
        text = text[:text.rfind("\n") + 1]
    keys = []
    for n, line in enumerate(text.splitlines(), 1):
        assert line.strip(), f"alerts.jsonl:{n} is empty"
        keys.append(json.loads(line)["idem_key"])  # a torn line would fail here
    return keys


@pytest.fixture
def fakes(monkeypatch):
    api, slack, hook = FakeSearchApi(), FakeSlack().start(), WebhookReceiver().start()
    monkeypatch.setenv("CRASH_TEST_SLACK_URL", slack.webhook_url)  # the daemon subprocess inherits them
    monkeypatch.setenv("CRASH_TEST_SLACK_TOKEN", slack.token)
    yield api, slack, hook
    api.close()
    slack.stop()
    hook.stop()


def _thread_of(post: dict) -> str:
    """Which thread a Slack post is about, from the people quoted in it."""
    text = json.dumps(post)
    found = re.search(r"(t\d+)-user\d", text)
    if found:
        return f"x:{found.group(1)}-0"
    found = re.search(r"@p(\d+)", text)
    assert found, text[:300]
    return f"api_ok:{1000 + int(found.group(1))}"


def test_kill_9_at_random_moments_loses_nothing_and_sends_nothing_twice(tmp_path, fakes):
    api, slack, hook = fakes
    rng = random.Random(SEED)
    (tmp_path / "in").mkdir()
    config = write_config(tmp_path, CONFIG.format(api=api.url, hook=hook.url, slack_api=slack.api_url))
    db, log, alerts = tmp_path / "overheard.db", tmp_path / "daemon.log", tmp_path / "alerts.jsonl"
    served: set[str] = set()
    served_api: set[str] = set()
    angry_threads: set[str] = set()
    kills: list[float] = []
    thread_no = 0
    for _ in range(CYCLES):
        # New mentions arrive between restarts: a few threads into one of three export files,
        # sometimes hundreds at once so a kill can land inside a batch or a scoring chunk.
        for _ in range(rng.choice([1, 2, 3, 10, 40])):
            angry = rng.random() < 0.5
            rows = rows_for_thread(f"t{thread_no}", angry)
            append_jsonl(tmp_path / "in" / f"export{thread_no % 3}.jsonl", rows)
            served.update(r["id"] for r in rows)
            if angry:
                angry_threads.add(f"x:t{thread_no}-0")
            thread_no += 1
        for _ in range(rng.choice([0, 1, 3, 20])):  # and posts on the API, each its own thread
            angry = rng.random() < 0.4
            (native_id,) = api.add(1, "p", text=ANGRY[1] if angry else None)
            served_api.add(native_id)
            if angry:
                angry_threads.add(f"api_ok:{native_id}")
        proc = start_daemon(config, log)
        try:
            if rng.random() < 0.8:  # mostly kill once it works; sometimes during start-up and migrations
                wait_for(lambda p=proc: _started(log, p.pid), 15, "start-up", proc, log)
            delay = rng.uniform(0.0, 0.7)
            kills.append(round(delay, 3))
            time.sleep(delay)
        finally:
            proc.kill()
            proc.wait()

    # The last run is left alone until everything is done, then stopped gracefully.
    proc = start_daemon(config, log)
    expected_alerts = {f"{t}|all|warning|{r}" for t in angry_threads
                       for r in ("support", "hook", "slack", "slackhook")}
    to_file = {k for k in expected_alerts if k.endswith("|support")}
    to_hook = {k for k in expected_alerts if k.endswith("|hook")}
    to_bot = {k for k in expected_alerts if k.endswith("|slack")}

    def settled() -> bool:
        stored = db_query(db, "SELECT COUNT(*) FROM mentions")
        pending = db_query(db, "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL")
        unscored = db_query(db, "SELECT COUNT(*) FROM mentions WHERE scored_at IS NULL")
        work = db_query(db, "SELECT COUNT(*) FROM threads WHERE dirty = 1 OR alert_pending = 1")
        return bool(stored and stored[0][0] == len(served) + len(served_api) and pending == [(0,)]
                    and unscored == [(0,)] and work == [(0,)] and len(_received(alerts, live=True)) >= len(to_file))

    replay = f"seed {SEED}, kill delays {kills}"
    try:
        wait_for(lambda: _started(log, proc.pid), 15, "start-up", proc, log)
        try:
            # Scoring the backlog (second looks by the strong model) is CPU work: on a busy 2-core machine it
            # takes a minute, so the bound is generous (the wait ends as soon as everything is done).
            wait_for(settled, 150, f"the restarted daemon to catch up ({replay})", proc, log)
        except AssertionError as exc:
            missing = sorted(to_file - set(_received(alerts, live=True)))
            left = {what: db_query(db, sql) for what, sql in (
                ("unscored", "SELECT COUNT(*) FROM mentions WHERE scored_at IS NULL"),
                ("threads pending", "SELECT COUNT(*) FROM threads WHERE dirty = 1 OR alert_pending = 1"),
                ("undelivered", "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL"))}
            raise AssertionError(f"{exc}\nstill to do: {left}\nalerts missing from the file: {missing[:20]}") from None
    finally:
        code = stop_daemon(proc)
    assert code == 0, tail(log)

    native_ids = [r[0] for r in db_query(db, "SELECT native_id FROM mentions WHERE source = 'x'")]
    assert len(native_ids) == len(set(native_ids)) == len(served), replay
    assert set(native_ids) == served, replay
    api_ids = [r[0] for r in db_query(db, "SELECT native_id FROM mentions WHERE source = 'api_ok'")]
    assert sorted(api_ids) == sorted(served_api), replay

    received = _received(alerts)
    duplicates = sorted({k for k in received if received.count(k) > 1})
    assert not duplicates, f"alerts delivered twice: {duplicates[:5]} ({replay})"
    assert set(received) == to_file, (
        f"missing {sorted(to_file - set(received))[:5]}, unexpected "
        f"{sorted(set(received) - to_file)[:5]} ({replay})")
    hooked = [r.headers["idempotency-key"] for r in hook.received]
    assert set(hooked) == to_hook, f"webhook missing {sorted(to_hook - set(hooked))[:5]} ({replay})"
    hook_repeats = len(hooked) - len(set(hooked))
    # The Slack bot: one message per alert, each carrying its key, and the outbox points at that message.
    bot_messages = slack.top_level()
    bot_keys = [(m.metadata or {}).get("event_payload", {}).get("idem_key") for m in bot_messages]
    bot_repeats = len(bot_keys) - len(set(bot_keys))
    assert not bot_repeats, (f"Slack bot posted twice: {sorted({k for k in bot_keys if bot_keys.count(k) > 1})[:5]}"
                             f" ({replay})")
    assert set(bot_keys) == to_bot, f"Slack bot missing {sorted(to_bot - set(bot_keys))[:5]} ({replay})"
    assert {_thread_of({"text": m.text, "blocks": m.blocks}) for m in bot_messages} == angry_threads, replay
    refs = dict(db_query(db, "SELECT idem_key, external_ref FROM outbox WHERE receiver = 'slack'"))
    assert refs == {k: f"C0SUPPORT:{m.ts}" for k, m in zip(bot_keys, bot_messages, strict=True)}, replay
    lookups = len(slack.api_calls("conversations.history"))
    kept_once = sum("|slack to slack was already delivered before a restart" in (e.get("message") or "")
                    for e in log_events(log))
    posted = [_thread_of(p) for p in slack.webhook_posts]
    assert set(posted) == angry_threads, f"Slack missing {sorted(angry_threads - set(posted))[:5]} ({replay})"
    slack_repeats = len(posted) - len(set(posted))
    assert hook_repeats <= CYCLES and slack_repeats <= CYCLES, replay  # at most the post in flight at a kill
    outbox = db_query(db, "SELECT idem_key, delivered_at FROM outbox")
    assert {k for k, _ in outbox} == expected_alerts and all(d for _, d in outbox), replay
    queue_items = db_query(db, "SELECT thread_key FROM queue_items")
    assert sorted(t for (t,) in queue_items) == sorted(angry_threads), replay
    # The run records add up even across kills: each batch moved its run's counts in its transaction.
    assert db_query(db, "SELECT SUM(new) FROM runs")[0][0] == len(served) + len(served_api), replay
    print(f"crash test: {CYCLES} kill -9 cycles, {len(served) + len(served_api)} mentions, "
          f"{len(expected_alerts)} alerts; repeated by a kill: webhook {hook_repeats} (dropped by key), "
          f"Slack incoming webhook {slack_repeats}, Slack bot {bot_repeats} "
          f"({lookups} history lookups after a kill found {kept_once} posts already made); "
          f"{_what_the_kills_hit(log)}")
