"""RMSprop and Adagrad: steps divided by a running measure of the gradient's size."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, _Update, apply_update


class RMSpropStep(_Update):
    """s = a s + (1 - a) g^2; (centered: mu = a mu + (1 - a) g, s - mu^2 in place of s);
    p -= lr g / (sqrt(s) + eps), or with momentum buf = m buf + g / (sqrt(s) + eps), p -= lr buf."""

    per_element = 8  # FLOPs per parameter element, counting the update as written below

    @staticmethod
    def forward(ctx, p, grad, square_avg, *extra, lr, alpha, eps, weight_decay, momentum, centered, report=None):
        g = grad + weight_decay * p if weight_decay else grad
        square_avg *= alpha
        square_avg += (1 - alpha) * g * g
        rest = list(extra)
        if centered:
            grad_avg = rest.pop(0)
            grad_avg += (1 - alpha) * (g - grad_avg)
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = np.sqrt(square_avg) + eps
        if momentum:
            (buf,) = rest
            buf *= momentum
            buf += g / avg
            return apply_update(p, lr * buf, report)
        return apply_update(p, lr * g / avg, report)


class RMSprop(Optimizer):
    def __init__(
        self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
        momentum: float = 0.0, centered: bool = False,
    ) -> None:  # fmt: skip
        if lr < 0 or eps < 0 or momentum < 0 or weight_decay < 0 or not 0 <= alpha <= 1:
            raise ValueError(
                f"RMSprop needs lr, eps, momentum, weight_decay >= 0 and alpha in [0, 1], got {lr}, {eps}, {momentum}, {weight_decay}, {alpha}"
            )
        super().__init__(
            params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)
        )

    def update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = self._state_like(p, "square_avg")
            if group["centered"]:
                state["grad_avg"] = self._state_like(p, "grad_avg")
            if group["momentum"]:
                state["momentum_buffer"] = self._state_like(p, "momentum_buffer")
        state["step"] += 1
        extra = [state[k] for k in ("grad_avg", "momentum_buffer") if k in state]
        RMSpropStep.apply(p, grad, state["square_avg"], *extra, lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                          weight_decay=group["weight_decay"], momentum=group["momentum"], centered=group["centered"])  # fmt: skip


class AdagradStep(_Update):
    """s += g^2; p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)"""

    per_element = 6  # FLOPs per parameter element, counting the update as written below

    @staticmethod
    def forward(ctx, p, grad, state_sum, *, lr, lr_decay, weight_decay, eps, step, report=None):
        g = grad + weight_decay * p if weight_decay else grad
        state_sum += g * g
        return apply_update(p, lr / (1 + (step - 1) * lr_decay) * g / (np.sqrt(state_sum) + eps), report)


class Adagrad(Optimizer):
    def __init__(
        self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0, eps: float = 1e-10,
    ) -> None:  # fmt: skip
        if lr < 0 or lr_decay < 0 or weight_decay < 0 or initial_accumulator_value < 0 or eps < 0:
            raise ValueError("Adagrad needs lr, lr_decay, weight_decay, initial_accumulator_value and eps >= 0")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))  # fmt: skip

    def update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = self._state_like(p, "sum", np.full(p.shape, group["initial_accumulator_value"]))
        state["step"] += 1
        AdagradStep.apply(p, grad, state["sum"], lr=group["lr"], lr_decay=group["lr_decay"],
                          weight_decay=group["weight_decay"], eps=group["eps"], step=state["step"])  # fmt: skip
