"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .optimizer import Optimizer, _Update, apply_update


class SGDStep(_Update):
    """g = grad + wd p; buf = m buf + (1 - d) g (buf = g at the first step);
    p -= lr (g + m buf if nesterov else buf), or p -= lr g without momentum."""

    per_element = 4  # FLOPs per parameter element, counting the update as written below

    @staticmethod
    def forward(ctx, p, grad, *buf, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, first=False, report=None):
        g = grad + weight_decay * p if weight_decay else grad
        if momentum:
            (b,) = buf
            if first:
                b[...] = g
            else:
                b *= momentum
                b += (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        return apply_update(p, lr * g, report)


class SGD(Optimizer):
    def __init__(
        self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
        weight_decay: float = 0.0, nesterov: bool = False,
    ) -> None:  # fmt: skip
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD needs lr, momentum and weight_decay >= 0, got {lr}, {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(
            params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        )

    def update(self, p, grad, state, group):
        hyper = dict(lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
                     nesterov=group["nesterov"], weight_decay=group["weight_decay"])  # fmt: skip
        if not group["momentum"]:
            SGDStep.apply(p, grad, **hyper)
            return
        first = "momentum_buffer" not in state
        if first:  # allocated at the first step, as PyTorch
            state["momentum_buffer"] = self._state_like(p, "momentum_buffer")
        SGDStep.apply(p, grad, state["momentum_buffer"], first=first, **hyper)
