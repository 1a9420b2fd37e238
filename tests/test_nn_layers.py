"""tinytorch.nn layers against PyTorch with the same weights, and nn.init statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn import functional as F
from tinytorch.nn import init

from .helpers import assert_close, data_rng, needs_torch, randn, torch

# ============================================================================ layers vs torch


def _randomize(theirs) -> None:
    """Random weights, so that scale and shift are exercised (PyTorch starts them at 1 and 0)."""
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))


def _copy_weights(ours, theirs) -> None:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _check_layer(ours, theirs, x: np.ndarray, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Same output, input gradient and parameter gradients for a random upstream gradient."""
    xo, xt = tt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert_close(yo, yt, rtol, atol, what="output")
    assert yo.dtype == x.dtype
    g = data_rng().standard_normal(tuple(yt.shape)).astype(x.dtype)
    yo.backward(tt.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xo.grad, xt.grad, rtol, atol, what="input grad")
    ours_p, theirs_p = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert list(ours_p) == list(theirs_p)
    for name, p in ours_p.items():
        assert_close(p.grad, theirs_p[name].grad, rtol, atol, what=f"grad of {name}")


LAYERS = {
    "linear_2d": (lambda m: m.Linear(5, 3), (4, 5)),
    "linear_3d": (lambda m: m.Linear(5, 3), (2, 4, 5)),
    "linear_no_bias": (lambda m: m.Linear(5, 3, bias=False), (2, 4, 5)),
    "relu": (lambda m: m.ReLU(), (4, 5)),
    "leaky_relu": (lambda m: m.LeakyReLU(0.2), (4, 5)),
    "gelu": (lambda m: m.GELU(), (4, 5)),
    "gelu_tanh": (lambda m: m.GELU(approximate="tanh"), (4, 5)),
    "sigmoid": (lambda m: m.Sigmoid(), (4, 5)),
    "tanh": (lambda m: m.Tanh(), (4, 5)),
    "softmax_last": (lambda m: m.Softmax(dim=-1), (3, 4, 5)),
    "softmax_dim1": (lambda m: m.Softmax(dim=1), (3, 4, 5)),
    "log_softmax": (lambda m: m.LogSoftmax(dim=1), (4, 5)),
    "flatten": (lambda m: m.Flatten(), (2, 3, 4)),
    "flatten_0_1": (lambda m: m.Flatten(0, 1), (2, 3, 4)),
    "identity": (lambda m: m.Identity(), (2, 3)),
    "layer_norm": (lambda m: m.LayerNorm(5), (3, 4, 5)),
    "layer_norm_no_affine": (lambda m: m.LayerNorm(5, elementwise_affine=False), (3, 4, 5)),
    "layer_norm_2d_shape": (lambda m: m.LayerNorm((4, 5)), (3, 4, 5)),
    "batch_norm_1d_train_2d": (lambda m: m.BatchNorm1d(5), (8, 5)),
    "batch_norm_1d_train_3d": (lambda m: m.BatchNorm1d(4), (6, 4, 5)),
    "batch_norm_2d_train": (lambda m: m.BatchNorm2d(3), (4, 3, 5, 5)),
}


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_torch(name, dtype):
    build, shape = LAYERS[name]
    theirs, ours = build(torch.nn), build(nn)
    if dtype == np.float64:
        theirs, ours = theirs.double(), ours.double()
    _randomize(theirs)
    _copy_weights(ours, theirs)
    # GELU's erf is an approximation (1.5e-7 absolute error), so it never gets the float64 tolerance
    tight = dtype == np.float64 and not name.startswith("gelu")
    _check_layer(ours, theirs, randn(*shape, dtype=dtype), *((1e-10, 1e-12) if tight else (1e-5, 1e-6)))


@needs_torch
@pytest.mark.parametrize(("layer", "shape"), [("BatchNorm1d", (8, 4)), ("BatchNorm1d", (6, 4, 3)), ("BatchNorm2d", (5, 4, 3, 3))])
def test_batch_norm_running_stats_and_eval_match_torch(layer, shape):
    theirs, ours = getattr(torch.nn, layer)(4, momentum=0.2), getattr(nn, layer)(4, momentum=0.2)
    _randomize(theirs)
    _copy_weights(ours, theirs)
    for step in range(3):
        x = randn(*shape) * (step + 1) + step  # a different mean and scale each step
        assert_close(ours(tt.tensor(x)), theirs(torch.tensor(x)), what=f"train output {step}")
    for name in ("running_mean", "running_var"):
        assert_close(getattr(ours, name), getattr(theirs, name), what=name)
    assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item() == 3
    ours.eval()
    theirs.eval()
    _check_layer(ours, theirs, randn(*shape))
    assert ours.num_batches_tracked.item() == 3  # eval does not count batches
    np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(), rtol=1e-6)  # eval leaves them


@needs_torch
def test_embedding_matches_torch_and_accumulates_repeated_ids():
    theirs, ours = torch.nn.Embedding(6, 3), nn.Embedding(6, 3)
    _copy_weights(ours, theirs)
    ids = np.array([[1, 2, 1], [4, 1, 0]])
    yo, yt = ours(tt.tensor(ids)), theirs(torch.tensor(ids))
    assert yo.shape == (2, 3, 3)
    assert_close(yo, yt)
    g = randn(2, 3, 3)
    yo.backward(tt.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(ours.weight.grad, theirs.weight.grad)
    np.testing.assert_allclose(ours.weight.grad.data[1], g[0, 0] + g[0, 2] + g[1, 1], rtol=1e-6)
    assert not ours.weight.grad.data[[3, 5]].any()  # unused rows get no gradient


def test_dropout_eval_is_identity():
    drop = nn.Dropout(0.5).eval()
    x = tt.randn(10, 10)
    assert_close(drop(x), x.data)
    assert_close(F.dropout(x, 0.5, training=False), x.data)


def test_dropout_train_zero_fraction_and_scale():
    p = 0.3
    drop = nn.Dropout(p)
    x = tt.ones(100_000, requires_grad=True)
    y = drop(x)
    zero_fraction = float((y.data == 0).mean())
    assert abs(zero_fraction - p) < 0.01  # ~7 standard deviations of the fraction
    survivors = y.data[y.data != 0]
    np.testing.assert_allclose(survivors, 1 / (1 - p), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)  # d y / d x is the scaled mask
    assert not np.array_equal(drop(x).data, y.data)  # a fresh mask each call


def test_dropout_edge_probabilities():
    x = tt.randn(50, requires_grad=True)
    assert_close(nn.Dropout(0.0)(x), x.data)
    y = nn.Dropout(1.0)(x)
    assert np.isfinite(y.data).all() and not y.data.any()
    y.sum().backward()
    assert not x.grad.data.any()
    with pytest.raises(ValueError, match="1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError):
        F.dropout(x, -0.1)


# ============================================================================ init


def test_linear_default_init_statistics():
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.data
    assert w.dtype == np.float32 and w.shape == (300, 400)
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound  # uses the whole range
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound / math.sqrt(3)  # uniform, not normal
    assert abs(w.mean()) < 0.01 * bound
    assert np.abs(lin.bias.data).max() <= bound and lin.bias.data.std() > 0.4 * bound


def _big() -> nn.Parameter:
    return nn.Parameter(np.empty((300, 500), np.float32))  # fan_in 500, fan_out 300


@pytest.mark.parametrize(
    ("fill", "uniform", "expected_std"),
    [
        (lambda t: init.xavier_uniform_(t), True, math.sqrt(2 / 800)),
        (lambda t: init.xavier_uniform_(t, gain=2.0), True, 2 * math.sqrt(2 / 800)),
        (lambda t: init.xavier_normal_(t), False, math.sqrt(2 / 800)),
        (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), True, math.sqrt(2 / 500)),
        (lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"), True, math.sqrt(2 / 300)),
        (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), False, math.sqrt(2 / 500)),
        (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), False, math.sqrt(2 / 300)),
        (lambda t: init.kaiming_normal_(t, a=1.0), False, 1 / math.sqrt(500)),  # leaky_relu, slope 1: gain 1
    ],
)
def test_init_bound_and_std(fill, uniform, expected_std):
    t = _big()
    assert fill(t) is t
    w = t.data
    assert w.dtype == np.float32 and t.requires_grad and t.grad_fn is None
    assert abs(w.std() - expected_std) < 0.02 * expected_std
    assert abs(w.mean()) < 0.02 * expected_std
    bound = math.sqrt(3) * expected_std
    if uniform:
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    else:
        assert np.abs(w).max() > 1.3 * bound  # normal tails go past the uniform bound


def test_simple_inits():
    t = _big()
    assert not init.zeros_(t).data.any()
    assert (init.ones_(t).data == 1).all()
    assert (init.constant_(t, 0.25).data == 0.25).all()
    w = init.normal_(t, mean=2.0, std=0.5).data
    assert abs(w.mean() - 2) < 0.01 and abs(w.std() - 0.5) < 0.01
    w = init.uniform_(t, -3.0, -1.0).data
    assert w.min() >= -3 and w.max() <= -1 and abs(w.mean() + 2) < 0.01
    w = init.trunc_normal_(t, std=1.0, a=-2.0, b=2.0).data
    assert w.min() >= -2 and w.max() <= 2 and w.max() > 1.95
    assert abs(w.std() - 0.8796) < 0.01  # std of N(0, 1) truncated to [-2, 2]
    w = init.trunc_normal_(t, mean=1.0, std=3.0, a=0.5, b=1.5).data
    assert w.min() >= 0.5 and w.max() <= 1.5 and w.std() > 0.25
    assert t.dtype == np.float32 and t.grad_fn is None


def test_init_errors():
    with pytest.raises(ValueError, match="2 dims"):
        init.xavier_uniform_(nn.Parameter(np.zeros(5, np.float32)))
    with pytest.raises(ValueError, match="fan_middle"):
        init.kaiming_normal_(_big(), mode="fan_middle")
