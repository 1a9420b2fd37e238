"""Helpers for the inspector tests: demo runs in a LOGDIR, a Dash client over Flask's test client
that posts what the browser posts, and readers of the JSON that comes back."""

from __future__ import annotations

import base64
import shutil
import socket
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from inspector.app import create_app
from inspector.demo import spirals_mlp, tiny_transformer

PAGES = ["/", "/graph", "/gradients", "/memory", "/attention", "/compare", "/profile"]
GOOD = ["spirals-sgd", "spirals-adam", "exploding", "tiny-transformer"]


def demo_runs(logdir: Path, steps: int = 60) -> Path:
    """The four demo trainings, small: two spirals MLPs (SGD, Adam), the one that explodes, and a
    4-step transformer (one attention probe, steps 0 and 1 traced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # `exploding` overflows on purpose
        for name in GOOD[:3]:
            spirals_mlp(logdir, name, steps, pace=0)
        tiny_transformer(logdir, 4, pace=0)
    return logdir


def bad_runs(logdir: Path, good: Path) -> dict[str, list[str]]:
    """A corrupt, a truncated and a newer-schema run file in logdir; returns name -> what its
    message must say."""
    for name in ("corrupt", "truncated", "future"):
        (logdir / name).mkdir(parents=True)
    (logdir / "corrupt" / "run.sqlite").write_bytes(np.random.default_rng(0).bytes(6000))
    data = (good / "exploding" / "run.sqlite").read_bytes()
    (logdir / "truncated" / "run.sqlite").write_bytes(data[: len(data) // 3])
    shutil.copy(good / "spirals-sgd" / "run.sqlite", logdir / "future" / "run.sqlite")
    with sqlite3.connect(logdir / "future" / "run.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    return {
        "corrupt": ["corrupt/run.sqlite is not a readable tinytorch run file"],
        "truncated": ["truncated/run.sqlite"],
        "future": ["future/run.sqlite was written with run-file schema 99", "Upgrade tinytorch"],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DashClient:
    """Calls an app's callbacks as the browser does: POST /_dash-update-component with the
    outputs, inputs and state read from /_dash-dependencies."""

    def __init__(self, logdir: str | Path) -> None:
        self.app = create_app(str(logdir))
        self.http = self.app.server.test_client()
        assert self.http.get("/").status_code == 200
        self.deps = self.http.get("/_dash-dependencies").get_json()

    @staticmethod
    def outputs(spec: str) -> list[dict[str, str]]:
        parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
        return [dict(zip(("id", "property"), p.rsplit(".", 1))) for p in parts]

    def callback(self, output: str) -> dict:
        """The callback that writes `output` ("graph-fig.figure")."""
        found = [d for d in self.deps if output in [f"{o['id']}.{o['property']}" for o in self.outputs(d["output"])]]
        assert len(found) == 1, f"{len(found)} callbacks write {output}"
        return found[0]

    def call(self, output: str, values: dict[str, Any] | None = None, triggered: tuple[str, ...] = ()) -> dict[str, Any]:
        """Run the callback that writes `output` with these "id.property" values (others None);
        returns {"id.property": value} of what it updated ({} when it prevented the update)."""
        values, dep = values or {}, self.callback(output)
        outs = self.outputs(dep["output"])
        fill = lambda specs: [dict(s, value=values.get(f"{s['id']}.{s['property']}")) for s in specs]
        body = dict(output=dep["output"], outputs=outs if dep["output"].startswith("..") else outs[0],
                    inputs=fill(dep["inputs"]), state=fill(dep["state"]), changedPropIds=list(triggered))  # fmt: skip
        r = self.http.post("/_dash-update-component", json=body)
        if r.status_code == 204:
            return {}
        assert r.status_code == 200, r.data[:3000]
        return {f"{i}.{p}": v for i, props in r.get_json()["response"].items() for p, v in props.items()}

    def page(self, path: str, search: str = "") -> Any:
        """A page's layout as the pages plugin renders it for this URL."""
        out = self.call("_pages_content.children", {"_pages_location.pathname": path, "_pages_location.search": search})
        return out["_pages_content.children"]


def text(node: Any) -> str:
    """All the text in a component tree (as Dash serialises it)."""
    if node is None or isinstance(node, bool):
        return ""
    if isinstance(node, (str, int, float)):
        return str(node)
    if isinstance(node, list):
        return " ".join(text(n) for n in node)
    if isinstance(node, dict):
        return text(node.get("props", {}).get("children"))
    return ""


def rows(table: Any) -> list[list[str]]:
    """The rows of a views.common.table as cell texts, header first."""
    out: list[list[str]] = []

    def walk(n: Any) -> None:
        if isinstance(n, list):
            for x in n:
                walk(x)
        elif isinstance(n, dict):
            if n.get("type") == "Tr":
                out.append([text(c) for c in n["props"]["children"]])
            else:
                walk(n.get("props", {}).get("children"))

    walk(table)
    return out


def table_of(table: Any) -> dict[str, dict[str, str]]:
    """A table keyed by its first column: {first cell: {header: cell}}."""
    if not rows(table):
        return {}
    head, *body = rows(table)
    return {r[0]: dict(zip(head, r)) for r in body}


def arr(value: Any) -> np.ndarray:
    """A figure's array as plotly sends it (a list, or typed {"dtype", "bdata", "shape"})."""
    if isinstance(value, dict) and "bdata" in value:
        a = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if value.get("shape"):
            a = a.reshape([int(s) for s in str(value["shape"]).split(",")])
        return a.astype(np.int64) if a.dtype.kind in "iu" else a  # sums of int8/int16 must not wrap
    return np.asarray(value)


def nodes(figure: dict) -> dict:
    """The Graph figure's node markers (its last trace, named "nodes")."""
    trace = figure["data"][-1]
    assert trace.get("name") == "nodes", [t.get("name") for t in figure["data"]]
    return trace
