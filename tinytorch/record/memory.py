"""Which NumPy buffers are alive, how big, of what category, and what holds them.

A buffer is the array that owns the memory; views own none and are traced to their base.
Each buffer is registered when the recorder first meets it, with the category its maker
knows (a parameter, an optimizer slot, an op's output, a tensor saved for backward), and a
weakref finalizer reports the moment NumPy frees it. Nothing is estimated after the fact.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Buffer:
    buf: int  # a small id, unique within the run (events refer to buffers by it)
    nbytes: int
    category: str
    holder: str
    op_seq: int | None
    shape: tuple[int, ...]
    dtype: str
    phase: str | None
    module: str | None
    finalizer: Any = field(default=None, repr=False)


def owner(array: np.ndarray) -> np.ndarray | None:
    """The array that owns array's memory (itself, or the base of a view); None if NumPy does not."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array if array.base is None else None


class MemoryTracker:
    """Live buffers keyed by their owner array; every change goes to `emit(kind, buffer)`."""

    def __init__(self, emit: Callable[[str, Buffer], None], ids: Callable[[], int]) -> None:
        self.emit, self._next_id = emit, ids  # ids: a counter shared by the whole run
        self.live: dict[int, Buffer] = {}

    def find(self, array: np.ndarray) -> Buffer | None:
        if type(array) is not np.ndarray:
            return None
        o = owner(array)
        return None if o is None else self.live.get(id(o))

    def track(
        self,
        array: np.ndarray,
        category: str,
        holder: str,
        op_seq: int | None = None,
        phase: str | None = None,
        module: str | None = None,
    ) -> Buffer | None:
        """Register array's buffer if new (returning it either way); views resolve to their base."""
        if type(array) is not np.ndarray:  # a NumPy scalar from a 0-d op: no buffer of its own
            return None
        o = owner(array)
        if o is None:
            return None
        known = self.live.get(id(o))
        if known is not None:
            return known
        b = Buffer(self._next_id(), int(o.nbytes), category, holder, op_seq, tuple(o.shape), str(o.dtype), phase, module)
        b.finalizer = weakref.finalize(o, self._freed, id(o))
        self.live[id(o)] = b
        self.emit("alloc", b)
        return b

    def retag(self, array: np.ndarray, category: str, holder: str) -> None:
        """The buffer changed hands: saved for backward, became a .grad, and so on."""
        b = self.find(array)
        if b is not None and (b.category, b.holder) != (category, holder):
            b.category, b.holder = category, holder
            self.emit("retag", b)

    def _freed(self, key: int) -> None:
        b = self.live.pop(key, None)
        if b is not None:
            self.emit("free", b)

    def stop(self) -> None:
        """Forget every buffer (the traced step is over); later frees are not reported."""
        for b in self.live.values():
            b.finalizer.detach()
        self.live.clear()

    def total(self) -> int:
        return sum(b.nbytes for b in self.live.values())

    def by_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.live.values():
            out[b.category] = out.get(b.category, 0) + b.nbytes
        return out
