"""Leases: one worker at a time on a piece of work, and none held by a worker that died.

Several `overheard` processes on one store (PostgreSQL, or SQLite on one host) share work by taking a
lease on it first: `take` succeeds when nobody holds the name, when the holder is this worker (it
renews), or when the holder's lease ran out (it died or hung). The one statement is an upsert whose
DO UPDATE only fires in those cases, so two workers racing for the same name cannot both win, on
either engine, whatever the isolation level: the row is the lock, and its expiry is the failure
detector. What is leased (listener.pipeline says it per stage): each source query while it is collected, each
block of unscored mentions while it is scored (`Blocks`), each receiver while its outbox is sent, and
the whole of the stages that one worker runs at a time (threads, rules, queue clock, trend files). A
lease is renewed while its worker lives (`Heartbeat`); results are written with a guard of their own
(a mention is scored only if still unscored, a thread's alerts checked only if still pending), so even
a worker that lost its lease mid-work, paused longer than the lease, cannot write a result twice.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta

from listener.models import iso, utcnow
from listener.store import Store

log = logging.getLogger("overheard.leases")


HOST_ENV = "OVERHEARD_WORKER_HOST"


def host_name() -> str:
    """The host a worker names in its leases: $OVERHEARD_WORKER_HOST, else the host name. Two machines
    must not share one (a lease of a live worker on the other would look like a dead one's here): set
    it where host names repeat, e.g. containers that all call themselves "localhost"."""
    return os.environ.get(HOST_ENV, "").strip() or socket.gethostname()


def worker_id() -> str:
    """Who holds a lease: the host, the process and a nonce (a restarted pid is another worker)."""
    return f"{host_name()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def take(store: Store, name: str, holder: str, seconds: float, now: datetime | None = None) -> bool:
    """Hold `name` for `seconds` from now; False when another live worker holds it."""
    now = now or utcnow()
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO leases (name, holder, acquired_at, expires_at, renewed_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, "
            "expires_at = excluded.expires_at, renewed_at = excluded.renewed_at "
            "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
            (name, holder, iso(now), iso(now + timedelta(seconds=seconds)), iso(now), iso(now)))
        if cur.rowcount == 1:
            return True
        # A holder on this host whose process is gone (kill -9, a crash) needs no waiting for its expiry.
        other = conn.execute("SELECT holder FROM leases WHERE name = ?", (name,)).fetchone()
        if other and dead_here(other[0]):
            conn.execute("UPDATE leases SET holder = ?, acquired_at = ?, expires_at = ?, renewed_at = ? "
                         "WHERE name = ? AND holder = ?",
                         (holder, iso(now), iso(now + timedelta(seconds=seconds)), iso(now), name, other[0]))
            return True
        return False


def holder_parts(holder: str) -> tuple[str, int | None]:
    """The host and pid a holder id names (`host:pid:nonce`); pid None when it is not one."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    return host, int(pid_text) if pid_text.isdigit() else None


def dead_here(holder: str) -> bool:
    """The holder is a process on this host that is gone (its leases are free whatever their expiry)."""
    host, pid = holder_parts(holder)
    if host != host_name() or pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def release(store: Store, name: str, holder: str) -> None:
    """Give `name` back (only if this worker still holds it)."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))


def holder_of(store: Store, name: str, now: datetime | None = None) -> str | None:
    """Who holds `name` now, or None."""
    return store.scalar("SELECT holder FROM leases WHERE name = ? AND expires_at > ?", (name, iso(now or utcnow())))


# The lease each `overheard run` worker holds on itself while it lives ("worker:" + its id): how a
# worker without --join knows another host runs, and how `overheard status` lists the workers.
WORKER_LEASE = "worker:"


# How long a stage or a piece of work is held without being renewed. The daemon renews what it holds
# every third of this ([daemon] lease_seconds), so a worker that dies, or loses the store, holds nothing
# a minute later; one on this host whose process is gone holds nothing at once (see `take`).
LEASE_S = 60.0
# A one-off run (`overheard fetch`, `process`: no heartbeat thread) holds each stage this long.
ONE_SHOT_LEASE_S = 600.0


@contextmanager
def held(store: Store, name: str, holder: str, seconds: float) -> Iterator[bool]:
    """`with held(...) as mine:` the lease taken for the block (mine=False: another worker has it)."""
    mine = take(store, name, holder, seconds)
    try:
        yield mine
    finally:
        if mine:
            with suppress(sqlite3.Error):  # a lost connection: the lease runs out on its own
                release(store, name, holder)


def renew_all(store: Store, holder: str, seconds: float, now: datetime | None = None) -> int:
    """Push every lease `holder` holds to `seconds` from now (never shortening a longer one); how many."""
    now = now or utcnow()
    until = iso(now + timedelta(seconds=seconds))
    with store.transaction() as conn:
        cur = conn.execute("UPDATE leases SET expires_at = ?, renewed_at = ? WHERE holder = ? AND expires_at < ?",
                           (until, iso(now), holder, until))
        return max(cur.rowcount, 0)


def release_all(store: Store, holder: str) -> None:
    """Everything this worker holds, given back (a graceful stop: nobody waits for the expiry)."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM leases WHERE holder = ?", (holder,))


class Heartbeat:
    """A thread that keeps a worker's leases alive while the worker is: it renews them every third of
    their length, on a store connection of its own. When the process dies, renewal stops, and the
    leases run out `seconds` later; the work they held is taken over by another worker."""

    def __init__(self, open_store: Callable[[], Store], holder: str, seconds: float = LEASE_S) -> None:
        self.open_store, self.holder, self.seconds = open_store, holder, seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="overheard-leases", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        store: Store | None = None
        while not self._stop.wait(self.seconds / 3):
            try:
                store = store or self.open_store()
                renew_all(store, self.holder, self.seconds)
            except Exception:  # the store away for a moment: try again next beat, with a new connection
                log.warning("could not renew the leases of %s; trying again", self.holder, exc_info=True)
                if store is not None:
                    with suppress(Exception):
                        store.close()
                store = None
        if store is not None:
            with suppress(Exception):
                store.close()


class Blocks:
    """Numbered blocks of work (say mention ids // 2000) claimed one at a time by lease, so workers
    sharing a backlog each take different blocks, and a block a dead worker held is free again once
    its lease runs out. Claim before working on a block, release after its results are committed."""

    def __init__(self, store: Store, kind: str, holder: str | None = None, seconds: float = LEASE_S) -> None:
        self.store, self.kind, self.seconds = store, kind, seconds
        self.holder = holder or worker_id()
        self.held: set[int] = set()

    def name(self, block: int) -> str:
        return f"{self.kind}:{block}"

    def claim(self, block: int) -> bool:
        if block in self.held or take(self.store, self.name(block), self.holder, self.seconds):
            self.held.add(block)
            return True
        return False

    def release(self, block: int) -> None:
        if block in self.held:
            self.held.discard(block)
            with suppress(sqlite3.Error):
                release(self.store, self.name(block), self.holder)

    def release_all(self) -> None:
        for block in list(self.held):
            self.release(block)
