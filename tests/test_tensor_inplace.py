"""In-place rules: what may change in place, version counters, and the errors at backward time."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt

from .helpers import assert_close, needs_torch, torch

# ---------------------------------------------------------------------------- in place


INPLACE = {
    "add_": (lambda t: t.add_(tt.tensor([1.0, 1.0, 1.0])), [2.0, 3.0, 4.0]),
    "add_ alpha": (lambda t: t.add_(1.0, alpha=2), [3.0, 4.0, 5.0]),
    "sub_": (lambda t: t.sub_(1), [0.0, 1.0, 2.0]),
    "mul_": (lambda t: t.mul_(2), [2.0, 4.0, 6.0]),
    "div_": (lambda t: t.div_(tt.tensor(2.0)), [0.5, 1.0, 1.5]),
    "zero_": (lambda t: t.zero_(), [0.0, 0.0, 0.0]),
    "fill_": (lambda t: t.fill_(7), [7.0, 7.0, 7.0]),
    "copy_": (lambda t: t.copy_(tt.tensor([4, 5, 6])), [4.0, 5.0, 6.0]),
    "clamp_": (lambda t: t.clamp_(min=1.5, max=2.5), [1.5, 2.0, 2.5]),
}


@pytest.mark.parametrize("case", INPLACE)
def test_inplace_methods_under_no_grad(case):
    fn, expected = INPLACE[case]
    t = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    array = t.data
    with tt.no_grad():
        out = fn(t)
    assert out is t and t.data is array
    assert t.tolist() == expected and t.dtype == tt.float32
    assert t._version == 1 and t.requires_grad and t.is_leaf


def _iadd(t):
    t += 1
    return t


def _isub(t):
    t -= 1
    return t


def _imul(t):
    t *= 2
    return t


def _idiv(t):
    t /= 2
    return t


def _setitem(t):
    t[1] = 10.0
    return t


def _setitem_mask(t):
    t[t > 1.5] = 0.0
    return t


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (_iadd, [2.0, 3.0, 4.0]),
        (_isub, [0.0, 1.0, 2.0]),
        (_imul, [2.0, 4.0, 6.0]),
        (_idiv, [0.5, 1.0, 1.5]),
        (_setitem, [1.0, 10.0, 3.0]),
        (_setitem_mask, [1.0, 0.0, 0.0]),
    ],
)
def test_augmented_assignment_and_setitem_in_place(fn, expected):
    t = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    original, array = t, t.data
    with tt.no_grad():
        t = fn(t)
    assert t is original and t.data is array
    assert t.tolist() == expected and t._version == 1


def test_inplace_on_plain_tensor_with_grad_enabled_is_allowed():
    t = tt.zeros(3)
    t += 1
    t[0] = 5
    t.mul_(2)
    assert t.tolist() == [10.0, 2.0, 2.0] and t._version == 3


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: t.add_(1),
        lambda t: t.sub_(1),
        lambda t: t.mul_(2),
        lambda t: t.div_(2),
        lambda t: t.zero_(),
        lambda t: t.fill_(1),
        lambda t: t.copy_(tt.zeros(3)),
        lambda t: t.clamp_(0, 1),
        _iadd,
        _imul,
        _setitem,
    ],
)
def test_inplace_on_leaf_requiring_grad_raises(fn):
    t = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        fn(t)
    assert t.tolist() == [1.0, 2.0, 3.0] and t._version == 0


@needs_torch
def test_iadd_on_graph_tensor_is_out_of_place_with_correct_gradient():
    a = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a * 2
    y_before, data_before = y, y.data.copy()
    y += 1
    y *= 3
    y -= 0.5
    y /= 2
    assert y is not y_before and not y.is_leaf
    np.testing.assert_array_equal(y_before.data, data_before)  # the old value is untouched
    (y * y).sum().backward()
    at = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    yt = at * 2
    yt += 1
    yt *= 3
    yt -= 0.5
    yt /= 2
    (yt * yt).sum().backward()
    assert_close(y, yt)
    assert_close(a.grad, at.grad)


def test_inplace_on_saved_input_breaks_backward():
    a = tt.tensor([1.0, 2.0], requires_grad=True)
    b = tt.tensor([3.0, 4.0])
    y = a * b
    b.add_(1)
    with pytest.raises(RuntimeError, match="in-place") as info:
        y.sum().backward()
    assert "Mul" in str(info.value)


def test_inplace_on_saved_output_breaks_backward():
    a = tt.tensor([1.0, 2.0], requires_grad=True)
    y = a.exp()
    with tt.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="in-place") as info:
        y.sum().backward()
    assert "Exp" in str(info.value)


def test_inplace_on_unsaved_tensor_keeps_backward_working():
    a = tt.tensor([1.0, 2.0], requires_grad=True)
    b = tt.tensor([3.0, 4.0])
    y = a + b  # Add saves nothing
    b.add_(1)
    y.sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]


def test_inplace_on_base_of_saved_view_breaks_backward():
    a = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    base = tt.ones(2, 3)
    y = a * base[0]  # base[0] is a view of base
    base.add_(1)
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()


@needs_torch
def test_inplace_write_of_a_tensor_that_requires_grad_is_a_clear_error():
    """x[i] = v, x.copy_(v), x.add_(v) with v requiring grad would silently lose v's gradient."""
    v = tt.tensor([2.0], requires_grad=True)
    x = tt.zeros(3)
    for write in (lambda: x.__setitem__(slice(0, 1), v), lambda: x.copy_(v), lambda: x.add_(v)):
        with pytest.raises(RuntimeError, match="requires grad.*out of place"):
            write()
    assert x.tolist() == [0.0, 0.0, 0.0]  # nothing was written
    with tt.no_grad():
        x[0:1] = v  # outside autograd it is a plain copy
    assert x.tolist() == [2.0, 0.0, 0.0]
