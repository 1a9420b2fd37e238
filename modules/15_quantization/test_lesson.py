"""Lesson 15's tests of the learner's Build code: affine parameters, quantize / dequantize, per-channel
weights, the int8 matmul with int32 sums and the quantized linear layer, against tinytorch.quant on
many ranges, shapes and edge cases. `build` is the learner's notebook executed up to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch import nn, quant


def test_qparams_match_tinytorch_on_many_ranges(build):
    rng = np.random.default_rng(1)
    ranges = [(0.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (-3.0, -2.0), (2.0, 5.0), (-1e-3, 1e-3), (-50.0, 0.25)]
    ranges += [tuple(sorted(rng.normal(0, 3, 2))) for _ in range(50)]
    for lo, hi in ranges:
        scale, zero_point = build.affine_qparams(lo, hi)
        want_scale, want_zp = quant.calculate_qparams(lo, hi)
        np.testing.assert_allclose(float(scale), float(want_scale), rtol=1e-6, err_msg=f"scale of [{lo}, {hi}]")
        assert int(zero_point) == int(want_zp), f"zero point of [{lo}, {hi}] should be {int(want_zp)}, but is {zero_point}"
        assert float(scale) > 0, f"the scale of [{lo}, {hi}] must be positive, but is {scale}"


def test_the_range_covers_the_int8_levels_and_zero_is_exact(build):
    for lo, hi in [(-0.7, 3.1), (0.0, 6.0), (-2.0, -0.5), (0.5, 2.0)]:
        scale, zero_point = build.affine_qparams(lo, hi)
        assert -128 <= zero_point <= 127, f"zero point of [{lo}, {hi}] is {zero_point}, outside int8"
        q = build.quantize(np.array([0.0, min(lo, 0.0), max(hi, 0.0)], np.float32), scale, zero_point)
        assert q[0] == zero_point, f"real 0 should quantize to the zero point {zero_point}, but gives {q[0]}"
        assert q[1] == -128 and q[2] in (126, 127), (
            f"the widened range [{min(lo, 0)}, {max(hi, 0)}] should reach -128 and 127, got {q[1:]}"
        )
        back = build.dequantize(q, scale, zero_point)
        assert back[0] == 0.0, f"real 0 should come back exactly, but comes back as {back[0]}"


def test_quantize_and_dequantize_match_tinytorch(build):
    rng = np.random.default_rng(2)
    for shape in [(7,), (3, 5), (2, 3, 4)]:
        x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
        scale, zero_point = quant.calculate_qparams(x.min(), x.max())
        q = build.quantize(x, scale, zero_point)
        assert q.dtype == np.int8 and q.shape == shape, f"quantize of {shape} should be int8 {shape}, but is {q.dtype} {q.shape}"
        np.testing.assert_array_equal(q, quant.quantize(x, scale, zero_point), err_msg=f"quantize of shape {shape}")
        back = build.dequantize(q, scale, zero_point)
        assert back.dtype == np.float32, f"dequantize should return float32, but returns {back.dtype}"
        np.testing.assert_allclose(back, quant.dequantize(q, scale, zero_point), rtol=1e-6, err_msg="dequantize")
        assert np.abs(back - x).max() <= float(scale) / 2 * (1 + 1e-4), "inside the range the error is at most scale / 2"


def test_quantize_clips_and_broadcasts_per_row(build):
    q = build.quantize(np.array([1e6, -1e6, 0.0], np.float32), np.float32(0.1), 3)
    assert q.tolist() == [127, -128, 3], f"far outside values clip to 127 and -128, and 0 is the zero point: got {q.tolist()}"
    x = np.array([[1.0, -1.0], [10.0, -10.0]], np.float32)
    q = build.quantize(x, np.array([[1 / 127], [10 / 127]], np.float32), 0)
    assert q.tolist() == [[127, -127], [127, -127]], (
        f"one scale per row (a column of scales) should give {[[127, -127]] * 2}, got {q.tolist()}"
    )


def test_per_channel_matches_quantize_weight(build):
    rng = np.random.default_rng(3)
    for shape in [(1, 5), (8, 3), (64, 100)]:
        w = (rng.standard_normal(shape) * rng.uniform(0.01, 2, (shape[0], 1))).astype(np.float32)
        q, scale = build.quantize_per_channel(w)
        want_q, want_scale = quant.quantize_weight(w, per_channel=True)
        assert q.dtype == np.int8 and q.shape == shape, f"q should be int8 {shape}, but is {q.dtype} {q.shape}"
        assert np.shape(scale) == (shape[0],), f"one scale per output channel: shape ({shape[0]},), got {np.shape(scale)}"
        np.testing.assert_allclose(scale, want_scale, rtol=1e-6, err_msg=f"scales of a {shape} weight")
        assert np.abs(q.astype(int) - want_q).max() <= 1 and (q != want_q).mean() < 0.01, f"q of a {shape} weight"
        assert np.abs(q).max() <= 127, "symmetric int8 uses [-127, 127]"
        assert np.all(np.abs(q).max(axis=1) == 127), "each row's largest |w| should land on 127 (or -127)"


def test_per_channel_handles_an_all_zero_row(build):
    w = np.array([[0.0, 0.0, 0.0], [0.5, -1.0, 0.25]], np.float32)
    q, scale = build.quantize_per_channel(w)
    assert np.all(np.isfinite(scale)) and np.all(np.asarray(scale) > 0), f"an all-zero row still needs a scale > 0, got {scale}"
    assert q[0].tolist() == [0, 0, 0], f"an all-zero row quantizes to zeros, got {q[0].tolist()}"
    np.testing.assert_allclose(q[1] * scale[1], w[1], atol=float(scale[1]) / 2, err_msg="the second row's round trip")


def test_int8_matmul_is_exact_int32(build):
    rng = np.random.default_rng(4)
    for n, k, m in [(1, 1, 1), (5, 3, 2), (17, 1024, 9), (3, 4000, 2)]:
        a = rng.integers(-128, 128, (n, k)).astype(np.int8)
        b = rng.integers(-128, 128, (k, m)).astype(np.int8)
        got = build.int8_matmul(a, b)
        assert got.dtype == np.int32, f"int8_matmul should return int32, but returns {got.dtype}"
        np.testing.assert_array_equal(got, a.astype(np.int64) @ b.astype(np.int64), err_msg=f"({n}, {k}) @ ({k}, {m})")
    ones = np.full((1, 60000), 127, np.int8)
    assert build.int8_matmul(ones, ones.T)[0, 0] == 60000 * 127 * 127, "a long sum of large products must not overflow"


def test_quant_linear_matches_quantlinear(build):
    rng = np.random.default_rng(5)
    for bias in (True, False):
        tt.manual_seed(1)
        layer = nn.Linear(33, 7, bias=bias)
        x = (rng.standard_normal((20, 33)) * 2 + 0.3).astype(np.float32)
        x_scale, x_zero_point = quant.calculate_qparams(x.min(), x.max())
        qlayer = quant.QuantLinear.from_float(layer, x_scale, x_zero_point)
        qx = quant.quantize(x, x_scale, x_zero_point)
        ours = build.quant_linear(qx, float(x_scale), int(x_zero_point), qlayer.weight.data, qlayer.weight_scale.data,
                                  layer.bias.data if bias else None)  # fmt: skip
        with tt.no_grad():
            theirs = qlayer(tt.tensor(x)).numpy()
        assert ours.shape == (20, 7), f"quant_linear should return (20, 7), but returns {ours.shape}"
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6, err_msg=f"quant_linear against QuantLinear (bias={bias})")


def test_quant_linear_with_the_zero_point_far_from_zero(build):
    """All-positive inputs (after ReLU) have zero point -128: its share of the sums must be subtracted."""
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 5, (16, 24)).astype(np.float32)
    w = rng.standard_normal((6, 24)).astype(np.float32)
    x_scale, x_zero_point = quant.calculate_qparams(0.0, x.max())
    assert int(x_zero_point) == -128
    qw, w_scale = quant.quantize_weight(w)
    y = build.quant_linear(quant.quantize(x, x_scale, x_zero_point), float(x_scale), int(x_zero_point), qw, w_scale, None)
    exact = x @ w.T
    assert np.linalg.norm(y - exact) / np.linalg.norm(exact) < 0.02, "the int8 product should be within 2% of x @ w.T"
