"""tinytorch.quant: affine int8 quantization, observers, QuantLinear / QuantConv2d, quantize_model."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.quant import (
    Dequantize,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    PercentileObserver,
    PerChannelMinMaxObserver,
    QuantConv2d,
    Quantize,
    QuantLinear,
    accumulator_dtype,
    calculate_qparams,
    calibrate,
    dequantize,
    int_matmul,
    model_nbytes,
    quantize,
    quantize_model,
)
from tinytorch.quant.affine import check_accumulator

from .helpers import data_rng, needs_torch, torch


def _blobs(n: int, dim: int = 16, classes: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters: a problem a small MLP learns in a few hundred steps."""
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(99).normal(0, 2, (classes, dim))
    y = rng.integers(0, classes, n)
    return (centers[y] + rng.normal(0, 1, (n, dim))).astype(np.float32), y


def _trained_mlp() -> nn.Module:
    x, y = _blobs(512)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 5))
    opt = tt.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = F.cross_entropy(model(tt.tensor(x)), tt.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def _batches(x: np.ndarray, size: int = 64) -> list[tuple[tt.Tensor, None]]:
    return [(tt.tensor(x[i : i + size]), None) for i in range(0, len(x), size)]


def _forward(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with tt.no_grad():
        return model(tt.tensor(x)).data


# ---------------------------------------------------------------------- affine quantization


def test_qparams_of_an_asymmetric_range_make_zero_exact():
    scale, zp = calculate_qparams(-1.0, 3.0)  # 256 levels over a width of 4
    assert scale == pytest.approx(4 / 255)
    assert zp == -128 + 64  # qmin - round(-1 / scale) = -128 + round(63.75)
    assert quantize(np.zeros(3), scale, zp)[0] == zp
    assert dequantize(quantize(np.zeros(3), scale, zp), scale, zp)[0] == 0.0
    lo, hi = quantize(np.array([-1.0, 3.0]), scale, zp)
    assert (lo, hi) == (-128, 127)  # the range's ends use the whole int8 range


def test_symmetric_qparams_have_zero_point_0_and_use_minus_127_to_127():
    scale, zp = calculate_qparams(-0.5, 2.0, symmetric=True)
    assert zp == 0 and scale == pytest.approx(2.0 / 127)
    q = quantize(np.array([-2.0, 2.0]), scale, zp)
    assert q.tolist() == [-127, 127]


@pytest.mark.parametrize("symmetric", [False, True])
def test_round_trip_error_is_at_most_half_a_step(symmetric):
    x = data_rng().uniform(-3.0, 5.0, 10_000)
    scale, zp = calculate_qparams(x.min(), x.max(), symmetric=symmetric)
    err = np.abs(dequantize(quantize(x, scale, zp), scale, zp) - x)
    assert err.max() <= scale / 2 * (1 + 1e-6)  # rounding to nearest: half a step (float32 dequantize)
    assert err.max() > 0.45 * scale  # and the bound is tight, so rounding down (a full step) would fail


def test_values_outside_the_range_clip():
    scale, zp = calculate_qparams(-1.0, 1.0)
    q = quantize(np.array([-50.0, 50.0]), scale, zp)
    assert q.dtype == np.int8 and q.tolist() == [-128, 127]


def test_per_channel_round_trip_and_scales_differ_per_channel():
    w = data_rng().standard_normal((4, 30)) * np.array([[0.01], [0.1], [1.0], [10.0]])
    obs = PerChannelMinMaxObserver(ch_axis=0)
    obs(w)
    scale, zp = obs.calculate_qparams()
    assert scale.shape == (4,) and np.all(zp == 0)
    np.testing.assert_allclose(scale, np.abs(w).max(axis=1) / 127, rtol=1e-6)
    assert len(np.unique(scale)) == 4 and scale[3] / scale[0] > 100
    q = quantize(w, scale, zp, axis=0)
    assert np.all(np.abs(q).max(axis=1) == 127)  # every channel uses its whole range
    err = np.abs(dequantize(q, scale, zp, axis=0) - w)
    assert np.all(err <= scale[:, None] / 2 * (1 + 1e-6))
    # per tensor, the small channel is rounded away almost entirely
    s1, z1 = calculate_qparams(w.min(), w.max(), symmetric=True)
    assert np.abs(dequantize(quantize(w[0], s1, z1), s1, z1) - w[0]).max() > 10 * err[0].max()


def test_quantize_rejects_other_dtypes_and_signless_symmetric():
    with pytest.raises(TypeError, match="int8 and uint8"):
        quantize(np.ones(2), 0.1, 0, dtype=np.int16)
    with pytest.raises(ValueError, match="signed"):
        calculate_qparams(-1, 1, dtype=np.uint8, symmetric=True)
    with pytest.raises(ValueError, match="not finite"):
        calculate_qparams(-np.inf, 1)


@needs_torch
@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")
def test_quantize_matches_torch():
    x = data_rng().standard_normal((6, 7)).astype(np.float32) * 3
    ours = quantize(x, 0.05, 3)
    theirs = torch.quantize_per_tensor(torch.tensor(x), 0.05, 3, torch.qint8).int_repr().numpy()
    np.testing.assert_array_equal(ours, theirs)
    scales, zps = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.3]), np.zeros(6, np.int64)
    per_channel = torch.quantize_per_channel(torch.tensor(x), torch.tensor(scales), torch.tensor(zps), 0, torch.qint8)
    np.testing.assert_array_equal(quantize(x, scales, zps, axis=0), per_channel.int_repr().numpy())


# ---------------------------------------------------------------------- exact integer accumulation


def test_int_matmul_gives_the_exact_integer_result():
    rng = data_rng()
    a = rng.integers(-128, 128, (3, 5)).astype(np.int8)
    b = rng.integers(-127, 128, (5, 4)).astype(np.int8)
    a[0] = -128  # the extremes: (-128) * (-127) at every term of row 0
    b[:, 0] = -127
    python = [[sum(int(a[i, k]) * int(b[k, j]) for k in range(5)) for j in range(4)] for i in range(3)]
    for method in ("blas", "int32"):
        out = int_matmul(a, b, method)
        assert out.dtype == np.int32
        assert out.tolist() == python


def test_long_sums_switch_to_float64_and_stay_exact():
    rng = data_rng()
    k = 5000  # sums reach 5000 * 127^2 = 8e7 > 2^24, beyond float32's exact integers
    a = rng.integers(100, 128, (4, k)).astype(np.int8)
    b = rng.integers(100, 128, (k, 3)).astype(np.int8)
    exact = a.astype(np.int64) @ b.astype(np.int64)
    assert accumulator_dtype(1024) is np.float32 and accumulator_dtype(1025) is np.float64
    np.testing.assert_array_equal(int_matmul(a, b), exact)
    assert int(int_matmul(a, b)[2, 1]) == sum(int(a[2, i]) * int(b[i, 1]) for i in range(k))
    naive = (a.astype(np.float32) @ b.astype(np.float32)).astype(np.int64)
    assert np.any(naive != exact)  # float32 would round here: the switch is needed


def test_accumulator_overflow_is_refused():
    check_accumulator(65535)
    with pytest.raises(OverflowError, match="int32"):
        check_accumulator(70_000)


# ---------------------------------------------------------------------- observers


def test_observers_track_min_max_moving_average_and_percentiles():
    a, b = np.array([-1.0, 2.0]), np.array([-3.0, 1.0])
    mm = MinMaxObserver()
    mm(a), mm(tt.tensor(b))
    assert (mm.min_val, mm.max_val, mm.batches) == (-3.0, 2.0, 2)
    ma = MovingAverageMinMaxObserver(averaging_constant=0.5)
    ma(a), ma(b)
    assert (ma.min_val, ma.max_val) == (-2.0, 1.5)  # -1 + 0.5 (-3 + 1), 2 + 0.5 (1 - 2)
    pct = PercentileObserver(percentile=99.0)
    x = data_rng().uniform(-1, 1, 10_000)
    x[0] = 1000.0  # one outlier: MinMax's range would be 500 times wider
    pct(x)
    assert 0.9 < pct.max_val < 1.0 and -1.0 < pct.min_val < -0.9
    with pytest.raises(RuntimeError, match="seen no data"):
        MinMaxObserver().calculate_qparams()


def test_calibrate_sees_num_batches_and_restores_modes():
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5), nn.Linear(3, 2))
    loader = _batches(data_rng().standard_normal((100, 4)).astype(np.float32), 10)
    observers = calibrate(model, loader, num_batches=3)  # every Linear, by name
    assert list(observers) == ["0", "2"] and [o.batches for o in observers.values()] == [3, 3]
    x = np.concatenate([b[0].data for b in loader[:3]])
    assert observers["0"].max_val == x.max() and observers["0"].min_val == x.min()
    assert model.training and not model[0]._forward_pre_hooks  # modes back, hooks gone
    with pytest.raises(ValueError, match="num_batches"):
        calibrate(model, loader, num_batches=0)
    with pytest.raises(ValueError, match="no batches"):
        calibrate(model, [], modules=[("0", model[0])])
    with pytest.raises(RuntimeError, match="never ran"):
        calibrate(model, loader, modules=[("0", model[0]), ("x", nn.Linear(2, 2))])


# ---------------------------------------------------------------------- layers


def test_quant_linear_holds_int8_weights_with_per_channel_scales():
    linear = nn.Linear(20, 6)
    linear.weight.data *= np.arange(1, 7, dtype=np.float32)[:, None]  # rows of different sizes
    q = QuantLinear.from_float(linear, 0.05, -3)
    assert isinstance(q.weight.data, np.ndarray) and q.weight.data.dtype == np.int8
    assert q.weight.shape == (6, 20) and np.abs(q.weight.data).max() == 127
    assert q.weight_scale.data.shape == (6,) and len(np.unique(q.weight_scale.data)) == 6
    assert QuantLinear.from_float(linear, 0.05, -3, per_channel=False).weight_scale.data.shape == (1,)
    assert "weight" in q.state_dict() and q.state_dict()["weight"].dtype == np.int8


def _fake_quant_input(x: np.ndarray, scale: float, zp: int) -> tt.Tensor:
    return tt.tensor(dequantize(quantize(x, scale, zp), scale, zp))


@pytest.mark.parametrize("method", ["blas", "int32"])
def test_quant_linear_equals_float_math_on_the_dequantized_values(method):
    """The integer pipeline (zero point folded out, int32 sums, one rescale) computes exactly
    x_dq W_dq^T + b: only float32 rounding separates them."""
    linear = nn.Linear(40, 7)
    x = data_rng().standard_normal((2, 5, 40)).astype(np.float32)  # leading dims fold, as Linear
    q = QuantLinear.from_float(linear, 0.02, 11, method=method)
    w_dq = dequantize(q.weight.data, q.weight_scale.data, 0, axis=0)
    expected = F.linear(_fake_quant_input(x, 0.02, 11), tt.tensor(w_dq), linear.bias.detach()).data
    np.testing.assert_allclose(_forward(q, x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("stride", "padding", "groups"), [(1, 1, 1), (2, 0, 1), (1, "same", 2)])
def test_quant_conv2d_equals_float_math_on_the_dequantized_values(stride, padding, groups):
    conv = nn.Conv2d(4, 6, 3, stride=stride, padding=padding, groups=groups)
    x = data_rng().standard_normal((2, 4, 9, 9)).astype(np.float32) + 1.0
    scale, zp = calculate_qparams(x.min(), x.max())
    assert zp != 0  # so padding with 0 instead of the zero point would show at the borders
    q = QuantConv2d.from_float(conv, scale, zp)
    assert q.weight.data.dtype == np.int8 and q.weight_scale.data.shape == (6,)
    w_dq = dequantize(q.weight.data, q.weight_scale.data, 0, axis=0)
    expected = F.conv2d(_fake_quant_input(x, scale, zp), tt.tensor(w_dq), conv.bias.detach(), stride, padding, 1, groups)
    out = _forward(q, x)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected.data, rtol=1e-5, atol=1e-5)


def test_quantized_ops_pass_the_choke_point_and_carry_no_gradient():
    assert {"Quantize", "Dequantize", "QuantizedLinear", "QuantizedConv2d"} <= set(tt.OPS)
    x = tt.tensor(np.array([-1.0, 0.0, 0.26, 3.0], np.float32))
    q = Quantize.apply(x, scale=0.1, zero_point=-5)
    assert q.dtype == np.int8 and q.data.tolist() == [-15, -5, -2, 25]
    np.testing.assert_allclose(Dequantize.apply(q, scale=0.1, zero_point=-5).data, [-1.0, 0.0, 0.3, 3.0], rtol=1e-6)
    q = QuantLinear.from_float(nn.Linear(3, 2), 0.1, 0)
    out = q(tt.randn(4, 3, requires_grad=True))
    assert out.dtype == np.float32 and not out.requires_grad


# ---------------------------------------------------------------------- whole models


def test_quantized_mlp_stays_close_to_the_float_model():
    model = _trained_mlp()
    x_cal, _ = _blobs(512, seed=1)
    x_test, y_test = _blobs(1000, seed=2)
    qmodel = quantize_model(model, _batches(x_cal), num_batches=8)
    f, q = _forward(model, x_test), _forward(qmodel, x_test)
    assert (f.argmax(1) == y_test).mean() > 0.9  # the float model did learn
    rel = np.linalg.norm(q - f) / np.linalg.norm(f)
    assert rel < 0.05  # stated tolerance: logits within 5% (relative Frobenius error)
    assert (q.argmax(1) == f.argmax(1)).mean() > 0.95


def test_quantized_cnn_stays_close_to_the_float_model():
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU()), nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )  # fmt: skip
    model.eval()
    x = data_rng().standard_normal((96, 1, 8, 8)).astype(np.float32)
    qmodel = quantize_model(model, _batches(x[:64], 16), num_batches=4)
    assert isinstance(qmodel[4][0], QuantConv2d) and isinstance(qmodel[1], nn.BatchNorm2d)
    f, q = _forward(model, x[64:]), _forward(qmodel, x[64:])
    assert np.linalg.norm(q - f) / np.linalg.norm(f) < 0.05


def test_quantize_model_replaces_layers_recursively_and_leaves_the_float_model():
    inner = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), inner, nn.Linear(8, 2))
    loader = _batches(data_rng().standard_normal((32, 4)).astype(np.float32), 8)
    qmodel = quantize_model(model, loader, num_batches=2)
    assert [type(m).__name__ for m in qmodel] == ["QuantLinear", "ReLU", "Sequential", "QuantLinear"]
    assert isinstance(qmodel[2][0], QuantLinear) and isinstance(qmodel[2][1], nn.Tanh)
    assert qmodel[2][0]._parent() is qmodel[2]  # the copy's modules know their new parents
    assert isinstance(model[0], nn.Linear) and isinstance(inner[0], nn.Linear)  # untouched
    same = quantize_model(model, loader, num_batches=2, inplace=True)
    assert same is model and isinstance(model[2][0], QuantLinear)


def test_model_nbytes_shrinks_about_4x_for_a_linear_model():
    model = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    n_params = sum(p.numel() for p in model.parameters())
    assert model_nbytes(model) == 4 * n_params
    loader = _batches(data_rng().standard_normal((64, 512)).astype(np.float32))
    qmodel = quantize_model(model, loader, num_batches=1)
    weights = 512 * 512 * 2 + 512 * 10
    extra = 4 * (512 + 512 + 10) * 2 + 3 * 8  # float32 bias and scale per output, input scale and zero point
    assert model_nbytes(qmodel) == weights + extra
    assert 3.9 < model_nbytes(model) / model_nbytes(qmodel) < 4.0


def test_quantize_model_errors_are_clear():
    loader = _batches(np.ones((8, 4), np.float32))
    with pytest.raises(ValueError, match="no nn.Linear or nn.Conv2d"):
        quantize_model(nn.Sequential(nn.ReLU(), nn.Tanh()), loader)
    with pytest.raises(ValueError, match="lone layer"):
        quantize_model(nn.Linear(4, 2), loader)
    with pytest.raises(ValueError, match="no batches"):
        quantize_model(nn.Sequential(nn.Linear(4, 2)), [])
    with pytest.raises(ValueError, match="observer"):
        quantize_model(nn.Sequential(nn.Linear(4, 2)), loader, observer="histogram")
    with pytest.raises(ValueError, match="method"):
        QuantLinear(4, 2, method="int8")
