"""Routing: rules in config, round-robin among agents online, fair across processes, unassigned when nobody is."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from alerts import routing
from alerts.queue import Queue, describe_event
from alerts.users import add_user, set_disabled
from listener.cli import cli
from listener.config import ConfigError
from listener.pipeline import process
from listener.store import Store
from tests.queue_support import angry_thread, write_config

RULES = """
[queue.teams]
care = ["ana", "ben", "cleo"]

[[queue.routing]]
name = "spanish"
languages = ["es"]
agents = ["pilar"]

[[queue.routing]]
name = "brightwave-x"
brands = ["Brightwave"]
sources = ["x"]
team = "care"
"""


@pytest.fixture
def desk(tmp_path):
    config = write_config(tmp_path, extra=RULES)
    store = Store(config.db_path)
    for name in ("ana", "ben", "cleo", "pilar"):
        add_user(store, name, "agent", "a long password")
    yield config, store
    store.close()


def new_thread(config, store, n: int, **kwargs) -> int:
    angry_thread(store, f"r{n}", author=f"customer{n}", **kwargs)
    process(config, store, channels={})
    return store.scalar("SELECT id FROM queue_items ORDER BY id DESC LIMIT 1")


def assignee(store, item_id: int) -> str | None:
    return store.scalar("SELECT assignee FROM queue_items WHERE id = ?", (item_id,))


def test_round_robin_is_fair_across_two_processes_on_one_store(desk):
    config, store = desk
    for name in ("ana", "ben", "cleo"):
        routing.mark_online(store, name)
    other = Store(config.db_path)  # a second process: its own connection, no shared memory
    try:
        got = []
        for n in range(6):
            target = store if n % 2 == 0 else other
            got.append(assignee(store, new_thread(config, target, n)))
        assert got == ["ana", "ben", "cleo", "ana", "ben", "cleo"]
        # a restart (a fresh store and queue) carries on from the stored turn
        restarted = Store(config.db_path)
        got.append(assignee(restarted, new_thread(config, restarted, 6)))
        restarted.close()
        assert got[-1] == "ana"
        assert store.scalar("SELECT turns FROM queue_routing WHERE rule = 'brightwave-x'") == 7
    finally:
        other.close()


def test_offline_agents_are_skipped_and_the_event_names_the_rule(desk):
    config, store = desk
    now = datetime.now(UTC)
    routing.mark_online(store, "ana", now - timedelta(minutes=config.queue.online_minutes + 1))  # gone quiet
    routing.mark_online(store, "ben", now)
    routing.mark_online(store, "cleo", now)
    set_disabled(store, "cleo", True)  # disabled users never get items
    ids = [new_thread(config, store, n) for n in range(3)]
    assert [assignee(store, i) for i in ids] == ["ben", "ben", "ben"]
    q = Queue(store, config.queue)
    item = q.get(ids[0])
    assert item.state == "claimed"
    [assigned] = [e for e in q.events(ids[0]) if e["action"] == "assigned"]
    assert assigned["actor"] == "overheard" and describe_event(assigned) == "assigned to ben by rule brightwave-x"


def test_nobody_online_or_no_rule_leaves_the_item_unassigned(desk):
    config, store = desk
    nobody = new_thread(config, store, 1)  # matches brightwave-x, but nobody has loaded a page
    assert assignee(store, nobody) is None and Queue(store, config.queue).get(nobody).state == "new"
    said = [describe_event(e) for e in Queue(store, config.queue).events(nobody)]
    assert "rule brightwave-x matched, but none of its agents was online: left unassigned" in said
    routing.mark_online(store, "ana")
    unmatched = new_thread(config, store, 2, source="reddit")  # no rule for Reddit
    assert assignee(store, unmatched) is None
    # no routing event at all (an SLA breach of the old post may follow its creation: that is the clock's)
    assert [e["action"] for e in Queue(store, config.queue).events(unmatched)
            if e["action"] not in ("sla_breach", "sla_restarted")] == ["created"]


def test_first_matching_rule_wins_and_language_is_the_first_customer_post(desk):
    config, store = desk
    for name in ("ana", "pilar"):
        routing.mark_online(store, name)
    spanish = new_thread(config, store, 1, lang="es", texts=[
        "@Brightwave otra caída, sin internet seis horas, quiero un reembolso, horrible",
        "Brightwave es un desastre, terrible, nunca más", "Brightwave cobra dos veces, estafa, cancelo"])
    assert assignee(store, spanish) == "pilar"  # also matches brightwave-x, but spanish comes first


def test_a_reopened_unassigned_item_is_routed_again(desk):
    config, store = desk
    item_id = new_thread(config, store, 1)
    q = Queue(store, config.queue)
    q.dismiss(item_id, "ana", "duplicate")
    routing.mark_online(store, "cleo")
    assert q.reopen(item_id, "ana").assignee == "cleo"


def test_logging_out_means_offline(desk):
    config, store = desk
    routing.mark_online(store, "ana")
    assert routing.online_users(store, config.queue) == {"ana"}
    routing.mark_offline(store, "ana")
    assert routing.online_users(store, config.queue) == set()


def test_dry_run_shows_the_turns_and_changes_nothing_then_route_assigns(desk):
    config, store = desk
    ids = [new_thread(config, store, n) for n in range(3)]  # nobody online yet: all unassigned
    routing.mark_online(store, "ben")
    routing.mark_online(store, "cleo")
    runner = CliRunner()
    result = runner.invoke(cli, ["queue", "route", "--dry-run", "--json", "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["online"] == ["ben", "cleo"] and shown["dry_run"] is True
    assert [(d["item_id"], d["assignee"], d["rule"]) for d in shown["items"]] == [
        (ids[0], "ben", "brightwave-x"), (ids[1], "cleo", "brightwave-x"), (ids[2], "ben", "brightwave-x")]
    assert [assignee(store, i) for i in ids] == [None, None, None]
    text = runner.invoke(cli, ["queue", "route", "--config", str(config.path)]).output
    assert "routed" in text and "ben" in text
    assert [assignee(store, i) for i in ids] == ["ben", "cleo", "ben"]


@pytest.mark.parametrize("extra, message", [
    ('[[queue.routing]]\nname = "x"\n', "give either team or agents"),
    ('[[queue.routing]]\nname = "x"\nteam = "nightshift"\n', r"team 'nightshift' is not in \[queue.teams\]"),
    ('[[queue.routing]]\nname = "x"\nagents = ["a"]\n[[queue.routing]]\nname = "x"\nagents = ["b"]\n',
     "given twice"),
])
def test_bad_routing_config_is_one_line(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        write_config(tmp_path, extra=extra)
