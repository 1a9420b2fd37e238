"""Lesson 07's tests of the learner's Build code: clip_grad_norm against tinytorch.nn.utils (huge
gradients, parameters without gradients), train_step's accumulation against one big batch (SGD and
Adam, stale gradients, clipping the accumulated gradient), evaluate and fit against
tinytorch.train (batch norm and dropout, a last window shorter than the others). `build` is the
learner's notebook executed up to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn


def params_with_grads(seed, scale=1.0, shapes=((3, 4), (4,), (2, 2, 3))):
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        p = tt.zeros(*s, requires_grad=True)
        p.grad = tt.tensor((scale * rng.standard_normal(s)).astype(np.float32))
        out.append(p)
    return out


def test_clip_grad_norm_matches_tinytorch(build):
    for max_norm in (1e-3, 0.5, 2.0, 100.0):
        ours, theirs = params_with_grads(1), params_with_grads(1)
        got = build.clip_grad_norm(ours, max_norm)
        want = float(tt.nn.utils.clip_grad_norm_(theirs, max_norm).item())
        assert isinstance(got, float), f"clip_grad_norm should return a float, not {type(got).__name__}"
        np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=f"the norm before clipping (max_norm={max_norm})")
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-5, err_msg=f"clipped gradient (max_norm={max_norm})")


def test_clip_grad_norm_works_in_place_and_survives_huge_gradients(build):
    params = params_with_grads(2, scale=1e25)  # squares overflow float32
    arrays = [p.grad.data for p in params]
    total = build.clip_grad_norm(params, 1.0)
    assert np.isfinite(total) and total > 1e25, f"the norm of gradients of size 1e25 should be finite and > 1e25, got {total}"
    after = np.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum()) for p in params))
    np.testing.assert_allclose(after, 1.0, rtol=1e-4, err_msg="after clipping at 1 the global norm should be 1")
    assert all(p.grad.data is a for p, a in zip(params, arrays)), "clip_grad_norm should scale the gradient arrays in place"


def test_clip_grad_norm_skips_missing_gradients_and_leaves_small_ones(build):
    params = params_with_grads(3) + [tt.zeros(5, requires_grad=True)]
    before = [p.grad.data.copy() for p in params[:-1]]
    total = build.clip_grad_norm(params, 1e9)
    want = np.sqrt(sum(float((b.astype(np.float64) ** 2).sum()) for b in before))
    np.testing.assert_allclose(total, want, rtol=1e-6, err_msg="the global norm")
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.grad.data, b, err_msg="a norm under max_norm leaves the gradients as they are")
    assert params[-1].grad is None, "a parameter without a gradient keeps .grad = None"


def mlp(seed=0):
    tt.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 20), nn.Tanh(), nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 4))


def data(n, seed):
    rng = np.random.default_rng(seed)
    return tt.tensor(rng.standard_normal((n, 6)).astype(np.float32)), tt.tensor(rng.integers(0, 4, n))


def one_big_step(model, opt, x, y):
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


def test_accumulated_steps_equal_one_big_batch(build):
    x, y = data(48, 4)
    for make in (lambda ps: tt.optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: tt.optim.Adam(ps, lr=0.01)):
        for k in (1, 2, 3, 6):
            ours, theirs = mlp(), mlp()
            opt_ours, opt_theirs = make(ours.parameters()), make(theirs.parameters())
            for _ in range(3):
                m = 48 // k
                got, norm = build.train_step(
                    ours, opt_ours, F.cross_entropy, [(x[i * m : (i + 1) * m], y[i * m : (i + 1) * m]) for i in range(k)]
                )
                want = one_big_step(theirs, opt_theirs, x, y)
                np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=f"the step's loss with {k} micro-batches")
                assert norm is None, "without max_norm train_step returns (loss, None)"
            for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
                np.testing.assert_allclose(
                    a.data, b.data, rtol=1e-4, atol=1e-6, err_msg=f"{name} after 3 steps of {k} micro-batches"
                )


def test_train_step_starts_from_zero_gradients(build):
    x, y = data(16, 5)
    ours, theirs = mlp(), mlp()
    for p in ours.parameters():
        p.grad = tt.tensor(np.full(p.shape, 100.0, np.float32))  # stale gradients from some earlier backward
    build.train_step(ours, tt.optim.SGD(ours.parameters(), lr=0.1), F.cross_entropy, [(x, y)])
    one_big_step(theirs, tt.optim.SGD(theirs.parameters(), lr=0.1), x, y)
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(
            a.data, b.data, rtol=1e-5, atol=1e-7, err_msg=f"{name}: train_step should zero the gradients first"
        )


def test_train_step_clips_the_accumulated_gradient(build):
    x, y = data(32, 6)
    ours, theirs = mlp(), mlp()
    opt_ours, opt_theirs = tt.optim.SGD(ours.parameters(), lr=0.5), tt.optim.SGD(theirs.parameters(), lr=0.5)
    _, norm = build.train_step(ours, opt_ours, F.cross_entropy, [(x[:16], y[:16]), (x[16:], y[16:])], max_norm=0.05)
    F.cross_entropy(theirs(x), y).backward()
    want = float(tt.nn.utils.clip_grad_norm_(theirs.parameters(), 0.05).item())
    opt_theirs.step()
    np.testing.assert_allclose(norm, want, rtol=1e-5, err_msg="the norm before clipping is the accumulated gradient's")
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-7, err_msg=f"{name} after a clipped step")


def test_evaluate_matches_tinytorch_in_eval_mode_without_a_graph(build):
    tt.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 4))
    for _ in range(3):  # give batch norm running statistics that differ from any batch's
        model(data(32, 7)[0] * 3 + 1)
    batches = [data(n, 8 + n) for n in (20, 20, 9)]

    def loss_fn(out, y):
        assert not out.requires_grad, "evaluate should run the model under no_grad"
        return F.cross_entropy(out, y)

    for training in (True, False):
        model.train(training)
        got = build.evaluate(model, batches, loss_fn)
        want = tt.train.evaluate(model, batches, F.cross_entropy)
        for key in ("loss", "accuracy"):
            np.testing.assert_allclose(
                got[key], want[key], rtol=1e-6, err_msg=f"evaluate's {key} (batch norm, dropout, uneven batches)"
            )
        assert model.training is training and model[1].training is training, "evaluate should restore the model's mode"
        assert tt.is_grad_enabled(), "gradients should be enabled again after evaluate"


def test_fit_matches_tinytorch_with_a_short_last_window(build):
    batches = [data(8, 20 + i) for i in range(7)]  # 7 batches, 3 per step: windows of 3, 3, 1
    val = [data(10, 30), data(5, 31)]
    for max_norm in (None, 0.3):
        ours, theirs = mlp(2), mlp(2)
        mine = build.fit(
            ours, tt.optim.Adam(ours.parameters(), lr=0.01), F.cross_entropy, batches, val, 2, accumulate=3, max_norm=max_norm
        )
        want = tt.train.fit(theirs, batches, F.cross_entropy, tt.optim.Adam(theirs.parameters(), lr=0.01), 2, val_loader=val,
                            accumulate_steps=3, clip_grad_norm=max_norm, progress=False)  # fmt: skip
        assert [s["step"] for s in mine["steps"]] == list(range(1, 7)), "2 epochs of windows 3, 3, 1 make steps 1 to 6"
        for got, exp in zip(mine["steps"], want.steps):
            np.testing.assert_allclose(
                got["loss"], exp["loss"], rtol=1e-5, err_msg=f"max_norm={max_norm}: loss of step {exp['step']}"
            )
            if max_norm is not None:
                np.testing.assert_allclose(
                    got["grad_norm"], exp["grad_norm"], rtol=1e-4, err_msg=f"grad_norm of step {exp['step']}"
                )
        assert len(mine["epochs"]) == 2, f"2 epochs, 2 entries in history['epochs'], not {len(mine['epochs'])}"
        for got, exp in zip(mine["epochs"], want.epochs):
            for key in ("epoch", "step", "train_loss", "val_loss", "val_accuracy"):
                np.testing.assert_allclose(
                    got[key], exp[key], rtol=1e-5, err_msg=f"max_norm={max_norm}: epoch {exp['epoch']} {key}"
                )
        for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
            np.testing.assert_allclose(a.data, b.data, rtol=1e-4, atol=1e-6, err_msg=f"max_norm={max_norm}: {name} after fit")
