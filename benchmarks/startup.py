"""How fast the CLI answers: wall time of quick commands against `python -c pass` (the same interpreter).

`python -m benchmarks.startup [--runs N]`. Each command runs N times as its own process (the way a user
types it) on a demo workspace made first; the figure is the median, and the ratio is to the median of
`python -c pass`, Python's own start-up. Target: --help and --version at most 3x Python's start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import machine

# (label, arguments after `overheard`, needs the demo workspace's config)
COMMANDS: list[tuple[str, list[str], bool]] = [
    ("overheard --help", ["--help"], False),
    ("overheard --version", ["--version"], False),
    ("overheard queue --help", ["queue", "--help"], False),
    ("overheard queue list", ["queue", "list"], True),
    ("overheard queue stats", ["queue", "stats"], True),
    ("overheard status", ["status"], True),
    ("overheard alerts list", ["alerts", "list"], True),
]
TARGET_RATIO = 3.0


def _entry() -> list[str]:
    script = Path(sys.executable).parent / "overheard"
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "from listener.cli import main; main()"]


def _time(argv: list[str], runs: int, env: dict[str, str], cwd: Path) -> float:
    """Median wall seconds of `runs` runs (one warm-up run first, so the .pyc files exist)."""
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (median reported)")
    args = parser.parse_args(argv)
    print(machine(), flush=True)
    env = {**os.environ, "COLUMNS": "100"}
    env.pop("OVERHEARD_CONFIG", None)
    figures: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        subprocess.run([*_entry(), "demo", "--workspace", str(ws)], check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = _time([sys.executable, "-c", "pass"], args.runs, env, ws)
        print(f"python -c pass: {base * 1000:.0f} ms (median of {args.runs})")
        print(f"{'command':<28} {'median':>9} {'x python':>9}")
        for label, rest, needs_config in COMMANDS:
            extra = ["--config", str(ws / "overheard.toml")] if needs_config else []
            seconds = _time([*_entry(), *rest, *extra], args.runs, env, ws)
            figures[label] = (seconds, seconds / base)
            print(f"{label:<28} {seconds * 1000:>7.0f} ms {seconds / base:>8.1f}x", flush=True)
    worst = max(figures["overheard --help"][1], figures["overheard --version"][1])
    print(f"--help/--version: at most {worst:.1f}x python's start (target <= {TARGET_RATIO:.0f}x): "
          + ("met" if worst <= TARGET_RATIO else "missed"))
    return figures


if __name__ == "__main__":
    main()
