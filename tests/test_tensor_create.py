"""Tensor construction, dtype promotion and factories, with PyTorch as the reference."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt

from .helpers import assert_close, dtype_name, needs_torch, torch

# ---------------------------------------------------------------------------- construction


CONSTRUCT = {
    "python float": lambda m: m.tensor(1.5),
    "python int": lambda m: m.tensor(3),
    "python bool": lambda m: m.tensor(True),
    "float list": lambda m: m.tensor([1.0, 2.5]),
    "int list": lambda m: m.tensor([1, 2, 3]),
    "bool list": lambda m: m.tensor([True, False]),
    "mixed int/float list": lambda m: m.tensor([1, 2.5]),
    "nested lists": lambda m: m.tensor([[1, 2], [3, 4], [5, 6]]),
    "nested float lists": lambda m: m.tensor([[[1.0], [2.0]], [[3.0], [4.0]]]),
    "float64 array": lambda m: m.tensor(np.array([1.0, 2.0])),
    "int32 array": lambda m: m.tensor(np.array([1, 2], dtype=np.int32)),
    "float16 array": lambda m: m.tensor(np.array([1.0, 2.0], dtype=np.float16)),
    "dtype=float32": lambda m: m.tensor(np.array([1.0, 2.0]), dtype=m.float32),
    "dtype=float64": lambda m: m.tensor([1.0, 2.0], dtype=m.float64),
    "dtype=float16": lambda m: m.tensor([1.0, 2.0], dtype=m.float16),
    "dtype=int64 truncates": lambda m: m.tensor([1.7, -2.7], dtype=m.int64),
    "dtype=bool": lambda m: m.tensor([0, 2], dtype=m.bool),
    "int list dtype=float32": lambda m: m.tensor([1, 2], dtype=m.float32),
}


@needs_torch
@pytest.mark.parametrize("case", CONSTRUCT)
def test_construction_dtype_and_values_match_torch(case):
    ours, theirs = CONSTRUCT[case](tt), CONSTRUCT[case](torch)
    assert isinstance(ours, tt.Tensor)
    assert dtype_name(ours) == dtype_name(theirs)
    assert ours.shape == tuple(theirs.shape)
    assert ours.tolist() == theirs.tolist()


def test_tensor_copies_but_Tensor_and_from_numpy_share():
    array = np.array([1.0, 2.0, 3.0])
    copied, shared, from_np = tt.tensor(array), tt.Tensor(array), tt.from_numpy(array)
    array[0] = 100.0
    assert copied.tolist() == [1.0, 2.0, 3.0]
    assert shared.data is array and shared.tolist()[0] == 100.0
    assert from_np.data is array and from_np.dtype == tt.float64


def test_tensor_of_tensor_copies():
    a = tt.tensor([1.0, 2.0])
    b = tt.tensor(a)
    a.data[0] = 5.0
    assert b.tolist() == [1.0, 2.0]


def test_tensor_rejects_strings():
    with pytest.raises(TypeError):
        tt.tensor(["a", "b"])


@needs_torch
def test_numpy_float64_scalar_keeps_its_dtype():
    assert dtype_name(tt.tensor(np.float64(2.0))) == dtype_name(torch.tensor(np.float64(2.0))) == "float64"


# ---------------------------------------------------------------------------- promotion


PROMOTE = {
    "f32 * 2.0": lambda m: m.tensor([1.0, 2.0]) * 2.0,
    "f32 + 1": lambda m: m.tensor([1.0, 2.0]) + 1,
    "2 ** f32": lambda m: 2 ** m.tensor([1.0, 2.0]),
    "1 - f32": lambda m: 1 - m.tensor([1.0, 2.0]),
    "f32 / 3": lambda m: m.tensor([1.0, 2.0]) / 3,
    "3.0 / f32": lambda m: 3.0 / m.tensor([1.0, 2.0]),
    "f16 * 2.0": lambda m: m.tensor([1.0, 2.0], dtype=m.float16) * 2.0,
    "f64 * 2": lambda m: m.tensor([1.0, 2.0], dtype=m.float64) * 2,
    "i64 * 2.5": lambda m: m.tensor([1, 2]) * 2.5,
    "i64 + 1": lambda m: m.tensor([1, 2]) + 1,
    "i64 ** 2": lambda m: m.tensor([1, 2]) ** 2,
    "i64 ** 0.5": lambda m: m.tensor([1, 4]) ** 0.5,
    "i32 + 1": lambda m: m.tensor([1, 2], dtype=m.int32) + 1,
    "i64 / i64": lambda m: m.tensor([1, 3]) / m.tensor([2, 2]),
    "i64 / 2": lambda m: m.tensor([1, 3]) / 2,
    "1.5 / i64": lambda m: 1.5 / m.tensor([1, 3]),
    "f32 + f64": lambda m: m.tensor([1.0]) + m.tensor([2.0], dtype=m.float64),
    "f16 + f32": lambda m: m.tensor([1.0], dtype=m.float16) + m.tensor([2.0]),
    "i64 + f32": lambda m: m.tensor([1, 2]) + m.tensor([0.5, 0.5]),
    "f32 * i64": lambda m: m.tensor([0.5, 0.5]) * m.tensor([1, 2]),
    "i32 + i64": lambda m: m.tensor([1], dtype=m.int32) + m.tensor([2]),
    "bool + int": lambda m: m.tensor([True, False]) + 1,
    "bool * 1.5": lambda m: m.tensor([True, False]) * 1.5,
    "bool + bool": lambda m: m.tensor([True, False]) + m.tensor([True, True]),
    "-f32": lambda m: -m.tensor([1.0]),
    "maximum i64 f32": lambda m: m.maximum(m.tensor([1, 5]), m.tensor([2.5, 2.5])),
}


@needs_torch
@pytest.mark.parametrize("case", PROMOTE)
def test_result_dtype_matches_torch(case):
    ours, theirs = PROMOTE[case](tt), PROMOTE[case](torch)
    assert dtype_name(ours) == dtype_name(theirs)
    np.testing.assert_allclose(np.asarray(ours.data, np.float64), theirs.double().numpy(), rtol=1e-3)


def test_python_scalars_never_promote_float32():
    t = tt.ones(3)
    for result in (t * 2.0, t + 1, 2**t, 1 - t, t / 3, t - 0.5, 0.5 * t, t**2.0, t.maximum(tt.tensor(0.0, dtype=tt.float32))):
        assert result.dtype == tt.float32


def test_numpy_scalar_on_the_left_defers_to_tensor():
    out = np.float32(2.0) * tt.ones(2)
    assert isinstance(out, tt.Tensor) and out.tolist() == [2.0, 2.0]


@needs_torch
def test_zero_dim_tensor_does_not_promote_dimensioned_tensor():
    ours = tt.ones(2) + tt.tensor(1.0, dtype=tt.float64)
    theirs = torch.ones(2) + torch.tensor(1.0, dtype=torch.float64)
    assert dtype_name(ours) == dtype_name(theirs)


# ---------------------------------------------------------------------------- factories


FACTORIES = {
    "zeros(2, 3)": lambda m: m.zeros(2, 3),
    "zeros((2, 3))": lambda m: m.zeros((2, 3)),
    "zeros int64": lambda m: m.zeros(2, dtype=m.int64),
    "ones(4)": lambda m: m.ones(4),
    "ones([2, 1])": lambda m: m.ones([2, 1]),
    "ones float64": lambda m: m.ones(2, 2, dtype=m.float64),
    "full float": lambda m: m.full((2, 2), 1.5),
    "full int": lambda m: m.full((3,), 7),
    "full bool": lambda m: m.full((2,), True),
    "full dtype": lambda m: m.full((2,), 3, dtype=m.float64),
    "arange(5)": lambda m: m.arange(5),
    "arange(2, 7)": lambda m: m.arange(2, 7),
    "arange(1, 10, 3)": lambda m: m.arange(1, 10, 3),
    "arange(5.0)": lambda m: m.arange(5.0),
    "arange(0, 1, 0.25)": lambda m: m.arange(0, 1, 0.25),
    "arange(0.0, 5)": lambda m: m.arange(0.0, 5),
    "arange dtype": lambda m: m.arange(4, dtype=m.float64),
    "linspace": lambda m: m.linspace(0, 1, 5),
    "linspace(-2, 2, 3)": lambda m: m.linspace(-2, 2, 3),
    "eye(3)": lambda m: m.eye(3),
    "eye(2, 4)": lambda m: m.eye(2, 4),
    "zeros_like": lambda m: m.zeros_like(m.tensor([[1, 2]])),
    "ones_like": lambda m: m.ones_like(m.tensor([1.0, 2.0], dtype=m.float64)),
    "full_like": lambda m: m.full_like(m.tensor([1.0, 2.0]), 4.0),
    "zeros_like dtype": lambda m: m.zeros_like(m.tensor([1, 2]), dtype=m.float32),
}


@needs_torch
@pytest.mark.parametrize("case", FACTORIES)
def test_factory_matches_torch(case):
    ours, theirs = FACTORIES[case](tt), FACTORIES[case](torch)
    assert dtype_name(ours) == dtype_name(theirs)
    assert_close(ours, theirs)


def test_factory_requires_grad():
    assert tt.zeros(2, requires_grad=True).requires_grad
    assert tt.ones(2, 2, requires_grad=True).is_leaf


@pytest.mark.parametrize("factory", [tt.zeros, tt.ones, tt.rand, tt.randn, tt.empty])
def test_negative_size_raises(factory):
    with pytest.raises(ValueError, match="non-negative"):
        factory(2, -1)
    with pytest.raises(ValueError):
        factory((-3,))


def test_rand_in_unit_interval_float32():
    t = tt.rand(100, 100)
    assert t.dtype == tt.float32 and t.shape == (100, 100)
    assert t.data.min() >= 0.0 and t.data.max() < 1.0
    assert 0.45 < t.data.mean() < 0.55


def test_randn_standard_normal():
    t = tt.randn(200, 200)
    assert t.dtype == tt.float32
    assert abs(float(t.data.mean())) < 0.02
    assert abs(float(t.data.std()) - 1.0) < 0.02


def test_randint_low_high_size():
    t = tt.randint(3, 7, (1000,))
    assert t.dtype == tt.int64 and t.shape == (1000,)
    assert set(np.unique(t.data)) == {3, 4, 5, 6}
    k = tt.randint(5, size=(500,))
    assert k.dtype == tt.int64 and set(np.unique(k.data)) == {0, 1, 2, 3, 4}


def test_randint_high_size_positional():
    t = tt.randint(10, (500,))
    assert t.shape == (500,) and t.dtype == tt.int64
    assert t.data.min() >= 0 and t.data.max() < 10


def test_randperm_is_a_permutation():
    p = tt.randperm(20)
    assert p.dtype == tt.int64
    assert sorted(p.tolist()) == list(range(20))


def test_rand_like_and_randn_like_keep_shape_and_dtype():
    ref = tt.zeros(3, 4, dtype=tt.float64)
    for t in (tt.rand_like(ref), tt.randn_like(ref)):
        assert t.shape == (3, 4) and t.dtype == tt.float64
    assert tt.rand_like(tt.zeros(5)).dtype == tt.float32
    assert 0 <= tt.rand_like(ref).data.min() and tt.rand_like(ref).data.max() < 1


def test_manual_seed_reproducible():
    tt.manual_seed(123)
    a, b = tt.rand(5), tt.randn(5)
    tt.manual_seed(123)
    assert a.tolist() == tt.rand(5).tolist()
    assert b.tolist() == tt.randn(5).tolist()
    tt.manual_seed(124)
    assert a.tolist() != tt.rand(5).tolist()


def test_rng_state_round_trip():
    state = tt.get_rng_state()
    first = tt.randn(4).tolist()
    tt.rand(10)  # move the generator on
    tt.set_rng_state(state)
    assert tt.randn(4).tolist() == first
