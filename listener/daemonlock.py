"""Is a daemon running on this database? Its lock file says (kept apart from the scheduler so that
`overheard status` can ask without importing APScheduler and the pipeline)."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from listener.config import Config


def lock_path(config: Config) -> Path:
    return Path(f"{config.db_path}.daemon.lock")


def daemon_pid(config: Config) -> int | None:
    """The pid of the daemon running on this database, or None. A kill -9 releases the lock at once."""
    path = lock_path(config)
    if not path.exists():
        return None
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            text = fh.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fh, fcntl.LOCK_UN)
        return None
