"""Memory page: live bytes along the event index of traced steps, by category or by buffer; what
was live at the peak; one buffer's story; recorded bytes beside tracemalloc and RSS.

Everything replays the buffer events (alloc, free, retag) exactly as RunReader.memory_events
returns them; x is the event's position in that list. A step whose tracing continues from the
previous one opens by announcing its live buffers again: the replay keeps them as they are, so
the curve does not dip at a step boundary; buffers a step does not announce are gone.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import plotly.graph_objects as go

from .common import CATEGORIES, CATEGORY_COLORS, PHASE_COLORS, PHASES, base_layout, empty, fmt_bytes

_CAT = {c: i for i, c in enumerate(CATEGORIES)}
_cache: dict[str, Any] = {}  # the last replay, as one (events' kind column, result) entry: thread-safe to swap


def _text(v: Any) -> str | None:
    """A text column's value, or None (the reader turns a missing text into '' or 'nan')."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    v = str(v)
    return None if v in ("", "nan", "None") else v


def _int(v: Any) -> int | None:
    try:
        return None if v is None or v != v else int(v)
    except (TypeError, ValueError):
        return None


def _shape(v: Any) -> tuple[int, ...] | None:
    """A shape as RunReader gives it (a tuple), or as JSON text."""
    if isinstance(v, (tuple, list)):
        return tuple(v)
    try:
        return tuple(json.loads(v)) if _text(v) else None
    except (TypeError, ValueError):
        return None


def replay(events: dict[str, np.ndarray]) -> dict[str, Any]:
    """Replay the events: live bytes by category after each event ("totals", shape (events,
    categories) in CATEGORIES order), and per buffer (in the order they were made) its id, bytes,
    alloc and free index (-1: not freed), last category index and holder, and the history of
    the buffers that were retagged. buffers(events) gives the same as dicts."""
    kind = events.get("kind", np.zeros(0))
    cached = _cache.get("last")
    if cached is not None and cached[0] is kind and cached[1]["n"] == len(kind):
        return cached[1]
    n = len(kind)
    # the columns the loop below reads as lists (quicker per item); the rest stay arrays, read per buffer
    cols = {
        k: (events[k].tolist() if k in events else [None] * n) for k in ("step", "kind", "buf", "nbytes", "category", "holder")
    }
    cols.update({k: events[k] if k in events else [None] * n for k in ("op_seq", "shape", "dtype", "phase", "module")})
    steps, kinds, bufs, sizes, cats, holders = (cols[k] for k in ("step", "kind", "buf", "nbytes", "category", "holder"))
    b_buf, b_bytes, b_alloc, b_free, b_cat, b_holder = [], [], [], [], [], []
    hist: dict[int, list[tuple[int, str, Any]]] = {}
    d_i, d_c, d_a = [], [], []  # (event, category, bytes) changes of the live totals
    live: dict[int, int] = {}
    pending: dict[int, int] | None = None  # the previous step's live buffers, awaiting their "live" events
    other, prev = _CAT["other"], steps[0] if n else None

    def gone(k: int, i: int) -> None:
        b_free[k] = i
        d_i.append(i), d_c.append(b_cat[k]), d_a.append(-b_bytes[k])

    for i in range(n):
        if steps[i] != prev:  # a traced step opens by announcing ("live") what is still alive
            pending, live, prev = live, {}, steps[i]
        buf, what = bufs[i], kinds[i]
        if what == "live":
            k = pending.pop(buf, None) if pending else None
            if k is not None:  # carried over from the previous step: already counted
                live[buf] = k
                continue
            what = "alloc"  # the first step of the range: it starts here
        elif pending is not None:
            for k in pending.values():  # not announced: freed between the steps
                gone(k, i)
            pending = None
        if what == "alloc":
            k = live.pop(buf, None)
            if k is not None:
                gone(k, i)
            c = _CAT.get(cats[i], other)
            live[buf] = len(b_buf)
            b_buf.append(buf), b_bytes.append(sizes[i]), b_alloc.append(i), b_free.append(-1), b_cat.append(c)
            b_holder.append(holders[i])
            d_i.append(i), d_c.append(c), d_a.append(sizes[i])
        elif what == "free":
            k = live.pop(buf, None)
            if k is not None:
                gone(k, i)
        elif what == "retag" and buf in live:
            k, c = live[buf], _CAT.get(cats[i], other)
            hist.setdefault(k, [(b_alloc[k], CATEGORIES[b_cat[k]], b_holder[k])]).append((i, CATEGORIES[c], holders[i]))
            d_i += [i, i]
            d_c += [b_cat[k], c]
            d_a += [-b_bytes[k], b_bytes[k]]
            b_cat[k], b_holder[k] = c, holders[i]
    for k in (pending or {}).values():
        gone(k, n - 1)
    flat = np.asarray(d_i, np.int64) * len(CATEGORIES) + np.asarray(d_c, np.int64)  # (event, category) as one index
    totals = np.bincount(flat, np.asarray(d_a, np.float64), minlength=n * len(CATEGORIES))  # exact below 2^53 bytes
    totals = totals.astype(np.int64).reshape(n, len(CATEGORIES))  # (events * categories,) -> (events, categories)
    arrays = {
        k: np.asarray(v, np.int64)
        for k, v in (("buf", b_buf), ("bytes", b_bytes), ("alloc", b_alloc), ("free", b_free), ("cat", b_cat))
    }
    out = dict(n=n, totals=np.cumsum(totals, axis=0), holder=b_holder, hist=hist, step=steps, phase=_texts(cols["phase"]),
               cols=cols, **arrays)  # fmt: skip
    _cache["last"] = (kind, out)
    return out


def _texts(values: list) -> list:
    """_text of each value, worked out once per distinct value (a million events have few phases)."""
    distinct = {v: _text(v) for v in set(values)}
    return [distinct[v] for v in values]


def _buffer(r: dict[str, Any], k: int) -> dict[str, Any]:
    """Buffer k of a replay as a dict."""
    i, c = int(r["alloc"][k]), r["cols"]
    free = int(r["free"][k])
    history = r["hist"].get(k) or [(i, CATEGORIES[r["cat"][k]], r["holder"][k])]
    return dict(buf=int(r["buf"][k]), nbytes=int(r["bytes"][k]), category=CATEGORIES[r["cat"][k]], holder=_text(r["holder"][k]),
                shape=_shape(c["shape"][i]), dtype=_text(c["dtype"][i]), op_seq=_int(c["op_seq"][i]), module=_text(c["module"][i]),
                step=_int(c["step"][i]), phase=_text(c["phase"][i]), alloc=i, free=None if free < 0 else free,
                history=[(j, cat, _text(h)) for j, cat, h in history])  # fmt: skip


def buffers(events: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Every buffer of the events, in the order they were made: id, bytes, category and holder
    (the last), shape, dtype, op_seq, module, step, phase, alloc and free index, history."""
    r = replay(events)
    return [_buffer(r, k) for k in range(len(r["buf"]))]


def _live(r: dict[str, Any], index: int) -> np.ndarray:
    return np.nonzero((r["alloc"] <= index) & ((r["free"] < 0) | (r["free"] > index)))[0]


def _category_at(b: dict[str, Any], index: int) -> tuple[str, str | None]:
    category, holder = b["history"][0][1:]
    for i, c, h in b["history"]:
        if i <= index:
            category, holder = c, h
    return category, holder


def _module(b: dict[str, Any], ops: dict[int, dict] | None) -> str | None:
    """The module that made a buffer: its event's, else its op's (a backward op's forward op's),
    else the module of the parameter it belongs to (its .grad, an optimizer slot)."""
    if b["module"]:
        return b["module"]
    op = (ops or {}).get(b["op_seq"]) if b["op_seq"] is not None else None
    if op is not None:
        if op.get("module"):
            return op["module"]
        forward = (ops or {}).get(op.get("node")) if op.get("phase") == "backward" else None
        if forward is not None and forward.get("module"):
            return forward["module"]
    holder = b["holder"] or ""
    param = holder[:-5] if holder.endswith(".grad") else holder.partition("[")[2].rstrip("]")
    return (param.rpartition(".")[0] or None) if param else None


def _op_index(ops: list[dict] | None) -> dict[int, dict] | None:
    return None if ops is None else {o["seq"]: o for o in ops}


def _row(b: dict[str, Any], index: int, ops: dict[int, dict] | None) -> dict[str, Any]:
    category, holder = _category_at(b, index)
    return dict(buf=b["buf"], category=category, holder=holder, shape=b["shape"], dtype=b["dtype"], bytes=b["nbytes"],
                op_seq=b["op_seq"], module=_module(b, ops), step=b["step"], allocated_at=b["alloc"], freed_at=b["free"])  # fmt: skip


def live_at(events: dict[str, np.ndarray], index: int, ops: list[dict] | None = None) -> list[dict[str, Any]]:
    """The buffers live after event `index`, largest first: buf, category, holder, shape, dtype,
    bytes, op_seq, module, step, allocated_at, freed_at (None: still live at the end)."""
    r, by_seq = replay(events), _op_index(ops)
    rows = [_row(_buffer(r, int(k)), index, by_seq) for k in _live(r, index)]
    return sorted(rows, key=lambda d: (-d["bytes"], d["allocated_at"]))


def peak(events: dict[str, np.ndarray], top: int = 10, ops: list[dict] | None = None) -> dict[str, Any]:
    """The event with the most live bytes: its total, by category, by module, and its top buffers."""
    r = replay(events)
    if not r["n"]:
        return dict(peak_bytes=0, peak_index=None, step=None, phase=None, by_category={}, by_module={}, top_buffers=[])
    total = r["totals"].sum(axis=1)
    index = int(np.argmax(total))
    live = live_at(events, index, ops)
    by_module: dict[str, int] = {}
    for b in live:
        key = b["module"] or "(outside modules)"
        by_module[key] = by_module.get(key, 0) + b["bytes"]
    by_category = {c: int(r["totals"][index, i]) for i, c in enumerate(CATEGORIES) if r["totals"][index, i]}
    return dict(peak_bytes=int(total[index]), peak_index=index, step=r["step"][index], phase=r["phase"][index],
                by_category=by_category, by_module=dict(sorted(by_module.items(), key=lambda kv: -kv[1])),
                top_buffers=live[:top])  # fmt: skip


def buffer_info(events: dict[str, np.ndarray], buf: int, at: int | None = None, ops: list[dict] | None = None) -> dict | None:
    """One buffer's story (the one live at event `at` when its id was reused), None if unknown:
    shape, dtype, bytes, category and holder (the last) with their history, op_seq, module,
    step, phase, alloc_index, free_index (None: not freed)."""
    r = replay(events)
    found = [int(k) for k in np.nonzero(r["buf"] == (_int(buf) if _int(buf) is not None else -(2**62)))[0]]
    if at is not None:
        found = [k for k in found if r["alloc"][k] <= at and (r["free"][k] < 0 or r["free"][k] >= at)] or found
    if not found:
        return None
    b = _buffer(r, found[-1] if at is not None else found[0])
    return dict(buf=b["buf"], shape=b["shape"], dtype=b["dtype"], bytes=b["nbytes"], category=b["category"], holder=b["holder"],
                history=[dict(index=i, category=c, holder=h) for i, c, h in b["history"]], op_seq=b["op_seq"],
                module=_module(b, _op_index(ops)), step=b["step"], phase=b["phase"], alloc_index=b["alloc"], free_index=b["free"])  # fmt: skip


def _sample(total: np.ndarray, max_points: int) -> np.ndarray:
    """Event indices to draw: all of them, or per bucket its highest and last (peaks survive)."""
    n = len(total)
    if n <= max_points:
        return np.arange(n)
    edges = np.linspace(0, n, max_points // 2 + 1).astype(int)
    picks = [n - 1] + [a + int(np.argmax(total[a:b])) for a, b in zip(edges[:-1], edges[1:]) if b > a] + list(edges[1:-1] - 1)
    return np.unique(picks)


def _describe(r: dict[str, Any], i: int, ops: dict[int, dict] | None) -> str:
    c = r["cols"]
    made = ""
    seq = _int(c["op_seq"][i])
    if ops and seq in ops:
        made = f" made by {ops[seq]['op']}#{seq}"
    return (f"event {i} · step {c['step'][i]} · {_text(c['phase'][i]) or '?'}<br>{c['kind'][i]} buffer {c['buf'][i]} "
            f"({fmt_bytes(c['nbytes'][i])}, {_text(c['category'][i])}) {_text(c['holder'][i]) or ''}{made}")  # fmt: skip


def timeline(events: dict[str, np.ndarray], mode: str = "category", top: int = 12, ops: list[dict] | None = None,
             uirevision: str = "timeline", max_points: int = 4000, title: str | None = None) -> go.Figure:  # fmt: skip
    """Live bytes along the event index: stacked by category, or one band per buffer (the `top`
    largest, the rest merged into "other buffers"); phase bands and step separators behind."""
    if mode not in ("category", "buffers"):
        raise ValueError(f"mode must be 'category' or 'buffers', got {mode!r}")
    r = replay(events)
    if not r["n"]:
        return empty("no memory events: this step was not traced", uirevision)
    total = r["totals"].sum(axis=1)
    x = _sample(total, max_points)
    index = _op_index(ops)
    text = [_describe(r, i, index) + f"<br>live total {fmt_bytes(total[i], exact=True)}" for i in x]
    fig = go.Figure()

    def band(name: str, y: np.ndarray, color: str, key: Any) -> None:
        fig.add_trace(go.Scatter(x=x, y=y[x], name=name, mode="lines", stackgroup="live", line=dict(width=0.5, color=color, shape="hv"),
                                 fillcolor=color, customdata=[key] * len(x), meta=key, text=text,
                                 hovertemplate=f"<b>{name}</b>: %{{y:,}} B<br>%{{text}}<extra></extra>"))  # fmt: skip

    if mode == "category":
        for i, c in enumerate(CATEGORIES):
            band(c.replace("_", " "), r["totals"][:, i], CATEGORY_COLORS[c], c)
    else:
        rest = total.copy()
        for k in np.lexsort((r["alloc"], -r["bytes"]))[:top]:
            b = _buffer(r, int(k))
            y = np.zeros(r["n"], np.int64)
            y[b["alloc"] : r["n"] if b["free"] is None else b["free"]] = b["nbytes"]
            rest = rest - y
            band(
                f"#{b['buf']} {b['holder'] or b['category']} {fmt_bytes(b['nbytes'])}",
                y,
                CATEGORY_COLORS[b["category"]],
                b["buf"],
            )
        band("other buffers", rest, "#d0d0d0", -1)
    _phases_and_steps(fig, r)
    base_layout(fig, title or ("Live bytes by category" if mode == "category" else f"Live bytes: the {top} largest buffers"),
                uirevision, hovermode="closest", legend=dict(traceorder="reversed"))  # fmt: skip
    fig.update_xaxes(title_text="event index (alloc, free, retag in the order they happened)")
    fig.update_yaxes(title_text="live bytes")
    return fig


MAX_BANDS = 60  # phase bands drawn at most: the widest; a long range of steps would give thousands


def _phases_and_steps(fig: go.Figure, r: dict[str, Any]) -> None:
    """Shaded bands for forward / backward / optimizer, and a line where the step changes
    (as layout shapes and annotations set at once: one add_vrect per band costs milliseconds)."""
    n = r["n"]
    phases, steps = np.asarray(r["phase"], dtype=object), np.asarray(r["step"], dtype=object)
    change = np.flatnonzero((phases[1:] != phases[:-1]) | (steps[1:] != steps[:-1])) + 1
    starts, ends = np.concatenate([[0], change]), np.concatenate([change, [n]])
    bands = [(int(a), int(b)) for a, b in zip(starts, ends) if phases[a] in PHASES]
    if len(bands) > MAX_BANDS:
        bands = sorted(sorted(bands, key=lambda ab: ab[0] - ab[1])[:MAX_BANDS])
    label = len(bands) <= 24  # a name on every band while there are few enough to read
    shapes, notes = [], []
    for a, b in bands:
        shapes.append(dict(type="rect", xref="x", yref="paper", x0=a - 0.5, x1=b - 0.5, y0=0, y1=1, layer="below",
                           fillcolor=PHASE_COLORS[phases[a]], opacity=1, line=dict(width=0)))  # fmt: skip
        if label:
            notes.append(dict(xref="x", yref="paper", x=a - 0.5, y=1, text=phases[a], showarrow=False, xanchor="left",
                              yanchor="top", font=dict(size=10, color="#888")))  # fmt: skip
    cuts = [0] + [int(i) for i in change if steps[i] != steps[i - 1]]
    for i in cuts[:: max(1, len(cuts) // MAX_BANDS)]:
        shapes.append(dict(type="line", xref="x", yref="paper", x0=i - 0.5, x1=i - 0.5, y0=0, y1=1,
                           line=dict(color="#444", width=1, dash="dash")))  # fmt: skip
        notes.append(dict(xref="x", yref="paper", x=i - 0.5, y=0, text=f"step {steps[i]}", showarrow=False, xanchor="left",
                          yanchor="bottom", font=dict(size=10)))  # fmt: skip
    fig.update_layout(shapes=[*fig.layout.shapes, *shapes], annotations=[*fig.layout.annotations, *notes])


def totals_figure(memory_totals: list[dict[str, Any]], uirevision: str = "totals_figure") -> go.Figure:
    """Per traced step: the recorded bytes beside NumPy's tracemalloc total (bars) and RSS (line)."""
    if not memory_totals:
        return empty("no traced steps yet", uirevision)
    steps = [f"step {t['step']}" for t in memory_totals]
    fig = go.Figure()
    for key, name, color in (("recorded", "recorded buffers", "#1f77b4"), ("tracemalloc", "NumPy (tracemalloc)", "#ff7f0e")):
        values = [t.get(key) for t in memory_totals]
        fig.add_trace(go.Bar(x=steps, y=values, name=name, marker_color=color, text=[fmt_bytes(v) for v in values],
                             hovertemplate=f"{name}<br>%{{x}}: %{{y:,}} B<extra></extra>"))  # fmt: skip
    rss = [t.get("rss") for t in memory_totals]
    if any(v is not None for v in rss):
        fig.add_trace(go.Scatter(x=steps, y=rss, name="process RSS (right axis)", yaxis="y2", mode="lines+markers",
                                 line=dict(color="#555"), hovertemplate="process RSS<br>%{x}: %{y:,} B<extra></extra>"))  # fmt: skip
    base_layout(fig, "Recorded bytes vs NumPy's count vs the process", uirevision, barmode="group",
                yaxis2=dict(title="RSS bytes", overlaying="y", side="right", showgrid=False, rangemode="tozero"))  # fmt: skip
    fig.update_layout(yaxis_title="bytes", xaxis_title="traced step")
    return fig
