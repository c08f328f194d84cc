"""Builders for the alert tests: a config with receivers, stored threads at a chosen risk, a recorder."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from alerts.channels.base import Channel, ChannelConfig, DeliveryError
from listener.config import Config, load_config
from listener.models import iso
from listener.store import Store
from tests.helpers import at, write_config

HOSTILE_TEXT = ("<!channel> <@U123> <!here|here> <script>alert('x')</script> & \"quotes\" "
                "<https://evil.example|click> *bold* \u202eevil\u202c 🔥 " + "é" * 5)
HOSTILE_AUTHOR = "<@U123>_<b>&"


def alerts_config(tmp_path: Path, receivers: str, rules: str = "", alerts: str = "", extra: str = "") -> Config:
    """A config whose [alerts] has the given receiver/rule tables (TOML snippets)."""
    text = f"""
    [alerts]
    queue_url = "http://127.0.0.1:8377"
    {alerts}
    {receivers}
    {rules}
    {extra}
    """
    return load_config(write_config(tmp_path, text))


def put_thread(store: Store, key: str, risk: float, *, brand: str = "Brightwave", source: str = "x",
               text: str = "Brightwave charged me twice, I want a refund", author: str = "amy_k",
               followers: int = 48_000, when: datetime | None = None, reasons: list[str] | None = None,
               title: str | None = None, n_mentions: int = 1) -> None:
    """Store a flagged thread at `risk` with its mentions, marked for the rules (as the rollup leaves it)."""
    when = when or at(20)
    with store.transaction() as conn:
        for i in range(n_mentions):
            conn.execute(
                "INSERT OR IGNORE INTO mentions (source, native_id, brand, url, author, author_followers, text, "
                "title, created_at, collected_at, thread_key, label, compound, confidence, detractor, scored_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'negative', -0.8, 0.9, 1, ?)",
                (source, f"{key}-{i}", brand, f"https://x.com/{author}/status/{abs(hash(key)) % 10**9}", author,
                 followers, text, title, iso(when + timedelta(minutes=i)), iso(when), key, iso(when)),
            )
        conn.execute(
            "INSERT INTO threads (thread_key, source, brand, url, title, first_at, last_at, mentions, negative, "
            "detractors, reach, risk, reasons, flagged, dirty, alert_pending, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, 1, ?) ON CONFLICT (thread_key) DO UPDATE SET "
            "risk = excluded.risk, reasons = excluded.reasons, alert_pending = 1, last_at = excluded.last_at, "
            "mentions = excluded.mentions",
            (key, source, brand, f"https://x.com/{author}/status/1", title, iso(when),
             iso(when + timedelta(minutes=n_mentions)), n_mentions, n_mentions, n_mentions, followers, risk,
             json.dumps(reasons or [f"mentions 'refund'; @{author} has 48k followers"]), iso(when)),
        )


class Recorder(Channel):
    """A receiver that records what it is given and can be told to fail."""

    def __init__(self, name: str = "rec", config: ChannelConfig | None = None, fail: int = 0) -> None:
        super().__init__(config or ChannelConfig(name=name, type="test", max_per_hour=0), None)
        self.sent: list[tuple[object, str, str | None]] = []
        self.fail = fail

    def send(self, alert, idem_key, previous_ref=None):
        if self.fail:
            self.fail -= 1
            raise DeliveryError("down", retry_after=60)
        self.sent.append((alert, idem_key, previous_ref))
        return f"ref-{len(self.sent)}"
