"""Whole-model post-training quantization, and the bytes a model holds."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

from ..nn.conv import Conv2d
from ..nn.layers import Linear
from ..nn.module import Module
from .modules import QuantConv2d, QuantLinear
from .observers import MinMaxObserver, calibrate

_QUANTIZED = {Linear: QuantLinear, Conv2d: QuantConv2d}


def quantize_model(
    model: Module,
    calibration_loader: Iterable,
    num_batches: int = 10,
    per_channel: bool = True,
    observer: str | Callable[[], MinMaxObserver] = "minmax",
    method: str = "blas",
    inplace: bool = False,
) -> Module:
    """Post-training static quantization: every nn.Linear and nn.Conv2d, at any depth, becomes
    QuantLinear / QuantConv2d; every other module stays as it is (float).

    First the float model runs num_batches calibration batches with an observer on each layer's
    input (observer: "minmax", "moving_average", "percentile" or a factory); each layer's input
    (scale, zero point) comes from what its observer saw. Weights are quantized symmetrically,
    per output channel unless per_channel=False. method: "blas" (exact integer sums on BLAS) or
    "int32" (NumPy's integer matmul). The float model is left untouched unless inplace=True;
    the quantized model is returned in eval mode (it is for inference)."""
    targets = [(name, m) for name, m in model.named_modules() if type(m) in _QUANTIZED and name]
    if not targets and type(model) in _QUANTIZED:
        raise ValueError("quantize_model expects a model that contains layers; quantize a lone layer with QuantLinear.from_float")
    if not targets:
        raise ValueError(f"quantize_model: {type(model).__name__} has no nn.Linear or nn.Conv2d layer to quantize")
    observers = calibrate(model, calibration_loader, num_batches, observer, targets)
    if not inplace:
        model = _deepcopy(model)
    modules = dict(model.named_modules())
    for name, _ in targets:
        layer = modules[name]
        scale, zero_point = observers[name].calculate_qparams()
        quantized = _QUANTIZED[type(layer)].from_float(layer, scale, zero_point, per_channel, method)
        parent, _, child = name.rpartition(".")
        modules[parent].add_module(child, quantized)  # the same key: Sequential keeps its order
    return model.eval()


def model_nbytes(model: Module) -> int:
    """Bytes of every parameter and buffer array of the model (int8 weights: 1 byte per value,
    float32: 4; a tensor shared by two modules counts once)."""
    seen: set[int] = set()
    total = 0
    for t in (*model.parameters(), *model.buffers()):
        if id(t.data) not in seen:
            seen.add(id(t.data))
            total += t.data.nbytes
    return total


def _deepcopy(model: Module) -> Module:
    """A deep copy whose modules know their new parents (deepcopy keeps weak references as they
    are, so without relinking a child would name itself after the original model)."""
    clone = copy.deepcopy(model)
    for m in clone.modules():
        for name, child in m.named_children():
            m.add_module(name, child)
    return clone
