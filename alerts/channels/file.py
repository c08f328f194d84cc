"""Alerts appended to a JSONL file, one object per line: for local use and for other tools to read."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from pydantic import Field

from alerts.channels.base import Channel, ChannelConfig
from alerts.message import Alert
from alerts.slack_format import slack_message


def open_private(path: Path, mode: str) -> IO[str]:
    """Open `path` for text writing; a new file is created 0600 (and missing folders 0700), whatever the
    umask: alert files quote people's posts."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        folder.chmod(0o700)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    created = not path.exists()
    fd = os.open(path, flags, 0o600)
    if created:
        os.fchmod(fd, 0o600)
    return os.fdopen(fd, mode, encoding="utf-8")


@contextmanager
def alert_file_lock(path: Path) -> Iterator[None]:
    """Held while a line is appended and while `forget` rewrites the file, so neither loses the other's
    work. A lock file beside it, because the rewrite replaces the alert file itself."""
    lock = path.with_name(f".{path.name}.lock")
    with open_private(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class FileChannelConfig(ChannelConfig):
    path: str = Field(default="alerts.jsonl", min_length=1)


class FileChannel(Channel):
    Config = FileChannelConfig
    config: FileChannelConfig

    def __init__(self, config: FileChannelConfig, app: object) -> None:
        super().__init__(config, app)
        resolve = getattr(app, "resolve", None)
        self.path = Path(resolve(config.path)) if resolve else Path(config.path)
        self._written: set[str] | None = None

    def _keys_written(self) -> set[str]:
        # A crash after writing but before the outbox marks it delivered must not write the line twice.
        if self._written is None:
            self._written = set()
            if self.path.exists():
                with open(self.path, encoding="utf-8") as fh:
                    for line in fh:
                        try:
                            self._written.add(json.loads(line).get("idem_key", ""))
                        except json.JSONDecodeError:
                            continue
        return self._written

    def send(self, alert: Alert, idem_key: str, previous_ref: str | None = None) -> str | None:
        if idem_key in self._keys_written():
            return None
        # "slack": the Block Kit message a Slack receiver would get, so a file shows what Slack would.
        record = {"idem_key": idem_key, "receiver": self.name, "updates": previous_ref, **alert.to_dict(),
                  "text": alert.plain_text(), "slack": slack_message(alert)}
        with alert_file_lock(self.path), open_private(self.path, "a") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._keys_written().add(idem_key)
        return idem_key
