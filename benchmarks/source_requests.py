"""Request budget of the X and Reddit collectors, measured against the fake APIs on 127.0.0.1.

Counts the HTTP requests each run really makes (the fakes log every request) with the example
config's shape: one brand with two handles and one competitor; Reddit also searches one subreddit
and reads one community. Three runs each: a first run on a busy day, a quiet follow-up run, and a
follow-up after a burst of new posts.

Rerun:  .venv/bin/python -m benchmarks.source_requests
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from listener.collect import collect_source
from listener.sources.reddit import RedditSource
from listener.sources.x import XSource
from listener.store import Store
from tests.fakes.appconfig import BRIGHTWAVE, LUMACELL, app_config
from tests.fakes.reddit import FakeReddit
from tests.fakes.x_api import FakeXApi

BRAND = {**BRIGHTWAVE, "handles": ["@Brightwave", "@BrightwaveHelp"]}


def x_runs(folder: Path) -> list[tuple[str, Counter, int]]:
    os.environ["X_BEARER_TOKEN"] = "tok"
    out = []
    with FakeXApi(tokens={"tok"}) as fake:
        fake.add_user("Brightwave")
        fake.add_user("BrightwaveHelp")
        now = datetime.now(UTC)

        def burst(n: int, since: timedelta) -> None:
            for i in range(n):
                at = now - since + since * i / n
                fake.add_tweet(f"Brightwave @BrightwaveHelp outage {i}", f"u{i % 97}", created_at=at)
                if i % 3 == 0:
                    fake.add_tweet(f"Lumacell deal {i}", f"c{i % 53}", created_at=at)

        config = app_config(folder, {"x": {"api_url": fake.base_url, "retry_backoff_seconds": 0}},
                            brands=[BRAND], competitors=[LUMACELL])
        source = XSource(config.sources["x"], config)
        with Store(folder / "x.db") as store:
            first = "first run, 300 brand posts in the last day"
            for label, setup in ((first, lambda: burst(300, timedelta(hours=20))),
                                 ("next run, nothing new", lambda: None),
                                 ("next run, 40 new brand posts", lambda: None)):
                setup()
                if label.endswith("40 new brand posts"):
                    now = datetime.now(UTC)
                    for i in range(40):
                        fake.add_tweet(f"Brightwave again {i}", f"n{i}", created_at=now - timedelta(seconds=40 - i))
                before = len(fake.served("/2/"))
                result, _ = collect_source(store, source)
                served = fake.served("/2/")[before:]
                out.append((label, Counter(_x_kind(r.path) for r in served), result.fetched))
    return out


def _x_kind(path: str) -> str:
    return "search" if "search" in path else "mentions" if "mentions" in path else "user lookup"


def reddit_runs(folder: Path) -> list[tuple[str, Counter, int]]:
    os.environ["REDDIT_CLIENT_ID"], os.environ["REDDIT_CLIENT_SECRET"] = "cid", "sec"
    out = []
    with FakeReddit("cid", "sec") as fake:
        fake.add_subreddit("brightwave", subscribers=40_000)
        fake.add_subreddit("techsupport", subscribers=900_000)
        section = {"oauth_url": fake.base_url, "reddit_url": fake.base_url, "subreddits": ["techsupport"],
                   "communities": {"Brightwave": ["brightwave"]}, "retry_backoff_seconds": 0,
                   "user_agent": "python:overheard-bench:0.1 (by /u/overheard)"}
        config = app_config(folder, {"reddit": section}, brands=[BRAND], competitors=[LUMACELL])

        def burst(n: int, span: float) -> None:
            start = time.time() - span
            for i in range(n):
                post = fake.add_post("techsupport" if i % 2 else "brightwave", f"Brightwave issue {i}",
                                     "help", author=f"u{i % 61}", created_utc=start + span * i / n)
                fake.add_comment(post, f"Brightwave did this to me too {i}", author=f"k{i % 37}",
                                 created_utc=start + span * i / n + 1)

        with Store(folder / "reddit.db") as store:
            for label, n, span in (("first run, 300 posts + 300 comments in the last day", 300, 20 * 3600),
                                   ("next run, nothing new", 0, 0),
                                   ("next run, 40 new posts + 40 comments", 40, 60)):
                if n:
                    burst(n, span)
                source = RedditSource(config.sources["reddit"], config)  # a fresh client per run, like the daemon
                before = len(fake.requests)
                result, _ = collect_source(store, source)
                served = fake.requests[before:]
                out.append((label, Counter(_reddit_kind(r.path) for r in served), result.fetched))
    return out


def _reddit_kind(path: str) -> str:
    for key, name in (("access_token", "token"), ("/search", "search"), ("/comments", "comments"),
                      ("/r/", "subreddit about"), ("/user/", "author karma")):
        if key in path:
            return name
    return path


def main() -> None:
    print(f"machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print("rerun:   .venv/bin/python -m benchmarks.source_requests\n")
    with tempfile.TemporaryDirectory() as tmp:
        for name, runs, defaults in (
            ("X", x_runs(Path(tmp) / "x"), "max_pages=5, max_results=100, mentions_timeline on"),
            ("Reddit", reddit_runs(Path(tmp) / "r"), "max_pages=3 of 100, author_karma_lookups=10"),
        ):
            print(f"{name} (defaults: {defaults})")
            for label, kinds, fetched in runs:
                detail = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
                print(f"  {label:<52} {sum(kinds.values()):>3} requests ({detail}); {fetched} items fetched")
            print()


if __name__ == "__main__":
    main()
