"""RunReader: reads a run file read-only, live while it is written or after the fact.

Plain data out (dicts, lists, NumPy arrays), no Dash: the inspector's figures and notebooks
both read runs through this class. Methods that take `since` return only what is newer, so a
live view asks for the new steps and not the whole run again.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from .schema import EVENT_FIELDS, RUN_FILE, SCHEMA_VERSION, RunFileError, decode_events, from_npy, json_shapes

OP_FIELDS = ("seq", "node", "phase", "op", "module", "inputs", "input_shapes", "output_shape", "dtype", "out_bytes",
             "duration", "saved", "attrs", "flops", "grad")  # fmt: skip
GRAD_FIELDS = ("norm", "max_abs", "mean", "std", "zero_frac", "weight_norm", "update_ratio", "nonfinite")


def run_file(path: str | os.PathLike) -> Path:
    """The run.sqlite of a run directory (or the file itself)."""
    p = Path(path)
    return p / RUN_FILE if p.is_dir() else p


class RunReader:
    """One run, opened read-only. Raises RunFileError naming the file when it cannot be read."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = run_file(path)
        if not self.path.is_file():
            raise RunFileError(f"no run file at {self.path}")
        # A finished run (no -wal beside it: no writer has it open) is opened immutable: no locks,
        # no side files, readable in a read-only directory. A run being written needs WAL reads.
        live = self.path.with_name(self.path.name + "-wal").exists()
        try:
            self._conn = sqlite3.connect(
                f"file:{self.path}?mode=ro{'' if live else '&immutable=1'}", uri=True, check_same_thread=False
            )
            rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.DatabaseError as e:
            raise RunFileError(f"{self.path} is not a readable tinytorch run file ({e})") from None
        self._meta = {k: json.loads(v) for k, v in rows}
        version = self._meta.get("schema_version")
        if version is None:
            raise RunFileError(f"{self.path} has no schema version: not a tinytorch run file, or its first step never finished")
        if version > SCHEMA_VERSION:
            raise RunFileError(
                f"{self.path} was written with run-file schema {version}; this tinytorch reads up to "
                f"{SCHEMA_VERSION}. Upgrade tinytorch to read it."
            )

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            raise RunFileError(f"{self.path}: {e}") from None

    def close(self) -> None:
        self._conn.close()

    # ------------------------------------------------------------------ run

    @property
    def meta(self) -> dict[str, Any]:
        self._meta = {k: json.loads(v) for k, v in self._query("SELECT key, value FROM meta")}
        return dict(self._meta)

    @property
    def name(self) -> str:
        return self._meta.get("name", self.path.parent.name)

    @property
    def status(self) -> str:
        """running, finished, crashed (its writer died without closing), or what close() said."""
        meta = self.meta
        status = meta.get("status", "running")
        if status == "running" and not _alive(meta.get("pid"), meta.get("host")):
            return "crashed"
        return status

    def last_step(self) -> int | None:
        return self._query("SELECT MAX(step) FROM steps")[0][0]

    def steps(self, since: int = -1) -> dict[str, np.ndarray]:
        """Columns step, wall_time, duration, loss, lr, traced of the steps after `since`."""
        rows = self._query("SELECT step, wall_time, duration, loss, lr, traced FROM steps WHERE step > ? ORDER BY step", (since,))
        return _columns(rows, ("step", "wall_time", "duration", "loss", "lr", "traced"))

    def tags(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT tag FROM scalars ORDER BY tag")]

    def scalars(self, tag: str, since: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of one scalar tag."""
        rows = self._query("SELECT step, value FROM scalars WHERE tag = ? AND step > ? ORDER BY step", (tag, since))
        return np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.float64)

    # ------------------------------------------------------------------ gradients

    def params(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT id, name, shape, numel, dtype, module FROM params ORDER BY id")
        return [dict(id=r[0], name=r[1], shape=tuple(json.loads(r[2])), numel=r[3], dtype=r[4], module=r[5]) for r in rows]

    def grad_stats(self, field: str = "norm", since: int = -1) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(steps that have this statistic, parameter names, values of shape (params, steps)); NaN
        where a parameter has none at a step. Norms and NaN/Inf flags are recorded every step, the
        other statistics every `every` steps (see tinytorch.record)."""
        if field not in GRAD_FIELDS:
            raise KeyError(f"unknown gradient statistic {field!r}; choose from {GRAD_FIELDS}")
        params = self.params()
        # rows with the full statistics have a zero fraction (always a number there; NaN is stored as NULL)
        full = "" if field in ("norm", "nonfinite") else " AND zero_frac IS NOT NULL"
        rows = self._query(f"SELECT param_id, step, {field} FROM grad_stats WHERE step > ?{full} ORDER BY step", (since,))
        steps = np.array(sorted({r[1] for r in rows}), np.int64)
        column = {s: i for i, s in enumerate(steps)}
        row = {p["id"]: i for i, p in enumerate(params)}
        values = np.full((len(params), len(steps)), np.nan)
        for pid, step, value in rows:
            values[row[pid], column[step]] = np.nan if value is None else value
        return steps, [p["name"] for p in params], values

    def histograms(self, param: str, since: int = -1) -> list[dict[str, Any]]:
        """Per step: the 32-bin histogram of one parameter's gradient, with its range."""
        rows = self._query(
            "SELECT g.step, g.hist, g.hist_lo, g.hist_hi FROM grad_stats g JOIN params p ON p.id = g.param_id "
            "WHERE p.name = ? AND g.step > ? ORDER BY g.step",
            (param, since),
        )
        return [dict(step=s, counts=from_npy(h), lo=lo, hi=hi) for s, h, lo, hi in rows if h is not None]

    # ------------------------------------------------------------------ traced steps

    def traced_steps(self) -> list[int]:
        return [r[0] for r in self._query("SELECT DISTINCT step FROM ops ORDER BY step")]

    def ops(self, step: int, phase: str | None = None) -> list[dict[str, Any]]:
        """Every op of a traced step in the order it ran: forward, backward, optimizer."""
        sql = f"SELECT {', '.join(OP_FIELDS)} FROM ops WHERE step = ?" + (" AND phase = ?" if phase else "")
        out = []
        for r in self._query(sql + " ORDER BY seq", (step, phase) if phase else (step,)):
            d = dict(zip(OP_FIELDS, r))
            for k in ("inputs", "input_shapes", "output_shape", "saved", "attrs"):
                d[k] = json.loads(d[k]) if d[k] else None
            out.append(d)
        return out

    def graph(self, step: int) -> dict[str, list]:
        """The forward graph of a traced step: nodes (ops, by node id) and edges (src -> dst).

        Only edges between those nodes: a checkpointed segment's forward run again inside the
        backward has edges of its own, which are not the forward graph's."""
        nodes = [o for o in self.ops(step, "forward") if o["node"] is not None]
        seqs = {o["seq"] for o in nodes}
        edges = [
            dict(src=r[0], dst=r[1], slot=r[2])
            for r in self._query("SELECT src, dst, slot FROM edges WHERE step = ? ORDER BY dst, slot", (step,))
            if r[0] in seqs and r[1] in seqs
        ]
        return {"nodes": nodes, "edges": edges}

    def memory_events(self, first_step: int, last_step: int | None = None) -> dict[str, np.ndarray]:
        """Buffer events of a step range, as columns, in the order they happened: alloc, free, retag
        (it changed category or holder), live (a traced step opens by announcing the buffers alive
        since before it). Buffer ids are unique within the run. Numbers are int64 (float64 with NaN
        where one is missing), text an object array, shapes tuples."""
        last = first_step if last_step is None else last_step
        if self._meta.get("schema_version", 1) < 2:  # one row per event
            rows = self._query(
                f"SELECT {', '.join(EVENT_FIELDS)} FROM events WHERE step BETWEEN ? AND ? ORDER BY step, seq", (first_step, last)
            )
            return _columns(rows, EVENT_FIELDS)
        parts: dict[tuple[int, int], dict[str, bytes]] = {}
        rows = self._query(
            "SELECT step, part, name, data FROM event_columns WHERE step BETWEEN ? AND ? ORDER BY step, part", (first_step, last)
        )
        for step, part, name, data in rows:
            parts.setdefault((step, part), {})[name] = data
        if not parts:
            return _columns([], EVENT_FIELDS)
        columns = [decode_events(blobs) for blobs in parts.values()]
        if len(columns) == 1:
            return columns[0]
        return {name: np.concatenate([c[name] for c in columns]) for name in EVENT_FIELDS}

    def live_buffers(self, step: int, seq: int | None = None) -> list[dict[str, Any]]:
        """The buffers live after event `seq` of a traced step (the step's end when None)."""
        ev = self.memory_events(step)
        live: dict[int, dict[str, Any]] = {}
        for i in range(len(ev["seq"])):
            if seq is not None and ev["seq"][i] > seq:
                break
            buf, kind = int(ev["buf"][i]), ev["kind"][i]
            if kind in ("alloc", "live"):  # live: announced at a step's start, made earlier
                live[buf] = {
                    k: ev[k][i] for k in ("buf", "nbytes", "category", "holder", "op_seq", "shape", "dtype", "phase", "module")
                }
            elif kind == "free":
                live.pop(buf, None)
            elif buf in live:  # retag: the buffer changed hands (saved for backward, became .grad)
                live[buf].update(category=ev["category"][i], holder=ev["holder"][i])
        return list(live.values())

    def memory_totals(self, since: int = -1) -> list[dict[str, Any]]:
        """Per recorded step boundary: recorded bytes by category, tracemalloc and RSS bytes."""
        rows = self._query(
            "SELECT step, recorded, tracemalloc, rss, by_category FROM memory WHERE step > ? ORDER BY step", (since,)
        )
        return [
            dict(step=s, recorded=r, tracemalloc=t, rss=rss, by_category=json.loads(c) if c else {}) for s, r, t, rss, c in rows
        ]

    # ------------------------------------------------------------------ probes, alerts, profile

    def probe_steps(self) -> list[int]:
        return [r[0] for r in self._query("SELECT DISTINCT step FROM probes ORDER BY step")]

    def probe(self, step: int) -> dict[str, dict[str, Any]]:
        """Attention weights of every layer at one probe step: {layer: {weights (heads, T, T), tokens}}."""
        rows = self._query("SELECT layer, weights, tokens FROM probes WHERE step = ? ORDER BY rowid", (step,))
        return {layer: dict(weights=from_npy(w), tokens=json.loads(t) if t else None) for layer, w, t in rows}

    def alerts(self, since_id: int = 0) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT id, step, kind, rule, param, op, phase, message, details FROM alerts WHERE id > ? ORDER BY id", (since_id,)
        )
        keys = ("id", "step", "kind", "rule", "param", "op", "phase", "message", "details")
        return [{**dict(zip(keys, r)), "details": json.loads(r[8]) if r[8] else {}} for r in rows]

    def profile(self, step: int | None = None) -> list[dict[str, Any]]:
        """Profiler rows (per op type or module, forward and backward) of a step, or of all steps."""
        sql = "SELECT step, phase, kind, name, calls, total, self, flops, bytes FROM profile"
        rows = self._query(
            sql + (" WHERE step = ?" if step is not None else "") + " ORDER BY total DESC", (step,) if step is not None else ()
        )
        keys = ("step", "phase", "kind", "name", "calls", "total", "self", "flops", "bytes")
        return [dict(zip(keys, r)) for r in rows]


def _columns(rows: list[tuple], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Rows as one NumPy array per column: numbers as float64 (NULL as NaN) or int64 (no NULL,
    no float), text as objects (NULL as None).

    A column's kind is its first non-NULL value's (SQLite keeps a column's values of one kind
    here). A traced step can have a million events: the rows become one object array (a C loop,
    3x quicker than transposing them in Python), and each column is converted as a whole."""
    table = np.array(rows, dtype=object).reshape(len(rows), len(names))  # (rows, columns)
    out = {}
    for j, name in enumerate(names):
        col = table[:, j]
        if name == "shape":  # stored as JSON text; a step has few distinct shapes, parsed once each
            distinct = list(set(col))
            position = {v: i for i, v in enumerate(distinct)}
            out[name] = json_shapes(distinct)[np.fromiter(map(position.__getitem__, col), np.int64, len(col))]
            continue
        first = next((v for v in col if v is not None), None)
        if isinstance(first, (str, bytes)):
            out[name] = col
            continue
        try:
            out[name] = col.astype(np.float64 if isinstance(first, float) else np.int64)
        except TypeError:  # NULLs among the numbers
            out[name] = np.array([np.nan if v is None else v for v in col], dtype=np.float64)
    return out


def _alive(pid: int | None, host: str | None) -> bool:
    """Whether the writer process still runs (only knowable on the same host)."""
    import socket

    if pid is None or host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_runs(logdir: str | os.PathLike) -> list[Path]:
    """Run directories under logdir (those holding a run file), newest first."""
    root = Path(logdir)
    if not root.is_dir():
        return []
    found = [p.parent for p in root.glob(f"*/{RUN_FILE}")]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
