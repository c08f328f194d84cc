"""Running one stream in a thread against a fake server, and waiting on what it stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from listener.config import Config, config_from_dict
from listener.store import Store
from listener.streams.base import Stream
from tests.fakes_web.workspace import BRANDS


def stream_config(tmp_path: Path, streams: dict[str, Any], sources: dict[str, Any] | None = None,
                  **extra: Any) -> Config:
    raw = {**BRANDS, "store": {"path": str(tmp_path / "overheard.db")}, "streams": streams,
           "sources": sources or {}, **extra}
    return config_from_dict(raw, tmp_path / "overheard.toml", check_secrets=False)


class Running:
    """A stream's run loop in a thread; `stop()` ends it the way the daemon does."""

    def __init__(self, stream: Stream, config: Config) -> None:
        self.stream, self.config = stream, config
        self.woken: list[int] = []
        Store(config.db_path).close()  # migrate before the thread opens its own connection
        self.thread = threading.Thread(target=stream.run, args=(config.db_path, self.woken.append), daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 10) -> float:
        t0 = time.monotonic()
        self.stream.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"stream {self.stream.name} did not stop within {timeout} s"
        return time.monotonic() - t0


def wait_for(check: Callable[[], Any], timeout: float = 10, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def rows(config: Config, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    with Store(config.db_path) as store:
        return store.query(sql, params)
