"""Drawing graphs in notebooks: draw_graph returns a graphviz.Digraph that shows inline as SVG.

draw_graph(loss)                      the autograd graph of a tensor (micrograd style when small)
draw_graph(loss, direction="backward")   each op's backward and what it saved
draw_graph(("runs/mlp-adam", 0))      a recorded, traced step: times, bytes, gradient norms
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from typing import Any

from ..tensor import Tensor
from .dot import to_dot
from .fold import fold
from .graph import GNode, Graph, from_run, from_tensor
from .render import GraphView, layout, pipe, renderer

__all__ = ["draw_graph", "graph_of", "fold", "to_dot", "layout", "pipe", "renderer", "Graph", "GNode", "GraphView"]


def graph_of(source: Any, model: Any = None) -> Graph:
    """A Graph from a tensor, or from (run path or RunReader, step)."""
    if isinstance(source, Tensor):
        names = {id(p): n for n, p in model.named_parameters()} if model is not None else None
        return from_tensor(source, names)
    if isinstance(source, tuple) and len(source) == 2:
        run, step = source
        if isinstance(run, (str, os.PathLike)):
            from ..runs import RunReader

            run = RunReader(run)
        return from_run(run, step)
    raise TypeError(f"draw_graph takes a tensor or a (run, step) pair, got {type(source).__name__}")


def _within_depth(graph: Graph, depth: int) -> Graph:
    """The nodes at most `depth` edges above the output (the last node)."""
    parents: dict[str, list[str]] = {}
    for a, b in graph.edges:
        parents.setdefault(b, []).append(a)
    keep, frontier = {graph.nodes[-1].id: 0}, deque([graph.nodes[-1].id])
    while frontier:
        n = frontier.popleft()
        for p in parents.get(n, []):
            if p not in keep and keep[n] < depth:
                keep[p] = keep[n] + 1
                frontier.append(p)
    return Graph([n for n in graph.nodes if n.id in keep], [(a, b) for a, b in graph.edges if a in keep and b in keep])


def draw_graph(
    source: Any,
    direction: str = "forward",
    depth: int | None = None,
    max_nodes: int = 150,
    expand: Iterable[str] = (),
    model: Any = None,
    title: str | None = None,
) -> GraphView:
    """Draw an autograd graph (of a tensor) or a recorded step's graph ((run, step)).

    Small tensors (<= 16 elements) show their values and gradients; bigger ones shape, dtype,
    bytes and gradient statistics. Parameters are badges on the ops that use them (pass model
    to name them). Graphs over max_nodes are folded by module scope and repeated blocks;
    `expand` keeps the given module prefixes open. depth keeps only the last ops."""
    graph = graph_of(source, model)
    if depth is not None:
        graph = _within_depth(graph, depth)
    return to_dot(fold(graph, max_nodes, expand), direction, title)
