"""Losses against PyTorch, and the errors that bad input gives."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn import functional as F

from .helpers import assert_close, data_rng, needs_torch, randn, torch

# ============================================================================ losses vs torch


def _check_loss(ours, theirs, x: np.ndarray, target: np.ndarray, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    xo, xt = tt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lo, lt = ours(xo, tt.tensor(target)), theirs(xt, torch.tensor(target))
    assert_close(lo, lt, rtol, atol, what="loss")
    g = data_rng().standard_normal(tuple(lt.shape)).astype(x.dtype)  # a scalar for mean/sum, one per element for none
    lo.backward(tt.tensor(g))
    lt.backward(torch.tensor(g))
    assert_close(xo.grad, xt.grad, rtol, atol, what="input grad")


def _targets(shape, classes, ignore=None):
    target = data_rng().integers(0, classes, shape)
    if ignore is not None:
        target.flat[[1, 4]] = ignore
    return target


def _probabilities(*shape):
    return data_rng().uniform(0.05, 0.95, shape).astype(np.float32)


LOSSES = {
    "mse": (lambda m, r: m.MSELoss(reduction=r), lambda: (randn(4, 3), randn(4, 3))),
    "l1": (lambda m, r: m.L1Loss(reduction=r), lambda: (randn(4, 3), randn(4, 3))),
    "ce": (lambda m, r: m.CrossEntropyLoss(reduction=r), lambda: (randn(6, 5), _targets(6, 5))),
    "ce_kdim": (lambda m, r: m.CrossEntropyLoss(reduction=r), lambda: (randn(2, 4, 3, 3), _targets((2, 3, 3), 4))),
    "ce_ignore": (lambda m, r: m.CrossEntropyLoss(reduction=r), lambda: (randn(6, 5), _targets(6, 5, ignore=-100))),
    "ce_ignore_2": (
        lambda m, r: m.CrossEntropyLoss(ignore_index=2, reduction=r),
        lambda: (randn(6, 5), _targets(6, 5, ignore=2)),
    ),
    "ce_smooth": (lambda m, r: m.CrossEntropyLoss(reduction=r, label_smoothing=0.1), lambda: (randn(6, 5), _targets(6, 5))),
    "ce_smooth_ignore": (
        lambda m, r: m.CrossEntropyLoss(ignore_index=-1, reduction=r, label_smoothing=0.1),
        lambda: (randn(6, 5), _targets(6, 5, ignore=-1)),
    ),
    "ce_kdim_smooth_ignore": (
        lambda m, r: m.CrossEntropyLoss(reduction=r, label_smoothing=0.1),
        lambda: (randn(2, 4, 3), _targets((2, 3), 4, ignore=-100)),
    ),
    "nll": (lambda m, r: m.NLLLoss(reduction=r), lambda: (randn(6, 5), _targets(6, 5))),
    "nll_ignore": (lambda m, r: m.NLLLoss(reduction=r), lambda: (randn(6, 5), _targets(6, 5, ignore=-100))),
    "nll_kdim": (lambda m, r: m.NLLLoss(reduction=r), lambda: (randn(2, 4, 3), _targets((2, 3), 4))),
    "bce": (
        lambda m, r: m.BCELoss(reduction=r),
        lambda: (_probabilities(4, 3), data_rng().integers(0, 2, (4, 3)).astype(np.float32)),
    ),
    "bce_soft": (lambda m, r: m.BCELoss(reduction=r), lambda: (_probabilities(4, 3), _probabilities(4, 3))),
    "bce_logits": (lambda m, r: m.BCEWithLogitsLoss(reduction=r), lambda: (randn(4, 3) * 3, _probabilities(4, 3))),
    "bce_logits_large": (
        lambda m, r: m.BCEWithLogitsLoss(reduction=r),
        lambda: (np.array([[50, -50, 30], [-30, 50, -50]], np.float32), np.array([[0, 1, 1], [0, 1, 0]], np.float32)),
    ),
}


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_matches_torch(name, reduction):
    build, data = LOSSES[name]
    _check_loss(build(nn, reduction), build(torch.nn, reduction), *data())


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("large", [False, True])
def test_bce_with_logits_pos_weight_matches_torch(reduction, large):
    x = np.array([[50, -50, 30], [-30, 50, -50]], np.float32) if large else randn(2, 3) * 3
    target = np.array([[0, 1, 1], [0, 1, 0]], np.float32)
    pos_weight = np.array([0.5, 2.0, 3.0], np.float32)
    ours = nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=tt.tensor(pos_weight))
    theirs = torch.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=torch.tensor(pos_weight))
    _check_loss(ours, theirs, x, target)


def test_bce_with_logits_large_logits_stay_finite():
    x = tt.tensor([[50.0, -50.0], [100.0, -100.0]], requires_grad=True)
    target = tt.tensor([[0.0, 1.0], [1.0, 0.0]])
    loss = F.binary_cross_entropy_with_logits(x, target, pos_weight=tt.tensor([2.0, 3.0]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.data).all()
    # wrong by 50: 50 for a negative, 50 pos_weight for a positive; right by 100: ~0
    assert loss.item() == pytest.approx((50 + 3 * 50) / 4, rel=1e-6)


# ============================================================================ errors


def test_cross_entropy_target_out_of_range():
    with pytest.raises(IndexError) as err:
        F.cross_entropy(tt.randn(3, 4), tt.tensor([0, 7, 1]))
    assert "7" in str(err.value) and "4 classes" in str(err.value)
    with pytest.raises(IndexError, match="-3"):
        F.cross_entropy(tt.randn(3, 4), tt.tensor([0, -3, 1]))


def test_cross_entropy_shape_mismatch_and_float_targets():
    with pytest.raises(ValueError) as err:
        F.cross_entropy(tt.randn(3, 4), tt.tensor([0, 1, 2, 3]))
    assert "(3, 4)" in str(err.value) and "(4,)" in str(err.value)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        nn.CrossEntropyLoss()(tt.randn(2, 4, 5), tt.tensor(np.zeros((2, 3), np.int64)))
    with pytest.raises(TypeError, match="integer"):
        F.cross_entropy(tt.randn(3, 4), tt.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="integer"):
        F.nll_loss(tt.randn(3, 4), tt.tensor([0.0, 1.0, 2.0]))


def test_mse_loss_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as err:
        F.mse_loss(tt.randn(3, 4), tt.randn(4, 3))
    assert "(3, 4)" in str(err.value) and "(4, 3)" in str(err.value)
    with pytest.raises(ValueError, match=r"\(3, 1\)"):
        nn.L1Loss()(tt.randn(3), tt.randn(3, 1))


def test_bad_reduction_raises():
    with pytest.raises(ValueError, match="avg"):
        nn.MSELoss(reduction="avg")


def test_batch_norm_wrong_channel_count():
    with pytest.raises(ValueError) as err:
        nn.BatchNorm1d(4)(tt.randn(2, 5))
    assert "4" in str(err.value) and "(2, 5)" in str(err.value)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        nn.BatchNorm2d(3)(tt.randn(2, 3, 4))  # 3-D input to the 2-d layer


def test_embedding_id_out_of_range():
    emb = nn.Embedding(5, 2)
    with pytest.raises(IndexError) as err:
        emb(tt.tensor([1, 7]))
    assert "7" in str(err.value) and "5 rows" in str(err.value)
    with pytest.raises(IndexError, match="-1"):
        emb(tt.tensor([-1, 0]))
    with pytest.raises(TypeError, match="integers"):
        emb(tt.tensor([1.0]))


def test_linear_wrong_last_dim_names_shapes():
    with pytest.raises(ValueError) as err:
        nn.Linear(4, 2)(tt.randn(3, 5))
    assert "(3, 5)" in str(err.value) and "(2, 4)" in str(err.value)
