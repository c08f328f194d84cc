"""Posting a brand's answer on the platform a mention came from. One module per platform plus one line in
listener.plugins.REPLIERS.

A replier is an `alerts.replies.base.Replier` subclass with its `Config` (a `ReplierConfig`); its section
is `[replies.<source name>]`, keyed by the mention's `source` (x, reddit, mastodon, bluesky, googleplay,
appstore). Client libraries are imported lazily so one platform never slows another down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from listener import plugins

if TYPE_CHECKING:
    from alerts.replies.base import Replier
    from listener.config import Section

# mention source -> "module:Class", declared in the core (listener.plugins) so the config can validate
# a [replies.<source>] section without importing alerts
REPLIERS = plugins.REPLIERS


def available_repliers() -> list[str]:
    return sorted(REPLIERS)


def replier_class(source: str) -> type[Replier] | None:
    return plugins.load(REPLIERS, source, missing_ok=True)  # None: that platform's module is not written yet


def replier_config_class(source: str) -> type[Section] | None:
    return plugins.replier_config_class(source)
