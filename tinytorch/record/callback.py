"""The training loop's recorder: fit(..., record="runs/name") adds one of these."""

from __future__ import annotations

import sys
from typing import Any

from ..train.callbacks import Callback


class RecordCallback(Callback):
    """Records a fit(): one recorded step per optimizer step, epoch metrics as scalars.

    Options are those of tinytorch.record (every, trace_steps, probe, anomaly, ...)."""

    def __init__(self, path: str, **options: Any) -> None:
        self.path, self.options, self.run = path, options, None

    def on_train_begin(self, trainer: Any) -> None:
        from . import record

        config = {"model": repr(trainer.model), "optimizer": repr(trainer.optimizer), "epochs": trainer.epochs,
                  "parameters": sum(p.numel() for p in trainer.model.parameters())}  # fmt: skip
        self.run = record(self.path, model=trainer.model, optimizer=trainer.optimizer, config=config, **self.options)

    def on_step_end(self, trainer: Any, loss: float, stepped: bool) -> None:
        if stepped:
            self.run.step(loss)

    def on_epoch_end(self, trainer: Any, metrics: dict[str, Any]) -> None:
        last = self.run.step_index - 1  # the epoch's last recorded step
        for key, value in metrics.items():
            if key.startswith(("train_", "val_")) and isinstance(value, (int, float)):
                self.run.log(key.replace("_", "/", 1), value, step=last)
        self.run.log("epoch", metrics["epoch"], step=last)

    def on_train_end(self, trainer: Any) -> None:
        if self.run is not None:
            failed = sys.exc_info()[0] is not None  # on_train_end runs in a finally block
            self.run.close("failed" if failed else "finished")
