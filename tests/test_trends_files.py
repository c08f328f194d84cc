"""Trend files from the store: hand-computed fixtures, DST, incremental rollup, CSV/JSON round trips."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from listener.config import Config, config_from_dict
from listener.labels import relabel
from listener.models import Batch, Mention, iso, parse_iso
from listener.store import Store
from listener.trendfiles import write_trend_files
from listener.trends.files import read_csv
from listener.trends.rollup import rebuild_rollup, update_rollup
from listener.trends.tables import COLUMNS

ROOT = Path(__file__).resolve().parent.parent


def make_config(tmp_path: Path, brands: list[dict] | None = None, **trends: Any) -> Config:
    raw = {
        "brands": brands or [{"name": "Acme", "keywords": ["acme"], "competitors": ["Rival", "Ghost"]}],
        "competitors": [{"name": "Rival", "keywords": ["rival"]}, {"name": "Ghost", "keywords": ["ghost"]}],
        "trends": {"timezone": "Europe/London", "periods": ["day"], **trends},
    }
    return config_from_dict(raw, tmp_path / "overheard.toml", check_secrets=False)


def add(store: Store, nid: str, at: str, *, brand: str | None = "Acme", label: str | None = "positive",
        compound: float | None = 0.5, author: str | None = "amy", source: str = "x", lang: str | None = "en",
        themes: tuple[str, ...] = (), detractor: bool = False, followers: int | None = 100,
        brand_account: bool = False, scored_at: str | None = None, thread: str | None = None,
        url: str | None = None, text: str = "text") -> None:
    """Store one mention and give it the score the score stage would (scored a minute after posting)."""
    created = parse_iso(at)
    store.save_batch(source, "q", Batch([Mention(
        source=source, native_id=nid, text=text, created_at=created, brand=brand, author=author,
        author_followers=followers, is_brand_account=brand_account, thread_id=thread, url=url)]))
    if label is None:
        return  # not scored yet
    store.conn.execute(
        "UPDATE mentions SET label = ?, compound = ?, lang = ?, themes = ?, detractor = ?, scored_at = ? "
        "WHERE source = ? AND native_id = ?",
        (label, compound, lang, json.dumps(list(themes)), int(detractor),
         scored_at or iso(created + timedelta(minutes=1)), source, nid),
    )


def rows_of(path: Path, **match: str) -> list[dict[str, str]]:
    _, rows = read_csv(path)
    return [r for r in rows if all(r[k] == v for k, v in match.items())]


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "overheard.db") as s:
        yield s


NOW = parse_iso("2026-04-04T12:00:00Z")


def seed_week(store: Store) -> None:
    """Acme and Rival over 1-3 April 2026 (BST, UTC+1); 2 April has no mentions at all."""
    add(store, "1", "2026-04-01T08:10:00Z", label="positive", compound=0.6, author="amy", followers=100,
        themes=("app",))
    add(store, "2", "2026-04-01T09:20:00Z", label="negative", compound=-0.8, author="amy", followers=100,
        detractor=True, themes=("billing", "app"))
    add(store, "3", "2026-04-01T22:59:00Z", label="neutral", compound=0.0, author="ben", followers=50,
        source="reddit")  # 23:59 BST: still 1 April
    add(store, "4", "2026-04-01T23:01:00Z", label="negative", compound=-0.4, author="cat",
        followers=None)  # 00:01 BST: 2 April
    add(store, "5", "2026-04-01T10:00:00Z", label="unscored", compound=0.0, author="dan", lang="ja")
    add(store, "6", "2026-04-01T11:00:00Z", brand="Rival", label="positive", compound=0.9, author="eve")
    add(store, "7", "2026-04-01T12:00:00Z", label="negative", compound=-0.9, author="BrandCare",
        brand_account=True)  # the brand talking: never counted
    add(store, "8", "2026-04-03T09:00:00Z", label="positive", compound=0.2, author="amy")
    add(store, "9", "2026-04-03T09:30:00Z", label=None)  # not scored yet: not counted until it is


def test_overview_figures_by_hand(tmp_path: Path, store: Store) -> None:
    seed_week(store)
    config = make_config(tmp_path)
    write_trend_files(config, store, tmp_path / "out", since=parse_iso("2026-04-01T00:00:00Z"), now=NOW)
    path = tmp_path / "out" / "overview_day_Europe-London.csv"
    # 1 April local (BST): mentions 1, 2, 3, 5 of Acme (4 is 00:01 on 2 April, 7 is the brand's own)
    day1 = rows_of(path, period_start="2026-04-01", brand="Acme")[0]
    assert day1["mentions"] == "4"
    assert (day1["positive"], day1["neutral"], day1["negative"], day1["unscored"]) == ("1", "1", "1", "1")
    assert day1["mean_compound"] == str(round((0.6 - 0.8 + 0.0) / 3, 4))
    assert day1["net_sentiment"] == "0.0"  # (1 - 1) / 3 rated
    assert day1["detractors"] == "1"
    assert day1["unique_authors"] == "3"  # amy twice, ben, dan
    assert day1["reach"] == "250"  # amy's 100 once (two posts), ben 50, dan 100
    assert day1["timezone"] == "Europe/London" and day1["brand_kind"] == "own" and day1["complete"] == "true"
    day2 = rows_of(path, period_start="2026-04-02", brand="Acme")[0]
    assert (day2["mentions"], day2["negative"], day2["net_sentiment"], day2["reach"]) == ("1", "1", "-100.0", "0")
    # an empty day still has its row, with zeros and no net sentiment (not 0)
    empty = rows_of(path, period_start="2026-04-02", brand="Rival")[0]
    assert (empty["mentions"], empty["net_sentiment"], empty["mean_compound"]) == ("0", "", "")
    # a competitor with no mentions at all: a row in every period
    ghost = rows_of(path, brand="Ghost")
    assert [r["period_start"] for r in ghost] == ["2026-04-01", "2026-04-02", "2026-04-03", "2026-04-04"]
    assert all(r["mentions"] == "0" for r in ghost) and ghost[0]["brand_kind"] == "competitor"
    # today is still running
    assert rows_of(path, period_start="2026-04-04", brand="Acme")[0]["complete"] == "false"


def test_breakdown_themes_and_share_of_voice(tmp_path: Path, store: Store) -> None:
    seed_week(store)
    config = make_config(tmp_path)
    out = tmp_path / "out"
    write_trend_files(config, store, out, since=parse_iso("2026-04-01T00:00:00Z"), now=NOW)
    breakdown = rows_of(out / "breakdown_day_Europe-London.csv", period_start="2026-04-01", brand="Acme")
    keyed = {(r["source"], r["language"]): r for r in breakdown}
    assert set(keyed) == {("reddit", "en"), ("x", "en"), ("x", "ja")}
    assert keyed[("x", "ja")]["unscored"] == "1" and keyed[("x", "ja")]["net_sentiment"] == ""
    assert keyed[("x", "en")]["mentions"] == "2" and keyed[("x", "en")]["unique_authors"] == "1"
    themes = {r["theme"]: r for r in rows_of(out / "themes_day_Europe-London.csv", period_start="2026-04-01")}
    assert themes["app"]["mentions"] == "2" and themes["app"]["negative"] == "1"
    assert themes["billing"]["mentions"] == "1" and themes["billing"]["detractors"] == "1"
    sov = {r["brand"]: r for r in rows_of(out / "share_of_voice_day_Europe-London.csv", period_start="2026-04-01")}
    assert [sov[b]["competitor_set"] for b in sov] == ["Acme"] * 3
    assert sov["Acme"]["set_mentions"] == "5"  # Acme 4 + Rival 1 + Ghost 0
    assert sov["Acme"]["share_of_voice_pct"] == "80.0" and sov["Rival"]["share_of_voice_pct"] == "20.0"
    assert sov["Acme"]["positive_share_of_voice_pct"] == "50.0"  # 1 of the set's 2 positive
    assert sov["Ghost"]["share_of_voice_pct"] == "0.0"


def test_a_mention_naming_two_tracked_brands_counts_for_both(tmp_path: Path) -> None:
    """"Switching from Acme to Rival" is about both: it counts in each brand's figures and share of voice,
    once per brand (the score stage finds the brands; the rollup counts the mention for each)."""
    from listener.pipeline import run_pipeline

    config = make_config(tmp_path)
    at = "2026-04-01T09:00:00Z"
    with Store(config.db_path) as store:
        add(store, "1", at, text="Switching from Acme to Rival, acme is useless", label=None, author="amy")
        add(store, "2", at, text="acme outage again", label=None, author="ben")
        add(store, "3", at, brand="Rival", text="rival is fine", label=None, author="cat")
        run_pipeline(config, store, channels={}, trends=False)
        also = {r["native_id"]: r["also_brands"] for r in store.query("SELECT native_id, also_brands FROM mentions")}
        write_trend_files(config, store, tmp_path / "out", since=parse_iso("2026-04-01T00:00:00Z"), now=NOW)
    assert also == {"1": '["Rival"]', "2": None, "3": None}
    out = tmp_path / "out"
    overview = {r["brand"]: r for r in rows_of(out / "overview_day_Europe-London.csv", period_start="2026-04-01")}
    assert overview["Acme"]["mentions"] == "2" and overview["Rival"]["mentions"] == "2"
    assert overview["Rival"]["unique_authors"] == "2"  # amy (the comparison) and cat
    sov = {r["brand"]: r for r in rows_of(out / "share_of_voice_day_Europe-London.csv", period_start="2026-04-01")}
    assert sov["Acme"]["set_mentions"] == "4" and sov["Acme"]["share_of_voice_pct"] == "50.0"


def test_dst_day_in_hour_and_day_files(tmp_path: Path, store: Store) -> None:
    # Clocks go forward in London at 01:00 UTC on 29 March 2026.
    add(store, "a", "2026-03-28T23:30:00Z", author="amy")  # 23:30 GMT, 28 March
    add(store, "b", "2026-03-29T00:30:00Z", author="amy")  # 00:30 GMT, 29 March
    add(store, "c", "2026-03-29T01:30:00Z", author="amy")  # 02:30 BST, 29 March
    add(store, "d", "2026-03-29T22:30:00Z", author="ben")  # 23:30 BST, 29 March
    add(store, "e", "2026-03-29T23:30:00Z", author="cat")  # 00:30 BST, 30 March
    config = make_config(tmp_path, periods=["hour", "day"])
    out = tmp_path / "out"
    write_trend_files(config, store, out, since=parse_iso("2026-03-28T00:00:00Z"),
                      now=parse_iso("2026-03-31T00:00:00Z"))
    days = {r["period_start"]: r for r in rows_of(out / "overview_day_Europe-London.csv", brand="Acme")}
    assert (days["2026-03-28"]["mentions"], days["2026-03-29"]["mentions"], days["2026-03-30"]["mentions"]) == \
        ("1", "3", "1")
    assert days["2026-03-29"]["unique_authors"] == "2"  # amy in two hours counts once
    hours = rows_of(out / "overview_hour_Europe-London.csv", brand="Acme")
    on_29 = [r["period_start"] for r in hours if r["period_start"].startswith("2026-03-29")]
    assert len(on_29) == 23  # the day the clocks go forward has 23 hours
    assert on_29[:3] == ["2026-03-29T00:00:00+00:00", "2026-03-29T02:00:00+01:00", "2026-03-29T03:00:00+01:00"]
    by_hour = {r["period_start"]: r["mentions"] for r in hours}
    assert by_hour["2026-03-29T02:00:00+01:00"] == "1" and by_hour["2026-03-30T00:00:00+01:00"] == "1"


def test_rollup_is_incremental_and_matches_a_rebuild(tmp_path: Path, store: Store) -> None:
    # 40 days of history, 3 mentions an hour at 09-11h
    base = parse_iso("2026-02-01T09:00:00Z")
    n = 0
    for day in range(40):
        for hour in range(3):
            n += 1
            at = base + timedelta(days=day, hours=hour)
            add(store, f"h{n}", iso(at), author=f"u{n % 7}", label=("positive", "negative", "neutral")[n % 3])
    first = update_rollup(store, "Europe/London", now=parse_iso("2026-03-20T00:00:00Z"))
    assert first.hours == 120 and first.mentions == 120
    # one new hour of mentions costs that hour (plus the last hour re-read at the watermark), not history
    for k in range(5):
        add(store, f"new{k}", f"2026-03-20T10:{10 + k}:00Z", scored_at=f"2026-03-20T10:{20 + k}:00Z")
    step = update_rollup(store, "Europe/London", now=parse_iso("2026-03-20T11:00:00Z"))
    assert step.hours <= 2 and step.mentions <= 6
    # a human re-label is picked up: only that mention's hour is recomputed
    mention_id = store.scalar("SELECT id FROM mentions WHERE native_id = 'h2'")  # neutral, 10:00
    before = store.scalar("SELECT negative FROM trend_hours WHERE hour_start = '2026-02-01T10:00:00Z' AND theme = ''")
    relabel(store, mention_id, "negative", "agent")
    step = update_rollup(store, "Europe/London", now=parse_iso("2026-03-20T12:00:00Z"))
    after = store.scalar("SELECT negative FROM trend_hours WHERE hour_start = '2026-02-01T10:00:00Z' AND theme = ''")
    assert after == before + 1 and step.hours <= 2
    incremental = store.query("SELECT * FROM trend_hours ORDER BY hour_start, brand, source, lang, theme")
    rebuild_rollup(store, "Europe/London")
    assert store.query("SELECT * FROM trend_hours ORDER BY hour_start, brand, source, lang, theme") == incremental


def test_changing_the_zone_rebuilds_the_hours(tmp_path: Path, store: Store) -> None:
    add(store, "1", "2026-04-01T09:20:00Z")
    update_rollup(store, "Europe/London", now=NOW)
    changed = update_rollup(store, "Asia/Kolkata", now=NOW)
    assert changed.rebuilt
    # India is UTC+5:30: 09:20 UTC is 14:50 IST, whose local hour (14:00 IST) starts at 08:30 UTC
    assert store.scalar("SELECT hour_start FROM trend_hours") == "2026-04-01T08:30:00Z"


def test_csv_round_trips_to_the_json_rows(tmp_path: Path, store: Store) -> None:
    seed_week(store)
    out = tmp_path / "out"
    write_trend_files(make_config(tmp_path, periods=["day", "week"]), store, out,
                      since=parse_iso("2026-04-01T00:00:00Z"), now=NOW)
    for name, columns in COLUMNS.items():
        for period in ("day", "week"):
            header, csv_rows = read_csv(out / f"{name}_{period}_Europe-London.csv")
            doc = json.loads((out / f"{name}_{period}_Europe-London.json").read_text(encoding="utf-8"))
            assert header == columns == doc["columns"]
            assert doc["timezone"] == "Europe/London" and doc["period"] == period
            assert len(csv_rows) == len(doc["rows"])
            for text_row, json_row in zip(csv_rows, doc["rows"], strict=False):
                assert list(json_row) == columns
                assert {c: _parse(text_row[c], json_row[c]) for c in columns} == json_row


def _parse(cell: str, like: Any) -> Any:
    """A CSV cell read back with the type the JSON has."""
    if cell == "":
        return None
    if isinstance(like, bool):
        return cell == "true"
    if isinstance(like, int):
        return int(cell)
    if isinstance(like, float):
        return float(cell)
    return cell


def test_formulas_in_names_are_neutralised_in_csv(tmp_path: Path, store: Store) -> None:
    brands = [{"name": "=HYPERLINK(\"http://evil\")", "keywords": ["evil"], "competitors": ["@Rival"]}]
    raw = {"brands": brands, "competitors": [{"name": "@Rival", "keywords": ["rival"]}],
           "trends": {"timezone": "UTC", "periods": ["day"]}}
    config = config_from_dict(raw, tmp_path / "overheard.toml", check_secrets=False)
    add(store, "1", "2026-04-01T09:00:00Z", brand=brands[0]["name"], label="negative", compound=-0.5,
        themes=("+cmd|' /C calc'!A0",), source="-x", lang="@lang")
    out = tmp_path / "out"
    write_trend_files(config, store, out, since=parse_iso("2026-04-01T00:00:00Z"),
                      now=parse_iso("2026-04-02T00:00:00Z"))
    text = (out / "themes_day_UTC.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and "'+cmd" in text and ",'-x," in text and ",'@lang," in text
    _, rows = read_csv(out / "overview_day_UTC.csv")
    assert rows[0]["brand"].startswith("'=") and rows[1]["brand"] == "'@Rival"
    assert rows[0]["net_sentiment"] == "-100.0"  # a negative number is a number, not a formula
    doc = json.loads((out / "overview_day_UTC.json").read_text(encoding="utf-8"))
    assert doc["rows"][0]["brand"] == brands[0]["name"]  # JSON keeps the name as it is


def test_queue_file_from_queue_items(tmp_path: Path, store: Store) -> None:
    for k in "ABC":
        add(store, k, "2026-04-01T08:00:00Z", label="negative", compound=-0.7)

    def item(thread: str, created: str, state: str, first: str | None, first_due: str, recovery: str | None) -> None:
        store.conn.execute(
            "INSERT INTO queue_items (thread_key, brand, state, priority, created_at, updated_at, first_response_due, "
            "resolution_due, first_response_at, recovery) VALUES (?, 'Acme', ?, 'high', ?, ?, ?, ?, ?, ?)",
            (thread, state, created, created, first_due, "2026-04-09T00:00:00Z", first, recovery))

    item("x:A", "2026-04-01T09:00:00Z", "replied", "2026-04-01T09:45:00Z", "2026-04-01T10:00:00Z", "recovered")
    item("x:B", "2026-04-01T10:00:00Z", "new", None, "2026-04-01T11:00:00Z", None)
    item("x:C", "2026-04-03T10:00:00Z", "replied", "2026-04-03T12:30:00Z", "2026-04-03T11:00:00Z", None)
    out = tmp_path / "out"
    write_trend_files(make_config(tmp_path), store, out, since=parse_iso("2026-04-01T00:00:00Z"), now=NOW)
    rows = {r["period_start"]: r for r in rows_of(out / "queue_day_Europe-London.csv", brand="Acme")}
    d1 = rows["2026-04-01"]
    assert (d1["flagged_threads"], d1["answered"], d1["unanswered"]) == ("2", "1", "1")
    assert d1["first_response_median_min"] == "45" or d1["first_response_median_min"] == "45.0"
    assert d1["first_response_sla_pct"] == "50.0"  # A in time, B open past its due time
    assert (d1["recovery_checked"], d1["recovered_pct"]) == ("1", "100.0")
    assert rows["2026-04-02"]["flagged_threads"] == "0" and rows["2026-04-02"]["first_response_sla_pct"] == ""
    assert rows["2026-04-03"]["first_response_median_min"] == "150" or \
        rows["2026-04-03"]["first_response_median_min"] == "150.0"
    assert rows["2026-04-03"]["first_response_sla_pct"] == "0.0"


def test_trend_columns_are_documented() -> None:
    doc = (ROOT / "docs" / "trends.md").read_text(encoding="utf-8")
    for name, columns in COLUMNS.items():
        assert f"`{name}_" in doc, f"docs/trends.md does not describe the {name} file"
        for column in columns:
            assert f"| `{column}` |" in doc, f"docs/trends.md does not explain column {column}"


def test_pipeline_writes_trend_files(tmp_path: Path) -> None:
    from listener.pipeline import run_pipeline

    config = make_config(tmp_path)
    with Store(config.db_path) as store:
        add(store, "1", iso(datetime.now().astimezone()), label=None)  # the pipeline's score stage scores it
        report = run_pipeline(config, store, channels={})
        assert store.scalar("SELECT SUM(mentions) FROM trend_hours WHERE theme = ''") == 1
    names = {p.name for p in report.trend_files}
    assert "overview_day_Europe-London.csv" in names and "queue_day_Europe-London.json" in names


def test_a_scoring_chunk_that_commits_late_is_still_rolled_up(tmp_path: Path, store: Store) -> None:
    add(store, "early", "2026-04-01T09:00:00Z", scored_at="2026-04-01T11:55:00Z")
    update_rollup(store, "Europe/London", now=parse_iso("2026-04-01T12:00:00Z"))
    # a chunk stamped 11:52 (before the newest seen, 11:55) that committed only after the update ran
    add(store, "late", "2026-04-01T10:00:00Z", scored_at="2026-04-01T11:52:00Z")
    update_rollup(store, "Europe/London", now=parse_iso("2026-04-01T12:01:00Z"))
    assert store.scalar("SELECT SUM(mentions) FROM trend_hours WHERE theme = ''") == 2


def test_since_accepts_a_duration_or_a_local_date() -> None:
    from listener.trends.since import parse_since

    now = parse_iso("2026-07-10T12:00:00Z")
    assert parse_since("90d", now) == now - timedelta(days=90)
    assert parse_since("12h", now) == now - timedelta(hours=12)
    assert parse_since("2026-07-01", now, "Europe/London") == parse_iso("2026-06-30T23:00:00Z")  # BST midnight
    for bad in ("0d", "ninety", "10y", "", "2999-01-01"):
        with pytest.raises(ValueError):
            parse_since(bad, now)
