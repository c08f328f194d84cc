"""What every benchmark prints about where it ran, and small timing helpers."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_LOAD_AT_IMPORT = os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def machine() -> str:
    """One line: CPUs, model, Python, OS, and how busy the machine was (others may share it)."""
    load = f", load average {_LOAD_AT_IMPORT:.1f} at the start" if _LOAD_AT_IMPORT is not None else ""
    return (f"machine: {usable_cpus()} CPUs ({cpu_model()}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}{load}")


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM) in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100), nearest-rank on the sorted values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def timings_ms(func: Callable[[], object], runs: int, warmup: int = 2) -> list[float]:
    """Wall time of `runs` calls in ms, after `warmup` untimed calls (caches warm, as in use)."""
    for _ in range(warmup):
        func()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        func()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary_ms(values: list[float]) -> str:
    return (f"p50 {statistics.median(values):7.1f} ms  p95 {percentile(values, 95):7.1f} ms  "
            f"max {max(values):7.1f} ms  (n={len(values)})")
