"""Pipeline throughput next to raw vaderSentiment, on the same generated texts.

The pipeline run is the real thing: the file source reads a JSONL export (parse, brand match,
clean), the store dedupes and saves it, then `listener.pipeline.process` scores (language + scorer),
rolls up threads (risk, flags) and evaluates alert rules. It runs in a fresh child process so its
peak memory (RSS) is its own. Raw VADER scores the same texts with SentimentIntensityAnalyzer
alone, one process, before and after the pipeline (the machine is shared; the mean of both runs).
Prints each stage's rate, the whole pipeline's, and the ratio to raw VADER's single-core rate.

Run:  .venv/bin/python -m benchmarks.throughput [--mentions 100000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.corpus import CONFIG, write_jsonl
from benchmarks.machine import machine, peak_rss_mb

PIPELINE_CONFIG = CONFIG + """
[store]
path = "bench.db"

[sources.file]
[[sources.file.imports]]
paths = ["mentions.jsonl"]
"""


@dataclass
class PipelineRun:
    seconds: float
    collect_s: float
    process_s: float
    new: int
    duplicates: int
    quarantined: int
    scored: int
    threads: int
    flagged: int
    peak_rss_mb: float
    db_bytes: int
    stages: dict[str, float]
    second_looked: int = 0  # mentions the cascade's second look scored in this run
    second_look_left: int = 0  # deferred to later passes (a backlog keeps its fast labels meanwhile)


def run_pipeline_child(folder: Path) -> PipelineRun:
    """The import as a user runs it (`overheard collect`, then processing): listener.pipeline.run_pipeline
    without the trend files, timed stage by stage by the pipeline itself (PipelineReport.seconds)."""
    from listener.config import load_config
    from listener.pipeline import run_pipeline
    from listener.store import Store

    config = load_config(folder / "overheard.toml", check_secrets=False)
    t0 = time.perf_counter()
    with Store(config.db_path) as store:
        report = run_pipeline(config, store, channels={}, trends=False)
        seconds = time.perf_counter() - t0
        flagged = store.scalar("SELECT COUNT(*) FROM threads WHERE flagged = 1")
        threads = store.scalar("SELECT COUNT(*) FROM threads")
        looked = store.scalar("SELECT COUNT(*) FROM mentions WHERE scored_by = 'learned+e5'") or 0
        left = store.scalar("SELECT COUNT(*) FROM mentions WHERE second_look = 1") or 0
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    result = report.collected.per_source["file"]
    size = sum(p.stat().st_size for p in folder.glob("bench.db*"))
    stages = dict(report.seconds)
    collect_s = stages.pop("collect")
    return PipelineRun(seconds, collect_s, seconds - collect_s, result.new, result.duplicates, result.quarantined,
                       report.scored, threads, flagged, peak_rss_mb(), size, stages, looked, left)


def raw_vader(texts: list[str]) -> float:
    """Seconds for vaderSentiment alone to score every text (one process)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    t0 = time.perf_counter()
    for text in texts:
        analyzer.polarity_scores(text)
    return time.perf_counter() - t0


def scorer_alone(config_path: Path, texts: list[str]) -> float:
    """Seconds for the pipeline's scorer alone, in one process, as the score stage calls it on a chunk
    (listener.scoring._score_chunk: the cascade's second look deferred for a backlog)."""
    from listener.config import load_config
    from listener.scoring import CHUNK, _score_chunk, build_scorer

    scorer = build_scorer(load_config(config_path, check_secrets=False))
    rows = [{"source_lang": None, "author_followers": 0}] * CHUNK
    _score_chunk(scorer, texts[:10], rows[:10])  # models loaded before timing
    t0 = time.perf_counter()
    for i in range(0, len(texts), CHUNK):
        chunk = texts[i:i + CHUNK]
        _score_chunk(scorer, chunk, rows[:len(chunk)])
    global _SCORER_NAME
    _SCORER_NAME = scorer.name
    return time.perf_counter() - t0


_SCORER_NAME = "?"


def measure(mentions: int, folder: Path) -> dict:
    """Generate, run raw VADER, the pipeline (child process), raw VADER again; return the figures."""
    (folder / "overheard.toml").write_text(PIPELINE_CONFIG, encoding="utf-8")
    texts = write_jsonl(folder / "mentions.jsonl", mentions)
    vader_before = raw_vader(texts)
    out = subprocess.run([sys.executable, "-m", "benchmarks.throughput", "--child", str(folder)],
                         check=True, capture_output=True, text=True)
    run = PipelineRun(**json.loads(out.stdout.strip().splitlines()[-1]))
    vader_after = raw_vader(texts)
    sample = texts[:6_000]
    scorer_1 = scorer_alone(folder / "overheard.toml", sample)
    vader_s = (vader_before + vader_after) / 2
    # Rates per stored mention: duplicates and quarantined rows are work the pipeline did for free here.
    pipeline_rate = run.new / run.seconds
    # The reference: raw VADER on one core, in this run (the machine is shared; the mean of both runs).
    vader_rate = len(texts) / vader_s
    from listener.scoring import POOL_MIN_BACKLOG, pool_workers

    return {"rows": mentions, "texts": len(texts), "run": run, "vader_s": vader_s,
            "vader_rate": vader_rate, "pipeline_rate": pipeline_rate, "ratio": pipeline_rate / vader_rate,
            "vader_runs": (len(texts) / vader_before, len(texts) / vader_after),
            "scorer_rate": len(sample) / scorer_1, "scorer": _SCORER_NAME, "workers": pool_workers(),
            "pool_min": POOL_MIN_BACKLOG}


TARGET = 0.5  # issue 20: >= 0.5x raw VADER's single-core rate, on 2 cores, SQLite, the default scorer


def report(fig: dict, rerun: str) -> list[str]:
    run: PipelineRun = fig["run"]
    per = {"collect": run.collect_s, **run.stages}
    lines = [
        f"pipeline throughput: {fig['rows']:,} generated rows -> {run.new:,} new mentions "
        f"({run.duplicates:,} re-sent duplicates, {run.quarantined:,} quarantined), "
        f"{run.threads:,} threads, {run.flagged:,} flagged",
        f"  whole pipeline (listener.pipeline.run_pipeline, trend files left out): {run.seconds:8.1f} s  "
        f"{fig['pipeline_rate']:8,.0f} mentions/s",
        "  per stage (wall time; mentions stored / stage time):",
        *(f"    {name:<12} {secs:7.1f} s  {run.new / secs if secs else float('inf'):10,.0f} mentions/s  "
          f"{secs / run.new * 1e6:6.0f} µs per mention" for name, secs in per.items()),
        f"  score stage: the default scorer in a pool of {fig['workers']} processes for a backlog of "
        f"{fig['pool_min']:,}+ (listener.scoring.pool_workers); the cascade's second look scored "
        f"{run.second_looked:,} mentions in this run, {run.second_look_left:,} are left for later passes",
        f"  raw vaderSentiment, one core, on the same {fig['texts']:,} texts: {fig['vader_s']:8.1f} s  "
        f"{fig['vader_rate']:8,.0f} mentions/s (runs before/after: {fig['vader_runs'][0]:,.0f} / "
        f"{fig['vader_runs'][1]:,.0f}); {fig['vader_s'] / fig['texts'] * 1e6:.0f} µs per text",
        f"  ratio pipeline / raw VADER (one core): {fig['ratio']:.2f}x (target >= {TARGET:.2f}x on 2 cores: "
        f"{'met' if fig['ratio'] >= TARGET else 'NOT met'})",
        f"  the pipeline's scorer alone ({fig['scorer']}, as the score stage calls it, one process): "
        f"{fig['scorer_rate']:,.0f} mentions/s = {fig['scorer_rate'] / fig['vader_rate']:.2f}x raw VADER",
        f"  peak RSS of the importing process: {run.peak_rss_mb:.0f} MB (pool processes not included)",
        f"  database: {run.db_bytes / 1e6:.0f} MB for {run.new:,} mentions = "
        f"{run.db_bytes / 1e9 / run.new * 1e6:.2f} GB per million (raw JSON of each row kept)",
        "  how: the file source reads a generated JSONL export (benchmarks/corpus.py) in a fresh child process; "
        "raw VADER (SentimentIntensityAnalyzer.polarity_scores) runs before and after it in this process",
        "  " + machine(),
        f"  rerun: {rerun}",
    ]
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=100_000, help="rows to import (default 100000)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asdict(run_pipeline_child(args.child))))
        return {}
    with tempfile.TemporaryDirectory(prefix="overheard-bench-") as tmp:
        fig = measure(args.mentions, Path(tmp))
    for line in report(fig, f"nice -n 19 .venv/bin/python -m benchmarks.throughput --mentions {args.mentions}"):
        print(line, flush=True)
    return fig


if __name__ == "__main__":
    main()
