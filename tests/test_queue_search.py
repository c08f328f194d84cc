"""Queue search picks a plan by how common the words are; whichever it picks, the items are the same
as the original query's, in the same order, and follow new and forgotten mentions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import alerts.queue as queue_module
from alerts.queue import _ITEM_SELECT, _ORDER, ItemFilter, Queue, _filter_sql, fts_query, search_is_common
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
    where, params = _filter_sql(ItemFilter(**{**flt.__dict__, "search": None}), store)
    if flt.search and fts_query(flt.search):
        where += " AND " + OLD_SEARCH
        params.append(fts_query(flt.search))
    rows = store.query(f"{_ITEM_SELECT} WHERE {where} ORDER BY {_ORDER[flt.sort]} LIMIT 500", tuple(params))
    return [r["id"] for r in rows]


def reference_counts(store: Store, flt: ItemFilter) -> dict[str, int]:
    where, params = _filter_sql(ItemFilter(**{**flt.__dict__, "search": None, "state": "all"}), store)
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


@pytest.mark.parametrize("threshold", [1, 4, 1_000_000])
def test_search_finds_what_the_original_query_found_with_either_plan(queue, monkeypatch, threshold):
    # threshold 1: every word counts as common (each item asks the index about its own mentions);
    # 1,000,000: every word is rare (matches collected first); 4: a mix, as in real use.
    monkeypatch.setattr(queue_module, "COMMON_SEARCH_MATCHES", threshold)
    assert assert_same_as_reference(queue) > 50
    # what a support agent sees, spelled out for a few searches
    store = queue.store
    by_thread = {i.thread_key.split(":")[1]: i.id for i in queue.list(ItemFilter(state="all"))}
    assert {i.id for i in queue.list(ItemFilter(state="all", search="zebra"))} == {by_thread["c-0"]}
    assert {i.id for i in queue.list(ItemFilter(state="all", search="rechn*"))} == {by_thread["b-0"]}
    assert {i.id for i in queue.list(ItemFilter(state="all", search="Brightwave"))} == set(by_thread.values())
    assert queue.list(ItemFilter(state="all", search="kangaroo")) == []  # only outside the queue
    assert queue.list(ItemFilter(search="ombudsman"))[0].id == by_thread["d-0"]
    assert search_is_common(store, fts_query("Brightwave")) == (threshold <= 4)


def test_search_follows_new_and_forgotten_mentions(queue, monkeypatch):
    store = queue.store
    by_thread = {i.thread_key.split(":")[1]: i.id for i in queue.list(ItemFilter(state="all"))}
    for threshold in (1, 1_000_000):
        monkeypatch.setattr(queue_module, "COMMON_SEARCH_MATCHES", threshold)
        assert queue.list(ItemFilter(state="all", search="wombat")) == []
    # a new mention arrives in a queued thread
    store.save_batch("x", "test", Batch(mentions=[Mention(
        source="x", native_id="e-9", text="Brightwave still broken, wombat ate the cable", thread_id="e-0",
        created_at=datetime.now(UTC) - timedelta(minutes=5), brand="Brightwave", author="latecomer")]))
    for threshold in (1, 1_000_000):
        monkeypatch.setattr(queue_module, "COMMON_SEARCH_MATCHES", threshold)
        assert [i.id for i in queue.list(ItemFilter(state="all", search="wombat"))] == [by_thread["e-0"]]
        assert_same_as_reference(queue)
    # the author asks to be forgotten: their words no longer find the item
    forget_author(store, "latecomer")
    forget_author(store, "customer-c")  # started thread c, the only one with "parcel"
    for threshold in (1, 4, 1_000_000):
        monkeypatch.setattr(queue_module, "COMMON_SEARCH_MATCHES", threshold)
        assert queue.list(ItemFilter(state="all", search="wombat")) == []
        assert queue.list(ItemFilter(state="all", search="parcel")) == []
        assert [i.id for i in queue.list(ItemFilter(state="all", search="zebra"))] == [by_thread["c-0"]]
        assert_same_as_reference(queue)
