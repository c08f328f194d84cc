"""Shared set-up for the queue tests: a config, a store and flagged threads made by the real pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from listener.config import Config, load_config
from listener.models import Batch, Mention
from listener.pipeline import process
from listener.store import Store

CONFIG = """\
[[brands]]
name = "Brightwave"
keywords = ["Brightwave"]
handles = ["@Brightwave"]

[store]
path = "overheard.db"

[sentiment.themes]
billing = ["bill", "charged", "refund"]
outage = ["outage", "down", "no internet"]

[[alerts.receivers]]
name = "file"
type = "file"
path = "alerts.jsonl"
{extra}
"""

ANGRY = [
    "@Brightwave outage again, no internet for 6 hours. I want a refund, switching to Lumacell. Awful",
    "Same here, Brightwave is down and support is useless. Terrible, never again",
    "Brightwave charged me twice and nobody answers. Scam. Cancelling",
    "Disgusting service from Brightwave, worst provider ever, I am furious",
]


def write_config(tmp_path: Path, extra: str = "") -> Config:
    path = tmp_path / "overheard.toml"
    path.write_text(CONFIG.format(extra=extra), encoding="utf-8")
    return load_config(path)


def angry_thread(store: Store, thread: str, *, author: str = "dana", at: datetime | None = None,
                 texts: list[str] | None = None, source: str = "x", lang: str | None = "en") -> list[Mention]:
    """Store a thread of angry mentions from big accounts (flagged by the real risk rollup)."""
    at = at or datetime.now(UTC) - timedelta(hours=2)
    mentions = []
    for i, text in enumerate(texts or ANGRY):
        mentions.append(Mention(
            source=source, native_id=f"{thread}-{i}", text=text, created_at=at + timedelta(minutes=3 * i),
            brand="Brightwave", author=author if i == 0 else f"{author}-friend{i}", author_followers=90_000,
            thread_id=f"{thread}-0", engagement=400, lang=lang, url=f"https://x.com/{author}/status/{thread}-{i}",
        ))
    store.save_batch(source, "test", Batch(mentions=mentions))
    return mentions


def flagged_items(config: Config, store: Store, threads: int = 2) -> list[int]:
    """`threads` flagged threads run through the pipeline; returns their queue item ids."""
    # Posted 20 minutes ago and flagged now, as with a live source: the SLA clocks count from the
    # post ([queue] sla_starts = "post"), so the items are inside their targets.
    posted = datetime.now(UTC) - timedelta(minutes=20)
    for n in range(threads):
        angry_thread(store, f"t{n}", author=f"customer{n}", at=posted)
    process(config, store, channels={})
    return [r[0] for r in store.conn.execute("SELECT id FROM queue_items ORDER BY id")]
