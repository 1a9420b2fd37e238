"""Optimizer: parameter groups, state allocated at the first step, state_dict round trips.

Each optimizer's update for one parameter is one in-place op (a Function with inplace=True)
written beside it, so the recorder and the profiler see the update like any other op.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import function
from ..autograd import enable_grad, no_grad
from ..function import Function
from ..tensor import Tensor


class _Update(Function):
    """Base of the optimizers' update ops: in place on the parameter, no gradient.

    Each takes `report=None`; a recorder passes a dict and gets the update's squared norm in
    it (for the update-to-weight ratio) at the cost of one dot product."""

    differentiable = False
    inplace = True
    per_element = 2  # FLOPs per parameter element (p -= lr * g); each optimizer sets its own

    @classmethod
    def flops(cls, shapes, out, attrs):
        return cls.per_element * int(np.prod(shapes[0]))


def apply_update(p: np.ndarray, update: np.ndarray, report: dict | None) -> np.ndarray:
    """p -= update, noting |update|^2 in report when a recorder asks for it."""
    if report is not None:
        flat = update.reshape(-1)
        report["update_sq"] = float(np.dot(flat, flat))
    p -= update
    return p


class Optimizer:
    """Holds parameter groups (dicts of params and hyperparameters) and per-parameter state."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in group["params"]:
            if not isinstance(p, Tensor) or not p.is_leaf:
                raise ValueError(f"{type(self).__name__} can only optimize leaf tensors, got {type(p).__name__}")
            if id(p) in seen:
                raise ValueError(f"a parameter of shape {tuple(p.shape)} appears twice in the parameter groups")
            seen.add(id(p))
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; closure re-evaluates the loss first."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        recorder = function._hook
        if recorder is not None:  # the updates are the optimizer phase; what follows, the next forward
            recorder.set_phase("optimizer")
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        state = self.state.get(p)
                        if state is None:
                            state = self.state[p] = {}
                        self.update(p, p.grad, state, group)
        if recorder is not None:
            recorder.set_phase("forward")
        return loss

    def update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _state_like(self, p: Tensor, name: str, value: np.ndarray | None = None) -> Tensor:
        """A state buffer shaped like p (zeros, or a copy of value); its memory is optimizer_state."""
        t = Tensor(np.zeros_like(p.data) if value is None else np.array(value, dtype=p.dtype))
        recorder = function._hook
        if recorder is not None:  # the category is known here, at allocation, so say it here
            recorder.allocated(t.data, "optimizer_state", f"{type(self).__name__}.{name}", owner=p)
        return t

    def state_nbytes(self) -> int:
        """Bytes held by optimizer state arrays (Adam: 2x the parameters; SGD: 0)."""
        return sum(v.data.nbytes for s in self.state.values() for v in s.values() if isinstance(v, Tensor))

    # ------------------------------------------------------------------ state_dict

    def state_dict(self) -> dict[str, Any]:
        """{"state": {param index: {name: ndarray or number}}, "param_groups": [...]} as PyTorch."""
        index = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
        state = {
            index[id(p)]: {k: (v.data.copy() if isinstance(v, Tensor) else v) for k, v in s.items()}
            for p, s in self.state.items()
        }
        groups = [
            {**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
            for g in self.param_groups
        ]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state and hyperparameters; checks groups, sizes and shapes before changing anything."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state has {len(groups)} parameter groups, the optimizer {len(self.param_groups)}")
        params = [p for g in self.param_groups for p in g["params"]]
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(
                    f"parameter group {i} has {len(saved['params'])} parameters in the loaded state, {len(own['params'])} here"
                )
        for key, values in state_dict["state"].items():
            p = params[int(key)]
            for name, v in values.items():
                if isinstance(v, np.ndarray) and v.ndim and v.shape != p.shape:
                    raise ValueError(f"state {name!r} of parameter {key} has shape {v.shape}, the parameter {tuple(p.shape)}")
        # arrays were state tensors (any shape, 0-d included); Python numbers stay numbers ("step")
        self.state = {
            params[int(key)]: {
                k: Tensor(np.array(v, dtype=params[int(key)].dtype)) if isinstance(v, np.ndarray) else v
                for k, v in values.items()
            }
            for key, values in state_dict["state"].items()
        }
        for saved, own in zip(groups, self.param_groups):
            own.update({k: v for k, v in saved.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params")
        return "\n".join(lines) + "\n)"
