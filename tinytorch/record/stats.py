"""Gradient statistics cheap enough for every step, and the rules that raise health alerts.

Exact: norm, max |g|, mean, std (a BLAS dot and three reductions, one pass each). From an evenly spaced sample
of at most SAMPLE elements (exact for smaller tensors): the fraction of zeros and the 32-bin
histogram; a full count would cost more than the training step it describes.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from typing import Any

import numpy as np

from ..runs.schema import npy_bytes

SAMPLE = 4096
BINS = 32


def grad_stats(g: np.ndarray) -> dict[str, Any]:
    """Statistics of one gradient array."""
    flat = g.reshape(-1)
    n = flat.size
    if n == 0:
        return dict(norm=0.0, max_abs=0.0, mean=0.0, std=0.0, zero_frac=0.0, nonfinite=False, hist=None, lo=None, hi=None)
    sq, total, hi, lo = _sums(flat)
    nonfinite = False
    if not math.isfinite(sq):  # NaN/Inf in g, or finite values whose squares overflow float32
        nonfinite = not bool(np.isfinite(flat).all())
        if not nonfinite:
            wide = flat.astype(np.float64)
            sq = float(np.dot(wide, wide))
    mean = total / n
    sample = flat[:: max(1, n // SAMPLE)]
    zero_frac = float(np.count_nonzero(sample == 0)) / sample.size
    finite = (sample[np.isfinite(sample)] if nonfinite else sample).astype(np.float64)
    counts, edges = _histogram(finite)
    return dict(
        norm=math.sqrt(sq) if math.isfinite(sq) else sq,
        max_abs=max(abs(hi), abs(lo)),
        mean=mean,
        std=math.sqrt(max(sq / n - mean * mean, 0.0)) if math.isfinite(sq) else float("nan"),
        zero_frac=zero_frac,
        nonfinite=nonfinite,
        hist=npy_bytes(counts.astype(np.int32)),  # bytes: the recorder holds no arrays between steps
        lo=float(edges[0]),
        hi=float(edges[-1]),
    )


def _sums(flat: np.ndarray) -> tuple[float, float, float, float]:
    """(sum of squares, sum, max, min) of a 1-D array: a BLAS dot and three SIMD reductions.

    The sum is einsum's, whose several accumulators make it 5x quicker than ndarray.sum's
    pairwise loop. (Taking a big gradient in cache-sized chunks, to read it from memory once,
    measured no quicker: these passes run at cache speed already.)"""
    if flat.dtype.kind != "f":
        flat = flat.astype(np.float64)
    if flat.dtype == np.float16:  # no float16 BLAS or SIMD sum: widen (a float16 step is slow anyway)
        flat = flat.astype(np.float32)
        return float(np.dot(flat, flat)), float(flat.sum(dtype=np.float64)), float(flat.max()), float(flat.min())
    return float(np.dot(flat, flat)), float(np.einsum("i->", flat)), float(flat.max()), float(flat.min())


def _histogram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BINS equal bins over the values' range (a unit range around them when all are equal), as
    np.histogram bins them (the last bin closed), by one scaled floor and a bincount: np.histogram
    itself costs ~0.1 ms even on a few values, which every parameter of every step would pay.

    Binned after scaling by the largest magnitude, so even a range near float64's limit works."""
    if values.size == 0:
        return np.zeros(BINS, np.int64), np.zeros(BINS + 1)
    scale = float(np.abs(values).max()) or 1.0
    scaled = values / scale
    lo, hi = float(scaled.min()), float(scaled.max())
    if not hi - lo > 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    index = ((scaled - lo) * (BINS / (hi - lo))).astype(np.int64)
    np.clip(index, 0, BINS - 1, out=index)  # the maximum lands in the last bin, closed as np.histogram's
    return np.bincount(index, minlength=BINS), np.linspace(lo, hi, BINS + 1) * scale


class GradientHealth:
    """Alerts, each once per episode (when its condition starts to hold) for a parameter:

    - nonfinite: the gradient holds NaN or Inf;
    - vanishing: its norm is below `vanish_ratio` x the median parameter's norm at that step;
    - exploding: its norm is above `bound`, or more than `factor` x its median over the last
      `window` steps while above the median parameter's norm.
    """

    def __init__(self, vanish_ratio: float = 1e-3, factor: float = 10.0, window: int = 5, bound: float = 1e3) -> None:
        self.vanish_ratio, self.factor, self.window, self.bound = vanish_ratio, factor, window, bound
        self.history: dict[str, deque] = defaultdict(lambda: deque(maxlen=window))
        self.active: set[tuple[str, str]] = set()

    def check(self, step: int, norms: dict[str, float], nonfinite: dict[str, bool]) -> list[dict[str, Any]]:
        finite = [v for v in norms.values() if math.isfinite(v)]
        median = float(np.median(finite)) if finite else float("nan")
        alerts = []
        for name, norm in norms.items():
            recent = [v for v in self.history[name] if math.isfinite(v) and v > 0]
            firing = {}
            if nonfinite.get(name) or not math.isfinite(norm):
                firing["nonfinite"] = ("gradient contains NaN or Inf", f"the gradient of {name} holds NaN or Inf at step {step}")
            elif 0 < median <= self.bound and norm < self.vanish_ratio * median:  # (not while everything explodes)
                firing["vanishing"] = (
                    f"|g| < {self.vanish_ratio:g} x median |g| of all parameters",
                    f"{name}: |g| = {norm:.3g} is below {self.vanish_ratio:g} x the median {median:.3g} at step {step}",
                )
            elif norm > self.bound:
                firing["exploding"] = (f"|g| > {self.bound:g}", f"{name}: |g| = {norm:.3g} exceeds {self.bound:g} at step {step}")
            elif len(recent) >= 2 and norm > self.factor * float(np.median(recent)) and norm > median:
                # against the recent median (one dip near zero is not a baseline), and only for a
                # gradient that is also large among the layers now (a rebound from tiny is not an explosion)
                base = float(np.median(recent))
                firing["exploding"] = (
                    f"|g| grew more than {self.factor:g}x its median over the last {self.window} steps",
                    f"{name}: |g| = {norm:.3g} is {norm / base:.3g}x its recent median ({base:.3g}) at step {step}",
                )
            for kind, (rule, message) in firing.items():
                if (name, kind) not in self.active:
                    alerts.append(
                        dict(
                            step=step, kind=kind, rule=rule, param=name, message=message, details={"norm": norm, "median": median}
                        )
                    )
            self.active = {a for a in self.active if a[0] != name} | {(name, k) for k in firing}
            self.history[name].append(norm)
        return alerts
