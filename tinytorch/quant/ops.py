"""The quantized ops, as Functions so they pass the one choke point (the recorder and the
profiler see them like any other op). None has a backward: rounding has zero derivative almost
everywhere, and a quantized model is for inference (differentiable = False).

Why the output is exact up to one float rounding: with x ~ s_x (q_x - z_x) and w ~ s_w q_w,
    y = x w^T + b ~ s_x s_w (q_x q_w^T - z_x sum_i q_w[:, i]) + b,
and the bracket is integer arithmetic, done exactly (see affine.int_matmul).
"""

from __future__ import annotations

import numpy as np

from ..function import Function
from ..ops.conv import _nchw, _nhwc, _pad_nhwc, _windows, out_size
from .affine import dequantize, int_matmul, quantize


class Quantize(Function):
    """q = clamp(round(x / s) + z, qmin, qmax) as int8 (per tensor; s, z Python numbers)."""

    differentiable = False

    @staticmethod
    def forward(ctx, x, scale, zero_point, dtype="int8"):
        return quantize(x, scale, zero_point, np.dtype(dtype))


class Dequantize(Function):
    """x = s (q - z) as float32."""

    differentiable = False

    @staticmethod
    def forward(ctx, q, scale, zero_point):
        return dequantize(q, scale, zero_point)


def _requantize(acc: np.ndarray, weight_sum: np.ndarray, input_scale: float, input_zero_point: int,
                weight_scale: np.ndarray, bias: np.ndarray | None) -> np.ndarray:  # fmt: skip
    """float32 y = s_x s_w (acc - z_x sum q_w) + b for an int32 accumulator acc (..., out)."""
    acc -= np.int32(input_zero_point) * weight_sum  # still int32: the zero point's share of every sum
    out = acc.astype(np.float32)
    out *= np.float32(input_scale) * weight_scale  # one multiply per output channel leaves the integers
    if bias is not None:
        out += bias
    return out


class QuantizedLinear(Function):
    """y = s_x s_w (q_x q_w^T - z_x sum_i q_w) + b: int8 input (..., in), int8 weight (out, in),
    per-output-channel float32 weight_scale (out,) or (1,), float32 bias, float32 output."""

    differentiable = False

    @staticmethod
    def flops(shapes, out, attrs):
        return 2 * int(np.prod(out)) * shapes[1][1]  # integer multiply-adds, 2 ops each

    @staticmethod
    def forward(ctx, qx, weight, weight_scale, bias=None, input_scale=1.0, input_zero_point=0, method="blas"):
        if qx.shape[-1] != weight.shape[1]:
            raise ValueError(f"input with last dim {qx.shape[-1]} does not fit a weight of shape {weight.shape}")
        q2 = qx.reshape(-1, qx.shape[-1])  # (..., in) -> (N, in)
        acc = int_matmul(q2, weight.T, method)  # (N, in) @ (in, out) = (N, out), int32
        out = _requantize(acc, weight.sum(axis=1, dtype=np.int32), input_scale, input_zero_point, weight_scale, bias)
        return out.reshape(*qx.shape[:-1], weight.shape[0])  # (..., out)


class QuantizedConv2d(Function):
    """The int8 convolution: im2col on the int8 input (a quarter of float32's bytes), one exact
    integer matrix multiply, then the same requantization as QuantizedLinear. NCHW outside,
    channels-last inside, as ops.conv.Conv2d."""

    differentiable = False

    @staticmethod
    def flops(shapes, out, attrs):
        co, cg, kh, kw = shapes[1]
        return 2 * int(np.prod(out)) * cg * kh * kw

    @staticmethod
    def forward(ctx, qx, weight, weight_scale, bias=None, input_scale=1.0, input_zero_point=0, stride=(1, 1),
                padding=(0, 0), dilation=(1, 1), groups=1, method="blas"):  # fmt: skip
        n, c, h, w = qx.shape
        co, cg, kh, kw = weight.shape
        if c != cg * groups:
            raise ValueError(f"input has {c} channels but the weight {weight.shape} with groups={groups} expects {cg * groups}")
        ho = out_size(h, kh, stride[0], padding[0], dilation[0])
        wo = out_size(w, kw, stride[1], padding[1], dilation[1])
        # Real 0 is the integer z_x, so the padding is z_x, not 0.
        xp = _pad_nhwc(_nhwc(qx), padding, value=input_zero_point)  # (N, Hp, Wp, C) int8
        win = _windows(xp, (kh, kw), stride, dilation, (ho, wo))  # (N, Ho, Wo, C, kh, kw), a view
        # (N, Ho, Wo, C, kh, kw) -> (N, Ho, Wo, kh, kw, G, Cg) -> (G, N*Ho*Wo, kh*kw*Cg): C innermost
        cols = win.transpose(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, kh * kw, groups, cg)
        cols = np.ascontiguousarray(cols.transpose(2, 0, 1, 3)).reshape(groups, n * ho * wo, kh * kw * cg)
        # (Co, Cg, kh, kw) -> (G, Cog, kh*kw*Cg), matching cols' order
        wm = weight.reshape(groups, co // groups, cg, kh, kw).transpose(0, 1, 3, 4, 2).reshape(groups, co // groups, -1)
        acc = int_matmul(cols, wm.transpose(0, 2, 1), method)  # (G, N*Ho*Wo, Cog) int32
        acc = acc.transpose(1, 0, 2).reshape(n * ho * wo, co)  # (N*Ho*Wo, Co), a view when G = 1
        weight_sum = weight.reshape(co, -1).sum(axis=1, dtype=np.int32)  # (Co,)
        out = _requantize(acc, weight_sum, input_scale, input_zero_point, weight_scale, bias)
        return _nchw(out.reshape(n, ho, wo, co))  # (N, Co, Ho, Wo), channels-last in memory
