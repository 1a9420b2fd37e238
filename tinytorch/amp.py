"""Mixed precision: float16 storage and compute, float32 master weights, dynamic loss scaling.

float16 holds 5 significant bits of exponent: gradients under 6e-8 become 0 and values over 65504
become inf. GradScaler multiplies the loss by a large scale so small gradients survive the
float16 backward, divides it out before the step, and when a gradient overflowed it skips that
step and halves the scale. MasterWeights keeps float32 copies that the optimizer updates, so
tiny updates are not rounded away in float16."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .autograd import no_grad
from .nn.module import Module, Parameter
from .optim.optimizer import Optimizer
from .tensor import Tensor


class GradScaler:
    """PyTorch's torch.amp.GradScaler: scale(loss).backward(); step(optimizer); update()."""

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:  # fmt: skip
        if not (growth_factor > 1 and 0 < backoff_factor < 1):
            raise ValueError(
                f"GradScaler needs growth_factor > 1 and 0 < backoff_factor < 1, got {growth_factor}, {backoff_factor}"
            )
        self.scale_value, self.growth_factor, self.backoff_factor = float(init_scale), growth_factor, backoff_factor
        self.growth_interval, self.enabled = growth_interval, enabled
        self._good_steps, self._found_inf, self._unscaled = 0, False, False
        self.skipped = 0  # steps skipped because a gradient overflowed

    def get_scale(self) -> float:
        return self.scale_value if self.enabled else 1.0

    def scale(self, loss: Tensor) -> Tensor:
        """loss x scale, in float32: 2^16 itself does not fit in float16 (its largest value is 65504)."""
        return loss.float() * self.scale_value if self.enabled else loss

    def unscale_(self, optimizer: Optimizer) -> None:
        """Divide every gradient by the scale (once per step) and note whether any is inf or NaN."""
        if not self.enabled or self._unscaled:
            return
        inv = 1.0 / self.scale_value
        found = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        found = found or not bool(np.isfinite(p.grad.data).all())
                        p.grad.mul_(inv)
        self._found_inf, self._unscaled = found, True

    def step(self, optimizer: Optimizer) -> bool:
        """optimizer.step() unless a gradient overflowed; returns whether it stepped."""
        if not self.enabled:
            optimizer.step()
            return True
        self.unscale_(optimizer)
        if self._found_inf:
            self.skipped += 1
            return False
        optimizer.step()
        return True

    def update(self) -> None:
        """Halve the scale after an overflow; double it after growth_interval clean steps."""
        if not self.enabled:
            return
        if self._found_inf:
            self.scale_value *= self.backoff_factor
            self._good_steps = 0
        else:
            self._good_steps += 1
            if self._good_steps == self.growth_interval:
                self.scale_value *= self.growth_factor
                self._good_steps = 0
        self._found_inf, self._unscaled = False, False

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale_value, "good_steps": self._good_steps, "skipped": self.skipped}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale_value, self._good_steps, self.skipped = (
            float(state["scale"]),
            int(state["good_steps"]),
            int(state.get("skipped", 0)),
        )


class MasterWeights:
    """A float16 model trained through float32 copies of its parameters.

    After backward (in float16), step() copies the gradients to the float32 masters, lets the
    scaler unscale them and step the optimizer on the masters, then rounds the masters back into
    the float16 model. make_optimizer receives the master parameters. Compute the loss in
    float32 (logits.float()), as PyTorch's autocast does: softmax and log are where float16
    loses most."""

    def __init__(self, model: Module, make_optimizer: Callable[[Iterable[Parameter]], Optimizer]) -> None:
        self.model = model.half()
        self.params = list(model.parameters())
        self.master = [Parameter(p.data.astype(np.float32)) for p in self.params]
        self.optimizer = make_optimizer(self.master)

    def zero_grad(self) -> None:
        self.model.zero_grad()
        self.optimizer.zero_grad()

    def step(self, scaler: GradScaler) -> bool:
        for p, m in zip(self.params, self.master):
            m.grad = None if p.grad is None else Tensor(p.grad.data.astype(np.float32))
        stepped = scaler.step(self.optimizer)
        if stepped:
            with no_grad():
                for p, m in zip(self.params, self.master):
                    p.copy_(Tensor(m.data.astype(np.float16)))
        scaler.update()
        return stepped

    def nbytes(self) -> dict[str, int]:
        """Bytes of the float16 model's parameters and of the float32 masters."""
        return {"model": sum(p.data.nbytes for p in self.params), "master": sum(m.data.nbytes for m in self.master)}
