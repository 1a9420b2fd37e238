"""Test helpers. PyTorch is the oracle where installed; tests that need it skip without it."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as TF

try:
    import torch
except ImportError:  # the oracle tests skip; CI installs torch==2.13.0
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the test oracle) is not installed")


def to_torch(t: tt.Tensor, requires_grad: bool | None = None):
    """A torch tensor with a copy of t's data (and t's requires_grad unless given)."""
    rg = t.requires_grad if requires_grad is None else requires_grad
    return torch.tensor(np.array(t.data), requires_grad=rg)


def assert_close(ours, theirs, rtol: float = 1e-5, atol: float = 1e-6, what: str = "") -> None:
    """Values (tinytorch tensor / ndarray vs torch tensor / ndarray) equal within tolerance."""
    a = ours.data if isinstance(ours, tt.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy() if torch is not None and isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def dtype_name(t) -> str:
    """'float32' for both tinytorch and torch tensors."""
    return str(t.dtype).removeprefix("torch.")


def functional(m):
    return TF if m is tt else torch.nn.functional


def run_both(fn, *inputs: np.ndarray, grad: bool = True):
    """fn(m, *tensors) on tinytorch and torch (float64 inputs); outputs and input grads compared."""
    ours_in = [tt.tensor(a, requires_grad=grad) for a in inputs]
    theirs_in = [to_torch(t) for t in ours_in]
    ours, theirs = fn(tt, *ours_in), fn(torch, *theirs_in)
    ours_list = list(ours) if isinstance(ours, (list, tuple)) else [ours]
    theirs_list = list(theirs) if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(ours_list) == len(theirs_list)
    for k, (o, t) in enumerate(zip(ours_list, theirs_list)):
        assert dtype_name(o) == dtype_name(t), f"output {k}"
        assert_close(o, t, what=f"output {k}")
    if not grad or not any(t.requires_grad for t in theirs_list):
        return ours_list, theirs_list
    rng = np.random.default_rng(1)
    weights = [rng.uniform(0.5, 1.5, t.shape) for t in theirs_list]
    sum(((o * tt.tensor(w)).sum() for o, w in zip(ours_list, weights) if o.requires_grad), tt.tensor(0.0)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip(theirs_list, weights) if t.requires_grad).backward()
    for k, (o, t) in enumerate(zip(ours_in, theirs_in)):
        expected = torch.zeros_like(t) if t.grad is None else t.grad
        assert o.grad is not None, f"input {k} got no gradient"
        assert_close(o.grad, expected, what=f"grad of input {k}")
    return ours_list, theirs_list


def rand64(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


_data_rng = np.random.default_rng(1234)


def reset_data_rng() -> None:
    """Called before every test (conftest), so a test's data does not depend on test order."""
    global _data_rng
    _data_rng = np.random.default_rng(1234)


def data_rng() -> np.random.Generator:
    """The generator for test data (reset before every test)."""
    return _data_rng


def randn(*shape: int, dtype=np.float32) -> np.ndarray:
    return _data_rng.standard_normal(shape).astype(dtype)
