"""Posting a brand's answer on the platform a mention came from. One module per platform plus one line here.

A replier is an `alerts.replies.base.Replier` subclass with its `Config` (a `ReplierConfig`); its section
is `[replies.<source name>]`, keyed by the mention's `source` (x, reddit, mastodon, bluesky, googleplay,
appstore). Client libraries are imported lazily so one platform never slows another down.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alerts.replies.base import Replier
    from listener.config import Section

# mention source -> "module:Class"
REPLIERS: dict[str, str] = {
    "x": "alerts.replies.x:XReplier",
    "reddit": "alerts.replies.reddit:RedditReplier",
    "mastodon": "alerts.replies.mastodon:MastodonReplier",
    "bluesky": "alerts.replies.bluesky:BlueskyReplier",
    "googleplay": "alerts.replies.googleplay:GooglePlayReplier",
    "appstore": "alerts.replies.appstore:AppStoreReplier",
}


def available_repliers() -> list[str]:
    return sorted(REPLIERS)


def replier_class(source: str) -> type[Replier] | None:
    target = REPLIERS.get(source)
    if target is None:
        return None
    module_name, attr = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:  # that platform's module is not written yet
            return None
        raise
    return getattr(module, attr)


def replier_config_class(source: str) -> type[Section] | None:
    cls = replier_class(source)
    return None if cls is None else cls.Config
