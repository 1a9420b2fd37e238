"""Line-level timings with line_profiler: a module's forward and the ops' forward/backward."""

from __future__ import annotations

import linecache
from collections.abc import Callable
from typing import Any

from ..function import OPS


def line_profile(
    fn_or_module: Callable[..., Any], *args: Any, ops: bool = True, backward: bool = True, **kwargs: Any
) -> list[dict[str, Any]]:
    """Run fn(*args) once (and backward from the sum of its output) under LineProfiler; per line:
    function, file, line, hits, time_ms, per_hit_us, share of its function, and the source."""
    from line_profiler import LineProfiler

    from ..nn.module import Module

    lp = LineProfiler()
    if isinstance(fn_or_module, Module):
        for cls in type(fn_or_module).__mro__:  # the model's forward, and its submodules'
            if "forward" in vars(cls) and cls is not Module:
                lp.add_function(vars(cls)["forward"])
        for m in fn_or_module.modules():
            if "forward" in vars(type(m)):
                lp.add_function(vars(type(m))["forward"])
    else:
        lp.add_function(fn_or_module)
    if ops:
        for cls in OPS.values():
            for name in ("forward", "backward"):
                if name in vars(cls):
                    lp.add_function(getattr(cls, name))

    def call() -> None:
        out = fn_or_module(*args, **kwargs)
        if backward and getattr(out, "requires_grad", False):
            out.sum().backward()

    lp.runcall(call)
    stats = lp.get_stats()
    rows = []
    for (filename, _, name), timings in stats.timings.items():
        total = sum(t for _, _, t in timings)
        for line, hits, t in timings:
            rows.append(dict(function=name, file=filename, line=line, hits=hits, time_ms=t * stats.unit * 1e3,
                             per_hit_us=t * stats.unit * 1e6 / hits if hits else 0.0, share=t / total if total else 0.0,
                             source=linecache.getline(filename, line).rstrip()))  # fmt: skip
    return sorted(rows, key=lambda r: -r["time_ms"])
