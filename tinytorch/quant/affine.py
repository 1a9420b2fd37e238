"""Affine quantization: a real x is stored as an integer q, with x ~ scale * (q - zero_point).

scale is the real size of one integer step; zero_point is the integer that stands for real 0.
Per tensor, one (scale, zero_point) covers the whole array; per channel, each index along one
axis (a weight's output channel) gets its own, so a channel of small weights is not rounded away
by a neighbour with large ones.

The quantized layers multiply int8 matrices and need the exact int32 sums; `int_matmul` gets
them from a float BLAS, which is exact here for a reason spelled out in `accumulator_dtype`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_RANGES = {np.dtype(np.int8): (-128, 127), np.dtype(np.uint8): (0, 255)}
INT32_MAX = 2**31 - 1
_PRODUCT_MAX = 128 * 128  # the largest |a * b| of two int8 values, (-128) * (-128)


def qrange(dtype: Any = np.int8, symmetric: bool = False) -> tuple[int, int]:
    """(qmin, qmax) of an integer type. Symmetric int8 uses [-127, 127]: the range is then
    symmetric around 0, so +max and -max both land on an integer (127 and -127)."""
    dtype = np.dtype(dtype)
    if dtype not in _RANGES:
        raise TypeError(f"quantization supports int8 and uint8, got {dtype}")
    qmin, qmax = _RANGES[dtype]
    if symmetric:
        if qmin == 0:
            raise ValueError(f"symmetric quantization keeps zero_point = 0 and needs a signed type, got {dtype}")
        qmin = -qmax
    return qmin, qmax


def calculate_qparams(min_val: Any, max_val: Any, dtype: Any = np.int8, symmetric: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(scale float32, zero_point int32) that map [min_val, max_val] onto the integers of dtype.

    Asymmetric: scale = (max - min) / (qmax - qmin), zero_point = qmin - round(min / scale).
    Symmetric:  scale = max(|min|, |max|) / qmax, zero_point = 0.
    The range is first widened to hold 0, so real 0 (zero padding, ReLU's zeros) is exact.
    Scalars give 0-d arrays, per-channel minima and maxima give one entry per channel."""
    lo = np.minimum(np.asarray(min_val, np.float64), 0.0)
    hi = np.maximum(np.asarray(max_val, np.float64), 0.0)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError(f"cannot quantize a range that is not finite: min {min_val}, max {max_val}")
    qmin, qmax = qrange(dtype, symmetric)
    eps = np.finfo(np.float32).eps  # an all-zero channel still needs a scale > 0 (its q are all 0)
    if symmetric:
        scale = np.maximum(np.maximum(-lo, hi) / qmax, eps).astype(np.float32)
        return scale, np.zeros(scale.shape, np.int32)
    scale = np.maximum((hi - lo) / (qmax - qmin), eps).astype(np.float32)
    zero_point = np.clip(qmin - np.rint(lo / scale), qmin, qmax).astype(np.int32)
    return scale, zero_point


def _along(v: Any, axis: int | None, ndim: int) -> np.ndarray:
    """A per-channel vector shaped to broadcast along `axis` of an ndim array: (C,) -> (1, C, 1, 1)."""
    v = np.asarray(v)
    if axis is None or v.ndim == 0:
        return v
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


def quantize(x: Any, scale: Any, zero_point: Any, dtype: Any = np.int8, axis: int | None = None) -> np.ndarray:
    """q = clamp(round(x / scale) + zero_point, qmin, qmax) as dtype (rounding half to even).

    scale and zero_point are scalars, or vectors with one entry per index of `axis` (per channel).
    Inside the calibrated range the round trip errs by at most scale / 2; outside, values clip."""
    qmin, qmax = qrange(dtype)
    x = np.asarray(x)
    x = x if x.dtype.kind == "f" else x.astype(np.float32)
    scale = _along(scale, axis, x.ndim).astype(x.dtype)
    q = np.rint(x / scale)
    q += _along(zero_point, axis, x.ndim)
    np.clip(q, qmin, qmax, out=q)
    return q.astype(dtype)


def dequantize(q: Any, scale: Any, zero_point: Any, axis: int | None = None) -> np.ndarray:
    """x = scale * (q - zero_point), as float32 (q - zero_point is taken in int32, exactly)."""
    q = np.asarray(q)
    shifted = q.astype(np.int32) - _along(zero_point, axis, q.ndim).astype(np.int32)
    return shifted.astype(np.float32) * _along(scale, axis, q.ndim).astype(np.float32)


def accumulator_dtype(k: int) -> type[np.floating]:
    """The float type in which a BLAS product of int8 matrices with inner size k is exact.

    Every product of two int8 values is an integer with |a b| <= 128 * 128 = 2^14, so every
    partial sum, in whatever order or blocking BLAS adds them (fused multiply-adds included),
    is an integer of size at most k * 2^14. A float holds every integer up to 2^24 (float32)
    or 2^53 (float64) exactly, so no step ever rounds: float32 is exact for k <= 1024, float64
    for any k whose sums fit in int32. Both give bit for bit the sums an int32 accumulator would."""
    return np.float32 if k * _PRODUCT_MAX <= 2**24 else np.float64


def check_accumulator(k: int) -> None:
    """Raise if int8 sums of length k (plus a zero-point term as large) could overflow int32."""
    if 2 * k * _PRODUCT_MAX > INT32_MAX:
        raise OverflowError(f"an int8 dot product of length {k} could overflow the int32 accumulator (k must be <= 65535)")


def int_matmul(a: np.ndarray, b: np.ndarray, method: str = "blas") -> np.ndarray:
    """a @ b for integer matrices (int8 values), summed exactly, returned as int32.

    method="blas": converted to the float type `accumulator_dtype` proves exact, multiplied by
    BLAS (fast, and exact). method="int32": NumPy's own integer matmul on int32 copies (no BLAS:
    a plain loop, slower; kept as the reference the tests compare with)."""
    k = a.shape[-1]
    check_accumulator(k)
    if method == "int32":
        return np.matmul(a.astype(np.int32), b.astype(np.int32))
    if method != "blas":
        raise ValueError(f"method must be 'blas' or 'int32', got {method!r}")
    dtype = accumulator_dtype(k)
    return np.matmul(a.astype(dtype), b.astype(dtype)).astype(np.int32)
