"""Graph page: a traced step's autograd graph at Graphviz dot's positions, coloured by time,
bytes or gradient norm, clickable (each node's customdata is its id), and a node's card.

The layout (dot positions) is computed once per graph by the caller; node_colors / node_style
give what a live view restyles without laying the graph out again."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

import tinytorch
from tinytorch.viz import GNode, Graph

from .common import base_layout, empty, fmt_bytes

COLOR_BY = ("time", "bytes", "grad", "kind")
COLORSCALE = [[0.0, "#f7fbff"], [0.35, "#c6dbef"], [0.7, "#fdae6b"], [1.0, "#e6550d"]]
MISSING = "#e4e4e4"  # nodes without the quantity (no parameter for "grad")
KINDS = ("op", "leaf", "fold")
NAN_COLOR, SELECTED_COLOR = "#d62728", "#1a3fd6"


def _grad_norms(n: GNode) -> dict[str, float]:
    norms = {k[4:]: v for k, v in n.stats.items() if k.startswith("|g| ")}
    if not norms and "grad_norm" in n.stats:
        norms = {n.op: n.stats["grad_norm"]}
    return norms


def node_colors(graph: Graph, color_by: str = "time") -> tuple[list[float], str]:
    """One value per node (NaN where it has none) and the colour bar's title.

    time: forward + backward ms; bytes: output bytes; grad: the largest gradient norm |g| among the
    parameters it uses; kind: 0 op, 1 leaf, 2 fold."""
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be one of {COLOR_BY}, got {color_by!r}")
    values = []
    for n in graph.nodes:
        if color_by == "time":
            parts = [n.stats[k] for k in ("time_ms", "backward_ms") if k in n.stats]
            values.append(float(sum(parts)) if parts else math.nan)
        elif color_by == "bytes":
            values.append(math.nan if n.nbytes is None else float(n.nbytes))
        elif color_by == "grad":
            norms = [v for v in _grad_norms(n).values() if v is not None]
            values.append(float(max(norms, key=lambda v: v if math.isfinite(v) else math.inf)) if norms else math.nan)
        else:
            values.append(float(KINDS.index(n.kind)) if n.kind in KINDS else math.nan)
    title = {"time": "time (ms), forward + backward", "bytes": "output bytes", "grad": "largest |g| of its parameters",
             "kind": "node kind"}[color_by]  # fmt: skip
    return values, title


def node_style(graph: Graph, color_by: str = "time") -> dict[str, Any]:
    """The marker update a view applies to the nodes trace (the last trace): colours (a grey
    colour string where a node has no value, since null would draw dark grey) and the colour bar.
    The range is left automatic, so a restyle rescales."""
    values, title = node_colors(graph, color_by)
    colorbar = dict(title=dict(text=title, side="right"), thickness=12, lenmode="pixels", len=320, y=1, yanchor="top")
    if color_by == "kind":
        colorbar.update(tickvals=[0, 1, 2], ticktext=list(KINDS))
    colors = [v if math.isfinite(v) else MISSING for v in values]
    return {"color": colors, "colorbar": colorbar, "colorscale": COLORSCALE}


def _label(n: GNode) -> str:
    return n.op


def _shape(shape: Any) -> str:
    return "—" if shape is None else "(" + ", ".join(str(int(s)) for s in shape) + (",)" if len(shape) == 1 else ")")


def _hover(n: GNode) -> str:
    lines = [f"<b>{n.op}</b>  ({n.id})", f"module: {n.module or '(top level)'}"]
    if n.kind == "fold":
        lines.append(f"folded: {int(n.stats.get('ops', len(n.members)))} ops")
    lines.append(f"output: {_shape(n.shape)} {n.dtype or ''}, {fmt_bytes(n.nbytes, exact=True)}")
    if "time_ms" in n.stats:
        lines.append(
            f"time: {n.stats['time_ms']:.4f} ms forward"
            + (f" + {n.stats['backward_ms']:.4f} ms backward" if "backward_ms" in n.stats else "")
        )
    for name, norm in _grad_norms(n).items():
        lines.append(f"|g| {name}: {norm:.6g}")
    other = [b for b in n.badges if b.startswith("const")]
    if other:
        lines.append("constants: " + ", ".join(b[6:] for b in other))
    if n.saved:
        lines.append("saved for backward: " + " ".join(_shape(s) for s in n.saved))
    if n.nan:
        lines.append("<b>first NaN / Inf of the run</b>")
    return "<br>".join(lines)


def node_fills(graph: Graph, color_by: str = "time") -> list[str]:
    """Each node's fill colour on COLORSCALE (MISSING where it has no value)."""
    values, _ = node_colors(graph, color_by)
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = hi - lo or 1.0
    return [sample_colorscale(COLORSCALE, (v - lo) / span)[0] if math.isfinite(v) else MISSING for v in values]


def graph_figure(graph: Graph, positions: dict[str, dict[str, float]], color_by: str = "time", selected: str | None = None,
                 uirevision: str = "graph_figure", title: str | None = None, edge_paths: list[dict] | None = None) -> go.Figure:  # fmt: skip
    """The graph at dot's positions (points, y up) and sizes: nodes are boxes in data
    coordinates, so they scale with the zoom and never overlap, filled by `color_by`; edges end
    in arrowheads; the first NaN node is outlined red, the selected one blue. Traces: "edges",
    "arrows", and last "nodes" (centres, customdata = node ids, carrying the colour bar), so a
    view restyles data[-1] with node_style() and the boxes (layout.shapes) with node_fills().
    edge_paths (tinytorch.viz.layout()["edges"]): dot's routes around the boxes; without them
    edges are straight lines between centres."""
    nodes = [n for n in graph.nodes if n.id in positions]
    if not nodes:
        return empty("no graph: this step was not traced", uirevision)
    pos = {n.id: (positions[n.id]["x"], positions[n.id]["y"]) for n in nodes}
    ex, ey, ax, ay, angles = [], [], [], [], []
    routes = [(e["tail"], e["head"], e["points"]) for e in edge_paths or [] if len(e["points"]) >= 2]
    if not routes:
        for a, b in graph.edges:
            if a in pos and b in pos:
                (x0, y0), (x1, y1) = pos[a], pos[b]
                h = positions[b]["height"] / 2 + 3  # the arrowhead sits just outside the consumer's box
                length = math.hypot(x1 - x0, y1 - y0) or 1.0
                routes.append((a, b, [(x0, y0), (x1 - (x1 - x0) * h / length, y1 - (y1 - y0) * h / length)]))
    for a, b, points in routes:
        if a not in pos or b not in pos:
            continue
        ex += [p[0] for p in points] + [None]
        ey += [p[1] for p in points] + [None]
        (x0, y0), (x1, y1) = points[-2], points[-1]
        ax.append(x1)
        ay.append(y1)
        angles.append(math.degrees(math.atan2(x1 - x0, y1 - y0)))  # clockwise from up, screen = data (equal axes)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", name="edges", line=dict(color="#9a9a9a", width=1.2), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=ax, y=ay, mode="markers", name="arrows", hoverinfo="skip",
                             marker=dict(symbol="triangle-up", size=8, angle=angles, color="#7a7a7a")))  # fmt: skip
    sub = Graph(nodes, [])
    fills = node_fills(sub, color_by)
    first_nan = next((n.id for n in nodes if n.nan), None)
    for n, fill in zip(nodes, fills):
        x, y = pos[n.id]
        w, h = positions[n.id]["width"] / 2, positions[n.id]["height"] / 2
        edge = NAN_COLOR if n.id == first_nan else SELECTED_COLOR if n.id == selected else "#555"
        fig.add_shape(type="rect", x0=x - w, x1=x + w, y0=y - h, y1=y + h, fillcolor=fill, layer="below",
                      line=dict(color=edge, width=4 if edge != "#555" else 1), name=n.id)  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=[pos[n.id][0] for n in nodes],
            y=[pos[n.id][1] for n in nodes],
            mode="markers+text",
            name="nodes",
            text=[_label(n) for n in nodes],
            textposition="middle center",
            textfont=dict(size=10, color="#111"),
            customdata=[n.id for n in nodes],
            hovertext=[_hover(n) for n in nodes],
            hoverinfo="text",
            marker=dict(
                symbol="square",
                size=[max(10, min(60, positions[n.id]["width"] / 2)) for n in nodes],
                opacity=0.01,
                showscale=True,
                **node_style(sub, color_by),
            ),
        )
    )  # fmt: skip  (the markers only catch hovers and clicks and carry the colour bar)
    if first_nan is not None:
        fig.add_annotation(x=pos[first_nan][0], y=pos[first_nan][1], text="first NaN / Inf", showarrow=True, arrowcolor=NAN_COLOR,
                           font=dict(color=NAN_COLOR), ax=70, ay=-30)  # fmt: skip
    base_layout(fig, title, uirevision, showlegend=False, hovermode="closest", dragmode="pan", clickmode="event")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    # as tall as the graph (0.8 px per point), so boxes and labels stay readable; the page scrolls
    top = max(p["y"] + p["height"] / 2 for p in positions.values())
    bottom = min(p["y"] - p["height"] / 2 for p in positions.values())
    fig.update_layout(height=int(min(6000, max(420, 0.8 * (top - bottom) + 80))))
    return fig


def formula(op: str) -> str | None:
    """The first line of the op's docstring: its backward in words or math (Mul: d(a * b)/da = b, ...)."""
    cls = tinytorch.OPS.get(op.removesuffix("Backward"))
    doc = (cls.__doc__ or "").strip() if cls is not None else ""
    return doc.splitlines()[0].strip() if doc else None


def _seq(node_id: str) -> int | None:
    return int(node_id[1:]) if node_id.startswith("n") and node_id[1:].isdigit() else None


def node_card(node: GNode, op_rows: list[dict] | None = None, step: int | None = None) -> dict[str, Any]:
    """What a click on a node shows: op, module, shape, dtype, bytes, time, the backward formula
    (for a fold: the ops inside, counted), saved shapes, badges, gradient norms, and links: the
    Memory page ({"step", "op_seq"}) and the Gradients page (parameter names)."""
    by_seq = {o["seq"]: o for o in op_rows or []}
    backward = {o["node"]: o for o in op_rows or [] if o.get("phase") == "backward" and o.get("node") is not None}
    seqs = [s for s in ((_seq(m) for m in node.members) if node.kind == "fold" else [_seq(node.id)]) if s is not None]
    if node.kind == "fold":
        names = [by_seq[s]["op"] for s in seqs if s in by_seq] if by_seq else list(node.members)
        what: Any = [f"{op} × {k}" for op, k in Counter(names).items()]
    else:
        what = formula(node.op) if node.kind == "op" else None
    backward_ms = node.stats.get("backward_ms")
    if backward_ms is None and any(s in backward for s in seqs):
        backward_ms = sum(1e3 * (backward[s]["duration"] or 0.0) for s in seqs if s in backward)
    params = [b for b in node.badges if not b.startswith("const")]
    forward = by_seq.get(seqs[0]) if seqs and node.kind != "fold" else None
    return dict(
        id=node.id, kind=node.kind, op=node.op, module=node.module or "(top level)", shape=_shape(node.shape), dtype=node.dtype,
        bytes=node.nbytes, bytes_text=fmt_bytes(node.nbytes, exact=True), time_ms=node.stats.get("time_ms"), backward_ms=backward_ms,
        formula=what, saved=[_shape(s) for s in node.saved], badges=list(node.badges), grad_stats=_grad_norms(node),
        inputs=[_shape(s) for s in forward["input_shapes"]] if forward and forward.get("input_shapes") else None,
        attrs=forward.get("attrs") if forward else None,
        backward_saved=[_shape(s) for s in backward[seqs[0]]["saved"] or []] if seqs and seqs[0] in backward else None,
        value=None if node.value is None else np.asarray(node.value).tolist(),
        grad_value=None if node.grad is None else np.asarray(node.grad).tolist(), nan=node.nan,
        memory_link={"step": step, "op_seq": seqs[0] if seqs else None, "op_seqs": seqs},
        gradients_link=params,
    )  # fmt: skip
