"""Observers watch real batches and choose (scale, zero_point) from the range they saw.

As torch.ao.quantization's: call the observer on each batch, then `calculate_qparams()`.
`calibrate` hooks one observer onto the input of every Linear and Conv2d of a float model and
runs calibration batches through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..nn.conv import Conv2d
from ..nn.layers import Linear
from ..nn.module import Module
from ..tensor import Tensor
from .affine import calculate_qparams


class MinMaxObserver:
    """The smallest and largest value seen over all batches (one outlier widens the range)."""

    def __init__(self, dtype: Any = np.int8, symmetric: bool = False) -> None:
        self.dtype, self.symmetric = np.dtype(dtype), symmetric
        self.min_val: np.ndarray | None = None
        self.max_val: np.ndarray | None = None
        self.batches = 0

    def __call__(self, x: Any) -> Any:
        """Observe a batch (array or Tensor); returns it unchanged."""
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        if data.size == 0:
            return x
        lo, hi = self._batch_range(data)
        self._combine(np.asarray(lo, np.float64), np.asarray(hi, np.float64))
        self.batches += 1
        return x

    def _batch_range(self, x: np.ndarray) -> tuple[Any, Any]:
        return x.min(), x.max()

    def _combine(self, lo: np.ndarray, hi: np.ndarray) -> None:
        first = self.min_val is None
        self.min_val = lo if first else np.minimum(self.min_val, lo)
        self.max_val = hi if first else np.maximum(self.max_val, hi)

    def calculate_qparams(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale, zero_point) for the range observed so far."""
        if self.min_val is None:
            raise RuntimeError(f"{type(self).__name__} has seen no data: run calibration batches through it first")
        return calculate_qparams(self.min_val, self.max_val, self.dtype, self.symmetric)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(min_val={self.min_val}, max_val={self.max_val}, batches={self.batches})"


class PerChannelMinMaxObserver(MinMaxObserver):
    """One range per index of ch_axis (a weight's output channels: axis 0); symmetric by default."""

    def __init__(self, ch_axis: int = 0, dtype: Any = np.int8, symmetric: bool = True) -> None:
        super().__init__(dtype, symmetric)
        self.ch_axis = ch_axis

    def _batch_range(self, x: np.ndarray) -> tuple[Any, Any]:
        flat = np.moveaxis(x, self.ch_axis, 0).reshape(x.shape[self.ch_axis], -1)  # (C, everything else)
        return flat.min(axis=1), flat.max(axis=1)


class MovingAverageMinMaxObserver(MinMaxObserver):
    """min and max follow each batch's by an exponential moving average: range += c (batch - range).
    The first batch sets the range; c = 0.01 as PyTorch, so one odd batch barely moves it."""

    def __init__(self, averaging_constant: float = 0.01, dtype: Any = np.int8, symmetric: bool = False) -> None:
        super().__init__(dtype, symmetric)
        if not 0 < averaging_constant <= 1:
            raise ValueError(f"averaging_constant must lie in (0, 1], got {averaging_constant}")
        self.averaging_constant = averaging_constant

    def _combine(self, lo: np.ndarray, hi: np.ndarray) -> None:
        if self.min_val is None:
            self.min_val, self.max_val = lo, hi
            return
        c = self.averaging_constant
        self.min_val = self.min_val + c * (lo - self.min_val)
        self.max_val = self.max_val + c * (hi - self.max_val)


class PercentileObserver(MinMaxObserver):
    """The range from the (100 - p)-th to the p-th percentile of each batch, averaged over batches:
    the rare largest values clip, and in exchange every other value gets a finer step."""

    def __init__(self, percentile: float = 99.99, dtype: Any = np.int8, symmetric: bool = False) -> None:
        super().__init__(dtype, symmetric)
        if not 50 < percentile <= 100:
            raise ValueError(f"percentile must lie in (50, 100], got {percentile}")
        self.percentile = percentile

    def _batch_range(self, x: np.ndarray) -> tuple[Any, Any]:
        lo, hi = np.percentile(x, [100 - self.percentile, self.percentile])
        return lo, hi

    def _combine(self, lo: np.ndarray, hi: np.ndarray) -> None:
        if self.min_val is None:
            self.min_val, self.max_val = lo, hi
            return
        n = self.batches  # batches averaged so far: a running mean
        self.min_val = self.min_val + (lo - self.min_val) / (n + 1)
        self.max_val = self.max_val + (hi - self.max_val) / (n + 1)


OBSERVERS: dict[str, type[MinMaxObserver]] = {
    "minmax": MinMaxObserver,
    "moving_average": MovingAverageMinMaxObserver,
    "percentile": PercentileObserver,
}


def calibrate(
    model: Module,
    loader: Iterable,
    num_batches: int = 10,
    observer: str | Callable[[], MinMaxObserver] = "minmax",
    modules: Iterable[tuple[str, Module]] | None = None,
) -> dict[str, MinMaxObserver]:
    """Run up to num_batches batches of the loader through model (eval mode, no_grad) and return,
    per named module (default: every Linear and Conv2d, by dotted name), an observer that saw
    every input that module received.

    The loader yields inputs or (inputs, targets) tuples; the model's modes are put back after."""
    if modules is None:
        modules = [(n, m) for n, m in model.named_modules() if isinstance(m, (Linear, Conv2d))]
    if num_batches < 1:
        raise ValueError(f"num_batches must be >= 1, got {num_batches}")
    make = OBSERVERS[observer] if isinstance(observer, str) and observer in OBSERVERS else observer
    if not callable(make):
        raise ValueError(f"observer must be one of {sorted(OBSERVERS)} or a callable returning an observer, got {observer!r}")
    observers: dict[str, MinMaxObserver] = {}
    handles = []
    for name, module in modules:
        obs = observers[name] = make()
        handles.append(module.register_forward_pre_hook(lambda m, args, obs=obs: obs(args[0])))
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    seen = 0
    try:
        with no_grad():
            for batch in loader:
                if seen >= num_batches:
                    break
                model(batch[0] if isinstance(batch, (tuple, list)) else batch)
                seen += 1
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in modes:
            m.training = mode
    if seen == 0:
        raise ValueError("calibrate: the calibration loader yielded no batches")
    for name, obs in observers.items():
        if obs.batches == 0:
            raise RuntimeError(f"calibrate: layer {name!r} never ran on the calibration batches, so its input range is unknown")
    return observers
