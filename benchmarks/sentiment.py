"""Sentiment accuracy and speed: the learned scorer against raw VADER, on data it was not trained on.

    python -m benchmarks.sentiment [--data ../shared/data] [--scorer learned]

Accuracy on the val splits (used to choose settings, never to train) and on the held-back halves of
the VADER paper's tweets and the Amazon reviews (never trained or tuned on; the shipped model learned
from the other halves). A second model, trained in this run on the tweet train splits alone, is
scored on the same halves: how the scorer does on a kind of text it has never seen. Then throughput
on one core with its ratio to raw VADER from the same run; model size and load time in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import mean

from sentiment import get_scorer
from sentiment.datasets import DataMissing, LabelledSet, held_out_sets, tweet_training_sets, validation_sets
from sentiment.evaluate import Figures, figures

ROOT = Path(__file__).resolve().parent.parent
RERUN = "python -m benchmarks.sentiment"


def machine() -> str:
    """CPU model, cores, load and library versions, for the record."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}; {os.cpu_count()} cores; load average {load:.1f}; Python {platform.python_version()}; "
            f"numpy {numpy.__version__}; {platform.system()} {platform.release()}")


def pin_to_one_core() -> str:
    """Run on a single CPU, as the throughput target says; returns which."""
    if hasattr(os, "sched_setaffinity"):
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity here)"


def evaluate(scorer, labelled: LabelledSet, use_tags: bool = True) -> Figures:
    langs = labelled.langs if use_tags else [None] * len(labelled)
    return figures(labelled.labels, [s.label for s in scorer.score_many(labelled.texts, langs)])


def throughput(fns: dict[str, Callable[[list[str]], object]], texts: list[str], repeats: int = 5) -> dict[str, float]:
    """Best texts/s of each function over `repeats` rounds, run in turns so that another process
    slowing the machine for a while slows all of them alike (the ratio is what compares)."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn(texts)
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: len(texts) / seconds for name, seconds in best.items()}


def load_seconds(scorer_name: str) -> float:
    """Import, model load and first score in a fresh interpreter (what a new process pays)."""
    code = ("import time; t = time.perf_counter(); from sentiment import get_scorer; "
            f"s = get_scorer({scorer_name!r}); s.score('first'); print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(out.stdout.strip())


def row(name: str, n: int, base: Figures, ours: Figures) -> str:
    return (f"| {name} | {n:,} | {base.macro_f1:.3f} | **{ours.macro_f1:.3f}** | "
            f"{base.negative_precision:.2f} / {base.negative_recall:.2f} | "
            f"{ours.negative_precision:.2f} / {ours.negative_recall:.2f} | {ours.unscored:,} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="the development data (default ../shared/data)")
    parser.add_argument("--scorer", default="learned")
    parser.add_argument("--speed-only", action="store_true", help="skip the accuracy table")
    args = parser.parse_args(argv)
    rerun = RERUN + (f" --data {args.data}" if args.data else "") + (
        f" --scorer {args.scorer}" if args.scorer != "learned" else "")
    args.data = args.data or ROOT.parent / "shared" / "data"
    try:
        val, held = validation_sets(args.data), held_out_sets(args.data)
    except DataMissing as exc:
        print(f"benchmark skipped: {exc}", file=sys.stderr)
        return 2

    where = pin_to_one_core()
    vader = get_scorer("vader")
    ours = get_scorer(args.scorer)
    print(f"# Sentiment benchmark: {args.scorer} vs raw VADER\n")
    print(f"Machine: {machine()}; {where}.")
    print(f"Rerun (from the repository root): `{rerun}`\n")
    if not args.speed_only:
        accuracy_table(vader, ours, val, held, args.scorer)
        if args.scorer == "learned":
            unseen_sources(vader, args.data, held)
    speed(ours, val, args.scorer)
    return 0


def accuracy_table(vader, ours, val: list[LabelledSet], held: list[LabelledSet], name: str) -> None:
    """The markdown table of figures on the val splits and the held-out sets."""
    print("| set | texts | VADER macro-F1 | " + name + " macro-F1 | VADER neg P / R | "
          + name + " neg P / R | unscored |")
    print("|---|---|---|---|---|---|---|")
    other_base, other_ours, other_detect = [], [], []
    for labelled in val:
        base, mine = evaluate(vader, labelled), evaluate(ours, labelled)
        print(row(labelled.name + " (language tag given)", len(labelled), base, mine))
        if labelled.name.startswith("umsab") and "english" not in labelled.name:
            other_base.append(base.macro_f1)
            other_ours.append(mine.macro_f1)
            other_detect.append(evaluate(ours, labelled, use_tags=False).macro_f1)
    print(f"| mean of the 7 non-English UMSAB val sets | {7 * 324:,} | {mean(other_base):.3f} | "
          f"**{mean(other_ours):.3f}** | | | |")
    print(f"| same, language detected instead of tagged | {7 * 324:,} | {mean(other_base):.3f} | "
          f"**{mean(other_detect):.3f}** | | | |")
    for labelled in held:
        base, mine = evaluate(vader, labelled), evaluate(ours, labelled)
        print(row(labelled.name + " (held out, language detected)", len(labelled), base, mine))


def unseen_sources(vader, data: Path, held: list[LabelledSet]) -> None:
    """The held-back halves scored by a model that saw no text of their kind (tweet train splits only)."""
    import tempfile

    from sentiment.learned import LearnedScorer
    from sentiment.train import train_model

    started = time.perf_counter()
    sets = tweet_training_sets(data)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tweets-only.npz"
        train_model(sets).save(path)
        tweets_only = LearnedScorer(model_path=path)
        print(f"\nUnseen sources: the same halves, scored by a model trained in this run on the tweet train "
              f"splits alone ({sum(len(s) for s in sets):,} tweets, {time.perf_counter() - started:.0f} s), "
              "so that it has seen neither source:\n")
        print("| set | texts | VADER macro-F1 | tweets-only macro-F1 | VADER neg P / R | tweets-only neg P / R "
              "| unscored |")
        print("|---|---|---|---|---|---|---|")
        for labelled in held:
            print(row(labelled.name, len(labelled), evaluate(vader, labelled), evaluate(tweets_only, labelled)))


def speed(ours, val: list[LabelledSet], name: str) -> None:
    """Throughput against raw VADER in the same run, model size, load time."""
    texts = [t for labelled in val for t in labelled.texts]
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    ours.score_many(texts[:200])  # warm caches (language model, token hashes) before timing
    speeds = throughput({"vader": lambda ts: [analyzer.polarity_scores(t) for t in ts],
                         name: lambda ts: ours.score_many(ts)}, texts)
    raw_speed, our_speed = speeds["vader"], speeds[name]
    print(f"\nThroughput on one core, {len(texts):,} val tweets, no language tags (detection included):")
    print(f"- raw VADER: {raw_speed:,.0f} texts/s")
    print(f"- {name}: {our_speed:,.0f} texts/s = {our_speed / raw_speed:.2f} x raw VADER")
    model = getattr(getattr(ours, "model", None), "info", None)
    from sentiment.learned import DEFAULT_MODEL

    if name == "learned":
        print(f"\nModel file: {DEFAULT_MODEL.relative_to(ROOT)}, {DEFAULT_MODEL.stat().st_size / 1e6:.1f} MB"
              + (f", trained on {sum(model['trained_on'].values()):,} texts" if model else ""))
    print(f"Scorer load (fresh process: imports, model, first score): {load_seconds(name):.2f} s")


if __name__ == "__main__":
    raise SystemExit(main())
