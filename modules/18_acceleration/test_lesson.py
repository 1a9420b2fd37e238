"""Lesson 18's tests of the learner's Build code: the three matrix multiplies against tinytorch's
matmul on many shapes and dtypes, matmul_cost against the profiler's FLOP count, and the two
convolutions and im2col against tinytorch's F.conv2d and a direct slice of the padded input, with
strides, paddings and non-square kernels. No test times anything. `build` is the learner's notebook
executed up to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
import tinytorch.nn.functional as F

SHAPES = [((1, 1), (1, 1)), ((3, 4), (4, 5)), ((7, 1), (1, 6)), ((1, 9), (9, 1)), ((10, 3), (3, 12))]


def arrays(seed, *shapes, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def tt_matmul(a, b):
    return (tt.tensor(a) @ tt.tensor(b)).numpy()


def tt_conv(x, w, stride, padding):
    with tt.no_grad():
        return F.conv2d(tt.tensor(x), tt.tensor(w), stride=stride, padding=padding).numpy()


def test_matmul_loops_matches_tinytorch_on_many_shapes(build):
    for k, (sa, sb) in enumerate(SHAPES):
        a, b = arrays(k, sa, sb)
        got = build.matmul_loops(a, b)
        assert got.shape == (sa[0], sb[1]), f"matmul_loops{sa, sb} should have shape {(sa[0], sb[1])}, but has {got.shape}"
        np.testing.assert_allclose(got, tt_matmul(a, b), rtol=1e-4, atol=1e-5, err_msg=f"matmul_loops of {sa} and {sb}")


def test_matmul_loops_dtype_and_shape_errors(build):
    a, b = arrays(1, (2, 3), (3, 2), dtype=np.float64)
    assert build.matmul_loops(a, b).dtype == np.float64, "float64 @ float64 should stay float64"
    a32, b32 = arrays(2, (2, 3), (3, 2))
    assert build.matmul_loops(a32, b32).dtype == np.float32, "float32 @ float32 should stay float32"
    for sa, sb in [((2, 3), (2, 3)), ((4, 1), (2, 4))]:
        try:
            build.matmul_loops(np.ones(sa), np.ones(sb))
        except ValueError:
            continue
        raise AssertionError(f"matmul_loops of {sa} and {sb} should raise ValueError")


def test_matmul_rows_matches_tinytorch_and_keeps_dtype(build):
    for k, (sa, sb) in enumerate(SHAPES + [((33, 17), (17, 40))]):
        a, b = arrays(10 + k, sa, sb)
        got = build.matmul_rows(a, b)
        assert got.dtype == np.float32, f"matmul_rows of float32 arrays should be float32, but is {got.dtype}"
        np.testing.assert_allclose(got, tt_matmul(a, b), rtol=1e-4, atol=1e-4, err_msg=f"matmul_rows of {sa} and {sb}")
    a, b = arrays(3, (4, 5), (5, 2), dtype=np.float64)
    np.testing.assert_allclose(build.matmul_rows(a, b), a @ b, rtol=1e-12, err_msg="matmul_rows in float64")


def test_matmul_rows_works_on_views(build):
    a, b = arrays(4, (3, 4), (4, 2))
    view = np.arange(20, dtype=np.float32).reshape(5, 4)[1:4]  # a slice: its rows are not the base's first
    np.testing.assert_allclose(build.matmul_rows(view, b), view @ b, rtol=1e-5, err_msg="matmul_rows of a sliced view")
    np.testing.assert_allclose(build.matmul_rows(a.T.copy().T, b), a @ b, rtol=1e-5, err_msg="matmul_rows of a transposed copy")


def test_matmul_blas_and_cost(build):
    for k, (sa, sb) in enumerate(SHAPES):
        a, b = arrays(20 + k, sa, sb)
        np.testing.assert_allclose(
            build.matmul_blas(a, b), tt_matmul(a, b), rtol=1e-5, atol=1e-6, err_msg=f"matmul_blas of {sa}, {sb}"
        )
        n, kk, m = sa[0], sa[1], sb[1]
        with tt.perf.profile() as prof:
            tt.tensor(a) @ tt.tensor(b)
        flops, nbytes = build.matmul_cost(n, kk, m)
        assert flops == sum(e.flops for e in prof.events), (
            f"matmul_cost{n, kk, m} FLOPs: {flops}, the profiler counts {prof.events[0].flops}"
        )
        assert nbytes == 4 * (n * kk + kk * m + n * m), (
            f"matmul_cost{n, kk, m} bytes should be {4 * (n * kk + kk * m + n * m)}, not {nbytes}"
        )
    assert tuple(build.matmul_cost(3, 5, 7, itemsize=2)) == (210, 2 * (15 + 35 + 21)), "itemsize=2 (float16)"
    assert tuple(build.matmul_cost(1024, 1024, 1024)) == (2 * 1024**3, 12 * 1024**2), "a 1024-cube product"


CONV_CASES = [  # (x shape, w shape, stride, padding)
    ((1, 1, 5, 5), (1, 1, 3, 3), 1, 0),
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1),
    ((2, 3, 8, 8), (2, 3, 3, 3), 2, 1),
    ((1, 2, 9, 7), (3, 2, 2, 4), 1, 2),
    ((3, 4, 6, 6), (5, 4, 1, 1), 1, 0),
    ((1, 2, 11, 10), (2, 2, 5, 3), 3, 2),
]


def test_conv2d_loops_matches_tinytorch(build):
    for k, (xs, ws, stride, padding) in enumerate(CONV_CASES):
        x, w = arrays(30 + k, xs, ws)
        want = tt_conv(x, w, stride, padding)
        got = build.conv2d_loops(x, w, stride=stride, padding=padding)
        assert got.shape == want.shape, (
            f"conv2d_loops of {xs} by {ws}, stride {stride}, padding {padding}: shape {got.shape}, want {want.shape}"
        )
        np.testing.assert_allclose(
            got, want, rtol=1e-4, atol=1e-4, err_msg=f"conv2d_loops of {xs} by {ws}, stride {stride}, padding {padding}"
        )


def test_im2col_rows_are_the_windows(build):
    for k, (xs, ws, stride, padding) in enumerate(CONV_CASES):
        (x,) = arrays(40 + k, xs)
        n, c, h, w = xs
        kh, kw = ws[2:]
        ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
        cols = build.im2col(x, kh, kw, stride, padding)
        assert cols.shape == (n * ho * wo, c * kh * kw), (
            f"im2col of {xs}, kernel {kh}x{kw}: shape {cols.shape}, want {(n * ho * wo, c * kh * kw)}"
        )
        xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        want = np.stack([xp[b, :, i * stride : i * stride + kh, j * stride : j * stride + kw].ravel()
                         for b in range(n) for i in range(ho) for j in range(wo)])  # fmt: skip
        np.testing.assert_array_equal(cols, want, err_msg=f"im2col of {xs}, kernel {kh}x{kw}, stride {stride}, padding {padding}")


def test_conv2d_im2col_matches_tinytorch_and_keeps_float32(build):
    for k, (xs, ws, stride, padding) in enumerate(CONV_CASES):
        x, w = arrays(50 + k, xs, ws)
        want = tt_conv(x, w, stride, padding)
        got = np.asarray(build.conv2d_im2col(x, w, stride=stride, padding=padding))
        assert got.shape == want.shape, f"conv2d_im2col of {xs} by {ws}: shape {got.shape}, want {want.shape}"
        assert got.dtype == np.float32, f"conv2d_im2col of float32 arrays should be float32, but is {got.dtype}"
        np.testing.assert_allclose(
            got, want, rtol=1e-4, atol=1e-4, err_msg=f"conv2d_im2col of {xs} by {ws}, stride {stride}, padding {padding}"
        )


def test_conv2d_im2col_of_a_1x1_kernel_is_a_matmul_over_channels(build):
    x, w = arrays(60, (2, 6, 4, 5), (3, 6, 1, 1))
    want = np.einsum("nchw,oc->nohw", x, w[:, :, 0, 0])
    np.testing.assert_allclose(
        build.conv2d_im2col(x, w), want, rtol=1e-4, atol=1e-5, err_msg="a 1x1 convolution mixes channels only"
    )
