"""Folding a big graph to a node budget: deepest module scopes first, then runs of identical
sibling blocks (a transformer's twelve blocks become one `blocks.0-11 x12` node), and last, if
still over, the ops outside every module (a loss, or many batches recorded into one step) as one
`top-level` node."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .graph import GNode, Graph

TOP = "top-level"


def _prefixes(module: str) -> list[str]:
    parts = module.split(".") if module else []
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _inside(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _signature(nodes: list[GNode], prefix: str) -> tuple:
    """What a module did, independent of its name: its ops with their paths inside it."""
    return tuple((n.module[len(prefix) :], n.op) for n in nodes if _inside(n.module, prefix))


def _sibling_runs(prefixes: list[str], signature: dict[str, tuple]) -> list[list[str]]:
    """Runs of >= 2 consecutive numbered siblings (blocks.0, blocks.1, ...) that did the same."""
    by_parent: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for p in prefixes:
        parent, _, last = p.rpartition(".")
        if last.isdigit():
            by_parent[parent].append((int(last), p))
    runs = []
    for members in by_parent.values():
        members.sort()
        run = [members[0]]
        for index, p in members[1:]:
            if index == run[-1][0] + 1 and signature[p] == signature[run[0][1]]:
                run.append((index, p))
            else:
                runs.append(run)
                run = [(index, p)]
        runs.append(run)
    return [[p for _, p in run] for run in runs if len(run) >= 2]


def fold(graph: Graph, budget: int = 150, expand: Iterable[str] = (), collapse: Iterable[str] = ()) -> Graph:
    """The graph with modules folded, deepest first, until it has at most `budget` nodes.

    expand: module prefixes to keep open; collapse: prefixes to fold even within the budget."""
    expand, collapse = set(expand), set(collapse)
    groups: dict[str, str] = {}  # node id -> the fold that holds it
    folds: dict[str, list[str]] = {}  # fold name -> member prefixes

    def fold_prefixes(name: str, members: list[str]) -> None:
        folds[name] = members
        for n in graph.nodes:
            if any(_inside(n.module, m) for m in members):
                groups[n.id] = name

    for p in collapse:
        fold_prefixes(p, [p])
    prefixes = sorted({p for n in graph.nodes for p in _prefixes(n.module)}, key=lambda p: (-p.count("."), p))
    signature = {p: _signature(graph.nodes, p) for p in prefixes}
    for depth in sorted({p.count(".") for p in prefixes}, reverse=True):
        level = [p for p in prefixes if p.count(".") == depth and p not in expand]
        if _count(graph, groups) <= budget:
            break
        for p in level:
            if sum(1 for n in graph.nodes if _inside(n.module, p)) > 1:  # folding one op saves nothing
                fold_prefixes(p, [p])
        if _count(graph, groups) <= budget:
            break
        for run in _sibling_runs(level, signature):
            first, last = run[0], run[-1].rpartition(".")[2]
            fold_prefixes(f"{first}-{last} x{len(run)}", run)
    top = [n.id for n in graph.nodes if not n.module]
    if "" not in expand and len(top) > 1 and _count(graph, groups) > budget:
        folds[TOP] = [""]  # the prefix "" holds exactly the ops outside every module
        groups.update(dict.fromkeys(top, TOP))
    return _apply(graph, groups, folds)


def _count(graph: Graph, groups: dict[str, str]) -> int:
    return len({groups.get(n.id, n.id) for n in graph.nodes})


def _apply(graph: Graph, groups: dict[str, str], folds: dict[str, list[str]]) -> Graph:
    # fold ids avoid ":", which DOT reads as a port separator
    nodes: list[GNode] = []
    folded: dict[str, GNode] = {}
    for n in graph.nodes:
        name = groups.get(n.id)
        if name is None:
            nodes.append(n)
            continue
        f = folded.get(name)
        if f is None:
            f = folded[name] = GNode(f"fold-{name}", "fold", name, module=folds[name][0], stats={"ops": 0, "time_ms": 0.0},
                                     nbytes=0, prefixes=list(folds[name]))  # fmt: skip
            nodes.append(f)
        f.members.append(n.id)
        f.stats["ops"] += 1
        for key, value in n.stats.items():  # times add up; gradient norms keep the largest
            if key == "ops":
                continue
            f.stats[key] = f.stats.get(key, 0.0) + value if key.endswith("_ms") else max(f.stats.get(key, 0.0), value)
        f.nbytes = (f.nbytes or 0) + (n.nbytes or 0)
        f.nan = f.nan or n.nan
        f.badges.extend(b for b in n.badges if not b.startswith("const") and b not in f.badges)
        f.shape, f.dtype = n.shape, n.dtype  # the fold's output is its last op's
    rep = {n.id: groups.get(n.id) and f"fold-{groups[n.id]}" or n.id for n in graph.nodes}
    edges = list(dict.fromkeys((rep[a], rep[b]) for a, b in graph.edges if rep[a] != rep[b]))
    return Graph(nodes, edges)
