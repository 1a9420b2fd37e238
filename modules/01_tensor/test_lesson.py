"""Lesson 01's tests of the learner's Build code: their Tensor, broadcast_shape, operators, matmul
and sum against tinytorch.Tensor, on many shapes. `build` is the learner's notebook, executed up
to `## Use` (modules/conftest.py under pytest; tinytorch.lessons.harness under `tinytorch check`)."""

from __future__ import annotations

import itertools

import numpy as np

import tinytorch as tt

BROADCASTING = [((3,), (3,)), ((2, 3), (3,)), ((4, 1), (1, 5)), ((2, 1, 3), (4, 1)), ((), (2, 2)), ((3, 1), (1, 0))]


def random(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_dtypes_and_shapes_follow_tinytorch(build):
    for data in ([0.5], [[1, 2]], 7, 2.5, [True, False], np.ones(3), np.ones((2, 2), np.int32), np.float64(1.5)):
        ours, theirs = build.Tensor(data), tt.tensor(data)
        assert ours.dtype == theirs.dtype, f"Tensor({data!r}).dtype is {ours.dtype}; tinytorch makes {theirs.dtype}"
        assert ours.shape == theirs.shape, f"Tensor({data!r}).shape is {ours.shape}; tinytorch's is {theirs.shape}"
    assert build.Tensor([1.0], dtype=np.float16).dtype == np.float16, "Tensor([1.0], dtype=float16) should be float16"
    assert build.Tensor(build.Tensor([1, 2])).shape == (2,), "Tensor(another Tensor) should take its data"


def test_broadcast_shape_is_numpys_rule(build):
    rng = np.random.default_rng(1)
    for _ in range(300):
        a = tuple(int(s) for s in rng.choice([1, 2, 3], size=rng.integers(0, 4)))
        b = tuple(int(s) for s in rng.choice([1, 2, 3], size=rng.integers(0, 4)))
        try:
            want = np.broadcast_shapes(a, b)
        except ValueError:
            want = None
        if want is not None:
            got = build.broadcast_shape(a, b)
            assert tuple(got) == want, f"broadcast_shape({a}, {b}) should be {want}, but is {got}"
            continue
        try:
            build.broadcast_shape(a, b)
        except ValueError:
            continue
        raise AssertionError(f"broadcast_shape({a}, {b}) should raise ValueError: NumPy cannot broadcast them")


def test_operators_match_tinytorch(build):
    ops = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y, "/": lambda x, y: x / (y * y + 1)}
    for (sa, sb), (name, op) in itertools.product(BROADCASTING, ops.items()):
        a, b = random(sa, 1), random(sb, 2)
        ours, theirs = op(build.Tensor(a), build.Tensor(b)), op(tt.tensor(a), tt.tensor(b))
        assert isinstance(ours, build.Tensor), f"{sa} {name} {sb} should give a Tensor, not {type(ours).__name__}"
        assert ours.shape == theirs.shape, f"{sa} {name} {sb} should have shape {theirs.shape}, but has {ours.shape}"
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-5, atol=1e-6, err_msg=f"{sa} {name} {sb}")


def test_python_numbers_on_either_side(build):
    a = random((2, 3))
    for name, ours, theirs in [
        ("t + 1", build.Tensor(a) + 1, tt.tensor(a) + 1),
        ("2 - t", 2 - build.Tensor(a), 2 - tt.tensor(a)),
        ("t * 0.5", build.Tensor(a) * 0.5, tt.tensor(a) * 0.5),
        ("1 / (t * t + 1)", 1 / (build.Tensor(a) * build.Tensor(a) + 1), 1 / (tt.tensor(a) * tt.tensor(a) + 1)),
    ]:
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-5, err_msg=name)
        assert ours.dtype == np.float32, f"{name} on a float32 tensor should stay float32, but is {ours.dtype}"


def test_mismatched_shapes_raise_value_error(build):
    for sa, sb in [((2, 3), (4,)), ((2, 1), (3, 4)), ((5,), (6,))]:
        try:
            build.Tensor(random(sa)) + build.Tensor(random(sb))
        except ValueError:
            continue
        raise AssertionError(f"Tensor of shape {sa} + Tensor of shape {sb} should raise ValueError")


def test_operators_do_not_change_their_inputs(build):
    a, b = random((2, 3)), random((3,))
    x, y = build.Tensor(a.copy()), build.Tensor(b.copy())
    _ = (x + y, x - y, x * y, x / (y * y + 1), x.sum(0))
    np.testing.assert_array_equal(x.data, a, err_msg="an operator changed its left operand")
    np.testing.assert_array_equal(y.data, b, err_msg="an operator changed its right operand")


def test_matmul_matches_tinytorch(build):
    for n, k, m in [(1, 1, 1), (2, 3, 4), (5, 1, 3), (7, 8, 2), (16, 16, 16)]:
        a, b = random((n, k), n), random((k, m), m)
        ours, theirs = build.Tensor(a) @ build.Tensor(b), tt.tensor(a) @ tt.tensor(b)
        assert ours.shape == (n, m), f"({n}, {k}) @ ({k}, {m}) should have shape ({n}, {m}), but has {ours.shape}"
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-4, atol=1e-5, err_msg=f"({n}, {k}) @ ({k}, {m})")


def test_matmul_refuses_mismatched_shapes(build):
    for sa, sb in [((2, 3), (4, 2)), ((3,), (3, 2)), ((2, 2, 2), (2, 2))]:
        try:
            build.Tensor(random(sa)) @ build.Tensor(random(sb))
        except ValueError:
            continue
        raise AssertionError(f"{sa} @ {sb} should raise ValueError (the lesson's @ takes (n, k) @ (k, m))")


def test_sum_and_mean_match_tinytorch(build):
    x = random((3, 4, 5))
    for dim, keepdim in itertools.product((None, 0, 1, 2, -1), (False, True)):
        for name in ("sum", "mean"):
            ours = getattr(build.Tensor(x), name)(dim, keepdim)
            theirs = getattr(tt.tensor(x), name)(dim=dim, keepdim=keepdim)
            assert ours.shape == theirs.shape, (
                f"{name}(dim={dim}, keepdim={keepdim}) should have shape {theirs.shape}, but has {ours.shape}"
            )
            np.testing.assert_allclose(
                ours.data, theirs.data, rtol=1e-5, atol=1e-6, err_msg=f"{name}(dim={dim}, keepdim={keepdim})"
            )


def test_normalising_a_batch_matches_tinytorch(build):
    images = np.random.default_rng(3).integers(0, 256, (32, 784)).astype(np.float32)
    x = build.Tensor(images) / 255
    centered = x - x.mean(dim=0)
    ours = centered / (build.Tensor(np.sqrt((centered * centered).mean(dim=0).data)) + 1e-3)
    t = tt.tensor(images) / 255
    theirs = (t - t.mean(dim=0)) / (t.std(dim=0, unbiased=False) + 1e-3)
    np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-4, atol=1e-4, err_msg="normalised images")
