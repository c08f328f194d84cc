"""The reach of stored mentions: each distinct audience once, at its largest size (docs/trends.md#reach).

The thread rollup and the trend tables count reach the same way, so both read it from here (the maths,
`audience_of` and `audience_reach`, is in sentiment.trends).
"""

from __future__ import annotations

import json
from typing import Any

from sentiment.trends import audience_of, audience_reach


def stored_audience(row: dict[str, Any]) -> str:
    """The audience key (sentiment.trends.audience_of) of a full stored mention row."""
    community = None
    if row.get("source") == "reddit":
        try:
            metrics = json.loads(row.get("metrics") or "{}")
        except ValueError:
            metrics = {}
        community = metrics.get("subreddit") if isinstance(metrics, dict) else None
    return audience_of(row["source"], row.get("author"), row.get("author_followers"),
                       community=community if isinstance(community, str) else None, url=row.get("url"),
                       thread=row.get("thread_key"), mention=str(row.get("id")))


def mentions_reach(rows: list[dict[str, Any]]) -> int:
    """Reach of some stored mentions (a thread's): each distinct audience once, at its largest size."""
    return audience_reach((stored_audience(r), r.get("author_followers")) for r in rows)
