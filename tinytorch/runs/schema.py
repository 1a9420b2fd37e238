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

SCHEMA_VERSION = 2  # 2: a traced step's memory events as columns (event_columns); 1: one row per event
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
CREATE TABLE IF NOT EXISTS event_columns (
    step INTEGER NOT NULL, part INTEGER NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (step, part, name));
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

# The fields of a memory event (see tinytorch/record/memory.py), in the order the recorder emits them.
EVENT_FIELDS = ("step", "seq", "kind", "buf", "nbytes", "category", "holder", "op_seq", "shape", "dtype", "phase", "module")
_EVENT_TEXT = ("kind", "category", "holder", "shape", "dtype", "phase", "module")

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


# ---------------------------------------------------------------------- memory events as columns
# A traced step can hold a million events: one SQLite row each took seconds to write and to read
# back. Each step's events are stored instead as one .npy array per field (event_columns): numbers
# as int64 (float64 with NaN where one is missing), text as int32 codes into a JSON list of the
# distinct values (name + ".vocab"), since a step has few distinct kinds, categories and shapes.
# A step committed in several transactions (an anomaly alert is written at once) has several
# parts, read back in order.


def encode_events(rows: list[tuple], parts: dict[int, int]) -> list[tuple[int, int, str, bytes]]:
    """Event rows (EVENT_FIELDS order) as (step, part, name, bytes) rows of event_columns; `parts`
    counts the parts each step has had so far (the writer's, updated here)."""
    by_step: dict[int, list[tuple]] = {}
    for row in rows:
        by_step.setdefault(row[0], []).append(row)
    out = []
    for step, step_rows in by_step.items():
        part = parts[step] = parts.get(step, -1) + 1
        for name, values in zip(EVENT_FIELDS, zip(*step_rows)):
            if name in _EVENT_TEXT:
                vocab = list(dict.fromkeys(values))
                index = {v: i for i, v in enumerate(vocab)}
                codes = np.fromiter(map(index.__getitem__, values), np.int32, len(values))
                out += [(step, part, name, npy_bytes(codes)), (step, part, name + ".vocab", dumps(vocab).encode())]
            elif None in values:
                out.append((step, part, name, npy_bytes(np.array([np.nan if v is None else v for v in values], np.float64))))
            else:
                out.append((step, part, name, npy_bytes(np.array(values, np.int64))))
    return out


def decode_events(blobs: dict[str, bytes]) -> dict[str, np.ndarray]:
    """One part's event_columns rows ({name: bytes}) back as columns: numbers as arrays, text as
    object arrays (None where missing), shapes as tuples."""
    out = {}
    for name in EVENT_FIELDS:
        values = from_npy(blobs[name])
        if name in _EVENT_TEXT:
            vocab = json.loads(blobs[name + ".vocab"])
            if name == "shape":
                table = json_shapes(vocab)
            else:
                table = np.empty(len(vocab), dtype=object)
                table[:] = vocab
            values = table[values]
        out[name] = values
    return out


def json_shapes(texts: list) -> np.ndarray:
    """Shapes stored as JSON text (or None) as an object array of tuples."""
    out = np.empty(len(texts), dtype=object)
    for i, v in enumerate(texts):  # one by one: a tuple must stay one element
        out[i] = None if v is None else tuple(json.loads(v))
    return out
