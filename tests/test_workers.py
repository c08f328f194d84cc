"""Several workers, one store: the stages share their work through leases, in one process with two stores
(each "worker" its own connection and lease name), on whichever backend the suite runs on.

The daemons themselves, killed and restarted, are in tests/test_workers_crash.py; the web UI as several
processes is at the end of this file.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from alerts.outbox import deliver_pending
from alerts.users import add_user
from alerts.web.app import create_app
from listener import leases, scoring
from listener.models import Batch, Mention, iso, utcnow
from listener.pipeline import build_channels, process, run_pipeline
from listener.scoring import build_scorer, score_pending
from listener.store import Store
from tests.queue_support import angry_thread, write_config

ELSEWHERE = "other-host:4242:0badc0de"  # a worker on another machine: only its lease's expiry frees its work
TEXTS = ["Brightwave is awful, charged me twice, I want a refund", "Brightwave router works fine, happy so far",
         "Brightwave support never answers, terrible", "Set up Brightwave in ten minutes"]


def _backlog(store: Store, n: int) -> None:
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    store.save_batch("x", "q", Batch(mentions=[
        Mention(source="x", native_id=str(i), text=f"{TEXTS[i % 4]} ({i})", created_at=at + timedelta(seconds=i),
                brand="Brightwave", author=f"user{i % 7}") for i in range(n)]))


def _expire(store: Store, name: str) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE leases SET expires_at = ? WHERE name = ?", (iso(utcnow() - timedelta(seconds=1)), name))


def test_two_workers_share_a_backlog_and_score_each_mention_once(tmp_path, monkeypatch):
    monkeypatch.setattr(scoring, "CHUNK", 40)  # many small blocks, so the two really interleave
    config = write_config(tmp_path)
    setup = Store(config.database)
    _backlog(setup, 600)
    scorer = build_scorer(config)
    totals: dict[str, int] = {}
    start = threading.Barrier(2)
    scored_ids: list[int] = []  # every mention a worker gave to the scorer, so work done twice shows
    real_score_rows = scoring._score_rows

    def counting(scorer, rows):
        scored_ids.extend(r["id"] for r in rows)
        return real_score_rows(scorer, rows)

    monkeypatch.setattr(scoring, "_score_rows", counting)

    def worker(name: str) -> None:
        with Store(config.database) as store:
            start.wait()
            totals[name] = score_pending(store, scorer, workers=1, holder=f"{name}:1:x")

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # Every mention scored, by one worker: the two counts add up to the backlog, never more.
    assert setup.scalar("SELECT COUNT(*) FROM mentions WHERE scored_at IS NULL") == 0
    assert totals["a"] + totals["b"] == 600, totals
    assert len(scored_ids) == len(set(scored_ids)) == 600  # no block was scored by both
    # An author's negative count counts each negative mention once.
    negatives = dict(setup.conn.execute(
        "SELECT author, COUNT(*) FROM mentions WHERE label = 'negative' GROUP BY author ORDER BY author").fetchall())
    counted = dict(setup.conn.execute("SELECT author, negative FROM authors WHERE source = 'x' ORDER BY author"))
    assert negatives and all(counted[a] == n for a, n in negatives.items()), (negatives, counted)
    assert setup.scalar("SELECT COUNT(*) FROM leases WHERE name >= 'score:' AND name < 'score;'") == 0
    setup.close()


def test_a_block_held_by_a_dead_worker_elsewhere_is_scored_once_its_lease_runs_out(tmp_path, monkeypatch):
    monkeypatch.setattr(scoring, "CHUNK", 50)
    config = write_config(tmp_path)
    store = Store(config.database)
    _backlog(store, 120)
    first_block = int(store.scalar("SELECT MIN(id) FROM mentions")) // 50
    assert leases.take(store, f"score:{first_block}", ELSEWHERE, 60)  # it claimed a block, then its host died
    scorer = build_scorer(config)
    held_back = store.scalar("SELECT COUNT(*) FROM mentions WHERE id / 50 = ?", (first_block,))
    assert score_pending(store, scorer, workers=1) == 120 - held_back
    assert store.scalar("SELECT COUNT(*) FROM mentions WHERE scored_at IS NULL") == held_back > 0
    _expire(store, f"score:{first_block}")
    assert score_pending(store, scorer, workers=1) == held_back
    assert store.scalar("SELECT COUNT(*) FROM mentions WHERE scored_at IS NULL") == 0
    store.close()


def test_a_worker_that_lost_its_block_writes_no_score_twice(tmp_path, monkeypatch):
    """A worker paused past its lease while another scored its block: its late write changes nothing."""
    config = write_config(tmp_path)
    store = Store(config.database)
    _backlog(store, 30)
    scorer = build_scorer(config)
    stale = store.query("SELECT id, text, title, source_lang, stars, source, author, created_at, thread_key, "
                        "brand, author_followers, is_brand_account FROM mentions ORDER BY id")
    assert score_pending(store, scorer, workers=1) == 30  # the worker that took over
    before = store.query("SELECT source, author, negative FROM authors ORDER BY source, author")
    late = scoring._write_chunk(store, stale, *scoring._score_rows(scorer, stale), (0.3, True, None))
    assert late == 0
    assert store.query("SELECT source, author, negative FROM authors ORDER BY source, author") == before
    store.close()


def test_a_stage_another_worker_runs_is_left_to_it(tmp_path):
    config = write_config(tmp_path)
    store = Store(config.database)
    angry_thread(store, "t1", author="dana")
    assert leases.take(store, "stage:threads", ELSEWHERE, 60)
    report = run_pipeline(config, store, channels={}, trends=False)
    assert report.skipped == ["threads"] and report.scored == 4
    assert store.scalar("SELECT COUNT(*) FROM threads WHERE dirty = 1") == 1  # still there for the holder
    leases.release(store, "stage:threads", ELSEWHERE)
    report = run_pipeline(config, store, channels={}, trends=False)
    assert report.skipped == [] and report.threads_updated == 1
    assert store.scalar("SELECT COUNT(*) FROM queue_items") == 1
    store.close()


def _alert_keys(path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["idem_key"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_receiver_is_sent_to_by_one_worker_at_a_time(tmp_path):
    config = write_config(tmp_path, '[[alerts.rules]]\nname = "all"\nmin_risk = 0\nreceivers = ["file"]\n')
    store = Store(config.database)
    for n in range(3):
        angry_thread(store, f"t{n}", author=f"customer{n}")
    process(config, store, channels={})  # the alerts are in the outbox, none sent yet
    pending = store.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL")
    assert pending == 3
    assert leases.take(store, "deliver:file", ELSEWHERE, 60)
    assert deliver_pending(store, build_channels(config)).messages == 0  # the holder sends them
    assert _alert_keys(tmp_path / "alerts.jsonl") == []
    _expire(store, "deliver:file")  # it died before sending anything
    assert deliver_pending(store, build_channels(config)).messages == 3
    assert len(_alert_keys(tmp_path / "alerts.jsonl")) == 3
    store.close()


def test_two_workers_delivering_at_once_send_each_alert_once(tmp_path):
    config = write_config(tmp_path, '[[alerts.rules]]\nname = "all"\nmin_risk = 0\nreceivers = ["file"]\n'
                                    '[[alerts.receivers]]\nname = "file2"\ntype = "file"\npath = "alerts2.jsonl"\n'
                                    '[[alerts.rules]]\nname = "all2"\nmin_risk = 0\nreceivers = ["file2"]\n')
    store = Store(config.database)
    for n in range(12):
        angry_thread(store, f"t{n}", author=f"customer{n}")
    process(config, store, channels={})
    assert store.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL") == 24
    start = threading.Barrier(3)
    sent: list[int] = []

    def worker(name: str) -> None:
        with Store(config.database) as mine:
            start.wait()
            for _ in range(4):
                sent.append(deliver_pending(mine, build_channels(config), holder=f"{name}:1:x").messages)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for name in ("alerts.jsonl", "alerts2.jsonl"):
        keys = _alert_keys(tmp_path / name)
        assert len(keys) == len(set(keys)) == 12, name
    assert sum(sent) == 24
    assert store.scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL") == 0
    store.close()


def test_a_second_daemon_needs_join_and_workers_on_other_hosts_count(tmp_path, monkeypatch):
    from listener.errors import UserError
    from listener.scheduler import WORKER_LEASE, Daemon

    config = write_config(tmp_path)
    with Store(config.database) as store:
        leases.take(store, WORKER_LEASE + ELSEWHERE, ELSEWHERE, 60)
    alone = Daemon(config, channels={})
    with pytest.raises(UserError, match="other-host.*--join"):
        alone.run()
    with Store(config.database) as store:  # refused before it changed anything
        assert store.scalar("SELECT COUNT(*) FROM leases WHERE holder != ?", (ELSEWHERE,)) == 0


# ---------------------------------------------------------------- the web UI as several processes

PASSWORD = "correct horse battery"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_web_processes_on_one_store_share_sessions_csrf_and_the_login_throttle(tmp_path, monkeypatch):
    """Two app instances, as two processes behind a load balancer would be: no secret given, so each
    gets the key the way a process does (from the store); nothing else is shared between them."""
    monkeypatch.delenv("OVERHEARD_SESSION_SECRET", raising=False)
    config = write_config(tmp_path)
    store = Store(config.database)
    angry_thread(store, "t1", author="dana")
    process(config, store, channels={})
    item = store.scalar("SELECT id FROM queue_items")
    add_user(store, "alice", "agent", PASSWORD)
    add_user(store, "bob", "agent", PASSWORD)
    a, b = TestClient(create_app(config)), TestClient(create_app(config))
    assert not (tmp_path / "session.key").exists()  # the key is the store's, not a file on one host

    page = a.get("/login")
    b.cookies = a.cookies  # the balancer sends the next request to the other process
    logged_in = b.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": _csrf(page.text),
                                       "next": "/"}, follow_redirects=False)
    assert logged_in.status_code == 303
    a.cookies = b.cookies
    token = _csrf(a.get(f"/items/{item}").text)
    b.cookies = a.cookies
    assert b.post(f"/items/{item}/claim", data={"csrf_token": token}).status_code == 200
    assert store.scalar("SELECT assignee FROM queue_items WHERE id = ?", (item,)) == "alice"
    assert b.post(f"/items/{item}/note", data={"csrf_token": "forged", "text": "x"}).status_code == 403

    # Wrong passwords for bob, spread over both processes, add up to one lock-out.
    for n in range(5):
        client = (a, b)[n % 2]
        client.cookies.clear()
        page = client.get("/login")
        wrong = client.post("/login", data={"name": "bob", "password": "nope nope", "csrf_token": _csrf(page.text)},
                            follow_redirects=False)
        assert wrong.status_code == 401
    for client in (a, b):
        client.cookies.clear()
        page = client.get("/login")
        right = client.post("/login", data={"name": "bob", "password": PASSWORD, "csrf_token": _csrf(page.text)},
                            follow_redirects=False)
        assert right.status_code == 429
    store.close()


def test_an_old_session_key_file_becomes_the_stores_key(tmp_path, monkeypatch, backend):
    """Upgrading from a version that kept the key in session.key: signed-in users stay signed in."""
    from alerts.web.app import session_secret

    monkeypatch.delenv("OVERHEARD_SESSION_SECRET", raising=False)
    config = write_config(tmp_path)
    if backend == "sqlite":
        (tmp_path / "session.key").write_text("an-old-key-" + "k" * 40)
        assert session_secret(config) == "an-old-key-" + "k" * 40
    first = session_secret(config)
    assert session_secret(config) == first and len(first) >= 40
    monkeypatch.setenv("OVERHEARD_SESSION_SECRET", "from-the-environment-" + "e" * 20)
    assert session_secret(config) == "from-the-environment-" + "e" * 20


def test_the_heartbeat_keeps_a_workers_leases_alive_and_they_run_out_after_it_stops(tmp_path):
    path = tmp_path / "o.db"
    store = Store(path)
    assert leases.take(store, "stage:threads", "me:1:x", 3)
    beat = leases.Heartbeat(lambda: Store(path), "me:1:x", 3)
    beat.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=5)
        while datetime.now(UTC) < deadline:  # well past the 3 s it was taken for
            assert not leases.take(store, "stage:threads", ELSEWHERE, 3)
            threading.Event().wait(0.5)
    finally:
        beat.stop()
    threading.Event().wait(3.2)  # nobody renews it now: another worker gets it once it runs out
    assert leases.take(store, "stage:threads", ELSEWHERE, 3)
    store.close()


def test_workers_that_join_share_the_lock_file_and_one_alone_is_refused_beside_them(tmp_path):
    from listener.errors import UserError
    from listener.scheduler import Daemon

    config = write_config(tmp_path)
    first, second = Daemon(config, channels={}, join=True), Daemon(config, channels={}, join=True)
    first._take_lock()
    second._take_lock()
    try:
        with pytest.raises(UserError, match="--join to share the work"):
            Daemon(config, channels={})._take_lock()
    finally:
        first._release_lock()
        second._release_lock()
    alone = Daemon(config, channels={})
    alone._take_lock()
    try:
        with pytest.raises(UserError, match="started without --join"):
            Daemon(config, channels={}, join=True)._take_lock()
    finally:
        alone._release_lock()
