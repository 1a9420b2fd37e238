"""The training loop: Trainer holds the state of a run, fit() is the one-call form, evaluate()
measures a model on a loader. A loader is any iterable of (inputs, targets) tensor batches
with len() = number of batches, so tinytorch.data.DataLoader and a hand-written one both fit."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..nn.module import Module
from ..nn.utils import clip_grad_norm_
from ..optim.lr_scheduler import LRScheduler
from ..optim.optimizer import Optimizer
from ..tensor import Tensor
from .callbacks import Callback, ProgressBar
from .checkpoint import load_checkpoint, save_checkpoint

Metric = Callable[[Tensor, Tensor], "float | None"]


class History(dict):
    """What a run measured, as plain JSON-able data (json.dumps(history) works):
    {"epochs": [{"epoch", "step", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
    "lr", "time", "samples_per_s"}, ...], "steps": [{"step", "epoch", "loss", "lr"}, ...]}.
    epoch counts from 1; an epoch's step is the global step at its end and its lr the one it began
    with; time is its wall time (training and evaluation), samples_per_s the training throughput.
    A step's loss is the mean over the samples of its (accumulated) batches, lr the one it used,
    grad_norm (only when clipping) the norm before clipping. val_* appear only in evaluated epochs."""

    def __init__(self, epochs: Iterable[dict] = (), steps: Iterable[dict] = ()) -> None:
        super().__init__(epochs=[dict(e) for e in epochs], steps=[dict(s) for s in steps])

    @property
    def epochs(self) -> list[dict[str, Any]]:
        return self["epochs"]

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self["steps"]

    def metric(self, name: str) -> list[Any]:
        """One epoch column, e.g. history.metric("val_loss"); None where an epoch lacks it."""
        return [e.get(name) for e in self.epochs]

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> History:
        data = data or {}
        return cls(data.get("epochs", ()), data.get("steps", ()))


# ---------------------------------------------------------------------- metrics


def accuracy(output: Tensor, target: Tensor) -> float | None:
    """Fraction of samples whose highest score (argmax over dim 1) is the target class.
    Needs class scores (N, C, ...) and integer targets (N, ...); None for anything else."""
    out, tgt = _array(output), _array(target)
    if tgt.dtype.kind not in "iu" or out.ndim != tgt.ndim + 1 or out.ndim < 2:
        return None
    if out.shape[:1] + out.shape[2:] != tgt.shape:
        return None
    return float((out.argmax(axis=1) == tgt).mean())


METRICS: dict[str, Metric] = {"accuracy": accuracy}


def _resolve_metrics(metrics: Sequence[str | Metric] | dict[str, Metric]) -> dict[str, Metric]:
    """Names from METRICS, callables fn(output, target) -> batch mean (named by __name__), or a {name: fn} dict."""
    if isinstance(metrics, dict):
        return dict(metrics)
    if isinstance(metrics, str):
        metrics = (metrics,)
    resolved = {}
    for m in metrics:
        if callable(m):
            resolved[getattr(m, "__name__", type(m).__name__)] = m
        elif m in METRICS:
            resolved[m] = METRICS[m]
        else:
            raise ValueError(f"unknown metric {m!r}: use one of {sorted(METRICS)} or a function fn(output, target) -> float")
    return resolved


def _array(t: Any) -> np.ndarray:
    return t.data if isinstance(t, Tensor) else np.asarray(t)


def _batch_size(targets: Any) -> int:
    shape = np.shape(_array(targets))
    return int(shape[0]) if shape else 1


class _Meter:
    """Running means over the samples seen so far: the loss and each metric, weighted by batch size."""

    def __init__(self, metrics: dict[str, Metric]) -> None:
        self.metrics, self.samples, self.loss_sum = metrics, 0, 0.0
        self.sums = dict.fromkeys(metrics, 0.0)
        self.counts = dict.fromkeys(metrics, 0)
        self.start = time.perf_counter()

    def update(self, loss: float, n: int, output: Tensor, target: Tensor) -> None:
        self.samples += n
        self.loss_sum += loss * n
        for name, fn in self.metrics.items():
            value = fn(output, target)
            if value is not None:  # e.g. accuracy on regression targets: not measured
                self.sums[name] += float(value) * n
                self.counts[name] += n

    def means(self) -> dict[str, float]:
        out = {"loss": self.loss_sum / self.samples} if self.samples else {}
        out.update({name: self.sums[name] / self.counts[name] for name in self.metrics if self.counts[name]})
        return out

    def samples_per_s(self) -> float:
        return self.samples / max(time.perf_counter() - self.start, 1e-9)


def evaluate(
    model: Module, loader: Iterable, loss_fn: Callable, metrics: Sequence[str | Metric] | dict[str, Metric] = ("accuracy",)
) -> dict[str, float]:
    """{"loss": mean over samples, "accuracy": fraction correct, ...} on the loader, under no_grad
    and in eval mode; each module's train/eval mode is put back afterwards.
    loss_fn must return the batch mean (reduction="mean"), so loss * batch size is the batch sum."""
    meter = _Meter(_resolve_metrics(metrics))
    modes = [(m, m.training) for m in model.modules()]  # per module: a frozen BatchNorm stays frozen
    model.eval()
    try:
        with no_grad():
            for inputs, targets in loader:
                outputs = model(inputs)
                meter.update(float(loss_fn(outputs, targets).item()), _batch_size(targets), outputs, targets)
    finally:
        for m, mode in modes:
            m.training = mode
    if not meter.samples:
        raise ValueError("evaluate: the loader yielded no batches")
    return meter.means()


# ---------------------------------------------------------------------- the loop


class Trainer:
    """Holds a run: model, optimizer, scheduler, loss, callbacks, and where it is.

    Callbacks read (and may change) these attributes: model, optimizer, scheduler, loss_fn,
    epoch (epochs completed before the current one = its 0-based index; after fit, the count done),
    epochs (the target), step (optimizer steps done, over the whole run), history, stop_training
    (set it to stop after the current epoch), train_loader, val_loader, and for the batch in flight
    batch_index, inputs, targets, outputs (detached from the graph).
    """

    def __init__(
        self, model: Module, optimizer: Optimizer, loss_fn: Callable[[Tensor, Tensor], Tensor], *,
        scheduler: LRScheduler | None = None, scheduler_interval: str = "epoch", clip_grad_norm: float | None = None,
        accumulate_steps: int = 1, callbacks: Iterable[Callback] = (), metrics: Sequence[str | Metric] = ("accuracy",),
        progress: bool = True,
    ) -> None:  # fmt: skip
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        if not isinstance(accumulate_steps, int) or accumulate_steps < 1:
            raise ValueError(f"accumulate_steps must be an integer >= 1, got {accumulate_steps!r}")
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValueError(f"clip_grad_norm must be a positive number or None, got {clip_grad_norm!r}")
        self.model, self.optimizer, self.loss_fn, self.scheduler = model, optimizer, loss_fn, scheduler
        self.scheduler_interval, self.clip_grad_norm, self.accumulate_steps = scheduler_interval, clip_grad_norm, accumulate_steps
        self.metrics = _resolve_metrics(metrics)
        self.callbacks = list(callbacks) + ([ProgressBar()] if progress else [])
        self.epoch, self.epochs, self.step, self.stop_training = 0, 0, 0, False
        self.history = History()
        self.train_loader: Any = None
        self.val_loader: Any = None
        self.batch_index, self.inputs, self.targets, self.outputs = -1, None, None, None
        self._meter = _Meter(self.metrics)

    @property
    def lr(self) -> float:
        """The learning rate of the first parameter group now."""
        return float(self.optimizer.param_groups[0]["lr"])

    def train_metrics(self) -> dict[str, float]:
        """Running means of the epoch in progress: loss, the metrics, and samples_per_s."""
        return {**self._meter.means(), "samples_per_s": self._meter.samples_per_s()}

    def evaluate(self, loader: Iterable) -> dict[str, float]:
        """evaluate() on the loader; a recorder running (fit(record=...)) leaves it out of the steps."""
        from ..record import paused

        with paused():
            return evaluate(self.model, loader, self.loss_fn, self.metrics)

    def save_checkpoint(self, path: str | os.PathLike, extra: dict | None = None, loader: Any = None) -> None:
        """Save the run (with the shuffle state of `loader`, by default the training loader of fit())."""
        save_checkpoint(path, self.model, self.optimizer, self.scheduler, epoch=self.epoch, step=self.step,
                        history=self.history, loader=self.train_loader if loader is None else loader, extra=extra)  # fmt: skip

    def load_checkpoint(self, path: str | os.PathLike, loader: Any = None) -> dict[str, Any]:
        """Restore model, optimizer, scheduler, RNGs and progress, to continue the same curve."""
        meta = load_checkpoint(
            path, self.model, self.optimizer, self.scheduler, loader=self.train_loader if loader is None else loader
        )
        self.epoch, self.step = int(meta["epoch"]), int(meta["step"])
        self.history = History.from_dict(meta.get("history"))
        return meta

    def fit(
        self, train_loader: Iterable, epochs: int, *, val_loader: Iterable | None = None, eval_every: int = 1,
        checkpoint: str | os.PathLike | None = None, resume: str | os.PathLike | None = None,
    ) -> History:  # fmt: skip
        """Train until `epochs` epochs are done in total (a resumed run counts the ones before);
        evaluate every eval_every epochs and after the last; save `checkpoint` after each epoch."""
        if eval_every < 1:
            raise ValueError(f"eval_every must be >= 1, got {eval_every}")
        self.train_loader, self.val_loader, self.epochs, self.stop_training = train_loader, val_loader, epochs, False
        if resume is not None:
            self.load_checkpoint(resume)
        self.optimizer.zero_grad()  # gradients left from before fit() must not leak into the first step
        self._call("on_train_begin")
        try:
            while self.epoch < epochs and not self.stop_training:
                self._run_epoch(checkpoint, due=(self.epoch + 1) % eval_every == 0)
        finally:  # also on an exception, so bars close and recorders flush
            self._call("on_train_end")
        return self.history

    # ------------------------------------------------------------------ one epoch

    def _run_epoch(self, checkpoint: str | os.PathLike | None, due: bool) -> None:
        start, lr = time.perf_counter(), self.lr
        self.model.train()
        self._meter = _Meter(self.metrics)
        self._call("on_epoch_begin")
        self._train_batches()
        if not self._meter.samples:
            raise ValueError(f"the training loader yielded no batches in epoch {self.epoch + 1}")
        train_time, means = time.perf_counter() - start, self._meter.means()
        record: dict[str, Any] = {"epoch": self.epoch + 1, "step": self.step}
        record.update({f"train_{k}": v for k, v in means.items()})
        last = self.epoch + 1 >= self.epochs or self.stop_training
        if self.val_loader is not None and (due or last):
            record.update({f"val_{k}": v for k, v in self.evaluate(self.val_loader).items()})
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            self.scheduler.step()
        record.update(lr=lr, time=time.perf_counter() - start, samples_per_s=self._meter.samples / max(train_time, 1e-9))
        self.history.epochs.append(record)
        self._call("on_epoch_end", record)
        self.epoch += 1
        if checkpoint is not None:  # after the epoch, so a resume starts the next one cleanly
            self.save_checkpoint(checkpoint)

    def _train_batches(self) -> None:
        try:
            n_batches: int | None = len(self.train_loader)
        except TypeError:  # an iterable without len: every window is accumulate_steps long
            n_batches = None
        window, window_size, window_loss, window_samples = 0, self.accumulate_steps, 0.0, 0
        for i, (inputs, targets) in enumerate(self.train_loader):
            self.batch_index, self.inputs, self.targets = i, inputs, targets
            self._call("on_step_begin")
            if window == 0 and n_batches is not None:  # the epoch's last window may be shorter
                window_size = max(1, min(self.accumulate_steps, n_batches - i))
            outputs = self.model(inputs)
            loss = self.loss_fn(outputs, targets)
            # each batch loss is a mean; dividing by the window length makes the summed
            # gradients the mean over the window, as one big batch would give
            (loss / window_size if window_size > 1 else loss).backward()
            value, n = float(loss.item()), _batch_size(targets)
            self.outputs = outputs.detach()  # callbacks see the values without keeping the graph alive
            self._meter.update(value, n, self.outputs, targets)
            window, window_loss, window_samples = window + 1, window_loss + value * n, window_samples + n
            stepped = window >= window_size
            if stepped:
                self._optimizer_step(window_loss / window_samples)
                window, window_loss, window_samples = 0, 0.0, 0
            self._call("on_step_end", value, stepped)
        if window:  # the loader gave more batches than len() said: do not drop their gradients
            self._optimizer_step(window_loss / window_samples)
        self.inputs = self.targets = self.outputs = None  # the last batch need not outlive its epoch

    def _optimizer_step(self, loss: float) -> None:
        record: dict[str, Any] = {"step": self.step + 1, "epoch": self.epoch + 1, "loss": loss, "lr": self.lr}
        if self.clip_grad_norm is not None:
            record["grad_norm"] = float(clip_grad_norm_(self.model.parameters(), self.clip_grad_norm).item())
        self._call("on_before_optimizer_step")
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.step += 1
        self.history.steps.append(record)
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            method = getattr(cb, hook, None)  # duck-typed callbacks need only the hooks they use
            if method is not None:
                method(self, *args)


def fit(
    model: Module, train_loader: Iterable, loss_fn: Callable[[Tensor, Tensor], Tensor], optimizer: Optimizer, epochs: int, *,
    val_loader: Iterable | None = None, scheduler: LRScheduler | None = None, scheduler_interval: str = "epoch",
    clip_grad_norm: float | None = None, accumulate_steps: int = 1, callbacks: Iterable[Callback] = (),
    checkpoint: str | os.PathLike | None = None, resume: str | os.PathLike | None = None, eval_every: int = 1,
    progress: bool = True, metrics: Sequence[str | Metric] = ("accuracy",), record: str | os.PathLike | None = None,
) -> History:  # fmt: skip
    """Train model for `epochs` epochs in total and return the History (see Trainer for the details).

    record="runs/name" records the run for the inspector (tinytorch.record's defaults; for other
    options pass callbacks=[tinytorch.record.callback.RecordCallback(path, **options)])."""
    if record is not None:
        from ..record.callback import RecordCallback

        callbacks = [*callbacks, RecordCallback(str(record))]
    trainer = Trainer(model, optimizer, loss_fn, scheduler=scheduler, scheduler_interval=scheduler_interval,
                      clip_grad_norm=clip_grad_norm, accumulate_steps=accumulate_steps, callbacks=callbacks,
                      metrics=metrics, progress=progress)  # fmt: skip
    return trainer.fit(train_loader, epochs, val_loader=val_loader, eval_every=eval_every, checkpoint=checkpoint, resume=resume)
