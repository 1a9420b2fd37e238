"""Runs page: loss, accuracy and learning-rate curves (several runs overlaid) and the runs table."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import plotly.graph_objects as go

from .common import base_layout, empty, finite_or_none

Series = dict[str, Any]  # {"name", "steps", "values", optional "dash": "solid" | "dot"}


def curves(series: list[Series], title: str, y_title: str, log_y: bool = False, uirevision: str = "curves") -> go.Figure:
    """One line per series over the steps; NaN and Inf values are gaps; hover gives exact values."""
    drawn = [s for s in series if len(s.get("steps", ())) > 0]
    if not drawn:
        return empty(f"{title}: no data yet", uirevision)
    fig = go.Figure()
    for s in drawn:
        steps = np.asarray(s["steps"])
        values = finite_or_none(s["values"])
        if log_y:
            values[values <= 0] = np.nan
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=values,
                name=s["name"],
                mode="lines+markers" if len(steps) <= 30 else "lines",
                line=dict(dash=s.get("dash") or "solid", width=1.8),
                marker=dict(size=5),
                hovertemplate=f"{s['name']}<br>step %{{x}}<br>{y_title} %{{y:.8g}}<extra></extra>",
            )
        )
    base_layout(fig, title, uirevision, legend=dict(orientation="h", y=-0.2), hovermode="closest")
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text=y_title, type="log" if log_y else "linear")
    return fig


def loss_series(name: str, steps_columns: dict[str, np.ndarray], scalars: dict[str, tuple]) -> list[Series]:
    """The training loss of every step, and the validation loss (tag val/loss) when logged."""
    out = []
    steps, loss = steps_columns.get("step", ()), np.asarray(steps_columns.get("loss", ()), dtype=float)
    if len(steps) and not np.isnan(loss).all():
        out.append(dict(name=f"{name} train loss", steps=np.asarray(steps), values=loss, dash="solid"))
    for tag in ("val/loss", "val_loss"):
        if tag in scalars and len(scalars[tag][0]):
            s, v = scalars[tag]
            out.append(dict(name=f"{name} val loss", steps=np.asarray(s), values=np.asarray(v, float), dash="dot"))
            break
    return out


def metric_series(name: str, scalars: dict[str, tuple]) -> list[Series]:
    """Accuracy-like scalars (train/accuracy, val/accuracy, any tag with 'acc'); validation dotted."""
    out = []
    for tag in sorted(scalars, key=lambda t: (not t.startswith("train"), t)):
        if "acc" not in tag.lower() or not len(scalars[tag][0]):
            continue
        s, v = scalars[tag]
        out.append(
            dict(name=f"{name} {tag}", steps=np.asarray(s), values=np.asarray(v, float), dash="dot" if "val" in tag else "solid")
        )
    return out


def lr_series(name: str, steps_columns: dict[str, np.ndarray]) -> list[Series]:
    """The learning rate of every step (none when the run has no optimizer)."""
    steps, lr = steps_columns.get("step", ()), np.asarray(steps_columns.get("lr", ()), dtype=float)
    if not len(steps) or not np.isfinite(lr).any():
        return []
    return [dict(name=f"{name} lr", steps=np.asarray(steps), values=lr, dash="solid")]


def _duration(seconds: float | None) -> str:
    if seconds is None or not np.isfinite(seconds) or seconds < 0:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, s = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _number(value: Any, fmt: str) -> str:
    if value is None:
        return "—"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return format(value, fmt) if np.isfinite(value) else str(value)


def _optimizer_name(config: dict[str, Any]) -> str:
    opt = config.get("optimizer")
    if not opt:
        return "—"
    return str(opt).split("(")[0].strip() or str(opt)


def run_rows(runs: list[dict[str, Any]], now: float | None = None) -> list[dict[str, str]]:
    """Table rows in plain words: name, status, steps, loss, accuracy (the best validation accuracy,
    also as val_accuracy), parameters, optimizer, created (local time), duration, error. Each
    input: name, status, meta, last_step, last_loss, best_val_accuracy, error (None, or why the
    run cannot be read). A running run's duration counts up to `now`."""
    now = time.time() if now is None else now
    rows = []
    for r in runs:
        meta = r.get("meta") or {}
        config = meta.get("config") or {}
        created, ended = meta.get("created"), meta.get("ended")
        status = "unreadable" if r.get("error") else (r.get("status") or meta.get("status") or "—")
        end = ended if ended is not None else (now if status == "running" else None)
        last, best = r.get("last_step"), r.get("best_val_accuracy")
        params = (r.get("meta") or {}).get("parameters", config.get("parameters"))
        accuracy = "—" if best is None else _number(100 * float(best), ".1f") + " %"
        rows.append(
            dict(
                name=str(r.get("name", "?")),
                status=status,
                steps="0" if last is None else f"{int(last) + 1:,}",
                loss=_number(r.get("last_loss"), ".4g"),
                accuracy=accuracy,
                val_accuracy=accuracy,
                parameters="—" if params is None else f"{int(params):,}",
                optimizer=_optimizer_name(config),
                created="—" if created is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)),
                duration=_duration(None if created is None or end is None else end - created),
                error=str(r["error"]) if r.get("error") else "",
            )
        )
    return rows
