"""Adam and AdamW: per-parameter steps scaled by running moments of the gradient."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, _Update, apply_update


class AdamStep(_Update):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    Adam adds wd p to g (L2); AdamW (decoupled=True) also subtracts lr wd p from p.
    amsgrad divides by the running maximum of v instead of v."""

    per_element = 12  # FLOPs per parameter element, counting the update as written below

    @staticmethod
    def forward(ctx, p, grad, m, v, *vmax, lr, beta1, beta2, eps, weight_decay, step, decoupled=False, report=None):
        g = grad + weight_decay * p if weight_decay and not decoupled else grad
        tmp = np.subtract(g, m)  # m += (1 - b1)(g - m), PyTorch's lerp
        tmp *= 1 - beta1
        m += tmp
        v *= beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        v += tmp
        if vmax:
            np.maximum(vmax[0], v, out=vmax[0])
        denom = np.sqrt(vmax[0] if vmax else v, out=tmp)
        denom /= math.sqrt(1 - beta2**step)
        denom += eps
        np.divide(m, denom, out=tmp)
        tmp *= lr / (1 - beta1**step)
        if weight_decay and decoupled:  # PyTorch shrinks p by (1 - lr wd) first: the same step
            tmp += (lr * weight_decay) * p
        return apply_update(p, tmp, report)


class Adam(Optimizer):
    decoupled = False

    def __init__(
        self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 0.0, amsgrad: bool = False,
    ) -> None:  # fmt: skip
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(
                f"{type(self).__name__} needs lr, eps, weight_decay >= 0 and betas in [0, 1), got {lr}, {eps}, {weight_decay}, {betas}"
            )
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def update(self, p, grad, state, group):
        if not state:  # allocated at the first step, as PyTorch
            state["step"] = 0
            state["exp_avg"], state["exp_avg_sq"] = self._state_like(p, "exp_avg"), self._state_like(p, "exp_avg_sq")
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = self._state_like(p, "max_exp_avg_sq")
        state["step"] += 1
        extra = (state["max_exp_avg_sq"],) if group["amsgrad"] else ()
        beta1, beta2 = group["betas"]
        AdamStep.apply(p, grad, state["exp_avg"], state["exp_avg_sq"], *extra, lr=group["lr"], beta1=beta1, beta2=beta2,
                       eps=group["eps"], weight_decay=group["weight_decay"], step=state["step"], decoupled=self.decoupled)  # fmt: skip


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01, as PyTorch)."""

    decoupled = True

    def __init__(
        self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 0.01, amsgrad: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
