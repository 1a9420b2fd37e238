"""Callbacks: code that runs at fixed points of the training loop (the recorder plugs in here).

Order of the hooks in one fit():

    on_train_begin
    per epoch:   on_epoch_begin
                 per batch:  on_step_begin                      before the forward
                             (forward, loss, backward)
                             on_before_optimizer_step           only when the optimizer steps:
                                                                gradients final (clipped), weights not yet updated
                             (optimizer.step, zero_grad, step-interval scheduler)
                             on_step_end(loss, stepped)         after every batch
                 (evaluation, epoch-interval scheduler)
                 on_epoch_end(metrics)
                 (checkpoint)
    on_train_end                                                also when training ends by an exception
"""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Any

from tqdm import tqdm

if TYPE_CHECKING:  # only for annotations: trainer.py imports this module
    from .trainer import Trainer


class Callback:
    """Base class: override the hooks you need; every hook gets the Trainer first.

    A hook may read trainer.model, .optimizer, .scheduler, .epoch, .step, .history, the batch in
    flight (.batch_index, .inputs, .targets, .outputs), and may set trainer.stop_training = True
    to end training after the current epoch.
    """

    def on_train_begin(self, trainer: Trainer) -> None:
        """Once, before the first epoch (after a resume has restored the state)."""

    def on_epoch_begin(self, trainer: Trainer) -> None:
        """Before the first batch of an epoch; the model is in train mode."""

    def on_step_begin(self, trainer: Trainer) -> None:
        """Before the forward of a batch; trainer.inputs and trainer.targets hold it."""

    def on_before_optimizer_step(self, trainer: Trainer) -> None:
        """After backward (and clipping), before optimizer.step(): the place to read gradients."""

    def on_step_end(self, trainer: Trainer, loss: float, stepped: bool) -> None:
        """After each batch. loss is the batch's loss (not divided for accumulation); stepped says
        whether the optimizer stepped after this batch (False on the first accumulate_steps - 1
        batches of a window). When it stepped, trainer.step already counts the step and the
        gradients are cleared."""

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        """After an epoch's training and evaluation; metrics is the record appended to
        trainer.history.epochs (epoch, step, train_loss, train_accuracy, val_*, lr, time, samples_per_s)."""

    def on_train_end(self, trainer: Trainer) -> None:
        """Once, when training ends: normally, by stop_training, or by an exception."""


class ProgressBar(Callback):
    """A tqdm bar per epoch with the running loss, accuracy and samples/s (on stderr by default).
    tqdm only redraws every `mininterval` seconds, and writes plain lines when stderr is no terminal."""

    def __init__(self, file: IO[str] | None = None, leave: bool = True, mininterval: float = 0.2) -> None:
        self.file, self.leave, self.mininterval = file, leave, mininterval
        self.bar: Any = None

    def on_epoch_begin(self, trainer: Trainer) -> None:
        try:
            total = len(trainer.train_loader)
        except TypeError:
            total = None
        self.bar = tqdm(
            total=total, desc=f"epoch {trainer.epoch + 1}/{trainer.epochs}", unit="batch", leave=self.leave,
            file=self.file or sys.stderr,  # looked up now, so a redirected stderr is honoured
            mininterval=self.mininterval, dynamic_ncols=True,
        )  # fmt: skip

    def on_step_end(self, trainer: Trainer, loss: float, stepped: bool) -> None:
        if self.bar is not None:
            self.bar.set_postfix(_postfix(trainer.train_metrics()), refresh=False)
            self.bar.update(1)  # redraws when mininterval has passed, with the postfix just set

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        if self.bar is not None:
            shown = {k.removeprefix("train_"): v for k, v in metrics.items() if k.startswith(("train_", "val_"))}
            self.bar.set_postfix(_postfix({**shown, "samples_per_s": metrics["samples_per_s"]}), refresh=False)
            self.close()

    def on_train_end(self, trainer: Trainer) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _postfix(metrics: dict[str, float]) -> dict[str, str]:
    """Short display strings: losses to 4 decimals, accuracies in percent, throughput rounded."""
    out = {}
    for name, value in metrics.items():
        if name == "samples_per_s":
            out["samples/s"] = f"{value:,.0f}"
        elif name.endswith("accuracy"):
            out[name.replace("accuracy", "acc")] = f"{100 * value:.1f}%"
        else:
            out[name] = f"{value:.4g}" if isinstance(value, float) else str(value)
    return out


class EarlyStopping(Callback):
    """Stop when `monitor` (a key of the epoch metrics, e.g. "val_loss") has not improved by more
    than min_delta for `patience` evaluated epochs. mode "min" or "max"; "auto" picks "max" for
    accuracies and "min" otherwise. Epochs without the key (not evaluated) are skipped."""

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0, mode: str = "auto") -> None:
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping mode must be 'min', 'max' or 'auto', got {mode!r}")
        if patience < 0 or min_delta < 0:
            raise ValueError(f"EarlyStopping needs patience >= 0 and min_delta >= 0, got {patience}, {min_delta}")
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0

    def on_train_begin(self, trainer: Trainer) -> None:
        self.best, self.best_epoch, self.wait = None, None, 0

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, Any]) -> None:
        value = metrics.get(self.monitor)
        if value is None:
            return
        sign = 1.0 if self.mode == "min" else -1.0  # compare as "lower is better"
        if self.best is None or sign * (value - self.best) < -self.min_delta:
            self.best, self.best_epoch, self.wait = value, metrics["epoch"], 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop_training = True
