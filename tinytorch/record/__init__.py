"""Record what training does into a run the inspector and notebooks read.

    with tinytorch.record("runs/mlp-adam", model=model, optimizer=opt, trace_steps=(0, 1)) as run:
        for x, y in loader:
            loss = loss_fn(model(x), y)
            opt.zero_grad(); loss.backward(); opt.step()
            run.step(loss)              # the step boundary
        run.log("val/acc", accuracy)    # any scalar

With nothing recording, Function.apply pays one global read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .. import function
from ..runs import RunReader, RunWriter
from .recorder import AnomalyError, Recorder, numpy_traced_bytes
from .stats import GradientHealth, grad_stats

__all__ = ["record", "Run", "attention", "active", "paused", "AnomalyError", "GradientHealth", "grad_stats", "numpy_traced_bytes"]


class Run:
    """An open run: call step() at each step's end and log() for any scalar; close() ends it."""

    def __init__(self, recorder: Recorder, writer: RunWriter) -> None:
        self.recorder, self.writer = recorder, writer
        self.path: Path = writer.dir
        self.name: str = writer.name

    @property
    def step_index(self) -> int:
        """The step being recorded now (0-based)."""
        return self.recorder.step

    def step(self, loss: Any = None) -> None:
        """End the current step (loss: a tensor or a number), writing it in one transaction."""
        value = None if loss is None else float(loss.item() if hasattr(loss, "item") else loss)
        self.recorder.end_step(value)

    def log(self, tag: str, value: Any, step: int | None = None) -> None:
        """A scalar at a step (the current one by default), written with the next step."""
        value = float(value.item() if hasattr(value, "item") else value)
        self.writer.add("scalars", [(tag, self.recorder.step if step is None else step, value, None)])

    def paused(self):
        """A context in which nothing is recorded: evaluation between steps, say (see paused())."""
        return paused()

    def set_config(self, **config: Any) -> None:
        self.writer.set_meta("config", config)

    def reader(self) -> RunReader:
        self.writer.commit()
        return RunReader(self.path)

    def close(self, status: str = "finished") -> None:
        if function._hook is self.recorder:
            function._hook = None
        self.recorder.close()
        self.writer.close(status)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close("finished" if exc_type is None else "failed")


def record(
    path: str | os.PathLike = "runs/run",
    *,
    model: Any = None,
    optimizer: Any = None,
    every: int = 20,
    trace_steps: Iterable[int] | Callable[[int], bool] = (0, 1),
    probe: Any = None,
    probe_every: int = 100,
    probe_tokens: Any = None,
    anomaly: str | None = None,
    config: dict[str, Any] | None = None,
    health: GradientHealth | None = None,
) -> Run:
    """Start recording into logdir/name (path = "logdir/name"; a taken name gets a suffix).

    Every step: loss, learning rate, step time, and each parameter's gradient norm and NaN/Inf
    flag, which the health alerts watch. every: the full gradient statistics (max |g|, mean, std,
    fraction of zeros, histogram, update-to-weight ratio) every N steps; every=1 records them at
    each step, for a cost that grows with parameters per FLOP (README, "Measured").
    trace_steps: steps whose every op and buffer is recorded (a collection, or a function of the
    step). probe: an input whose attention maps are stored every probe_every steps. anomaly:
    None, "warn" or "raise" at the first NaN/Inf.
    """
    if function._hook is not None:
        raise RuntimeError("another recorder or profiler is active; close it before starting a new one")
    path = Path(path)
    writer = RunWriter(path.parent if str(path.parent) else ".", path.name, config=config)
    recorder = Recorder(writer, model, optimizer, every, trace_steps, probe, probe_every, probe_tokens, anomaly, health)
    writer.commit()
    function._hook = recorder
    return Run(recorder, writer)


def active() -> Recorder | None:
    """The recorder now running, if any."""
    hook = function._hook
    return hook if isinstance(hook, Recorder) else None


@contextmanager
def paused() -> Iterator[None]:
    """Nothing inside is recorded, and the running recorder carries on after it.

    For work between training steps that is not part of a step, such as evaluating on held-out
    batches: otherwise its ops (and, in a traced step, its buffers) count as the next step's.
    A profiler (or nothing) running keeps running."""
    hook = function._hook
    if not isinstance(hook, Recorder):
        yield
        return
    function._hook = None
    try:
        yield
    finally:
        function._hook = hook


def attention(weights: Any, name: str | None = None) -> None:
    """Attention layers call this with their weights (B, heads, T, T); kept only during probes."""
    hook = function._hook
    if isinstance(hook, Recorder) and hook.probing:
        hook.attention(np.asarray(getattr(weights, "data", weights)), name)


# `tinytorch.record` is the function above (the package attribute is shadowed by it), so the
# names a model or a notebook needs are also reachable from it: tinytorch.record.attention(w).
record.attention = attention  # type: ignore[attr-defined]
record.active = active  # type: ignore[attr-defined]
record.paused = paused  # type: ignore[attr-defined]
record.AnomalyError = AnomalyError  # type: ignore[attr-defined]
