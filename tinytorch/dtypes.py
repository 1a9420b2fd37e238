"""dtypes, PyTorch's promotion rules, and turning Python data into arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

float16, float32, float64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
int8, int32, int64, uint8 = np.dtype("int8"), np.dtype("int32"), np.dtype("int64"), np.dtype("uint8")
bool_ = np.dtype("bool")
_default_float = float32


def _category(dtype: np.dtype) -> int:
    return {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}[dtype.kind]


def result_type(a: np.dtype, b: np.dtype, a_ndim: int = 1, b_ndim: int = 1) -> np.dtype:
    """PyTorch's promotion: a higher category wins (int64 + float32 = float32); within one
    category a 0-d tensor yields to a dimensioned one (ones(2) + tensor(1., float64) = float32)."""
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    if (a_ndim == 0) != (b_ndim == 0):
        return b if a_ndim == 0 else a
    return np.promote_types(a, b)


def as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Data as an ndarray with torch.tensor's dtypes: Python floats -> float32, ints -> int64."""
    from .tensor import Tensor  # (tensor.py imports this module first)

    if isinstance(data, Tensor):
        array = data.data
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)
    else:
        array = np.asarray(data)
        if dtype is None and array.dtype == np.float64:
            array = array.astype(_default_float)
        elif array.dtype.kind == "O" or array.dtype.kind == "U":
            raise TypeError(f"cannot make a tensor from {type(data).__name__} data {data!r:.60}")
    return array if dtype is None else array.astype(dtype, copy=False)
