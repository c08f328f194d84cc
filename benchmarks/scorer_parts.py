"""The default scorer's fast pass per text, in process, next to raw VADER on the same texts (CPU time).

Generated mentions (benchmarks/corpus.py, seed 11: no scorer was trained or tuned on them), scored in
chunks as the score stage sends them (language tags as the sources give them); each timing is the best of
three, with the tone rules' per-text cache emptied before each (every text is new to a pass). Prints the
fast scorer (CascadeScorer.score_many without the second look), deciding which routed mentions need e5
(could_change) and raw vaderSentiment, in µs of CPU per text (process time: less swayed by other
processes on a shared machine than wall time).

Run:  nice -n 19 .venv/bin/python -m benchmarks.scorer_parts [--mentions 2000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import CONFIG, generate


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=2000)
    args = parser.parse_args(argv)
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from listener.config import load_config
    from listener.scoring import CHUNK, HIGH_REACH_FOLLOWERS, build_scorer
    from sentiment.tone import tone_of

    rows = [r for r in generate(args.mentions, seed=11) if "text" in r]
    texts = [(r["title"] + "\n" + r["text"]) if r.get("title") else r["text"] for r in rows]
    langs = [r.get("lang") for r in rows]
    priority = [(r.get("followers") or 0) >= HIGH_REACH_FOLLOWERS for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "overheard.toml"
        path.write_text(CONFIG, encoding="utf-8")
        scorer = build_scorer(load_config(path, check_secrets=False))
    scorer.score_many(texts[:20], langs[:20], second_look=False)  # models loaded before timing
    vader = SentimentIntensityAnalyzer()
    best: dict[str, float] = {}
    routed = asked = 0
    for _ in range(3):
        tone_of.cache_clear()
        t0 = time.process_time()
        for text in texts:
            vader.polarity_scores(text)
        spent = {"raw VADER": time.process_time() - t0, "fast scorer": 0.0, "could_change": 0.0}
        routed = asked = 0
        for i in range(0, len(texts), CHUNK):
            chunk, tags, prio = texts[i:i + CHUNK], langs[i:i + CHUNK], priority[i:i + CHUNK]
            t0 = time.process_time()
            fast = scorer.score_many(chunk, tags, priority=prio, second_look=False)
            spent["fast scorer"] += time.process_time() - t0
            route = scorer.routed(chunk, fast, prio)
            t0 = time.process_time()
            asked += len(scorer.could_change(chunk, fast, route))
            spent["could_change"] += time.process_time() - t0
            routed += len(route)
        for name, seconds in spent.items():
            best[name] = min(best.get(name, seconds), seconds)
    per = {name: seconds / len(texts) * 1e6 for name, seconds in best.items()}
    print(f"default scorer's parts on {len(texts):,} generated mentions (CPU time, best of 3; load average "
          f"{os.getloadavg()[0]:.1f} at the end)")
    for name, micros in per.items():
        print(f"  {name:<13} {micros:7.1f} µs per text  ({micros / per['raw VADER']:.2f}x raw VADER's time)")
    print(f"  routed to the second look: {routed:,}; of those, could change with e5: {asked:,}")
    print("  rerun: nice -n 19 .venv/bin/python -m benchmarks.scorer_parts --mentions", args.mentions)
    return per


if __name__ == "__main__":
    main()
