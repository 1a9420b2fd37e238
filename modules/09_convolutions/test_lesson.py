"""Lesson 09's tests of the learner's Build code: im2col against windows read directly, col2im as
im2col's transpose, MyConv2d and MyMaxPool2d against tinytorch's conv2d and max_pool2d (forward,
gradcheck, gradients, dtypes) on many geometries. `build` is the learner's notebook executed up
to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch import nn
from tinytorch.autograd import gradcheck

# (input shape, kernel, stride, padding)
GEOMETRIES = [
    ((1, 1, 5, 5), (3, 3), 1, 0),
    ((2, 3, 7, 6), (3, 2), 2, 1),
    ((2, 2, 8, 8), (1, 1), 1, 0),
    ((1, 3, 6, 9), (2, 4), 3, 2),
    ((3, 1, 4, 4), (4, 4), 1, 0),
]


def random(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def test_im2col_rows_are_the_windows(build):
    for shape, k, s, p in GEOMETRIES:
        x = random(shape, seed=1)
        n, c, h, w = shape
        ho, wo = out_size(h, k[0], s, p), out_size(w, k[1], s, p)
        cols = build.im2col(x, k, s, p)
        assert cols.shape == (n * ho * wo, c * k[0] * k[1]), (
            f"im2col of {shape}, kernel {k}, stride {s}, padding {p} should be {(n * ho * wo, c * k[0] * k[1])}, but is {cols.shape}"
        )
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        for b in range(n):
            for i in range(ho):
                for j in range(wo):
                    want = xp[b, :, i * s : i * s + k[0], j * s : j * s + k[1]].ravel()
                    np.testing.assert_array_equal(
                        cols[(b * ho + i) * wo + j], want, err_msg=f"window ({b}, {i}, {j}) of {shape}, {k}, {s}, {p}"
                    )


def test_im2col_keeps_the_dtype(build):
    for dtype in (np.float32, np.float64):
        cols = build.im2col(random((1, 2, 5, 5), dtype=dtype), (3, 3), 1, 1)
        assert cols.dtype == dtype, (
            f"im2col of a {np.dtype(dtype).name} image should be {np.dtype(dtype).name}, but is {cols.dtype}"
        )


def test_col2im_is_the_transpose_of_im2col(build):
    for seed, (shape, k, s, p) in enumerate(GEOMETRIES):
        x = random(shape, seed=seed)
        c = random(build.im2col(x, k, s, p).shape, seed=seed + 10)
        back = build.col2im(c, shape, k, s, p)
        assert back.shape == shape, f"col2im should return {shape}, but returns {back.shape}"
        lhs, rhs = float((build.im2col(x, k, s, p) * c).sum()), float((x * back).sum())
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, err_msg=f"<im2col(x), c> vs <x, col2im(c)> for {shape}, {k}, {s}, {p}")


def test_col2im_counts_overlapping_windows(build):
    ones = np.ones((1, 1, 6, 6))
    counts = build.col2im(build.im2col(ones, (3, 3), 1, 1), ones.shape, (3, 3), 1, 1)[0, 0]
    want = np.add.reduce([np.pad(np.ones((6, 6)), 1)[a : a + 6, b : b + 6] for a in range(3) for b in range(3)])
    np.testing.assert_array_equal(counts, want, err_msg="windows covering each pixel of a 6x6 image, 3x3 kernel, padding 1")


def test_conv_forward_matches_tinytorch(build):
    for seed, (shape, k, s, p) in enumerate(GEOMETRIES):
        x, w, b = random(shape, seed), random((4, shape[1], *k), seed + 1), random(4, seed + 2)
        ours = build.MyConv2d.apply(tt.tensor(x), tt.tensor(w), tt.tensor(b), stride=s, padding=p)
        theirs = nn.functional.conv2d(tt.tensor(x), tt.tensor(w), tt.tensor(b), stride=s, padding=p)
        assert ours.shape == theirs.shape, (
            f"MyConv2d of {shape}, kernel {k}, stride {s}, padding {p}: shape {ours.shape}, not {theirs.shape}"
        )
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-10, atol=1e-12, err_msg=f"MyConv2d {shape} {k} {s} {p}")


def test_conv_gradcheck(build):
    for seed, (shape, k, s, p) in enumerate(GEOMETRIES[:4]):
        x = tt.tensor(random(shape, seed), requires_grad=True)
        w = tt.tensor(random((3, shape[1], *k), seed + 1), requires_grad=True)
        b = tt.tensor(random(3, seed + 2), requires_grad=True)
        assert gradcheck(lambda x, w, b, s=s, p=p: build.MyConv2d.apply(x, w, b, stride=s, padding=p), [x, w, b]), (
            f"MyConv2d fails gradcheck for {shape}, kernel {k}, stride {s}, padding {p}"
        )


def test_conv_gradients_match_tinytorch_in_float32(build):
    x = tt.tensor(random((4, 3, 12, 12), 3, np.float32), requires_grad=True)
    w = tt.tensor(random((6, 3, 5, 5), 4, np.float32), requires_grad=True)
    b = tt.tensor(random(6, 5, np.float32), requires_grad=True)
    out = build.MyConv2d.apply(x, w, b, stride=1, padding=2)
    assert out.dtype == np.float32, f"MyConv2d of float32 tensors should be float32, but is {out.dtype}"
    (out * out).sum().backward()
    ours = [t.grad.data.copy() for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    (nn.functional.conv2d(x, w, b, padding=2) ** 2).sum().backward()
    for name, mine, t in zip(("x", "weight", "bias"), ours, (x, w, b)):
        assert mine.dtype == np.float32, f"the gradient of {name} should be float32, but is {mine.dtype}"
        np.testing.assert_allclose(mine, t.grad.data, rtol=1e-3, atol=1e-3, err_msg=f"d/d{name} against tinytorch")


def test_conv_skips_the_input_gradient_when_not_needed(build):
    x = tt.tensor(random((2, 3, 6, 6), 6, np.float32))  # no gradient needed
    w = tt.tensor(random((2, 3, 3, 3), 7, np.float32), requires_grad=True)
    b = tt.tensor(random(2, 8, np.float32), requires_grad=True)
    build.MyConv2d.apply(x, w, b).sum().backward()
    assert x.grad is None and w.grad is not None and b.grad is not None, "weight and bias get gradients, the images none"


def test_maxpool_matches_tinytorch(build):
    for seed, (shape, k, s) in enumerate(
        [((2, 3, 6, 7), 2, 2), ((1, 2, 7, 7), 3, 2), ((2, 1, 5, 5), 3, 1), ((1, 4, 8, 8), 4, 4)]
    ):
        x = tt.tensor(random(shape, seed), requires_grad=True)
        ours, theirs = build.MyMaxPool2d.apply(x, kernel_size=k, stride=s), nn.functional.max_pool2d(x, k, s)
        assert ours.shape == theirs.shape, (
            f"MyMaxPool2d of {shape}, kernel {k}, stride {s}: shape {ours.shape}, not {theirs.shape}"
        )
        np.testing.assert_array_equal(ours.data, theirs.data, err_msg=f"MyMaxPool2d {shape} {k} {s}")
        assert gradcheck(lambda x, k=k, s=s: build.MyMaxPool2d.apply(x, kernel_size=k, stride=s), [x]), (
            f"MyMaxPool2d fails gradcheck for {shape}, kernel {k}, stride {s}"
        )


def test_maxpool_gradient_with_ties_and_overlaps_matches_tinytorch(build):
    x = tt.tensor(np.random.default_rng(9).integers(0, 3, (2, 3, 7, 7)).astype(np.float32), requires_grad=True)
    for k, s in [(2, 2), (3, 2), (3, 1)]:
        g = tt.tensor(random((2, 3, out_size(7, k, s, 0), out_size(7, k, s, 0)), 10, np.float32))
        (build.MyMaxPool2d.apply(x, kernel_size=k, stride=s) * g).sum().backward()
        ours, x.grad = x.grad.data.copy(), None
        (nn.functional.max_pool2d(x, k, s) * g).sum().backward()
        np.testing.assert_allclose(ours, x.grad.data, rtol=1e-6, err_msg=f"max pool gradient with ties, kernel {k}, stride {s}")
        x.grad = None
