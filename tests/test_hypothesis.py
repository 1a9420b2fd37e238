"""Property tests with PyTorch as the oracle: random shapes, dims and indices, float64 data,
values and gradients of every input compared (the gradient check exercises unbroadcast)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinytorch as tt

from .helpers import assert_close, needs_torch, to_torch, torch

pytestmark = needs_torch

FAST = settings(max_examples=40, deadline=None)
RTOL, ATOL = 1e-7, 1e-9


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)


def away_from_zero(lo: float = 0.5, hi: float = 3.0) -> st.SearchStrategy[float]:
    return st.one_of(floats(-hi, -lo), floats(lo, hi))


def spaced(lo: float = -5.0, hi: float = 5.0) -> st.SearchStrategy[float]:
    """Multiples of 0.01: drawn unique, they have no ties and no near-zero variance."""
    return st.integers(int(lo * 100), int(hi * 100)).map(lambda i: i / 100)


def f64_arrays(shape, elements=None, unique: bool = False) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=floats(-3, 3) if elements is None else elements, unique=unique)


def compare(fn, *arrays: np.ndarray) -> None:
    """fn(m, *tensors) with m = tinytorch and m = torch: values, then the gradient of every float input
    for the same random upstream gradient."""
    ours_in = [tt.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    theirs_in = [to_torch(t) for t in ours_in]
    ours, theirs = fn(tt, *ours_in), fn(torch, *theirs_in)
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert_close(ours, theirs, rtol=RTOL, atol=ATOL, what="value")
    upstream = np.random.default_rng(0).uniform(0.5, 1.5, tuple(theirs.shape))
    ours.backward(tt.tensor(upstream))
    theirs.backward(torch.tensor(upstream))
    for k, (o, t) in enumerate(zip(ours_in, theirs_in)):
        if not t.requires_grad:
            continue
        expected = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        assert o.grad is not None, f"input {k} got no gradient"
        assert o.grad.dtype == tt.float64
        assert_close(o.grad, expected, rtol=RTOL, atol=ATOL, what=f"grad of input {k}")


# ---------------------------------------------------------------------------- binary ops


BINARY = {
    # name: (fn, elements of a, elements of b)
    "add": (lambda m, a, b: a + b, floats(-3, 3), floats(-3, 3)),
    "sub": (lambda m, a, b: a - b, floats(-3, 3), floats(-3, 3)),
    "mul": (lambda m, a, b: a * b, floats(-3, 3), floats(-3, 3)),
    "div": (lambda m, a, b: a / b, floats(-3, 3), away_from_zero()),
    "pow": (lambda m, a, b: a**b, floats(0.5, 3), floats(-2, 2)),
    "maximum": (lambda m, a, b: m.maximum(a, b), floats(-3, 3), floats(-3, 3)),
    "minimum": (lambda m, a, b: m.minimum(a, b), floats(-3, 3), floats(-3, 3)),
    "maximum with ties": (lambda m, a, b: m.maximum(a, b), st.sampled_from([-1.0, 0.0, 1.0]), st.sampled_from([-1.0, 0.0, 1.0])),
}


@pytest.mark.parametrize("op", BINARY)
@FAST
@given(data=st.data())
def test_binary_op_broadcasting_values_and_grads(op, data):
    fn, a_elements, b_elements = BINARY[op]
    shape_a, shape_b = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4)).input_shapes
    a = data.draw(f64_arrays(shape_a, a_elements), label="a")
    b = data.draw(f64_arrays(shape_b, b_elements), label="b")
    compare(fn, a, b)


@FAST
@given(data=st.data())
def test_where_broadcasting_values_and_grads(data):
    shape_c, shape_a, shape_b = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=4, max_side=4)).input_shapes
    cond = data.draw(hnp.arrays(np.bool_, shape_c), label="cond")
    a = data.draw(f64_arrays(shape_a), label="a")
    b = data.draw(f64_arrays(shape_b), label="b")
    compare(lambda m, c, x, y: m.where(c, x, y), cond, a, b)


SCALAR_OPS = {
    "t + s": lambda t, s: t + s,
    "s + t": lambda t, s: s + t,
    "t - s": lambda t, s: t - s,
    "s - t": lambda t, s: s - t,
    "t * s": lambda t, s: t * s,
    "s * t": lambda t, s: s * t,
    "t / s": lambda t, s: t / s,
    "s / t": lambda t, s: s / (t * t + 1),
    "t ** s": lambda t, s: (t * t + 0.5) ** s,
    "s ** t": lambda t, s: abs(s) ** t,
}


@pytest.mark.parametrize("op", SCALAR_OPS)
@FAST
@given(
    x=f64_arrays(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)),
    s=away_from_zero(0.25, 2.0),
)
def test_python_scalar_operand_values_and_grads(op, x, s):
    compare(lambda m, t: SCALAR_OPS[op](t, s), x)


# ---------------------------------------------------------------------------- reductions


def _dims(draw, ndim: int, tuples: bool):
    """None, one dim (maybe negative) or, if allowed, a tuple of distinct dims."""
    one = st.integers(-ndim, ndim - 1)
    choices = [st.none(), one]
    if tuples:
        choices.append(st.lists(one, min_size=1, max_size=ndim, unique_by=lambda d: d % ndim).map(tuple))
    return draw(st.one_of(*choices))


def _count(shape: tuple[int, ...], dim) -> int:
    if dim is None:
        return int(np.prod(shape))
    dims = (dim,) if isinstance(dim, int) else dim
    return int(np.prod([shape[d] for d in dims]))


def _all(dim, ndim: int):
    """torch's spelling of a dim argument (None means every dim)."""
    return tuple(range(ndim)) if dim is None else dim


REDUCTIONS = {
    # name: (call, tuples of dims allowed)
    "sum": (lambda m, x, dim, k: x.sum(dim=dim, keepdim=k), True),
    "mean": (lambda m, x, dim, k: x.mean(dim=dim, keepdim=k), True),
    "var": (lambda m, x, dim, k: x.var(dim=dim, keepdim=k), True),
    "std": (lambda m, x, dim, k: x.std(dim=dim, keepdim=k), True),
    "var correction=0": (lambda m, x, dim, k: x.var(dim=dim, keepdim=k, correction=0), True),
    "std correction=0": (lambda m, x, dim, k: x.std(dim=dim, keepdim=k, correction=0), True),
    "logsumexp": (lambda m, x, dim, k: x.logsumexp(dim if m is tt else _all(dim, x.ndim), keepdim=k), False),
    "amax": (lambda m, x, dim, k: x.amax(dim if m is tt else _all(dim, x.ndim), keepdim=k), False),
    "max": (lambda m, x, dim, k: x.max() if dim is None else x.max(dim, keepdim=k).values, False),
    "min": (lambda m, x, dim, k: x.min() if dim is None else x.min(dim, keepdim=k).values, False),
    "softmax": (lambda m, x, dim, k: x.softmax(-1 if dim is None else dim), False),
    "log_softmax": (lambda m, x, dim, k: x.log_softmax(-1 if dim is None else dim), False),
}


@pytest.mark.parametrize("op", REDUCTIONS)
@FAST
@given(data=st.data(), keepdim=st.booleans())
def test_reduction_values_and_grads(op, data, keepdim):
    fn, tuples = REDUCTIONS[op]
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), label="shape")
    dim = _dims(data.draw, len(shape), tuples)
    if op.startswith(("var", "std")):
        assume(_count(shape, dim) >= 2)
    # distinct values: no ties for max/min, and a variance well away from 0 for std
    x = data.draw(f64_arrays(shape, spaced(), unique=True), label="x")
    compare(lambda m, t: fn(m, t, dim, keepdim), x)


@pytest.mark.parametrize("op", ["max", "min"])
@FAST
@given(data=st.data(), keepdim=st.booleans())
def test_max_min_indices_match_torch(op, data, keepdim):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = data.draw(f64_arrays(shape, spaced(), unique=True))
    ours = getattr(tt.tensor(x), op)(dim, keepdim=keepdim)
    theirs = getattr(torch.tensor(x), op)(dim, keepdim=keepdim)
    assert ours.indices.dtype == tt.int64
    np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())
    np.testing.assert_array_equal(getattr(tt.tensor(x), f"arg{op}")(dim, keepdim).data, theirs.indices.numpy())


@pytest.mark.parametrize("op", ["logsumexp", "amax"])
@settings(max_examples=5, deadline=None)
@given(data=st.data(), keepdim=st.booleans())
def test_logsumexp_amax_over_tuple_of_dims(op, data, keepdim):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=4, min_side=2, max_side=4))
    dims = tuple(data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=2, max_size=len(shape), unique=True)))
    x = data.draw(f64_arrays(shape, spaced(), unique=True))
    compare(lambda m, t: getattr(t, op)(dims, keepdim=keepdim), x)


# ---------------------------------------------------------------------------- matmul


@st.composite
def matmul_shapes(draw):
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["mat @ mat", "vec @ mat", "mat @ vec", "vec @ vec"]))
    a = (k,) if kind.startswith("vec") else (*batch_a, n, k)
    b = (k,) if kind.endswith("vec") else (*batch_b, k, m)
    return a, b


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_matmul_broadcast_values_and_grads(data):
    shape_a, shape_b = data.draw(matmul_shapes())
    a = data.draw(f64_arrays(shape_a), label="a")
    b = data.draw(f64_arrays(shape_b), label="b")
    compare(lambda m, x, y: x @ y, a, b)
    compare(lambda m, x, y: m.matmul(x, y), a, b)


# ---------------------------------------------------------------------------- indexing


def _as_index(m, parts: tuple, as_tensor: bool):
    """Index parts for module m: ndarrays become torch tensors (or tinytorch tensors if asked)."""
    out = []
    for p in parts:
        if isinstance(p, np.ndarray):
            p = torch.from_numpy(p) if m is torch else (tt.tensor(p) if as_tensor else p)
        out.append(p)
    return tuple(out)


def _ints(draw, n: int, shape=None) -> np.ndarray:
    """Integer indices into a dim of size n, negatives and repeats included."""
    if shape is None:
        shape = hnp.array_shapes(min_dims=1, max_dims=2, max_side=5)
    return draw(hnp.arrays(np.int64, shape, elements=st.integers(-n, n - 1)))


@st.composite
def index_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5))
    kinds = ["ints", "mask", "leading mask"]
    if len(shape) >= 2:
        kinds += ["two int arrays", "slice, ints", "ints, slice", "slice, mask", "int, ints"]
    kind = draw(st.sampled_from(kinds))
    if kind == "ints":
        parts = (_ints(draw, shape[0]),)
    elif kind == "mask":
        parts = (draw(hnp.arrays(np.bool_, shape)),)
    elif kind == "leading mask":
        k = draw(st.integers(1, len(shape)))
        parts = (draw(hnp.arrays(np.bool_, shape[:k])), Ellipsis)
    elif kind == "two int arrays":
        s0, s1 = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2, max_side=4)).input_shapes
        parts = (_ints(draw, shape[0], s0), _ints(draw, shape[1], s1))
    elif kind == "slice, ints":
        parts = (slice(None, None, draw(st.integers(1, 3))), _ints(draw, shape[1]))
    elif kind == "ints, slice":
        parts = (_ints(draw, shape[0]), slice(draw(st.integers(0, 2)), None))
    elif kind == "slice, mask":
        parts = (slice(None), draw(hnp.arrays(np.bool_, shape[1:2])))
    else:  # "int, ints"
        parts = (draw(st.integers(-shape[0], shape[0] - 1)), _ints(draw, shape[1]))
    return shape, parts


@settings(max_examples=150, deadline=None)
@given(case=index_cases(), as_tensor=st.booleans(), data=st.data())
def test_indexing_values_and_grads(case, as_tensor, data):
    shape, parts = case
    x = data.draw(f64_arrays(shape), label="x")
    compare(lambda m, t: t[_as_index(m, parts, as_tensor)], x)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_repeated_indices_accumulate(data):
    n = data.draw(st.integers(1, 5))
    index = _ints(data.draw, n, st.integers(1, 12))
    t = tt.ones(n, dtype=tt.float64, requires_grad=True)
    t[index].sum().backward()
    expected = np.bincount(index % n, minlength=n).astype(np.float64)
    np.testing.assert_array_equal(t.grad.data, expected)


# ---------------------------------------------------------------------------- shape round trips


@st.composite
def shape_chains(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, max_side=4))
    perm = tuple(draw(st.permutations(range(len(shape)))))
    target = list(draw(st.permutations(shape)))  # same size, other order
    if len(target) >= 2 and draw(st.booleans()):
        target[:2] = [target[0] * target[1]]
    if draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    dim0, dim1 = (draw(st.integers(-len(target), len(target) - 1)) for _ in range(2))
    return shape, perm, tuple(target), (dim0, dim1)


@settings(max_examples=100, deadline=None)
@given(chain=shape_chains(), data=st.data())
def test_reshape_permute_transpose_grads(chain, data):
    shape, perm, target, (dim0, dim1) = chain
    x = data.draw(f64_arrays(shape), label="x")

    def forward(m, t):
        return (t.permute(*perm).reshape(target) * 2).transpose(dim0, dim1).flatten()

    compare(forward, x)

    def round_trip(m, t):
        permuted = tuple(t.shape[p] for p in perm)
        y = t.permute(perm).reshape(target).transpose(dim0, dim1)
        return y.transpose(dim0, dim1).reshape(permuted).permute(*np.argsort(perm).tolist())

    compare(round_trip, x)
    assert_close(round_trip(tt, tt.tensor(x)), x)
