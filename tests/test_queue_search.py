"""Queue search reads its own index of the queued threads' mentions (queue_fts); the items it finds are
the same as the original query over the whole history found, in the same order, and follow new,
edited and forgotten mentions and new queue items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.queue import _ITEM_SELECT, _ORDER, ItemFilter, Queue, _filter_sql, fts_query
from listener.models import Batch, Mention
from listener.pipeline import process
from listener.retention import forget_author
from listener.store import Store
from tests.queue_support import angry_thread, write_config

# The search as it was before the two plans: every matching row id collected, then each item's thread
# checked against them. Kept as the reference the new search must agree with.
OLD_SEARCH = ("EXISTS (SELECT 1 FROM mentions m WHERE m.thread_key = q.thread_key "
              "AND m.id IN (SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH ?))")

SEARCHES = ["Brightwave", "bright*", "refund", "zebra", "Rechnung", "rechn*", "never again", "Brightwave refund",
            "outage furious", "nobody*", "ombudsman", "kangaroo", '" OR ) NEAR(', "b*", "pixel"]
FILTERS = [
    ItemFilter(),
    ItemFilter(state="all"),
    ItemFilter(state="resolved"),
    ItemFilter(state="all", source="reddit"),
    ItemFilter(state="all", lang="de"),
    ItemFilter(state="all", assignee="none", sort="risk"),
    ItemFilter(state="all", theme="billing", sort="newest"),
    ItemFilter(state="all", priority="high", sort="oldest"),
]


def reference_ids(store: Store, flt: ItemFilter) -> list[int]:
    """Item ids of the original search under the same filters and sort."""
    where, params = _filter_sql(ItemFilter(**{**flt.__dict__, "search": None}))
    if flt.search and fts_query(flt.search):
        where += " AND " + OLD_SEARCH
        params.append(fts_query(flt.search))
    rows = store.query(f"{_ITEM_SELECT} WHERE {where} ORDER BY {_ORDER[flt.sort]} LIMIT 500", tuple(params))
    return [r["id"] for r in rows]


def reference_counts(store: Store, flt: ItemFilter) -> dict[str, int]:
    where, params = _filter_sql(ItemFilter(**{**flt.__dict__, "search": None, "state": "all"}))
    where += " AND " + OLD_SEARCH
    params.append(fts_query(flt.search or ""))
    return dict(store.conn.execute(f"SELECT q.state, COUNT(*) FROM queue_items q LEFT JOIN threads t "
                                   f"ON t.thread_key = q.thread_key WHERE {where} GROUP BY q.state", params).fetchall())


@pytest.fixture
def queue(tmp_path):
    config = write_config(tmp_path)
    store = Store(config.db_path)
    start = datetime.now(UTC) - timedelta(hours=30)
    texts = {
        "a": None,  # the default angry thread: outage, refund, never again, furious
        "b": ["Brightwave Rechnung doppelt abgebucht, Betrug, ich kündige. Furchtbar, awful",
              "Brightwave charged me twice too, scam, terrible, cancelling",
              "Brightwave is the worst, refund now, disgusting"],
        "c": ["Brightwave lost my parcel, awful, I am furious, never again",
              "Brightwave zebra striped router is dead, terrible, scam",
              "Brightwave support useless, disgusting, cancelling"],
        "d": ["Brightwave went to the ombudsman, awful service, terrible",
              "Brightwave never answers, useless, worst ever, furious",
              "Brightwave is a scam, disgusting, cancelling now"],
        "e": ["Brightwave billed me for nothing, awful, refund please, scam",
              "Brightwave outage in Leeds, terrible, useless",
              "Brightwave nobody cares, disgusting, worst, cancelling"],
    }
    for n, (thread, thread_texts) in enumerate(texts.items()):
        angry_thread(store, thread, author=f"customer-{thread}", texts=thread_texts,
                     source="reddit" if thread in "bd" else "x", lang="de" if thread == "b" else "en",
                     at=start + timedelta(hours=n))
    # mentions outside any queued thread: they match the words but must not bring an item
    store.save_batch("x", "test", Batch(mentions=[
        Mention(source="x", native_id=f"calm-{i}", text=f"Brightwave refund arrived, thanks kangaroo {i}",
                created_at=start + timedelta(minutes=i), brand="Brightwave", author=f"fan{i}")
        for i in range(6)]))
    process(config, store, channels={})
    q = Queue(store, config.queue)
    ids = [i.id for i in q.list(ItemFilter(state="all", sort="oldest"))]
    assert len(ids) == 5
    q.claim(ids[0], "alice")
    q.resolve(ids[1], "alice", "refund")
    q.claim(ids[2], "bob")
    yield q
    store.close()


def assert_same_as_reference(queue: Queue) -> int:
    """Every search under every filter, as the old query answers it; returns how many items were found."""
    found = 0
    for search in SEARCHES:
        for base in FILTERS:
            flt = ItemFilter(**{**base.__dict__, "search": search})
            got = [i.id for i in queue.list(flt)]
            assert got == reference_ids(queue.store, flt), (search, base)
            found += len(got)
        counts = queue.counts(ItemFilter(search=search))
        expected = reference_counts(queue.store, ItemFilter(search=search))
        assert {s: n for s, n in counts.items() if n and s != "open"} == expected, search
    return found


def queued_mentions_indexed(store: Store) -> bool:
    """queue_fts holds exactly the mentions of queued threads (a contentless index: ask it word by word)."""
    queued = {r[0] for r in store.conn.execute(
        "SELECT id FROM mentions WHERE thread_key IN (SELECT thread_key FROM queue_items)")}
    indexed = {r[0] for r in store.conn.execute(
        "SELECT rowid FROM queue_fts WHERE queue_fts MATCH 'Brightwave OR brightwave'")}
    everyone = {r[0] for r in store.conn.execute(
        "SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH 'Brightwave'")}
    return indexed == queued & everyone


def test_search_finds_what_the_original_query_found(queue):
    assert assert_same_as_reference(queue) > 50
    # what a support agent sees, spelled out for a few searches
    by_thread = {i.thread_key.split(":")[1]: i.id for i in queue.list(ItemFilter(state="all"))}
    assert {i.id for i in queue.list(ItemFilter(state="all", search="zebra"))} == {by_thread["c-0"]}
    assert {i.id for i in queue.list(ItemFilter(state="all", search="rechn*"))} == {by_thread["b-0"]}
    assert {i.id for i in queue.list(ItemFilter(state="all", search="Brightwave"))} == set(by_thread.values())
    assert queue.list(ItemFilter(state="all", search="kangaroo")) == []  # only outside the queue
    assert queue.list(ItemFilter(search="ombudsman"))[0].id == by_thread["d-0"]
    assert queued_mentions_indexed(queue.store)


def test_search_follows_new_edited_and_forgotten_mentions(queue, tmp_path):
    store = queue.store
    by_thread = {i.thread_key.split(":")[1]: i.id for i in queue.list(ItemFilter(state="all"))}
    assert queue.list(ItemFilter(state="all", search="wombat")) == []
    # a new mention arrives in a queued thread
    store.save_batch("x", "test", Batch(mentions=[Mention(
        source="x", native_id="e-9", text="Brightwave still broken, wombat ate the cable", thread_id="e-0",
        created_at=datetime.now(UTC) - timedelta(minutes=5), brand="Brightwave", author="latecomer")]))
    assert [i.id for i in queue.list(ItemFilter(state="all", search="wombat"))] == [by_thread["e-0"]]
    assert_same_as_reference(queue)
    # a mention's text is edited
    store.conn.execute("UPDATE mentions SET text = 'Brightwave platypus outage' WHERE native_id = 'd-2'")
    assert [i.id for i in queue.list(ItemFilter(state="all", search="platypus"))] == [by_thread["d-0"]]
    assert queue.list(ItemFilter(state="all", search="cancelling now")) == []
    assert_same_as_reference(queue)
    # the author asks to be forgotten: their words no longer find the item
    forget_author(store, "latecomer")
    forget_author(store, "customer-c")  # started thread c, the only one with "parcel"
    assert queue.list(ItemFilter(state="all", search="wombat")) == []
    assert queue.list(ItemFilter(state="all", search="parcel")) == []
    assert [i.id for i in queue.list(ItemFilter(state="all", search="zebra"))] == [by_thread["c-0"]]
    assert_same_as_reference(queue)
    assert queued_mentions_indexed(store)


def test_a_new_queue_item_brings_its_earlier_mentions_into_search(queue, tmp_path):
    store = queue.store
    config = write_config(tmp_path)
    # a calm thread first: stored, not queued, so not found
    calm = [Mention(source="x", native_id=f"early-{i}", text=f"Brightwave capybara question {i}", thread_id="f-0",
                    created_at=datetime.now(UTC) - timedelta(hours=3, minutes=-i), brand="Brightwave",
                    author=f"asker{i}") for i in range(2)]
    store.save_batch("x", "test", Batch(mentions=calm))
    process(config, store, channels={})
    assert queue.list(ItemFilter(state="all", search="capybara")) == []
    # then it turns angry and is flagged: the earlier mentions are searchable with the item
    angry_thread(store, "f", author="asker-angry", texts=[
        "Brightwave outage again, I want a refund, awful, furious",
        "Brightwave is down, terrible, useless, never again",
        "Brightwave scam, disgusting, cancelling",
    ], at=datetime.now(UTC) - timedelta(hours=1))
    process(config, store, channels={})
    found = queue.list(ItemFilter(state="all", search="capybara"))
    assert [i.thread_key for i in found] == ["x:f-0"]
    assert_same_as_reference(queue)
    assert queued_mentions_indexed(store)


@pytest.mark.sqlite_only("drops the FTS5 table and triggers of migration 100; PostgreSQL has a view instead")
def test_an_existing_store_is_indexed_by_the_migration(queue):
    """A store made before migration 100: its queued threads' mentions are indexed when it opens."""
    store = queue.store
    before = {s: [i.id for i in queue.list(ItemFilter(state="all", search=s))] for s in SEARCHES}
    path = store.path
    triggers = ("queue_fts_mention_insert", "queue_fts_mention_delete", "queue_fts_mention_update",
                "queue_fts_item_insert", "queue_fts_item_delete")
    store.conn.executescript("DROP TABLE queue_fts; DELETE FROM schema_migrations WHERE number = 100; "
                             + "".join(f"DROP TRIGGER {t};" for t in triggers))
    store.close()
    with Store(path) as reopened:
        again = Queue(reopened, queue.config)
        assert {s: [i.id for i in again.list(ItemFilter(state="all", search=s))] for s in SEARCHES} == before
        assert sum(map(len, before.values())) > 10
        assert queued_mentions_indexed(reopened)
