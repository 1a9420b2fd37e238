"""Datasets as torch.utils.data has them. In-memory ones answer `get_batch(indices)` by
indexing whole arrays, so a DataLoader never makes one Python call per sample."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..creation import default_generator
from ..tensor import Tensor


def default_collate(samples: Sequence[Any]) -> Any:
    """Samples -> one batch: arrays, tensors and numbers are stacked along a new first dim;
    tuples, lists and dicts are collated field by field (as torch's default_collate)."""
    if not samples:
        raise ValueError("default_collate needs at least one sample")
    first = samples[0]
    if isinstance(first, (tuple, list)):
        sizes = {len(s) for s in samples}
        if len(sizes) > 1:
            raise ValueError(f"default_collate: samples have different numbers of fields {sorted(sizes)}")
        return tuple(default_collate([s[k] for s in samples]) for k in range(len(first)))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (str, bytes)):
        return list(samples)
    arrays = [s.data if isinstance(s, Tensor) else s for s in samples]
    if isinstance(first, (bool, int, float)) and not isinstance(first, np.generic):
        # Python numbers take tinytorch's dtypes: bool, int64, float32
        kind = bool if isinstance(first, bool) else np.int64 if isinstance(first, int) else np.float32
        return np.array(arrays, dtype=kind)
    shapes = {np.shape(a) for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"default_collate: cannot stack samples of shapes {sorted(shapes)}; pass a collate_fn")
    return np.stack(arrays)


class Dataset:
    """A map-style dataset: `len(ds)` samples, `ds[i]` one of them."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def get_batch(self, indices: np.ndarray) -> Any:
        """The samples at indices as one batch; this fallback calls __getitem__ per index."""
        return default_collate([self[int(i)] for i in indices])


def _as_array(data: Any) -> np.ndarray:
    return data.data if isinstance(data, Tensor) else np.asarray(data)


class TensorDataset(Dataset):
    """Arrays (or tensors) sharing a first dim; sample i is (a[i] for each a).
    `transform` is applied to the batch of the first array (the inputs)."""

    def __init__(self, *tensors: Any, transform: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one array")
        arrays = tuple(_as_array(t) for t in tensors)
        sizes = [a.shape[0] if a.ndim else None for a in arrays]
        if None in sizes or len(set(sizes)) > 1:
            raise ValueError(f"TensorDataset: arrays must share their first dim, got shapes {[a.shape for a in arrays]}")
        self.tensors, self.transform = arrays, transform

    def __len__(self) -> int:
        return len(self.tensors[0])

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        first, *rest = (a[indices] for a in self.tensors)
        if self.transform is not None:
            first = self.transform(first)
        return (first, *rest)

    def __getitem__(self, index: int | slice | np.ndarray) -> tuple[np.ndarray, ...]:
        if isinstance(index, (int, np.integer)):
            # A batch of one, so transforms only ever see batches, whichever path asks.
            return tuple(b[0] for b in self.get_batch(np.array([index])))
        return self.get_batch(np.arange(len(self))[index])  # a slice or index array: a batch


class ArrayDataset(TensorDataset):
    """Inputs and class labels kept as torchvision keeps them: `.data` and `.targets` arrays."""

    def __init__(self, data: Any, targets: Any, transform: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        super().__init__(data, targets, transform=transform)

    @property
    def data(self) -> np.ndarray:
        return self.tensors[0]

    @data.setter
    def data(self, value: np.ndarray) -> None:
        self.tensors = (np.asarray(value), self.tensors[1])

    @property
    def targets(self) -> np.ndarray:
        return self.tensors[1]

    @targets.setter
    def targets(self, value: np.ndarray) -> None:
        self.tensors = (self.tensors[0], np.asarray(value))


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray) -> None:
        self.dataset, self.indices = dataset, np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} samples")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray) -> Any:
        inner = getattr(self.dataset, "get_batch", None)
        if inner is None:  # a duck-typed dataset: fall back to one call per sample
            return super().get_batch(indices)
        return inner(self.indices[indices])


def _split_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    """Fractions summing to 1 become counts (floor, then the remainder one by one from the front), as torch."""
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        if any(not 0 <= f <= 1 for f in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {list(lengths)}")
        counts = [math.floor(n * f) for f in lengths]
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
        return counts
    if any(int(x) != x or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers or fractions summing to 1, got {list(lengths)}")
    return [int(x) for x in lengths]


def random_split(dataset: Any, lengths: Sequence[float], generator: np.random.Generator | None = None) -> list[Subset]:
    """Disjoint random Subsets of the given lengths (or fractions summing to 1) covering the dataset."""
    n = len(dataset)
    counts = _split_lengths(n, lengths)
    if sum(counts) != n:
        raise ValueError(f"random_split: lengths {list(lengths)} sum to {sum(counts)}, but the dataset has {n} samples")
    order = (generator or default_generator()).permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
