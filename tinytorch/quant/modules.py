"""QuantLinear and QuantConv2d: int8 weights with a scale per output channel, int8 inputs with a
calibrated scale and zero point, exact int32 accumulation, float32 outputs.

Everything they hold is a buffer (state_dict saves it, model_nbytes counts it):
    weight            int8 (out, in) or (Co, Cg, kh, kw), symmetric: zero point 0, values in [-127, 127]
    weight_scale      float32, one per output channel (or one for the tensor)
    bias              float32 (out,), added after the integers are rescaled, or None
    input_scale       float32 scalar: the input's quantization step, from calibration
    input_zero_point  int32 scalar: the integer that stands for a real 0 input
Built from a float layer by `from_float(layer, input_scale, input_zero_point)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.conv import Conv2d, _pair
from ..nn.functional import conv_padding
from ..nn.layers import Linear
from ..nn.module import Module
from ..tensor import Tensor
from .affine import check_accumulator, quantize
from .observers import MinMaxObserver, PerChannelMinMaxObserver
from .ops import Quantize, QuantizedConv2d, QuantizedLinear


def quantize_weight(weight: np.ndarray, per_channel: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(int8 weight, float32 scale): symmetric, per output channel (axis 0) or per tensor."""
    observer = PerChannelMinMaxObserver(ch_axis=0) if per_channel else MinMaxObserver(symmetric=True)
    observer(weight)
    scale, zero_point = observer.calculate_qparams()
    scale = scale.reshape(-1)  # (out,) per channel, (1,) per tensor
    return quantize(weight, scale, zero_point.reshape(-1), np.int8, axis=0), scale


class _QuantLayer(Module):
    """What QuantLinear and QuantConv2d share: the buffers and the input quantization."""

    def _init_buffers(self, shape: tuple[int, ...], bias: bool, per_channel: bool, method: str) -> None:
        out = shape[0]
        check_accumulator(int(np.prod(shape[1:])))  # refuse at build time a layer whose sums could overflow
        if method not in ("blas", "int32"):
            raise ValueError(f"method must be 'blas' or 'int32', got {method!r}")
        self.per_channel, self.method = per_channel, method
        self.register_buffer("weight", Tensor(np.zeros(shape, np.int8)))
        self.register_buffer("weight_scale", Tensor(np.ones(out if per_channel else 1, np.float32)))
        self.register_buffer("bias", Tensor(np.zeros(out, np.float32)) if bias else None)
        self.register_buffer("input_scale", Tensor(np.ones((), np.float32)))
        self.register_buffer("input_zero_point", Tensor(np.zeros((), np.int32)))

    def _load_float(self, layer: Module, input_scale: Any, input_zero_point: Any) -> None:
        q, scale = quantize_weight(layer.weight.data, self.per_channel)
        self.weight.data[...] = q
        self.weight_scale.data[...] = scale
        if layer.bias is not None:
            self.bias.data[...] = layer.bias.data
        self.input_scale.data[...] = input_scale
        self.input_zero_point.data[...] = input_zero_point

    def _quantized_input(self, x: Tensor) -> tuple[Tensor, dict[str, Any]]:
        """The int8 input and the attributes the quantized op needs."""
        scale, zero_point = float(self.input_scale.data), int(self.input_zero_point.data)
        qx = Quantize.apply(x, scale=scale, zero_point=zero_point)
        return qx, dict(input_scale=scale, input_zero_point=zero_point, method=self.method)

    def _weights(self) -> tuple[Tensor, ...]:
        return (self.weight, self.weight_scale) + ((self.bias,) if self.bias is not None else ())


class QuantLinear(_QuantLayer):
    """y ~ x W^T + b computed on int8 x and W (see ops.QuantizedLinear)."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, per_channel: bool = True, method: str = "blas"
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self._init_buffers((out_features, in_features), bias, per_channel, method)

    @classmethod
    def from_float(
        cls, linear: Linear, input_scale: Any, input_zero_point: Any, per_channel: bool = True, method: str = "blas"
    ) -> QuantLinear:
        """The quantized twin of a float Linear whose input was calibrated to (input_scale, input_zero_point)."""
        q = cls(linear.in_features, linear.out_features, linear.bias is not None, per_channel, method)
        q._load_float(linear, input_scale, input_zero_point)
        return q

    def forward(self, x: Tensor) -> Tensor:
        qx, attrs = self._quantized_input(x)
        return QuantizedLinear.apply(qx, *self._weights(), **attrs)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
            f"per_channel={self.per_channel}, input_scale={float(self.input_scale.data):.4g}, "
            f"input_zero_point={int(self.input_zero_point.data)}"
        )


class QuantConv2d(_QuantLayer):
    """The int8 twin of Conv2d (see ops.QuantizedConv2d); same geometry arguments."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
        dilation: Any = 1, groups: int = 1, bias: bool = True, per_channel: bool = True, method: str = "blas",
    ) -> None:  # fmt: skip
        super().__init__()
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.dilation = _pair(kernel_size), _pair(stride), _pair(dilation)
        self.padding = conv_padding(padding, self.kernel_size, self.dilation)
        self._init_buffers((out_channels, in_channels // groups, *self.kernel_size), bias, per_channel, method)

    @classmethod
    def from_float(
        cls, conv: Conv2d, input_scale: Any, input_zero_point: Any, per_channel: bool = True, method: str = "blas"
    ) -> QuantConv2d:
        """The quantized twin of a float Conv2d whose input was calibrated to (input_scale, input_zero_point)."""
        q = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                conv.groups, conv.bias is not None, per_channel, method)  # fmt: skip
        q._load_float(conv, input_scale, input_zero_point)
        return q

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"QuantConv2d({self.in_channels}, {self.out_channels}) expects input (N, {self.in_channels}, H, W), got {x.shape}"
            )
        qx, attrs = self._quantized_input(x)
        geometry = dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups)
        return QuantizedConv2d.apply(qx, *self._weights(), **attrs, **geometry)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, per_channel={self.per_channel}, input_scale={float(self.input_scale.data):.4g}, "
            f"input_zero_point={int(self.input_zero_point.data)}"
        )
