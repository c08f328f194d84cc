"""The dashboard's fast figures (counted in SQL) are identical to the reference computation
(`queue_figures` over every item read), on a queue worked the way a team works one: many items over
40 days, four agents, replies, resolutions, reopenings, dismissals, snoozes, SLA breaches, old imported
posts, business hours, across day boundaries, clock changes and time zones with odd offsets."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.dashboard import (
    _COUNTS,
    _TIMES,
    dashboard,
    fast_figures,
    period_figures,
    reference_figures,
    resolve_period,
)
from alerts.queue import Queue, upsert_for_thread
from alerts.users import add_user
from listener.errors import UserError
from listener.models import iso
from listener.store import Store
from tests.queue_support import angry_thread, write_config

# 30 days back from NOW hold the European (25 Oct) and American (1 Nov) clock changes.
NOW = datetime(2026, 11, 5, 16, 20, 0, tzinfo=UTC)
AGENTS = ("ana", "ben", "chloe", "dev")
ZONES = ("UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe")
QUEUE = """
[queue]
timezone = "Europe/London"
business_days = ["mon", "tue", "wed", "thu", "fri", "sat"]
business_start = "08:00"
business_end = "20:00"
"""
TEXTS = ("{brand} broadband down since this morning, third time this week. Useless.",
         "Charged twice by {brand} again and the app just spins. Want my money back",
         "{brand} engineer never turned up, took a day off work for nothing. Furious",
         "Is {brand} ever going to fix the signal in Leeds? Paying for nothing")


def _at(rng: random.Random, start: datetime, minutes: float) -> datetime:
    """A time after `start`, to the second, never after NOW."""
    return min(start + timedelta(seconds=int(rng.uniform(30, minutes * 60))), NOW)


def _new_item(store: Store, config, rng: random.Random, n: int, posted: datetime, queued: datetime) -> int:
    brand = ("Brightwave", "Lumacell", "Brightwave")[n % 3]
    angry_thread(store, f"d{n}", author=f"cust{n}", at=posted, source=("x", "reddit", "mastodon")[n % 3],
                 texts=[rng.choice(TEXTS).format(brand=brand)])
    key = store.scalar("SELECT thread_key FROM mentions WHERE native_id = ?", (f"d{n}-0",))
    thread = store.query("SELECT * FROM threads WHERE thread_key = ?", (key,))[0]
    thread.update(brand=brand, risk=rng.choice([52.0, 66.0, 78.0, 91.0, 30.0]))
    with store.transaction():
        return upsert_for_thread(store, thread, config.queue, queued)[0]


def _work(q: Queue, store: Store, rng: random.Random, item_id: int, queued: datetime) -> None:
    """One item's life after it was queued, as agents work: most answered and resolved, some late."""
    agent = rng.choice(AGENTS)
    fate = rng.random()
    if fate < 0.08 or queued >= NOW - timedelta(minutes=2):
        return  # still new (some past their due time: breaches)
    t = _at(rng, queued, 90)
    if fate < 0.18:
        q.dismiss(item_id, agent, rng.choice(["spam", "duplicate", "no_action"]), now=t)
        if rng.random() < 0.2:
            q.reopen(item_id, agent, now=_at(rng, t, 600))
        return
    q.claim(item_id, agent, now=t)
    if fate < 0.23:
        # half of them still asleep at NOW, the others woken by the clock
        until = (NOW if rng.random() < 0.5 else t) + timedelta(hours=3)
        q.snooze(item_id, agent, until=until, now=_at(rng, t, 20))
        return
    if fate < 0.28:  # closed without a reply (a phone call): no first response
        q.resolve(item_id, agent, "other", now=_at(rng, t, 300))
        return
    due = store.scalar("SELECT first_response_due FROM queue_items WHERE id = ?", (item_id,))
    if fate < 0.31 and due:  # answered in the very second the target falls due: met
        t = min(datetime.fromisoformat(due), NOW)
    else:
        t = _at(rng, t, rng.choice([30, 200, 900]))
    if fate < 0.38:
        q.mark_waiting(item_id, agent, now=t)
        return
    q.mark_replied(item_id, agent, now=t)
    if fate < 0.45 or t >= NOW:
        return
    t = _at(rng, t, rng.choice([60, 600, 3000]))
    q.resolve(item_id, agent, rng.choice(["answered_publicly", "refund", "moved_to_dm"]), now=t)
    if fate > 0.85 and t < NOW:  # the customer came back unhappy: reopened, sometimes resolved again
        t = _at(rng, t, 2000)
        q.reopen(item_id, agent, reason="customer wrote again", now=t)
        if fate > 0.92 and t < NOW:
            q.resolve(item_id, agent, "fix_shipped", now=_at(rng, t, 1500))


def _ids(ids: list[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


@pytest.fixture(scope="module")
def worked(tmp_path_factory):
    """~260 items queued over 40 days and worked by four agents, then the queue's clock at NOW."""
    tmp = tmp_path_factory.mktemp("dashboard-fast")
    config = write_config(tmp, extra=QUEUE)
    store = Store(config.db_path)
    for name in AGENTS:
        add_user(store, name, "agent", "pass-" + name)
    q = Queue(store, config.queue)
    rng = random.Random(20261105)
    for n in range(260):
        posted = NOW - timedelta(seconds=int(rng.uniform(0, 40 * 86400)))
        # most flagged within hours of the post; one in ten an old post imported days later
        queued = min(posted + timedelta(seconds=int(rng.uniform(60, (6 if n % 10 else 120) * 3600))), NOW)
        item_id = _new_item(store, config, rng, n, posted, queued)
        _work(q, store, rng, item_id, queued)
    q.tick(now=NOW)  # breach alerts and the recovery check (silent after 14 days)
    # customers heard from again, items from before SLA clocks were kept, an item of no brand, a
    # priority without targets
    ids = [r[0] for r in store.conn.execute("SELECT id FROM queue_items WHERE state = 'resolved' ORDER BY id")]
    with store.transaction():
        for item_id in ids[::4]:
            store.conn.execute("UPDATE queue_items SET recovery = ?, recovery_at = ? WHERE id = ?",
                               (rng.choice(["recovered", "still unhappy"]), iso(NOW), item_id))
        every = [r[0] for r in store.conn.execute("SELECT id FROM queue_items ORDER BY id")]
        store.conn.execute(f"UPDATE queue_items SET sla_started_at = NULL WHERE id IN ({_ids(every[5::40])})")
        store.conn.execute(f"UPDATE queue_items SET brand = NULL WHERE id IN ({_ids(every[7::50])})")
        # a verdict left on dismissed items (hand-edited data): dismissed items count in no verdict
        store.conn.execute(f"UPDATE queue_items SET recovery = 'recovered' WHERE state = 'dismissed' AND id IN "
                           f"({_ids(every[::3])})")
        store.conn.execute("UPDATE queue_items SET first_response_due = NULL, resolution_due = NULL "
                           f"WHERE id IN ({_ids(every[11::45])})")
    yield config, store, q
    store.close()


def _periods(zone: str, now: datetime) -> list:
    rng = random.Random(zone)
    periods = [resolve_period(name, zone, now) for name in ("today", "7d", "30d")]
    for _ in range(4):  # arbitrary --since/--until, also before the history and after it
        first = (now - timedelta(days=rng.randint(0, 45))).date()
        last = first + timedelta(days=rng.randint(0, 20))
        periods.append(resolve_period("custom", zone, now, since=first.isoformat(), until=last.isoformat()))
    periods.append(resolve_period("custom", zone, now, since="2026-09-01", until="2026-11-30"))
    return periods


def assert_same(store: Store, now: datetime, zones=ZONES) -> None:
    for zone in zones:
        for period in _periods(zone, now):
            fast = fast_figures(store, period.since, period.until, now, ZoneInfo(zone))
            assert fast is not None, (zone, period.label)
            assert fast == reference_figures(store, period.since, period.until, now, ZoneInfo(zone)), \
                (zone, period.label)


def test_the_queue_is_realistic(worked):
    config, store, q = worked
    states = dict(store.conn.execute("SELECT state, COUNT(*) FROM queue_items GROUP BY state").fetchall())
    assert {"new", "claimed", "waiting", "replied", "resolved", "dismissed", "snoozed"} <= set(states)
    assert store.scalar("SELECT COUNT(*) FROM queue_items WHERE reopened > 0") >= 10
    assert store.scalar("SELECT COUNT(*) FROM queue_events WHERE action = 'sla_breach'") >= 5
    period = resolve_period("30d", "Europe/London", NOW)
    overall, brands, hours = reference_figures(store, period.since, period.until, NOW, ZoneInfo("Europe/London"))
    # SLAs both met and missed, medians from many values, several brands, most hours of the day used
    assert 10 < overall.first_response_sla_pct < 90 and 10 < overall.resolution_sla_pct < 90
    assert overall.answered > 100 and overall.resolved > 60 and overall.recovery_checked > 5
    assert set(brands) == {"Brightwave", "Lumacell", "(no brand)"}
    assert sum(1 for h in hours if h["items"]) >= 20


def test_fast_figures_equal_the_reference_for_every_period_and_zone(worked):
    config, store, q = worked
    assert_same(store, NOW)
    # a `now` with a fraction of a second, and `now` exactly at some open item's due time
    assert_same(store, NOW + timedelta(microseconds=500_000), zones=("UTC", "Asia/Kolkata"))
    due = store.scalar("SELECT MIN(first_response_due) FROM queue_items WHERE first_response_at IS NULL "
                       "AND first_response_due > ?", (iso(NOW - timedelta(days=2)),))
    at_due = datetime.fromisoformat(due)
    for now in (at_due, at_due + timedelta(microseconds=1), at_due - timedelta(microseconds=1)):
        assert_same(store, now, zones=("UTC", "Europe/London"))


def test_the_dashboard_uses_the_fast_figures(worked):
    config, store, q = worked
    period = resolve_period("30d", "Europe/London", NOW)
    f = dashboard(store, config, period, NOW)
    overall, brands, hours = reference_figures(store, period.since, period.until, NOW, ZoneInfo("Europe/London"))
    assert f["summary"]["first_response_median_min"] == overall.first_response_median_min
    assert [b["brand"] for b in f["by_brand"]] == sorted(brands)
    assert f["sla_by_hour"] == hours


def _state(store: Store, item_id: int) -> str:
    return store.scalar("SELECT state FROM queue_items WHERE id = ?", (item_id,))


def test_the_figures_stay_right_as_the_queue_is_worked(tmp_path):
    """After every action (claim, reply, resolve, reopen, dismiss, snooze, a new item, the clock), and
    after an action that failed half-way (rolled back: nothing counted twice)."""
    config = write_config(tmp_path, extra=QUEUE)
    store = Store(config.db_path)
    for name in AGENTS:
        add_user(store, name, "agent", "pass-" + name)
    q = Queue(store, config.queue)
    rng = random.Random(7)
    ids = []
    for n in range(40):
        posted = NOW - timedelta(hours=rng.uniform(1, 60))
        ids.append(_new_item(store, config, rng, n, posted, posted + timedelta(minutes=rng.uniform(1, 40))))
    zones = ("Europe/London", "Asia/Kolkata")
    now = NOW
    steps = [
        lambda t: q.claim(ids[0], "ana", now=t), lambda t: q.mark_replied(ids[0], "ana", now=t),
        lambda t: q.resolve(ids[0], "ana", "refund", now=t), lambda t: q.reopen(ids[0], "ana", now=t),
        lambda t: q.resolve(ids[0], "ana", "fix_shipped", now=t),
        lambda t: q.claim(ids[1], "ben", now=t), lambda t: q.mark_waiting(ids[1], "ben", now=t),
        lambda t: q.mark_replied(ids[1], "ben", now=t), lambda t: q.dismiss(ids[2], "chloe", "spam", now=t),
        lambda t: q.reopen(ids[2], "chloe", now=t), lambda t: q.snooze(ids[3], "dev", now=t),
        lambda t: q.wake(ids[3], "dev", now=t), lambda t: q.resolve(ids[4], "dev", "other", now=t),
        lambda t: _new_item(store, config, rng, 99, t - timedelta(days=3), t),  # an old post imported now
        lambda t: q.tick(now=t),  # breaches of items gone past their targets meanwhile
        lambda t: q.tick(now=t + timedelta(days=15)),  # recovery verdicts: silent
    ]
    for step in steps:
        assert_same(store, now, zones)
        now += timedelta(minutes=rng.uniform(5, 200))
        step(now)
    assert_same(store, now + timedelta(days=15), zones)
    assert _state(store, ids[0]) == "resolved" and _state(store, ids[2]) == "new"

    # A resolve that fails after its update (the process dies, a constraint breaks): rolled back whole.
    period = resolve_period("7d", "Europe/London", now)
    before = fast_figures(store, period.since, period.until, now, ZoneInfo("Europe/London"))
    with pytest.raises(RuntimeError), store.transaction():
        store.conn.execute("UPDATE queue_items SET state = 'resolved', resolved_at = ? WHERE id = ?",
                           (iso(now), ids[5]))
        raise RuntimeError("crash mid-update")
    assert fast_figures(store, period.since, period.until, now, ZoneInfo("Europe/London")) == before
    q.resolve(ids[5], "ana", "refund", now=now)
    after = fast_figures(store, period.since, period.until, now, ZoneInfo("Europe/London"))
    assert after[0].resolved == before[0].resolved + 1  # counted once
    assert_same(store, now, zones)
    store.close()


def test_times_not_in_the_store_format_are_counted_by_the_reference(worked, tmp_path):
    """A time written by hand or by an old version ('' or with an offset) must not be compared as text:
    the period falls back to the reference, and the figures are still right."""
    config, store, q = worked
    period = resolve_period("30d", "UTC", NOW)
    zone = ZoneInfo("UTC")
    item_id, resolved_at = store.conn.execute(
        "SELECT id, resolved_at FROM queue_items WHERE state = 'resolved' AND created_at >= ? ORDER BY id LIMIT 1",
        (iso(NOW - timedelta(days=10)),)).fetchone()
    other = store.scalar("SELECT id FROM queue_items WHERE first_response_at IS NULL AND created_at >= ? "
                         "ORDER BY id LIMIT 1", (iso(NOW - timedelta(days=10)),))
    try:
        for column, row, value in (("resolved_at", item_id, resolved_at.replace("Z", "+00:00")),
                                   ("first_response_at", other, "")):
            with store.transaction():
                store.conn.execute(f"UPDATE queue_items SET {column} = ? WHERE id = ?", (value, row))
            assert fast_figures(store, period.since, period.until, NOW, zone) is None
            assert period_figures(store, period.since, period.until, NOW, zone) == \
                reference_figures(store, period.since, period.until, NOW, zone)
    finally:
        with store.transaction():
            store.conn.execute("UPDATE queue_items SET resolved_at = ? WHERE id = ?", (resolved_at, item_id))
            store.conn.execute("UPDATE queue_items SET first_response_at = NULL WHERE id = ?", (other,))
    assert fast_figures(store, period.since, period.until, NOW, zone) is not None


@pytest.mark.sqlite_only("reads SQLite's query plan")
def test_the_period_is_counted_from_the_covering_index(worked):
    config, store, q = worked
    args = (iso(NOW), iso(NOW), iso(NOW - timedelta(days=30)), iso(NOW))
    for sql, params in ((_COUNTS.format(past="<", width=13), args), (_TIMES, args[2:])):
        plan = " ".join(str(row[-1]) for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        assert "COVERING INDEX queue_items_dashboard" in plan, plan


def test_a_bad_custom_period_is_still_one_clear_line():
    with pytest.raises(UserError, match="is before since"):
        resolve_period("custom", "UTC", NOW, since="2026-11-05", until="2026-11-01")
