"""Bluesky Jetstream: every new post on the network as JSON over a websocket, matched against the brands locally.

Jetstream (github.com/bluesky-social/jetstream) turns the firehose into JSON events:

    {"did": "did:plc:…", "time_us": 1732050000123456, "kind": "commit",
     "commit": {"rev": "…", "operation": "create", "collection": "app.bsky.feed.post", "rkey": "3l…",
                "record": {"$type": "app.bsky.feed.post", "text": "…", "createdAt": "…", "langs": ["en"]},
                "cid": "bafy…"}}

`wantedCollections=app.bsky.feed.post` keeps only posts; `cursor=<time_us>` replays from that moment
(the cursor we store is the time_us of the last event seen). On reconnect we rewind a few seconds
before it, because events near the cursor may not all have been committed; the upsert drops repeats.
Mentions are built by the Bluesky search source's own `to_mention` (same native_id, the at:// URI, so a
post seen by both search and the stream is stored once). zstd compression (`compress=true`) is not used:
it needs Jetstream's custom dictionary and the `zstandard` package, and saves bandwidth, not CPU.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from listener import query as brand_query_language
from listener.config import Config, JetstreamConfig
from listener.models import Mention, Quarantined
from listener.query import BrandMatcher, brand_query, positive_terms
from listener.sources.base import SourceQuery
from listener.store import Store
from listener.streams.base import Buffer, Stream, StreamError

POST = "app.bsky.feed.post"
QUERY_KEY = "stream:jetstream"


def bluesky_source(app: Config) -> Any:
    """The Bluesky search source, for its mention building (its own section when there is one)."""
    from listener.sources.bluesky import BlueskyConfig, BlueskySource

    section = app.sources.get("bluesky")
    if not isinstance(section, BlueskyConfig):
        # The stream needs no account: only the fields to_mention reads matter (brand_accounts, followers).
        section = BlueskyConfig.model_construct(handle="", brand_accounts=[], followers=False)
    return BlueskySource(section, app)


class JetstreamMatcher:
    """Jetstream event -> Mention (or None when no brand matches). Kept apart from the socket for the benchmark."""

    def __init__(self, app: Config) -> None:
        self.matcher = BrandMatcher(app.all_tracked())
        self.prefilter = any_term_pattern(app.all_tracked())
        self.bluesky = bluesky_source(app)
        self.queries = {t.name: SourceQuery(key=QUERY_KEY, brand=t.name, text="") for t in app.all_tracked()}

    def match(self, ev: dict[str, Any]) -> Mention | None:
        commit = ev.get("commit")
        if ev.get("kind") != "commit" or not isinstance(commit, dict):
            return None  # identity and account events
        if commit.get("collection") != POST or commit.get("operation") not in ("create", "update"):
            return None  # deletes, likes, follows
        record = commit.get("record")
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str) or not text:
            return None  # an image-only post has no text to match
        if not self.prefilter.search(_normalise(text)):
            return None  # no brand's positive terms at all: the full queries cannot match
        hits = self.matcher.matches(text)
        if not hits:
            return None
        did, rkey = ev.get("did"), commit.get("rkey")
        if not isinstance(did, str) or not isinstance(rkey, str):
            raise ValueError("event has no did or rkey")
        post = {"uri": f"at://{did}/{POST}/{rkey}", "cid": commit.get("cid"), "author": {"did": did},
                "record": record, "indexedAt": event_time(ev).isoformat().replace("+00:00", "Z")}
        return self.bluesky.to_mention(post, self.queries[hits[0].brand])


def any_term_pattern(tracked: Any) -> re.Pattern[str]:
    """One regex that finds any positive term of any tracked name: the terms' own patterns, OR-ed.

    Nearly every post on the network mentions none of them; one search rejects those instead of one
    per brand query (several times faster with 30 names). Every query has a positive term, so a text
    this rejects cannot match any query, and a hit still goes through the full query with exclusions.
    """
    terms = {t.pattern.pattern for tr in tracked for t in positive_terms(brand_query(tr))}
    return re.compile("|".join(f"(?:{p})" for p in sorted(terms)), re.IGNORECASE)


# The query language's own normalisation, so the prefilter sees the text exactly as the queries do.
_normalise = getattr(brand_query_language, "_normalise", lambda text: unicodedata.normalize("NFKC", text))


def event_time(ev: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(ev["time_us"]) / 1_000_000, tz=UTC)


class JetstreamStream(Stream):
    source = "bluesky"
    config: JetstreamConfig

    def __init__(self, config: JetstreamConfig, app: Config) -> None:
        super().__init__("jetstream", config, app, QUERY_KEY)
        self.events = JetstreamMatcher(app)

    def url(self, cursor: str | None) -> str:
        params: list[tuple[str, str]] = [("wantedCollections", POST)]
        rewind = int(self.config.rewind_seconds * 1_000_000)
        if cursor and cursor.isdigit():
            params.append(("cursor", str(max(0, int(cursor) - rewind))))
        elif self.config.first_run_seconds:
            params.append(("cursor", str(int((time.time() - self.config.first_run_seconds) * 1_000_000))))
        sep = "&" if "?" in self.config.url else "?"
        return f"{self.config.url}{sep}{urlencode(params)}"

    def session(self, store: Store, buffer: Buffer, reconnect: bool) -> None:
        from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
        from websockets.sync.client import connect

        url = self.url(store.get_cursor(self.source, self.cursor_key))
        try:
            ws = connect(url, open_timeout=15, close_timeout=2, max_size=2 ** 22, compression=None,
                         user_agent_header="overheard (+https://github.com/overheard)")
        except InvalidStatus as exc:
            code = exc.response.status_code
            kind = "rate" if code == 429 else "http"
            raise StreamError(f"Jetstream {self.config.url} answered HTTP {code}", kind=kind) from None
        except InvalidURI as exc:
            raise StreamError(f"Jetstream url {self.config.url!r} is not a websocket URL: {exc}", kind="http") from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise StreamError(f"cannot connect to Jetstream {self.config.url}: {type(exc).__name__}: {exc}") from None
        self.on_close(ws.close_socket)
        with ws:
            self.connected(store)
            last_data = time.monotonic()
            first = True
            while not self.stop_event.is_set():
                try:
                    frame = ws.recv(timeout=0.25)
                except TimeoutError:
                    if time.monotonic() - last_data > self.config.silence_seconds:
                        raise StreamError(f"Jetstream sent nothing for {self.config.silence_seconds:.0f} s") from None
                    buffer.flush_if_due()
                    continue
                except ConnectionClosed as exc:
                    if self.stop_event.is_set():
                        return
                    raise StreamError(f"Jetstream connection closed ({exc})") from None
                last_data = time.monotonic()
                self.handle(frame, buffer)
                if first:
                    self.healthy()
                    first = False

    def handle(self, frame: str | bytes, buffer: Buffer) -> None:
        try:
            ev = json.loads(frame)
            if not isinstance(ev, dict) or not isinstance(ev.get("time_us"), int):
                raise ValueError("not an event object with an integer time_us")
        except ValueError as exc:
            text = frame if isinstance(frame, str) else frame[:2000].decode("utf-8", "replace")
            buffer.add(None, None, quarantined=Quarantined(self.source, f"{self.config.url} frame {text[:60]!r}",
                                                           f"Jetstream frame is not an event: {exc}", text[:10000]))
            return
        cursor = str(ev["time_us"])
        try:
            mention = self.events.match(ev)
        except Exception as exc:  # one odd post is quarantined, the stream goes on
            where = f"{self.config.url} time_us {cursor} did {ev.get('did')}"
            buffer.add(None, cursor, event_time(ev), Quarantined(self.source, where, str(exc) or type(exc).__name__,
                                                                 json.dumps(ev, ensure_ascii=False)[:10000]))
            return
        buffer.add(mention, cursor, event_time(ev))
