"""What every stream shares: reconnecting with bounded, jittered backoff, batching posts with their cursor
into one transaction, and the status row `overheard status` reads.

A stream is one long-lived connection (Jetstream, the X filtered stream, one Mastodon hashtag or list).
`Stream.run` loops until asked to stop: connect from the stored cursor, hand events to a `Buffer`,
and on any failure record it, wait and connect again. The buffer stores matched posts and the
cursor of the last event it has seen in one transaction, so a kill at any moment replays at most the
events after the last commit (the (source, native_id) upsert drops what was stored already).
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from listener.config import Config, StreamConfig
from listener.logs import event
from listener.models import Batch, Mention, Quarantined, iso, utcnow
from listener.store import Store

log = logging.getLogger("overheard.streams")


class StreamError(Exception):
    """A connection ended or could not be made. `kind` picks the backoff: network | http | rate | auth | closed."""

    def __init__(self, message: str, kind: str = "network", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


class Backoff:
    """How long to wait before reconnect number `failures`: linear or exponential, capped, with jitter.

    The jitter spreads reconnects of many daemons (or many streams of one) after a provider's outage;
    it only ever adds up to a quarter on top of the ceiling, so documented minimum waits (X) are kept,
    and the cap bounds the wait at 1.25 x max.
    """

    def __init__(self, base: float, cap: float, *, linear: bool = False,
                 rng: Callable[[], float] = random.random) -> None:
        self.base, self.cap, self.linear, self.rng = base, max(cap, base), linear, rng
        self.failures = 0

    def ceiling(self) -> float:
        step = self.base * self.failures if self.linear else self.base * 2 ** max(0, self.failures - 1)
        return min(self.cap, step)

    def next(self) -> float:
        self.failures += 1
        ceiling = self.ceiling()
        return ceiling + ceiling * 0.25 * self.rng()

    def reset(self) -> None:
        self.failures = 0


@dataclass
class StreamStats:
    """The in-memory side of one `stream_status` row (since the daemon started)."""

    stream: str
    source: str
    state: str = "connecting"
    connected_since: str | None = None
    last_event_at: str | None = None
    lag_seconds: float | None = None
    events: int = 0
    mentions: int = 0
    reconnects: int = 0
    errors: int = 0
    last_error: str | None = None
    last_error_at: str | None = None
    retry_at: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def save(self, store: Store) -> None:
        with self.lock:
            row = (self.stream, self.source, self.state, self.connected_since, self.last_event_at,
                   None if self.lag_seconds is None else round(self.lag_seconds, 3), self.events, self.mentions,
                   self.reconnects, self.errors, self.last_error, self.last_error_at, self.retry_at, iso(utcnow()))
        store.conn.execute(
            "INSERT INTO stream_status (stream, source, state, connected_since, last_event_at, lag_seconds, events, "
            "mentions, reconnects, errors, last_error, last_error_at, retry_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (stream) DO UPDATE SET source = excluded.source, "
            "state = excluded.state, connected_since = excluded.connected_since, "
            "last_event_at = excluded.last_event_at, lag_seconds = excluded.lag_seconds, events = excluded.events, "
            "mentions = excluded.mentions, reconnects = excluded.reconnects, errors = excluded.errors, "
            "last_error = excluded.last_error, last_error_at = excluded.last_error_at, "
            "retry_at = excluded.retry_at, updated_at = excluded.updated_at", row)


def forget_connections(store: Store) -> None:
    """A daemon starting alone on the store: the previous run's stream connections (their
    `stream_status` rows) are gone; each stream writes its row again when it connects."""
    store.conn.execute("DELETE FROM stream_status")


class Buffer:
    """Posts matched since the last commit, and the cursor just after the last event seen.

    `flush` stores them, the cursor and the status row in one transaction; `on_new` is told how many
    mentions were new so the daemon can run the process stage at once.
    """

    def __init__(self, stream: Stream, store: Store, on_new: Callable[[int], None]) -> None:
        self.stream, self.store, self.on_new = stream, store, on_new
        self.batch = Batch()
        self.cursor: str | None = None
        self.opened = time.monotonic()
        self.last_status = 0.0

    def add(self, mention: Mention | None, cursor: str | None, event_time: datetime | None = None,
            quarantined: Quarantined | None = None) -> None:
        stats = self.stream.stats
        now = utcnow()
        with stats.lock:
            stats.events += 1
            stats.last_event_at = iso(now)
            if event_time is not None:
                stats.lag_seconds = max(0.0, (now - event_time).total_seconds())
        if not self.batch.mentions and not self.batch.quarantined and self.cursor is None:
            self.opened = time.monotonic()
        if mention is not None:
            self.batch.mentions.append(mention)
        if quarantined is not None:
            self.batch.quarantined.append(quarantined)
        if cursor is not None:
            self.cursor = cursor
        self.flush_if_due()

    def flush_if_due(self) -> None:
        cfg = self.stream.config
        pending = bool(self.batch.mentions or self.batch.quarantined)
        age = time.monotonic() - self.opened
        if pending and (len(self.batch.mentions) >= cfg.flush_mentions or age >= cfg.flush_seconds):
            self.flush()
        elif self.cursor is not None and age >= max(cfg.flush_seconds, 2.0):
            self.flush()  # only the position moved: commit it less often
        elif time.monotonic() - self.last_status >= 2.0:
            self.stream.save_status(self.store)
            self.last_status = time.monotonic()

    def flush(self) -> int:
        if not (self.batch.mentions or self.batch.quarantined or self.cursor is not None):
            return 0
        batch, self.batch = self.batch, Batch()
        batch.cursor, self.cursor = self.cursor, None
        s = self.stream
        with self.store.transaction():
            saved = self.store.save_batch(s.source, s.cursor_key, batch)
            with s.stats.lock:
                s.stats.mentions += saved.new
            s.stats.save(self.store)
        self.last_status = time.monotonic()
        self.opened = time.monotonic()
        if saved.new or saved.quarantined:
            event(log, "stream_batch", stream=s.name, new=saved.new, duplicates=saved.duplicates,
                  quarantined=saved.quarantined)
        if saved.new:
            self.on_new(saved.new)
        return saved.new


class Stream(ABC):
    """One connection. Subclasses implement `session` (connect, read until it ends) and may override `backoff`."""

    source: str = ""  # the store's source name for the mentions (shared with the polling source)

    def __init__(self, name: str, config: StreamConfig, app: Config, cursor_key: str) -> None:
        self.name, self.config, self.app, self.cursor_key = name, config, app, cursor_key
        self.stats = StreamStats(name, self.source)
        self.backoffs: dict[str, Backoff] = {}
        self._closers: list[Callable[[], None]] = []
        self._closers_lock = threading.Lock()
        self.stop_event = threading.Event()

    # ------------------------------------------------------------ subclass API
    @abstractmethod
    def session(self, store: Store, buffer: Buffer, reconnect: bool) -> None:
        """Connect from the stored cursor and read until the connection ends (raise StreamError) or stop is set."""

    def backoff(self, kind: str) -> Backoff:
        if kind not in self.backoffs:
            self.backoffs[kind] = Backoff(self.config.backoff_base_seconds, self.config.backoff_max_seconds)
        return self.backoffs[kind]

    def check(self) -> None:
        """Raise (ConfigError) before the daemon starts when a needed secret or setting is missing."""
        return None

    # ------------------------------------------------------------ helpers for sessions
    def connected(self, store: Store) -> None:
        with self.stats.lock:
            self.stats.state, self.stats.connected_since, self.stats.retry_at = "connected", iso(utcnow()), None
        self.save_status(store)

    def healthy(self) -> None:
        """The connection delivered data: the next failure starts the backoff from the bottom again."""
        for b in self.backoffs.values():
            b.reset()

    def on_close(self, closer: Callable[[], None]) -> None:
        """Register how to break a blocking read when the daemon stops (closing a socket from another thread)."""
        with self._closers_lock:
            self._closers.append(closer)
        if self.stop_event.is_set():
            closer()

    def save_status(self, store: Store) -> None:
        try:
            with store.transaction():
                self.stats.save(store)
        except Exception:  # status is for people; a locked database must not kill the stream
            log.debug("could not save status of stream %s", self.name, exc_info=True)

    # ------------------------------------------------------------ the loop
    def stop(self) -> None:
        self.stop_event.set()
        with self._closers_lock:
            closers, self._closers = self._closers, []
        for close in closers:
            try:
                close()
            except Exception:  # already closed
                pass

    def run(self, db_path: Any, on_new: Callable[[int], None]) -> None:
        """Connect, read, reconnect with backoff, until `stop()`; never raises."""
        store = Store(db_path)
        reconnect = False
        try:
            while not self.stop_event.is_set():
                with self.stats.lock:
                    self.stats.state = "connecting"
                self.save_status(store)
                buffer = Buffer(self, store, on_new)
                error: StreamError | None = None
                try:
                    self.session(store, buffer, reconnect)
                    if not self.stop_event.is_set():
                        error = StreamError("the server ended the stream", kind="closed")
                except StreamError as exc:
                    error = exc
                except Exception as exc:  # a library error we did not map: reconnect like a network error
                    if not self.stop_event.is_set():
                        log.warning("stream %s: %s: %s", self.name, type(exc).__name__, exc, exc_info=True)
                    error = StreamError(f"{type(exc).__name__}: {exc}")
                finally:
                    with self._closers_lock:
                        self._closers = []
                    try:
                        buffer.flush()  # what arrived before the break is good: store it with its cursor
                    except Exception:
                        log.exception("stream %s: could not store the last batch (it is replayed)", self.name)
                if self.stop_event.is_set():
                    break
                assert error is not None
                kind = "network" if error.kind == "closed" else error.kind
                wait = self.backoff(kind).next()
                if error.retry_after is not None:
                    wait = max(wait, error.retry_after)
                reconnect = True
                with self.stats.lock:
                    s = self.stats
                    s.state, s.connected_since = "backoff", None
                    s.reconnects += 1
                    s.errors += error.kind != "closed"
                    s.last_error, s.last_error_at = str(error)[:500], iso(utcnow())
                    s.retry_at = iso(utcnow() + timedelta(seconds=wait))
                self.save_status(store)
                event(log, "stream_disconnected", logging.WARNING, stream=self.name, error=str(error)[:300],
                      kind=error.kind, retry_in_s=round(wait, 2))
                self.stop_event.wait(wait)
        finally:
            with self.stats.lock:
                self.stats.state, self.stats.connected_since, self.stats.retry_at = "stopped", None, None
            self.save_status(store)
            store.close()


def shutdown_socket(sock: socket.socket | None) -> None:
    """Wake a thread blocked reading `sock` (close() alone does not, shutdown() does)."""
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def response_socket(response: Any) -> socket.socket | None:
    """The socket under a streaming requests.Response (urllib3 2 / http.client internals, best effort)."""
    for path in (("raw", "_connection", "sock"), ("raw", "_fp", "fp", "raw", "_sock")):
        obj = response
        for attr in path:
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if isinstance(obj, socket.socket):
            return obj
    return None
