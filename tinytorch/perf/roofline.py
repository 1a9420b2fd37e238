"""This machine's roofline: measured matrix-multiply GFLOP/s and memory bandwidth, and where each
op of a profiled step sits: compute-bound above the ridge (peak FLOP/s / bandwidth), memory-bound
below it."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def _best(fn: Any, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def machine_peaks(n: int = 1024, megabytes: int = 128, repeats: int = 5) -> dict[str, float]:
    """Measured: float32 matmul GFLOP/s (n x n x n) and copy bandwidth GB/s (read + write)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    gflops = 2 * n**3 / _best(lambda: np.matmul(a, b, out=out), repeats) / 1e9
    src = np.ones(megabytes * 2**20 // 4, np.float32)
    dst = np.empty_like(src)
    bandwidth = 2 * src.nbytes / _best(lambda: np.copyto(dst, src), repeats) / 1e9
    return {"gflops": gflops, "bandwidth_gbs": bandwidth, "ridge_flops_per_byte": gflops / bandwidth}


def roofline_points(profile: Any, peaks: dict[str, float], by: str = "op") -> list[dict[str, Any]]:
    """For each profile row with FLOPs: intensity, achieved and attainable GFLOP/s, and its bound."""
    points = []
    for r in profile.table(by):
        if not r["flops"] or not r["intensity"]:
            continue
        attainable = min(peaks["gflops"], r["intensity"] * peaks["bandwidth_gbs"])
        points.append({**r, "attainable_gflops": attainable, "efficiency": r["gflops"] / attainable if attainable else 0.0,
                       "bound": "compute" if r["intensity"] >= peaks["ridge_flops_per_byte"] else "memory"})  # fmt: skip
    return points


def roofline_figure(points: list[dict[str, Any]], peaks: dict[str, float]) -> Any:
    """A log-log roofline (plotly): the two roofs and one marker per op."""
    import plotly.graph_objects as go

    xs = np.logspace(-2, 3, 200)
    roof = np.minimum(peaks["gflops"], xs * peaks["bandwidth_gbs"])
    fig = go.Figure(go.Scatter(x=xs, y=roof, mode="lines", name="roof", line=dict(color="#444")))
    for bound, color in (("memory", "#1f77b4"), ("compute", "#d62728")):
        sel = [p for p in points if p["bound"] == bound]
        fig.add_trace(go.Scatter(x=[p["intensity"] for p in sel], y=[p["gflops"] for p in sel], mode="markers+text", name=f"{bound}-bound",
                                 text=[f"{p['name']} ({p['phase'][0]})" for p in sel], textposition="top center", marker=dict(color=color, size=9)))  # fmt: skip
    fig.update_xaxes(type="log", title="arithmetic intensity (FLOP per byte moved)")
    fig.update_yaxes(type="log", title="achieved GFLOP/s")
    fig.update_layout(
        title=f"Roofline: {peaks['gflops']:.0f} GFLOP/s peak matmul, {peaks['bandwidth_gbs']:.1f} GB/s copy",
        template="plotly_white",
    )
    return fig
