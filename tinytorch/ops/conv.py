"""Convolution and pooling without Python loops over batch, channels or pixels.

The API is NCHW, as PyTorch's. Inside, arrays are worked on as NHWC (channels last) views:
im2col then gathers C contiguous values at a time, one matrix multiply does the whole layer,
and its (N*Ho*Wo, Co) result *is* the NHWC output, returned as an NCHW view. Elementwise ops
keep that memory order, so the next layer finds its input already channels-last: activations
stay in one layout and no transposing copy happens between layers.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..function import Function


def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool = False) -> int:
    """Output length along one axis: floor((size + 2p - d(k-1) - 1) / s) + 1 (PyTorch's rule)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        raise ValueError(f"kernel {kernel} (dilation {dilation}) does not fit input size {size} with padding {padding}")
    n = -(-span // stride) + 1 if ceil_mode else span // stride + 1
    if ceil_mode and (n - 1) * stride >= size + padding:  # the last window must start inside the input
        n -= 1
    return n


def _nhwc(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C), a view


def _nchw(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W), a view


def _windows(xp: np.ndarray, k: tuple, s: tuple, d: tuple, out: tuple) -> np.ndarray:
    """Every kernel window of padded NHWC xp: a view (N, Ho, Wo, C, kh, kw), no copy."""
    span = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    v = sliding_window_view(xp, span, axis=(1, 2))  # (N, H', W', C, span_h, span_w)
    return v[:, : s[0] * (out[0] - 1) + 1 : s[0], : s[1] * (out[1] - 1) + 1 : s[1], :, :: d[0], :: d[1]]


def _pad_nhwc(x: np.ndarray, p: tuple, value: float = 0.0) -> np.ndarray:
    if p == (0, 0):
        return x
    return np.pad(x, ((0, 0), (p[0], p[0]), (p[1], p[1]), (0, 0)), constant_values=value)


class Conv2d(Function):
    """out = im2col(x) @ W^T: dW = g^T @ cols, dx = col2im(g @ W). Groups split the channels."""

    @staticmethod
    def flops(shapes, out, attrs):
        co, cg, kh, kw = shapes[1]
        return 2 * int(np.prod(out)) * cg * kh * kw + (int(np.prod(out)) if len(shapes) > 2 else 0)

    @classmethod
    def backward_flops(cls, shapes, out, attrs, needs):
        co, cg, kh, kw = shapes[1]
        matmul = 2 * int(np.prod(out)) * cg * kh * kw  # dx and dW are each one such product; db a sum
        return matmul * (bool(needs[0]) + bool(needs[1])) + (int(np.prod(out)) if len(needs) > 2 and needs[2] else 0)

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
        n, c, h, w = x.shape
        co, cg, kh, kw = weight.shape
        if c != cg * groups:
            raise ValueError(f"input has {c} channels but the weight {weight.shape} with groups={groups} expects {cg * groups}")
        ho = out_size(h, kh, stride[0], padding[0], dilation[0])
        wo = out_size(w, kw, stride[1], padding[1], dilation[1])
        xp = _pad_nhwc(_nhwc(x), padding)  # (N, Hp, Wp, C)
        win = _windows(xp, (kh, kw), stride, dilation, (ho, wo))  # (N, Ho, Wo, C, kh, kw)
        # (N, Ho, Wo, C, kh, kw) -> (N, Ho, Wo, kh, kw, G, Cg) -> (G, N*Ho*Wo, kh*kw*Cg): C innermost
        cols = win.transpose(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, kh * kw, groups, cg)
        cols = np.ascontiguousarray(cols.transpose(2, 0, 1, 3)).reshape(groups, n * ho * wo, kh * kw * cg)
        # (Co, Cg, kh, kw) -> (G, Cog, kh*kw*Cg), matching cols' order
        wm = weight.reshape(groups, co // groups, cg, kh, kw).transpose(0, 1, 3, 4, 2).reshape(groups, co // groups, -1)
        out = cols @ wm.transpose(0, 2, 1)  # (G, N*Ho*Wo, Cog)
        out = out.transpose(1, 0, 2).reshape(n, ho, wo, co)  # (N, Ho, Wo, Co), a view when G = 1
        if bias is not None:
            out = out + bias if groups > 1 else np.add(out, bias, out=out)
        ctx.save_for_backward(cols, weight)
        ctx.geometry = (x.shape, xp.shape, stride, padding, dilation, groups)
        return _nchw(out)

    @staticmethod
    def backward(ctx, grad):
        cols, weight = ctx.saved_tensors
        (n, c, h, w), padded, stride, padding, dilation, groups = ctx.geometry
        co, cg, kh, kw = weight.shape
        # (N, Co, Ho, Wo) -> (N*Ho*Wo, G, Cog) -> (G, N*Ho*Wo, Cog)
        g = _nhwc(grad).reshape(-1, groups, co // groups).transpose(1, 0, 2)
        gw = gb = gx = None
        if ctx.needs_input_grad[1]:
            gwm = g.transpose(0, 2, 1) @ cols  # (G, Cog, kh*kw*Cg)
            gw = gwm.reshape(co, kh, kw, cg).transpose(0, 3, 1, 2)  # (Co, Cg, kh, kw)
        if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2]:
            gb = grad.sum(axis=(0, 2, 3))
        if ctx.needs_input_grad[0]:
            ho, wo = grad.shape[2:]
            # (Co, Cg, kh, kw) -> (kh, kw, G, Cog, Cg): one (Cog, Cg) matrix per kernel position and group
            wk = weight.reshape(groups, co // groups, cg, kh, kw).transpose(3, 4, 0, 1, 2)
            gxp = np.zeros(padded, grad.dtype)  # (N, Hp, Wp, C)
            # col2im one kernel position at a time: the (N*Ho*Wo, kh*kw*C) matrix of window
            # gradients is never built (tens of MB that would be fresh pages every step)
            for (i, j), (rows, cols_) in zip(np.ndindex(kh, kw), _slices((kh, kw), stride, dilation, (ho, wo))):
                part = g @ wk[i, j]  # (G, N*Ho*Wo, Cg)
                gxp[:, rows, cols_, :] += part.transpose(1, 0, 2).reshape(n, ho, wo, c)
            gx = _nchw(gxp[:, padding[0] : padding[0] + h, padding[1] : padding[1] + w, :])
        return gx, gw, gb


class MaxPool2d(Function):
    """The gradient of each window goes to the element that was its maximum (first on ties).

    Forward is a running np.maximum over the kernel positions; backward finds the winners again
    by comparing each position with the output, so forward keeps no index array."""

    @staticmethod
    def flops(shapes, out, attrs):
        return int(np.prod(out)) * int(np.prod(attrs["kernel_size"]))  # one comparison per window element

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
        n, c, h, w = x.shape
        k = kernel_size
        ho = out_size(h, k[0], stride[0], padding[0], dilation[0], ceil_mode)
        wo = out_size(w, k[1], stride[1], padding[1], dilation[1], ceil_mode)
        xp = _pad_max(_nhwc(x), padding, stride, dilation, k, (ho, wo))
        windows = _positions(xp, k, stride, dilation, (ho, wo))
        best = next(windows).copy()  # (N, Ho, Wo, C)
        for window in windows:
            np.maximum(best, window, out=best)
        ctx.save_for_backward(xp, best)
        ctx.geometry = (x.shape, k, stride, padding, dilation)
        return _nchw(best)  # (N, C, Ho, Wo), channels-last in memory

    @staticmethod
    def backward(ctx, grad):
        xp, best = ctx.saved_tensors
        (n, c, h, w), k, stride, padding, dilation = ctx.geometry
        g = _nhwc(grad)
        gxp = np.zeros(xp.shape, grad.dtype)
        unclaimed = np.ones(best.shape, bool)  # windows whose maximum has not been found yet
        overlapping = any(s < d * (kk - 1) + 1 for s, d, kk in zip(stride, dilation, k))
        for rows, cols in _slices(k, stride, dilation, best.shape[1:3]):
            winner = xp[:, rows, cols, :] == best
            winner &= unclaimed  # the first maximum of a window takes it all, as PyTorch
            unclaimed &= ~winner
            if overlapping:
                gxp[:, rows, cols, :] += np.where(winner, g, 0)
            else:  # each input element belongs to one window: write, do not add
                np.multiply(g, winner, out=gxp[:, rows, cols, :])
        return _nchw(gxp[:, padding[0] : padding[0] + h, padding[1] : padding[1] + w, :])


class AvgPool2d(Function):
    """Each window's mean; its gradient is spread evenly over the window."""

    @staticmethod
    def flops(shapes, out, attrs):
        return int(np.prod(out)) * int(np.prod(attrs["kernel_size"]))

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True):
        n, c, h, w = x.shape
        k = kernel_size
        ho = out_size(h, k[0], stride[0], padding[0], 1, ceil_mode)
        wo = out_size(w, k[1], stride[1], padding[1], 1, ceil_mode)
        xp = _pad_max(_nhwc(x), padding, stride, (1, 1), k, (ho, wo), value=0.0)
        total = sum(_positions(xp, k, stride, (1, 1), (ho, wo)))
        count = _window_counts(h, w, k, stride, padding, xp.shape[1:3], (ho, wo), count_include_pad)
        ctx.count, ctx.geometry = count, (x.shape, xp.shape, k, stride, padding)
        return _nchw(total / count.astype(x.dtype))

    @staticmethod
    def backward(ctx, grad):
        (n, c, h, w), padded, k, stride, padding = ctx.geometry
        g = _nhwc(grad) / ctx.count.astype(grad.dtype)
        gxp = np.zeros(padded, grad.dtype)
        for rows, cols in _slices(k, stride, (1, 1), g.shape[1:3]):
            gxp[:, rows, cols, :] += g
        return _nchw(gxp[:, padding[0] : padding[0] + h, padding[1] : padding[1] + w, :])


def _slices(k: tuple, s: tuple, d: tuple, out: tuple):
    """For each kernel position, the (rows, cols) slices of the padded input it touches."""
    for i in range(k[0]):
        for j in range(k[1]):
            yield (
                slice(i * d[0], i * d[0] + s[0] * (out[0] - 1) + 1, s[0]),
                slice(j * d[1], j * d[1] + s[1] * (out[1] - 1) + 1, s[1]),
            )


def _positions(xp: np.ndarray, k: tuple, s: tuple, d: tuple, out: tuple):
    """For each kernel position, the strided view (N, Ho, Wo, C) of what it sees."""
    for rows, cols in _slices(k, s, d, out):
        yield xp[:, rows, cols, :]


def _pad_max(x: np.ndarray, p: tuple, s: tuple, d: tuple, k: tuple, out: tuple, value: float = -np.inf) -> np.ndarray:
    """Pad NHWC x by p with `value`, plus what ceil_mode's last window needs on the bottom/right."""
    extra = [max(0, s[i] * (out[i] - 1) + d[i] * (k[i] - 1) + 1 - (x.shape[1 + i] + 2 * p[i])) for i in range(2)]
    if p == (0, 0) and extra == [0, 0]:
        return x
    return np.pad(x, ((0, 0), (p[0], p[0] + extra[0]), (p[1], p[1] + extra[1]), (0, 0)), constant_values=value)


def _window_counts(h, w, k, s, p, padded_hw, out, count_include_pad) -> np.ndarray:
    """How many elements each window averages over: (1, Ho, Wo, 1)."""
    inside = np.zeros((1, *padded_hw, 1), np.int64)
    if count_include_pad:  # padding counts, the ceil_mode overhang does not (as PyTorch)
        inside[:, : h + 2 * p[0], : w + 2 * p[1]] = 1
    else:
        inside[:, p[0] : p[0] + h, p[1] : p[1] + w] = 1
    return sum(_positions(inside, k, s, (1, 1), out))
