"""Primitives that move elements without computing: the backward moves the gradient back."""

from __future__ import annotations

import numpy as np

from ..function import Function


class _Move(Function):
    """Base of the ops that only move elements: no arithmetic in forward or backward."""

    @staticmethod
    def flops(shapes, out, attrs):
        return 0

    @classmethod
    def backward_flops(cls, shapes, out, attrs, needs):
        return 0


class Reshape(_Move):
    """The gradient takes the input's shape back."""

    view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


class Permute(_Move):
    """The gradient is permuted back by the inverse permutation."""

    view = True

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(np.argsort(ctx.dims))


class Expand(_Move):
    """Broadcast to a larger shape (a view); autograd sums the gradient back."""

    view = True

    @staticmethod
    def forward(ctx, a, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad


def _is_advanced(index) -> bool:
    """True when the index holds an array or list (NumPy's advanced indexing)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)


class GetItem(_Move):
    """a[index]; the gradient is scattered back, summed where an index repeats."""

    view = True

    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.index = a.shape, index
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        result = np.zeros(ctx.shape, dtype=grad.dtype)
        if isinstance(ctx.index, np.ndarray) and ctx.index.dtype.kind in "iu":  # rows by id (embeddings)
            _scatter_rows(result, ctx.index, grad)
        elif _is_advanced(ctx.index):
            np.add.at(result, ctx.index, grad)  # repeated indices accumulate
        else:
            result[ctx.index] = grad
        return result


def _scatter_rows(result: np.ndarray, index: np.ndarray, grad: np.ndarray) -> None:
    """result[index] += grad, summing repeated rows: sort the ids once and add each run of equal
    ids with np.add.reduceat (several times faster than np.add.at on embedding gradients)."""
    if index.size == 0:
        return
    ids = index.reshape(-1) % result.shape[0]  # negative ids count from the end
    rows = grad.reshape(ids.size, *result.shape[1:])  # (..., *row) -> (n, *row)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])  # where each run of one id begins
    result[sorted_ids[starts]] += np.add.reduceat(rows[order], starts, axis=0)


class Cat(_Move):
    """Concatenate along dim; the gradient is split back into the inputs' sizes."""

    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.dim = dim
        ctx.bounds = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.split(grad, ctx.bounds, axis=ctx.dim))


class Pad(_Move):
    """Constant padding; the gradient is the un-padded window of grad_output."""

    @staticmethod
    def forward(ctx, a, widths, value=0.0):
        # widths: one (before, after) pair per axis, NumPy's order
        ctx.window = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        return np.pad(a, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.window]
