"""Gradient checkpointing: run a segment of the model without keeping its activations, and run
it again in backward. Memory of the segment's activations is traded for one more forward."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd import enable_grad, no_grad
from ..creation import get_rng_state, set_rng_state
from ..function import Function
from ..tensor import Tensor


class Checkpoint(Function):
    """forward: out = fn(inputs) with no graph (only the inputs are kept). backward: run fn
    again with a graph from the saved inputs and backpropagate grad through it; parameters used
    inside fn get their .grad there, the inputs' gradients go on to the rest of the graph."""

    @staticmethod
    def flops(shapes, out, attrs):
        return 0  # the ops inside fn count themselves

    @classmethod
    def backward_flops(cls, shapes, out, attrs, needs):
        return 0

    @staticmethod
    def forward(ctx, *arrays, fn):
        ctx.fn, ctx.rng = fn, get_rng_state()  # the same dropout masks when it runs again
        ctx.save_for_backward(*arrays)
        with no_grad():
            out = fn(*[Tensor._make(a, False, None) for a in arrays])
        return out.data

    @staticmethod
    def backward(ctx, grad):
        now = get_rng_state()
        set_rng_state(ctx.rng)
        inputs = [Tensor._make(a, bool(n) and a.dtype.kind == "f", None) for a, n in zip(ctx.saved_tensors, ctx.needs_input_grad)]
        try:
            with enable_grad():
                out = ctx.fn(*inputs)
        finally:
            set_rng_state(now)
        out.backward(Tensor._make(grad, False, None))
        return tuple(None if t.grad is None else t.grad.data for t in inputs)


def checkpoint(fn: Callable[..., Tensor], *args: Tensor, use_reentrant: Any = None) -> Tensor:
    """fn(*args), keeping only args for backward (PyTorch's torch.utils.checkpoint.checkpoint).

    fn must return one tensor and use only args and parameters (no other tensors that need grad)."""
    args = tuple(a if isinstance(a, Tensor) else Tensor(np.asarray(a)) for a in args)
    if not any(a.requires_grad for a in args):  # parameters inside fn still need the backward to run
        args = args + (Tensor(np.zeros((), np.float32), requires_grad=True),)
        inner = fn
        fn = lambda *xs: inner(*xs[:-1])  # noqa: E731  (the extra input only makes the node exist)
    return Checkpoint.apply(*args, fn=fn)


checkpoint.checkpoint = checkpoint  # type: ignore[attr-defined]  (torch.utils.checkpoint.checkpoint spelling)
