"""Lesson 06's tests of the learner's Build code: sgd_update and adam_update against tinytorch's SGD
and Adam (several hyperparameters, many steps, in place), and MySGD / MyAdam against tinytorch's
optimizers on an MLP (parameters without gradients, state made at each parameter's first step, its
bytes). `build` is the learner's notebook executed up to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch import nn


def arrays(shape, n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]


def follow(make_tt, update, start, grads):
    """Run tinytorch's optimizer and `update(p, g, k)` side by side; yield both parameters after each step."""
    theirs = tt.tensor(start.copy(), requires_grad=True)
    opt = make_tt([theirs])
    p = start.copy()
    for k, g in enumerate(grads, 1):
        update(p, g, k)
        theirs.grad = tt.tensor(g)
        opt.step()
        yield k, p, theirs.data


def make_state(make_tt, start, grads):
    """tinytorch's optimizer state after the same steps."""
    theirs = tt.tensor(start.copy(), requires_grad=True)
    opt = make_tt([theirs])
    for g in grads:
        theirs.grad = tt.tensor(g)
        opt.step()
    return opt.state[theirs]


def test_sgd_update_follows_tinytorch_for_many_settings(build):
    for shape in [(5,), (3, 4), (2, 3, 4)]:
        for lr, momentum in [(0.1, 0.0), (0.01, 0.5), (0.3, 0.9), (1.0, 0.99)]:
            start, *grads = arrays(shape, 9, seed=len(shape))
            buf = np.zeros_like(start) if momentum else None
            make = lambda ps, lr=lr, momentum=momentum: tt.optim.SGD(ps, lr=lr, momentum=momentum)
            update = lambda p, g, k, buf=buf, lr=lr, momentum=momentum: build.sgd_update(p, g, buf, lr, momentum)
            for k, ours, theirs in follow(make, update, start, grads):
                np.testing.assert_allclose(
                    ours, theirs, rtol=1e-6, atol=1e-6, err_msg=f"SGD lr={lr} momentum={momentum}, step {k}"
                )
            if momentum:
                state = make_state(make, start, grads)
                np.testing.assert_allclose(buf, state["momentum_buffer"].data, rtol=1e-6, atol=1e-6, err_msg="momentum buffer")


def test_sgd_update_works_in_place_and_keeps_float32(build):
    p, g = arrays((4, 4), 2, seed=1)
    buf = np.zeros_like(p)
    p_id, buf_id = id(p), id(buf)
    build.sgd_update(p, g, buf, 0.1, 0.9)
    assert id(p) == p_id and p.dtype == np.float32, "sgd_update must change the float32 array p itself"
    np.testing.assert_allclose(buf, g, err_msg="after the first step the momentum buffer holds the gradient")
    assert id(buf) == buf_id


def test_adam_update_follows_tinytorch_for_many_settings(build):
    for lr, betas, eps in [(1e-3, (0.9, 0.999), 1e-8), (0.05, (0.8, 0.99), 1e-6), (0.01, (0.0, 0.9), 1e-3)]:
        start, *grads = arrays((3, 5), 12, seed=2)
        grads = [g * 10.0 ** (k % 4 - 2) for k, g in enumerate(grads)]  # gradients from 1e-2 to 10 in size
        m, v = np.zeros_like(start), np.zeros_like(start)
        make = lambda ps, lr=lr, betas=betas, eps=eps: tt.optim.Adam(ps, lr=lr, betas=betas, eps=eps)
        update = lambda p, g, k, m=m, v=v, lr=lr, betas=betas, eps=eps: build.adam_update(p, g, m, v, k, lr, betas, eps)
        for k, ours, theirs in follow(make, update, start, grads):
            np.testing.assert_allclose(
                ours, theirs, rtol=1e-5, atol=1e-6, err_msg=f"Adam lr={lr} betas={betas} eps={eps}, step {k}"
            )
        state = make_state(make, start, grads)
        np.testing.assert_allclose(m, state["exp_avg"].data, rtol=1e-5, atol=1e-7, err_msg="m (exp_avg)")
        np.testing.assert_allclose(v, state["exp_avg_sq"].data, rtol=1e-5, atol=1e-9, err_msg="v (exp_avg_sq)")


def test_adam_first_step_is_lr_times_the_sign(build):
    p, g = arrays((6, 6), 2, seed=3)
    g *= 10.0 ** np.random.default_rng(4).integers(-4, 3, g.shape)  # sizes from 1e-4 to 1e2
    start, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    build.adam_update(p, g, m, v, 1, lr=0.02)
    np.testing.assert_allclose(
        start - p, 0.02 * np.sign(g), rtol=1e-3, err_msg="with bias correction, Adam's first step is lr * sign(g), whatever |g|"
    )


def mlp():
    tt.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Linear(12, 12), nn.Tanh(), nn.Linear(12, 4))


def train_both(mine, theirs, steps=8, frozen=()):
    """The same MLP trained by the learner's optimizer and tinytorch's; parameters named in `frozen`
    get no gradient until step 4 (their first step comes later than the others')."""
    rng = np.random.default_rng(5)
    models = mlp(), mlp()
    opts = mine(list(models[0].parameters())), theirs(list(models[1].parameters()))
    for step in range(steps):
        x = tt.tensor(rng.standard_normal((16, 5)).astype(np.float32))
        y = tt.tensor(rng.integers(0, 4, 16))
        for model, opt in zip(models, opts):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            if step < 4:
                for name, p in model.named_parameters():
                    if name in frozen:
                        p.grad = None
            opt.step()
    return models, opts


def test_mysgd_matches_tinytorch_and_skips_parameters_without_gradients(build):
    for momentum in (0.0, 0.9):
        (a, b), (mine, theirs) = train_both(
            lambda ps, momentum=momentum: build.MySGD(ps, lr=0.1, momentum=momentum),
            lambda ps, momentum=momentum: tt.optim.SGD(ps, lr=0.1, momentum=momentum),
            frozen=("2.weight",),
        )
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            np.testing.assert_allclose(p.data, q.data, rtol=1e-6, atol=1e-6, err_msg=f"SGD momentum={momentum}: {name}")
        assert mine.state_nbytes() == theirs.state_nbytes(), (
            f"momentum={momentum}: state should be {theirs.state_nbytes()} B, is {mine.state_nbytes()} B"
        )


def test_myadam_matches_tinytorch_with_a_late_first_step(build):
    (a, b), (mine, theirs) = train_both(
        lambda ps: build.MyAdam(ps, lr=0.01), lambda ps: tt.optim.Adam(ps, lr=0.01), frozen=("0.bias", "4.weight")
    )
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_allclose(
            p.data, q.data, rtol=1e-5, atol=1e-6, err_msg=f"Adam: {name} (each parameter counts its own steps)"
        )
    param_bytes = sum(p.data.nbytes for p in a.parameters())
    assert mine.state_nbytes() == 2 * param_bytes, f"Adam's state should be 2 x {param_bytes} B, is {mine.state_nbytes()} B"


def test_state_is_made_at_the_first_step_only(build):
    model = mlp()
    params = list(model.parameters())
    for opt in (build.MySGD(params, lr=0.1, momentum=0.9), build.MyAdam(params, lr=0.01)):
        assert opt.state_nbytes() == 0, f"{type(opt).__name__}: no state before the first step"
        x, y = tt.randn(4, 5), tt.randint(0, 4, (4,))
        buffers = None
        for _ in range(3):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            params[0].grad = None  # the first parameter never gets a gradient
            opt.step()
            now = [id(a) for s in opt.state.values() for a in s.values() if isinstance(a, np.ndarray)]
            assert buffers is None or now == buffers, (
                f"{type(opt).__name__}: state arrays should be made once and updated in place"
            )
            buffers = now
        assert params[0] not in opt.state, f"{type(opt).__name__}: a parameter without a gradient should get no state"
