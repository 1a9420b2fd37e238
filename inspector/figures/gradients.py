"""Gradients page: a layers x steps heatmap (log10 gradient norm, update-to-weight ratio, ...),
how one parameter's gradient distribution moves over the steps, and the alerts."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from .common import base_layout, empty

HEAT_SCALE = "Viridis"
HIST_SCALE = [[0.0, "#f7fbff"], [0.2, "#c6dbef"], [0.5, "#6baed6"], [0.8, "#2171b5"], [1.0, "#08306b"]]


def heatmap(steps: Any, names: list[str], values: Any, title: str, log10: bool = True, z_title: str | None = None,
            nonfinite: Any = None, uirevision: str = "heatmap") -> go.Figure:  # fmt: skip
    """Parameters (model order, top to bottom) x steps. NaN cells (no statistic that step) are
    blank; Inf cells, and cells flagged in `nonfinite` (a NaN gradient is stored as missing),
    are marked with a red x; with log10, exact zeros are marked with a grey circle."""
    steps, values = np.asarray(steps), np.asarray(values, dtype=np.float64)
    if values.size == 0 or not len(names):
        return empty(f"{title}: no gradient statistics yet", uirevision)
    bad = np.isinf(values)
    if nonfinite is not None:
        bad |= np.asarray(nonfinite, dtype=bool)
    zero = (values == 0) if log10 else np.zeros_like(bad)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(np.isfinite(values) & (values > 0), np.log10(np.abs(values)), np.nan) if log10 else values.copy()
    z[bad | ~np.isfinite(z)] = np.nan
    z_title = z_title or ("log10 |g|" if log10 else "value")
    fig = go.Figure(go.Heatmap(
        x=steps, y=list(names), z=z, customdata=values, colorscale=HEAT_SCALE, hoverongaps=False, name=title,
        colorbar=dict(title=dict(text=z_title, side="right"), thickness=12),
        hovertemplate="%{y}<br>step %{x}<br>value %{customdata:.6g}<br>" + z_title + " %{z:.4f}<extra></extra>",
    ))  # fmt: skip
    for mask, label, marker in (
        (bad, "non-finite (NaN or Inf)", dict(symbol="x", size=9, color="#d62728", line=dict(width=1, color="#d62728"))),
        (zero, "exactly zero", dict(symbol="circle-open", size=8, color="#555")),
    ):
        rows, cols = np.nonzero(mask)
        if len(rows):
            fig.add_trace(go.Scatter(x=steps[cols], y=[names[r] for r in rows], mode="markers", name=label, marker=marker,
                                     hovertemplate="%{y}<br>step %{x}<br>" + label + "<extra></extra>"))  # fmt: skip
    base_layout(fig, title, uirevision, legend=dict(orientation="h", y=-0.15), hovermode="closest")
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="parameter", autorange="reversed", type="category")
    return fig


def common_grid(histograms: list[dict[str, Any]], bins: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Each step's histogram (its own range) moved onto one shared grid of `bins` bins.

    Counts are split between the shared bins in proportion to the overlap (uniform within a
    bin), so every step keeps its total. Returns (edges (bins + 1,), counts (bins, steps))."""
    los = [h["lo"] for h in histograms if h["lo"] is not None and np.isfinite(h["lo"])]
    his = [h["hi"] for h in histograms if h["hi"] is not None and np.isfinite(h["hi"])]
    lo, hi = (min(los), max(his)) if los and his else (0.0, 1.0)
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    out = np.zeros((bins, len(histograms)))
    for j, h in enumerate(histograms):
        counts = np.asarray(h["counts"], dtype=np.float64)
        if h["lo"] is None or h["hi"] is None or not counts.size:
            continue
        src = np.linspace(h["lo"], h["hi"], counts.size + 1)
        width = np.diff(src)
        overlap = np.clip(np.minimum(src[1:, None], edges[None, 1:]) - np.maximum(src[:-1, None], edges[None, :-1]), 0, None)
        share = np.where(width[:, None] > 0, overlap / np.where(width > 0, width, 1)[:, None], 0.0)
        out[:, j] = counts @ share
    return edges, out


def histogram_figure(
    histograms: list[dict[str, Any]], param: str, bins: int = 64, uirevision: str = "histogram_figure"
) -> go.Figure:
    """How one parameter's gradient distribution moves: steps on x, gradient value on y (a grid
    shared by every step), the number of elements as colour (blank where none)."""
    if not histograms:
        return empty(f"{param}: no gradient histograms yet", uirevision)
    edges, counts = common_grid(histograms, bins)
    centers = (edges[:-1] + edges[1:]) / 2
    z = np.where(counts > 0, counts, np.nan)
    fig = go.Figure(go.Heatmap(
        x=[h["step"] for h in histograms], y=centers, z=z, colorscale=HIST_SCALE, hoverongaps=False, name=param,
        customdata=np.stack([edges[:-1, None].repeat(len(histograms), 1), edges[1:, None].repeat(len(histograms), 1)], -1),
        colorbar=dict(title=dict(text="elements", side="right"), thickness=12),
        hovertemplate="step %{x}<br>g in [%{customdata[0]:.4g}, %{customdata[1]:.4g})<br>%{z:.1f} elements<extra></extra>",
    ))  # fmt: skip
    fig.add_hline(y=0, line=dict(color="#999", width=1, dash="dot"))
    base_layout(fig, f"Gradient distribution of {param} over the steps", uirevision)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="gradient value")
    return fig


def alert_rows(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alerts as table rows, first step first: kind, rule, where (parameter, or op and phase), step, message."""
    rows = []
    for a in sorted(alerts, key=lambda a: (a.get("step") if a.get("step") is not None else -1, a.get("id") or 0)):
        where = a.get("param") or (f"{a['op']} ({a['phase']})" if a.get("op") and a.get("phase") else a.get("op")) or "—"
        rows.append(dict(id=a.get("id"), kind=a.get("kind"), rule=a.get("rule") or "—", where=where, parameter=a.get("param"),
                         op=a.get("op"), phase=a.get("phase"), step=a.get("step"), message=a.get("message") or ""))  # fmt: skip
    return rows


def first_by_kind(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The first alert of each kind (by step, then by the order they were written)."""
    out: dict[str, dict[str, Any]] = {}
    for row in alert_rows(alerts):
        out.setdefault(row["kind"], row)
    return out
