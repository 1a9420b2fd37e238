"""Benchmarking that never reports a number it did not measure: warm-up, repeats, median and
interquartile range (a bootstrap confidence interval on request), and variants timed in
alternating rounds in one process, so a ratio between them survives a noisy machine."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class Timing:
    """Seconds per call over the rounds."""

    samples: list[float]
    median: float = 0.0
    q1: float = 0.0
    q3: float = 0.0
    ci: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        self.q1, self.median, self.q3 = (float(v) for v in np.percentile(self.samples, [25, 50, 75]))

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


@dataclass
class Result:
    name: str
    time: Timing
    ratio: Timing | None = None  # throughput against the baseline, per round: baseline time / this time
    metrics: dict[str, float] = field(default_factory=dict)  # only what an evaluate function measured


@dataclass
class Report:
    results: list[Result]
    baseline: str | None
    rounds: int
    number: int

    def __getitem__(self, name: str) -> Result:
        return next(r for r in self.results if r.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "rounds": self.rounds,
            "number": self.number,
            "results": [asdict(r) for r in self.results],
        }

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=2)

    def text(self) -> str:
        lines = []
        for r in self.results:
            t = r.time
            line = f"{r.name:24s} {1e3 * t.median:10.3f} ms (IQR {1e3 * t.iqr:.3f} ms"
            line += f"; 95% CI {1e3 * t.ci[0]:.3f}-{1e3 * t.ci[1]:.3f} ms)" if t.ci else ")"
            if r.ratio is not None:
                line += f"  {r.ratio.median:.2f}x {self.baseline}'s throughput (rounds {min(r.ratio.samples):.2f}-{max(r.ratio.samples):.2f})"
            line += "".join(f"  {k} {v:.4g}" for k, v in r.metrics.items())
            lines.append(line)
        return "\n".join(lines)


def bootstrap_ci(samples: list[float], level: float = 0.95, draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval for the median."""
    rng = np.random.default_rng(seed)
    data = np.asarray(samples)
    medians = np.median(rng.choice(data, size=(draws, len(data)), replace=True), axis=1)
    lo, hi = np.percentile(medians, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def compare(variants: dict[str, Callable[[], Any]], baseline: str | None = None, rounds: int = 7, number: int = 1,
            warmup: int = 2, ci: float | None = None, evaluate: dict[str, Callable[[], dict[str, float]]] | None = None) -> Report:  # fmt: skip
    """Time each variant `number` calls per round, variants interleaved round by round.

    baseline: the variant the others' throughput ratios are against. evaluate: per variant, a
    function returning measured metrics (e.g. {"accuracy": ...}); a variant without one gets none."""
    if baseline is not None and baseline not in variants:
        raise KeyError(f"baseline {baseline!r} is not one of the variants {list(variants)}")
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants.items())
    for r in range(rounds):
        for name, fn in order if r % 2 == 0 else order[::-1]:  # going first is no advantage: alternate it
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number)
    results = []
    for name, times in samples.items():
        timing = Timing(times, ci=bootstrap_ci(times, ci) if ci else None)
        ratio = Timing([b / t for b, t in zip(samples[baseline], times)]) if baseline is not None and name != baseline else None
        metrics = (evaluate or {}).get(name, lambda: {})()
        results.append(Result(name, timing, ratio, dict(metrics)))
    return Report(results, baseline, rounds, number)


def measure(fn: Callable[[], Any], rounds: int = 7, number: int = 1, warmup: int = 2, ci: float | None = None) -> Timing:
    """Seconds per call of one function (median, IQR, optional CI)."""
    return compare({"fn": fn}, rounds=rounds, number=number, warmup=warmup, ci=ci)["fn"].time


def median(values: list[float]) -> float:
    return statistics.median(values)
