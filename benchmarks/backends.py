"""SQLite and PostgreSQL side by side: the same store, the same history, the same operations, one run.

For each backend: a throw-away store gets N mentions over 90 days (benchmarks.scale.build_history:
bulk inserts of generated rows shaped like real ones: six brands, three sources, six languages,
threads with replies, skewed authors; scored labels, the authors and threads tables, queue items
made by the real `alerts.queue.upsert_for_thread`). Seeding time is printed but is not a figure.
`ANALYZE` follows (VACUUM ANALYZE on PostgreSQL), as autovacuum or `PRAGMA optimize` would after a
bulk load. Then it times what users and the daemon do, through the functions they use:

- queue list and queue search p95: `Queue.list` (what the web UI's queue page calls) with the open
  queue in SLA order, and with realistic search terms; the web pages themselves (TestClient) too;
- trend files after one new hour: one hour of mentions (the history's hourly share) is added, then
  `write_trend_files` regenerates the files; RUNS times (one more hour each), p50/p95;
- pipeline rate: a fresh batch (default 20,000 rows, new ids, the last day) is imported on top of
  the history by `listener.pipeline.run_pipeline` (collect → score → threads → rules → queue clock
  → delivery; no trend files) in a child process, one worker; raw VADER scores the same texts in
  this process before and after it (the mean is the reference);
- two-worker pipeline rate: a further fresh batch (the same rows, ids of their own, in two export files,
  one query each) is imported by TWO `overheard run --join` daemons on the store, the real join mode
  (leases: collect per query, score per block, threads / rules / queue clock one worker at a time),
  timed from their launch until every new mention is stored, scored and rolled up, no thread is dirty
  and the rules stage has nothing pending; raw VADER before and after; then every row is checked to be
  stored once (the count, and the workers' collect `new` adding up to it) and scored once (the ids
  each worker wrote first scores for: disjoint, together every stored row). The workers' trend-file and
  retention jobs are switched off (the one-worker figure has neither);
- database size at the end: the SQLite file with its WAL and shared-memory files (after a
  checkpoint), PostgreSQL's `pg_total_relation_size` over the store's schema and `pg_database_size`.

PostgreSQL: the server at --database-url (else $OVERHEARD_TEST_DATABASE_URL, which `.ci/with-postgres`
exports), in a schema of its own that is dropped at the end. Its settings are printed with the figures.

Run:  .ci/with-postgres nice -n 19 .venv/bin/python -m benchmarks.backends [--mentions 1000000] [--runs 3]
      .venv/bin/python -m benchmarks.backends --backend sqlite --mentions 20000        (no server needed)
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.corpus import CONFIG, generate
from benchmarks.machine import machine, percentile, timings_ms

BACKENDS = ("sqlite", "postgresql")
SECOND_LOOK = "(score: of which second look)"
SEARCHES = ["refund", "router", "never again", "Brightwave", "ombudsman", "baggage", "user12"]
# What the PostgreSQL server runs with: printed next to the figures (they depend on these).
PG_SETTINGS = ("server_version", "shared_buffers", "work_mem", "maintenance_work_mem", "effective_cache_size",
               "synchronous_commit", "fsync", "full_page_writes", "wal_level", "max_wal_size", "jit",
               "random_page_cost", "max_parallel_workers_per_gather")


def store_config(backend: str, url: str | None, paths: tuple[str, ...] = ("batch.jsonl",),
                 extra: str = "[sources.file]\n") -> str:
    """The benchmark's overheard.toml: the corpus' brands, the store, daily trend files, the batch import."""
    store = '[store]\npath = "bench.db"\n' + (f'url = "{url}"\n' if backend == "postgresql" else "")
    return CONFIG + f"""
{store}
[trends]
out_dir = "trends"
periods = ["day"]
since = "90d"
{extra}
[[sources.file.imports]]
paths = {json.dumps(list(paths))}
"""


# The two workers' config: the benchmark's, with the export files of the two-worker batch (one query
# each, so each worker can collect one) and the daemon's schedule as fast as tests/daemon_helpers.py's
# FAST_DAEMON (process every 0.3 s and at once on new mentions, the queue clock every second), the file
# source every 1.8 s (each file is read whole in its first run, within 0.4 s of the start: the rest are
# no-ops that would only load the store), and no trend-file or retention jobs.
TWO_FILES = ("two-1.jsonl", "two-2.jsonl")
TWO_DAEMON = """
[daemon]
process_seconds = 0.3
sla_seconds = 1
jitter_fraction = 0.2

[sources.file]
interval_minutes = 0.03
"""


@dataclass
class PipelineRun:
    seconds: float
    new: int
    duplicates: int
    quarantined: int
    scored: int
    stages: dict[str, float]
    second_looks: int = 0  # deferred second looks given in the pass


@dataclass
class TwoWorkerRun:
    """The same batch again, imported by two `overheard run --join` workers."""

    seconds: float  # from launching both until everything was scored, rolled up and evaluated
    started_s: float  # from launching both until both had started (imports, scorer, migrations checked)
    expected: int  # the one-worker run's new mentions (the same rows)
    stored: int  # mentions of this batch in the store
    scored: int  # ... with a score
    threads: int  # the threads these mentions are in
    rolled_up: int  # ... rolled up (not dirty) at the end
    collected: dict[str, int]  # new mentions each worker's collect runs reported
    first_scores: dict[str, int]  # mentions each worker wrote the first score of
    scored_by_both: int  # mentions both workers wrote a first score for (must be 0)
    second_looks: dict[str, int]  # deferred second looks each worker had given when the batch was done
    vader_rates: tuple[float, float] = (0.0, 0.0)

    @property
    def rate(self) -> float:
        return self.stored / self.seconds if self.seconds else 0.0

    @property
    def vader_rate(self) -> float:
        return statistics.mean(self.vader_rates)

    @property
    def once(self) -> bool:
        """Every row stored once and scored once."""
        return (self.stored == self.expected == self.scored == sum(self.collected.values())
                == sum(self.first_scores.values()) and self.scored_by_both == 0 and self.rolled_up == self.threads)


@dataclass
class BackendFigures:
    backend: str
    mentions: int = 0  # stored after seeding
    threads: int = 0
    queue_items: int = 0
    open_items: int = 0
    seed_s: float = 0.0
    analyze_s: float = 0.0
    first_trends_s: float = 0.0
    timings: dict[str, list[float]] = field(default_factory=dict)  # ms
    new_hour: list[int] = field(default_factory=list)  # mentions added in each new hour
    trend_s: list[float] = field(default_factory=list)
    batch_rows: int = 0
    run: PipelineRun | None = None
    vader_rates: tuple[float, float] = (0.0, 0.0)
    two: TwoWorkerRun | None = None
    db_bytes: int = 0  # SQLite: file + WAL + shm; PostgreSQL: the schema's relations
    db_detail: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    versions: str = ""

    @property
    def vader_rate(self) -> float:
        return statistics.mean(self.vader_rates)

    @property
    def pipeline_rate(self) -> float:
        return self.run.new / self.run.seconds if self.run and self.run.seconds else 0.0


def write_batch(path: Path | list[Path], rows: int, end: datetime, prefix: str = "new") -> list[str]:
    """A fresh import on top of the history: the corpus over the last day, ids (and thread ids) of
    their own (`prefix`) so nothing is a duplicate of the seeded rows, the same rows whatever the prefix;
    split in order over several files when given several paths. Returns the texts raw VADER scores."""
    paths = path if isinstance(path, list) else [path]
    texts = []
    handles = [open(p, "w", encoding="utf-8") for p in paths]  # noqa: SIM115 - closed below
    try:
        for i, row in enumerate(generate(rows, seed=23, end=end)):
            row = dict(row, id=f"{prefix}-{row['id']}")
            for key in ("thread_id", "parent_id"):
                if row.get(key):
                    row[key] = f"{prefix}-{row[key]}"
            handles[i * len(handles) // rows].write(json.dumps(row, ensure_ascii=False) + "\n")
            if "text" in row:
                texts.append((row["title"] + "\n" + row["text"]) if row.get("title") else row["text"])
    finally:
        for fh in handles:
            fh.close()
    return texts


def add_hour(store, n: int, hour_end: datetime, tag: str) -> int:
    """One new hour of scored mentions ending at hour_end, with ids of their own (benchmarks.scale.fill
    reuses the history's first ids, so part of its hour would be dropped as duplicates); returns how
    many were stored."""
    import random
    import zlib

    from benchmarks.corpus import CorpusShape
    from benchmarks.scale import INSERT, _scored

    rng = random.Random(tag)
    rows = []
    for row in generate(n, seed=zlib.crc32(tag.encode()), shape=CorpusShape(days=1 / 24, duplicate_share=0,
                                                                          malformed_share=0), end=hour_end):
        row = dict(row, id=f"{tag}-{row['id']}")
        for key in ("thread_id", "parent_id"):
            if row.get(key):
                row[key] = f"{tag}-{row[key]}"
        rows.append(_scored(row, rng, datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))))
    before = store.scalar("SELECT COUNT(*) FROM mentions")
    first = store.scalar("SELECT COALESCE(MAX(id), 0) FROM mentions")
    with store.transaction() as conn:
        conn.executemany(INSERT, rows)
        conn.execute("INSERT INTO scores (mention_id, model, label, compound, confidence, lang, scored_at) "
                     "SELECT id, 'vader', label, compound, confidence, lang, scored_at FROM mentions WHERE id > ? "
                     "ON CONFLICT (mention_id, model) DO NOTHING", (first,))
    return store.scalar("SELECT COUNT(*) FROM mentions") - before


def pipeline_child(folder: Path) -> PipelineRun:
    """One pass of the pipeline as `overheard run` does it, on the benchmark's store (one worker)."""
    import listener.scoring
    from listener.config import load_config
    from listener.pipeline import run_pipeline
    from listener.store import Store

    # The score stage's second look (the cascade's strong model on up to 500 uncertain texts a pass, on
    # both cores through OpenMP) is a fixed cost per pass that the store does not change: timed apart.
    looked = [0.0, 0]
    second_look = listener.scoring.second_look_pending

    def timed_second_look(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            n = second_look(*args, **kwargs)
            looked[1] += n
            return n
        finally:
            looked[0] += time.perf_counter() - t0

    listener.scoring.second_look_pending = timed_second_look
    config = load_config(folder / "overheard.toml", check_secrets=False)
    with Store(config.database) as store:
        t0 = time.perf_counter()
        report = run_pipeline(config, store, channels={}, trends=False)
        seconds = time.perf_counter() - t0
    result = report.collected.per_source["file"]
    stages = dict(report.seconds)
    stages[SECOND_LOOK] = looked[0]
    return PipelineRun(seconds, result.new, result.duplicates, result.quarantined, report.scored, stages,
                       int(looked[1]))


def worker_child(config_path: Path, tally: Path) -> None:
    """One of the two workers: `overheard run --join` itself (listener.cli), in this process, with what it
    did tallied to `tally` when it stops: the mentions it wrote the first score of (the score stage's
    write, `listener.scoring.save_scores`, counted once its chunk committed) and the deferred second looks
    it gave. Its trend-file and retention jobs do nothing (not part of the pipeline rate)."""
    import listener.scoring as scoring
    from listener.cli import main as cli_main
    from listener.scheduler import Daemon

    written: list[int] = []
    pending: list[int] = []
    looks: list[tuple[float, int]] = []  # (when it finished, wall clock; how many)
    real_save, real_write, real_look = scoring.save_scores, scoring._write_chunk, scoring.second_look_pending

    def save_scores(conn, rows):
        pending.extend(int(r[-1]) for r in rows)
        return real_save(conn, rows)

    def write_chunk(*args, **kwargs):
        pending.clear()
        try:
            n = real_write(*args, **kwargs)
            written.extend(pending)  # committed
            return n
        finally:
            pending.clear()

    def second_look(*args, **kwargs):
        n = real_look(*args, **kwargs)
        looks.append((time.time(), n))
        return n

    real_run = Daemon.run

    def run(self):
        try:
            real_run(self)
        finally:  # (the command leaves with os._exit once the daemon stopped)
            tally.write_text(json.dumps({"first_scores": written, "second_looks": looks}), encoding="utf-8")

    scoring.save_scores, scoring._write_chunk, scoring.second_look_pending = save_scores, write_chunk, second_look
    Daemon.trends_job = Daemon.retention_job = lambda self: None
    Daemon.run = run
    sys.argv = ["overheard", "run", "--join", "--config", str(config_path), "--log-format", "json"]
    cli_main()


def two_workers(config_path: Path, expected: int, timeout: float, log=print) -> TwoWorkerRun:
    """Launch two `overheard run --join` workers on the store of `config_path`, whose file source has the
    new batch waiting, and time them until the batch is stored, scored, rolled up and evaluated."""
    import signal

    from listener.config import load_config
    from listener.store import Store

    folder = config_path.parent
    config = load_config(config_path, check_secrets=False)
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONUNBUFFERED": "1"}
    names = ("a", "b")
    with Store(config.database) as store:
        first = int(store.scalar("SELECT COALESCE(MAX(id), 0) FROM mentions"))
        procs, logs, started = {}, {}, {}
        t0 = time.perf_counter()
        for name in names:
            logs[name] = folder / f"worker-{name}.log"
            with open(logs[name], "wb") as fh:
                procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.backends", "--worker", str(config_path),
                     str(folder / f"worker-{name}.json")], stdout=fh, stderr=subprocess.STDOUT, cwd=folder, env=env)
        done = None
        try:
            while done is None:
                now = time.perf_counter()
                for name in names:
                    if procs[name].poll() is not None:
                        raise RuntimeError(f"worker {name} exited ({procs[name].returncode}):\n"
                                           + logs[name].read_text(errors="replace")[-4000:])
                    if name not in started and b'"daemon_started"' in logs[name].read_bytes():
                        started[name] = now - t0
                counts = store.query(
                    "SELECT COUNT(*) AS stored, "
                    "SUM(CASE WHEN scored_at IS NULL AND quarantined IS NULL THEN 1 ELSE 0 END) AS unscored "
                    "FROM mentions WHERE id > ?", (first,))[0]
                if counts["stored"] >= expected and not counts["unscored"] \
                        and not store.scalar("SELECT COUNT(*) FROM threads WHERE dirty = 1") \
                        and not store.scalar("SELECT COUNT(*) FROM threads WHERE alert_pending = 1"):
                    done, done_at = now - t0, time.time()
                elif now - t0 > timeout:
                    raise RuntimeError(f"two workers: not done after {timeout:.0f} s: {dict(counts)} of {expected}")
                else:
                    time.sleep(0.25)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for name, proc in procs.items():
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    raise RuntimeError(f"worker {name} did not stop within 120 s of SIGTERM") from None
        row = store.query(
            "SELECT COUNT(*) AS stored, SUM(CASE WHEN scored_at IS NOT NULL THEN 1 ELSE 0 END) AS scored, "
            "COUNT(DISTINCT thread_key) AS threads FROM mentions WHERE id > ?", (first,))[0]
        rolled = store.scalar("SELECT COUNT(*) FROM threads WHERE dirty = 0 AND thread_key IN "
                              "(SELECT thread_key FROM mentions WHERE id > ?)", (first,))
    collected, first_scores, looks, ids = {}, {}, {}, {}
    for name in names:
        collected[name] = sum(e.get("new") or 0 for e in _events(logs[name]) if e.get("event") == "run")
        tally = json.loads((folder / f"worker-{name}.json").read_text(encoding="utf-8"))
        ids[name] = {i for i in tally["first_scores"] if i > first}
        first_scores[name] = len(ids[name])
        looks[name] = sum(n for at, n in tally["second_looks"] if at <= done_at)  # before the end
    return TwoWorkerRun(done, max(started.values(), default=done), expected, int(row["stored"]),
                        int(row["scored"] or 0), int(row["threads"]), int(rolled or 0), collected, first_scores,
                        len(ids["a"] & ids["b"]), looks)


def _events(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _analyze(store) -> None:
    if store.backend == "postgresql":
        store.conn.execute_raw("VACUUM ANALYZE")
    else:
        store.conn.execute("ANALYZE")


def _size(store, folder: Path) -> tuple[int, str]:
    if store.backend == "postgresql":
        schema_bytes = store.conn.execute_raw(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'm')").fetchone()[0]
        db_bytes = store.conn.execute_raw("SELECT pg_database_size(current_database())").fetchone()[0]
        mentions = store.conn.execute_raw("SELECT pg_total_relation_size('mentions')").fetchone()[0]
        return int(schema_bytes), (f"schema {int(schema_bytes) / 1e6:,.0f} MB (mentions with its indexes and "
                                   f"TOAST {int(mentions) / 1e6:,.0f} MB); "
                                   f"pg_database_size {int(db_bytes) / 1e6:,.0f} MB")
    wal = sum(p.stat().st_size for p in folder.glob("bench.db-wal"))
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    files = sum(p.stat().st_size for p in folder.glob("bench.db*"))
    return files, f"bench.db + -wal + -shm after a checkpoint (the WAL was {wal / 1e6:,.0f} MB before it)"


def _settings(store) -> tuple[dict[str, str], str]:
    if store.backend == "postgresql":
        import psycopg

        out = {}
        for name in PG_SETTINGS:
            out[name] = store.conn.execute_raw(f"SHOW {name}").fetchone()[0]
        return out, f"psycopg {psycopg.__version__}"
    pragmas = {name: str(store.conn.execute(f"PRAGMA {name}").fetchone()[0])
               for name in ("journal_mode", "synchronous", "cache_size", "page_size")}
    return pragmas, f"SQLite {sqlite3.sqlite_version}"


def measure(backend: str, n: int, folder: Path, *, url: str | None, batch: int, runs: int,
            queries: int, log=print) -> BackendFigures:
    from fastapi.testclient import TestClient

    from alerts.queue import ItemFilter, Queue
    from alerts.users import add_user
    from alerts.web.app import create_app
    from benchmarks.scale import build_history
    from benchmarks.throughput import raw_vader
    from listener.config import load_config
    from listener.store import Store
    from listener.trendfiles import write_trend_files

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "overheard.toml").write_text(store_config(backend, url), encoding="utf-8")
    config = load_config(folder / "overheard.toml", check_secrets=False)
    fig = BackendFigures(backend)
    now = datetime.now(UTC)
    # The history ends `runs` + 1 hours ago, so every "new hour" below is in the past too.
    end = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=runs + 1)
    with Store(config.database) as store:
        if store.backend != backend:
            raise SystemExit(f"backends: asked for {backend}, the store opened on {store.backend}")
        fig.settings, fig.versions = _settings(store)
        t0 = time.perf_counter()
        build_history(config, store, n, end)
        fig.seed_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        _analyze(store)
        fig.analyze_s = time.perf_counter() - t0
        fig.mentions = store.scalar("SELECT COUNT(*) FROM mentions")
        fig.threads = store.scalar("SELECT COUNT(*) FROM threads")
        fig.queue_items = store.scalar("SELECT COUNT(*) FROM queue_items")
        fig.open_items = store.scalar("SELECT COUNT(*) FROM queue_items WHERE state NOT IN ('resolved', 'dismissed')")
        log(f"  {backend}: seeded {fig.mentions:,} mentions, {fig.threads:,} threads, {fig.queue_items:,} queue items "
            f"in {fig.seed_s:.0f} s (+ analyze {fig.analyze_s:.0f} s)")
        # The files as the last daemon pass left them (the hourly rollup and the kept periods built).
        t0 = time.perf_counter()
        write_trend_files(config, store, now=end)
        fig.first_trends_s = time.perf_counter() - t0
        log(f"  {backend}: first trend files (nothing kept yet) {fig.first_trends_s:.1f} s")

        queue = Queue(store, config.queue)
        searches = iter(SEARCHES * (queries + 2))
        fig.timings["Queue.list (open, SLA order)"] = timings_ms(lambda: queue.list(ItemFilter()), queries)
        fig.timings["Queue.list search"] = timings_ms(lambda: queue.list(ItemFilter(search=next(searches))), queries)
        add_user(store, "bench", "admin", "bench-password")
        with TestClient(create_app(config, secret="b" * 40)) as client:
            token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
            client.post("/login", data={"name": "bench", "password": "bench-password", "csrf_token": token})
            web_searches = iter(SEARCHES * (queries + 2))

            def page(params: dict | None = None) -> None:
                response = client.get("/", params=params)
                assert response.status_code == 200, response.status_code

            fig.timings["web GET / (queue page)"] = timings_ms(page, queries)
            fig.timings["web GET /?q= (search page)"] = timings_ms(lambda: page({"q": next(web_searches)}), queries)
        log(f"  {backend}: queue timed ({queries} runs each)")

        per_hour = max(100, n // (90 * 24))
        for i in range(1, runs + 1):
            hour_end = end + timedelta(hours=i)
            fig.new_hour.append(add_hour(store, per_hour, hour_end, f"hour{i}"))
            t0 = time.perf_counter()
            write_trend_files(config, store, now=hour_end)
            fig.trend_s.append(time.perf_counter() - t0)
        log(f"  {backend}: trend files after one new hour: {', '.join(f'{s:.2f} s' for s in fig.trend_s)}")

    texts = write_batch(folder / "batch.jsonl", batch, now)
    fig.batch_rows = batch
    before = len(texts) / raw_vader(texts)
    out = subprocess.run([sys.executable, "-m", "benchmarks.backends", "--child", str(folder)],
                         check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    fig.run = PipelineRun(**json.loads(out.stdout.strip().splitlines()[-1]))
    after = len(texts) / raw_vader(texts)
    fig.vader_rates = (before, after)
    log(f"  {backend}: pipeline {fig.run.new:,} new mentions in {fig.run.seconds:.1f} s = {fig.pipeline_rate:,.0f}/s")

    # The same rows again (ids of their own), by two `overheard run --join` workers.
    two_config = folder / "overheard-two.toml"
    two_config.write_text(store_config(backend, url, TWO_FILES, TWO_DAEMON), encoding="utf-8")
    texts = write_batch([folder / name for name in TWO_FILES], batch, now, prefix="two")
    before = len(texts) / raw_vader(texts)
    fig.two = two_workers(two_config, fig.run.new, timeout=max(300.0, 6 * fig.run.seconds), log=log)
    after = len(texts) / raw_vader(texts)
    fig.two.vader_rates = (before, after)
    log(f"  {backend}: two workers {fig.two.stored:,} new mentions in {fig.two.seconds:.1f} s = {fig.two.rate:,.0f}/s "
        f"(stored once and scored once: {'yes' if fig.two.once else 'NO'})")

    with Store(config.database) as store:
        fig.db_bytes, fig.db_detail = _size(store, folder)
    return fig


def _ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p):,.1f} ms"


def table(figs: list[BackendFigures]) -> list[str]:
    """The side-by-side Markdown table."""
    def row(what: str, cells: list[str]) -> str:
        return f"| {what} | " + " | ".join(cells) + " |"

    lines = [row("What", [f.backend for f in figs]), "|---|" + "---|" * len(figs)]
    lines.append(row("mentions stored (seeded, 90 days)", [f"{f.mentions:,} ({f.threads:,} threads, "
                                                           f"{f.queue_items:,} queue items, {f.open_items:,} open)"
                                                           for f in figs]))
    lines.append(row(f"pipeline rate, {figs[0].batch_rows:,} new rows on top, 1 worker",
                     [f"**{f.pipeline_rate:,.0f} mentions/s** ({f.run.new:,} in {f.run.seconds:.1f} s)" for f in figs]))
    lines.append(row("raw VADER, one core, same texts, same run",
                     [f"{f.vader_rate:,.0f}/s → pipeline = **{f.pipeline_rate / f.vader_rate:.2f}×**" for f in figs]))
    lines.append(row("pipeline rate without the score stage's second look", [
        f"{f.run.new / (f.run.seconds - f.run.stages.get(SECOND_LOOK, 0)):,.0f} mentions/s (second look "
        f"{f.run.stages.get(SECOND_LOOK, 0):.1f} s)" for f in figs]))
    lines.append(row(f"pipeline rate, the same {figs[0].batch_rows:,} rows again (new ids), 2 workers "
                     "(`overheard run --join`)", [
                         f"**{f.two.rate:,.0f} mentions/s** ({f.two.stored:,} in {f.two.seconds:.1f} s from launch, "
                         f"of which start-up {f.two.started_s:.1f} s) = **{f.two.rate / f.pipeline_rate:.2f}×** "
                         "one worker" for f in figs]))
    lines.append(row("raw VADER, one core, same texts, two-worker phase", [
        f"{f.two.vader_rate:,.0f}/s → 2 workers = **{f.two.rate / f.two.vader_rate:.2f}×** "
        "(target ≥ 0.5×)" for f in figs]))
    lines.append(row("2 workers: each row stored once, scored once", [
        f"{'yes' if f.two.once else '**NO**'}: {f.two.stored:,} stored of {f.two.expected:,} "
        f"(collect new {' + '.join(f'{v:,}' for v in f.two.collected.values())}), {f.two.scored:,} scored "
        f"(first scores {' + '.join(f'{v:,}' for v in f.two.first_scores.values())}, "
        f"{f.two.scored_by_both} by both), their {f.two.threads:,} threads rolled up ({f.two.rolled_up:,})"
        for f in figs]))
    lines.append(row("deferred second looks given by the end: 1 worker / 2 workers", [
        f"{f.run.second_looks:,} / {sum(f.two.second_looks.values()):,} "
        f"({' + '.join(f'{v:,}' for v in f.two.second_looks.values())})" for f in figs]))
    stages = list(dict.fromkeys(name for f in figs for name in f.run.stages if name != SECOND_LOOK))
    lines.append(row("per stage, µs per new mention", [", ".join(
        f"{name} {f.run.stages.get(name, 0) / max(f.run.new, 1) * 1e6:,.0f}" for name in stages) for f in figs]))
    for name in figs[0].timings:
        lines.append(row(f"{name} p95 (p50)", [f"**{_ms(f.timings[name], 95)}** ({_ms(f.timings[name], 50)})"
                                                for f in figs]))
    lines.append(row(f"trend files after one new hour, p50 / p95 of {len(figs[0].trend_s)}",
                     [f"**{statistics.median(f.trend_s):.2f} s / {percentile(f.trend_s, 95):.2f} s** "
                      f"({statistics.mean(f.new_hour):,.0f} mentions an hour)" for f in figs]))
    lines.append(row("first trend files (nothing kept yet)", [f"{f.first_trends_s:.1f} s" for f in figs]))
    lines.append(row("database size at the end", [
        f"**{f.db_bytes / 1e6:,.0f} MB** = {f.db_bytes / 1e9 / max(f.mentions + f.run.new, 1) * 1e6:.2f} GB "
        "per million" for f in figs]))
    lines.append(row("seeding (not a figure: bulk SQL)", [f"{f.seed_s:.0f} s + analyze {f.analyze_s:.0f} s"
                                                          for f in figs]))
    return lines


def report(figs: list[BackendFigures], args: argparse.Namespace, rerun: str) -> list[str]:
    lines = [f"backends side by side: {args.mentions:,} mentions seeded per backend, {args.batch:,}-row pipeline "
             f"batch, queue timings {args.queries} runs each after 2 warm-up calls, trend files {args.runs} runs", ""]
    lines += table(figs)
    lines.append("")
    for f in figs:
        lines.append(f"{f.backend}: {f.versions}; " + ", ".join(f"{k}={v}" for k, v in f.settings.items()))
        lines.append(f"  database size: {f.db_detail}")
        lines.append(f"  raw VADER before/after the pipeline: {f.vader_rates[0]:,.0f} / {f.vader_rates[1]:,.0f} "
                     f"texts/s; pipeline batch {f.run.new:,} new, {f.run.duplicates:,} re-sent duplicates, "
                     f"{f.run.quarantined:,} quarantined")
        lines.append(f"  two workers: {f.two.vader_rates[0]:,.0f} / {f.two.vader_rates[1]:,.0f} raw VADER "
                     f"texts/s before/after; both started after {f.two.started_s:.1f} s, rate after that "
                     f"{f.two.stored / max(f.two.seconds - f.two.started_s, 1e-9):,.0f} mentions/s")
    lines.append("two workers: two `overheard run --join` daemons on the store (leases: collect per export file, "
                 "score per block of 2,000 ids, threads / rules / queue clock one at a time), the batch in two "
                 "files; timed from launch until every new mention is scored and rolled up, no thread dirty, "
                 "none pending for the rules; their trend-file and retention jobs off.")
    lines += [f"{machine()}; run {args.started:%Y-%m-%d %H:%M}-{datetime.now(UTC):%H:%M} UTC",
              f"rerun: {rerun}"]
    return lines


def _pg_url(args: argparse.Namespace) -> str | None:
    env = os.environ
    return args.database_url or env.get("OVERHEARD_TEST_DATABASE_URL") or env.get("OVERHEARD_DATABASE_URL")


def _drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main(argv: list[str] | None = None) -> list[BackendFigures]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=1_000_000, help="mentions seeded per backend (1000000)")
    parser.add_argument("--batch", type=int, default=20_000, help="rows the timed pipeline pass imports (20000)")
    parser.add_argument("--runs", type=int, default=3, help="new hours for the trend files (3)")
    parser.add_argument("--queries", type=int, default=30, help="timed runs of each queue operation (30)")
    parser.add_argument("--backend", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--database-url", help="PostgreSQL server (default $OVERHEARD_TEST_DATABASE_URL)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=Path, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_child(*args.worker)
        return []
    if args.child:
        print(json.dumps(asdict(pipeline_child(args.child))))
        return []
    args.backend = [b.strip() for b in args.backend.split(",") if b.strip()]
    unknown = [b for b in args.backend if b not in BACKENDS]
    if unknown or not args.backend:
        parser.exit(2, f"backends: --backend {','.join(unknown) or '(empty)'}: use sqlite, postgresql or both\n")
    url = _pg_url(args)
    if "postgresql" in args.backend and not url:
        parser.exit(2, "backends: postgresql needs a server: --database-url postgresql://... or run under "
                       ".ci/with-postgres (which sets OVERHEARD_TEST_DATABASE_URL)\n")
    # The SQLite store must stay a file: the test variable would send every file path to PostgreSQL, in
    # this process and the pipeline's child. PostgreSQL is named by the config's [store] url instead.
    for name in ("OVERHEARD_TEST_DATABASE_URL", "OVERHEARD_DATABASE_URL"):
        os.environ.pop(name, None)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    figs = []
    started = datetime.now(UTC)
    print(f"backends: {', '.join(args.backend)}; {args.mentions:,} mentions each; started {started:%Y-%m-%d %H:%M} UTC",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="overheard-backends-") as tmp:
        for backend in args.backend:
            pg = None
            if backend == "postgresql":
                pg = url + ("&" if "?" in url else "?") + f"schema={schema}"
            try:
                figs.append(measure(backend, args.mentions, Path(tmp) / backend, url=pg, batch=args.batch,
                                    runs=args.runs, queries=args.queries,
                                    log=lambda line: print(line, flush=True)))
            finally:
                if pg:
                    _drop_schema(url, schema)
    shown = [a for a in (argv if argv is not None else sys.argv[1:])]
    rerun = (".ci/with-postgres " if "postgresql" in args.backend else "") + \
        "nice -n 19 .venv/bin/python -m benchmarks.backends " + " ".join(shown)
    args.started = started
    print()
    for line in report(figs, args, rerun.strip()):
        print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in figs], indent=1), encoding="utf-8")
    return figs


if __name__ == "__main__":
    main()
