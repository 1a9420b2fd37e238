"""Lesson 16's tests of the learner's Build code: the magnitude mask and prune_layer against
tinytorch.compress.prune_magnitude (Linear and Conv2d, SGD and Adam), svd_factors against the truncated
SVD and its predicted error, and distill_loss against tinytorch.compress.distillation_loss (values,
gradients, gradcheck). `build` is the learner's notebook executed up to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch import compress, nn
from tinytorch.autograd import gradcheck


def test_magnitude_mask_matches_tinytorchs_per_layer_pruning(build):
    for make in (lambda: nn.Linear(17, 9), lambda: nn.Conv2d(3, 5, 3)):
        for amount in (0.0, 0.1, 0.5, 0.93, 1.0):
            tt.manual_seed(2)
            layer = make()
            w = layer.weight.data.copy()
            mask = build.magnitude_mask(w, amount)
            np.testing.assert_array_equal(w, layer.weight.data, err_msg="magnitude_mask must not change the weight")
            compress.prune_magnitude(layer, amount, scope="layer")
            assert mask.dtype == bool and mask.shape == w.shape, f"a bool mask of shape {w.shape}, got {mask.dtype} {mask.shape}"
            np.testing.assert_array_equal(mask, layer.weight_mask.data, err_msg=f"mask of a {w.shape} weight at amount {amount}")


def test_magnitude_mask_prunes_the_smallest(build):
    w = np.array([[0.5, -0.1, 0.3], [-0.05, 2.0, -0.7]], np.float32)
    np.testing.assert_array_equal(
        build.magnitude_mask(w, 0.5), [[True, False, False], [False, True, True]], err_msg="3 smallest |w| pruned"
    )
    assert build.magnitude_mask(w, 1 / 6).sum() == 5, "one of six pruned"


def test_prune_layer_zeros_the_weights_and_returns_the_mask(build):
    tt.manual_seed(3)
    layer = nn.Linear(20, 10)
    w = layer.weight.data.copy()
    mask = build.prune_layer(layer, 0.75)
    assert mask.shape == w.shape and (~mask).sum() == 150, f"75% of 200 weights: 150 pruned, the mask prunes {(~mask).sum()}"
    assert (layer.weight.data[~mask] == 0).all(), "the pruned weights should be 0"
    np.testing.assert_array_equal(layer.weight.data[mask], w[mask], err_msg="the kept weights should not change")
    assert layer.weight.requires_grad, "the weight is still a trainable parameter"


def train_pruned(prune, make_optimizer, steps=6):
    tt.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    prune(model)
    optimizer = make_optimizer(model.parameters())
    x, y = tt.randn(8, 2, 6, 6), tt.randint(0, 3, (8,))
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def test_pruned_weights_stay_zero_and_match_tinytorch_under_sgd_and_adam(build):
    optimizers = {
        "SGD with momentum and weight decay": lambda p: tt.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-2),
        "Adam": lambda p: tt.optim.Adam(p, lr=1e-2),
        "AdamW": lambda p: tt.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    }
    for name, make in optimizers.items():
        ours = train_pruned(lambda m: [build.prune_layer(m[i], 0.5) for i in (0, 3)], make)
        theirs = train_pruned(lambda m: compress.prune_magnitude(m, 0.5, scope="layer"), make)
        for i in (0, 3):
            w = ours[i].weight.data
            assert (w == 0).sum() >= round(0.5 * w.size), f"{name}: layer {i} lost its zeros after training"
            np.testing.assert_allclose(
                w, theirs[i].weight.data, atol=1e-6, err_msg=f"{name}: layer {i}'s weights against tinytorch's pruned model"
            )


def test_svd_factors_are_the_best_low_rank_approximation(build):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((12, 30)).astype(np.float32)
    u, s, vt = np.linalg.svd(w.astype(np.float64), full_matrices=False)
    for rank in (1, 3, 7, 12):
        first, second = build.svd_factors(w, rank)
        assert first.shape == (rank, 30) and second.shape == (12, rank), f"rank {rank}: shapes {first.shape}, {second.shape}"
        assert first.dtype == np.float32 and second.dtype == np.float32, "the factors keep the weight's dtype"
        best = (u[:, :rank] * s[:rank]) @ vt[:rank]
        np.testing.assert_allclose(second @ first, best, atol=1e-5, err_msg=f"rank {rank}: second @ first")
        error = np.linalg.norm(w - second @ first) / np.linalg.norm(w)
        np.testing.assert_allclose(error, compress.svd_tail_error(w, rank), atol=1e-6, err_msg=f"rank {rank}: relative error")
        np.testing.assert_allclose(np.linalg.norm(first, axis=1), np.linalg.norm(second, axis=0), rtol=1e-4,
                                   err_msg="sqrt(S) is split evenly: matching rows of first and columns of second have equal norms")  # fmt: skip


def test_factorize_gives_the_same_layer_as_tinytorch(build):
    tt.manual_seed(6)
    linear = nn.Linear(25, 15)
    x = tt.randn(4, 25)
    for rank in (2, 10):
        ours, theirs = build.factorize(linear, rank), compress.low_rank(linear, rank)
        with tt.no_grad():
            np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), atol=1e-5, err_msg=f"rank {rank} factorised output")


def test_distill_loss_matches_tinytorch(build):
    rng = np.random.default_rng(7)
    for n, c in ((1, 2), (5, 10), (16, 3)):
        s = tt.tensor(rng.standard_normal((n, c)).astype(np.float32), requires_grad=True)
        t = tt.tensor((rng.standard_normal((n, c)) * 4).astype(np.float32))
        y = tt.tensor(rng.integers(0, c, n))
        for T, alpha in ((1.0, 1.0), (4.0, 0.9), (2.5, 0.3), (10.0, 0.0)):
            ours = build.distill_loss(s, t, y, T, alpha)
            want = compress.distillation_loss(s, t, y, T, alpha)
            np.testing.assert_allclose(
                ours.item(), want.item(), rtol=1e-5, atol=1e-6, err_msg=f"loss at n={n}, T={T}, alpha={alpha}"
            )
            ours.backward()
            got, s.grad = s.grad.data.copy(), None
            want.backward()
            np.testing.assert_allclose(
                got, s.grad.data, rtol=1e-4, atol=1e-6, err_msg=f"d loss / d student at T={T}, alpha={alpha}"
            )
            s.grad = None


def test_distill_loss_passes_gradcheck_and_leaves_the_teacher_alone(build):
    rng = np.random.default_rng(8)
    student = tt.tensor(rng.standard_normal((4, 6)), requires_grad=True)
    teacher = tt.tensor(rng.standard_normal((4, 6)), requires_grad=True)
    y = tt.tensor([5, 0, 2, 2])
    assert gradcheck(lambda s: build.distill_loss(s, teacher, y, 3.0, 0.7), [student])
    build.distill_loss(student, teacher, y).backward()
    assert teacher.grad is None, "the teacher's logits must get no gradient"
    same = build.distill_loss(teacher.detach() * 1.0, teacher, y, 4.0, 1.0)
    assert abs(same.item()) < 1e-9, (
        f"a student equal to its teacher has KL 0: the loss with alpha=1 should be 0, not {same.item()}"
    )
