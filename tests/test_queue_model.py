"""The queue model: every transition, the illegal ones, the audit trail, SLAs, reopen and recovery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from alerts.queue import ItemFilter, Queue
from alerts.rules import enqueue_system_alert
from alerts.users import add_user
from listener.errors import UserError
from listener.models import Batch, Mention, iso
from listener.pipeline import process
from listener.store import Store
from tests.queue_support import angry_thread, flagged_items, write_config


@pytest.fixture
def env(tmp_path):
    config = write_config(tmp_path)
    store = Store(config.db_path)
    ids = flagged_items(config, store, threads=2)
    for name, role in (("alice", "agent"), ("bob", "agent"), ("carol", "agent"), ("root", "admin")):
        add_user(store, name, role, "a long password")
    yield config, store, Queue(store, config.queue), ids
    store.close()


def actions(queue: Queue, item_id: int) -> list[tuple[str, str]]:
    return [(e["actor"], e["action"]) for e in queue.events(item_id)]


def test_flagged_threads_open_one_item_each_and_new_mentions_join_it(env):
    config, store, queue, ids = env
    assert len(ids) == 2
    item = queue.get(ids[0])
    assert (item.state, item.priority, item.author) == ("new", "high", "customer0")  # risk 76: a 4-post pile-on
    assert item.first_response_due and item.resolution_due
    # another mention in the same thread joins the item instead of opening a second one
    store.save_batch("x", "test", Batch(mentions=[Mention(
        source="x", native_id="t0-extra", text="Brightwave still down, awful, refund me", brand="Brightwave",
        created_at=datetime.now(UTC), thread_id="t0-0", author="late", author_followers=10)]))
    process(config, store, channels={})
    assert store.scalar("SELECT COUNT(*) FROM queue_items") == 2
    assert queue.get(ids[0]).mentions == 5


def test_the_happy_path_new_claimed_replied_waiting_resolved(env):
    _, _, queue, ids = env
    item_id = ids[0]
    assert queue.claim(item_id, "alice").state == "claimed"
    replied = queue.mark_replied(item_id, "alice", note="answered on X")
    assert replied.state == "replied" and replied.first_response_at
    assert queue.mark_waiting(item_id, "alice").state == "waiting"
    assert queue.mark_replied(item_id, "alice").state == "replied"
    done = queue.resolve(item_id, "alice", "moved_to_dm")
    assert (done.state, done.outcome, done.recovery) == ("resolved", "moved_to_dm", "watching")
    assert actions(queue, item_id) == [
        ("overheard", "created"), ("alice", "claimed"), ("alice", "replied"), ("alice", "note"),
        ("alice", "waiting"), ("alice", "replied"), ("alice", "resolved")]
    assert queue.events(item_id)[3]["detail"] == {"text": "answered on X"}


def test_dismiss_snooze_wake_reopen_assign_unassign(env):
    _, _, queue, ids = env
    a, b = ids
    assert queue.dismiss(a, "bob", "duplicate").dismiss_reason == "duplicate"
    back = queue.reopen(a, "bob", reason="not a duplicate after all")
    assert back.state == "new" and back.dismiss_reason is None and back.reopened == 1
    queue.assign(b, "carol", "admin")
    snoozed = queue.snooze(b, "carol", datetime.now(UTC) + timedelta(hours=3))
    assert snoozed.state == "snoozed" and snoozed.snoozed_until
    assert queue.wake(b, "carol").state == "claimed"  # back to the state it had
    assert queue.unassign(b, "carol").state == "new"
    assert [x for _, x in actions(queue, b)] == ["created", "assigned", "snoozed", "woke", "unassigned"]


@pytest.mark.parametrize("setup, action, message", [
    ([], lambda q, i: q.mark_replied(i, "alice"), "is new: cannot mark it replied; claim it first"),
    ([], lambda q, i: q.mark_waiting(i, "alice"), "is new: cannot set it waiting on the customer; claim it first"),
    ([], lambda q, i: q.wake(i, "alice"), "is new: cannot wake it; that is only possible when it is snoozed"),
    ([], lambda q, i: q.unassign(i, "alice"), "is new: cannot unassign it; claim it first"),
    ([], lambda q, i: q.reopen(i, "alice"), "only resolved or dismissed items can be reopened"),
    ([], lambda q, i: q.resolve(i, "alice", "hugs"), "outcome 'hugs': must be one of"),
    ([], lambda q, i: q.dismiss(i, "alice", "boring"), "reason 'boring': must be one of"),
    ([], lambda q, i: q.snooze(i, "alice", datetime(2020, 1, 1, tzinfo=UTC)), "that time has passed"),
    ([], lambda q, i: q.note(i, "alice", "   "), "note: must not be empty"),
    (["claim"], lambda q, i: q.claim(i, "alice"), "is already yours"),
    (["claim"], lambda q, i: q.claim(i, "bob"), "is claimed by alice; only an admin can take it over"),
    (["resolve"], lambda q, i: q.claim(i, "bob"), "is resolved: cannot claim it; reopen it first"),
    (["resolve"], lambda q, i: q.resolve(i, "bob", "other"), "is resolved: cannot resolve it; reopen it first"),
    (["resolve"], lambda q, i: q.snooze(i, "bob"), "is resolved: cannot snooze it; reopen it first"),
    (["resolve"], lambda q, i: q.dismiss(i, "bob", "spam"), "is resolved: cannot dismiss it; reopen it first"),
    (["dismiss"], lambda q, i: q.mark_replied(i, "bob"), "is dismissed: cannot mark it replied; reopen it first"),
    (["snooze"], lambda q, i: q.mark_replied(i, "bob"), "is snoozed: cannot mark it replied; wake it first"),
    ([], lambda q, i: q.get(9999), "queue item 9999: no such item"),
])
def test_illegal_moves_are_one_clear_line_and_change_nothing(env, setup, action, message):
    _, store, queue, ids = env
    item_id = ids[0]
    for step in setup:
        {"claim": lambda: queue.claim(item_id, "alice"),
         "resolve": lambda: queue.resolve(item_id, "alice", "answered_publicly"),
         "dismiss": lambda: queue.dismiss(item_id, "alice", "spam"),
         "snooze": lambda: queue.snooze(item_id, "alice")}[step]()
    before = store.query("SELECT * FROM queue_items WHERE id = ?", (item_id,))
    events_before = len(queue.events(item_id))
    with pytest.raises(UserError) as err:
        action(queue, item_id)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert store.query("SELECT * FROM queue_items WHERE id = ?", (item_id,)) == before
    assert len(queue.events(item_id)) == events_before


def test_an_admin_can_take_over_and_the_trail_says_from_whom(env):
    _, _, queue, ids = env
    queue.claim(ids[0], "alice")
    item = queue.claim(ids[0], "root", take_over=True)
    assert item.assignee == "root"
    assert queue.events(ids[0])[-1]["detail"]["from"] == "alice"


def test_snoozes_end_by_themselves_on_the_clock(env):
    config, _, queue, ids = env
    queue.claim(ids[0], "alice")
    now = datetime.now(UTC)
    queue.snooze(ids[0], "alice", now + timedelta(minutes=30))
    assert queue.tick(config, now + timedelta(minutes=10), send_alert=enqueue_system_alert).woken == 0
    assert queue.tick(config, now + timedelta(minutes=31), send_alert=enqueue_system_alert).woken == 1
    item = queue.get(ids[0])
    assert item.state == "claimed" and item.snoozed_until is None
    assert queue.events(ids[0])[-1]["actor"] == "overheard"


def test_tags_and_relabel_are_events_and_relabel_feeds_the_learning_loop(env):
    _, store, queue, ids = env
    item = queue.tag(ids[0], "alice", add=["VIP", "billing issue"])
    assert item.tags == ["billing-issue", "vip"]
    assert queue.tag(ids[0], "alice", remove=["vip"]).tags == ["billing-issue"]
    mention_id = queue.thread_mentions(item)[1]["id"]
    queue.relabel(ids[0], mention_id, "neutral", "alice")
    assert store.query("SELECT label, actor FROM labels") == [{"label": "neutral", "actor": "alice"}]
    assert store.scalar("SELECT label FROM mentions WHERE id = ?", (mention_id,)) == "neutral"
    assert queue.events(ids[0])[-1]["detail"] == {"mention_id": mention_id, "from": "negative", "to": "neutral"}
    other_thread_mention = queue.thread_mentions(queue.get(ids[1]))[0]["id"]
    with pytest.raises(UserError, match="not in queue item"):
        queue.relabel(ids[0], other_thread_mention, "neutral", "alice")


def test_sla_breach_raises_one_alert_per_item_and_target(env):
    config, store, queue, ids = env
    item = queue.get(ids[0])
    late = datetime.fromisoformat(item.first_response_due) + timedelta(minutes=1)
    assert queue.sla(item, late).status == "breached"
    report = queue.tick(config, late, send_alert=enqueue_system_alert)
    assert report.breaches == 2 and report.alerts == 2  # first response of both items, one receiver
    assert queue.tick(config, late + timedelta(minutes=5), send_alert=enqueue_system_alert).alerts == 0  # never twice
    rows = store.query("SELECT thread_key, level, payload FROM outbox WHERE rule = 'sla' ORDER BY id")
    assert [(r["thread_key"], r["level"]) for r in rows] == [
        (f"queue-item:{ids[0]}", "sla-first-response"), (f"queue-item:{ids[1]}", "sla-first-response")]
    payload = json.loads(rows[0]["payload"])
    assert payload["kind"] == "sla" and "nobody has claimed it" in payload["reasons"]
    # the resolution target breaches later: a second, different alert
    much_later = datetime.fromisoformat(item.resolution_due) + timedelta(minutes=1)
    assert queue.tick(config, much_later, send_alert=enqueue_system_alert).alerts == 2
    breaches = [e["detail"]["target"] for e in queue.events(ids[0]) if e["action"] == "sla_breach"]
    assert breaches == ["first_response", "resolution"]


def test_items_about_to_breach_rise_to_the_top(env):
    _, store, queue, ids = env
    now = datetime.now(UTC)
    store.conn.execute("UPDATE queue_items SET first_response_due = ? WHERE id = ?",
                       (iso(now + timedelta(minutes=10)), ids[1]))
    listed = queue.list(ItemFilter())
    assert [i.id for i in listed] == [ids[1], ids[0]]
    assert queue.sla(listed[0], now).status == "due soon"
    assert [i.id for i in queue.list(ItemFilter(sort="oldest"))] == ids


def test_waiting_on_the_customer_pauses_the_resolution_clock(env):
    _, _, queue, ids = env
    now = datetime.now(UTC)
    queue.claim(ids[0], "alice", now=now)
    before = queue.mark_waiting(ids[0], "alice", now=now).resolution_due
    after = queue.mark_replied(ids[0], "alice", now=now + timedelta(hours=5)).resolution_due
    shift = datetime.fromisoformat(after) - datetime.fromisoformat(before)
    assert shift == timedelta(hours=5)


def test_a_resolved_thread_that_turns_negative_again_is_reopened(env):
    config, store, queue, ids = env
    queue.claim(ids[0], "alice")
    queue.resolve(ids[0], "alice", "answered_publicly")
    store.save_batch("x", "test", Batch(mentions=[Mention(
        source="x", native_id="t0-again", text="Brightwave outage AGAIN. Awful, refund me, I hate this",
        brand="Brightwave", created_at=datetime.now(UTC), thread_id="t0-0", author="customer0",
        author_followers=90_000)]))
    process(config, store, channels={})
    item = queue.get(ids[0])
    assert item.state == "claimed" and item.assignee == "alice" and item.outcome is None and item.reopened == 1
    last = queue.events(ids[0])[-1]
    assert (last["actor"], last["action"], last["detail"]["why"]) == (
        "overheard", "reopened", "the thread turned negative again")


def test_close_the_loop_recovered_and_still_unhappy(env):
    config, store, queue, ids = env
    now = datetime.now(UTC)
    for item_id in ids:
        queue.claim(item_id, "alice", now=now - timedelta(hours=1))
        queue.resolve(item_id, "alice", "refund", now=now - timedelta(hours=1))
    happy = Mention(source="x", native_id="c0-next", text="Thanks Brightwave, refund arrived, great support!",
                    brand="Brightwave", created_at=now - timedelta(minutes=5), author="customer0")
    sad = Mention(source="x", native_id="c1-next", text="Brightwave still awful, terrible, worst ever",
                  brand="Brightwave", created_at=now - timedelta(minutes=5), author="customer1")
    store.save_batch("x", "test", Batch(mentions=[happy, sad]))
    process(config, store, channels={})
    assert queue.get(ids[0]).recovery == "recovered"
    assert queue.get(ids[1]).recovery == "still unhappy"
    assert queue.stats()["recovery_rate"] == 0.5
    assert queue.events(ids[0])[-1]["action"] == "recovery"


def test_an_author_who_never_comes_back_is_silent_after_the_window(env):
    config, _, queue, ids = env
    old = datetime.now(UTC) - timedelta(days=20)
    queue.resolve(ids[0], "alice", "other", now=old)
    queue.tick(config, send_alert=enqueue_system_alert)
    assert queue.get(ids[0]).recovery == "silent"


def test_filters_counts_and_full_text_search(tmp_path):
    config = write_config(tmp_path)
    store = Store(config.db_path)
    angry_thread(store, "a", author="ana", lang="en")
    angry_thread(store, "b", author="bea", source="reddit", lang="de", texts=[
        "Brightwave Rechnung doppelt abgebucht, Betrug, ich kündige. Furchtbar, awful, refund",
        "Brightwave charged me twice too, scam, terrible, cancelling",
        "Brightwave is the worst, refund now, disgusting",
    ])
    process(config, store, channels={})
    queue = Queue(store, config.queue)
    ids = {i.source: i.id for i in queue.list(ItemFilter(state="all"))}
    assert set(ids) == {"x", "reddit"}
    assert [i.source for i in queue.list(ItemFilter(source="reddit"))] == ["reddit"]
    assert [i.source for i in queue.list(ItemFilter(lang="de"))] == ["reddit"]
    # themes come from the sentiment stage (mentions.themes, a JSON list); set one as it would
    store.conn.execute("""UPDATE mentions SET themes = '["outage"]' WHERE native_id = 'a-0'""")
    assert [i.source for i in queue.list(ItemFilter(theme="outage"))] == ["x"]
    assert [i.source for i in queue.list(ItemFilter(search="Rechnung"))] == ["reddit"]
    assert [i.source for i in queue.list(ItemFilter(search="rechn*"))] == ["reddit"]
    assert queue.list(ItemFilter(search='" OR ) NEAR(')) == []  # hostile syntax is just words
    queue.claim(ids["x"], "alice")
    assert [i.source for i in queue.list(ItemFilter(assignee="none"))] == ["reddit"]
    counts = queue.counts()
    assert (counts["new"], counts["claimed"], counts["open"], counts["resolved"]) == (1, 1, 2, 0)
    # the FTS index follows edits made to mention text
    store.conn.execute("UPDATE mentions SET text = 'Brightwave zebra' WHERE native_id = 'a-1'")
    assert [i.source for i in queue.list(ItemFilter(search="zebra"))] == ["x"]
    store.close()


def test_a_breach_is_delivered_by_the_pipeline_once(env):
    config, store, queue, ids = env
    store.conn.execute("UPDATE queue_items SET first_response_due = '2020-01-01T00:00:00Z' WHERE id = ?", (ids[0],))
    process(config, store)  # the real file receiver from the config
    process(config, store)  # a second pass (or a restart) sends nothing again
    lines = [json.loads(line) for line in (config.base_dir / "alerts.jsonl").read_text().splitlines()]
    sla = [line for line in lines if line["kind"] == "sla"]
    assert len(sla) == 1
    assert sla[0]["title"] == f"SLA breached: first response on queue item {ids[0]} (high priority)"
    assert sla[0]["queue_url"].endswith(f"/items/{ids[0]}")
