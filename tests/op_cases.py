"""The op table's test cases: every op registered in tinytorch.OPS has at least one.

A case is one call written once for both frameworks: `fn(m, *inputs)` where `m.t` is the
tensor library (tinytorch or torch) and `m.F` its nn.functional. Differentiable ops are
gradchecked in float64 and compared with PyTorch (values and gradients); ops without a
gradient are compared on values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

import tinytorch as tt
import tinytorch.nn.functional as ttF


@dataclass
class Spec:
    """How to draw one input: float in [lo, hi] (requires grad), int in [0, hi), or bool."""

    shape: tuple[int, ...]
    kind: str = "f"
    lo: float = -2.0
    hi: float = 2.0
    grad: bool = True

    def draw(self, rng: np.random.Generator, dtype: Any) -> np.ndarray:
        if self.kind == "i":
            return rng.integers(0, int(self.hi), self.shape).astype(np.int64)
        if self.kind == "b":
            return rng.random(self.shape) < 0.5
        return rng.uniform(self.lo, self.hi, self.shape).astype(dtype)


def f(*shape: int, lo: float = -2.0, hi: float = 2.0, grad: bool = True) -> Spec:
    return Spec(shape, "f", lo, hi, grad)


def i(*shape: int, hi: int) -> Spec:
    return Spec(shape, "i", hi=hi, grad=False)


def b(*shape: int) -> Spec:
    return Spec(shape, "b", grad=False)


@dataclass
class Case:
    op: str  # the OPS entry this case exercises
    fn: Callable[..., Any]
    inputs: list[Spec]
    name: str = ""
    gradcheck: dict = field(default_factory=dict)  # extra gradcheck arguments
    atol: float = 1e-8  # float64 comparison with torch

    def __post_init__(self) -> None:
        self.name = self.name or self.op

    @property
    def id(self) -> str:
        return self.name


TT = SimpleNamespace(t=tt, F=ttF)


def _checkpointed(m, fn, *args):
    """Gradient checkpointing in either library (torch spells it checkpoint.checkpoint)."""
    if m.t is tt:
        return tt.utils.checkpoint(fn, *args)
    return m.t.utils.checkpoint.checkpoint(fn, *args, use_reentrant=False)


def _round_trip(m, a):
    """To the other float width and back: two Casts."""
    other = m.t.float64 if a.dtype == m.t.float32 else m.t.float32
    return a.to(other).to(a.dtype)


def _torch_ns():
    import torch

    return SimpleNamespace(t=torch, F=torch.nn.functional)


DIFFERENTIABLE: list[Case] = [
    # binary, with broadcasting
    Case("Add", lambda m, a, b: a + b, [f(3, 1), f(4)]),
    Case("Add", lambda m, a: 2.5 + a, [f(2, 3)], name="Add_reflected_scalar"),
    Case("Sub", lambda m, a, b: a - b, [f(2, 3), f(3)]),
    Case("Sub", lambda m, a: 1 - a, [f(4)], name="Sub_reflected"),
    Case("Mul", lambda m, a, b: a * b, [f(2, 1, 3), f(4, 1)]),
    Case("Div", lambda m, a, b: a / b, [f(3, 4), f(4, lo=0.5, hi=2)]),
    Case("Div", lambda m, a: 2 / a, [f(3, lo=0.5, hi=2)], name="Div_reflected"),
    Case("Pow", lambda m, a, b: a**b, [f(2, 3, lo=0.5, hi=2), f(3, lo=-1.5, hi=1.5)]),
    Case("Pow", lambda m, a: a**3, [f(5)], name="Pow_scalar_exponent"),
    Case("Pow", lambda m, a: 2**a, [f(5)], name="Pow_reflected"),
    Case("Maximum", lambda m, a, b: m.t.maximum(a, b), [f(3, 4), f(4)]),
    Case("Minimum", lambda m, a, b: m.t.minimum(a, b), [f(3, 4), f(3, 1)]),
    Case("Where", lambda m, c, a, b: m.t.where(c, a, b), [b(3, 4), f(3, 4), f(4)]),
    Case("Where", lambda m, x, mask: x.masked_fill(mask, -1.5), [f(3, 4), b(3, 4)], name="Where_masked_fill"),
    Case("Where", lambda m, x: x.tril(), [f(4, 4)], name="Where_tril"),
    Case("Where", lambda m, x: x.triu(1), [f(2, 3, 4)], name="Where_triu"),
    # unary
    Case("Neg", lambda m, a: -a, [f(3, 2)]),
    Case("Abs", lambda m, a: a.abs(), [f(6)]),
    Case("Exp", lambda m, a: a.exp(), [f(2, 3)]),
    Case("Log", lambda m, a: a.log(), [f(2, 3, lo=0.1, hi=3)]),
    Case("Sqrt", lambda m, a: a.sqrt(), [f(2, 3, lo=0.1, hi=3)]),
    Case("Tanh", lambda m, a: a.tanh(), [f(2, 3)]),
    Case("Sigmoid", lambda m, a: a.sigmoid(), [f(2, 3, lo=-6, hi=6)]),
    Case("Relu", lambda m, a: a.relu(), [f(3, 3)]),
    Case("LeakyRelu", lambda m, a: m.F.leaky_relu(a, 0.2), [f(3, 3)]),
    Case("Gelu", lambda m, a: m.F.gelu(a), [f(3, 4, lo=-4, hi=4)], atol=1e-6),  # erf to 1.5e-7
    Case("Gelu", lambda m, a: m.F.gelu(a, approximate="tanh"), [f(3, 4, lo=-4, hi=4)], name="Gelu_tanh"),
    Case("Clamp", lambda m, a: a.clamp(-0.5, 0.7), [f(10)]),
    Case("Clamp", lambda m, a: a.clamp(min=0.1), [f(10)], name="Clamp_min_only"),
    Case("Cast", lambda m, a: _round_trip(m, a) * 3, [f(4)], gradcheck={"eps": 1e-3}, atol=1e-6),
    # reductions
    Case("Sum", lambda m, a: a.sum(), [f(2, 3)]),
    Case("Sum", lambda m, a: a.sum(dim=1, keepdim=True), [f(2, 3, 4)], name="Sum_dim_keepdim"),
    Case("Sum", lambda m, a: a.sum(dim=(0, 2)), [f(2, 3, 4)], name="Sum_dims"),
    Case("Mean", lambda m, a: a.mean(), [f(2, 3)]),
    Case("Mean", lambda m, a: a.mean(-1), [f(2, 3, 4)], name="Mean_dim"),
    Case("Max", lambda m, a: a.max(), [f(3, 4)]),
    Case("Max", lambda m, a: a.max(dim=1)[0], [f(3, 4, 2)], name="Max_dim"),
    Case("Min", lambda m, a: a.min(), [f(3, 4)]),
    Case("Min", lambda m, a: a.min(dim=0, keepdim=True)[0], [f(3, 4)], name="Min_dim"),
    Case("Mean", lambda m, a: a.var(dim=1), [f(3, 5)], name="var_composite"),
    Case("Mean", lambda m, a: a.std(), [f(3, 5)], name="std_composite"),
    Case("Max", lambda m, a: a.logsumexp(dim=1), [f(3, 5)], name="logsumexp_composite"),
    Case("Exp", lambda m, a: a.softmax(dim=-1), [f(3, 5)], name="softmax_composite"),
    Case("Log", lambda m, a: a.log_softmax(dim=0), [f(3, 5)], name="log_softmax_composite"),
    # shapes
    Case("Reshape", lambda m, a: a.reshape(4, -1), [f(2, 3, 2)]),
    Case("Reshape", lambda m, a: a.unsqueeze(1).squeeze(), [f(3, 1, 2)], name="Reshape_squeeze"),
    Case("Reshape", lambda m, a: a.flatten(1), [f(2, 3, 2)], name="Reshape_flatten"),
    Case("Permute", lambda m, a: a.permute(2, 0, 1), [f(2, 3, 4)]),
    Case("Permute", lambda m, a: a.transpose(0, 1), [f(2, 3)], name="Permute_transpose"),
    Case("Expand", lambda m, a: a.expand(2, 3, 4), [f(3, 1)]),
    Case("GetItem", lambda m, a: a[1:, ::2], [f(3, 5)]),
    Case("GetItem", lambda m, a: a[None, ..., 1], [f(3, 5)], name="GetItem_none_ellipsis"),
    Case("GetItem", lambda m, a: a[[0, 2, 0]], [f(3, 4)], name="GetItem_repeated"),
    Case("GetItem", lambda m, a, mask: a[mask], [f(3, 4), b(3, 4)], name="GetItem_mask"),
    Case("GetItem", lambda m, a: a.split(2, dim=1)[1], [f(2, 5)], name="GetItem_split"),
    Case("GetItem", lambda m, a: a.chunk(3)[2], [f(7, 2)], name="GetItem_chunk"),
    Case("Cat", lambda m, a, b: m.t.cat([a, b], dim=1), [f(2, 3), f(2, 2)]),
    Case("Cat", lambda m, a, b: m.t.stack([a, b], dim=2), [f(2, 3), f(2, 3)], name="Cat_stack"),
    Case("Pad", lambda m, a: m.F.pad(a, (1, 2, 0, 1), value=0.5), [f(2, 3, 4)]),
    Case("MatMul", lambda m, a, b: a @ b, [f(2, 1, 3, 4), f(5, 4, 2)]),
    Case("MatMul", lambda m, a, b: a @ b, [f(4), f(4, 3)], name="MatMul_vector_matrix"),
    Case("MatMul", lambda m, a, b: a @ b, [f(2, 3, 4), f(4)], name="MatMul_matrix_vector"),
    Case("MatMul", lambda m, a, b: a @ b, [f(2, 3, 4), f(4, 5)], name="MatMul_shared_weight"),
    # fused
    Case("CrossEntropy", lambda m, x, y: m.F.cross_entropy(x, y), [f(5, 4), i(5, hi=4)]),
    Case(
        "CrossEntropy",
        lambda m, x, y: m.F.cross_entropy(x, y, ignore_index=1, label_smoothing=0.2, reduction="sum"),
        [f(6, 3), i(6, hi=3)],
        name="CrossEntropy_ignore_smoothing",
    ),
    Case("CrossEntropy", lambda m, x, y: m.F.cross_entropy(x, y), [f(2, 4, 3, 2), i(2, 3, 2, hi=4)], name="CrossEntropy_kdim"),
    Case("Linear", lambda m, x, w, bias: m.F.linear(x, w, bias), [f(2, 3, 4), f(5, 4), f(5)]),
    # vision
    Case("Conv2d", lambda m, x, w, bias: m.F.conv2d(x, w, bias), [f(2, 3, 5, 6), f(4, 3, 3, 2), f(4)]),
    Case(
        "Conv2d", lambda m, x, w: m.F.conv2d(x, w, stride=2, padding=1), [f(2, 2, 7, 6), f(3, 2, 3, 3)], name="Conv2d_stride_pad"
    ),
    Case(
        "Conv2d",
        lambda m, x, w: m.F.conv2d(x, w, padding=(2, 1), dilation=2),
        [f(1, 2, 6, 6), f(2, 2, 3, 2)],
        name="Conv2d_dilation",
    ),
    Case(
        "Conv2d",
        lambda m, x, w, bias: m.F.conv2d(x, w, bias, groups=2),
        [f(2, 4, 5, 5), f(6, 2, 3, 3), f(6)],
        name="Conv2d_groups",
    ),
    Case(
        "Conv2d", lambda m, x, w: m.F.conv2d(x, w, padding="same", stride=1), [f(1, 3, 5, 4), f(2, 3, 3, 3)], name="Conv2d_same"
    ),
    Case("MaxPool2d", lambda m, x: m.F.max_pool2d(x, 2), [f(2, 3, 6, 4)]),
    Case("MaxPool2d", lambda m, x: m.F.max_pool2d(x, 3, stride=2, padding=1), [f(2, 2, 7, 6)], name="MaxPool2d_pad"),
    Case("MaxPool2d", lambda m, x: m.F.max_pool2d(x, 2, stride=1, dilation=2), [f(1, 2, 6, 5)], name="MaxPool2d_dilation"),
    Case("MaxPool2d", lambda m, x: m.F.max_pool2d(x, 2, ceil_mode=True), [f(1, 2, 5, 7)], name="MaxPool2d_ceil"),
    Case("AvgPool2d", lambda m, x: m.F.avg_pool2d(x, 2), [f(2, 3, 6, 4)]),
    Case(
        "AvgPool2d",
        lambda m, x: m.F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
        [f(2, 2, 7, 6)],
        name="AvgPool2d_pad_exclude",
    ),
    Case("AvgPool2d", lambda m, x: m.F.avg_pool2d(x, 3, stride=2, padding=1), [f(1, 2, 6, 5)], name="AvgPool2d_pad_include"),
    Case("AvgPool2d", lambda m, x: m.F.avg_pool2d(x, 2, ceil_mode=True), [f(1, 2, 5, 7)], name="AvgPool2d_ceil"),
    Case("MatMul", lambda m, x: m.F.adaptive_avg_pool2d(x, (3, 2)), [f(2, 2, 7, 5)], name="MatMul_adaptive_avg_pool"),
    Case("AvgPool2d", lambda m, x: m.F.adaptive_avg_pool2d(x, 1), [f(2, 3, 4, 4)], name="AvgPool2d_adaptive_global"),
    Case(
        "BatchNorm",
        lambda m, x, w, bias, rm, rv: m.F.batch_norm(x, rm, rv, w, bias, training=True, momentum=0.3),
        [f(4, 3, 2, 5), f(3), f(3), f(3, grad=False), f(3, lo=0.5, hi=2, grad=False)],
    ),
    Case("BatchNorm", lambda m, x: m.F.batch_norm(x, None, None, training=True), [f(6, 4)], name="BatchNorm_2d_no_affine"),
    Case(
        "BatchNorm",
        lambda m, x, w, bias, rm, rv: m.F.batch_norm(x, rm, rv, w, bias, training=False),
        [f(3, 2, 4), f(2), f(2), f(2, grad=False), f(2, lo=0.5, hi=2, grad=False)],
        name="BatchNorm_eval",
    ),
    Case("Linear", lambda m, x, w: m.F.linear(x, w), [f(3, 4), f(2, 4)], name="Linear_no_bias"),
    Case("Checkpoint", lambda m, x, w: _checkpointed(m, lambda a, b: (a @ b).tanh() * a.sum(), x, w), [f(3, 4), f(4, 2)]),
]


def _optimizer_case(name: str, make: Callable[[Any, list], Any]) -> Case:
    """Two steps of an optimizer on a 3x2 parameter with a fixed gradient: the new values."""

    def run(m, p0, g):
        p = p0.detach().clone().requires_grad_(True)
        opt = make(m.t, [p])
        for _ in range(2):
            p.grad = g.clone()
            opt.step()
        return p.detach()

    return Case(name, run, [f(3, 2, grad=False), f(3, 2, grad=False)])


# The quantized ops (tinytorch.quant) against PyTorch's own quantizer (quantize_per_tensor and
# quantize_per_channel give the int8 values) and the float64 formula s_x s_w (q_x - z_x) q_w^T + b.
SX, ZX = 0.03, -3  # input scale and zero point


def _quantize(m, x):
    if m.t is tt:
        return tt.quant.Quantize.apply(x.float(), scale=SX, zero_point=ZX)
    return m.t.quantize_per_tensor(x.float(), SX, ZX, m.t.qint8).int_repr()


def _dequantize(m, x):
    if m.t is tt:
        return tt.quant.Dequantize.apply(_quantize(m, x), scale=SX, zero_point=ZX)
    return m.t.quantize_per_tensor(x.float(), SX, ZX, m.t.qint8).dequantize()


def _weight(m, w):
    """(int8 weight, float32 scale per output channel): symmetric, max |w| of each row to 127."""
    scale = np.abs(w.detach().numpy()).reshape(len(w), -1).max(axis=1) / 127  # (out,)
    if m.t is tt:
        return tt.tensor(tt.quant.quantize(w.data.astype(np.float32), scale, 0, axis=0)), tt.tensor(scale.astype(np.float32))
    q = m.t.quantize_per_channel(w.float(), m.t.tensor(scale), m.t.zeros(len(w), dtype=m.t.int64), 0, m.t.qint8)
    return q.int_repr(), scale


def _quantized(m, op, x, w, bias, **geometry):
    qx, (qw, scale) = _quantize(m, x), _weight(m, w)
    if m.t is tt:
        cls = tt.quant.QuantizedLinear if op == "linear" else tt.quant.QuantizedConv2d
        return cls.apply(qx, qw, scale, bias.float(), input_scale=SX, input_zero_point=ZX, **geometry)
    x0, wq = qx.double() - ZX, qw.double()  # exact integers, in float64
    acc = x0 @ wq.T if op == "linear" else m.F.conv2d(x0, wq, **geometry)
    shape = (-1,) if op == "linear" else (-1, 1, 1)  # scale per output channel: last dim, or dim 1 of NCHW
    return (SX * m.t.tensor(scale).reshape(shape) * acc + bias.reshape(shape)).float()


NO_GRADIENT: list[Case] = [
    Case("Eq", lambda m, a, b: a == b, [i(3, 4, hi=3), i(4, hi=3)]),
    Case("Ne", lambda m, a, b: a != b, [i(3, 4, hi=3), i(4, hi=3)]),
    Case("Lt", lambda m, a, b: a < b, [f(3, 4), f(4)]),
    Case("Le", lambda m, a, b: a <= b, [i(3, 4, hi=3), i(4, hi=3)]),
    Case("Gt", lambda m, a: a > 0.5, [f(3, 4)]),
    Case("Ge", lambda m, a, b: a >= b, [f(3, 4), f(3, 1)]),
    Case("LogicalNot", lambda m, a: ~a, [b(5)]),
    Case("Argmax", lambda m, a: a.argmax(dim=1), [f(3, 4)]),
    Case("Argmax", lambda m, a: a.argmax(), [f(3, 4)], name="Argmax_all"),
    Case("Argmin", lambda m, a: a.argmin(dim=0, keepdim=True), [f(3, 4)]),
    Case("OneHot", lambda m, y: m.F.one_hot(y, 5), [i(2, 3, hi=5)]),
    Case("AddInplace", lambda m, a, b: a.clone().add_(b, alpha=0.5), [f(3, 4, grad=False), f(4, grad=False)]),
    Case("AddInplace", lambda m, a, b: a.clone().sub_(b), [f(3, 4, grad=False), f(4, grad=False)], name="AddInplace_sub"),
    Case("MulInplace", lambda m, a, b: a.clone().mul_(b), [f(3, 4, grad=False), f(3, 1, grad=False)]),
    Case("DivInplace", lambda m, a, b: a.clone().div_(b), [f(3, 4, grad=False), f(4, lo=0.5, hi=2, grad=False)]),
    Case("CopyInplace", lambda m, a, b: a.clone().copy_(b), [f(3, 4, grad=False), f(4, grad=False)]),
    Case("CopyInplace", lambda m, a: a.clone().fill_(2.5), [f(3, grad=False)], name="CopyInplace_fill"),
    Case("CopyInplace", lambda m, a: a.clone().zero_(), [f(3, grad=False)], name="CopyInplace_zero"),
    Case("SetItem", lambda m, a, b: _setitem(a.clone(), b), [f(3, 4, grad=False), f(4, grad=False)]),
    Case("ClampInplace", lambda m, a: a.clone().clamp_(-0.5, 0.5), [f(3, 4, grad=False)]),
    _optimizer_case("SGDStep", lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    _optimizer_case("AdamStep", lambda t, p: t.optim.AdamW(p, lr=0.1, amsgrad=True)),
    _optimizer_case("RMSpropStep", lambda t, p: t.optim.RMSprop(p, lr=0.1, momentum=0.5, centered=True)),
    _optimizer_case("AdagradStep", lambda t, p: t.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.1)),
    Case("Quantize", _quantize, [f(4, 5, lo=-4, hi=4, grad=False)]),
    Case("Dequantize", _dequantize, [f(4, 5, lo=-4, hi=4, grad=False)], atol=1e-7),
    Case(
        "QuantizedLinear",
        lambda m, x, w, bias: _quantized(m, "linear", x, w, bias),
        [f(3, 6, grad=False), f(4, 6, grad=False), f(4, grad=False)],
        atol=1e-5,
    ),  # fmt: skip
    Case(
        "QuantizedConv2d",
        lambda m, x, w, bias: _quantized(m, "conv", x, w, bias, stride=(2, 1), padding=(1, 1)),
        [f(2, 3, 5, 6, grad=False), f(4, 3, 3, 2, grad=False), f(4, grad=False)],
        atol=1e-5,
    ),  # fmt: skip
]


def _setitem(a, b):
    a[1:, :] = b
    return a


def draw(case: Case, dtype: Any = np.float64, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [spec.draw(rng, dtype) for spec in case.inputs]
