"""Every op in the OPS table: gradcheck, PyTorch as the oracle, dtype kept, seen by the choke point."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tests.helpers import assert_close, needs_torch, torch
from tests.op_cases import DIFFERENTIABLE, NO_GRADIENT, TT, _torch_ns, draw
from tinytorch import function

ALL = DIFFERENTIABLE + NO_GRADIENT


def _inputs(case, arrays, lib="tt"):
    out = []
    for a, spec in zip(arrays, case.inputs):
        rg = spec.kind == "f" and spec.grad
        out.append(tt.tensor(a, requires_grad=rg) if lib == "tt" else torch.tensor(a, requires_grad=rg))
    return out


def test_every_registered_op_has_a_case():
    with_grad = {c.op for c in DIFFERENTIABLE}
    without = {c.op for c in NO_GRADIENT}
    for name, cls in tt.OPS.items():
        if cls.differentiable:
            assert name in with_grad, f"op {name} has no gradcheck case in tests/op_cases.py"
        else:
            assert name in without, f"op {name} (no gradient) has no value case in tests/op_cases.py"
    assert not (with_grad | without) - set(tt.OPS), "a case names an op that is not registered"


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_case_goes_through_its_op(case, monkeypatch):
    """The choke point sees the op the case is about (a hook on Function.apply)."""
    seen = []

    class Spy(function.OpHook):
        def __call__(self, cls, inputs, attrs):
            seen.append(cls.__name__)
            return function.run(cls, inputs, attrs)

    monkeypatch.setattr(function, "_hook", Spy())
    case.fn(TT, *_inputs(case, draw(case)))
    assert case.op in seen, f"{case.name} ran {seen}, not {case.op}"


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=lambda c: c.id)
def test_gradcheck(case):
    inputs = _inputs(case, draw(case))
    assert tt.autograd.gradcheck(lambda *xs: case.fn(TT, *xs), inputs, **case.gradcheck)


@needs_torch
@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_matches_torch(case):
    arrays = draw(case)
    ours, theirs = _inputs(case, arrays, "tt"), _inputs(case, arrays, "torch")
    out, ref = case.fn(TT, *ours), case.fn(_torch_ns(), *theirs)
    assert_close(out, ref, rtol=1e-7, atol=case.atol, what=f"{case.name} forward")
    assert out.dtype == np.dtype(str(ref.dtype).replace("torch.", "")), f"{case.name}: dtype {out.dtype} vs {ref.dtype}"
    if case.op not in {c.op for c in DIFFERENTIABLE} or not ref.requires_grad:
        return
    weights = np.random.default_rng(1).uniform(0.5, 1.5, size=ref.shape)
    (out * tt.tensor(weights)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    for k, (a, t) in enumerate(zip(ours, theirs)):
        if t.requires_grad:
            assert a.grad is not None, f"{case.name}: no gradient for input {k}"
            assert_close(a.grad, t.grad, rtol=1e-7, atol=case.atol, what=f"{case.name} grad of input {k}")


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=lambda c: c.id)
def test_float32_stays_float32(case):
    """float32 in, float32 out, float32 gradients: nothing silently promotes to float64."""
    inputs = _inputs(case, draw(case, np.float32))
    out = case.fn(TT, *inputs)
    assert out.dtype == np.float32, f"{case.name} returned {out.dtype}"
    out.sum().backward()
    for x in inputs:
        if x.requires_grad:
            assert x.grad.dtype == np.float32 and x.grad.shape == x.shape
