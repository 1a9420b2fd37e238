"""Lesson 11's tests of the learner's Build code: MyEmbedding against tinytorch's embedding (forward,
gradcheck, repeated ids, any shape of ids, float32), sparse_grad against the dense gradient, and
sinusoidal_encoding against tinytorch's SinusoidalPositionalEncoding. `build` is the learner's
notebook executed up to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch import nn
from tinytorch.autograd import gradcheck


def table(v, d, seed=0, dtype=np.float64):
    return tt.tensor(np.random.default_rng(seed).standard_normal((v, d)).astype(dtype), requires_grad=True)


def test_lookup_matches_tinytorch_for_any_shape_of_ids(build):
    weight = table(11, 4)
    rng = np.random.default_rng(1)
    for shape in [(), (5,), (3, 4), (2, 3, 2)]:
        ids = tt.tensor(rng.integers(0, 11, shape))
        ours, theirs = build.MyEmbedding.apply(weight, ids), nn.functional.embedding(ids, weight)
        assert ours.shape == theirs.shape, f"ids of shape {shape} should give {theirs.shape}, but gave {ours.shape}"
        np.testing.assert_array_equal(ours.data, theirs.data, err_msg=f"lookup of ids with shape {shape}")


def test_lookup_gradcheck_with_repeated_ids(build):
    weight = table(6, 3, seed=2)
    ids = tt.tensor(np.array([[0, 0, 5], [5, 0, 2], [2, 2, 2]]))
    assert gradcheck(lambda w: build.MyEmbedding.apply(w, ids), [weight]), "MyEmbedding fails gradcheck with repeated ids"


def test_gradient_sums_repeats_and_leaves_unread_rows_zero(build):
    rng = np.random.default_rng(3)
    for v, shape in [(5, (40,)), (100, (4, 6)), (3, (2, 2, 3))]:
        weight = table(v, 7, seed=v, dtype=np.float32)
        ids = tt.tensor(rng.integers(0, v, shape))
        g = tt.tensor(rng.standard_normal((*shape, 7)).astype(np.float32))
        (build.MyEmbedding.apply(weight, ids) * g).sum().backward()
        ours, weight.grad = weight.grad.data.copy(), None
        (nn.functional.embedding(ids, weight) * g).sum().backward()
        assert ours.dtype == np.float32, f"the gradient of a float32 table should be float32, but is {ours.dtype}"
        np.testing.assert_allclose(ours, weight.grad.data, rtol=1e-5, atol=1e-6, err_msg=f"table {v}, ids {shape}")
        unread = np.setdiff1d(np.arange(v), ids.data)
        assert not ours[unread].any(), f"rows {unread.tolist()} were not read and should have zero gradient"


def test_embedding_trains_inside_a_model(build):
    tt.manual_seed(0)
    weight = table(10, 4, seed=4, dtype=np.float32)
    head = nn.Linear(4, 10)
    ids, target = tt.tensor(np.arange(10) % 3), tt.tensor(np.arange(10) % 3)
    loss = nn.functional.cross_entropy(head(build.MyEmbedding.apply(weight, ids)), target)
    loss.backward()
    assert weight.grad is not None and head.weight.grad is not None, "gradients should reach the table and the layer after it"
    assert not weight.grad.data[3:].any() and weight.grad.data[:3].any(), "only rows 0, 1 and 2 were read"


def test_sparse_grad_scatters_to_the_dense_gradient(build):
    rng = np.random.default_rng(5)
    for v, shape in [(20, (7,)), (50, (3, 5)), (4, (2, 8))]:
        ids = rng.integers(0, v, shape)
        g = rng.standard_normal((*shape, 3)).astype(np.float32)
        rows, values = build.sparse_grad(ids, g)
        np.testing.assert_array_equal(rows, np.unique(ids), err_msg="rows should be the distinct ids, in increasing order")
        assert values.shape == (len(np.unique(ids)), 3), f"values should be ({len(np.unique(ids))}, 3), not {values.shape}"
        dense = np.zeros((v, 3), np.float32)
        np.add.at(dense, ids, g)
        np.testing.assert_allclose(values, dense[rows], rtol=1e-5, atol=1e-6, err_msg=f"summed rows for ids {shape}")


def test_sinusoidal_encoding_matches_tinytorch(build):
    for max_len, dim in [(1, 2), (16, 4), (100, 32), (9, 7), (5, 1)]:
        ours = build.sinusoidal_encoding(max_len, dim)
        theirs = nn.SinusoidalPositionalEncoding(dim, max_len=max_len).pe.numpy()
        assert ours.shape == (max_len, dim) and ours.dtype == np.float32, (
            f"({max_len}, {dim}) float32 table, not {ours.shape} {ours.dtype}"
        )
        np.testing.assert_allclose(ours, theirs, atol=1e-5, err_msg=f"sinusoidal_encoding({max_len}, {dim})")


def test_sinusoidal_encoding_follows_the_formula(build):
    pe = build.sinusoidal_encoding(50, 10)
    p, i = 37, 3
    np.testing.assert_allclose(
        pe[p, 2 * i], np.sin(p / 10000 ** (2 * i / 10)), rtol=1e-5, err_msg="PE[37, 6] = sin(37 / 10000^(6/10))"
    )
    np.testing.assert_allclose(
        pe[p, 2 * i + 1], np.cos(p / 10000 ** (2 * i / 10)), rtol=1e-5, err_msg="PE[37, 7] = cos(37 / 10000^(6/10))"
    )
