"""Shared by the benchmarks: thread pinning and timing variants in alternating rounds.

Timings on shared machines are noisy, so variants run in alternating rounds in one process
(tinytorch.perf.compare) and each round gives a ratio; we report the median ratio and the
spread over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any


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


def alternate(variants: dict[str, Callable[[], None]], rounds: int, steps: int, baseline: str = "torch") -> Any:
    """Time the variants in alternating rounds (tinytorch.perf.compare): steps calls per round."""
    from tinytorch.perf import compare  # imported late: numpy must see the thread settings first

    return compare(variants, baseline=baseline, rounds=rounds, number=steps)


def ratio_summary(report: Any, ours: str, baseline: str) -> dict[str, float]:
    """Throughput ratio ours/baseline per round (= baseline time / our time): median and spread."""
    ratio = report[ours].ratio
    return {
        "ratio_median": ratio.median,
        "ratio_min": min(ratio.samples),
        "ratio_max": max(ratio.samples),
        f"{ours}_ms_median": 1e3 * report[ours].time.median,
        f"{baseline}_ms_median": 1e3 * report[baseline].time.median,
    }


def write_json(path: str | None, results: dict) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(results, f, indent=2)
