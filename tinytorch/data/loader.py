"""DataLoader: batches of a dataset as Tensors, in order or shuffled by a generator that a
checkpoint can save and restore (`loader.generator.bit_generator.state`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..creation import default_generator
from ..tensor import Tensor
from .dataset import default_collate


def _to_tensors(batch: Any) -> Any:
    """Arrays become Tensors (keeping their dtype), field by field; anything else stays."""
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, (np.ndarray, np.generic)):
        return Tensor(np.asarray(batch))
    if isinstance(batch, (tuple, list)):
        return tuple(_to_tensors(b) for b in batch)
    if isinstance(batch, dict):
        return {key: _to_tensors(value) for key, value in batch.items()}
    return batch


class DataLoader:
    """Iterates a dataset in batches of Tensors. A shuffled epoch draws one permutation from
    `generator` (np.random.default_rng(seed) if seed is given, the generator passed, else
    tinytorch.default_generator() read at iteration time). Datasets with `get_batch` are
    batched by indexing whole arrays; others by `__getitem__` per index and `collate_fn`."""

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        generator: np.random.Generator | None = None,
        collate_fn: Callable[[list], Any] | None = None,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if seed is not None and generator is not None:
            raise ValueError("pass seed or generator, not both")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.collate_fn, self.transform = collate_fn, transform
        self._generator = np.random.default_rng(seed) if seed is not None else generator

    @property
    def generator(self) -> np.random.Generator:
        """The generator that orders the next shuffled epoch."""
        return self._generator if self._generator is not None else default_generator()

    @generator.setter
    def generator(self, generator: np.random.Generator | None) -> None:
        self._generator = generator

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        # The permutation is drawn here, not at the first next(), so a state restored
        # before iter(loader) gives exactly the order that followed the save.
        n = len(self.dataset)
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        return self._batches(order)

    def _batches(self, order: np.ndarray) -> Iterator[Any]:
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self._fetch(order[start : start + self.batch_size])

    def _fetch(self, indices: np.ndarray) -> Any:
        get_batch = getattr(self.dataset, "get_batch", None)
        if self.collate_fn is None and get_batch is not None:
            batch = get_batch(indices)
        else:  # torch's semantics: a collate_fn receives the list of samples
            batch = (self.collate_fn or default_collate)([self.dataset[int(i)] for i in indices])
        if self.transform is not None:
            if isinstance(batch, (tuple, list)):
                batch = (self.transform(batch[0]), *batch[1:])
            else:
                batch = self.transform(batch)
        return _to_tensors(batch)

    def __repr__(self) -> str:
        return f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last})"
