"""Alert latency: from the moment the X collector received a negative burst to Slack's receipt.

A fake X API (tests/fakes/x_api.py, answering like API v2) and a fake Slack (tests/fakes_slack)
run in this process on 127.0.0.1; the real daemon (`overheard run`) runs as a child process with
the real X source (tweepy) and the real Slack webhook channel (slack_sdk), polling X every second
or so. Each burst is a new thread of angry posts from well-followed accounts. The clock starts
when the fake X answered the request that carried the burst (so the polling interval is not
counted) and stops when the Slack message about that thread arrived.

The stream case does the same with a fake Bluesky Jetstream (tests/fakes_streams/jetstream.py, a
websocket sending Jetstream commit events) and `[streams.jetstream]`: the clock starts when the fake
sent the burst's last post on the websocket and stops when Slack received the alert. Both cases run
in one invocation and are printed side by side.

Run:  .venv/bin/python -m benchmarks.latency [--bursts 20] [--only polling|stream]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.machine import machine, percentile

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-bearer-token"
ANGRY = [
    "@BrightwaveHelp Brightwave charged me twice, I want a refund or it's a chargeback",
    "Same here, Brightwave is a scam, cancelling today and switching to Lumacell",
    "Brightwave awful, never again, nobody answers",
    "Brightwave outage again, terrible service, I'm furious",
]
CONFIG = """\
[[brands]]
name = "Brightwave"
keywords = ["Brightwave"]
handles = ["@BrightwaveHelp"]
competitors = ["Lumacell"]

[[competitors]]
name = "Lumacell"
keywords = ["Lumacell"]

[store]
path = "bench.db"

[sources.x]
interval_minutes = {interval_minutes}
api_url = "{x_url}"
first_run_hours = 1
mentions_timeline = false
include_brand_replies = false
competitors = false
max_retries = 0

[daemon]
process_seconds = 5
jitter_fraction = 0

[alerts.spikes]
enabled = false

[[alerts.receivers]]
name = "social-slack"
type = "slack_webhook"
url_env = "BENCH_SLACK_WEBHOOK_URL"
"""


@dataclass
class Stamps:
    """When each burst (by its root post id) left the fake X and reached the fake Slack."""

    fetched: dict[int, float] = field(default_factory=dict)
    delivered: dict[int, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _fakes(stamps: Stamps, watch: list[tuple[int, int]]):
    sys.path.insert(0, str(ROOT))
    from tests.fakes.x_api import FakeXApi
    from tests.fakes_slack.server import FakeSlack

    class StampedX(FakeXApi):
        def handle(self, req):  # type: ignore[no-untyped-def]
            reply = super().handle(req)
            now = time.monotonic()
            body = reply.body if isinstance(reply.body, (str, bytes)) else json.dumps(reply.body)
            body = body.decode() if isinstance(body, bytes) else body
            with stamps.lock:
                for root, last in watch:
                    if root not in stamps.fetched and f'"{last}"' in body:
                        stamps.fetched[root] = now
            return reply

    class StampedSlack(FakeSlack):
        def answer(self, req):  # type: ignore[no-untyped-def]
            now = time.monotonic()
            body = req.body.decode("utf-8", "replace")
            with stamps.lock:
                for root, _last in watch:
                    if root not in stamps.delivered and str(root) in body:
                        stamps.delivered[root] = now
            return super().answer(req)

    return StampedX(tokens={TOKEN}, rate_limit=1_000_000).start(), StampedSlack().start()


def measure(bursts: int, folder: Path, interval_s: float = 1.0, timeout_s: float = 60.0) -> dict:
    stamps, watch = Stamps(), []  # watch: (root post id, last post id) per burst
    x, slack = _fakes(stamps, watch)
    (folder / "overheard.toml").write_text(
        CONFIG.format(interval_minutes=interval_s / 60, x_url=x.base_url), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "X_BEARER_TOKEN": TOKEN,
           "BENCH_SLACK_WEBHOOK_URL": slack.webhook_url, "PYTHONUNBUFFERED": "1"}
    log = open(folder / "daemon.log", "wb")
    daemon = subprocess.Popen([sys.executable, "-c", "from listener.cli import main; main()", "run",
                               "--config", str(folder / "overheard.toml")],
                              stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env)
    missed = 0
    try:
        _wait(lambda: len(x.served("/2/tweets/search/recent")) >= 2, timeout_s, "the daemon's first X polls", daemon)
        for b in range(bursts):
            users = [x.add_user(f"burst{b}_{i}", followers=40_000 + 1000 * i) for i in range(len(ANGRY))]
            with x.lock:  # the whole burst appears at once: no poll sees half of it
                root = last = x.add_tweet(ANGRY[0], users[0])
                for text, user in zip(ANGRY[1:], users[1:], strict=True):
                    last = x.add_tweet(text, user, reply_to=root)
                with stamps.lock:
                    watch.append((root, last))
            try:
                _wait(lambda r=root: r in stamps.delivered, timeout_s, f"the Slack alert for burst {b}", daemon)
                time.sleep(0.3)  # let the daemon settle before the next burst, as bursts are rare
            except TimeoutError:
                missed += 1
    finally:
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
        x.stop()
        slack.stop()
    ms = [(stamps.delivered[r] - stamps.fetched[r]) * 1000 for r, _ in watch
          if r in stamps.delivered and r in stamps.fetched]
    return {"bursts": bursts, "measured": len(ms), "missed": missed, "ms": ms, "interval_s": interval_s,
            "log": (folder / "daemon.log").read_text(errors="replace")[-3000:] if not ms else ""}


STREAM_CONFIG = """\
[[brands]]
name = "Brightwave"
keywords = ["Brightwave"]
handles = ["@BrightwaveHelp"]
competitors = ["Lumacell"]

[[competitors]]
name = "Lumacell"
keywords = ["Lumacell"]

[store]
path = "bench.db"

[streams.jetstream]
url = "{jet_url}"

[daemon]
process_seconds = 30

[alerts.spikes]
enabled = false

[[alerts.receivers]]
name = "social-slack"
type = "slack_webhook"
url_env = "BENCH_SLACK_WEBHOOK_URL"
"""


def measure_stream(bursts: int, folder: Path, timeout_s: float = 60.0) -> dict:
    """Post emitted on the fake Jetstream -> Slack received, through `overheard run` with [streams.jetstream]."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes_slack.server import FakeSlack
    from tests.fakes_streams.jetstream import FakeJetstream

    emitted: dict[str, float] = {}
    delivered: dict[str, float] = {}
    lock = threading.Lock()

    class StampedSlack(FakeSlack):
        def answer(self, req):  # type: ignore[no-untyped-def]
            now = time.monotonic()
            body = req.body.decode("utf-8", "replace")
            with lock:
                for rkey in emitted:
                    if rkey not in delivered and rkey in body:
                        delivered[rkey] = now
            return super().answer(req)

    jet, slack = FakeJetstream().start(), StampedSlack().start()
    (folder / "overheard.toml").write_text(STREAM_CONFIG.format(jet_url=jet.url), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_SLACK_WEBHOOK_URL": slack.webhook_url,
           "PYTHONUNBUFFERED": "1"}
    log = open(folder / "daemon.log", "wb")
    daemon = subprocess.Popen([sys.executable, "-c", "from listener.cli import main; main()", "run",
                               "--config", str(folder / "overheard.toml")],
                              stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env)
    missed = 0
    ms: list[float] = []
    try:
        _wait(lambda: jet.connections, timeout_s, "the daemon's Jetstream connection", daemon)
        for b in range(bursts):
            rkey = f"3kburst{b:04d}root"
            root = jet.post(ANGRY[0], did=f"did:plc:burst{b}a", rkey=rkey)
            uri = f"at://did:plc:burst{b}a/app.bsky.feed.post/{rkey}"
            last = root
            for i, text in enumerate(ANGRY[1:], 1):
                last = jet.post(text, did=f"did:plc:burst{b}u{i}", reply_root=uri)
            with lock:
                emitted[rkey] = 0.0
            try:
                _wait(lambda r=rkey: r in delivered, timeout_s, f"the Slack alert for burst {b}", daemon)
                ms.append((delivered[rkey] - jet.sent_at[last["time_us"]]) * 1000)
                time.sleep(0.3)
            except TimeoutError:
                missed += 1
    finally:
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
        jet.stop()
        slack.stop()
    return {"bursts": bursts, "measured": len(ms), "missed": missed, "ms": ms,
            "log": (folder / "daemon.log").read_text(errors="replace")[-3000:] if not ms else ""}


def report_stream(fig: dict) -> list[str]:
    ms = fig["ms"]
    if not ms:
        return [f"stream latency: no burst reached Slack ({fig['missed']} missed); daemon log tail:", fig["log"]]
    return [
        f"stream latency: {fig['measured']} negative bursts on Bluesky Jetstream (websocket), {fig['missed']} missed",
        f"  fake Jetstream sent the burst's last post -> Slack received the alert: p50 {percentile(ms, 50):.0f} ms  "
        f"p95 {percentile(ms, 95):.0f} ms  max {max(ms):.0f} ms (target p95 <= 3000 ms)",
    ]


def _wait(check, timeout: float, what: str, proc: subprocess.Popen) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            raise RuntimeError(f"the daemon exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.005)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def report(fig: dict, rerun: str) -> list[str]:
    ms = fig["ms"]
    if not ms:
        return [f"alert latency: no burst reached Slack ({fig['missed']} missed); daemon log tail:", fig["log"]]
    return [
        f"alert latency: {fig['measured']} negative bursts (4 angry posts in a new thread each), "
        f"X polled every {fig['interval_s']:.0f} s, {fig['missed']} missed",
        f"  X answered the poll carrying the burst -> Slack received the alert: p50 {percentile(ms, 50):.0f} ms  "
        f"p95 {percentile(ms, 95):.0f} ms  max {max(ms):.0f} ms (target p95 <= 200 ms)",
        "  " + machine(),
        f"  rerun: {rerun}",
    ]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=20, help="negative bursts to time (default 20)")
    parser.add_argument("--full", action="store_true", help="100 bursts")
    parser.add_argument("--only", choices=["polling", "stream"], help="run one case only")
    args = parser.parse_args(argv)
    bursts = 100 if args.full else args.bursts
    fig: dict = {}
    if args.only != "stream":
        with tempfile.TemporaryDirectory(prefix="overheard-latency-") as tmp:
            fig = measure(bursts, Path(tmp))
    if args.only != "polling":
        with tempfile.TemporaryDirectory(prefix="overheard-latency-stream-") as tmp:
            fig["stream"] = measure_stream(bursts, Path(tmp))
    lines = report(fig, "") if args.only != "stream" else []
    lines = [ln for ln in lines if not ln.startswith("  rerun:") and not ln.startswith("  machine")]
    if "stream" in fig:
        lines += report_stream(fig["stream"])
    lines += ["  " + machine(), f"  rerun: .venv/bin/python -m benchmarks.latency --bursts {bursts}"]
    for line in lines:
        print(line, flush=True)
    return fig


if __name__ == "__main__":
    main()
