"""Lesson 03's tests of the learner's Build code: init_linear_ and Linear against nn.Linear (same seed,
same numbers), TinyModule's parameter bookkeeping against nn.Module's on nested models with tied
weights, and Sequential against nn.Sequential. `build` is the learner's notebook executed up to
`## Use`."""

from __future__ import annotations

import math

import numpy as np

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn import Parameter


def rand(*shape, seed=0):
    return tt.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def test_init_draws_what_nn_linear_draws(build):
    for fan_in, fan_out in ((1, 1), (3, 4), (784, 10), (7, 300)):
        weight, bias = Parameter(np.zeros((fan_out, fan_in), np.float32)), Parameter(np.zeros(fan_out, np.float32))
        tt.manual_seed(fan_in)
        build.init_linear_(weight, bias)
        tt.manual_seed(fan_in)
        ref = nn.Linear(fan_in, fan_out)
        np.testing.assert_array_equal(weight.data, ref.weight.data, err_msg=f"weight of Linear({fan_in}, {fan_out})")
        np.testing.assert_array_equal(bias.data, ref.bias.data, err_msg=f"bias of Linear({fan_in}, {fan_out})")


def test_init_bounds_and_spread(build):
    weight, bias = Parameter(np.zeros((512, 300), np.float32)), Parameter(np.zeros(512, np.float32))
    build.init_linear_(weight, bias)
    bound = 1 / math.sqrt(300)
    for name, t in (("weight", weight), ("bias", bias)):
        assert np.abs(t.data).max() <= bound, f"the {name} should lie within 1/sqrt(300) = {bound:.4f}"
        assert np.abs(t.data).max() > 0.9 * bound, f"the {name} should fill (-bound, bound), not a smaller interval"
    np.testing.assert_allclose(weight.data.std(), bound / math.sqrt(3), rtol=0.02, err_msg="the weights' std: bound / sqrt(3)")
    assert abs(weight.data.mean()) < 0.1 * bound, "the weights should be centred on 0"


def test_init_without_bias(build):
    weight = Parameter(np.zeros((5, 2), np.float32))
    tt.manual_seed(1)
    build.init_linear_(weight, None)
    tt.manual_seed(1)
    np.testing.assert_array_equal(weight.data, nn.Linear(2, 5, bias=False).weight.data, err_msg="init_linear_(weight, None)")


def test_linear_matches_nn_linear(build):
    for in_f, out_f, bias in ((3, 4, True), (8, 2, False), (16, 16, True)):
        tt.manual_seed(in_f)
        ours = build.Linear(in_f, out_f, bias=bias)
        tt.manual_seed(in_f)
        ref = nn.Linear(in_f, out_f, bias=bias)
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()], "parameter names"
        assert ours.weight.dtype == np.float32 and ours.weight.requires_grad, "the weight is a float32 Parameter"
        for shape in ((in_f,), (5, in_f), (2, 3, in_f)):
            x = rand(*shape, seed=len(shape))
            got, want = ours(x), ref(x)
            assert got.shape == want.shape, f"Linear({in_f}, {out_f}) of {shape}: shape {got.shape}, expected {want.shape}"
            np.testing.assert_allclose(got.data, want.data, rtol=1e-5, atol=1e-6, err_msg=f"Linear({in_f}, {out_f}) of {shape}")
            (got * got).sum().backward()
            (want * want).sum().backward()
        for (name, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters()):
            np.testing.assert_allclose(p.grad.data, q.grad.data, rtol=1e-4, atol=1e-5, err_msg=f"{name}.grad")


def test_linear_input_gradient(build):
    tt.manual_seed(0)
    ours = build.Linear(6, 3)
    x = tt.tensor(np.random.default_rng(3).standard_normal((4, 6)).astype(np.float32), requires_grad=True)
    ours(x).sum().backward()
    want = np.broadcast_to(ours.weight.data.sum(axis=0), (4, 6))  # d sum(x W^T + b)/dx = 1 W
    np.testing.assert_allclose(x.grad.data, want, rtol=1e-5, err_msg="d sum(Linear(x)) / dx")


def test_linear_learns_with_sgd(build):
    tt.manual_seed(0)
    layer = build.Linear(2, 1)
    optimizer = tt.optim.SGD(layer.parameters(), lr=0.1)
    x = rand(64, 2, seed=4)
    y = x @ tt.tensor([[2.0], [-3.0]]) + 0.5  # a line to fit
    for _ in range(200):
        loss = ((layer(x) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    np.testing.assert_allclose(layer.weight.data, [[2.0, -3.0]], atol=1e-2, err_msg="SGD should fit y = 2 x0 - 3 x1 + 0.5")
    np.testing.assert_allclose(layer.bias.data, [0.5], atol=1e-2, err_msg="the bias should reach 0.5")


def _pair(build):
    """The same nested model as a TinyModule and as an nn.Module."""

    class Block(build.TinyModule):
        def __init__(self):
            super().__init__()
            self.norm = Parameter(np.ones(4, np.float32))
            self.fc = nn.Linear(4, 4)
            self.plain = tt.ones(3)  # a tensor, not a Parameter: not filed

    class Net(build.TinyModule):
        def __init__(self):
            super().__init__()
            self.embed = Parameter(np.zeros((10, 4), np.float32))
            self.first, self.second = Block(), Block()
            self.second.fc.weight = self.first.fc.weight  # tied across siblings
            self.head = nn.Linear(4, 10)
            self.head.weight = self.embed  # tied with a parent's own parameter

    class BlockRef(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm, self.fc, self.plain = Parameter(np.ones(4, np.float32)), nn.Linear(4, 4), tt.ones(3)

    class NetRef(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = Parameter(np.zeros((10, 4), np.float32))
            self.first, self.second = BlockRef(), BlockRef()
            self.second.fc.weight = self.first.fc.weight
            self.head = nn.Linear(4, 10)
            self.head.weight = self.embed

    return Net(), NetRef()


def test_tinymodule_names_like_nn_module(build):
    ours, ref = _pair(build)
    got, want = [n for n, _ in ours.named_parameters()], [n for n, _ in ref.named_parameters()]
    assert got == want, f"named_parameters() should be {want}, got {got}"
    ids = [id(p) for p in ours.parameters()]
    assert len(ids) == len(set(ids)), "each tensor should be listed once"
    assert ours.head.weight is ours.embed, "attributes keep their values"


def test_tinymodule_forgets_replaced_attributes(build):
    class M(build.TinyModule):
        def __init__(self):
            super().__init__()
            self.w = Parameter(np.ones(2, np.float32))
            self.sub = nn.Linear(2, 2)

    m = M()
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    m.w = 3.0
    m.sub = None
    assert list(m.named_parameters()) == [], (
        f"replaced attributes should not be listed, got {[n for n, _ in m.named_parameters()]}"
    )
    m.w = Parameter(np.ones(1, np.float32))
    assert [n for n, _ in m.named_parameters()] == ["w"]


def test_sequential_like_nn_sequential(build):
    inner = [nn.Linear(3, 5), nn.Tanh()]
    layers = [nn.Linear(4, 3), nn.ReLU()]
    ours = build.Sequential(*layers, build.Sequential(*inner), nn.Linear(5, 2))
    ref = nn.Sequential(*layers, nn.Sequential(*inner), ours[3])
    got, want = [n for n, _ in ours.named_parameters()], [n for n, _ in ref.named_parameters()]
    assert got == want, f"parameter names should be {want}, got {got}"
    x = rand(6, 4, seed=7)
    np.testing.assert_allclose(ours(x).data, ref(x).data, rtol=1e-6, err_msg="Sequential output")
    assert build.Sequential()(x) is x, "an empty Sequential returns its input"


def test_your_mlp_trains_like_tinytorchs(build):
    def make(linear, sequential):
        tt.manual_seed(0)
        return sequential(linear(12, 16), nn.ReLU(), linear(16, 3))

    x, y = rand(32, 12, seed=8), tt.tensor(np.arange(32) % 3)
    losses = []
    for model in (make(build.Linear, build.Sequential), make(nn.Linear, nn.Sequential)):
        optimizer = tt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        curve = []
        for _ in range(10):
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            curve.append(loss.item())
        losses.append(curve)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4, err_msg="your MLP's loss curve and tinytorch's")
