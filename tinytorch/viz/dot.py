"""Graph -> DOT. Forward: data flows from inputs to the output. Backward: gradients flow from
the output back, each op shown as its backward with what it saved."""

from __future__ import annotations

import numpy as np

from .graph import GNode, Graph
from .render import GraphView

_RECORD_SPECIALS = str.maketrans({c: f"\\{c}" for c in "{}|<>"})


def _values(v: np.ndarray) -> str:
    if v.ndim == 0:
        return f"{float(v):.4f}"
    return np.array2string(v, precision=4, separator=", ", max_line_width=60, suppress_small=True).replace("\n", " ")


def _bytes(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _tensor_line(n: GNode) -> str:
    if n.shape is None:
        return ""
    shape = "(" + ", ".join(map(str, n.shape)) + ")"
    return " ".join(x for x in (shape, n.dtype or "", _bytes(n.nbytes)) if x)


def _label(n: GNode, backward: bool) -> tuple[str, dict[str, str]]:
    """The label and the DOT attributes of one node."""
    if n.kind == "leaf":  # micrograd: { name | data | grad }
        parts = [n.op if n.op != "Tensor" else _tensor_line(n)]
        parts.append(f"data {_values(n.value)}" if n.value is not None else _tensor_line(n))
        if n.grad is not None:
            parts.append(f"grad {_values(n.grad)}")
        elif n.stats.get("grad_norm") is not None:
            parts.append(f"|grad| {n.stats['grad_norm']:.3g}")
        return "{ " + " | ".join(p.translate(_RECORD_SPECIALS) for p in parts if p) + " }", {
            "shape": "record",
            "fillcolor": "#fff7d6",
        }
    if n.kind == "fold":
        lines = [n.op, f"{int(n.stats['ops'])} ops, {_bytes(n.nbytes)}"]
        if n.stats.get("time_ms"):
            lines.append(f"{n.stats['time_ms']:.2f} ms")
        return "\n".join(lines), {"shape": "box3d", "fillcolor": "#e6e6e6"}
    lines = [f"{n.op}Backward" if backward else n.op]
    if n.module:
        lines[0] += f"  [{n.module}]"
    if backward and n.saved:
        lines.append("saved " + " ".join("(" + ", ".join(map(str, s)) + ")" for s in n.saved))
    lines.append(_tensor_line(n))
    if n.value is not None and not backward:
        lines.append(f"data {_values(n.value)}")
    if n.grad is not None:
        lines.append(f"grad {_values(n.grad)}")
    for key in ("time_ms", "backward_ms"):
        if key in n.stats and (key == "backward_ms") == backward:
            lines.append(f"{n.stats[key]:.3f} ms")
    lines.extend(f"+ {b}" for b in n.badges[:4])
    if len(n.badges) > 4:
        lines.append(f"+ {len(n.badges) - 4} more")
    return "\n".join(x for x in lines if x), {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbe9f6"}


def to_dot(graph: Graph, direction: str = "forward", title: str | None = None) -> GraphView:
    """A GraphView (graphviz.Digraph) of the graph; the node with the first NaN/Inf is red."""
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
    backward = direction == "backward"
    g = GraphView(name=title or "graph", graph_attr={"rankdir": "BT" if backward else "TB", "fontsize": "10"},
                  node_attr={"style": "filled", "fontname": "Helvetica", "fontsize": "10"}, edge_attr={"arrowsize": "0.6"})  # fmt: skip
    if title:
        g.attr(label=title, labelloc="t")
    for n in graph.nodes:
        label, attrs = _label(n, backward)
        if n.nan:
            attrs = {**attrs, "fillcolor": "#f4a6a6", "color": "#c00000", "penwidth": "2"}
        g.node(n.id, label, **attrs)
    for a, b in graph.edges:
        g.edge(b, a) if backward else g.edge(a, b)
    return g
