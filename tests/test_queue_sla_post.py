"""SLA clocks that start at the customer's post ([queue] sla_starts), the reason shown, old imports,
upgrading items queued before, and no alert storm when many items are overdue at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from alerts import queue as queue_module
from alerts.queue import Queue, customer_post_at
from alerts.rules import enqueue_system_alert
from listener.models import Batch, Mention, iso
from listener.pipeline import process
from listener.store import Store
from tests.queue_support import angry_thread, write_config

OFFICE = """
[queue]
timezone = "Europe/London"
business_days = ["mon", "tue", "wed", "thu", "fri"]
business_start = "09:00"
business_end = "17:00"
"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def requeue(config, store: Store, now: datetime) -> list[int]:
    """Queue the flagged threads again as if the pipeline had run at `now` (the real upsert)."""
    threads = store.query("SELECT * FROM threads WHERE thread_key IN (SELECT thread_key FROM queue_items) "
                          "ORDER BY thread_key")
    with store.transaction():
        store.conn.execute("DELETE FROM queue_events")
        store.conn.execute("DELETE FROM queue_items")
        ids = [queue_module.upsert_for_thread(store, t, config.queue, now)[0] for t in threads]
    return ids


def test_a_three_day_old_complaint_imported_today_is_overdue(tmp_path):
    config = write_config(tmp_path)
    store = Store(config.db_path)
    posted = datetime.now(UTC) - timedelta(days=3)
    angry_thread(store, "old", author="dana", at=posted)
    process(config, store, channels={})
    queue = Queue(store, config.queue)
    (item,) = queue.list()
    sla = queue.sla(item)
    assert item.sla_basis == "post" and item.post_at == iso(posted)
    assert sla.status == "breached"
    assert sla.label() == "first response overdue by 3.0 d"  # 72 h minus the 1 h target = 71 h ≈ 2.96 d
    assert "1 h from the customer's post at" in sla.reason
    assert sla.post_age == "3.0 d"
    # the list and the item page say it, with the post's age beside the clock
    assert item.first_response_due == iso(posted + timedelta(hours=1))
    store.close()


def test_queued_basis_counts_from_queueing_as_before(tmp_path):
    config = write_config(tmp_path, extra='[queue]\nsla_starts = "queued"\n')
    store = Store(config.db_path)
    angry_thread(store, "old", author="dana", at=datetime.now(UTC) - timedelta(days=3))
    process(config, store, channels={})
    queue = Queue(store, config.queue)
    (item,) = queue.list()
    sla = queue.sla(item)
    assert item.sla_basis == "queued" and sla.status == "ok"
    assert 55 <= sla.minutes_left <= 60
    assert "1 h from when it was queued at" in sla.reason
    assert sla.post_age == "3.0 d"  # the post's age is shown whatever the clock counts from
    store.close()


def test_business_hours_count_from_a_friday_evening_post(tmp_path):
    config = write_config(tmp_path, extra=OFFICE)
    store = Store(config.db_path)
    angry_thread(store, "fri", author="dana", at=utc(2026, 11, 27, 17, 30))  # Friday 17:30 London (GMT)
    process(config, store, channels={})
    monday = utc(2026, 11, 30, 9, 10)  # imported on Monday morning
    (item_id,) = requeue(config, store, monday)
    queue = Queue(store, config.queue)
    item = queue.get(item_id)
    # 60 business minutes from the post: nothing counts until Monday 09:00, so due 10:00, not 10:10
    assert item.first_response_due == iso(utc(2026, 11, 30, 10, 0))
    sla = queue.sla(item, monday)
    assert (sla.status, round(sla.minutes_left)) == ("ok", 50)
    assert sla.reason == ("due 10:00 — 1 h of business hours from the customer's post at Fri 27 Nov 17:30; "
                          "queued 09:10")
    assert sla.post_age == "2.7 d"  # wall-clock age of the post, 2 days 15 h 40 min = 2.65 d
    store.close()


def test_the_clock_starts_at_the_first_mention_after_the_brands_latest_reply(tmp_path):
    config = write_config(tmp_path)
    store = Store(config.db_path)
    t0 = (datetime.now(UTC) - timedelta(hours=5)).replace(microsecond=0)
    angry_thread(store, "t", author="dana", at=t0)  # customer mentions at t0 .. t0+9 min
    replied, again = t0 + timedelta(hours=1), t0 + timedelta(hours=2)
    store.save_batch("x", "test", Batch(mentions=[
        Mention(source="x", native_id="t-brand", text="@dana sorry, we are on it", created_at=replied,
                brand="Brightwave", author="Brightwave", is_brand_account=True, thread_id="t-0"),
        Mention(source="x", native_id="t-again", text="@Brightwave still down, awful", created_at=again,
                brand="Brightwave", author="dana", author_followers=90_000, thread_id="t-0"),
        Mention(source="x", native_id="t-later", text="@Brightwave hello??", created_at=again + timedelta(minutes=5),
                brand="Brightwave", author="dana", thread_id="t-0"),
    ]))
    thread_key = store.scalar("SELECT thread_key FROM mentions WHERE native_id = 't-0'")
    assert customer_post_at(store, thread_key) == again
    store.close()


def test_a_post_dated_in_the_future_starts_the_clock_now(tmp_path):
    config = write_config(tmp_path)
    store = Store(config.db_path)
    angry_thread(store, "skew", author="dana", at=datetime.now(UTC) + timedelta(hours=2))
    process(config, store, channels={})
    queue = Queue(store, config.queue)
    (item,) = queue.list()
    assert item.sla_started_at <= iso(datetime.now(UTC)) and item.sla_started_at >= item.created_at
    store.close()


def test_items_queued_before_the_upgrade_are_worked_out_again_on_the_clock_tick(tmp_path):
    config = write_config(tmp_path)
    store = Store(config.db_path)
    posted = datetime.now(UTC) - timedelta(days=2)
    for n in range(3):
        angry_thread(store, f"t{n}", author=f"c{n}", at=posted + timedelta(minutes=n))
    process(config, store, channels={})
    queue = Queue(store, config.queue)
    ids = [r[0] for r in store.conn.execute("SELECT id FROM queue_items ORDER BY id")]
    # As an older version left them: clocks from queueing, no start recorded; one of them resolved.
    queued = datetime.now(UTC)
    store.conn.execute("UPDATE queue_items SET sla_started_at = NULL, sla_basis = NULL, post_at = NULL, "
                       "first_response_due = ?, resolution_due = ?",
                       (iso(queued + timedelta(hours=1)), iso(queued + timedelta(hours=8))))
    queue.resolve(ids[2], "alice", "refund")
    before_closed = store.query("SELECT first_response_due, resolution_due FROM queue_items WHERE id = ?", (ids[2],))
    report = queue.tick()
    assert report.sla_restarted == 2
    rows = {r["id"]: r for r in store.query("SELECT * FROM queue_items")}
    for item_id in ids[:2]:
        assert rows[item_id]["sla_basis"] == "post"
        assert rows[item_id]["first_response_due"] == iso(parse(rows[item_id]["post_at"]) + timedelta(hours=1))
        assert "sla_restarted" in [e["action"] for e in queue.events(item_id)]
        assert queue.sla(queue.get(item_id)).status == "breached"
    # the closed item keeps the due times it was judged by
    closed = rows[ids[2]]
    assert (closed["sla_basis"], closed["sla_started_at"]) == ("queued", closed["created_at"])
    assert [closed["first_response_due"], closed["resolution_due"]] == list(before_closed[0].values())
    assert queue.tick().sla_restarted == 0  # once
    store.close()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def sla_alerts(store: Store) -> list[dict]:
    """The SLA alerts written to the outbox (delivery may hold some back by the receiver's hourly cap)."""
    return [json.loads(r[0]) for r in store.conn.execute("SELECT payload FROM outbox WHERE rule = 'sla' ORDER BY id")]


def test_an_old_import_sends_one_summary_not_an_alert_storm(tmp_path):
    config = write_config(tmp_path)
    store = Store(config.db_path)
    posted = datetime.now(UTC) - timedelta(days=3)
    for n in range(25):
        angry_thread(store, f"old{n}", author=f"c{n}", at=posted + timedelta(minutes=n))
    report = process(config, store)  # the pipeline ticks the queue clock
    assert (report.queue.breaches, report.queue.summarised) == (50, 50)  # first response and resolution each
    sla = sla_alerts(store)
    assert len(sla) == 1, [x["title"] for x in sla]
    assert sla[0]["title"] == "SLA: 25 queue items overdue at once (one summary instead of 50 alerts)"
    assert "50 were already overdue when they were queued (old posts imported late)" in sla[0]["reasons"]
    # every item has its breaches recorded once, so nothing is alerted again later
    counts = store.conn.execute("SELECT item_id, COUNT(*) FROM queue_events WHERE action = 'sla_breach' "
                                "GROUP BY item_id").fetchall()
    assert len(counts) == 25 and {c for _, c in counts} == {2}
    process(config, store)
    assert len(sla_alerts(store)) == 1
    store.close()


def test_a_few_breaches_still_alert_one_by_one(tmp_path):
    config = write_config(tmp_path)
    store = Store(config.db_path)
    posted = datetime.now(UTC) - timedelta(days=3)
    for n in range(3):
        angry_thread(store, f"old{n}", author=f"c{n}", at=posted + timedelta(minutes=n))
    process(config, store)
    titles = [x["title"] for x in sla_alerts(store)]
    assert len(titles) == 6 and all(t.startswith("SLA breached: ") for t in titles)  # 3 items x 2 targets
    store.close()


def test_in_a_storm_the_latest_breaches_in_the_queue_still_alert_one_by_one(tmp_path):
    config = write_config(tmp_path, extra="[queue]\nbreach_alerts_per_tick = 2\n")
    store = Store(config.db_path)
    now = datetime.now(UTC)
    for n in range(4):
        angry_thread(store, f"t{n}", author=f"c{n}", at=now - timedelta(minutes=20))
    process(config, store, channels={})
    ids = [r[0] for r in store.conn.execute("SELECT id FROM queue_items ORDER BY id")]
    # all four ran out of first-response time while queued, #4 most recently
    for n, item_id in enumerate(ids):
        store.conn.execute("UPDATE queue_items SET first_response_due = ? WHERE id = ?",
                           (iso(now + timedelta(minutes=10 + n)), item_id))
    report = Queue(store, config.queue).tick(config, now + timedelta(minutes=30), send_alert=enqueue_system_alert)
    assert (report.breaches, report.summarised) == (4, 2)
    titles = [x["title"] for x in sla_alerts(store)]
    assert titles == [f"SLA breached: first response on queue item {ids[2]} (high priority)",
                      f"SLA breached: first response on queue item {ids[3]} (high priority)",
                      "SLA: 2 queue items overdue at once (one summary instead of 2 alerts)"]
    store.close()
