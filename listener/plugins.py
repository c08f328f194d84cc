"""The plug-in registries: sources, alert channels and repliers, by name, as "module:Class".

They live in the core so that the config can validate every section (`[sources.<name>]`,
`[[alerts.receivers]]`, `[replies.<source>]`) with the plug-in's own `Config` class without importing a
stage: the core knows a plug-in by its name only, and imports its module when first asked (so one
platform's client library never slows another down). A new source, channel or replier is one module
plus one line here. tests/test_layers.py checks every line names a stage module.
"""

from __future__ import annotations

import importlib
from typing import Any

# source name -> "module:Class" (a listener.sources.base.Source subclass with its Config)
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

# receiver `type` -> "module:Class" (an alerts.channels.base.Channel subclass with its Config)
CHANNELS: dict[str, str] = {
    "console": "alerts.channels.console:ConsoleChannel",
    "file": "alerts.channels.file:FileChannel",
    "slack_webhook": "alerts.channels.slack_webhook:SlackWebhookChannel",
    "slack_bot": "alerts.channels.slack_bot:SlackBotChannel",
    "email": "alerts.channels.email:EmailChannel",
    "webhook": "alerts.channels.webhook:WebhookChannel",
}

# mention source -> "module:Class" (an alerts.replies.base.Replier subclass with its Config)
REPLIERS: dict[str, str] = {
    "x": "alerts.replies.x:XReplier",
    "reddit": "alerts.replies.reddit:RedditReplier",
    "mastodon": "alerts.replies.mastodon:MastodonReplier",
    "bluesky": "alerts.replies.bluesky:BlueskyReplier",
    "googleplay": "alerts.replies.googleplay:GooglePlayReplier",
    "appstore": "alerts.replies.appstore:AppStoreReplier",
}


def load(registry: dict[str, str], name: str, *, missing_ok: bool = False) -> Any:
    """The class registered as `name`, imported now; None for a name not in `registry` (or, with
    `missing_ok`, one whose module is not written yet)."""
    target = registry.get(name)
    if target is None:
        return None
    module_name, attr = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if missing_ok and exc.name == module_name:
            return None
        raise
    return getattr(module, attr)


def config_class(registry: dict[str, str], name: str, *, missing_ok: bool = False) -> Any:
    """The `Config` section class of the plug-in registered as `name`, or None."""
    cls = load(registry, name, missing_ok=missing_ok)
    return None if cls is None else cls.Config


def source_config_class(name: str) -> Any:
    return config_class(SOURCES, name)


def channel_config_class(kind: str) -> Any:
    return config_class(CHANNELS, kind)


def replier_config_class(source: str) -> Any:
    return config_class(REPLIERS, source, missing_ok=True)
