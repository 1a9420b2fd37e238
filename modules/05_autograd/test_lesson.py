"""Lesson 05's tests of the learner's Build code: MyMul and MyExp against finite differences
(tinytorch.autograd.gradcheck) and tinytorch's own ops; topo_sort and backward against tinytorch's
engine on graphs with fan-out, broadcasting, a deep chain and an MLP. `build` is the learner's
notebook executed up to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch import nn
from tinytorch.autograd import gradcheck


def f64(*shape, seed=0):
    return tt.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def grads_of(fn, leaves, engine=None):
    """The gradients of fn(*leaves).sum() w.r.t. each leaf, by engine(loss) (default: loss.backward())."""
    for t in leaves:
        t.grad = None
    loss = fn(*leaves)
    (engine or (lambda out: out.backward()))(loss)
    return [None if t.grad is None else t.grad.data.copy() for t in leaves]


def test_mul_forward_and_gradcheck_with_broadcasting(build):
    for sa, sb in [((3,), (3,)), ((2, 3), (3,)), ((4, 1), (1, 5)), ((), (2, 2))]:
        a, b = f64(*sa, seed=1), f64(*sb, seed=2)
        out = build.MyMul.apply(a, b)
        np.testing.assert_allclose(out.data, a.data * b.data, err_msg=f"MyMul.apply of shapes {sa} and {sb}")
        assert gradcheck(build.MyMul.apply, [a, b]), f"MyMul fails gradcheck for shapes {sa}, {sb}"


def test_mul_gradients_match_tinytorch(build):
    a, b = f64(3, 4, seed=3), f64(4, seed=4)
    ours = grads_of(lambda a, b: (build.MyMul.apply(a, b) * a).sum(), [a, b])
    theirs = grads_of(lambda a, b: (a * b * a).sum(), [a, b])
    for name, o, t in zip("ab", ours, theirs):
        np.testing.assert_allclose(o, t, rtol=1e-10, err_msg=f"d/d{name} of sum(MyMul(a, b) * a)")


def test_mul_keeps_float32(build):
    a = tt.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    out = build.MyMul.apply(a, a)
    assert out.dtype == np.float32, f"MyMul of float32 tensors should be float32, but is {out.dtype}"
    out.sum().backward()
    assert a.grad.dtype == np.float32, f"the gradient of a float32 leaf should be float32, but is {a.grad.dtype}"


def test_exp_forward_gradcheck_and_tinytorch(build):
    x = f64(2, 5, seed=5)
    np.testing.assert_allclose(build.MyExp.apply(x).data, np.exp(x.data), err_msg="MyExp.apply(x)")
    assert gradcheck(build.MyExp.apply, [x]), "MyExp fails gradcheck"
    ours = grads_of(lambda x: build.MyExp.apply(build.MyExp.apply(x) * 0.5).sum(), [x])
    theirs = grads_of(lambda x: ((x.exp() * 0.5).exp()).sum(), [x])
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10, err_msg="d/dx sum(exp(exp(x) / 2))")


def test_topo_sort_matches_tinytorchs_graph(build):
    a, b, c = f64(3, seed=6), f64(3, seed=7), f64(1, seed=8)
    h = (a * b + c).tanh()
    loss = (h * a + (h * h).exp() * b).sum()
    order = build.topo_sort(loss.grad_fn)
    ids = [id(n) for n in order]
    assert len(ids) == len(set(ids)), "topo_sort lists some node more than once"
    assert set(ids) == {id(n.node) for n in tt.autograd.graph(loss)}, (
        "topo_sort should reach exactly the nodes of tinytorch's graph"
    )
    position = {i: k for k, i in enumerate(ids)}
    for node in order:
        for parent in node.next_functions:
            if parent is not None:
                assert position[id(parent)] < position[id(node)], f"{parent} comes after {node}, which uses its output"


def test_topo_sort_of_a_deep_graph_needs_no_recursion(build):
    x = f64(1, seed=9)
    y = x
    for _ in range(5000):
        y = y * 1.0
    order = build.topo_sort(y.grad_fn)  # a recursive version hits Python's recursion limit here
    assert len(order) == 5001, f"a chain of 5000 ops has 5001 nodes with the leaf's, topo_sort found {len(order)}"


def test_backward_matches_tinytorch_with_fan_out_and_broadcasting(build):
    x, w, b = f64(4, 3, seed=10), f64(3, 2, seed=11), f64(2, seed=12)

    def fn(x, w, b):
        h = (x @ w + b).tanh()  # (4, 2), b broadcast over rows
        return (h * h.sum(dim=0) + h.exp()).sum() + (w * w).sum()  # h and w used more than once

    ours = grads_of(fn, [x, w, b], build.backward)
    theirs = grads_of(fn, [x, w, b])
    for name, o, t in zip(("x", "w", "b"), ours, theirs):
        assert o is not None, f"backward left {name}.grad empty"
        assert o.shape == t.shape, f"{name}.grad should have shape {t.shape}, but has {o.shape}"
        np.testing.assert_allclose(o, t, rtol=1e-10, err_msg=f"d loss / d {name}")


def test_backward_matches_tinytorch_on_an_mlp(build):
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    x, y = tt.randn(32, 2), tt.randint(0, 3, (32,))
    loss = nn.functional.cross_entropy(model(x), y)
    build.backward(loss, retain_graph=True)
    ours = {n: p.grad.data.copy() for n, p in model.named_parameters()}
    model.zero_grad()
    loss.backward()
    for name, p in model.named_parameters():
        assert ours[name].dtype == p.grad.dtype, f"{name}.grad should be {p.grad.dtype}, but is {ours[name].dtype}"
        np.testing.assert_allclose(ours[name], p.grad.data, rtol=1e-5, atol=1e-7, err_msg=f"{name}.grad")


def test_backward_runs_the_learners_own_functions(build):
    a, b = f64(2, 3, seed=13), f64(3, seed=14)
    ours = grads_of(lambda a, b: build.MyExp.apply(build.MyMul.apply(a, b)).sum(), [a, b], build.backward)
    theirs = grads_of(lambda a, b: (a * b).exp().sum(), [a, b])
    for name, o, t in zip("ab", ours, theirs):
        np.testing.assert_allclose(o, t, rtol=1e-10, err_msg=f"d/d{name} of sum(MyExp(MyMul(a, b))) through your backward")


def test_backward_accumulates_into_grad(build):
    x = f64(3, seed=15)
    loss = (x * x).sum()
    build.backward(loss, retain_graph=True)
    once = x.grad.data.copy()
    build.backward(loss, retain_graph=True)
    np.testing.assert_allclose(x.grad.data, 2 * once, err_msg="a second backward should add to .grad, not replace it")


def test_backward_frees_saved_tensors_unless_retained(build):
    x = f64(4, 3, seed=16)
    loss = (x.tanh() * x).exp().sum()
    nodes = [n.node for n in tt.autograd.graph(loss) if n.op != "AccumulateGrad"]
    build.backward(loss, retain_graph=True)
    assert all(n.saved_tensors is not None for n in nodes), "backward(retain_graph=True) should keep every node's saved tensors"
    build.backward(loss)
    kept = [type(n).__name__ for n in nodes if n.saved_tensors]
    assert not kept, f"backward() without retain_graph should free saved tensors, but {kept} still hold theirs"
