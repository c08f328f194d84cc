"""Real-time streams that `overheard run` keeps connected: Bluesky Jetstream, the X filtered stream, Mastodon.

Each stream stores its posts under the same source name and native id as the polling collector, so a
post seen both ways is stored once; its cursor lives in `cursors` under a `stream:` query key.
"""

from __future__ import annotations

from listener.config import Config
from listener.streams.base import Stream


def build_streams(config: Config) -> list[Stream]:
    """The configured, enabled streams (one per connection)."""
    s = config.streams
    out: list[Stream] = []
    if s.jetstream is not None and s.jetstream.enabled:
        from listener.streams.jetstream import JetstreamStream

        out.append(JetstreamStream(s.jetstream, config))
    if s.x is not None and s.x.enabled:
        from listener.streams.xstream import XStream

        out.append(XStream(s.x, config))
    if s.mastodon is not None and s.mastodon.enabled:
        from listener.streams.mastodon import mastodon_streams

        out.extend(mastodon_streams(s.mastodon, config))
    return out
