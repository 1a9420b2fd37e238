"""Pruning: masks that zero weights and keep them zero while training goes on.

A pruned parameter `weight` of a module gets a boolean buffer `weight_mask` (True = kept), the
name torch.nn.utils.prune uses. Why a pruned weight stays exactly 0 through later steps:
  1. pruning writes the zeros, and zeroes the optimizer's state there when given the optimizer;
  2. a gradient hook on the parameter zeroes the masked entries of every gradient;
  3. so each optimizer update of a masked entry is computed from zeros only: SGD's momentum
     m b + g, weight decay wd p, Adam's m / (sqrt(v) + eps) all come out exactly 0.
A forward pre-hook also re-applies the mask before each forward: that catches anything else that
writes the weights (load_state_dict, an optimizer whose momentum predates the pruning).
Pruning is cumulative: a mask only ever gains zeros. `remove` makes it permanent (drops the
mask and the hooks; the zeros stay).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..nn.conv import Conv2d
from ..nn.layers import Linear
from ..nn.module import Module
from ..optim.optimizer import Optimizer
from ..tensor import Tensor


def prune_magnitude(
    model: Module,
    amount: float,
    scope: str = "global",
    modules: Iterable[Module] | None = None,
    name: str = "weight",
    optimizer: Optimizer | None = None,
) -> Module:
    """Zero the fraction `amount` of weights with the smallest |w| (unstructured pruning).

    scope="global": one threshold over all the layers together, so a layer of large weights
    loses few and a layer of small ones many; scope="layer": each layer loses `amount` of its own.
    amount is the fraction of weights that end up pruned (already pruned ones, being 0, count
    first). modules: the layers to prune (default: every Linear and Conv2d); name: which of their
    parameters. optimizer: its state (momentum, Adam moments) is zeroed at the pruned entries."""
    layers = _layers(model, modules, name)
    _check_amount(amount)
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    weights = [getattr(m, name).data for m in layers]
    if scope == "layer":
        for m, w in zip(layers, weights):
            _apply_mask(m, name, _keep_largest(np.abs(w).ravel(), amount).reshape(w.shape), optimizer)
        return model
    keep = _keep_largest(np.concatenate([np.abs(w).ravel() for w in weights]), amount)
    start = 0
    for m, w in zip(layers, weights):
        _apply_mask(m, name, keep[start : start + w.size].reshape(w.shape), optimizer)
        start += w.size
    return model


def prune_structured(
    model: Module, amount: float, n: int = 2, modules: Iterable[Module] | None = None, optimizer: Optimizer | None = None
) -> Module:
    """Remove whole output units: in each layer, the fraction `amount` of output channels (Conv2d)
    or output features (Linear) whose weights have the smallest L_n norm (n = 1 or 2). A removed
    unit's weights and bias are masked, so its output is 0 for every input.

    modules: the layers to prune (default: every Linear and Conv2d; leave out the classifier, whose
    output units are the classes)."""
    if n not in (1, 2):
        raise ValueError(f"n must be 1 (L1 norm) or 2 (L2 norm), got {n}")
    _check_amount(amount)
    for m in _layers(model, modules, "weight"):
        w = m.weight.data
        norms = np.linalg.norm(w.reshape(w.shape[0], -1).astype(np.float64), ord=n, axis=1)  # one per output unit
        rows = _keep_largest(norms, amount)  # (out,)
        _apply_mask(m, "weight", np.broadcast_to(rows.reshape(-1, *[1] * (w.ndim - 1)), w.shape).copy(), optimizer)
        if m.bias is not None:
            _apply_mask(m, "bias", rows, optimizer)
    return model


def remove(model: Module) -> Module:
    """Make every pruning of the model permanent: drop the masks and hooks, keep the zeros."""
    for m in model.modules():
        for name, (pre, grad) in list(m.__dict__.get("_prune_hooks", {}).items()):
            pre.remove()
            grad.remove()
            del m._buffers[f"{name}_mask"]
        m.__dict__.pop("_prune_hooks", None)
    return model


def is_pruned(module: Module) -> bool:
    """True when the module or any module inside it holds a pruning mask."""
    return any(m.__dict__.get("_prune_hooks") for m in module.modules())


# ---------------------------------------------------------------------- masks


def _apply_mask(module: Module, name: str, keep: np.ndarray, optimizer: Optimizer | None) -> None:
    """Store keep as module.<name>_mask (ANDed with any earlier mask), zero the pruned entries of
    the parameter and of the optimizer's state, and hook the parameter once."""
    param = getattr(module, name)
    keep = np.array(keep, bool)  # an owned copy, not a view into a caller's array
    hooks = module.__dict__.setdefault("_prune_hooks", {})
    if name in hooks:
        keep = keep & module._buffers[f"{name}_mask"].data
        module._buffers[f"{name}_mask"].data = keep
    else:
        module.register_buffer(f"{name}_mask", Tensor(keep))
        pre = module.register_forward_pre_hook(lambda m, args: _zero(getattr(m, name).data, m._buffers[f"{name}_mask"].data))
        grad = param.register_hook(lambda g: Tensor(_zeroed(g.data, module._buffers[f"{name}_mask"].data)))
        hooks[name] = (pre, grad)
    _zero(param.data, keep)
    if param.grad is not None:
        _zero(param.grad.data, keep)
    state = optimizer.state.get(param, {}) if optimizer is not None else {}
    for value in state.values():  # momentum buffers, Adam's moments: anything shaped like the parameter
        if isinstance(value, Tensor) and value.shape == param.shape:
            _zero(value.data, keep)


def _zero(array: np.ndarray, keep: np.ndarray) -> None:
    """array[~keep] = 0 in place (also over NaN, which multiplying by the mask would keep)."""
    np.copyto(array, 0, where=~keep)


def _zeroed(array: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return np.where(keep, array, array.dtype.type(0))


def _keep_largest(scores: np.ndarray, amount: float) -> np.ndarray:
    """A boolean mask keeping all but the round(amount * size) smallest scores."""
    k = round(amount * scores.size)
    keep = np.ones(scores.shape, bool)
    if k:
        keep[np.argpartition(scores, k - 1)[:k]] = False  # the k smallest, ties broken arbitrarily
    return keep


def _check_amount(amount: Any) -> None:
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.integer, np.floating)):
        raise TypeError(f"amount must be a number in [0, 1] (the fraction to prune), got {type(amount).__name__}")
    if not 0 <= amount <= 1:
        raise ValueError(f"amount is the fraction of weights to prune and must lie in [0, 1], got {amount}")


def _layers(model: Module, modules: Iterable[Module] | None, name: str) -> list[Module]:
    """The modules to prune: those given, or every Linear and Conv2d of the model."""
    layers = [m for m in model.modules() if isinstance(m, (Linear, Conv2d))] if modules is None else list(modules)
    if not layers:
        raise ValueError(f"nothing to prune: {type(model).__name__} has no Linear or Conv2d layer (pass modules=...)")
    for m in layers:
        if not isinstance(m, Module) or not isinstance(m._parameters.get(name), Tensor):
            raise ValueError(f"cannot prune {type(m).__name__}: it has no parameter named {name!r}")
    return layers
