"""Lesson 02's tests of the learner's Build code: MyReLU, MySigmoid, MyTanh, MyGELU and MySoftmax
against finite differences (tinytorch.autograd.gradcheck) and tinytorch's own ops, over more shapes,
dtypes and extreme inputs than the check cells. `build` is the learner's notebook executed up to
`## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch import nn
from tinytorch.autograd import gradcheck

SHAPES = [(5,), (3, 4), (2, 3, 4)]


def f64(*shape, seed=0, scale=1.0):
    return tt.tensor(scale * np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def grad_of(fn, data):
    """d sum(fn(x) * w) / dx for fixed weights w, so every output's gradient counts differently."""
    x = tt.tensor(np.array(data, copy=True), requires_grad=True)
    out = fn(x)
    weights = tt.tensor(np.random.default_rng(99).uniform(0.5, 1.5, out.shape).astype(out.dtype))
    (out * weights).sum().backward()
    return out.data, x.grad.data


def check_against_tinytorch(mine, theirs, name, scale=1.0, atol=1e-6):
    for k, shape in enumerate(SHAPES):
        x = f64(*shape, seed=k, scale=scale)
        assert gradcheck(mine, [x]), f"{name} fails gradcheck for shape {shape}"
        for dtype in (np.float64, np.float32):
            data = x.data.astype(dtype)
            out, g = grad_of(mine, data)
            want_out, want_g = grad_of(theirs, data)
            assert out.dtype == dtype, (
                f"{name} of {np.dtype(dtype).name} input should be {np.dtype(dtype).name}, but is {out.dtype}"
            )
            assert g.dtype == dtype, (
                f"the gradient of {name} for {np.dtype(dtype).name} input should be {np.dtype(dtype).name}, but is {g.dtype}"
            )
            np.testing.assert_allclose(
                out, want_out, atol=atol, rtol=1e-5, err_msg=f"{name} forward, shape {shape}, {np.dtype(dtype).name}"
            )
            np.testing.assert_allclose(
                g, want_g, atol=atol, rtol=1e-5, err_msg=f"{name} backward, shape {shape}, {np.dtype(dtype).name}"
            )


def test_relu_matches_tinytorch(build):
    check_against_tinytorch(build.MyReLU.apply, lambda t: t.relu(), "MyReLU")


def test_relu_slope_is_zero_at_zero_and_below(build):
    out, g = grad_of(build.MyReLU.apply, np.array([-3.0, -1e-30, 0.0, 1e-30, 2.0]))
    np.testing.assert_array_equal(out, [0.0, 0.0, 0.0, 1e-30, 2.0], err_msg="relu(x)")
    assert np.array_equal(g == 0, [True, True, True, False, False]), f"d relu/dx should be 0 for x <= 0 only, got {g}"


def test_sigmoid_matches_tinytorch(build):
    check_against_tinytorch(build.MySigmoid.apply, lambda t: t.sigmoid(), "MySigmoid", scale=4.0)


def test_sigmoid_never_overflows(build):
    for dtype, big in ((np.float32, 1e4), (np.float64, 1e6)):
        x = tt.tensor(np.array([-big, -100.0, -30.0, 0.0, 30.0, 100.0, big], dtype), requires_grad=True)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out = build.MySigmoid.apply(x)
            out.sum().backward()
        assert np.isfinite(out.data).all() and np.isfinite(x.grad.data).all(), (
            f"sigmoid of {x.data} should be finite, got {out.data}"
        )
        wide = x.data.astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # np.where evaluates both branches
            want = np.where(wide >= 0, 1 / (1 + np.exp(-wide)), np.exp(wide) / (1 + np.exp(wide)))  # exact enough in float64
        np.testing.assert_allclose(
            out.data, want, rtol=1e-5, atol=1e-30, err_msg=f"sigmoid of extreme {np.dtype(dtype).name} values"
        )
        assert out.data[0] >= 0 and out.data[-1] <= 1, "sigmoid stays in [0, 1]"


def test_tanh_matches_tinytorch(build):
    check_against_tinytorch(build.MyTanh.apply, lambda t: t.tanh(), "MyTanh", scale=2.0)


def test_gelu_matches_tinytorch(build):
    check_against_tinytorch(build.MyGELU.apply, lambda t: t.gelu(), "MyGELU", scale=2.0)


def test_gelu_tails(build):
    out, g = grad_of(build.MyGELU.apply, np.array([-10.0, -3.0, 0.0, 3.0, 10.0]))
    np.testing.assert_allclose(out[[0, 2, 4]], [0.0, 0.0, 10.0], atol=1e-6, err_msg="gelu(-10), gelu(0), gelu(10)")
    assert g[1] < 0, f"gelu's slope at -3 is slightly negative, got {g[1]}"


def test_softmax_matches_tinytorch_on_every_dim(build):
    for k, shape in enumerate(SHAPES):
        for dim in range(-len(shape), len(shape)):
            check = lambda t, dim=dim: build.MySoftmax.apply(t, dim=dim)  # noqa: E731
            x = f64(*shape, seed=10 + k, scale=3.0)
            assert gradcheck(check, [x]), f"MySoftmax fails gradcheck for shape {shape}, dim {dim}"
            out, g = grad_of(check, x.data)
            want_out, want_g = grad_of(lambda t, dim=dim: t.softmax(dim), x.data)
            np.testing.assert_allclose(out, want_out, atol=1e-10, err_msg=f"softmax shape {shape} dim {dim}")
            np.testing.assert_allclose(g, want_g, atol=1e-10, err_msg=f"d softmax shape {shape} dim {dim}")
            np.testing.assert_allclose(out.sum(axis=dim), 1.0, err_msg=f"softmax over dim {dim} should sum to 1")


def test_softmax_of_huge_and_equal_logits(build):
    x = tt.tensor(np.array([[1e4, 1e4 + 1, 1e4 + 2], [-1e4, -1e4, -1e4], [0.0, -1e30, 1e30]], np.float32))
    with np.errstate(over="raise", invalid="raise"):
        out = build.MySoftmax.apply(x, dim=1).data
    assert out.dtype == np.float32, f"softmax of float32 should be float32, got {out.dtype}"
    np.testing.assert_allclose(out[0], tt.tensor([[0.0, 1.0, 2.0]]).softmax(dim=1).data[0], rtol=1e-5)
    np.testing.assert_allclose(out[1], [1 / 3] * 3, rtol=1e-6, err_msg="equal logits give equal probabilities")
    np.testing.assert_allclose(out[2], [0.0, 0.0, 1.0], atol=1e-30, err_msg="softmax([0, -1e30, 1e30])")


def test_an_mlp_with_your_activations_gets_tinytorchs_gradients(build):
    x, y = tt.tensor(np.random.default_rng(5).standard_normal((16, 8)).astype(np.float32)), tt.tensor(np.arange(16) % 3)
    pairs = [
        (build.MyReLU.apply, lambda t: t.relu()),
        (build.MySigmoid.apply, lambda t: t.sigmoid()),
        (build.MyTanh.apply, lambda t: t.tanh()),
        (build.MyGELU.apply, lambda t: t.gelu()),
    ]

    def grads(acts):
        tt.manual_seed(0)
        layers = [nn.Linear(8, 8) for _ in range(5)]
        h = x
        for layer, act in zip(layers, acts):
            h = act(layer(h))
        loss = nn.functional.cross_entropy(h[:, :3], y)
        loss.backward()
        return [p.grad.data for layer in layers for p in layer.parameters()]

    mine = grads([p[0] for p in pairs] + [lambda t: build.MySoftmax.apply(t, dim=1)])
    theirs = grads([p[1] for p in pairs] + [lambda t: t.softmax(1)])
    for k, (a, b) in enumerate(zip(mine, theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7, err_msg=f"parameter {k} of an MLP with your activations")
