"""Shared by the benchmarks: thread pinning and timing variants in alternating rounds.

Timings on shared machines are noisy, so variants run in alternating rounds in one process
and each round gives a ratio; we report the median ratio and the spread over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable


def pin_threads(threads: int) -> None:
    """Same BLAS/OpenMP thread count for NumPy and PyTorch; call before importing numpy."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads for both frameworks")
    p.add_argument("--rounds", type=int, default=7, help="alternating rounds")
    p.add_argument("--steps", type=int, default=10, help="timed calls per variant per round")
    p.add_argument("--json", help="also write the results to this JSON file")
    return p


def alternate(variants: dict[str, Callable[[], None]], rounds: int, steps: int, warmup: int = 2) -> dict[str, list[float]]:
    """Seconds per call of each variant, one entry per round; variants interleave round by round."""
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            times[name].append((time.perf_counter() - start) / steps)
    return times


def ratio_summary(times: dict[str, list[float]], ours: str, baseline: str) -> dict[str, float]:
    """Throughput ratio ours/baseline per round (= baseline time / our time): median and spread."""
    ratios = [b / o for o, b in zip(times[ours], times[baseline])]
    return {
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        f"{ours}_ms_median": 1e3 * statistics.median(times[ours]),
        f"{baseline}_ms_median": 1e3 * statistics.median(times[baseline]),
    }


def write_json(path: str | None, results: dict) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(results, f, indent=2)
