"""Tensor attributes, comparisons, error messages and grad modes, with PyTorch as the reference."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt

from .helpers import assert_close, needs_torch, rand64, torch

# ---------------------------------------------------------------------------- attributes


def test_basic_attributes():
    t = tt.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert isinstance(t.data, np.ndarray)
    assert t.grad is None and t.grad_fn is None and t.is_leaf and not t.requires_grad
    assert t.shape == (2, 3) and t.ndim == 2 and t.dim() == 2
    assert t.numel() == 6
    assert t.size() == (2, 3) and t.size(0) == 2 and t.size(-1) == 3
    assert t.dtype == tt.float32
    assert t.numpy() is t.data
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert len(t) == 2
    assert [row.tolist() for row in t] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_item_and_python_conversions():
    assert tt.tensor(2.5).item() == 2.5
    assert isinstance(tt.tensor([3]).item(), int)
    assert tt.tensor([[7.0]]).item() == 7.0
    assert float(tt.tensor([1.5])) == 1.5
    assert int(tt.tensor(3.7)) == 3
    assert bool(tt.tensor([1.0])) is True and bool(tt.tensor(0)) is False
    assert [1, 2, 3][tt.tensor(1)] == 2  # __index__


def test_item_on_many_elements_names_the_count():
    with pytest.raises((ValueError, RuntimeError), match="6 elements"):
        tt.ones(2, 3).item()
    with pytest.raises((ValueError, RuntimeError)):
        bool(tt.ones(2))


def test_len_of_0d_raises():
    with pytest.raises(TypeError, match="0-d"):
        len(tt.tensor(1.0))


def test_detach_shares_data_and_version_but_not_grad():
    x = tt.ones(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.data is y.data and not d.requires_grad and d.grad_fn is None and d.is_leaf
    xd = x.detach()
    xd.add_(1)  # allowed: the detached tensor does not require grad
    assert x.tolist() == [2.0, 2.0, 2.0]
    assert x._version == xd._version == 1


def test_requires_grad_():
    t = tt.zeros(2)
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad
    nonleaf = tt.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        nonleaf.requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        tt.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        tt.tensor([1, 2], requires_grad=True)


def test_is_leaf_and_grad_fn_name():
    a = tt.ones(2, requires_grad=True)
    b = a * 3
    c = b.exp().sum()
    assert a.is_leaf and not b.is_leaf and not c.is_leaf
    assert b.grad_fn.name == "Mul" and c.grad_fn.name == "Sum"
    assert (a + 1).grad_fn.name == "Add" and a[0].grad_fn.name == "GetItem"
    assert tt.ones(2).exp().grad_fn is None  # no input requires grad


@pytest.mark.parametrize(
    ("convert", "dtype"),
    [
        (lambda t: t.float(), tt.float32),
        (lambda t: t.double(), tt.float64),
        (lambda t: t.half(), tt.float16),
        (lambda t: t.long(), tt.int64),
        (lambda t: t.int(), tt.int32),
        (lambda t: t.bool(), tt.bool),
        (lambda t: t.to(tt.float64), tt.float64),
        (lambda t: t.astype(tt.int64), tt.int64),
    ],
)
def test_dtype_conversions(convert, dtype):
    t = tt.tensor([0.0, 1.5, -2.5])
    out = convert(t)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.data, t.data.astype(dtype))


def test_to_same_dtype_is_identity_and_cast_carries_grad():
    t = tt.ones(2, requires_grad=True)
    assert t.to(tt.float32) is t
    d = t.double()
    assert d.dtype == tt.float64 and d.grad_fn.name == "Cast"
    (d * 3).sum().backward()
    assert t.grad.dtype == tt.float32 and t.grad.tolist() == [3.0, 3.0]


def test_clone_copies_and_gradient_flows_back():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.data is not x.data and c.tolist() == x.tolist() and not c.is_leaf
    (c * c).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    plain = tt.tensor([1.0, 2.0])
    copy = plain.clone()
    copy.data[0] = 9.0
    assert plain.tolist() == [1.0, 2.0]


def test_repr():
    assert "1.5" in repr(tt.tensor([1.5, 2.0])) and repr(tt.tensor([1.5])).startswith("tensor(")
    assert "requires_grad=True" in repr(tt.ones(2, requires_grad=True))
    assert "requires_grad" not in repr(tt.ones(2))
    r = repr(tt.ones(2, requires_grad=True) * 2)
    assert "grad_fn=" in r and "Mul" in r
    assert "float64" in repr(tt.ones(2, dtype=tt.float64))
    assert "float32" not in repr(tt.ones(2))


# ---------------------------------------------------------------------------- comparisons


@needs_torch
@pytest.mark.parametrize("op", ["lt", "le", "gt", "ge", "eq", "ne"])
def test_comparisons_are_bool_without_grad(op):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    x, y = tt.tensor(a, requires_grad=True), tt.tensor(b)
    ops = {"lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__", "eq": "__eq__", "ne": "__ne__"}
    for other, torch_other in ((y, torch.tensor(b)), (2.0, 2.0)):
        ours = getattr(x, ops[op])(other)
        theirs = getattr(torch.tensor(a), ops[op])(torch_other)
        assert ours.dtype == tt.bool and not ours.requires_grad and ours.grad_fn is None
        assert ours.tolist() == theirs.tolist()
    assert getattr(x, op)(y).tolist() == getattr(torch.tensor(a), op)(torch.tensor(b)).tolist()


@needs_torch
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin_match_torch(dim, keepdim):
    a = np.random.default_rng(0).permutation(12).reshape(3, 4).astype(np.float64)
    x, xt = tt.tensor(a), torch.tensor(a)
    kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    for name in ("argmax", "argmin"):
        ours, theirs = getattr(x, name)(**kw), getattr(xt, name)(**kw)
        assert ours.dtype == tt.int64 and ours.shape == tuple(theirs.shape)
        assert ours.tolist() == theirs.tolist()


@needs_torch
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim_return_values_and_indices(keepdim):
    a = np.random.default_rng(1).permutation(12).reshape(3, 4).astype(np.float64)
    for name in ("max", "min"):
        x, xt = tt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        ours, theirs = getattr(x, name)(1, keepdim=keepdim), getattr(xt, name)(1, keepdim=keepdim)
        values, indices = ours
        assert values is ours.values and indices is ours.indices
        assert_close(values, theirs.values)
        assert indices.tolist() == theirs.indices.tolist()
        values.sum().backward()
        theirs.values.sum().backward()
        assert_close(x.grad, xt.grad)
        assert_close(getattr(x, name)(), getattr(xt, name)())


@needs_torch
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_std_gradient_of_constant_tensor_is_zero():
    x = tt.tensor([1.0, 1.0, 1.0], requires_grad=True)
    xt = torch.tensor([1.0, 1.0, 1.0], requires_grad=True)
    x.std().backward()
    xt.std().backward()
    assert_close(x.grad, xt.grad)


def test_max_with_tensor_is_maximum():
    a, b = tt.tensor([1.0, 5.0]), tt.tensor([3.0, 2.0])
    assert a.max(b).tolist() == [3.0, 5.0]
    assert a.min(b).tolist() == [1.0, 2.0]
    assert tt.maximum(a, b).tolist() == [3.0, 5.0]


@needs_torch
def test_amax_and_logsumexp_over_tuple_of_dims():
    a = rand64(2, 3, 4)
    assert_close(tt.tensor(a).amax((0, 2)), torch.tensor(a).amax((0, 2)))
    assert_close(tt.tensor(a).logsumexp((0, 2)), torch.tensor(a).logsumexp((0, 2)))


# ---------------------------------------------------------------------------- errors


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises((ValueError, RuntimeError)) as info:
        tt.ones(2, 3) @ tt.ones(4, 5)
    assert "(2, 3)" in str(info.value) and "(4, 5)" in str(info.value)
    with pytest.raises((ValueError, RuntimeError)) as info:
        tt.ones(3).matmul(tt.ones(2, 2, 4))
    assert "(3,)" in str(info.value) and "(2, 2, 4)" in str(info.value)


def test_broadcast_failure_names_both_shapes():
    with pytest.raises((ValueError, RuntimeError)) as info:
        tt.ones(2, 3) + tt.ones(4)
    assert "(2, 3)" in str(info.value) and "(4,)" in str(info.value)


def test_backward_on_non_scalar_needs_gradient():
    y = tt.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="scalar") as info:
        y.backward()
    assert "(2, 3)" in str(info.value)
    with pytest.raises(RuntimeError, match="shape"):
        y.backward(tt.ones(3))


def test_backward_with_explicit_gradient():
    x = tt.ones(2, 3, requires_grad=True)
    (x * 2).backward(tt.full((2, 3), 0.5))
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tt.ones(2).sum().backward()


def test_backward_twice_needs_retain_graph():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time") as info:
        y.backward()
    assert "retain_graph" in str(info.value)


def test_retain_graph_twice_accumulates():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    assert x.grad.tolist() == [2.0, 4.0]
    y.backward(retain_graph=True)
    assert x.grad.tolist() == [4.0, 8.0]
    y.backward()
    assert x.grad.tolist() == [6.0, 12.0]


# ---------------------------------------------------------------------------- grad modes


def test_no_grad_context():
    x = tt.ones(2, requires_grad=True)
    assert tt.is_grad_enabled()
    with tt.no_grad():
        assert not tt.is_grad_enabled()
        y = x * 2
        z = x.exp().sum()
    assert tt.is_grad_enabled()
    for t in (y, z):
        assert not t.requires_grad and t.grad_fn is None
    assert (x * 2).requires_grad


def test_enable_grad_inside_no_grad():
    x = tt.ones(2, requires_grad=True)
    with tt.no_grad():
        with tt.enable_grad():
            assert tt.is_grad_enabled()
            y = x * 2
        assert not tt.is_grad_enabled()
        z = x * 2
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad


def test_grad_mode_restored_after_exception():
    with pytest.raises(KeyError):
        with tt.no_grad():
            raise KeyError("boom")
    assert tt.is_grad_enabled()


def test_no_grad_and_enable_grad_as_decorators():
    @tt.no_grad()
    def off(t):
        return t * 2, tt.is_grad_enabled()

    @tt.enable_grad()
    def on(t):
        return t * 2, tt.is_grad_enabled()

    x = tt.ones(2, requires_grad=True)
    y, mode = off(x)
    assert not mode and not y.requires_grad and tt.is_grad_enabled()
    with tt.no_grad():
        y, mode = on(x)
    assert mode and y.requires_grad


def test_set_grad_enabled_as_context_and_call():
    with tt.set_grad_enabled(False):
        assert not tt.is_grad_enabled()
        with tt.set_grad_enabled(True):
            assert tt.is_grad_enabled()
        assert not tt.is_grad_enabled()
    assert tt.is_grad_enabled()
    tt.set_grad_enabled(False)
    try:
        assert not tt.is_grad_enabled()
        assert not (tt.ones(1, requires_grad=True) * 2).requires_grad
    finally:
        tt.set_grad_enabled(True)
    assert tt.is_grad_enabled()


def test_set_grad_enabled_as_decorator():
    try:

        @tt.set_grad_enabled(False)
        def off():
            return tt.is_grad_enabled()

        assert tt.is_grad_enabled(), "building the decorator must not change the mode"
        assert off() is False
        assert tt.is_grad_enabled()
    finally:
        tt.set_grad_enabled(True)


def test_bare_no_grad_decorator():
    @tt.no_grad
    def off():
        return tt.is_grad_enabled()

    assert off() is False and tt.is_grad_enabled()
