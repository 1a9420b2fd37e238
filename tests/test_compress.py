"""tinytorch.compress: pruning that survives training, sparsity reports, low-rank SVD, distillation."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.autograd import gradcheck
from tinytorch.compress import (
    distillation_loss,
    is_pruned,
    low_rank,
    low_rank_model,
    prune_magnitude,
    prune_structured,
    relative_error,
    remove,
    sparse_nbytes,
    sparsity_report,
    svd_tail_error,
)

from .helpers import data_rng, needs_torch, torch


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))


def _data(n: int = 32) -> tuple[tt.Tensor, tt.Tensor]:
    rng = data_rng()
    return tt.tensor(rng.standard_normal((n, 12)).astype(np.float32)), tt.tensor(rng.integers(0, 4, n))


def _steps(model: nn.Module, opt: tt.optim.Optimizer, n: int, check=None) -> None:
    x, y = _data()
    for _ in range(n):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if check is not None:
            check()  # right after the step, before any forward could re-apply a mask


def _weights(model: nn.Module) -> list[np.ndarray]:
    return [m.weight.data for m in model.modules() if isinstance(m, nn.Linear)]


# ---------------------------------------------------------------------- magnitude pruning


def test_global_pruning_removes_the_smallest_weights_of_all_layers():
    model = _mlp()
    model[4].weight.data *= 10  # a layer of large weights keeps more of them under one threshold
    before = np.concatenate([np.abs(w).ravel() for w in _weights(model)])
    prune_magnitude(model, 0.6)
    after = np.concatenate([w.ravel() for w in _weights(model)])
    pruned = after == 0
    assert pruned.sum() == round(0.6 * after.size)
    assert before[pruned].max() <= before[~pruned].min()  # one threshold over all layers
    sparsities = [(w == 0).mean() for w in _weights(model)]
    assert sparsities[2] < 0.2 and min(sparsities[:2]) > 0.5  # the large layer loses far fewer than 60%


def test_layer_pruning_removes_the_same_fraction_of_every_layer():
    model = _mlp()
    prune_magnitude(model, 0.25, scope="layer")
    for w, m in zip(_weights(model), [model[0], model[2], model[4]]):
        assert (w == 0).sum() == round(0.25 * w.size)
        assert m.weight_mask.data.dtype == bool and (~m.weight_mask.data).sum() == round(0.25 * w.size)
        kept = np.abs(w[w != 0])
        assert kept.min() > 0


def test_pruning_is_cumulative_and_never_restores_weights():
    model = _mlp()
    prune_magnitude(model, 0.5)
    first = [m.weight_mask.data.copy() for m in (model[0], model[2], model[4])]
    prune_magnitude(model, 0.8)
    second = [m.weight_mask.data for m in (model[0], model[2], model[4])]
    assert all(np.all(s <= f) for f, s in zip(first, second))  # kept now => kept before
    assert sparsity_report(model)[-1]["zeros"] == round(0.8 * sum(w.size for w in _weights(model)))
    prune_magnitude(model, 0.3)  # a smaller amount does not bring weights back
    assert all(np.array_equal(m.weight_mask.data, s) for m, s in zip((model[0], model[2], model[4]), second))


def test_only_the_given_modules_are_pruned():
    model = _mlp()
    prune_magnitude(model, 0.5, modules=[model[2]])
    assert is_pruned(model[2]) and not is_pruned(model[0]) and is_pruned(model)
    assert (model[0].weight.data == 0).sum() == 0 and (model[2].weight.data == 0).sum() == 128


# ---------------------------------------------------------------------- masks survive training


OPTIMIZERS = {
    "sgd_momentum": lambda p: tt.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-2),
    "sgd_nesterov": lambda p: tt.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda p: tt.optim.Adam(p, lr=1e-2),
    "adamw": lambda p: tt.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    "rmsprop": lambda p: tt.optim.RMSprop(p, lr=1e-2, momentum=0.5),
}


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_pruned_weights_stay_exactly_zero_after_optimizer_steps(make):
    model = _mlp()
    opt = make(model.parameters())
    _steps(model, opt, 3)  # the optimizer has momentum / moments everywhere before pruning
    prune_magnitude(model, 0.7, optimizer=opt)
    masks = [m.weight_mask.data.copy() for m in (model[0], model[2], model[4])]
    kept = [w[k].copy() for w, k in zip(_weights(model), masks)]

    def check():
        for w, k in zip(_weights(model), masks):
            assert np.all(w[~k] == 0.0)

    _steps(model, opt, 5, check)
    assert all(not np.array_equal(w[k], old) for w, k, old in zip(_weights(model), masks, kept))  # the rest trains
    assert all(
        m.weight.grad is None or np.all(m.weight.grad.data[~k] == 0) for m, k in zip((model[0], model[2], model[4]), masks)
    )


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_zeroing_weights_without_masks_would_not_last(make):
    """The control that shows the test above can fail: plain zeros come back after one step."""
    model = _mlp()
    opt = make(model.parameters())
    _steps(model, opt, 3)
    w = model[0].weight.data
    w[np.abs(w) < np.median(np.abs(w))] = 0.0
    zeros = w == 0
    _steps(model, opt, 1)
    assert np.any(model[0].weight.data[zeros] != 0)


def test_a_stale_optimizer_state_is_caught_by_the_forward_pre_hook():
    model = _mlp()
    opt = tt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    _steps(model, opt, 3)
    prune_magnitude(model, 0.7)  # no optimizer=: its momentum still pushes the pruned weights
    mask = model[0].weight_mask.data.copy()
    _steps(model, opt, 1)
    assert np.any(model[0].weight.data[~mask] != 0)  # moved by the old momentum...
    x, _ = _data()
    with tt.no_grad():
        model(x)
    assert np.all(model[0].weight.data[~mask] == 0)  # ...and zero again before the next forward


def test_remove_makes_pruning_permanent():
    model = _mlp()
    prune_magnitude(model, 0.5, scope="layer")
    assert "0.weight_mask" in model.state_dict()
    remove(model)
    assert not is_pruned(model) and "0.weight_mask" not in model.state_dict()
    zeros = model[0].weight.data == 0
    assert zeros.sum() == 0.5 * zeros.size  # the zeros stay
    _steps(model, tt.optim.SGD(model.parameters(), lr=0.1), 1)
    assert np.any(model[0].weight.data[zeros] != 0)  # no mask any more: training moves them


# ---------------------------------------------------------------------- structured pruning


def test_structured_pruning_removes_whole_conv_channels():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    scales = np.array([5, 0.1, 4, 0.2, 3, 0.3, 2, 1.5], np.float32)
    conv.weight.data *= scales[:, None, None, None]
    model = nn.Sequential(conv)
    prune_structured(model, 0.5, n=2)
    gone = np.all(conv.weight.data == 0, axis=(1, 2, 3))
    assert gone.tolist() == [False, True, False, True, False, True, False, True]  # the 4 smallest norms
    assert np.all(conv.bias.data[gone] == 0) and np.all(conv.bias.data[~gone] != 0)
    with tt.no_grad():
        out = model(tt.randn(2, 3, 6, 6)).data
    assert np.all(out[:, gone] == 0) and np.all(np.abs(out[:, ~gone]).sum(axis=(0, 2, 3)) > 0)


def test_structured_pruning_removes_whole_neurons_and_they_stay_removed():
    model = _mlp()
    opt = tt.optim.Adam(model.parameters(), lr=1e-2)
    prune_structured(model, 0.25, n=1, modules=[model[0], model[2]], optimizer=opt)
    l1 = np.abs(model[2].weight.data).sum(axis=1)
    assert (l1 == 0).sum() == 4 and (np.abs(model[0].weight.data).sum(axis=1) == 0).sum() == 4
    rows = np.all(model[0].weight.data == 0, axis=1)
    _steps(model, opt, 3)
    assert np.all(model[0].weight.data[rows] == 0) and np.all(model[0].bias.data[rows] == 0)
    with pytest.raises(ValueError, match="n must be 1"):
        prune_structured(model, 0.5, n=3)


# ---------------------------------------------------------------------- reports


def test_sparsity_report_counts_zeros_per_parameter():
    model = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 3))
    model[0].bias.data[:4] = 0
    prune_magnitude(model, 0.3, scope="layer", modules=[model[0]])
    rows = sparsity_report(model)
    assert [r["layer"] for r in rows] == ["0.weight", "0.bias", "2.weight", "2.bias", "total"]
    assert rows[0] == {"layer": "0.weight", "parameters": 100, "zeros": 30, "sparsity": 0.3}
    assert rows[1]["zeros"] == 4 and rows[2]["zeros"] == 0
    assert rows[-1] == {"layer": "total", "parameters": 143, "zeros": 34, "sparsity": 34 / 143}


def test_sparse_nbytes_is_bitmask_plus_nonzero_values():
    model = nn.Sequential(nn.Linear(100, 80, bias=False))
    prune_magnitude(model, 0.9)
    assert sparse_nbytes(model) == 8000 // 8 + 800 * 4  # 1 bit per entry, float32 per kept value
    assert sparse_nbytes(model) < 8000 * 4 / 7


# ---------------------------------------------------------------------- bad input


def test_bad_amounts_and_models_give_clear_errors():
    model = _mlp()
    for amount in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            prune_magnitude(model, amount)
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            prune_structured(model, amount)
    with pytest.raises(TypeError, match="amount"):
        prune_magnitude(model, "0.5")
    with pytest.raises(ValueError, match="scope"):
        prune_magnitude(model, 0.5, scope="network")
    with pytest.raises(ValueError, match="no Linear or Conv2d"):
        prune_magnitude(nn.Sequential(nn.ReLU()), 0.5)
    with pytest.raises(ValueError, match="no parameter named"):
        prune_magnitude(model, 0.5, modules=[nn.ReLU()])
    assert not is_pruned(model)  # nothing half done


# ---------------------------------------------------------------------- low rank


def test_low_rank_error_decreases_with_rank_and_equals_the_svd_tail():
    linear = nn.Linear(30, 20)
    errors = []
    for rank in (1, 5, 10, 19, 20):
        factored = low_rank(linear, rank)
        err = relative_error(linear, factored)
        assert err == pytest.approx(svd_tail_error(linear.weight, rank), abs=1e-6)  # Eckart-Young: the best possible
        errors.append(err)
    assert all(a > b for a, b in zip(errors, errors[1:]))
    assert errors[-1] < 1e-6  # full rank reconstructs W


def test_low_rank_layers_compute_the_truncated_product():
    linear = nn.Linear(30, 20)
    factored = low_rank(linear, 8)
    assert [tuple(m.weight.shape) for m in factored] == [(8, 30), (20, 8)] and factored[0].bias is None
    assert sum(p.numel() for p in factored.parameters()) == 8 * (30 + 20) + 20
    u, s, vt = np.linalg.svd(linear.weight.data.astype(np.float64))
    w8 = (u[:, :8] * s[:8]) @ vt[:8]
    x = data_rng().standard_normal((5, 30)).astype(np.float32)
    with tt.no_grad():
        out = factored(tt.tensor(x)).data
    np.testing.assert_allclose(out, x @ w8.T + linear.bias.data, rtol=1e-4, atol=1e-5)


def test_low_rank_model_replaces_layers_in_place():
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
    rows = low_rank_model(model, 8)  # only layer 0 gets smaller at rank 8: 8 * (64 + 4) > 64 * 4
    assert [r["layer"] for r in rows] == ["0"]
    assert rows[0]["parameters"] == 64 * 64 + 64 and rows[0]["parameters_after"] == 8 * 128 + 64
    assert isinstance(model[0], nn.Sequential) and isinstance(model[1], nn.ReLU) and isinstance(model[2], nn.Linear)
    with pytest.raises(ValueError, match="not the name of a Linear"):
        low_rank_model(model, 2, modules=["1"])


def test_low_rank_rejects_ranks_it_cannot_fit():
    linear = nn.Linear(30, 20)
    for rank in (0, 21, 2.5, True):
        with pytest.raises(ValueError, match=r"min\(out, in\) = 20"):
            low_rank(linear, rank)
    with pytest.raises(TypeError, match="nn.Linear"):
        low_rank(nn.Conv2d(2, 2, 1), 1)


# ---------------------------------------------------------------------- distillation


def _numpy_distillation(s: np.ndarray, t: np.ndarray, y: np.ndarray, T: float, alpha: float) -> float:
    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    p_t = np.exp(log_softmax(t / T))
    kl = (p_t * (np.log(p_t) - log_softmax(s / T))).sum(axis=1).mean()
    ce = -log_softmax(s)[np.arange(len(y)), y].mean()
    return alpha * T**2 * kl + (1 - alpha) * ce


@pytest.mark.parametrize(("T", "alpha"), [(4.0, 0.9), (1.0, 0.5), (2.5, 1.0), (3.0, 0.0)])
def test_distillation_loss_value_and_gradcheck(T, alpha):
    rng = data_rng()
    s, t = rng.standard_normal((6, 5)) * 3, rng.standard_normal((6, 5)) * 3
    y = rng.integers(0, 5, 6)
    loss = distillation_loss(tt.tensor(s), tt.tensor(t), tt.tensor(y), T=T, alpha=alpha)
    assert float(loss.item()) == pytest.approx(_numpy_distillation(s, t, y, T, alpha), rel=1e-10)
    fn = lambda student: distillation_loss(student, tt.tensor(t), tt.tensor(y), T=T, alpha=alpha)  # noqa: E731
    assert gradcheck(fn, [tt.tensor(s, requires_grad=True)])


def test_distillation_loss_is_zero_soft_term_for_a_perfect_copy_and_spares_the_teacher():
    t = tt.tensor(data_rng().standard_normal((4, 3)), requires_grad=True)
    s = tt.tensor(t.data.copy(), requires_grad=True)
    loss = distillation_loss(s, t, tt.tensor(np.array([0, 1, 2, 0])), alpha=1.0)
    assert abs(float(loss.item())) < 1e-12
    loss.backward()
    assert t.grad is None and s.grad is not None


@needs_torch
def test_distillation_loss_matches_torch():
    rng = data_rng()
    s, t, y = rng.standard_normal((8, 10)), rng.standard_normal((8, 10)) * 2, rng.integers(0, 10, 8)
    ts = torch.tensor(s, requires_grad=True)
    TF = torch.nn.functional
    kl = TF.kl_div(TF.log_softmax(ts / 4.0, dim=1), TF.softmax(torch.tensor(t) / 4.0, dim=1), reduction="batchmean")
    expected = 0.9 * 16 * kl + 0.1 * TF.cross_entropy(ts, torch.tensor(y))
    expected.backward()
    ours_s = tt.tensor(s, requires_grad=True)
    loss = distillation_loss(ours_s, tt.tensor(t), tt.tensor(y))
    loss.backward()
    assert float(loss.item()) == pytest.approx(expected.item(), rel=1e-10)
    np.testing.assert_allclose(ours_s.grad.data, ts.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_distillation_loss_rejects_bad_arguments():
    s, y = tt.randn(2, 3), tt.tensor(np.array([0, 1]))
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss(s, s, y, T=0.0)
    with pytest.raises(ValueError, match="alpha"):
        distillation_loss(s, s, y, alpha=1.5)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        distillation_loss(s, tt.randn(2, 4), y)
