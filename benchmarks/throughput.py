"""Pipeline throughput next to raw vaderSentiment, on the same generated texts.

The pipeline run is the real thing: the file source reads a JSONL export (parse, brand match,
clean), the store dedupes and saves it, then `listener.pipeline.process` scores (language + scorer),
rolls up threads (risk, flags) and evaluates alert rules. It runs in a fresh child process so its
peak memory (RSS) is its own. Raw VADER scores the same texts with SentimentIntensityAnalyzer
alone, one process, before and after the pipeline (the machine is shared; the mean of both runs).

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


def run_pipeline_child(folder: Path) -> PipelineRun:
    """The import as a user runs it (`overheard collect` then processing), timed; in this process."""
    from listener.collect import collect
    from listener.config import load_config
    from listener.pipeline import process
    from listener.store import Store

    config = load_config(folder / "overheard.toml", check_secrets=False)
    stages = _time_stages()
    t0 = time.perf_counter()
    with Store(config.db_path) as store:
        collected = collect(config, store)
        t1 = time.perf_counter()
        report = process(config, store, channels={})
        t2 = time.perf_counter()
        flagged = store.scalar("SELECT COUNT(*) FROM threads WHERE flagged = 1")
        threads = store.scalar("SELECT COUNT(*) FROM threads")
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    result = collected.per_source["file"]
    size = sum(p.stat().st_size for p in folder.glob("bench.db*"))
    return PipelineRun(t2 - t0, t1 - t0, t2 - t1, result.new, result.duplicates, result.quarantined,
                       report.scored, threads, flagged, peak_rss_mb(), size, stages)


def _time_stages() -> dict[str, float]:
    """Wrap the stages `process` calls with timers (instrumentation only: the same functions run)."""
    import listener.pipeline as pipeline

    stages: dict[str, float] = {}

    def timed(name: str, func):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                stages[name] = stages.get(name, 0.0) + time.perf_counter() - t0
        return wrapper

    for attr, name in (("score_pending", "score"), ("rollup_dirty", "thread rollup"),
                       ("evaluate_pending", "alert rules"), ("deliver_pending", "delivery")):
        if hasattr(pipeline, attr):
            setattr(pipeline, attr, timed(name, getattr(pipeline, attr)))
    return stages


def raw_vader(texts: list[str]) -> float:
    """Seconds for vaderSentiment alone to score every text (one process)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    t0 = time.perf_counter()
    for text in texts:
        analyzer.polarity_scores(text)
    return time.perf_counter() - t0


def _score_chunk(config_path: Path, texts: list[str]) -> int:
    """Score texts with the scorer the pipeline builds from the benchmark's config (built once per process)."""
    from listener.config import load_config
    from listener.scoring import build_scorer

    global _WORKER_SCORER
    if _WORKER_SCORER is None:
        _WORKER_SCORER = build_scorer(load_config(config_path, check_secrets=False))
    return len(_WORKER_SCORER.score_many(texts))


_WORKER_SCORER = None


def scorer_alone(config_path: Path, texts: list[str], workers: int) -> float:
    """Seconds for the pipeline's scorer (language + VADER) alone, in one process or a pool of `workers`.

    Tells whether a process pool would pay off on this machine before anyone builds one into the pipeline.
    """
    chunks = [texts[i:i + 2000] for i in range(0, len(texts), 2000)]
    if workers <= 1:
        t0 = time.perf_counter()
        for chunk in chunks:
            _score_chunk(config_path, chunk)
        return time.perf_counter() - t0
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial
    from multiprocessing import get_context

    score = partial(_score_chunk, config_path)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        list(pool.map(score, [chunks[0][:10]] * workers))  # start-up and model loading not counted
        t0 = time.perf_counter()
        list(pool.map(score, chunks))
        return time.perf_counter() - t0


def measure(mentions: int, folder: Path) -> dict:
    """Generate, run raw VADER, the pipeline (child process), raw VADER again; return the figures."""
    (folder / "overheard.toml").write_text(PIPELINE_CONFIG, encoding="utf-8")
    texts = write_jsonl(folder / "mentions.jsonl", mentions)
    vader_before = raw_vader(texts)
    out = subprocess.run([sys.executable, "-m", "benchmarks.throughput", "--child", str(folder)],
                         check=True, capture_output=True, text=True)
    run = PipelineRun(**json.loads(out.stdout.strip().splitlines()[-1]))
    vader_after = raw_vader(texts)
    config_path = folder / "overheard.toml"
    _score_chunk(config_path, texts[:10])  # load the models before timing
    sample = texts[:20_000]  # enough to see whether a pool pays off
    scorer_1 = scorer_alone(config_path, sample, 1)
    scorer_pool = scorer_alone(config_path, sample, 2)
    vader_s = (vader_before + vader_after) / 2
    # Rates per stored mention: duplicates and quarantined rows are work the pipeline did for free here.
    pipeline_rate = run.new / run.seconds
    vader_rate = len(texts) / vader_s
    return {"rows": mentions, "texts": len(texts), "run": run, "vader_s": vader_s,
            "vader_rate": vader_rate, "pipeline_rate": pipeline_rate, "ratio": pipeline_rate / vader_rate,
            "vader_runs": (len(texts) / vader_before, len(texts) / vader_after),
            "scorer_rate": len(sample) / scorer_1, "scorer_pool_rate": len(sample) / scorer_pool,
            "scorer": _WORKER_SCORER.name if _WORKER_SCORER is not None else "?"}


def report(fig: dict, rerun: str) -> list[str]:
    run: PipelineRun = fig["run"]
    lines = [
        f"pipeline throughput: {fig['rows']:,} generated rows -> {run.new:,} new mentions "
        f"({run.duplicates:,} re-sent duplicates, {run.quarantined:,} quarantined), "
        f"{run.threads:,} threads, {run.flagged:,} flagged",
        f"  pipeline (file import, dedupe, language, score, store, rollup, flags, rules): "
        f"{run.seconds:8.1f} s  {fig['pipeline_rate']:8,.0f} mentions/s "
        f"(collect {run.collect_s:.1f} s, process {run.process_s:.1f} s)",
        "  per mention: collect (parse, brand match, dedupe, store) "
        f"{run.collect_s / run.new * 1e6:.0f} µs, "
        + ", ".join(f"{k} {v / run.new * 1e6:.0f} µs" for k, v in run.stages.items())
        + f"; raw VADER {fig['vader_s'] / fig['texts'] * 1e6:.0f} µs",
        f"  raw vaderSentiment on the same {fig['texts']:,} texts:             "
        f"{fig['vader_s']:8.1f} s  {fig['vader_rate']:8,.0f} mentions/s "
        f"(runs before/after: {fig['vader_runs'][0]:,.0f} / {fig['vader_runs'][1]:,.0f})",
        f"  ratio pipeline / raw VADER: {fig['ratio']:.2f}x (target >= 0.70x)",
        f"  the pipeline's scorer alone ({fig['scorer']}, with language detection): "
        f"{fig['scorer_rate']:,.0f} mentions/s in one process, "
        f"{fig['scorer_pool_rate']:,.0f}/s in a pool of 2 ({fig['scorer_pool_rate'] / fig['scorer_rate']:.2f}x)",
        f"  peak RSS of the importing process: {run.peak_rss_mb:.0f} MB (target <= 300 MB)",
        f"  database: {run.db_bytes / 1e6:.0f} MB for {run.new:,} mentions = "
        f"{run.db_bytes / 1e9 / run.new * 1e6:.2f} GB per million (raw JSON of each row kept)",
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
    for line in report(fig, f".venv/bin/python -m benchmarks.throughput --mentions {args.mentions}"):
        print(line, flush=True)
    return fig


if __name__ == "__main__":
    main()
