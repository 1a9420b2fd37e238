"""The recorder: an OpHook on Function.apply that writes what the framework did into a run.

Every step: loss, lr, step time, each parameter's gradient norm and NaN/Inf flag (read where the
optimizer's update op receives the gradient: one BLAS dot), health alerts. Every `every` steps
also the rest of the gradient statistics and the update-to-weight ratio (three more passes over
each gradient, one over each weight and one over its update, which a big layer feels). Traced
steps (`trace_steps`): every op of forward, backward and the optimizer update with shapes,
bytes, time and module scope, and every buffer's life (see memory.py). Probe
steps: the attention maps of a fixed input. Anomaly mode: the first op that makes NaN or Inf.
"""

from __future__ import annotations

import itertools
import math
import time
import tracemalloc
import warnings
from typing import Any

import numpy as np

from ..function import OpHook, phase_of, run
from ..nn.module import current_scope
from ..optim.optimizer import _Update
from ..runs.schema import dumps, npy_bytes
from .memory import Buffer, MemoryTracker
from .stats import GradientHealth, grad_stats


class AnomalyError(RuntimeError):
    """Raised in anomaly="raise" mode at the first op whose output holds NaN or Inf."""


class Recorder(OpHook):
    def __init__(self, writer: Any, model: Any = None, optimizer: Any = None, every: int = 20, trace_steps: Any = (0, 1),
                 probe: Any = None, probe_every: int = 100, probe_tokens: Any = None, anomaly: str | None = None,
                 health: GradientHealth | None = None) -> None:  # fmt: skip
        if anomaly not in (None, "warn", "raise"):
            raise ValueError(f"anomaly must be None, 'warn' or 'raise', got {anomaly!r}")
        self.writer, self.model, self.optimizer = writer, model, optimizer
        self.every, self.anomaly, self.health = max(1, int(every)), anomaly, health or GradientHealth()
        self.trace_steps = trace_steps if callable(trace_steps) else set(trace_steps or ())
        self.probe, self.probe_every, self.probe_tokens = probe, probe_every, probe_tokens
        named = list(model.named_parameters()) if model is not None else []
        self.modules = {id(p): n.rpartition(".")[0] for n, p in named}
        if optimizer is not None:  # parameters the optimizer steps that the model does not hold
            held = {id(p) for _, p in named}  # (float32 master weights, for one)
            for g, group in enumerate(optimizer.param_groups):
                named += [(f"param_groups[{g}][{i}]", p) for i, p in enumerate(group["params"]) if id(p) not in held]
            writer.set_meta("optimizer", repr(optimizer))
        self.names = {id(p): n for n, p in named}
        rows = [
            (i, n, dumps(tuple(p.shape)), p.numel(), str(p.dtype), self.modules.get(id(p), "(optimizer)"))
            for i, (n, p) in enumerate(named)
        ]
        self._param_ids = {n: i for i, n, *_ in rows}
        writer.add("params", rows)
        if model is not None:
            writer.set_meta("model", repr(model))
            writer.set_meta("parameters", sum(p.numel() for p in model.parameters()))
        self.step = 0
        self.phase = "forward"
        self.probing = False
        self.anomaly_seen = False
        self._stats: dict[str, dict[str, Any]] = {}
        self._attention: dict[str, np.ndarray] = {}
        self._t0 = time.perf_counter()
        self._buffer_ids = itertools.count(1)
        self._begin_step()

    # ------------------------------------------------------------------ step boundaries

    def traced(self, step: int) -> bool:
        return bool(self.trace_steps(step)) if callable(self.trace_steps) else step in self.trace_steps

    def _begin_step(self, carried: MemoryTracker | None = None) -> None:
        self.phase = "forward"
        self.seq = 0
        self.tracing = self.traced(self.step)
        self.full_stats = self.step % self.every == 0  # norms every step, the rest every `every` steps
        if self.tracing:
            self._event_seq = 0
            self._node_of: dict[int, int] = {}  # id(ctx) -> the forward op's seq
            self._token = object()  # marks the tensors this traced step produced (t._made_by)
            if carried is not None:  # the previous step was traced too: keep following its buffers,
                self.memory = carried  # and open this step's events with what is alive now
                for b in list(carried.live.values()):
                    self._emit("live", b)
            else:
                self.memory = MemoryTracker(self._emit, self._buffer_ids.__next__)
            self._track_state()

    def end_step(self, loss: float | None = None) -> None:
        """Close the current step: write its row, statistics, alerts, trace; start the next."""
        now = time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"] if self.optimizer is not None else None
        self.writer.add("steps", [(self.step, time.time(), now - self._t0, loss, lr, int(self.tracing))])
        self._t0 = now
        if self._stats:
            self._write_stats()
        carried = None
        if self.tracing:
            self._write_memory_totals()
            if self.traced(self.step + 1):
                carried = self.memory
            else:
                self.memory.stop()
        if self.probe is not None and self.step % self.probe_every == 0:
            self.run_probe()
        self.writer.commit()  # one transaction: the step appears whole or not at all
        self.step += 1
        self._stats = {}
        self._begin_step(carried)

    def close(self) -> None:
        if self.tracing:
            self.memory.stop()

    # ------------------------------------------------------------------ the hook

    def set_phase(self, phase: str) -> None:
        self.phase = phase

    def __call__(self, cls: type, inputs: tuple, attrs: dict[str, Any]) -> Any:
        if self.probing:
            return run(cls, inputs, attrs)
        self.phase = phase_of(self.phase, cls)
        report = None
        if issubclass(cls, _Update) and id(inputs[0]) in self.names:
            report = {"grad": grad_stats(inputs[1].data, self.full_stats)}  # before the update reads it: then in cache
            if self.full_stats:  # the op reports its update's squared norm
                attrs = {**attrs, "report": report}
        if not (self.tracing or self.anomaly):
            out = run(cls, inputs, attrs)
        else:
            start = time.perf_counter()
            out = run(cls, inputs, attrs)
            seconds = time.perf_counter() - start
            if self.anomaly and not self.anomaly_seen:
                self._check_finite(
                    cls.__name__, self.phase, [out.data], [t.data for t in inputs], self.seq + 1 if self.tracing else None
                )
            if self.tracing:
                self._trace_forward(cls, inputs, attrs, out, seconds)
        if report is not None:
            self._update_stats(inputs[0], report)
        return out

    def backward(self, node: Any, grad: np.ndarray) -> Any:
        if not (self.tracing or self.anomaly):
            return node.backward(node, grad)
        if self.tracing:
            self.memory.track(grad, "temporary", f"gradient into {node.name}Backward", None, "backward", None)
        start = time.perf_counter()
        grads = node.backward(node, grad)
        seconds = time.perf_counter() - start
        outs = [g for g in (grads if type(grads) is tuple else (grads,)) if g is not None]
        if self.anomaly and not self.anomaly_seen:
            self._check_finite(
                f"{node.name}Backward", "backward", outs, [grad], self._node_of.get(id(node)) if self.tracing else None
            )
        if self.tracing:
            self._trace_backward(node, grad, outs, seconds)
        return grads

    def accumulated(self, tensor: Any) -> None:
        if self.tracing:
            holder = f"{self.names.get(id(tensor), 'leaf')}.grad"
            if self.memory.track(tensor.grad.data, "gradient", holder, None, "backward", None) is not None:
                self.memory.retag(tensor.grad.data, "gradient", holder)

    def allocated(self, array: np.ndarray, category: str, holder: str, owner: Any = None) -> None:
        """An allocation site that knows its category (optimizer state) reports it here."""
        if self.tracing:
            name = self.names.get(id(owner))
            self.memory.track(array, category, f"{holder}[{name}]" if name else holder, None, self.phase, None)

    # ------------------------------------------------------------------ tracing

    def _emit(self, kind: str, b: Buffer) -> None:
        self._event_seq += 1
        row = (
            self.step,
            self._event_seq,
            kind,
            b.buf,
            b.nbytes,
            b.category,
            b.holder,
            b.op_seq,
            dumps(b.shape),
            b.dtype,
            self.phase,
            b.module,
        )
        self.writer.add("events", [row])

    def _track_state(self) -> None:
        """At a traced step's start: what already lives (parameters, grads, optimizer state, buffers)."""
        if self.model is not None:
            for name, p in self.model.named_parameters():
                self.memory.track(p.data, "parameter", name, module=self.modules.get(id(p)))
                if p.grad is not None:
                    self.memory.track(p.grad.data, "gradient", f"{name}.grad", module=self.modules.get(id(p)))
            for name, b in self.model.named_buffers():
                self.memory.track(b.data, "other", f"buffer {name}")
        if self.optimizer is not None:
            for p, state in self.optimizer.state.items():
                for key, value in state.items():
                    if hasattr(value, "data") and isinstance(value.data, np.ndarray):
                        self.memory.track(
                            value.data, "optimizer_state", f"{type(self.optimizer).__name__}.{key}[{self.names.get(id(p), '?')}]"
                        )

    def _describe_input(self, t: Any) -> dict[str, Any]:
        made_by = t.__dict__.get("_made_by")
        if made_by is not None and made_by[0] is self._token:
            return {"node": made_by[1]}
        if id(t) in self.names:
            return {"param": self.names[id(t)]}
        return {"const": list(t.shape)}

    def _trace_forward(self, cls: type, inputs: tuple, attrs: dict[str, Any], out: Any, seconds: float) -> None:
        self.seq += 1
        seq, module = self.seq, current_scope()
        if issubclass(cls, _Update):  # an update op receives a parameter and its gradient
            name = self.names.get(id(inputs[0]), "parameter")
            for t, category, holder in ((inputs[0], "parameter", name), (inputs[1], "gradient", f"{name}.grad")):
                self.memory.track(t.data, category, holder, None, self.phase, module)
                self.memory.retag(t.data, category, holder)  # seen earlier as a plain input (say, by unscaling)
        for t in inputs:  # arrays met for the first time come from outside ops: the batch, constants
            constant = t.data.ndim == 0
            self.memory.track(
                t.data, "other" if constant else "input", "constant" if constant else "user code", None, self.phase, module
            )
        ctx = out.grad_fn if out.grad_fn is not None and type(out.grad_fn) is cls else None
        saved = _held_arrays(ctx) if ctx is not None else []
        saved_ids = {id(a) for a in saved}
        made = 0  # bytes of a buffer this op made for its output (possibly returned as a view)
        if not cls.inplace:
            category = "activation" if id(out.data) in saved_ids else "temporary"
            holder = f"saved by {cls.__name__}#{seq}" if category == "activation" else f"output of {cls.__name__}#{seq}"
            b = self.memory.track(out.data, category, holder, seq, self.phase, module)
            made = b.nbytes if b is not None and b.op_seq == seq else 0
        for a in saved:  # an op's output kept for backward becomes an activation; a saved
            # parameter or input keeps its category (its memory exists for that reason)
            b = self.memory.track(a, "activation", f"saved by {cls.__name__}#{seq}", seq, self.phase, module)
            if b is not None and b.category == "temporary":
                self.memory.retag(a, "activation", f"saved by {cls.__name__}#{seq}")
        described = [self._describe_input(t) for t in inputs]
        if ctx is not None:
            self._node_of[id(ctx)] = seq
        if not cls.inplace:
            out._made_by = (self._token, seq)
        self.writer.add("edges", [(self.step, d["node"], seq, slot) for slot, d in enumerate(described) if "node" in d])
        plain = {k: v for k, v in attrs.items() if k != "report" and not isinstance(v, np.ndarray)}
        self.writer.add("ops", [(
            self.step, seq, seq if self.phase == "forward" else None, self.phase, cls.__name__, module, dumps(described),
            dumps([list(t.shape) for t in inputs]), dumps(list(out.shape)), str(out.dtype),
            made, seconds,
            dumps([list(a.shape) for a in saved]), dumps(plain), cls.flops([t.shape for t in inputs], out.shape, plain), int(ctx is not None),
        )])  # fmt: skip

    def _trace_backward(self, node: Any, grad: np.ndarray, outs: list, seconds: float) -> None:
        self.seq += 1
        forward = self._node_of.get(id(node))
        for g in outs:
            self.memory.track(g, "temporary", f"gradient from {node.name}Backward", self.seq, "backward", None)
        saved = [list(np.shape(a)) for a in (node.saved_tensors or ())]
        self.writer.add("ops", [(
            self.step, self.seq, forward, "backward", f"{node.name}Backward", None, dumps([{"node": forward}]),
            dumps([list(grad.shape)]), dumps([list(g.shape) for g in outs]), str(grad.dtype),
            sum(int(g.nbytes) for g in outs if g.base is None), seconds, dumps(saved), "{}",
            type(node).backward_flops([s for s, _ in node.input_meta], grad.shape, node.attrs, node.needs_input_grad), 1,
        )])  # fmt: skip

    def _write_memory_totals(self) -> None:
        numpy_bytes = numpy_traced_bytes() if tracemalloc.is_tracing() else None
        self.writer.add("memory", [(self.step, self.memory.total(), numpy_bytes, _rss(), dumps(self.memory.by_category()))])

    # ------------------------------------------------------------------ statistics

    def _update_stats(self, p: Any, report: dict[str, Any]) -> None:
        name, stats = self.names[id(p)], report["grad"]
        stats["weight_norm"] = stats["update_ratio"] = None
        if self.full_stats:
            flat = p.data.reshape(-1)
            weight_norm = math.sqrt(float(np.dot(flat, flat)))
            update = math.sqrt(report.get("update_sq", float("nan")))
            stats["weight_norm"], stats["update_ratio"] = weight_norm, update / weight_norm if weight_norm > 0 else float("nan")
        self._stats[name] = stats

    def _write_stats(self) -> None:
        rows = []
        for name, s in self._stats.items():
            rows.append((self._param_ids[name], self.step, s["norm"], s["max_abs"], s["mean"], s["std"], s["zero_frac"],
                         s["weight_norm"], s["update_ratio"], int(s["nonfinite"]), s["hist"], s["lo"], s["hi"]))  # fmt: skip
        self.writer.add("grad_stats", rows)
        alerts = self.health.check(
            self.step, {n: s["norm"] for n, s in self._stats.items()}, {n: s["nonfinite"] for n, s in self._stats.items()}
        )
        self.writer.add(
            "alerts",
            [(a["step"], a["kind"], a["rule"], a["param"], None, None, a["message"], dumps(a["details"])) for a in alerts],
        )

    # ------------------------------------------------------------------ anomalies and probes

    def _check_finite(self, op: str, phase: str, outputs: list, inputs: list, node: int | None) -> None:
        """node: the forward op's seq in a traced step (of the op itself, or the op whose backward ran)."""
        bad = [o for o in outputs if o.dtype.kind == "f" and not np.isfinite(o).all()]
        if not bad:
            return
        self.anomaly_seen = True
        described = [_summary(a) for a in inputs]
        module = current_scope() if phase == "forward" else None
        message = (
            f"first non-finite value: {op} ({phase}, step {self.step}{', module ' + module if module else ''}) produced "
            f"{_kinds(bad[0])}; its inputs: " + "; ".join(f"#{i} {d}" for i, d in enumerate(described))
        )
        details = dumps({"inputs": described, "module": module, "node": node})
        self.writer.add(
            "alerts", [(self.step, "anomaly", "first op whose output holds NaN or Inf", None, op, phase, message, details)]
        )
        self.writer.commit()
        if self.anomaly == "raise":
            raise AnomalyError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)

    def run_probe(self) -> None:
        """Run the model on the probe input (no grad, eval mode) and store the attention maps."""
        from ..autograd import no_grad

        was_training = self.model.training
        self.probing, self._attention = True, {}
        try:
            with no_grad():
                self.model.eval()
                self.model(self.probe)
        finally:
            self.model.train(was_training)
            self.probing = False
        tokens = dumps(list(self.probe_tokens)) if self.probe_tokens is not None else None
        self.writer.add("probes", [(self.step, layer, npy_bytes(w), tokens) for layer, w in self._attention.items()])

    def attention(self, weights: np.ndarray, name: str | None = None) -> None:
        """An attention layer's weights (B, heads, T, T) during a probe: keep the first sample's."""
        if self.probing:
            layer = name or current_scope() or f"attention{len(self._attention)}"
            w = np.asarray(weights)
            self._attention[layer] = (w[0] if w.ndim == 4 else w).astype(np.float32)


def _held_arrays(ctx: Any) -> list[np.ndarray]:
    """Arrays a graph node keeps for backward: its saved tensors and array attributes."""
    found = [a for a in (ctx.saved_tensors or ()) if isinstance(a, np.ndarray)]
    for key, value in vars(ctx).items():
        if key not in ("saved_tensors", "attrs", "_saved_versions"):
            found.extend(v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, np.ndarray))
    return found


def _summary(a: np.ndarray) -> str:
    finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    if finite.size == 0:
        return f"shape {tuple(a.shape)}, no finite values"
    return f"shape {tuple(a.shape)} min {finite.min():.4g} max {finite.max():.4g} mean {finite.mean():.4g}" + (
        f", {a.size - finite.size} non-finite" if finite.size < a.size else ""
    )


def _kinds(a: np.ndarray) -> str:
    kinds = [
        k
        for k, present in (("NaN", np.isnan(a).any()), ("+Inf", np.isposinf(a).any()), ("-Inf", np.isneginf(a).any()))
        if present
    ]
    return " and ".join(kinds)


def numpy_traced_bytes() -> int:
    """Bytes of NumPy data buffers alive now, as tracemalloc sees them (NumPy's own domain)."""
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def _rss() -> int | None:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        return None
