"""Tensor's methods that only rearrange elements: reshape, permute, squeeze, expand, split,
indexing. (A mixin of Tensor, kept apart so tensor.py stays readable.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .ops.reduce import _axes
from .ops.shape import Expand, GetItem, Permute, Reshape

if TYPE_CHECKING:
    from .tensor import Tensor


class ShapeMethods:
    __slots__ = ()  # Tensor declares the slots

    def reshape(self, *shape: Any) -> Tensor:
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return Reshape.apply(self, shape=shape)

    view = reshape

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def permute(self, *dims: Any) -> Tensor:
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        if sorted(d % max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of the {self.ndim} dims of shape {self.shape}")
        return Permute.apply(self, dims=tuple(d % self.ndim for d in dims))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return Permute.apply(self, dims=tuple(dims))

    def squeeze(self, dim: Any = None) -> Tensor:
        axes = [i for i, n in enumerate(self.shape) if n == 1] if dim is None else _axes(dim, self.ndim)
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1)))

    def unsqueeze(self, dim: int) -> Tensor:
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def expand(self, *sizes: Any) -> Tensor:
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        old = (1,) * (len(sizes) - self.ndim) + self.shape
        shape = tuple(o if s == -1 else s for s, o in zip(sizes, old))
        return Expand.apply(self, shape=shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1 :])

    def split(self, split_size: Any, dim: int = 0) -> list[Tensor]:
        """Pieces of split_size along dim (the last may be smaller), or of the given sizes."""
        n = self.shape[dim]
        sizes = [min(split_size, n - i) for i in range(0, n, split_size)] if isinstance(split_size, int) else list(split_size)
        if sum(sizes) != n:
            raise ValueError(f"split sizes {sizes} do not add up to {n}, the size of dim {dim} of shape {self.shape}")
        starts = np.cumsum([0, *sizes[:-1]])
        prefix = (slice(None),) * (dim % self.ndim)
        return [self[(*prefix, slice(s, s + k))] for s, k in zip(starts, sizes)]

    def chunk(self, chunks: int, dim: int = 0) -> list[Tensor]:
        return self.split(-(-self.shape[dim] // chunks), dim)

    def __getitem__(self, index: Any) -> Tensor:
        return GetItem.apply(self, index=_index(index))


def _index(index: Any) -> Any:
    """An index with tensors turned into arrays and boolean masks into integer arrays."""
    parts = index if isinstance(index, tuple) else (index,)
    out: list = []
    for p in parts:
        if hasattr(p, "grad_fn") and isinstance(getattr(p, "data", None), np.ndarray):  # a Tensor
            p = p.data
        if isinstance(p, list):
            p = np.asarray(p) if p else np.zeros(0, np.int64)
        if isinstance(p, float) or (isinstance(p, np.ndarray) and p.dtype.kind not in "iub"):
            kind = type(p).__name__ if isinstance(p, float) else f"{p.dtype} array"
            raise IndexError(f"tensors used as indices must be integers, slices or boolean masks; got a {kind}")
        if isinstance(p, np.ndarray) and p.dtype == bool:
            out.extend(np.nonzero(p))  # a mask is the same as the indices where it is True
        else:
            out.append(p)
    return tuple(out) if isinstance(index, tuple) or len(out) != 1 else out[0]
