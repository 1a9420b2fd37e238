"""Memory over time of any code: NumPy's exact bytes (tracemalloc), the process RSS (psutil), and,
while a recorder traces, the bytes it accounts for by category: what the framework knows about
against what the process really holds (the interpreter, BLAS buffers, caches)."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from .. import function


def _numpy_bytes() -> int:
    from ..record import numpy_traced_bytes

    return numpy_traced_bytes()


def memory_timeline(fn: Callable[..., Any], *args: Any, interval: float = 0.02, **kwargs: Any) -> dict[str, Any]:
    """Run fn(*args) while sampling every `interval` seconds; returns columns t, numpy, rss,
    recorded (bytes by category, or None outside traced steps), the peak of each, and fn's result."""
    import psutil

    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    process = psutil.Process()
    samples: list[tuple[float, int, int, dict[str, int] | None]] = []
    done = threading.Event()
    t0 = time.perf_counter()

    def sample() -> None:
        hook = function._hook
        memory = getattr(hook, "memory", None) if getattr(hook, "tracing", False) else None
        samples.append(
            (time.perf_counter() - t0, _numpy_bytes(), process.memory_info().rss, memory.by_category() if memory else None)
        )

    def sampler() -> None:
        while not done.wait(interval):
            sample()

    thread = threading.Thread(target=sampler, daemon=True)
    sample()
    thread.start()
    try:
        result = fn(*args, **kwargs)
    finally:
        done.set()
        thread.join()
        sample()
        if started:
            tracemalloc.stop()
    t, numpy_bytes, rss, recorded = (list(c) for c in zip(*samples))
    return {
        "t": t,
        "numpy": numpy_bytes,
        "rss": rss,
        "recorded": recorded,
        "peak_numpy": max(numpy_bytes),
        "peak_rss": max(rss),
        "result": result,
    }


def timeline_figure(timeline: dict[str, Any]) -> Any:
    """NumPy bytes and RSS over time, and the recorder's categories where it traced (plotly)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=timeline["t"], y=timeline["rss"], name="process RSS (psutil)", line=dict(color="#444")))
    fig.add_trace(go.Scatter(x=timeline["t"], y=timeline["numpy"], name="NumPy arrays (tracemalloc)", line=dict(color="#1f77b4")))
    categories = sorted({c for r in timeline["recorded"] if r for c in r})
    for c in categories:
        fig.add_trace(go.Scatter(x=timeline["t"], y=[(r or {}).get(c) if r else None for r in timeline["recorded"]], name=f"recorded: {c}",
                                 stackgroup="recorded", mode="lines"))  # fmt: skip
    fig.update_layout(title="Memory over time", xaxis_title="seconds", yaxis_title="bytes", template="plotly_white")
    return fig
