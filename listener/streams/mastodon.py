"""Mastodon streaming: hashtag and list timelines over server-sent events, with Mastodon.py's StreamListener.

    GET /api/v1/streaming/hashtag?tag=brightwave      (public; some servers want a token)
    GET /api/v1/streaming/list?list=<id>               (the token's own lists)
    event: update
    data: {status JSON}
                                                       and ":thump" heartbeats about every 15 s

Mastodon does not replay a stream, so each connection first catches up through the REST timeline
from the stored cursor (the newest status id seen, `min_id`), then streams; the cursor moves with
every stored batch. Mentions are built by the Mastodon source's own `to_mention` (same native_id,
the ActivityPub URI, as the polling source). Mastodon.py's `stream_hashtag` / `stream_list` are used
in blocking mode (our loop reconnects, with backoff); a stop shuts the socket to end the read.
"""

from __future__ import annotations

import json
from typing import Any

from listener.config import Config, MastodonStreamConfig
from listener.errors import SourceError
from listener.models import Quarantined
from listener.sources.base import SourceQuery
from listener.store import Store
from listener.streams.base import Buffer, Stream, StreamError, response_socket, shutdown_socket


class _Stop(Exception):
    """Raised inside the listener to leave Mastodon.py's blocking read."""


def mastodon_streams(config: MastodonStreamConfig, app: Config) -> list[MastodonStream]:
    from listener.sources.mastodon import MastodonConfig, MastodonSource, host_of

    section = app.sources.get("mastodon")
    if not isinstance(section, MastodonConfig):
        from listener.errors import ConfigError

        raise ConfigError(app.path.name, "streams.mastodon",
                          "needs a [sources.mastodon] section (its instances, tokens and hashtags)")
    source = MastodonSource(section, app)
    hosts = {host_of(i.url): i for i in section.instances}
    out: list[MastodonStream] = []
    if config.hashtags:
        for host in hosts:
            seen: set[str] = set()
            for tracked in app.all_tracked():
                for tag in source.tags_for(tracked):
                    if tag not in seen:
                        seen.add(tag)
                        out.append(MastodonStream(config, app, source, host, "hashtag", tag, tracked.name))
    for host, ids in config.lists.items():
        if host not in hosts:
            from listener.errors import ConfigError

            raise ConfigError(app.path.name, f"streams.mastodon.lists.{host}",
                              f"not an instance of [sources.mastodon] ({', '.join(hosts)})")
        if not hosts[host].access_token_env:
            from listener.errors import ConfigError

            raise ConfigError(app.path.name, f"streams.mastodon.lists.{host}",
                              "list timelines need that instance's access_token_env")
        out += [MastodonStream(config, app, source, host, "list", str(i), None) for i in ids]
    return out


class MastodonStream(Stream):
    source = "mastodon"
    config: MastodonStreamConfig

    def __init__(self, config: MastodonStreamConfig, app: Config, mastodon: Any, host: str, kind: str,
                 target: str, brand: str | None) -> None:
        label = f"#{target}" if kind == "hashtag" else f"list {target}"
        super().__init__(f"mastodon {host} {label}", config, app, f"stream:{host} {label}")
        self.mastodon, self.host, self.kind, self.target = mastodon, host, kind, target
        # A hashtag names its brand (the text still has to match it); a list's posts match any brand.
        self.query = SourceQuery(key=self.cursor_key, brand=brand, text=label)

    def check(self) -> None:
        self.mastodon.client(self.host)  # ConfigError when the token's variable is not set

    def session(self, store: Store, buffer: Buffer, reconnect: bool) -> None:
        from mastodon import MastodonError, StreamListener

        api = self.mastodon.client(self.host)
        self.catch_up(store, buffer)
        stream = self

        class Listener(StreamListener):
            def on_update(self, status: Any) -> None:
                stream.handle(status, buffer)
                if stream.stop_event.is_set():
                    raise _Stop

            def on_status_update(self, status: Any) -> None:  # an edit: the upsert keeps the first text
                self.on_update(status)

            def handle_heartbeat(self) -> None:
                buffer.flush_if_due()
                if stream.stop_event.is_set():
                    raise _Stop

            def on_unknown_event(self, name: str, unknown_event: Any = None) -> None:
                pass  # newer servers add events; they are not posts

        def remember(response: Any, *args: Any, **kwargs: Any) -> None:
            if "/api/v1/streaming/" in response.url:
                if response.status_code == 200:
                    self.connected(store)
                    self.healthy()
                self.on_close(lambda: shutdown_socket(response_socket(response)))

        api.session.hooks["response"] = [remember]
        try:
            if self.kind == "hashtag":
                api.stream_hashtag(self.target, Listener(), timeout=self.config.silence_seconds)
            else:
                api.stream_list(self.target, Listener(), timeout=self.config.silence_seconds)
        except _Stop:
            return
        except MastodonError as exc:
            if self.stop_event.is_set():
                return
            text = str(exc)
            kind = "rate" if "429" in text else "auth" if "401" in text or "403" in text else "network"
            raise StreamError(f"Mastodon {self.host} {self.query.text} stream: {type(exc).__name__}: {text[:200]}",
                              kind=kind) from None
        finally:
            api.session.hooks["response"] = []

    def catch_up(self, store: Store, buffer: Buffer) -> None:
        """Fetch what was posted while disconnected (REST, from the stored cursor), before streaming."""
        from listener.models import utcnow
        from listener.sources.mastodon import snowflake

        cursor = store.get_cursor(self.source, self.cursor_key)
        if not cursor:
            buffer.cursor = snowflake(utcnow())  # a first start streams from now on
            buffer.flush()
            return
        try:
            if self.kind == "hashtag":
                batches = self.mastodon._timeline(self.host, self.target, self.query, cursor)
            else:
                batches = self._list_pages(cursor)
            for batch in batches:
                for m in batch.mentions:
                    buffer.add(m, None, m.created_at)
                for q in batch.quarantined:
                    buffer.add(None, None, quarantined=q)
                if batch.cursor:
                    buffer.cursor = batch.cursor
                buffer.flush()
        except SourceError as exc:
            kind = "rate" if exc.retry_after is not None else "auth" if exc.auth else "network"
            raise StreamError(f"catching up: {exc}", kind=kind, retry_after=exc.retry_after) from None

    def _list_pages(self, cursor: str) -> Any:
        from listener.sources.mastodon import _id, id_order

        api = self.mastodon.client(self.host)
        position = cursor
        for _ in range(self.mastodon.config.max_pages):
            page = self.mastodon.call(self.host, f"list {self.target}", api.timeline_list, self.target,
                                      min_id=position, limit=self.mastodon.config.page_size)
            if not page:
                return
            batch = self.mastodon._batch(self.host, page, self.query, f"https://{self.host}/lists/{self.target}")
            newest = max((_id(s) for s in page if _id(s)), key=id_order, default=None)
            if newest is None or id_order(newest) <= id_order(position):
                return
            position = batch.cursor = newest
            yield batch

    def handle(self, status: Any, buffer: Buffer) -> None:
        from listener.sources.mastodon import _id, id_order

        sid = _id(status)
        cursor = buffer.cursor or None
        if sid is not None and (cursor is None or id_order(sid) > id_order(cursor)):
            cursor = sid
        try:
            mention = self.mastodon.to_mention(self.host, status, self.query)
        except SourceError:
            raise  # the context lookup was rate limited or refused: reconnect (and catch up) later
        except Exception as exc:
            where = f"https://{self.host}/api/v1/streaming {self.query.text} status {sid}"
            buffer.add(None, cursor, quarantined=Quarantined(self.source, where, str(exc) or type(exc).__name__,
                                                             json.dumps(status, default=str)[:10000]))
            return
        if mention is not None:
            mention.metrics["via"] = "stream"
        buffer.add(mention, cursor, getattr(mention, "created_at", None))
