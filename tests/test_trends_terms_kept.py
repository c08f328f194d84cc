"""The terms table keeps finished periods in the store: after a new hour only the open period's texts are
read, and the rows are those of a build from scratch (also after a late mention in a finished period)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import listener.topics
from listener.config import load_config
from listener.models import iso
from listener.store import Store
from listener.trendfiles import write_trend_files
from listener.trends.rollup import update_rollup
from listener.trends.since import parse_duration
from listener.trends.tables import make_window
from listener.trends.terms import terms_table
from tests.helpers import write_config

DAY0 = datetime(2026, 11, 10, tzinfo=UTC)
USUAL = ["Brightwave app works fine today", "new Brightwave router arrived", "Brightwave support was quick",
         "the Brightwave bill is higher this month", "Brightwave wifi is ok I guess", "love my Brightwave plan"]
SPIKE = ["Brightwave outage again, no internet since morning", "Brightwave outage in Leeds, router blinking red",
         "refund please, the Brightwave outage cost me a day of work", "#BrightwaveDown outage for hours"]


def _add(store: Store, rng: random.Random, start: datetime, hours: float, n: int, texts: list[str], tag: str,
         scored_at: datetime | None = None) -> None:
    """Mentions scored a minute after they were posted (or at `scored_at`: a late arrival)."""
    rows = []
    for i in range(n):
        created = start + timedelta(seconds=rng.uniform(0, hours * 3600))
        text = f"{rng.choice(texts)} {rng.choice(['', 'honestly', 'again', 'today', '!!'])} #{i % 7}"
        scored = iso(scored_at or created + timedelta(minutes=1))
        rows.append(("x", f"{tag}{i}", "Brightwave", f"user{rng.randrange(200)}", text, iso(created), scored,
                     f"x:{tag}{i}", "en", rng.choice(["negative", "neutral", "positive"]), 0.1, scored))
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO mentions (source, native_id, brand, author, text, created_at, collected_at, thread_key, "
            "lang, label, compound, scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _scratch(config, store: Store, now: datetime) -> list[dict]:
    """The table built with nothing kept."""
    store.conn.execute("DELETE FROM trend_terms_kept")
    window = make_window("day", config.trends.timezone, now - parse_duration(config.trends.since), now)
    return terms_table(config, store, window).rows


def _kept(config, store: Store, now: datetime) -> list[dict]:
    window = make_window("day", config.trends.timezone, now - parse_duration(config.trends.since), now)
    return terms_table(config, store, window).rows


def test_a_new_hour_reads_only_the_open_period_and_gives_the_rows_of_a_rebuild(tmp_path, monkeypatch):
    config = load_config(write_config(tmp_path, """
    [trends]
    periods = ["day"]
    timezone = "UTC"
    since = "14d"
    charts = false
    report = false
    """), check_secrets=False)
    rng = random.Random(4)
    now = DAY0 + timedelta(days=10, hours=12)
    with Store(config.db_path) as store:
        for day in range(11):
            _add(store, rng, DAY0 + timedelta(days=day), 24 if day < 10 else 12, 80, USUAL, f"d{day}-")
        _add(store, rng, DAY0 + timedelta(days=8), 24, 60, SPIKE, "spike-")
        update_rollup(store, config.trends.timezone, now)
        first = _kept(config, store, now)
        assert any(r["term"] == "outage" for r in first), "the spike day must have grown terms"
        # 2 brands, the 7 days shown less the open one
        assert store.scalar("SELECT COUNT(*) FROM trend_terms_kept WHERE rows_json IS NOT NULL") == 2 * 6

        reads: list[str] = []
        real = listener.topics.read_posts
        monkeypatch.setattr(listener.topics, "read_posts",
                            lambda store, brand, since, until, **kw: reads.append(iso(since)) or
                            real(store, brand, since, until, **kw))
        # One new hour: only the open day is read again.
        later = now + timedelta(hours=1)
        _add(store, rng, now, 1, 30, SPIKE, "hour-")
        write_trend_files(config, store, tmp_path / "out", now=later)
        assert reads == [iso(DAY0 + timedelta(days=10))] * 2  # the open day, for each of the 2 brands
        again = _kept(config, store, later)
        monkeypatch.setattr(listener.topics, "read_posts", real)
        assert again == _scratch(config, store, later)
        assert again != first

        # A late mention in a finished day: that day is read again, and the days comparing with it redone.
        _add(store, rng, DAY0 + timedelta(days=6), 2, 40, SPIKE, "late-", scored_at=later)
        update_rollup(store, config.trends.timezone, later)
        _kept(config, store, later)  # a first write after the change, which keeps what it redid
        reads.clear()
        monkeypatch.setattr(listener.topics, "read_posts",
                            lambda store, brand, since, until, **kw: reads.append(iso(since)) or
                            real(store, brand, since, until, **kw))
        kept = _kept(config, store, later)
        assert reads == [iso(DAY0 + timedelta(days=10))] * 2  # the open day, for each of the 2 brands
        monkeypatch.setattr(listener.topics, "read_posts", real)
        assert kept == _scratch(config, store, later)
        assert kept != again  # the late posts changed the finished days' rows, and the kept rows followed
