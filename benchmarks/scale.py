"""Scale: the support queue, the item view, trend files and the report with many mentions stored.

The history is generated straight into the store (no scoring: that is the throughput benchmark's
job) with the corpus' realistic spread of brands, sources, languages, threads and authors over 90
days, scored labels, the scores and authors tables, thread rollups, and queue items created by the
real `alerts.queue.upsert_for_thread` for flagged threads (older ones resolved, as in a working
team). Then it times what users do, through the same functions and web pages they use.

Run:  .venv/bin/python -m benchmarks.scale [--mentions 200000]      (--mentions 1000000 for the full size)
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.corpus import CONFIG, CorpusShape, generate
from benchmarks.machine import machine, percentile, summary_ms, timings_ms
from listener.models import iso

SCALE_CONFIG = CONFIG + """
[store]
path = "bench.db"

[trends]
out_dir = "trends"
periods = ["day"]
since = "90d"
"""
SEARCHES = ["refund", "router", "never again", "Brightwave", "ombudsman", "baggage", "user12"]
INSERT = (
    "INSERT OR IGNORE INTO mentions (source, native_id, brand, author, author_id, author_followers, "
    "author_verified, text, title, stars, source_lang, created_at, collected_at, thread_key, parent_id, "
    "engagement, raw, lang, label, compound, confidence, detractor, scored_at, themes) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
THEMES = {"refund": "billing", "bill": "billing", "charged": "billing", "invoice": "billing",
          "delivery": "delivery", "parcel": "delivery", "app": "app", "flight": "travel", "baggage": "travel"}


@dataclass
class ScaleFigures:
    mentions: int = 0
    threads: int = 0
    queue_items: int = 0
    open_items: int = 0
    build_s: float = 0.0
    full_rollup_s: float = 0.0
    db_bytes: int = 0
    new_hour: int = 0
    timings: dict[str, list[float]] = field(default_factory=dict)
    trend_first_s: float = 0.0
    trend_regen_s: float = 0.0
    trend_same_as_scratch: bool = False
    report_s: float = 0.0


def _scored(row: dict, rng: random.Random, at: datetime) -> tuple:
    label = rng.choices(["positive", "neutral", "negative"], weights=[35, 35, 30])[0]
    compound = {"positive": rng.uniform(0.05, 1), "neutral": rng.uniform(-0.05, 0.05),
                "negative": rng.uniform(-1, -0.05)}[label]
    confidence = abs(compound) if label != "neutral" else 1 - abs(compound) * 10
    text = row["text"]
    themes = sorted({t for w, t in THEMES.items() if w in text})
    brand = next((b for b in ("Brightwave", "Northwind Air", "Pixelcart", "Lumacell", "SkyPort", "Shopora")
                  if b in (row.get("title") or "") + text), "Brightwave")
    return (
        row["source"], row["id"], brand, row["author"], row["author_id"], row["followers"],
        int(row["verified"]), text, row.get("title"), row.get("stars"), row.get("lang"), iso(at),
        iso(at + timedelta(seconds=30)), f"{row['source']}:{row.get('thread_id') or row['id']}",
        row.get("parent_id"), row["engagement"], json.dumps(row, ensure_ascii=False),
        row.get("lang") or "en", label, round(compound, 4), round(confidence, 4),
        int(label == "negative" and confidence >= 0.3 or (row.get("stars") or 5) <= 2),
        iso(at + timedelta(seconds=40)), json.dumps(themes),
    )


def fill(store, n: int, end: datetime, days: float, seed: int) -> int:
    """Write n generated, scored mentions ending at `end`; returns how many were stored."""
    rng = random.Random(seed)
    before = store.scalar("SELECT COUNT(*) FROM mentions")
    chunk: list[tuple] = []
    for row in generate(n, seed, CorpusShape(days=days, duplicate_share=0, malformed_share=0), end=end):
        at = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
        chunk.append(_scored(row, rng, at))
        if len(chunk) >= 5000:
            with store.transaction() as conn:
                conn.executemany(INSERT, chunk)
            chunk = []
    with store.transaction() as conn:
        conn.executemany(INSERT, chunk)
        conn.execute("INSERT OR IGNORE INTO scores (mention_id, model, label, compound, confidence, lang, scored_at) "
                     "SELECT id, 'vader', label, compound, confidence, lang, scored_at FROM mentions "
                     "WHERE id > (SELECT COALESCE(MAX(mention_id), 0) FROM scores)")
    return store.scalar("SELECT COUNT(*) FROM mentions") - before


def build_history(config, store, n: int, end: datetime) -> None:
    """Mentions, authors, thread rollups and queue items for 90 days up to `end`."""
    from alerts.queue import upsert_for_thread

    fill(store, n, end, 90, seed=11)
    own = tuple(config.brand_names())
    with store.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO authors (source, author, author_id, followers, verified, first_seen, last_seen, "
            "mentions, negative, last_negative_at) SELECT source, author, MAX(author_id), MAX(author_followers), "
            "MAX(author_verified), MIN(created_at), MAX(created_at), COUNT(*), SUM(label = 'negative'), "
            "MAX(CASE WHEN label = 'negative' THEN created_at END) FROM mentions GROUP BY source, author")
        # Thread rollups as listener.threads writes them; risk grows with detractors and reach.
        conn.execute(
            "INSERT OR REPLACE INTO threads (thread_key, source, brand, title, first_at, last_at, mentions, negative, "
            "detractors, reach, engagement, mean_compound, risk, reasons, flagged, dirty, alert_pending, updated_at) "
            "SELECT thread_key, MIN(source), MIN(brand), MAX(title), MIN(created_at), MAX(created_at), COUNT(*), "
            "SUM(label = 'negative'), SUM(detractor), SUM(COALESCE(author_followers, 0)), SUM(engagement), "
            "AVG(compound), MIN(100, SUM(detractor) * 35 + MIN(30, SUM(COALESCE(author_followers, 0)) / 100.0)), "
            "'[\"negative share\"]', 0, 0, 0, MAX(created_at) FROM mentions GROUP BY thread_key")
        marks = ",".join("?" * len(own))
        conn.execute(f"UPDATE threads SET flagged = 1 WHERE risk >= 50 AND detractors > 0 AND brand IN ({marks})",
                     own)
        flagged = store.query("SELECT * FROM threads WHERE flagged = 1 ORDER BY last_at")
        for thread in flagged:
            upsert_for_thread(store, thread, config.queue, now=datetime.fromisoformat(thread["last_at"]))
        # A working team: items older than two days were answered and closed.
        conn.execute("UPDATE queue_items SET state = 'resolved', outcome = 'solved', resolved_at = updated_at "
                     "WHERE created_at < ?", (iso(end - timedelta(days=2)),))


def measure(n: int, folder: Path, runs: int = 40) -> ScaleFigures:
    from fastapi.testclient import TestClient

    from alerts.queue import ItemFilter, Queue
    from alerts.users import add_user
    from alerts.web.app import create_app
    from listener.config import load_config
    from listener.store import Store
    from listener.trendfiles import write_trend_files
    from listener.trends.report import write_report
    from listener.trends.rollup import update_rollup

    (folder / "overheard.toml").write_text(SCALE_CONFIG, encoding="utf-8")
    config = load_config(folder / "overheard.toml", check_secrets=False)
    fig = ScaleFigures()
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    with Store(config.db_path) as store:
        t0 = time.perf_counter()
        build_history(config, store, n, end)
        fig.build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        update_rollup(store, config.trends.timezone, end)
        fig.full_rollup_s = time.perf_counter() - t0
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        fig.db_bytes = sum(p.stat().st_size for p in folder.glob("bench.db*"))
        fig.mentions = store.scalar("SELECT COUNT(*) FROM mentions")
        fig.threads = store.scalar("SELECT COUNT(*) FROM threads")
        fig.queue_items = store.scalar("SELECT COUNT(*) FROM queue_items")
        fig.open_items = store.scalar("SELECT COUNT(*) FROM queue_items WHERE state NOT IN ('resolved', 'dismissed')")
        add_user(store, "bench", "admin", "bench-password")

        queue = Queue(store, config.queue)
        searches = iter(SEARCHES * runs)
        fig.timings["Queue.list (open, SLA order)"] = timings_ms(lambda: queue.list(ItemFilter()), runs)
        fig.timings["Queue.list search (FTS)"] = timings_ms(
            lambda: queue.list(ItemFilter(search=next(searches))), runs)
        client = TestClient(create_app(config, secret="b" * 40))
        page = client.get("/login").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/login", data={"name": "bench", "password": "bench-password", "csrf_token": token})
        web_searches = iter(SEARCHES * runs)
        fig.timings["web GET / (queue page)"] = timings_ms(lambda: client.get("/"), runs)
        fig.timings["web GET /?q=... (search page)"] = timings_ms(
            lambda: client.get("/", params={"q": next(web_searches)}), runs)
        ids = [r[0] for r in store.conn.execute("SELECT id FROM queue_items ORDER BY id")]
        rng = random.Random(3)
        fig.timings["web GET /items/<id> (item view)"] = timings_ms(
            lambda: client.get(f"/items/{rng.choice(ids)}"), runs)
        fig.timings["Queue.get + thread + author history"] = timings_ms(
            lambda: _item_view(queue, rng.choice(ids)), runs)

        # The files as the last daemon pass wrote them (this first write keeps the finished periods),
        # then one new hour arrives (the hourly share of the history) and the files are regenerated.
        t0 = time.perf_counter()
        write_trend_files(config, store, now=end)
        fig.trend_first_s = time.perf_counter() - t0
        fig.new_hour = fill(store, max(100, n // (90 * 24)), end + timedelta(hours=1), 1 / 24, seed=99)
        t0 = time.perf_counter()
        written = write_trend_files(config, store, now=end + timedelta(hours=1))
        fig.trend_regen_s = time.perf_counter() - t0
        fig.trend_same_as_scratch = _same_as_scratch(config, store, written, end + timedelta(hours=1), folder)
        t0 = time.perf_counter()
        write_report(config, store, folder / "report.html", now=end + timedelta(hours=1))
        fig.report_s = time.perf_counter() - t0
    return fig


TERMS_FROM_TEXTS: list[float] = []


def _same_as_scratch(config, store, written: list[Path], now: datetime, folder: Path) -> bool:
    """Whether the regenerated files are byte for byte those of a build from scratch (nothing kept)."""
    import filecmp

    from listener.trends.files import write_tables
    from listener.trends.since import parse_duration
    from listener.trends.tables import build_tables, make_window

    window = make_window(config.trends.periods[0], config.trends.timezone,
                         now - parse_duration(config.trends.since), now)
    scratch = write_tables(build_tables(config, store, window, now), window, folder / "scratch", now)
    # The terms table from the texts alone: its kept periods dropped first (listener.trends.terms).
    from listener.trends.terms import terms_table

    with store.transaction() as conn:
        conn.execute("DELETE FROM trend_terms_kept")
    t0 = time.perf_counter()
    terms = terms_table(config, store, window)
    TERMS_FROM_TEXTS.append(time.perf_counter() - t0)  # what every write cost before the terms were kept
    scratch += write_tables([terms], window, folder / "scratch", now)
    return sorted(p.name for p in scratch) == sorted(p.name for p in written) and all(
        filecmp.cmp(p, folder / "scratch" / p.name, shallow=False) for p in written)


def _item_view(queue, item_id: int) -> None:
    item = queue.get(item_id)
    queue.thread_mentions(item)
    queue.author_history(item)
    queue.events(item_id)


def report(fig: ScaleFigures, rerun: str) -> list[str]:
    per_million = fig.db_bytes / fig.mentions * 1e6 / 1e9
    lines = [
        f"scale: {fig.mentions:,} mentions stored over 90 days, {fig.threads:,} threads, "
        f"{fig.queue_items:,} queue items ({fig.open_items:,} open); built in {fig.build_s:.0f} s, "
        f"first full trend rollup {fig.full_rollup_s:.1f} s",
    ]
    for name, values in fig.timings.items():
        lines.append(f"  {name:<38} {summary_ms(values)}")
    list_p95 = max(percentile(fig.timings[k], 95) for k in ("Queue.list (open, SLA order)", "Queue.list search (FTS)"))
    lines += [
        f"  queue list/search p95 {list_p95:.1f} ms (target <= 50 ms)",
        f"  trend files (90 days, daily), first write with nothing kept: {fig.trend_first_s:.2f} s",
        f"  trend files regenerated after one new hour ({fig.new_hour:,} mentions): {fig.trend_regen_s:.2f} s "
        f"(target <= 1 s); identical to a build from scratch: {'yes' if fig.trend_same_as_scratch else 'NO'}",
        *([f"    of which the terms table would cost {TERMS_FROM_TEXTS[-1]:.2f} s read from the texts "
           "(as before its periods were kept)"] if TERMS_FROM_TEXTS else []),
        f"  full report (30 days, charts): {fig.report_s:.2f} s (target <= 10 s)",
        f"  database: {fig.db_bytes / 1e6:,.0f} MB = {per_million:.2f} GB per million mentions "
        "(raw JSON, full-text index, scores and rollups included)",
        "  " + machine(),
        f"  rerun: {rerun}",
    ]
    return lines


def main(argv: list[str] | None = None) -> ScaleFigures:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=200_000, help="mentions stored (default 200000)")
    parser.add_argument("--runs", type=int, default=40, help="timed runs per operation (default 40)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="overheard-scale-") as tmp:
        fig = measure(args.mentions, Path(tmp), args.runs)
    for line in report(fig, f".venv/bin/python -m benchmarks.scale --mentions {args.mentions}"):
        print(line, flush=True)
    return fig


if __name__ == "__main__":
    main()
