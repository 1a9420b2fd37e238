"""A drawable graph, built from a live tensor's autograd graph or from a recorded step.

Both sources become the same plain data (GNode, Graph), which fold.py folds and dot.py
draws, and which the inspector lays out. Parameters and constants are badges on the op that
uses them, not nodes of their own; leaves a user made (micrograd's a, b, c) are nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd import AccumulateGrad, _topological_order

SMALL = 16  # tensors of at most this many elements show their values, micrograd style


@dataclass
class GNode:
    id: str
    kind: str  # "op", "leaf" (a user's tensor), or "fold" (a folded module or repeated block)
    op: str  # op name, "Tensor" for leaves, module name for folds
    module: str = ""
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    nbytes: int | None = None
    value: np.ndarray | None = None  # for small tensors
    grad: np.ndarray | None = None  # for small tensors
    stats: dict[str, float] = field(default_factory=dict)  # time, gradient statistics, ...
    badges: list[str] = field(default_factory=list)  # parameters and constants it uses
    saved: list[tuple[int, ...]] = field(default_factory=list)  # shapes saved for backward
    members: list[str] = field(default_factory=list)  # for folds: the ids folded in
    prefixes: list[str] = field(default_factory=list)  # for folds: the module prefixes folded (expand these to open it)
    nan: bool = False  # its output holds the run's first NaN/Inf


@dataclass
class Graph:
    nodes: list[GNode]
    edges: list[tuple[str, str]]  # (producer, consumer), forward direction

    def node(self, id: str) -> GNode:
        return next(n for n in self.nodes if n.id == id)


def _small(array: np.ndarray | None) -> np.ndarray | None:
    return None if array is None or array.size > SMALL else np.array(array)


def _grad_summary(g: np.ndarray) -> dict[str, float]:
    return {"grad_norm": float(np.linalg.norm(g)), "grad_max": float(np.abs(g).max()) if g.size else 0.0}


def from_tensor(tensor: Any, names: dict[int, str] | None = None) -> Graph:
    """The autograd graph that made `tensor`. names maps id(parameter) -> name (model.named_parameters())."""
    names = names or {}
    if tensor.grad_fn is None:
        leaf = GNode("t0", "leaf", "Tensor", shape=tuple(tensor.shape), dtype=str(tensor.dtype), nbytes=tensor.data.nbytes,
                     value=_small(tensor.data), grad=_small(None if tensor.grad is None else tensor.grad.data))  # fmt: skip
        return Graph([leaf], [])
    order = _topological_order([tensor.grad_fn])
    ids = {id(n): f"n{i}" for i, n in enumerate(order)}
    nodes, edges = [], []
    for n in order:
        if type(n) is AccumulateGrad:
            v = n.variable
            name = names.get(id(v)) or getattr(v, "name", None)
            if _is_parameter(v):
                continue  # drawn as a badge on its users
            g = None if v.grad is None else v.grad.data
            nodes.append(GNode(ids[id(n)], "leaf", name or "Tensor", shape=tuple(v.shape), dtype=str(v.dtype), nbytes=v.data.nbytes,
                               value=_small(v.data), grad=_small(g), stats=_grad_summary(g) if g is not None else {}))  # fmt: skip
            continue
        out = n.output() if getattr(n, "output", None) is not None else None
        node = GNode(ids[id(n)], "op", n.name, module=getattr(n, "scope", ""),
                     saved=[tuple(np.shape(a)) for a in (n.saved_tensors or ()) if a is not None])  # fmt: skip
        if out is not None:
            node.shape, node.dtype, node.nbytes = tuple(out.shape), str(out.dtype), int(out.data.nbytes)
            if out.grad is not None:
                node.stats = _grad_summary(out.grad.data)
        node.value = _small(getattr(n, "value", None))
        node.grad = _small(getattr(n, "output_grad", None))
        for parent, (shape, _) in zip(n.next_functions, n.input_meta):
            if parent is None:
                node.badges.append(f"const {_shape(shape)}")
            elif type(parent) is AccumulateGrad and _is_parameter(parent.variable):
                v = parent.variable
                node.badges.append(f"{names.get(id(v), 'param')} {_shape(tuple(v.shape))}")
            else:
                edges.append((ids[id(parent)], node.id))
        nodes.append(node)
    _fill_output_shapes(nodes, edges, order, ids, tensor)
    return Graph(nodes, edges)


def _is_parameter(t: Any) -> bool:
    from ..nn.module import Parameter

    return isinstance(t, Parameter)


def _shape(shape: tuple) -> str:
    return str(tuple(shape))


def _fill_output_shapes(nodes: list[GNode], edges: list, order: list, ids: dict, root: Any) -> None:
    """A dead output's shape is its consumer's input shape (and the root's is the tensor's)."""
    by_id = {n.id: n for n in nodes}
    for n in order:
        if type(n) is AccumulateGrad:
            continue
        for slot, parent in enumerate(n.next_functions):
            if parent is not None and ids[id(parent)] in by_id and by_id[ids[id(parent)]].shape is None:
                shape, dtype = n.input_meta[slot]
                node = by_id[ids[id(parent)]]
                node.shape, node.dtype, node.nbytes = tuple(shape), str(dtype), int(np.prod(shape)) * np.dtype(dtype).itemsize
    top = by_id[ids[id(root.grad_fn)]]
    if top.shape is None:
        top.shape, top.dtype, top.nbytes = tuple(root.shape), str(root.dtype), root.data.nbytes


def from_run(reader: Any, step: int) -> Graph:
    """The forward graph of a recorded, traced step, with times, bytes and gradient statistics."""
    ops = reader.graph(step)
    if not ops["nodes"]:
        raise ValueError(f"step {step} of run {reader.name} was not traced; traced steps: {reader.traced_steps()}")
    stats = _param_stats(reader, step)
    backward = {o["node"]: o for o in reader.ops(step, "backward")}
    alerts = [a for a in reader.alerts() if a["kind"] == "anomaly" and a["step"] == step]
    nan_node = alerts[0]["details"].get("node") if alerts else None  # the op that made the first NaN/Inf, or whose backward did
    nodes = []
    for o in ops["nodes"]:
        node = GNode(f"n{o['seq']}", "op", o["op"], module=o["module"] or "", shape=tuple(o["output_shape"] or ()),
                     dtype=o["dtype"], nbytes=o["out_bytes"], saved=[tuple(s) for s in o["saved"] or []])  # fmt: skip
        node.stats["time_ms"] = 1e3 * (o["duration"] or 0.0)
        if o["node"] in backward:
            node.stats["backward_ms"] = 1e3 * (backward[o["node"]]["duration"] or 0.0)
        for d in o["inputs"] or []:
            if "param" in d:
                node.badges.append(d["param"])
                if d["param"] in stats:
                    node.stats[f"|g| {d['param']}"] = stats[d["param"]]
            elif "const" in d:
                node.badges.append(f"const {_shape(tuple(d['const']))}")
        nodes.append(node)
    for node in nodes:
        node.nan = nan_node is not None and node.id == f"n{nan_node}"
    edges = [(f"n{e['src']}", f"n{e['dst']}") for e in ops["edges"]]
    return Graph(nodes, edges)


def _param_stats(reader: Any, step: int) -> dict[str, float]:
    steps, names, norms = reader.grad_stats("norm")
    if step not in steps:
        return {}
    column = int(np.searchsorted(steps, step))
    return {name: float(norms[i, column]) for i, name in enumerate(names)}
