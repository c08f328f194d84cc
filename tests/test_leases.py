"""Leases: two workers on one store never hold the same work, and a dead worker's lease runs out."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from listener.leases import holder_of, release, take, worker_id
from listener.store import Store

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_one_holder_at_a_time_renewal_and_release(tmp_path):
    a, b = Store(tmp_path / "o.db"), Store(tmp_path / "o.db")
    assert take(a, "collect:x:q", "worker-a", 60, NOW)
    assert not take(b, "collect:x:q", "worker-b", 60, NOW + timedelta(seconds=30))
    assert take(a, "collect:x:q", "worker-a", 60, NOW + timedelta(seconds=50))  # renews to 10:01:50
    assert not take(b, "collect:x:q", "worker-b", 60, NOW + timedelta(seconds=100))
    assert holder_of(b, "collect:x:q", NOW + timedelta(seconds=100)) == "worker-a"
    release(b, "collect:x:q", "worker-b")  # not b's to give back
    assert holder_of(a, "collect:x:q", NOW + timedelta(seconds=100)) == "worker-a"
    release(a, "collect:x:q", "worker-a")
    assert take(b, "collect:x:q", "worker-b", 60, NOW + timedelta(seconds=101))
    assert take(a, "collect:x:other", "worker-a", 60, NOW + timedelta(seconds=101))  # other work is free


def test_a_dead_workers_lease_runs_out_and_another_takes_over(tmp_path):
    dead, alive = Store(tmp_path / "o.db"), Store(tmp_path / "o.db")
    assert take(dead, "collect:reddit:q", "worker-dead", 120, NOW)
    dead.close()  # it never releases
    assert not take(alive, "collect:reddit:q", "worker-alive", 120, NOW + timedelta(seconds=119))
    assert take(alive, "collect:reddit:q", "worker-alive", 120, NOW + timedelta(seconds=120))
    assert holder_of(alive, "collect:reddit:q", NOW + timedelta(seconds=121)) == "worker-alive"


def test_racing_workers_never_both_win(tmp_path):
    Store(tmp_path / "o.db").close()
    winners: list[str] = []
    start = threading.Barrier(6)

    def worker(n: int) -> None:
        store = Store(tmp_path / "o.db")
        me = f"{worker_id()}-{n}"
        start.wait()
        for round_ in range(20):
            if take(store, f"job-{round_}", me, 600, NOW):
                winners.append(f"job-{round_}")
        store.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(winners) == sorted(f"job-{r}" for r in range(20))  # each job won exactly once


def test_a_killed_worker_on_this_host_is_taken_over_at_once(tmp_path):
    import os
    import socket
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs
    store = Store(tmp_path / "o.db")
    assert take(store, "collect:x:q", f"{socket.gethostname()}:{gone.pid}:abcd1234", 900, NOW)
    assert take(store, "collect:x:q", f"{socket.gethostname()}:{os.getpid()}:live", 900, NOW + timedelta(seconds=1))
    assert not take(store, "collect:x:q", "elsewhere:1:x", 900, NOW + timedelta(seconds=2))  # this one lives
