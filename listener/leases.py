"""Leases: one worker at a time on a piece of work, and none held by a worker that died.

Several `overheard` processes on one store (PostgreSQL, or SQLite on one host) share work by taking a
lease on it first: `take` succeeds when nobody holds the name, when the holder is this worker (it
renews), or when the holder's lease ran out (it died or hung). The one statement is an upsert whose
DO UPDATE only fires in those cases, so two workers racing for the same name cannot both win, on
either engine, whatever the isolation level: the row is the lock, and its expiry is the failure
detector. This is the first piece of issue 20's item 3; the daemon's collect jobs take one per
source query (listener.scheduler).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from listener.models import iso, utcnow
from listener.store import Store


def worker_id() -> str:
    """Who holds a lease: the host, the process and a nonce (a restarted pid is another worker)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def take(store: Store, name: str, holder: str, seconds: float, now: datetime | None = None) -> bool:
    """Hold `name` for `seconds` from now; False when another live worker holds it."""
    now = now or utcnow()
    with store.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, "
            "expires_at = excluded.expires_at WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
            (name, holder, iso(now), iso(now + timedelta(seconds=seconds)), iso(now)))
        if cur.rowcount == 1:
            return True
        # A holder on this host whose process is gone (kill -9, a crash) needs no waiting for its expiry.
        other = conn.execute("SELECT holder FROM leases WHERE name = ?", (name,)).fetchone()
        if other and _dead_here(other[0]):
            conn.execute("UPDATE leases SET holder = ?, acquired_at = ?, expires_at = ? WHERE name = ? AND holder = ?",
                         (holder, iso(now), iso(now + timedelta(seconds=seconds)), name, other[0]))
            return True
        return False


def _dead_here(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
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
