"""Sources by name. A new source is one module (a Source subclass with its Config) plus one line here."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from listener.config import Section
    from listener.sources.base import Source

# name -> "module:Class"; imported lazily so one source's client library never slows another down.
SOURCES: dict[str, str] = {
    "file": "listener.sources.file:FileSource",
    "x": "listener.sources.x:XSource",
    "reddit": "listener.sources.reddit:RedditSource",
    "appstore": "listener.sources.appstore:AppStoreSource",
    "googleplay": "listener.sources.googleplay:GooglePlaySource",
    "rss": "listener.sources.rss:RssSource",
    "hackernews": "listener.sources.hackernews:HackerNewsSource",
    "mastodon": "listener.sources.mastodon:MastodonSource",
    "bluesky": "listener.sources.bluesky:BlueskySource",
}


def available_sources() -> list[str]:
    return sorted(SOURCES)


def source_class(name: str) -> type[Source] | None:
    target = SOURCES.get(name)
    if target is None:
        return None
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def source_config_class(name: str) -> type[Section] | None:
    cls = source_class(name)
    return None if cls is None else cls.Config
