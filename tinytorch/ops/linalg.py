"""Matrix multiply, the op that carries most of the FLOPs."""

from __future__ import annotations

import numpy as np

from ..function import Function


class MatMul(Function):
    """C = A @ B over broadcast batch dims: dA = dC @ B^T, dB = A^T @ dC."""

    @staticmethod
    def flops(shapes, out, attrs):
        return 2 * int(np.prod(out)) * shapes[0][-1]  # one multiply-add per (output element, k)

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim < 2 or b.ndim < 2:
            raise ValueError("MatMul takes 2-D or batched operands (Tensor.matmul lifts 1-D ones)")
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"shapes {a.shape} and {b.shape} cannot be multiplied ({a.shape[-1]} != {b.shape[-2]})")
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ga = grad @ b.swapaxes(-1, -2) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            if b.ndim == 2 and a.ndim > 2:
                # one (K, N) weight shared by every batch row: fold the batch into the rows
                # (B, T, K) -> (B*T, K)^T @ (B*T, N) = (K, N), no (B, K, N) intermediate
                gb = a.reshape(-1, a.shape[-1]).T @ grad.reshape(-1, grad.shape[-1])
            else:
                gb = a.swapaxes(-1, -2) @ grad
        return ga, gb
