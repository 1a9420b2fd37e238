"""Shared style of every figure: one colour per memory category and per phase, byte formatting,
and the blank "no data yet" figure."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from tinytorch.runs.schema import CATEGORIES

__all__ = ["CATEGORIES", "CATEGORY_COLORS", "PHASE_COLORS", "PHASES", "fmt_bytes", "empty", "base_layout", "finite_or_none"]

# The order to stack them in is CATEGORIES: what the model is (parameters), what training adds
# for it (gradients, optimizer state), then what one step needs while it runs.
CATEGORY_COLORS: dict[str, str] = {
    "parameter": "#1f77b4",  # blue
    "gradient": "#ff7f0e",  # orange
    "optimizer_state": "#9467bd",  # purple
    "activation": "#2ca02c",  # green
    "temporary": "#bcbd22",  # olive
    "input": "#17becf",  # teal
    "other": "#7f7f7f",  # grey
}

PHASES = ("forward", "backward", "optimizer")
PHASE_COLORS: dict[str, str] = {"forward": "#e8f1fb", "backward": "#fdeee0", "optimizer": "#efe8f6"}
PHASE_LINE_COLORS: dict[str, str] = {"forward": "#1f77b4", "backward": "#ff7f0e", "optimizer": "#9467bd"}

FONT = dict(family="Helvetica, Arial, sans-serif", size=12)


def fmt_bytes(n: Any, exact: bool = False) -> str:
    """Bytes in words: 1.5 KB (powers of 1024, as the graph labels); exact=True adds '(1,536 B)'."""
    if n is None or (isinstance(n, float) and not math.isfinite(n)):
        return "—"
    n = int(n)
    sign, value = ("-" if n < 0 else ""), float(abs(n))
    if value < 1024:
        return f"{sign}{int(value)} B"
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            text = f"{sign}{value:.1f} {unit}"
            return f"{text} ({n:,} B)" if exact else text
    return f"{n:,} B"  # not reached


def base_layout(fig: go.Figure, title: str | None, uirevision: str, **layout: Any) -> go.Figure:
    """The common look: white template, title in plain words, the stable uirevision."""
    fig.update_layout(
        template="plotly_white",
        title=dict(text=title, x=0.01, xanchor="left") if title else None,
        uirevision=uirevision,
        font=FONT,
        margin=dict(l=60, r=20, t=50 if title else 20, b=50),
        hoverlabel=dict(namelength=-1),
        **layout,
    )
    return fig


def empty(message: str, uirevision: str = "empty") -> go.Figure:
    """A blank figure with `message` centred (no axes): "no data yet", "step 3 was not traced"."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font=dict(size=15, color="#666"))
    base_layout(fig, None, uirevision)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def finite_or_none(values: Any) -> np.ndarray:
    """Float array with non-finite entries as NaN (drawn as gaps; JSON has no Infinity)."""
    a = np.asarray(values, dtype=np.float64).copy() if len(values) else np.zeros(0)
    a[~np.isfinite(a)] = np.nan
    return a
