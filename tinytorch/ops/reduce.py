"""Reductions over `dim` (None = all axes). The backward spreads the gradient back over the
reduced axes; `_expand` puts the reduced axes back so broadcasting can do that."""

from __future__ import annotations

import numpy as np

from ..function import Function


def _axes(dim, ndim: int) -> tuple[int, ...]:
    """dim (None, int or sequence, negatives allowed) as sorted non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    axes = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
        axes.append(d % max(ndim, 1))
    return tuple(sorted(set(axes))) if ndim else ()


def _per_input(shapes, out, attrs) -> int:
    """A reduction touches every input element once."""
    return int(np.prod(shapes[0]))


def _expand(grad: np.ndarray, ctx) -> np.ndarray:
    """grad of the reduced shape, with the reduced axes put back as size 1 (if keepdim=False)."""
    return grad if ctx.keepdim else np.expand_dims(grad, ctx.axes)


class Sum(Function):
    """d/da sum(a) = 1 for every element"""

    flops = staticmethod(_per_input)

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        ctx.axes, ctx.keepdim, ctx.shape = _axes(dim, a.ndim), keepdim, a.shape
        return a.sum(axis=ctx.axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return np.broadcast_to(_expand(grad, ctx), ctx.shape)


class Mean(Function):
    """d/da mean(a) = 1/n for every element (n = number of elements reduced)"""

    flops = staticmethod(_per_input)

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        ctx.axes, ctx.keepdim, ctx.shape = _axes(dim, a.ndim), keepdim, a.shape
        ctx.count = int(np.prod([a.shape[i] for i in ctx.axes]))
        return a.mean(axis=ctx.axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return np.broadcast_to(_expand(grad, ctx) / ctx.count, ctx.shape)


class Max(Function):
    """The gradient goes to the maximum: along one `dim`, to the element whose index max(dim)
    returns; over all elements or several dims, split evenly among ties (as PyTorch)."""

    flops = staticmethod(_per_input)

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        return _extreme_forward(ctx, a, dim, keepdim, np.argmax)

    @staticmethod
    def backward(ctx, grad):
        return _extreme_backward(ctx, grad)


class Min(Function):
    """The gradient goes to the minimum (see Max)."""

    flops = staticmethod(_per_input)

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        return _extreme_forward(ctx, a, dim, keepdim, np.argmin)

    @staticmethod
    def backward(ctx, grad):
        return _extreme_backward(ctx, grad)


def _extreme_forward(ctx, a, dim, keepdim, arg):
    if a.size == 0:
        raise ValueError("max()/min() of an empty tensor has no value")
    ctx.keepdim, ctx.shape, ctx.axes = keepdim, a.shape, _axes(dim, a.ndim)
    if isinstance(dim, int):
        (axis,) = ctx.axes
        index = arg(a, axis=axis, keepdims=True)
        ctx.save_for_backward(index)
        out = np.take_along_axis(a, index, axis=axis)
        return out if keepdim else out.squeeze(axis)
    reduce = np.max if arg is np.argmax else np.min
    out = reduce(a, axis=ctx.axes, keepdims=True)
    ctx.save_for_backward(a, out)
    return out if keepdim else out.squeeze(ctx.axes)


def _extreme_backward(ctx, grad):
    grad = _expand(grad, ctx)
    if len(ctx.saved_tensors) == 2:  # several axes: split among ties
        a, out = ctx.saved_tensors
        mask = a == out
        return grad * mask / mask.sum(axis=ctx.axes, keepdims=True)
    (index,) = ctx.saved_tensors
    result = np.zeros(ctx.shape, dtype=grad.dtype)
    np.put_along_axis(result, index, grad, axis=ctx.axes[0])
    return result
