"""Gradient statistics exact enough to trust and cheap enough to take often, and the rules that
raise health alerts.

Every step: the norm and whether any element is NaN or Inf (one BLAS dot). The full set adds,
exactly, max |g|, mean and std (three more reductions, one pass each), and, from an evenly spaced
sample of at most SAMPLE elements (exact for smaller tensors), the fraction of zeros and the
32-bin histogram over the gradient's whole range; a full count would cost more than the training
step it describes.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict, deque
from typing import Any

import numpy as np

from ..runs.schema import npy_bytes

SAMPLE = 4096
BINS = 32
_NOT_TAKEN = dict(max_abs=None, mean=None, std=None, zero_frac=None, hist=None, lo=None, hi=None)  # a norms-only step
_EMPTY = dict(max_abs=0.0, mean=0.0, std=0.0, zero_frac=0.0, hist=None, lo=None, hi=None)  # a tensor with no elements


def grad_stats(g: np.ndarray, full: bool = True) -> dict[str, Any]:
    """Statistics of one gradient array: its norm and whether it holds NaN or Inf (one BLAS dot),
    and when `full` also max |g|, mean, std, fraction of zeros and histogram (None otherwise)."""
    flat = g.reshape(-1)
    n = flat.size
    if n == 0:
        return dict(norm=0.0, nonfinite=False, **(_EMPTY if full else _NOT_TAKEN))
    if flat.dtype.kind != "f" or flat.dtype == np.float16:  # no float16 BLAS or SIMD sum: widen
        flat = flat.astype(np.float32 if flat.dtype == np.float16 else np.float64)
    sq = float(np.dot(flat, flat))
    nonfinite = False
    if not math.isfinite(sq):  # NaN/Inf in g, or finite values whose squares overflow float32
        nonfinite = not bool(np.isfinite(flat).all())
        if not nonfinite:
            wide = flat.astype(np.float64)
            sq = float(np.dot(wide, wide))
    norm = math.sqrt(sq) if math.isfinite(sq) else sq
    if not full:
        return dict(norm=norm, nonfinite=nonfinite, **_NOT_TAKEN)
    total, hi, lo = float(np.einsum("i->", flat)), float(flat.max()), float(flat.min())  # (einsum: 5x ndarray.sum)
    mean, max_abs = total / n, max(abs(hi), abs(lo))
    sample = flat[:: max(1, n // SAMPLE)]
    zero_frac = float(np.count_nonzero(sample == 0)) / sample.size
    if nonfinite:  # the range of the finite values, from the sample
        sample = sample[np.isfinite(sample)]
        lo, hi = (float(sample.min()), float(sample.max())) if sample.size else (0.0, 0.0)
    counts, lo, hi = _histogram(sample, lo, hi)
    return dict(
        norm=norm,
        max_abs=max_abs,
        mean=mean,
        std=math.sqrt(max(sq / n - mean * mean, 0.0)) if math.isfinite(sq) else float("nan"),
        zero_frac=zero_frac,
        nonfinite=nonfinite,
        hist=npy_bytes(counts.astype(np.int32)),  # bytes: the recorder holds no arrays between steps
        lo=lo,
        hi=hi,
    )


def _histogram(values: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, float, float]:
    """BINS equal bins over [lo, hi] (the whole gradient's range, which holds the values; a unit
    range around them when lo == hi), as np.histogram bins them (the last bin closed): returns
    the counts and the range. By one scaled floor and a bincount: np.histogram itself costs
    ~0.1 ms even on a few values, which every parameter of every step would pay.

    Binned after scaling by the largest magnitude, so even a range near float64's limit works."""
    scale = max(abs(lo), abs(hi)) or 1.0
    lo_s, hi_s = lo / scale, hi / scale
    if not hi_s - lo_s > 1e-12:
        lo_s, hi_s = lo_s - 0.5, hi_s + 0.5
    scaled = values.astype(np.float64)
    scaled /= scale
    scaled -= lo_s
    scaled *= BINS / (hi_s - lo_s)
    index = scaled.astype(np.int64)  # truncation: a value a rounding error below lo lands in bin 0
    np.minimum(index, BINS - 1, out=index)  # the maximum lands in the last bin, closed as np.histogram's
    return np.bincount(index, minlength=BINS), lo_s * scale, hi_s * scale


class GradientHealth:
    """Alerts, each once per episode (when its condition starts to hold) for a parameter:

    - nonfinite: the gradient holds NaN or Inf;
    - vanishing: its norm has been below `vanish_ratio` x the median parameter's norm for
      `patience` steps in a row (one step's dip is no vanishing gradient: an output bias's gradient
      all but cancels whenever a batch's classes balance);
    - exploding: its norm is above `bound`, or more than `factor` x its median over the last
      `window` steps while above the median parameter's norm.
    """

    def __init__(
        self, vanish_ratio: float = 1e-3, factor: float = 10.0, window: int = 5, bound: float = 1e3, patience: int = 3
    ) -> None:
        self.vanish_ratio, self.factor, self.window, self.bound, self.patience = vanish_ratio, factor, window, bound, patience
        self.history: dict[str, deque] = defaultdict(lambda: deque(maxlen=window))
        self.low: dict[str, int] = defaultdict(int)  # steps in a row with the norm below the vanishing line
        self.active: set[tuple[str, str]] = set()

    def check(self, step: int, norms: dict[str, float], nonfinite: dict[str, bool]) -> list[dict[str, Any]]:
        finite = [v for v in norms.values() if math.isfinite(v)]
        median = statistics.median(finite) if finite else float("nan")  # (np.median costs 30 us a call)
        alerts = []
        for name, norm in norms.items():
            recent = [v for v in self.history[name] if math.isfinite(v) and v > 0]
            low = 0 < median <= self.bound and norm < self.vanish_ratio * median  # (not while everything explodes)
            self.low[name] = self.low[name] + 1 if low else 0
            firing = {}
            if nonfinite.get(name) or not math.isfinite(norm):
                firing["nonfinite"] = ("gradient contains NaN or Inf", f"the gradient of {name} holds NaN or Inf at step {step}")
            elif self.low[name] >= self.patience:
                firing["vanishing"] = (
                    f"|g| < {self.vanish_ratio:g} x median |g| of all parameters for {self.patience} steps in a row",
                    f"{name}: |g| = {norm:.3g} is below {self.vanish_ratio:g} x the median {median:.3g} at step {step}, "
                    f"and has been since step {step - self.low[name] + 1}",
                )
            elif norm > self.bound:
                firing["exploding"] = (f"|g| > {self.bound:g}", f"{name}: |g| = {norm:.3g} exceeds {self.bound:g} at step {step}")
            elif len(recent) >= 2 and norm > self.factor * statistics.median(recent) and norm > median:
                # against the recent median (one dip near zero is not a baseline), and only for a
                # gradient that is also large among the layers now (a rebound from tiny is not an explosion)
                base = statistics.median(recent)
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
