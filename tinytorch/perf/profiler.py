"""The profiler: an OpHook that times every op of the code it wraps, forward and backward apart
(backward is measured, not assumed to be 2x forward), with each op's FLOPs from the formula
declared next to it, and bytes allocated.

    with tinytorch.perf.profile() as prof:
        loss = model(x).sum(); loss.backward()
    print(prof.text())               # by op type; prof.table(by="module") for modules
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import function
from ..function import OpHook, run


@dataclass
class Event:
    phase: str  # forward, backward, optimizer
    op: str
    module: str
    seconds: float
    flops: int
    allocated: int  # bytes of the new arrays it returned
    moved: int  # bytes read and written (inputs + outputs), for the arithmetic intensity


def _new_bytes(a: Any, inputs: list[np.ndarray]) -> int:
    """Bytes of the buffer behind `a` when the op made it (0 when `a` is a view of an input)."""
    from ..record.memory import owner

    if not isinstance(a, np.ndarray):
        return 0
    o = owner(a)
    if o is None or any(o is owner(i) for i in inputs if isinstance(i, np.ndarray)):
        return 0
    return int(o.nbytes)


class Profile(OpHook):
    """Collects one Event per op; table() and text() summarise them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.inner: OpHook | None = None  # a recorder already running: it keeps working
        self.phase = "forward"
        self.wall = 0.0
        self._start = 0.0

    # ------------------------------------------------------------------ the hook

    def __call__(self, cls: type, inputs: tuple, attrs: dict[str, Any]) -> Any:
        start = time.perf_counter()
        out = self.inner(cls, inputs, attrs) if self.inner is not None else run(cls, inputs, attrs)
        seconds = time.perf_counter() - start
        shapes = [t.shape for t in inputs]
        self.phase = phase = function.phase_of(self.phase, cls)
        moved = sum(t.data.nbytes for t in inputs) + (0 if cls.inplace else out.data.nbytes)
        scope = function._scope[-1] if function._scope else ""
        made = 0 if cls.inplace else _new_bytes(out.data, [t.data for t in inputs])
        self.events.append(Event(phase, cls.__name__, scope, seconds, cls.flops(shapes, out.shape, attrs), made, moved))
        return out

    def backward(self, node: Any, grad: np.ndarray) -> Any:
        start = time.perf_counter()
        grads = self.inner.backward(node, grad) if self.inner is not None else node.backward(node, grad)
        seconds = time.perf_counter() - start
        outs = [g for g in (grads if type(grads) is tuple else (grads,)) if g is not None]
        shapes = [s for s, _ in node.input_meta]
        out_shape = grad.shape
        flops = type(node).backward_flops(shapes, out_shape, node.attrs, node.needs_input_grad)
        saved = sum(getattr(a, "nbytes", 0) for a in node.saved_tensors or ())
        moved = grad.nbytes + saved + sum(getattr(g, "nbytes", 0) for g in outs)
        self.events.append(
            Event("backward", node.name, node.scope, seconds, flops, sum(_new_bytes(g, [grad]) for g in outs), moved)
        )
        return grads

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        if self.inner is not None:
            self.inner.set_phase(phase)

    def accumulated(self, tensor: Any) -> None:
        if self.inner is not None:
            self.inner.accumulated(tensor)

    def allocated(self, array: np.ndarray, category: str, holder: str, owner: Any = None) -> None:
        if self.inner is not None:
            self.inner.allocated(array, category, holder, owner)

    # ------------------------------------------------------------------ on and off

    def __enter__(self) -> Profile:
        self.inner = function._hook
        function._hook = self
        self.phase = "forward"
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self._start
        function._hook = self.inner

    # ------------------------------------------------------------------ summaries

    @property
    def op_seconds(self) -> float:
        return sum(e.seconds for e in self.events)

    def table(self, by: str = "op") -> list[dict[str, Any]]:
        """Rows per (op type or module, phase): calls, total and self ms, FLOPs, bytes allocated,
        arithmetic intensity (FLOPs per byte moved) and achieved GFLOP/s; slowest first.

        For modules, total includes the ops of its submodules and self only its own; an op's
        time is the time inside Function.apply (Python between ops is not attributed: see wall)."""
        if by not in ("op", "module"):
            raise ValueError(f"by must be 'op' or 'module', got {by!r}")
        rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(
            lambda: dict(calls=0, total=0.0, self=0.0, flops=0, allocated=0, moved=0)
        )
        for e in self.events:
            names = [e.op] if by == "op" else _ancestors(e.module)
            for name in names:
                r = rows[(name, e.phase)]
                r["total"] += e.seconds
                r["flops"] += e.flops
                r["allocated"] += e.allocated
                r["moved"] += e.moved
                if by == "op" or name == (e.module or "(top level)"):
                    r["calls"] += 1
                    r["self"] += e.seconds
        out = []
        for (name, phase), r in rows.items():
            out.append(dict(name=name, phase=phase, calls=r["calls"], total_ms=1e3 * r["total"], self_ms=1e3 * r["self"],
                            flops=r["flops"], allocated=r["allocated"], intensity=r["flops"] / r["moved"] if r["moved"] else 0.0,
                            gflops=r["flops"] / r["total"] / 1e9 if r["total"] > 0 else 0.0))  # fmt: skip
        return sorted(out, key=lambda r: -r["total_ms"])

    def text(self, by: str = "op", top: int = 20) -> str:
        rows = self.table(by)[:top]
        head = f"{'name':28s} {'phase':9s} {'calls':>6s} {'total ms':>10s} {'self ms':>9s} {'GFLOP':>8s} {'GFLOP/s':>8s} {'FLOP/B':>7s} {'alloc MB':>9s}"
        lines = [head, "-" * len(head)]
        for r in rows:
            lines.append(f"{r['name'][:28]:28s} {r['phase']:9s} {r['calls']:6d} {r['total_ms']:10.3f} {r['self_ms']:9.3f} "
                         f"{r['flops'] / 1e9:8.3f} {r['gflops']:8.2f} {r['intensity']:7.2f} {r['allocated'] / 2**20:9.2f}")  # fmt: skip
        lines.append(
            f"ops: {1e3 * self.op_seconds:.3f} ms of {1e3 * self.wall:.3f} ms wall ({100 * self.op_seconds / self.wall if self.wall else 0:.1f}%)"
        )
        return "\n".join(lines)

    def save(self, writer: Any, step: int) -> None:
        """Write the summaries into a run (a RunWriter or a Run) for the inspector's Profile page."""
        writer = getattr(writer, "writer", writer)
        rows = [(step, r["phase"], by, r["name"], r["calls"], r["total_ms"] / 1e3, r["self_ms"] / 1e3, r["flops"], r["allocated"])
                for by in ("op", "module") for r in self.table(by)]  # fmt: skip
        writer.add("profile", rows)
        writer.commit()


def _ancestors(module: str) -> list[str]:
    """A module and every enclosing one: "h.0.attn" -> ["h", "h.0", "h.0.attn"]; "" -> ["(top level)"]."""
    if not module:
        return ["(top level)"]
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def profile(model: Any = None, *inputs: Any, warmup: int = 1) -> Profile:
    """profile(): a context manager around any code. profile(model, x): one forward and backward
    of model(x) (after `warmup` untimed ones), profiled."""
    if model is None:
        return Profile()
    for _ in range(warmup):
        model(*inputs).sum().backward()
    model.zero_grad()
    with Profile() as prof:
        model(*inputs).sum().backward()
    return prof
