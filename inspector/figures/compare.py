"""Compare page: two runs side by side. Memory by category against the prediction (parameters
P, gradients +P, plain SGD +0, momentum +P, Adam +2P), one sentence with the measured ratio, and
loss and step time on a shared axis."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import plotly.graph_objects as go

from .common import CATEGORIES, CATEGORY_COLORS, base_layout, empty, fmt_bytes
from .runs import curves

# Optimizer state per parameter element, in parameter-sized copies.
_STATE = {"sgd": 0, "adam": 2, "adamw": 2, "rmsprop": 1, "adagrad": 1}


def _option(text: str, name: str) -> str | None:
    """An option's value from "SGD(momentum=0.9)" or a PyTorch-style repr ("momentum: 0.9")."""
    m = re.search(rf"\b{name}\s*[=:]\s*([^\s,)]+)", text)
    return m.group(1) if m else None


def _truthy(value: str | None) -> bool:
    if value is None:
        return False
    try:
        return float(value) != 0
    except ValueError:
        return value.strip("'\"").lower() == "true"


def optimizer_name(optimizer: str) -> str:
    """The optimizer's class name with its memory-relevant options: "SGD(momentum=0.9)", "Adam"."""
    base = re.match(r"\s*([A-Za-z_]\w*)", str(optimizer or ""))
    name = base.group(1) if base else str(optimizer)
    extras = [f"{k}={_option(optimizer, k)}" for k in ("momentum", "amsgrad", "centered") if _truthy(_option(optimizer, k))]
    return f"{name}({', '.join(extras)})" if extras else name


def predicted_state_bytes(optimizer: str, param_bytes: int) -> int:
    """Bytes of optimizer state the optimizer keeps for `param_bytes` of parameters: plain SGD 0,
    SGD with momentum P, Adam/AdamW 2P (3P with amsgrad), RMSprop P (+P momentum, +P centered),
    Adagrad P. Raises ValueError for an optimizer it does not know."""
    text = str(optimizer or "")
    key = (re.match(r"\s*([A-Za-z_]\w*)", text) or [None, ""])[1].lower()
    if key not in _STATE:
        raise ValueError(f"no memory prediction for optimizer {optimizer!r}; known: SGD, Adam, AdamW, RMSprop, Adagrad")
    copies = _STATE[key]
    if key == "sgd" and _truthy(_option(text, "momentum")):
        copies += 1
    if key.startswith("adam") and _truthy(_option(text, "amsgrad")):
        copies += 1
    if key == "rmsprop":
        copies += _truthy(_option(text, "momentum")) + _truthy(_option(text, "centered"))
    return int(copies * int(param_bytes))


def ratio_statement(name: str, optimizer: str, param_bytes: int, by_category: dict[str, int]) -> str:
    """One sentence: "Adam optimizer state = 2.00 × parameter bytes (measured 1,234,560 B of state
    for 617,280 B of parameters) in run adam"."""
    label = optimizer_name(optimizer)
    state = int(by_category.get("optimizer_state", 0) or 0)
    if not param_bytes:
        return f"{label} in run {name}: no parameter bytes recorded yet"
    text = (f"{label} optimizer state = {state / param_bytes:.2f} × parameter bytes (measured {state:,} B of state "
            f"for {int(param_bytes):,} B of parameters) in run {name}")  # fmt: skip
    try:
        predicted = predicted_state_bytes(optimizer, param_bytes) / param_bytes
        text += f"; predicted {predicted:.2f} ×"
    except ValueError:
        pass
    return text


def memory_bars(runs: list[dict[str, Any]], uirevision: str = "memory_bars") -> go.Figure:
    """Measured bytes per category per run (stacked in CATEGORIES order), with the predicted
    levels drawn over each bar: parameters P, + gradients P, + optimizer state."""
    if not runs:
        return empty("choose runs with a traced step to compare", uirevision)
    names = [r["name"] for r in runs]
    fig = go.Figure()
    for c in CATEGORIES:
        values = [int((r.get("by_category") or {}).get(c, 0) or 0) for r in runs]
        if any(values):
            fig.add_trace(go.Bar(x=names, y=values, name=c.replace("_", " "), marker_color=CATEGORY_COLORS[c], meta=c,
                                 customdata=[fmt_bytes(v, exact=True) for v in values],
                                 hovertemplate=f"%{{x}}<br>{c.replace('_', ' ')}: %{{customdata}}<extra></extra>"))  # fmt: skip
    lx, ly, text = [], [], []
    for r in runs:
        p = int(r.get("param_bytes") or 0)
        levels = [("parameters P", p), ("+ gradients P", 2 * p)]
        try:
            state = predicted_state_bytes(r.get("optimizer", ""), p)
            copies = state / p if p else 0
            levels.append((f"+ {optimizer_name(r.get('optimizer', ''))} state {copies:g}P", 2 * p + state))
        except ValueError:
            pass
        for label, y in levels:
            lx.append(r["name"])
            ly.append(y)
            text.append(f"predicted: {label} = {fmt_bytes(y, exact=True)}")
    fig.add_trace(go.Scatter(x=lx, y=ly, mode="markers", name="predicted", text=text, hovertemplate="%{x}<br>%{text}<extra></extra>",
                             marker=dict(symbol="line-ew-open", size=70, line=dict(width=3, color="#111"))))  # fmt: skip
    base_layout(fig, "Memory by category, measured (bars) and predicted (lines)", uirevision, barmode="stack",
                legend=dict(orientation="h", y=-0.18))  # fmt: skip
    fig.update_yaxes(title_text="bytes at the end of the first traced step")
    fig.update_xaxes(title_text="run")
    return fig


def loss_figure(series_a: list[dict], series_b: list[dict], title: str = "Loss", uirevision: str = "loss_figure") -> go.Figure:
    """Two runs' loss series (runs.loss_series) on one shared step axis; the second run dotted."""
    return curves(list(series_a) + [{**s, "dash": "dot"} for s in series_b], title, "loss", uirevision=uirevision)


def duration_series(name: str, steps_columns: dict[str, np.ndarray]) -> list[dict]:
    """Step duration in milliseconds per step, from RunReader.steps()."""
    steps = np.asarray(steps_columns.get("step", ()))
    if not len(steps):
        return []
    return [dict(name=f"{name} step time", steps=steps, values=1e3 * np.asarray(steps_columns["duration"], dtype=float))]


def _as_series(args: tuple) -> list[dict]:
    """Accepts series (dicts), lists of series, (name, RunReader.steps()) pairs, or name, steps, ..."""
    out, items = [], list(args)
    while items:
        item = items.pop(0)
        if isinstance(item, str) and items and isinstance(items[0], dict):
            out.append(duration_series(item, items.pop(0)))
        elif isinstance(item, tuple) and len(item) == 2:
            out.append(duration_series(*item))
        elif isinstance(item, dict):
            out.append([item])
        else:
            out.append(list(item))
    return [{**s, "dash": "dot"} if i % 2 else s for i, group in enumerate(out) for s in group]


def step_time_figure(*runs: Any, title: str = "Step time", uirevision: str = "step_time_figure") -> go.Figure:
    """Step duration over steps for two (or more) runs on a shared axis. Each run is a pair
    (name, RunReader.steps()), a series dict {name, steps, values (ms)} or a list of them
    (duration_series); or name, steps, name, steps. The second run is dotted."""
    return curves(_as_series(runs), title, "step time (ms)", uirevision=uirevision)
