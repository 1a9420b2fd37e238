"""Ops with no gradient: comparisons, arg-reductions, one-hot. They still pass through
Function.apply, so the recorder and the profiler see them."""

from __future__ import annotations

import numpy as np

from ..function import Function


class _NoGrad(Function):  # a base: names starting with "_" are not registered as ops
    differentiable = False


class Eq(_NoGrad):
    @staticmethod
    def forward(ctx, a, b):
        return a == b


class Ne(_NoGrad):
    @staticmethod
    def forward(ctx, a, b):
        return a != b


class Lt(_NoGrad):
    @staticmethod
    def forward(ctx, a, b):
        return a < b


class Le(_NoGrad):
    @staticmethod
    def forward(ctx, a, b):
        return a <= b


class Gt(_NoGrad):
    @staticmethod
    def forward(ctx, a, b):
        return a > b


class Ge(_NoGrad):
    @staticmethod
    def forward(ctx, a, b):
        return a >= b


class LogicalNot(_NoGrad):
    @staticmethod
    def forward(ctx, a):
        return ~a.astype(bool)


class Argmax(_NoGrad):
    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        if dim is None:
            return np.asarray(np.argmax(a), dtype=np.int64)
        return np.argmax(a, axis=dim, keepdims=keepdim).astype(np.int64)


class Argmin(_NoGrad):
    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        if dim is None:
            return np.asarray(np.argmin(a), dtype=np.int64)
        return np.argmin(a, axis=dim, keepdims=keepdim).astype(np.int64)


class OneHot(_NoGrad):
    """Class indices (...) -> int64 one-hot (..., num_classes)."""

    @staticmethod
    def forward(ctx, index, num_classes):
        if index.dtype.kind not in "iu":
            raise ValueError(f"one_hot needs integer class indices, got {index.dtype}")
        if index.size and (index.min() < 0 or index.max() >= num_classes):
            raise ValueError(
                f"one_hot: class indices must lie in [0, {num_classes}), got values from {index.min()} to {index.max()}"
            )
        return (index[..., None] == np.arange(num_classes)).astype(np.int64)
