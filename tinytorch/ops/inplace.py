"""In-place ops: forward writes into its first input. apply returns that input and bumps its
version, so a graph that saved the old value fails loudly at backward time."""

from __future__ import annotations

import numpy as np

from ..function import Function


class _Inplace(Function):
    differentiable = False
    inplace = True


class AddInplace(_Inplace):
    """a += alpha * b"""

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        if alpha == 1:
            a += b
        else:
            a += alpha * b
        return a


class MulInplace(_Inplace):
    """a *= b"""

    @staticmethod
    def forward(ctx, a, b):
        a *= b
        return a


class DivInplace(_Inplace):
    """a /= b"""

    @staticmethod
    def forward(ctx, a, b):
        a /= b
        return a


class CopyInplace(_Inplace):
    """a[...] = b (broadcast), the body of copy_, fill_ and zero_"""

    @staticmethod
    def forward(ctx, a, b):
        np.copyto(a, b, casting="unsafe")
        return a


class SetItem(_Inplace):
    """a[index] = b"""

    @staticmethod
    def forward(ctx, a, b, index):
        a[index] = b
        return a


class ClampInplace(_Inplace):
    """a = clamp(a, min, max)"""

    @staticmethod
    def forward(ctx, a, min=None, max=None):
        np.clip(a, min, max, out=a)
        return a
