"""The run file: one SQLite database per run, in WAL mode (one writer, many readers).

Every step is written in one transaction, so a reader never sees half a step and a killed
writer loses at most the step in flight. Arrays (histograms, attention maps) are `.npy` bytes.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import numpy as np

SCHEMA_VERSION = 1
RUN_FILE = "run.sqlite"

TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS steps (
    step INTEGER PRIMARY KEY, wall_time REAL, duration REAL, loss REAL, lr REAL,
    traced INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS scalars (
    tag TEXT NOT NULL, step INTEGER NOT NULL, value REAL, wall_time REAL, PRIMARY KEY (tag, step));
CREATE TABLE IF NOT EXISTS params (
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, shape TEXT NOT NULL, numel INTEGER NOT NULL,
    dtype TEXT, module TEXT);
CREATE TABLE IF NOT EXISTS grad_stats (
    param_id INTEGER NOT NULL, step INTEGER NOT NULL, norm REAL, max_abs REAL, mean REAL, std REAL,
    zero_frac REAL, weight_norm REAL, update_ratio REAL, nonfinite INTEGER NOT NULL DEFAULT 0,
    hist BLOB, hist_lo REAL, hist_hi REAL, PRIMARY KEY (step, param_id));  -- (step first: a step's rows append)
CREATE TABLE IF NOT EXISTS ops (
    step INTEGER NOT NULL, seq INTEGER NOT NULL, node INTEGER, phase TEXT NOT NULL, op TEXT NOT NULL,
    module TEXT, inputs TEXT, input_shapes TEXT, output_shape TEXT, dtype TEXT, out_bytes INTEGER,
    duration REAL, saved TEXT, attrs TEXT, flops INTEGER, grad INTEGER, PRIMARY KEY (step, seq));
CREATE TABLE IF NOT EXISTS edges (
    step INTEGER NOT NULL, src INTEGER NOT NULL, dst INTEGER NOT NULL, slot INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS edges_by_step ON edges (step);
CREATE TABLE IF NOT EXISTS events (
    step INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, buf INTEGER NOT NULL,
    nbytes INTEGER NOT NULL, category TEXT, holder TEXT, op_seq INTEGER, shape TEXT, dtype TEXT,
    phase TEXT, module TEXT, PRIMARY KEY (step, seq));
CREATE TABLE IF NOT EXISTS memory (
    step INTEGER PRIMARY KEY, recorded INTEGER, tracemalloc INTEGER, rss INTEGER, by_category TEXT);
CREATE TABLE IF NOT EXISTS probes (
    step INTEGER NOT NULL, layer TEXT NOT NULL, weights BLOB NOT NULL, tokens TEXT,
    PRIMARY KEY (step, layer));
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, step INTEGER, kind TEXT NOT NULL, rule TEXT, param TEXT,
    op TEXT, phase TEXT, message TEXT NOT NULL, details TEXT);
CREATE TABLE IF NOT EXISTS profile (
    step INTEGER NOT NULL, phase TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    calls INTEGER, total REAL, self REAL, flops INTEGER, bytes INTEGER,
    PRIMARY KEY (step, phase, kind, name));
"""

CATEGORIES = ("parameter", "gradient", "optimizer_state", "activation", "temporary", "input", "other")


class RunFileError(RuntimeError):
    """A run file that cannot be read: missing, corrupt, truncated or of a newer schema."""


def npy_bytes(array: np.ndarray) -> bytes:
    """An array as .npy bytes (no pickle). The header is the same for every array of one dtype and
    shape (a recorder writes a 32-bin histogram per parameter per step): made once, then reused."""
    array = np.ascontiguousarray(array)
    key = (array.dtype.str, array.shape)
    header = _NPY_HEADERS.get(key)
    if header is None:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        header = _NPY_HEADERS[key] = buffer.getvalue()[: -array.nbytes or None]
    return header + array.tobytes()


_NPY_HEADERS: dict[tuple, bytes] = {}


def from_npy(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.load(io.BytesIO(blob), allow_pickle=False)


def dumps(value: Any) -> str:
    """JSON for shapes, attrs and metadata; NumPy scalars and tuples become plain JSON."""
    return json.dumps(value, default=_plain, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.dtype, type)):
        return str(value)
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    if isinstance(value, slice):
        return f"{value.start}:{value.stop}:{value.step}"
    return repr(value)


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A run name that is one path component: no separators, no '..', nothing hidden."""
    cleaned = _SAFE.sub("-", str(name)).strip("-.")
    if not cleaned or cleaned in (".", ".."):
        raise ValueError(f"run name {name!r} has no usable characters (use letters, digits, '.', '_', '-')")
    return cleaned[:120]
