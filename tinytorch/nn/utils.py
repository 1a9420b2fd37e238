"""Gradient clipping (tinytorch.nn.utils, as torch.nn.utils)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor


def _grads(parameters: Iterable[Tensor] | Tensor) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """Scale all gradients together so their joint norm is at most max_norm; returns the norm before."""
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.zeros((), np.float32))
    if norm_type == float("inf"):
        total = float(np.max([np.abs(g.data).max() for g in grads]))  # np.max keeps a NaN; Python's max drops it
    else:
        total = float(sum(float((np.abs(g.data.astype(np.float64)) ** norm_type).sum()) for g in grads) ** (1 / norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is {total}; clipping cannot fix that")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        with no_grad():
            for g in grads:
                g.mul_(coef)
    return Tensor(np.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]."""
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
