"""Post-training int8 quantization (tinytorch.quant): affine quantization per tensor and per
channel, observers that calibrate on real batches, QuantLinear and QuantConv2d with exact int32
accumulation, quantize_model and model_nbytes.

    qmodel = quantize_model(model, train_loader, num_batches=10)   # ~4x fewer bytes
"""

from .affine import accumulator_dtype, calculate_qparams, dequantize, int_matmul, qrange, quantize
from .model import model_nbytes, quantize_model
from .modules import QuantConv2d, QuantLinear, quantize_weight
from .observers import (
    OBSERVERS,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    PercentileObserver,
    PerChannelMinMaxObserver,
    calibrate,
)  # fmt: skip
from .ops import Dequantize, Quantize, QuantizedConv2d, QuantizedLinear

__all__ = [
    "OBSERVERS",
    "Dequantize",
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "PerChannelMinMaxObserver",
    "PercentileObserver",
    "QuantConv2d",
    "QuantLinear",
    "Quantize",
    "QuantizedConv2d",
    "QuantizedLinear",
    "accumulator_dtype",
    "calculate_qparams",
    "calibrate",
    "dequantize",
    "int_matmul",
    "model_nbytes",
    "qrange",
    "quantize",
    "quantize_model",
    "quantize_weight",
]
