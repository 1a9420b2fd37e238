"""The backward engine: order, fan-out, release, version checks, hooks, grad(), gradcheck, graphs."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn
from tinytorch.autograd import GradcheckError, gradcheck, unbroadcast
from tinytorch.function import Function


class _Square(Function):  # a leading underscore keeps test ops out of the OPS table
    calls = 0

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, grad):
        _Square.calls += 1
        (a,) = ctx.saved_tensors
        return 2 * a * grad


class _WrongSquare(_Square):
    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return 3 * a * grad  # wrong on purpose: gradcheck must catch it


class _WrongShape(_Square):
    @staticmethod
    def backward(ctx, grad):
        return np.ones((7,))


def test_fan_out_sums_gradients():
    x = tt.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x + x).sum().backward()  # d/dx (x^2 + x) = 2x + 1
    np.testing.assert_allclose(x.grad.data, [3.0, -3.0, 7.0])


def test_each_node_runs_backward_once_in_a_diamond():
    _Square.calls = 0
    x = tt.tensor([2.0], requires_grad=True)
    s = _Square.apply(x)
    (s * 3 + s * 5 + s).sum().backward()  # s feeds three branches; its backward runs once
    assert _Square.calls == 1
    np.testing.assert_allclose(x.grad.data, [9 * 2 * 2.0])


def test_deep_graph_needs_no_recursion():
    x = tt.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.data, [1.0001**20_000], rtol=1e-3)


def test_backward_twice_through_released_graph_is_a_clear_error():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward_and_accumulates():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [4.0, 8.0])


def test_saved_tensors_are_freed_after_backward():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    node = y.grad_fn
    assert node.saved_tensors
    y.sum().backward()
    assert node.saved_tensors is None


def test_inplace_change_of_a_saved_tensor_fails_at_backward_naming_the_op():
    w = tt.tensor([1.0, 2.0], requires_grad=True)
    x = tt.tensor([3.0, 4.0])
    y = (w * x).sum()
    x.add_(1)  # Mul saved x for d/dw
    with pytest.raises(RuntimeError, match=r"in-place.*Mul"):
        y.backward()


def test_inplace_change_of_a_saved_output_fails_at_backward():
    w = tt.tensor([1.0, 2.0], requires_grad=True)
    e = w.exp()
    with tt.no_grad():
        e.mul_(2)  # Exp saved its output
    with pytest.raises(RuntimeError, match=r"in-place.*Exp"):
        e.sum().backward()


def test_backward_of_a_non_scalar_needs_gradient():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar.*\(2,\)"):
        (x * 2).backward()
    (x * 2).backward(gradient=tt.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.data, [2.0, 20.0])
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\)"):
        (x * 2).backward(gradient=tt.ones(3))


def test_backward_on_a_tensor_without_graph_is_a_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tt.tensor([1.0]).sum().backward()


def test_gradients_given_to_leaves_do_not_alias():
    a = tt.tensor([1.0, 2.0], requires_grad=True)
    b = tt.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # Add hands the same array to both inputs
    with tt.no_grad():
        a.grad.mul_(5)
    np.testing.assert_allclose(b.grad.data, [1.0, 1.0])
    np.testing.assert_allclose(a.grad.data, [5.0, 5.0])


def test_user_gradient_is_not_aliased_into_grad():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    g = tt.tensor([1.0, 1.0])
    x.backward(gradient=g)
    x.grad.data[0] = 9.0
    assert g.data[0] == 1.0


def test_gradient_shape_is_asserted_with_the_op_name():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"_WrongShape.backward returned a gradient of shape \(7,\)"):
        _WrongShape.apply(x).sum().backward()


def test_gradcheck_catches_a_wrong_backward():
    x = tt.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    assert gradcheck(_Square.apply, [x])
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(_WrongSquare.apply, [x])
    assert gradcheck(_WrongSquare.apply, [x], raise_exception=False) is False


def test_gradcheck_refuses_float32():
    with pytest.raises(GradcheckError, match="float64"):
        gradcheck(lambda a: a * 2, [tt.tensor([1.0], requires_grad=True)])


def test_needs_input_grad_reflects_requires_grad():
    a = tt.tensor([1.0], requires_grad=True)
    b = tt.tensor([2.0])
    assert (a * b).grad_fn.needs_input_grad == (True, False)
    assert (b * a).grad_fn.needs_input_grad == (False, True)


def test_no_grad_builds_no_graph_and_enable_grad_inside_does():
    x = tt.tensor([1.0], requires_grad=True)
    with tt.no_grad():
        y = x * 2
        with tt.enable_grad():
            z = x * 3
    assert y.grad_fn is None and not y.requires_grad
    assert z.grad_fn is not None
    assert tt.is_grad_enabled()


def test_set_grad_enabled_as_call_and_context():
    with tt.set_grad_enabled(False):
        assert not tt.is_grad_enabled()
    assert tt.is_grad_enabled()

    @tt.no_grad()
    def f(x):
        return x * 2

    assert f(tt.tensor([1.0], requires_grad=True)).grad_fn is None


def test_tensor_hooks_on_leaf_and_non_leaf():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.data.copy()))
    y = x * 3
    handle = y.register_hook(lambda g: g * 10)  # replaces the gradient flowing on
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [30.0, 30.0])
    np.testing.assert_allclose(seen[0], [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])


def test_retain_grad_keeps_non_leaf_gradient():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.retain_grad()
    (y * 2).sum().backward()
    np.testing.assert_allclose(y.grad.data, [2.0, 2.0])


def test_autograd_grad_returns_without_touching_grad():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    w = tt.tensor([3.0], requires_grad=True)
    y = (x * x * w).sum()
    gx, gw = tt.autograd.grad(y, [x, w])
    np.testing.assert_allclose(gx.data, [6.0, 12.0])
    np.testing.assert_allclose(gw.data, [5.0])
    assert x.grad is None and w.grad is None


def test_autograd_grad_unused_input():
    x = tt.tensor([1.0], requires_grad=True)
    z = tt.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        tt.autograd.grad((x * 2).sum(), [x, z], retain_graph=True)
    gx, gz = tt.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None and gx.item() == 2.0


def test_unbroadcast():
    g = np.ones((2, 3, 4))
    assert unbroadcast(g, (3, 1)).shape == (3, 1)
    np.testing.assert_allclose(unbroadcast(g, (3, 1)), np.full((3, 1), 8.0))
    np.testing.assert_allclose(unbroadcast(g, ()), 24.0)
    with pytest.raises(RuntimeError, match=r"\(2, 3, 4\) to \(5,\)"):
        unbroadcast(g, (5,))


def test_graph_introspection_of_an_mlp():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x = tt.randn(5, 4)
    loss = nn.functional.cross_entropy(model(x), tt.tensor([0, 1, 0, 1, 1]))
    nodes = tt.autograd.graph(loss)
    ops = [n.op for n in nodes if n.op != "AccumulateGrad"]
    assert ops == ["Linear", "Relu", "Linear", "CrossEntropy", "Sum", "Div"]
    leaves = [n for n in nodes if n.op == "AccumulateGrad"]
    assert sorted(n.input_shapes[0] for n in leaves) == [(2,), (2, 3), (3,), (3, 4)]
    for n in nodes:  # topological: every input comes earlier
        assert all(i is None or i < n.index for i in n.inputs)
    first_linear = next(n for n in nodes if n.op == "Linear")
    assert first_linear.input_shapes == [(5, 4), (3, 4), (3,)]
    assert first_linear.inputs[0] is None  # x is a constant input
    assert first_linear.saved_shapes == [(5, 4), (3, 4)]


def test_dtype_of_gradients_matches_inputs():
    x = tt.tensor([1.0, 2.0], requires_grad=True)  # float32
    y = (x.double() * 3).sum()
    y.backward()
    assert x.grad.dtype == np.float32


def test_no_recorder_is_active_by_default():
    from tinytorch import function

    assert function._hook is None


def test_graph_nodes_know_their_output_and_module():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    out = model(tt.randn(5, 4)).sum()
    nodes = {n.op: n for n in tt.autograd.graph(out)}
    assert (nodes["Linear"].output_shape, nodes["Linear"].output_dtype, nodes["Linear"].module) == ((5, 3), "float32", "0")
    assert (nodes["Relu"].module, nodes["Sum"].output_shape, nodes["Sum"].module) == ("1", (), "")
