"""Indexing and shape ops: values and gradients against PyTorch, and their error messages."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as TF

from .helpers import assert_close, dtype_name, functional, needs_torch, rand64, run_both, torch

# ---------------------------------------------------------------------------- indexing


def _arr(m, x):
    """An integer or boolean index: an ndarray for tinytorch, a tensor for torch."""
    x = np.asarray(x)
    return x if m is tt else torch.from_numpy(x)


INDEX = {
    "int": lambda m: 1,
    "negative int": lambda m: -1,
    "int, int": lambda m: (0, -2),
    "int, int, int": lambda m: (1, 2, -1),
    "slice": lambda m: slice(1, None),
    "slice with step": lambda m: (slice(None), slice(0, None, 2)),
    "step 3 from 1": lambda m: (Ellipsis, slice(1, 5, 3)),
    "None": lambda m: None,
    "None inside": lambda m: (slice(None), None, 1),
    "Ellipsis": lambda m: (Ellipsis, 0),
    "Ellipsis mid": lambda m: (0, Ellipsis, slice(1, 3)),
    "integer array": lambda m: _arr(m, [0, 2]),
    "integer tensor": lambda m: m.tensor([2, 0, 1]),
    "list": lambda m: [1, 0],
    "negative list": lambda m: [-1, 0],
    "repeated list": lambda m: [0, 0, 1],
    "2-D integer tensor": lambda m: m.tensor([[0, 1], [1, 1]]),
    "0-d integer tensor": lambda m: m.tensor(1),
    "bool mask tensor": lambda m: m.tensor([True, False, True]),
    "bool mask array": lambda m: _arr(m, [False, True, True]),
    "bool list": lambda m: [True, False, True],
    "full bool mask": lambda m: _arr(m, np.arange(60).reshape(3, 4, 5) % 3 == 0),
    "2-D bool mask": lambda m: _arr(m, np.eye(3, 4, dtype=bool)),
    "slice, list": lambda m: (slice(1, None), [0, 2]),
    "list, slice, list": lambda m: ([0, 2], slice(None), [1, 1]),
    "two lists": lambda m: ([0, 2, 2], [1, 3, 3]),
    "int, mask": lambda m: (1, _arr(m, [True, False, False, True])),
    "slice, mask, int": lambda m: (slice(None, 2), m.tensor([True, True, False, True]), -1),
    "tensor, slice": lambda m: (m.tensor([1, 1]), slice(None, None, 2)),
    "None, list": lambda m: (None, [2, 1]),
}


@needs_torch
@pytest.mark.parametrize("case", INDEX)
def test_getitem_matches_torch_values_and_grads(case):
    run_both(lambda m, x: x[INDEX[case](m)], rand64(3, 4, 5))


def test_repeated_indices_accumulate_gradient():
    t = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    t[[0, 0, 1]].sum().backward()
    assert t.grad.tolist() == [2.0, 1.0, 0.0]
    t.grad = None
    t[tt.tensor([2, 2, 2, 0])].sum().backward()
    assert t.grad.tolist() == [1.0, 0.0, 3.0]


@pytest.mark.parametrize(
    "index",
    [1.0, (0, 1.5), np.array([0.0, 1.0]), tt.tensor([0.0, 1.0]), [0.5]],
    ids=["float", "tuple", "array", "tensor", "list"],
)
def test_float_index_raises_index_error(index):
    with pytest.raises(IndexError, match="integers, slices or boolean masks"):
        tt.ones(3, 3)[index]


def test_empty_list_index():
    assert tt.ones(3)[[]].shape == (0,)


SETITEM = {
    "int = scalar": lambda m: (1, 5.0),
    "slice = row": lambda m: (slice(0, 2), m.tensor([1.0, 2.0, 3.0, 4.0])),
    "column = scalar": lambda m: ((slice(None), 2), -1.0),
    "list = scalar": lambda m: ([0, 2], 9.0),
    "mask = scalar": lambda m: (m.tensor([True, False, True]), 0.5),
    "full mask = scalar": lambda m: (_arr(m, np.eye(3, 4, dtype=bool)), 7.0),
    "tuple of lists = values": lambda m: (([0, 1], [3, 0]), m.tensor([8.0, 9.0], dtype=m.float64)),
    "Ellipsis = broadcast": lambda m: (Ellipsis, m.tensor([[1.0], [2.0], [3.0]])),
    "int tensor = int": lambda m: (m.tensor([1]), 3),
}


@needs_torch
@pytest.mark.parametrize("case", SETITEM)
def test_setitem_under_no_grad_matches_torch(case):
    a = rand64(3, 4)
    ours, theirs = tt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    with tt.no_grad():
        index, value = SETITEM[case](tt)
        ours[index] = value
    with torch.no_grad():
        index, value = SETITEM[case](torch)
        theirs[index] = value
    assert ours._version == 1
    assert_close(ours, theirs)


# ---------------------------------------------------------------------------- shape ops


SHAPE_OPS = {
    "reshape -1": ((2, 3, 4), lambda m, x: x.reshape(-1, 4)),
    "reshape tuple": ((2, 3, 4), lambda m, x: x.reshape((4, -1))),
    "view": ((2, 3, 4), lambda m, x: x.view(6, 4)),
    "reshape to scalar": ((1, 1), lambda m, x: x.reshape(())),
    "transpose": ((2, 3, 4), lambda m, x: x.transpose(0, 2)),
    "transpose negative": ((2, 3, 4), lambda m, x: x.transpose(-1, -2)),
    "permute": ((2, 3, 4), lambda m, x: x.permute(2, 0, 1)),
    "permute tuple negative": ((2, 3, 4), lambda m, x: x.permute((1, -1, 0))),
    ".T": ((3, 4), lambda m, x: x.T),
    ".mT": ((2, 3, 4), lambda m, x: x.mT),
    "squeeze all": ((2, 1, 3, 1), lambda m, x: x.squeeze()),
    "squeeze dim": ((2, 1, 3, 1), lambda m, x: x.squeeze(1)),
    "squeeze negative dim": ((2, 1, 3, 1), lambda m, x: x.squeeze(-1)),
    "squeeze non-1 dim": ((2, 1, 3), lambda m, x: x.squeeze(0)),
    "squeeze dims tuple": ((1, 2, 1, 3), lambda m, x: x.squeeze((0, 2))),
    "unsqueeze 0": ((2, 3), lambda m, x: x.unsqueeze(0)),
    "unsqueeze -1": ((2, 3), lambda m, x: x.unsqueeze(-1)),
    "unsqueeze -2": ((2, 3), lambda m, x: x.unsqueeze(-2)),
    "unsqueeze end": ((2, 3), lambda m, x: x.unsqueeze(2)),
    "expand": ((3, 1), lambda m, x: x.expand(3, 4)),
    "expand -1 new dim": ((3, 1), lambda m, x: x.expand(2, -1, 5)),
    "expand tuple": ((1, 3), lambda m, x: x.expand((4, 3))),
    "flatten": ((2, 3, 4), lambda m, x: x.flatten()),
    "flatten(1)": ((2, 3, 4, 5), lambda m, x: x.flatten(1)),
    "flatten(1, 2)": ((2, 3, 4, 5), lambda m, x: x.flatten(1, 2)),
    "flatten(0, -2)": ((2, 3, 4), lambda m, x: x.flatten(0, -2)),
    "split int": ((5, 3), lambda m, x: x.split(2)),
    "split list dim 1": ((2, 6), lambda m, x: x.split([1, 3, 2], dim=1)),
    "split negative dim": ((2, 5), lambda m, x: x.split(2, dim=-1)),
    "chunk even": ((6, 2), lambda m, x: x.chunk(3)),
    "chunk uneven": ((2, 7), lambda m, x: x.chunk(3, dim=1)),
    "chunk fewer": ((6,), lambda m, x: x.chunk(4)),
    "cat dim 0": ((2, 3), lambda m, x: m.cat([x, x * 2, x[:1]], dim=0)),
    "cat dim -1": ((2, 3), lambda m, x: m.cat([x, x[:, :1]], dim=-1)),
    "stack dim 0": ((2, 3), lambda m, x: m.stack([x, x * 3])),
    "stack dim -1": ((2, 3), lambda m, x: m.stack([x, x + 1, x], dim=-1)),
    "stack dim 1": ((2, 3), lambda m, x: m.stack([x, -x], dim=1)),
    "pad last dim": ((2, 3), lambda m, x: functional(m).pad(x, (1, 2))),
    "pad two dims": ((2, 3), lambda m, x: functional(m).pad(x, (1, 2, 0, 1))),
    "pad value 3-D": ((2, 2, 2), lambda m, x: functional(m).pad(x, (0, 1, 2, 0, 1, 1), value=0.5)),
    "tril": ((4, 4), lambda m, x: x.tril()),
    "tril 1": ((3, 5), lambda m, x: x.tril(1)),
    "tril -1 batched": ((2, 4, 3), lambda m, x: x.tril(-1)),
    "triu": ((4, 4), lambda m, x: x.triu()),
    "triu 2": ((4, 5), lambda m, x: x.triu(2)),
    "triu -1 batched": ((2, 3, 4), lambda m, x: x.triu(-1)),
    "masked_fill": ((3, 4), lambda m, x: x.masked_fill(x > 0.3, -1.0)),
    "masked_fill broadcast": ((3, 4), lambda m, x: x.masked_fill(m.tensor([True, False, False, True]), 0.0)),
    "where tensors": ((3, 4), lambda m, x: m.where(x > 0, x, x * x)),
    "where scalar other": ((3, 4), lambda m, x: m.where(x > 0, x, 0.0)),
    "where scalar input": ((3, 4), lambda m, x: m.where(x > 0, 1.0, x)),
    "where broadcast": ((3, 4), lambda m, x: m.where(m.tensor([[True], [False], [True]]), x, x[0])),
    "Tensor.where": ((3, 4), lambda m, x: x.where(x < 0, -x)),
}


@needs_torch
@pytest.mark.parametrize("case", SHAPE_OPS)
def test_shape_op_matches_torch(case):
    shape, fn = SHAPE_OPS[case]
    run_both(fn, rand64(*shape))


@needs_torch
def test_tril_triu_on_integers_and_where_of_scalars_match_torch():
    for m_fn in (lambda m: m.arange(12).reshape(3, 4).tril(1), lambda m: m.arange(12).reshape(3, 4).triu(-1)):
        assert m_fn(tt).tolist() == m_fn(torch).tolist() and dtype_name(m_fn(tt)) == "int64"
    ours = tt.where(tt.tensor([True, False]), 1.0, 0.0)
    theirs = torch.where(torch.tensor([True, False]), 1.0, 0.0)
    assert ours.tolist() == theirs.tolist() and dtype_name(ours) == dtype_name(theirs)
    ours = tt.where(tt.tensor([True, False]), tt.tensor([1, 2]), 0.5)
    theirs = torch.where(torch.tensor([True, False]), torch.tensor([1, 2]), 0.5)
    assert ours.tolist() == theirs.tolist() and dtype_name(ours) == dtype_name(theirs)


@needs_torch
def test_masked_fill_keeps_dtype():
    ours = tt.tensor([1, 2]).masked_fill(tt.tensor([True, False]), 2.5)
    theirs = torch.tensor([1, 2]).masked_fill(torch.tensor([True, False]), 2.5)
    assert dtype_name(ours) == dtype_name(theirs) and ours.tolist() == theirs.tolist()


@needs_torch
@pytest.mark.parametrize("num_classes", [-1, 5])
def test_one_hot_matches_torch(num_classes):
    index = [[0, 3], [1, 1]]
    ours = TF.one_hot(tt.tensor(index), num_classes)
    theirs = torch.nn.functional.one_hot(torch.tensor(index), num_classes)
    assert ours.dtype == tt.int64 and ours.tolist() == theirs.tolist()


def test_permute_bad_permutation_names_shape():
    for dims in [(0, 0, 1), (0, 1), (0, 1, 3)]:
        with pytest.raises((ValueError, IndexError)):
            tt.ones(2, 3, 4).permute(*dims)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        tt.ones(2, 3, 4).permute(0, 0, 1)


def test_split_sizes_must_add_up():
    with pytest.raises((ValueError, RuntimeError), match="add up"):
        tt.arange(6).split([2, 3])


def test_cat_and_stack_mismatch_list_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        tt.stack([tt.ones(2, 3), tt.ones(2, 4)])
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 4\)"):
        tt.cat([tt.ones(2, 3), tt.ones(3, 4)], dim=0)
    assert tt.cat([tt.ones(2, 3), tt.ones(2, 4)], dim=1).shape == (2, 7)


def test_reshape_and_expand_errors():
    with pytest.raises(ValueError):
        tt.ones(2, 3).reshape(4, 2)
    with pytest.raises(ValueError):
        tt.ones(3, 2).expand(3, 4)


def test_dropout():
    x = tt.ones(200, 100, requires_grad=True)
    y = TF.dropout(x, p=0.25)
    kept = y.data != 0
    assert 0.72 < kept.mean() < 0.78
    np.testing.assert_allclose(y.data[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.where(kept, 1 / 0.75, 0.0), rtol=1e-6)
    assert TF.dropout(x, p=0.25, training=False) is x
    assert TF.dropout(x, p=0.0) is x
    assert (TF.dropout(x, p=1.0).data == 0).all()
    with pytest.raises(ValueError):
        TF.dropout(x, p=1.5)
    tt.manual_seed(5)
    first = TF.dropout(x, p=0.5).data
    tt.manual_seed(5)
    np.testing.assert_array_equal(first, TF.dropout(x, p=0.5).data)
