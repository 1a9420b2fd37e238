"""Making tensors: factories with PyTorch's signatures, the random generator, and the
functions that take several tensors (cat, stack, where)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .dtypes import _default_float, as_array, int64, result_type
from .ops.elementwise import Where
from .ops.shape import Cat
from .tensor import Tensor

_generator = np.random.default_rng()


def default_generator() -> np.random.Generator:
    """The generator behind rand, randn, init, dropout and shuffling (seeded by manual_seed)."""
    return _generator


def manual_seed(seed: int) -> np.random.Generator:
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def get_rng_state() -> dict:
    """The generator's state as plain JSON-able data (for checkpoints)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    _generator.bit_generator.state = state


def _shape(size: Sequence[Any]) -> tuple[int, ...]:
    """zeros(2, 3) and zeros((2, 3)) both mean shape (2, 3)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"sizes must be non-negative integers, got {tuple(size)}")
    return tuple(int(n) for n in size)


def _new(array: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(array, requires_grad=requires_grad)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of data (floats become float32, ints int64)."""
    return _new(np.array(as_array(data, dtype)), requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing the array's memory."""
    return Tensor(array)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.zeros(_shape(size), dtype or _default_float), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.ones(_shape(size), dtype or _default_float), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    size = (size,) if isinstance(size, int) else tuple(size)
    dtype = dtype or as_array(fill_value).dtype
    return _new(np.full(_shape(size), fill_value, dtype), requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.zeros(t.shape, dtype or t.dtype), requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.ones(t.shape, dtype or t.dtype), requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.full(t.shape, fill_value, dtype or t.dtype), requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """[start, end) in steps; int64 for integer arguments, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = int64 if all(isinstance(v, (int, np.integer)) for v in (start, end, step)) else _default_float
    return _new(np.arange(start, end, step).astype(dtype), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.linspace(start, end, steps).astype(dtype or _default_float), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.eye(n, m, dtype=dtype or _default_float), requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    array = _generator.random(_shape(size), dtype=np.float64).astype(dtype or _default_float)
    return _new(array, requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    array = _generator.standard_normal(_shape(size)).astype(dtype or _default_float)
    return _new(array, requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), dtype: Any = None) -> Tensor:
    """Integers in [low, high); randint(high, size) starts at 0, as PyTorch."""
    if isinstance(high, (tuple, list)):  # randint(high, size)
        high, size = None, high
    if high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, int) else tuple(size)
    return _new(_generator.integers(low, high, _shape(size)).astype(dtype or int64), False)


def randperm(n: int, dtype: Any = None) -> Tensor:
    return _new(_generator.permutation(n).astype(dtype or int64), False)


def rand_like(t: Tensor, dtype: Any = None) -> Tensor:
    return rand(*t.shape, dtype=dtype or t.dtype)


def randn_like(t: Tensor, dtype: Any = None) -> Tensor:
    return randn(*t.shape, dtype=dtype or t.dtype)


def _common(tensors: Sequence[Tensor]) -> list[Tensor]:
    """The tensors cast to one dtype by PyTorch's promotion."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = result_type(dtype, t.dtype)
    return [t.to(dtype) for t in tensors]


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; the others must match."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    ndim = tensors[0].ndim
    for t in tensors:
        others = [n for i, n in enumerate(t.shape) if i != dim % ndim]
        first = [n for i, n in enumerate(tensors[0].shape) if i != dim % ndim]
        if t.ndim != ndim or others != first:
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"cat: shapes {shapes} must match except in dim {dim}")
    return Cat.apply(*_common(tensors), dim=dim % ndim)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if len({t.shape for t in tensors}) > 1:
        raise ValueError(f"stack needs tensors of one shape, got {[tuple(t.shape) for t in tensors]}")
    dim = dim % (tensors[0].ndim + 1)
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """input where condition holds, else other (all three broadcast together)."""
    cond = condition if isinstance(condition, Tensor) else Tensor(np.asarray(condition))
    if cond.dtype != np.bool_:
        cond = cond.to(np.bool_)
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor(as_array(input))
    a = input if isinstance(input, Tensor) else other._lift(input)
    b = other if isinstance(other, Tensor) else a._lift(other)
    a, b = _common([a, b])
    return Where.apply(cond, a, b)
