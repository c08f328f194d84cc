"""Jetstream matching: can one core keep up with every new post on Bluesky? (target >= 2,000 events/s)

The network averages about 25 posts/s and peaks far higher; the stream reads them all and matches each
against the brand queries locally (listener.query), so this is the stream's cost per event.

Events are Jetstream commit frames (JSON text, as they arrive on the socket) made from the benchmark
corpus (benchmarks/corpus.py, generated, never used for tuning) with the brand names replaced by other
words in all but `--mention-share` of them (default 1 %: most of the network is not about you).
Measured on one thread, in this process:
- "stream path": JetstreamStream.handle for every frame: JSON decode, filter, match, build the mention
  for hits, batch them with the cursor and commit to a real SQLite store (as the daemon does);
- "match only": BrandMatcher.matches on the post texts;
- reference: json.loads of the same frames (the floor of any JSON stream reader).
Then the same config with 30 tracked names (10 brands with competitors' worth of rules).

Run:  nice -n 19 .venv/bin/python -m benchmarks.jetstream_matching [--events 50000]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from pathlib import Path

from benchmarks.corpus import BRANDS, COMPETITORS, CONFIG, generate
from benchmarks.machine import machine

FILLER = ["the cafe", "my cat", "this album", "the match", "our garden", "the bus", "that show", "my bike"]


def frames(n: int, mention_share: float, seed: int = 11) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    names = [b[0] for b in BRANDS] + [b[1].lstrip("@") for b in BRANDS] + COMPETITORS + ["Northwind"]
    pattern = re.compile("|".join(re.escape(x) for x in sorted(names, key=len, reverse=True)), re.I)
    out, texts = [], []
    t = 1_764_000_000_000_000
    for i, row in enumerate(r for r in generate(n * 2, seed=seed) if "text" in r):
        if len(out) == n:
            break
        text = row["text"]
        if rng.random() >= mention_share:
            text = pattern.sub(lambda _m: rng.choice(FILLER), text)
        t += rng.randrange(5_000, 80_000)
        out.append(json.dumps({"did": f"did:plc:{row['author_id']:0>24}", "time_us": t, "kind": "commit",
                               "commit": {"rev": f"3l{i}", "operation": "create", "collection": "app.bsky.feed.post",
                                          "rkey": f"3k{i:08d}", "cid": f"bafyrei{i:x}",
                                          "record": {"$type": "app.bsky.feed.post", "text": text,
                                                     "createdAt": row["created_at"], "langs": ["en"]}}}))
        texts.append(text)
    return out, texts


def _config(folder: Path, extra_brands: int) -> object:
    from listener.config import load_config

    text = CONFIG
    for k in range(extra_brands):
        text += f'\n[[competitors]]\nname = "Rival{k}"\nkeywords = ["Rival{k}", "Rival {k} Mobile"]\n'
    text += f'\n[store]\npath = "{folder / "bench.db"}"\n\n[streams.jetstream]\nurl = "ws://127.0.0.1:1/subscribe"\n'
    (folder / "overheard.toml").write_text(text, encoding="utf-8")
    return load_config(folder / "overheard.toml")


def measure(events: int, mention_share: float, extra_brands: int) -> dict:
    from listener.query import BrandMatcher
    from listener.store import Store
    from listener.streams.base import Buffer
    from listener.streams.jetstream import JetstreamStream

    data, texts = frames(events, mention_share)
    with tempfile.TemporaryDirectory(prefix="overheard-jet-") as tmp:
        config = _config(Path(tmp), extra_brands)
        tracked = len(config.all_tracked())  # type: ignore[attr-defined]
        stream = JetstreamStream(config.streams.jetstream, config)  # type: ignore[attr-defined]
        store = Store(config.db_path)  # type: ignore[attr-defined]
        buffer = Buffer(stream, store, lambda n: None)
        t0 = time.perf_counter()
        for frame in data:
            stream.handle(frame, buffer)
        buffer.flush()
        stream_s = time.perf_counter() - t0
        stored = store.scalar("SELECT COUNT(*) FROM mentions")
        store.close()
    matcher = BrandMatcher(config.all_tracked())  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    hits = sum(1 for text in texts if matcher.matches(text))
    match_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for frame in data:
        json.loads(frame)
    json_s = time.perf_counter() - t0
    return {"events": len(data), "tracked": tracked, "stored": stored, "hits": hits,
            "stream_rate": len(data) / stream_s, "match_rate": len(data) / match_s, "json_rate": len(data) / json_s}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--mention-share", type=float, default=0.01)
    args = parser.parse_args(argv)
    figs = [measure(args.events, args.mention_share, extra) for extra in (0, 24)]
    for fig in figs:
        verdict = "ok" if fig["stream_rate"] >= 2000 else "BELOW TARGET"
        print(f"jetstream matching, {fig['tracked']} tracked names, {fig['events']:,} events "
              f"({fig['hits']:,} mention a tracked name, {fig['stored']:,} stored):", flush=True)
        print(f"  stream path (decode, match, build, batch, commit): {fig['stream_rate']:,.0f} events/s "
              f"(target >= 2,000: {verdict})")
        print(f"  match only (BrandMatcher): {fig['match_rate']:,.0f} texts/s   "
              f"reference json.loads: {fig['json_rate']:,.0f} frames/s")
    print("  one thread; " + machine())
    print(f"  rerun: nice -n 19 .venv/bin/python -m benchmarks.jetstream_matching --events {args.events}")
    return figs


if __name__ == "__main__":
    main()
