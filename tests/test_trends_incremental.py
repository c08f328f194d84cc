"""Trend files regenerated from kept periods are the files a rebuild from scratch writes.

Each test writes the files once (which keeps the finished periods in the store), changes the store
the way a user or the daemon does (new mentions, a re-label, forget --author, a rebuild, a config
or zone change), writes them again, and compares every file byte for byte with files built from
scratch (listener.trends.tables.build_tables, which keeps nothing) at the same moment.
"""

from __future__ import annotations

import filecmp
import logging
import random
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from listener.config import Config
from listener.labels import relabel
from listener.models import iso, parse_iso
from listener.retention import forget_author
from listener.store import Store
from listener.trendfiles import write_trend_files
from listener.trends.cache import window_tables
from listener.trends.files import read_csv, write_tables
from listener.trends.rollup import rebuild_rollup
from listener.trends.since import parse_duration
from listener.trends.tables import build_tables, make_window
from tests.test_trends_files import add, make_config

NOW = parse_iso("2026-04-20T10:30:00Z")
ALL_PERIODS = ["hour", "day", "week", "month"]


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "overheard.db") as s:
        yield s


def history(store: Store, *, days: int = 30, mentions: int = 150, seed: int = 5, end: datetime = NOW,
            skip_day: str | None = None) -> None:
    """Scored mentions of Acme and its competitor over `days` up to `end` (`skip_day`: a London date with none)."""
    rng = random.Random(seed)
    start = end - timedelta(days=days)
    for n in range(mentions):
        at = start + timedelta(minutes=rng.randrange(days * 24 * 60 - 90))
        if skip_day and local_day(iso(at)) == skip_day:
            continue
        label = rng.choice(["positive", "neutral", "negative", "negative", "unscored"])
        add(store, f"h{n}", iso(at), brand=rng.choice(["Acme", "Acme", "Rival"]), label=label,
            compound=round(rng.uniform(-1, 1), 4), author=f"u{rng.randrange(12)}", source=rng.choice(["x", "reddit"]),
            lang=rng.choice(["en", "en", "de"]), themes=rng.choice([(), ("app",), ("billing", "app")]),
            followers=rng.randrange(2000), detractor=label == "negative" and rng.random() < 0.5)
    # the last one scored 20 minutes ago, as in a daemon running every few minutes
    add(store, "last", iso(end - timedelta(minutes=20)), author="u0")


def trends_config(tmp_path: Path, **trends: object) -> Config:
    return make_config(tmp_path, **{"periods": ALL_PERIODS, "since": "30d", **trends})


def scratch(config: Config, store: Store, out: Path, now: datetime) -> None:
    """The files as a from-scratch build writes them: every period summed again, nothing kept."""
    since = now - parse_duration(config.trends.since)
    for period in config.trends.periods:
        window = make_window(period, config.trends.timezone, since, now)
        write_tables(build_tables(config, store, window, now), window, out, now)


def regenerate(config: Config, store: Store, tmp_path: Path, now: datetime, tag: str) -> Path:
    """Write the trend files (through the kept periods) and check them against a from-scratch build."""
    out, ref = tmp_path / f"files-{tag}", tmp_path / f"scratch-{tag}"
    written = write_trend_files(config, store, out, now=now)
    scratch(config, store, ref, now)
    # the terms table (listener.trends.terms) is read from the texts each time: not part of the kept rows
    names = sorted(p.name for p in written if not p.name.startswith("terms_"))
    assert names == sorted(p.name for p in ref.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(out, ref, names, shallow=False)
    assert not mismatch and not errors, f"differ from a rebuild: {mismatch or errors}"
    assert len(names) == 10 * len(config.trends.periods)
    return out


def row(out: Path, table: str, period: str, **match: str) -> dict[str, str]:
    zone = "Europe-London"
    rows = [r for r in read_csv(out / f"{table}_{period}_{zone}.csv")[1] if all(r[k] == v for k, v in match.items())]
    assert len(rows) == 1, f"{len(rows)} rows match {match}"
    return rows[0]


def local_day(created_at: str) -> str:
    """The London date of a stored UTC time: the day file's period_start."""
    return parse_iso(created_at).astimezone(ZoneInfo("Europe/London")).date().isoformat()


def redone(caplog: pytest.LogCaptureFixture) -> dict[str, tuple[int, int]]:
    """Periods redone per period kind, from the last write's debug log."""
    found = {}
    for record in caplog.records:
        m = re.match(r"trend files \((\w+), [^)]+\): (\d+) of (\d+) periods redone", record.getMessage())
        if m:
            found[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    caplog.clear()
    return found


def test_a_new_hour_redoes_only_the_periods_it_touches(tmp_path: Path, store: Store,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    history(store)
    config = trends_config(tmp_path)
    caplog.set_level(logging.DEBUG, logger="overheard.trends")
    before = regenerate(config, store, tmp_path, NOW, "before")
    first = redone(caplog)
    assert first["day"] == (31, 31)  # nothing kept yet: every day is summed
    today = row(before, "overview", "day", period_start="2026-04-20", brand="Acme")

    for k in range(4):  # the next hour: four more mentions of Acme
        add(store, f"new{k}", f"2026-04-20T10:{40 + 5 * k}:00Z", author=f"new{k}", scored_at=f"2026-04-20T11:0{k}:00Z")
    after = regenerate(config, store, tmp_path, NOW + timedelta(hours=1), "after")
    steps = redone(caplog)
    # Only today (still running) for days, weeks and months; for hours, 10:00 (now finished) and 11:00.
    assert steps["day"] == (1, 31) and steps["week"][0] == 1 and steps["month"][0] == 1
    assert steps["hour"] == (2, 721)
    now_today = row(after, "overview", "day", period_start="2026-04-20", brand="Acme")
    assert int(now_today["mentions"]) == int(today["mentions"]) + 4
    assert int(now_today["unique_authors"]) == int(today["unique_authors"]) + 4
    assert row(after, "overview", "hour", period_start="2026-04-20T11:00:00+01:00", brand="Acme")["complete"] == "true"

    # Nothing new: every finished period is reused, and the files are still those of a rebuild.
    regenerate(config, store, tmp_path, NOW + timedelta(hours=1, minutes=5), "again")
    assert redone(caplog)["day"] == (1, 31)


def test_a_new_day_moves_the_window_and_keeps_the_rest(tmp_path: Path, store: Store,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    history(store)
    config = trends_config(tmp_path)
    regenerate(config, store, tmp_path, NOW, "before")
    add(store, "tomorrow", "2026-04-21T08:00:00Z", scored_at="2026-04-21T08:01:00Z")
    caplog.set_level(logging.DEBUG, logger="overheard.trends")
    after = regenerate(config, store, tmp_path, NOW + timedelta(days=1), "after")
    # yesterday (finished now: it was still running at the last write) and today
    assert redone(caplog)["day"][0] == 2
    assert row(after, "overview", "day", period_start="2026-04-20", brand="Acme")["complete"] == "true"


def test_a_relabel_of_an_old_mention_changes_its_day(tmp_path: Path, store: Store) -> None:
    history(store)
    config = trends_config(tmp_path)
    before = regenerate(config, store, tmp_path, NOW, "before")
    mention = store.query("SELECT id, created_at FROM mentions WHERE label = 'positive' AND brand = 'Acme' "
                          "AND created_at < '2026-04-01' ORDER BY created_at LIMIT 1")[0]
    day = local_day(mention["created_at"])
    old = row(before, "overview", "day", period_start=day, brand="Acme")
    relabel(store, mention["id"], "negative", "agent")
    after = regenerate(config, store, tmp_path, NOW + timedelta(minutes=5), "after")
    new = row(after, "overview", "day", period_start=day, brand="Acme")
    assert (int(new["positive"]), int(new["negative"])) == (int(old["positive"]) - 1, int(old["negative"]) + 1)
    assert new["net_sentiment"] != old["net_sentiment"]


def test_forgetting_an_author_drops_them_from_old_unique_authors(tmp_path: Path, store: Store) -> None:
    history(store)
    config = trends_config(tmp_path)
    before = regenerate(config, store, tmp_path, NOW, "before")
    first = store.query("SELECT created_at FROM mentions WHERE author = 'u3' AND brand = 'Acme' "
                        "ORDER BY created_at LIMIT 1")[0]["created_at"]
    day = local_day(first)
    old = row(before, "overview", "day", period_start=day, brand="Acme")
    # an author is a handle on one source: u3 on x and u3 on reddit are two authors that day
    handles = {m["source"] for m in store.query("SELECT source, created_at FROM mentions WHERE author = 'u3' "
                                                "AND brand = 'Acme'") if local_day(m["created_at"]) == day}
    assert forget_author(store, "u3").mentions > 0
    after = regenerate(config, store, tmp_path, NOW + timedelta(minutes=5), "after")
    assert int(row(after, "overview", "day", period_start=day, brand="Acme")["unique_authors"]) == \
        int(old["unique_authors"]) - len(handles)


def test_a_late_mention_on_the_dst_day(tmp_path: Path, store: Store) -> None:
    # Clocks go forward in London at 01:00 UTC on 29 March 2026: that day has 23 hours.
    now = parse_iso("2026-04-02T12:00:00Z")
    history(store, days=10, mentions=80, end=now)
    config = trends_config(tmp_path, since="10d")
    before = regenerate(config, store, tmp_path, now, "before")
    old = row(before, "overview", "day", period_start="2026-03-29", brand="Acme")
    # 02:30 BST on the DST day, scored only now (a source that delivers late)
    add(store, "late", "2026-03-29T01:30:00Z", author="zed", scored_at="2026-04-02T12:03:00Z")
    after = regenerate(config, store, tmp_path, now + timedelta(minutes=10), "after")
    new = row(after, "overview", "day", period_start="2026-03-29", brand="Acme")
    assert int(new["mentions"]) == int(old["mentions"]) + 1
    hour = row(after, "overview", "hour", period_start="2026-03-29T02:00:00+01:00", brand="Acme")
    assert int(hour["mentions"]) >= 1
    on_29 = {r["period_start"] for r in read_csv(after / "overview_hour_Europe-London.csv")[1]
             if r["period_start"].startswith("2026-03-29")}
    assert len(on_29) == 23


def test_an_empty_day_that_gets_a_late_mention(tmp_path: Path, store: Store) -> None:
    history(store, skip_day="2026-04-10")
    config = trends_config(tmp_path)
    before = regenerate(config, store, tmp_path, NOW, "before")
    assert row(before, "overview", "day", period_start="2026-04-10", brand="Acme")["mentions"] == "0"
    assert not [r for r in read_csv(before / "breakdown_day_Europe-London.csv")[1]
                if r["period_start"] == "2026-04-10"]
    add(store, "late", "2026-04-10T12:00:00Z", label="negative", compound=-0.6, scored_at=iso(NOW))
    after = regenerate(config, store, tmp_path, NOW + timedelta(minutes=5), "after")
    filled = row(after, "overview", "day", period_start="2026-04-10", brand="Acme")
    assert (filled["mentions"], filled["negative"], filled["net_sentiment"]) == ("1", "1", "-100.0")


def test_rebuild_redoes_what_the_rollup_cannot_see(tmp_path: Path, store: Store) -> None:
    history(store)
    config = trends_config(tmp_path)
    before = regenerate(config, store, tmp_path, NOW, "before")
    mention = store.query("SELECT created_at, author_followers FROM mentions WHERE brand = 'Acme' "
                          "AND created_at < '2026-04-05' ORDER BY created_at LIMIT 1")[0]
    day = local_day(mention["created_at"])
    old_reach = int(row(before, "overview", "day", period_start=day, brand="Acme")["reach"])
    # A re-fetch refreshed the follower count (scored_at unchanged: the rollup does not see it) ...
    store.conn.execute("UPDATE mentions SET author_followers = author_followers + 1000 WHERE created_at = ?",
                       (mention["created_at"],))
    rebuild_rollup(store, "Europe/London")  # ... until `overheard trends --rebuild`
    after = regenerate(config, store, tmp_path, NOW + timedelta(minutes=5), "after")
    assert int(row(after, "overview", "day", period_start=day, brand="Acme")["reach"]) == old_reach + 1000


def test_a_brand_outside_the_config_gets_a_row_in_every_period(tmp_path: Path, store: Store) -> None:
    history(store)
    config = trends_config(tmp_path)
    regenerate(config, store, tmp_path, NOW, "before")
    add(store, "old-brand", "2026-03-25T09:00:00Z", brand="Oldco", scored_at=iso(NOW))
    add(store, "no-brand", "2026-04-02T09:00:00Z", brand=None, scored_at=iso(NOW))
    after = regenerate(config, store, tmp_path, NOW + timedelta(minutes=5), "after")
    quiet = row(after, "overview", "day", period_start="2026-04-15", brand="Oldco")
    assert (quiet["brand_kind"], quiet["mentions"]) == ("other", "0")
    assert row(after, "overview", "day", period_start="2026-04-02", brand="(no brand)")["mentions"] == "1"


def test_a_config_change_or_a_new_zone_redoes_everything(tmp_path: Path, store: Store) -> None:
    history(store)
    config = trends_config(tmp_path)
    regenerate(config, store, tmp_path, NOW, "before")
    more = make_config(tmp_path, [{"name": "Acme", "keywords": ["acme"], "competitors": ["Ghost", "Rival"]}],
                       periods=ALL_PERIODS, since="30d")
    sets = regenerate(more, store, tmp_path, NOW + timedelta(minutes=5), "sets")
    members = [r["brand"] for r in read_csv(sets / "share_of_voice_day_Europe-London.csv")[1]
               if r["period_start"] == "2026-04-01"]
    assert members == ["Acme", "Ghost", "Rival"]
    india = trends_config(tmp_path, timezone="Asia/Kolkata")
    regenerate(india, store, tmp_path, NOW + timedelta(minutes=10), "india")


def test_chart_and_report_tables_come_from_the_kept_periods(tmp_path: Path, store: Store) -> None:
    history(store)
    config = trends_config(tmp_path)
    regenerate(config, store, tmp_path, NOW, "before")
    add(store, "new", "2026-04-20T10:45:00Z", scored_at="2026-04-20T10:50:00Z")
    later = NOW + timedelta(hours=1)
    write_trend_files(config, store, tmp_path / "files", now=later)
    for period in ("day", "week"):
        window = make_window(period, "Europe/London", later - timedelta(days=30), later)
        kept = window_tables(config, store, window, later)
        fresh = build_tables(config, store, window, later)
        assert [(t.name, t.rows) for t in kept] == [(t.name, t.rows) for t in fresh]
        assert kept[0].rows and kept[1].rows


def test_kept_periods_out_of_reach_are_dropped(tmp_path: Path, store: Store) -> None:
    history(store)
    config = trends_config(tmp_path)
    regenerate(config, store, tmp_path, NOW, "before")
    assert store.scalar("SELECT COUNT(*) FROM trend_period_cache WHERE period = 'day'") == 30
    far = NOW + timedelta(days=200)
    write_trend_files(config, store, tmp_path / "later", now=far)
    # Nothing of the first write's 30 days is of use 200 days later: all of it is gone.
    assert store.scalar("SELECT COUNT(*) FROM trend_period_cache WHERE start_utc < ?", (iso(NOW),)) == 0
    assert store.scalar("SELECT COUNT(*) FROM trend_period_cache WHERE period = 'day'") == 30
    assert store.scalar("SELECT COUNT(*) FROM trend_period_text t WHERE NOT EXISTS (SELECT 1 FROM "
                        "trend_period_cache c WHERE c.period = t.period AND c.zone = t.zone "
                        "AND c.period_start = t.period_start)") == 0
