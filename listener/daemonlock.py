"""Is a daemon running on this database? Its lock file says (kept apart from the scheduler so that
`overheard status` can ask without importing APScheduler and the pipeline).

A daemon started on its own (`overheard run`) holds the lock file exclusively: a second one on this
host is refused, as two daemons used to fetch and alert twice. Workers started with `--join` hold it
shared: any number of them may run side by side (they share the work through leases, listener.leases),
but not beside a daemon that asked to be alone. Across hosts (PostgreSQL) the live workers are the
store's `worker:*` leases; `overheard run` without --join is refused while another host's is live.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from listener.config import Config


def lock_path(config: Config) -> Path:
    return Path(f"{config.db_path}.daemon.lock")


def daemon_pid(config: Config) -> int | None:
    """The pid of a daemon running on this database on this host, or None (-1: running, pid unknown).
    A kill -9 releases the lock at once."""
    path = lock_path(config)
    if not path.exists():
        return None
    with open(path, "a+") as fh:
        try:
            # Exclusive, so that workers holding it shared (--join) count as running too.
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            text = fh.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fh, fcntl.LOCK_UN)
        return None
