"""Attention page: a layers x heads grid of attention maps for one probe, and one map enlarged."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import base_layout, empty

SCALE = "Blues"


def _ticks(tokens: list | None, t: int, every: int = 1) -> dict[str, Any]:
    """Numeric axis 0..T-1 labelled with the tokens (a categorical axis would merge repeated tokens)."""
    labels = (
        [repr(str(x))[1:-1] or "␣" for x in tokens[:t]] if tokens is not None and len(tokens) >= t else [str(i) for i in range(t)]
    )
    keep = list(range(0, t, max(1, every)))
    return dict(tickmode="array", tickvals=keep, ticktext=[labels[i] for i in keep], range=[-0.5, t - 0.5])


def _hover_labels(tokens: list | None, t: int) -> list[str]:
    if tokens is None or len(tokens) < t:
        return [str(i) for i in range(t)]
    return [f"{str(tokens[i])!r} ({i})" for i in range(t)]


def grid(probe: dict[str, dict[str, Any]], max_tokens: int = 64, uirevision: str = "grid", title: str | None = None) -> go.Figure:
    """Rows = layers (probe order), columns = heads; each map queries on y (top to bottom) and keys
    on x, one colour scale 0..1 for all. Each heatmap's name is "layer L · head h" and its
    customdata holds [layer, head] in every cell, so a click names the map."""
    layers = [k for k, v in probe.items() if v.get("weights") is not None]
    if not layers:
        return empty("no attention probe yet", uirevision)
    heads = max(int(np.asarray(probe[k]["weights"]).reshape(-1, *np.shape(probe[k]["weights"])[-2:]).shape[0]) for k in layers)
    rows, cols = len(layers), heads
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"{k} · head {h}" for k in layers for h in range(cols)],
                        horizontal_spacing=min(0.04, 0.5 / max(cols, 1)), vertical_spacing=min(0.06, 0.5 / max(rows, 1)))  # fmt: skip
    for r, layer in enumerate(layers):
        w = np.asarray(probe[layer]["weights"], dtype=np.float64)
        w = w.reshape(-1, *w.shape[-2:])[:, :max_tokens, :max_tokens]  # (heads, T, T)
        t, tokens = w.shape[-1], probe[layer].get("tokens")
        labels = _hover_labels(tokens, t)
        every = max(1, t // 16)
        for h in range(w.shape[0]):
            cell = np.empty((t, t, 2), dtype=object)
            cell[..., 0], cell[..., 1] = layer, h
            fig.add_trace(go.Heatmap(
                z=w[h], x=list(range(t)), y=list(range(t)), coloraxis="coloraxis", name=f"{layer} · head {h}", customdata=cell,
                meta=[layer, h], text=[[f"{labels[q]} → {labels[k]}" for k in range(t)] for q in range(t)],
                hovertemplate=f"layer {layer}, head {h}<br>query → key: %{{text}}<br>weight %{{z:.4f}}<extra></extra>",
            ), row=r + 1, col=h + 1)  # fmt: skip
            fig.update_xaxes(_ticks(tokens, t, every), tickfont=dict(size=8), row=r + 1, col=h + 1)
            fig.update_yaxes(_ticks(tokens, t, every), tickfont=dict(size=8), autorange=False,
                             range=[t - 0.5, -0.5], row=r + 1, col=h + 1)  # fmt: skip
    base_layout(fig, title or "Attention weights: rows are layers, columns are heads (query on y, key on x)", uirevision,
                coloraxis=dict(colorscale=SCALE, cmin=0, cmax=1, colorbar=dict(title=dict(text="weight", side="right"))),
                height=max(320, 230 * rows + 60))  # fmt: skip
    fig.update_annotations(font_size=11)
    return fig


def single(weights: Any, tokens: list | None, title: str, uirevision: str = "single") -> go.Figure:
    """One attention map enlarged: query tokens on y (top to bottom), key tokens on x, 0..1."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or not w.size:
        return empty("no attention map selected", uirevision)
    t = w.shape[-1]
    labels = _hover_labels(tokens, t)
    every = max(1, t // 40)
    fig = go.Figure(go.Heatmap(
        z=w, x=list(range(t)), y=list(range(w.shape[0])), colorscale=SCALE, zmin=0, zmax=1, name=title,
        text=[[f"{labels[q] if q < len(labels) else q} → {labels[k]}" for k in range(t)] for q in range(w.shape[0])],
        colorbar=dict(title=dict(text="weight", side="right")),
        hovertemplate="query → key: %{text}<br>weight %{z:.4f}<extra></extra>",
    ))  # fmt: skip
    base_layout(fig, title, uirevision, height=max(420, 14 * t + 140))
    fig.update_xaxes(_ticks(tokens, t, every), title_text="key (attended to)", side="bottom")
    fig.update_yaxes(_ticks(tokens, w.shape[0], every), title_text="query (attending)", autorange=False, range=[w.shape[0] - 0.5, -0.5],
                     scaleanchor="x", scaleratio=1)  # fmt: skip
    return fig
