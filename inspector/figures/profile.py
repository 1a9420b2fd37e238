"""Profile page: a traced step's op types or modules by calls, total and self time, bytes and
FLOPs, forward, backward and optimizer apart; and the bars of the slowest."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from .common import PHASE_LINE_COLORS, PHASES, base_layout, empty

TOP_LEVEL = "(top level)"


def _prefixes(module: str) -> list[str]:
    """A module and every module that contains it, the top level last: 'a.b' -> ['a.b', 'a', '']."""
    parts = module.split(".") if module else []
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)] + [""]


def _module_of(o: dict[str, Any], forward: dict[int, dict]) -> str:
    """The module an op ran for: its own scope; a backward op's forward op's; an optimizer
    update's parameter's module (the optimizer runs outside every module scope)."""
    if o["phase"] == "backward":
        f = forward.get(o.get("node"))
        return (f or {}).get("module") or ""
    if o["phase"] == "optimizer" and not o.get("module"):
        param = next((d["param"] for d in o.get("inputs") or [] if "param" in d), None)
        return param.rpartition(".")[0] if param else ""
    return o.get("module") or ""


def _op_type(o: dict[str, Any], forward: dict[int, dict]) -> str:
    """A backward op (MulBackward) counts under its forward op's type (Mul)."""
    if o["phase"] == "backward":
        f = forward.get(o.get("node"))
        return f["op"] if f else o["op"].removesuffix("Backward")
    return o["op"]


def profile_rows(ops: list[dict[str, Any]], by: str = "op") -> list[dict[str, Any]]:
    """Rows per (op type or module, phase): name, phase, calls, total_ms, self_ms, bytes, flops
    (None unless the ops carry FLOPs), share (% of the step's op time), slowest first.

    For modules, total is the time of ops in the module and all its descendants, self the time
    of ops directly in it ("(top level)": outside every module, the loss for one); for op types
    total == self."""
    if by not in ("op", "module"):
        raise ValueError(f"by must be 'op' or 'module', got {by!r}")
    forward = {o["node"]: o for o in ops if o["phase"] == "forward" and o.get("node") is not None}
    step_ms = sum(1e3 * (o.get("duration") or 0.0) for o in ops)
    groups: dict[tuple[str, str], dict[str, Any]] = {}

    def add(key: tuple[str, str], o: dict[str, Any], ms: float, own: bool) -> None:
        g = groups.setdefault(key, dict(name=key[0] or TOP_LEVEL, phase=key[1], calls=0, total_ms=0.0, self_ms=0.0, bytes=0,
                                         flops=None))  # fmt: skip
        g["calls"] += 1
        g["total_ms"] += ms
        g["self_ms"] += ms if own else 0.0
        g["bytes"] += int(o.get("out_bytes") or 0)
        if o.get("flops") is not None:
            g["flops"] = (g["flops"] or 0) + int(o["flops"])

    for o in ops:
        ms = 1e3 * (o.get("duration") or 0.0)
        if by == "op":
            add((_op_type(o, forward), o["phase"]), o, ms, True)
        else:
            for i, m in enumerate(_prefixes(_module_of(o, forward))):
                add((m, o["phase"]), o, ms, i == 0)
    rows = list(groups.values())
    for r in rows:
        r["share"] = 100 * r["total_ms"] / step_ms if step_ms > 0 else 0.0
    return sorted(rows, key=lambda r: (-r["total_ms"], r["name"], r["phase"]))


def profile_figure(
    rows: list[dict[str, Any]], top: int = 15, uirevision: str = "profile_figure", title: str | None = None
) -> go.Figure:
    """Horizontal bars of the `top` slowest names' total time, split forward / backward / optimizer."""
    if not rows:
        return empty("no traced step to profile", uirevision)
    totals: dict[str, float] = {}
    for r in rows:
        totals[r["name"]] = totals.get(r["name"], 0.0) + r["total_ms"]
    names = sorted(totals, key=lambda n: -totals[n])[:top]
    fig = go.Figure()
    for phase in PHASES:
        cells = {r["name"]: r for r in rows if r["phase"] == phase and r["name"] in names}
        if not cells:
            continue
        picked = [cells.get(n) for n in names]
        fig.add_trace(go.Bar(
            y=names, x=[c["total_ms"] if c else 0.0 for c in picked], orientation="h", name=phase, marker_color=PHASE_LINE_COLORS[phase],
            customdata=[[c["calls"], c["self_ms"], c["share"]] if c else [0, 0.0, 0.0] for c in picked],
            hovertemplate="%{y} (" + phase + ")<br>total %{x:.4f} ms, self %{customdata[1]:.4f} ms<br>%{customdata[0]} calls, "
            "%{customdata[2]:.1f} % of the step<extra></extra>",
        ))  # fmt: skip
    base_layout(fig, title or f"Time per {'module' if any(r['name'] == TOP_LEVEL for r in rows) else 'op type'} (slowest {len(names)})",
                uirevision, barmode="stack", height=max(300, 26 * len(names) + 120))  # fmt: skip
    fig.update_xaxes(title_text="total time in the step (ms)")
    fig.update_yaxes(autorange="reversed", type="category")
    return fig
