"""tinytorch.optim and gradient clipping: PyTorch as the oracle, state, state_dict, errors."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import function, nn, optim
from tinytorch.nn import functional as F
from tinytorch.optim import lr_scheduler

from .helpers import assert_close, needs_torch, torch

_rng = np.random.default_rng(42)
X = _rng.standard_normal((32, 10)).astype(np.float32)
Y = _rng.integers(0, 3, 32)


def build_mlp(m):
    """The same 10-16-16-3 tanh MLP in tinytorch (m = nn) or PyTorch (m = torch.nn)."""
    return m.Sequential(m.Linear(10, 16), m.Tanh(), m.Linear(16, 16), m.Tanh(), m.Linear(16, 3))


def mlp_pair(dtype=np.float32):
    """A torch MLP and a tinytorch MLP holding the same initial weights."""
    torch.manual_seed(0)
    theirs = build_mlp(torch.nn)
    ours = build_mlp(nn)
    if dtype == np.float64:
        theirs, ours = theirs.double(), ours.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def train_ours(model, opt, sched=None, steps: int = 8) -> list[float]:
    x, y, losses = tt.tensor(X.astype(model[0].weight.dtype)), tt.tensor(Y), []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
    return losses


def train_theirs(model, opt, sched=None, steps: int = 8) -> list[float]:
    x, y, losses = torch.tensor(X, dtype=model[0].weight.dtype), torch.tensor(Y), []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
    return losses


# float32: rounding differs from PyTorch's in the last bits, and Adam/RMSprop divide a gradient by
# its own size, so a near-zero gradient (a difference of O(0.1) terms) moves its weight by
# float32 noise: ~3e-6 absolute. float64 shows the updates themselves are the same to ~1e-14.
TOLERANCES = {np.float32: dict(loss_rtol=1e-5, rtol=1e-5, atol=1e-5), np.float64: dict(loss_rtol=1e-10, rtol=1e-9, atol=1e-12)}


def assert_same_training(ours, theirs, ours_losses, theirs_losses, dtype) -> None:
    """Same losses at every step and same final parameters, with the dtype kept by the updates."""
    tol = TOLERANCES[dtype]
    np.testing.assert_allclose(ours_losses, theirs_losses, rtol=tol["loss_rtol"])
    theirs_named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.dtype == dtype, name
        assert_close(p, theirs_named[name], tol["rtol"], tol["atol"], what=name)


OPTIMIZERS = {
    "sgd": ("SGD", dict(lr=0.5)),
    "sgd_momentum": ("SGD", dict(lr=0.1, momentum=0.9)),
    "sgd_dampening": ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    "sgd_nesterov": ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    "sgd_weight_decay": ("SGD", dict(lr=0.3, momentum=0.5, weight_decay=0.05)),
    "adam": ("Adam", dict(lr=0.01)),
    "adam_betas": ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
    "adam_amsgrad": ("Adam", dict(lr=0.01, amsgrad=True)),
    "adam_weight_decay": ("Adam", dict(lr=0.01, weight_decay=0.1)),
    "adamw": ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    "adamw_amsgrad": ("AdamW", dict(lr=0.01, amsgrad=True)),
    "rmsprop": ("RMSprop", dict(lr=0.005)),
    "rmsprop_momentum": ("RMSprop", dict(lr=0.003, momentum=0.9)),
    "rmsprop_centered": ("RMSprop", dict(lr=0.005, centered=True)),
    "rmsprop_all": ("RMSprop", dict(lr=0.005, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
    "adagrad": ("Adagrad", dict(lr=0.1)),
    "adagrad_decay": ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1)),
    "adagrad_weight_decay": ("Adagrad", dict(lr=0.1, weight_decay=0.05, eps=1e-6)),
}


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_matches_torch_on_mlp(name, dtype):
    cls, kwargs = OPTIMIZERS[name]
    ours, theirs = mlp_pair(dtype)
    ours_losses = train_ours(ours, getattr(optim, cls)(ours.parameters(), **kwargs))
    theirs_losses = train_theirs(theirs, getattr(torch.optim, cls)(theirs.parameters(), **kwargs))
    assert theirs_losses[-1] < 0.9 * theirs_losses[0]  # the run does train, so the comparison means something
    assert_same_training(ours, theirs, ours_losses, theirs_losses, dtype)


# ============================================================================ schedulers


def _schedulers(lib, opt):
    """name -> a function making the scheduler for opt, from lib (tinytorch.optim or torch.optim)."""
    s = lib.lr_scheduler
    return {
        "step": lambda: s.StepLR(opt, step_size=4, gamma=0.5),
        "multistep": lambda: s.MultiStepLR(opt, milestones=[3, 7, 12], gamma=0.3),
        "exponential": lambda: s.ExponentialLR(opt, gamma=0.9),
        "cosine": lambda: s.CosineAnnealingLR(opt, T_max=8, eta_min=0.001),  # 20 steps: past T_max and back up
        "cosine_zero_min": lambda: s.CosineAnnealingLR(opt, T_max=20),
        "linear": lambda: s.LinearLR(opt, start_factor=0.2, end_factor=0.9, total_iters=10),
        "lambda": lambda: s.LambdaLR(opt, lr_lambda=lambda epoch: 1 / (1 + epoch) ** 0.5),
        "onecycle": lambda: s.OneCycleLR(opt, max_lr=0.5, total_steps=20),
        "onecycle_linear": lambda: s.OneCycleLR(opt, max_lr=0.5, total_steps=20, pct_start=0.4, anneal_strategy="linear"),
        "onecycle_three_phase": lambda: s.OneCycleLR(opt, max_lr=0.5, total_steps=20, three_phase=True),
        "sequential": lambda: s.SequentialLR(
            opt,
            [s.LinearLR(opt, start_factor=0.1, total_iters=5), s.CosineAnnealingLR(opt, T_max=15)],
            milestones=[5],
        ),
    }


def _schedule(lib, opt_name: str, sched_name: str, steps: int = 20):
    """get_last_lr() and the momentum (SGD) or beta1 (Adam) after each of `steps` steps."""
    param = torch.nn.Parameter(torch.zeros(3)) if lib is torch.optim else nn.Parameter(np.zeros(3, np.float32))
    opt = getattr(lib, opt_name)([param], **({"lr": 0.1, "momentum": 0.9} if opt_name == "SGD" else {"lr": 0.1}))
    sched = _schedulers(lib, opt)[sched_name]()

    def momentum():
        group = opt.param_groups[0]
        return group["momentum"] if opt_name == "SGD" else group["betas"][0]

    lrs, moms = [sched.get_last_lr()[0]], [momentum()]
    for _ in range(steps):
        opt.step()  # PyTorch's order: the optimizer, then the scheduler
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        moms.append(momentum())
    assert opt.param_groups[0]["lr"] == lrs[-1]
    return np.array(lrs), np.array(moms)


@needs_torch
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("sched_name", list(_schedulers(optim, None)))
def test_scheduler_matches_torch(sched_name, opt_name):
    ours_lr, ours_mom = _schedule(optim, opt_name, sched_name)
    theirs_lr, theirs_mom = _schedule(torch.optim, opt_name, sched_name)
    assert len(set(theirs_lr.round(12))) > 2  # the schedule does move
    np.testing.assert_allclose(ours_lr, theirs_lr, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ours_mom, theirs_mom, rtol=1e-9, atol=1e-15)
    if sched_name.startswith("onecycle"):
        assert len(set(theirs_mom.round(12))) > 2  # OneCycleLR cycles momentum / beta1


@needs_torch
@pytest.mark.parametrize(
    ("opt_name", "opt_kwargs", "make_sched"),
    [
        ("SGD", dict(lr=0.1, momentum=0.9), lambda s, o: s.StepLR(o, step_size=3, gamma=0.5)),
        ("SGD", dict(lr=0.1, momentum=0.9), lambda s, o: s.OneCycleLR(o, max_lr=0.3, total_steps=8)),
        ("Adam", dict(lr=0.01), lambda s, o: s.OneCycleLR(o, max_lr=0.05, total_steps=8)),
        ("AdamW", dict(lr=0.01), lambda s, o: s.CosineAnnealingLR(o, T_max=8)),
        (
            "Adam",
            dict(lr=0.02),
            lambda s, o: s.SequentialLR(o, [s.LinearLR(o, 0.25, total_iters=3), s.ExponentialLR(o, 0.8)], [3]),
        ),
    ],
)
def test_training_with_scheduler_matches_torch(opt_name, opt_kwargs, make_sched):
    ours, theirs = mlp_pair()
    ours_opt = getattr(optim, opt_name)(ours.parameters(), **opt_kwargs)
    theirs_opt = getattr(torch.optim, opt_name)(theirs.parameters(), **opt_kwargs)
    ours_losses = train_ours(ours, ours_opt, make_sched(lr_scheduler, ours_opt))
    theirs_losses = train_theirs(theirs, theirs_opt, make_sched(torch.optim.lr_scheduler, theirs_opt))
    assert_same_training(ours, theirs, ours_losses, theirs_losses, np.float32)


def test_onecycle_allows_total_steps_scheduler_steps_and_no_more():
    """One scheduler.step() after each of total_steps optimizer steps is fine, as PyTorch; one more is an error."""
    param = nn.Parameter(np.zeros(2, np.float32))
    opt = optim.SGD([param], lr=0.1, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=5)
    for _ in range(5):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="total_steps=5"):
        sched.step()


# ============================================================================ state


def _param_bytes(model) -> int:
    return sum(p.data.nbytes for p in model.parameters())


@pytest.mark.parametrize(
    ("make", "factor"),
    [
        (lambda ps: optim.SGD(ps, lr=0.1), 0),
        (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), 1),
        (lambda ps: optim.Adam(ps), 2),
        (lambda ps: optim.AdamW(ps), 2),
        (lambda ps: optim.Adam(ps, amsgrad=True), 3),
        (lambda ps: optim.RMSprop(ps), 1),
        (lambda ps: optim.RMSprop(ps, momentum=0.9, centered=True), 3),
        (lambda ps: optim.Adagrad(ps), 1),
    ],
)
def test_state_is_allocated_at_first_step(make, factor):
    model = build_mlp(nn)
    opt = make(model.parameters())
    assert opt.state == {} and opt.state_nbytes() == 0
    train_ours(model, opt, steps=1)
    assert opt.state_nbytes() == factor * _param_bytes(model)
    train_ours(model, opt, steps=2)
    assert opt.state_nbytes() == factor * _param_bytes(model)  # allocated once, not per step


def test_parameter_without_grad_gets_no_state():
    model = build_mlp(nn)
    model[0].requires_grad_(False)
    opt = optim.Adam(model.parameters())
    before = model[0].weight.data.copy()
    train_ours(model, opt, steps=1)
    trained = sum(p.data.nbytes for p in model.parameters() if p.requires_grad)
    assert opt.state_nbytes() == 2 * trained < 2 * _param_bytes(model)
    np.testing.assert_array_equal(model[0].weight.data, before)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
        lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
        lambda ps: optim.AdamW(ps, lr=0.01),
        lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
        lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
    ],
)
def test_state_dict_round_trip_continues_training_identically(make):
    tt.manual_seed(3)
    model = build_mlp(nn)
    opt = make(model.parameters())
    train_ours(model, opt, steps=3)
    saved_model = {k: v.data.copy() for k, v in model.state_dict().items()}
    saved_opt = opt.state_dict()
    expected = train_ours(model, opt, steps=3)  # after saving: the saved state must not follow along

    fresh = build_mlp(nn)
    fresh.load_state_dict(saved_model)
    fresh_opt = make(fresh.parameters())
    fresh_opt.param_groups[0]["lr"] = 123.0  # overwritten by the loaded hyperparameters
    fresh_opt.load_state_dict(saved_opt)
    assert fresh_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert fresh_opt.state_nbytes() == opt.state_nbytes() > 0
    assert train_ours(fresh, fresh_opt, steps=3) == expected


def _snapshot(opt):
    return copy.deepcopy(opt.state_dict())


def _assert_same_snapshot(a, b):
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for i in a["state"]:
        for k, v in a["state"][i].items():
            np.testing.assert_array_equal(v, b["state"][i][k], err_msg=f"{i}.{k}")


def test_load_state_dict_wrong_group_count_raises_and_changes_nothing():
    model = build_mlp(nn)
    opt = optim.Adam([{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.1}])
    train_ours(model, opt, steps=1)
    before = _snapshot(opt)
    single = optim.Adam(model.parameters(), lr=0.5)
    train_ours(model, single, steps=1)
    with pytest.raises(ValueError, match=r"1 parameter groups.*2"):
        opt.load_state_dict(single.state_dict())
    _assert_same_snapshot(_snapshot(opt), before)


def test_load_state_dict_mis_shaped_state_raises_and_changes_nothing():
    model = build_mlp(nn)
    opt = optim.Adam(model.parameters(), lr=0.01)
    train_ours(model, opt, steps=2)
    before = _snapshot(opt)
    bad = _snapshot(opt)
    bad["param_groups"][0]["lr"] = 0.5
    for s in bad["state"].values():
        s["exp_avg"] = s["exp_avg"] + 1
    bad["state"][2]["exp_avg_sq"] = np.zeros((3, 3), np.float32)  # parameter 2 is the (16, 16) weight
    with pytest.raises(ValueError) as err:
        opt.load_state_dict(bad)
    message = str(err.value)
    assert "exp_avg_sq" in message and "(3, 3)" in message and "(16, 16)" in message
    _assert_same_snapshot(_snapshot(opt), before)
    # a wrong parameter count in a group is named too
    bad = _snapshot(opt)
    bad["param_groups"][0]["params"] = bad["param_groups"][0]["params"][:-1]
    with pytest.raises(ValueError, match=r"5 parameters.*6"):
        opt.load_state_dict(bad)
    _assert_same_snapshot(_snapshot(opt), before)


# ============================================================================ groups and errors


def test_param_groups_use_their_own_hyperparameters():
    model = build_mlp(nn)
    opt = optim.SGD(
        [
            {"params": model[0].parameters()},
            {"params": model[2].parameters(), "lr": 0.5, "momentum": 0.9},
            {"params": model[4].parameters(), "lr": 0.0},
        ],
        lr=0.1,
    )
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5, 0.0]
    assert [g["momentum"] for g in opt.param_groups] == [0.0, 0.9, 0.0]
    before = {n: p.data.copy() for n, p in model.named_parameters()}
    train_ours(model, opt, steps=1)
    for name, p in model.named_parameters():
        lr = {"0": 0.1, "2": 0.5, "4": 0.0}[name[0]]
        np.testing.assert_allclose(p.data, before[name] - lr * p.grad.data, rtol=1e-6, atol=1e-7, err_msg=name)
    with_buffer = [id(p) for p, s in opt.state.items() if "momentum_buffer" in s]
    assert sorted(with_buffer) == sorted(id(p) for p in model[2].parameters())


def test_duplicate_parameter_raises():
    lin = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"shape \(2, 2\) appears twice"):
        optim.SGD([{"params": [lin.weight, lin.bias]}, {"params": [lin.weight]}], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([lin.weight, lin.bias, lin.weight], lr=0.1)  # within one group it would step twice
    opt = optim.Adam([lin.weight])
    with pytest.raises(ValueError, match="appears twice"):
        opt.add_param_group({"params": lin.weight})
    assert len(opt.param_groups) == 1


def test_empty_parameter_list_raises():
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.Adam(iter([]))


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=-0.1),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.5),
        lambda ps: optim.SGD(ps, lr=0.1, nesterov=True),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
        lambda ps: optim.Adam(ps, lr=-1e-3),
        lambda ps: optim.Adam(ps, betas=(0.9, 1.0)),
        lambda ps: optim.AdamW(ps, weight_decay=-0.1),
        lambda ps: optim.RMSprop(ps, lr=-0.01),
        lambda ps: optim.RMSprop(ps, alpha=1.5),
        lambda ps: optim.Adagrad(ps, lr=-0.01),
    ],
)
def test_invalid_hyperparameters_raise(make):
    with pytest.raises(ValueError):
        make(nn.Linear(2, 2).parameters())


def test_only_leaf_tensors_can_be_optimized():
    x = tt.randn(3, requires_grad=True)
    with pytest.raises(ValueError, match="leaf"):
        optim.SGD([x * 2], lr=0.1)


def test_zero_grad_both_ways():
    model = build_mlp(nn)
    opt = optim.SGD(model.parameters(), lr=0.1)
    F.cross_entropy(model(tt.tensor(X)), tt.tensor(Y)).backward()
    grad = model[0].weight.grad
    assert grad.data.any()
    opt.zero_grad(set_to_none=False)
    assert model[0].weight.grad is grad and not grad.data.any()
    assert all(p.grad is not None and not p.grad.data.any() for p in model.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_step_with_closure_returns_its_loss():
    model = build_mlp(nn)
    opt = optim.SGD(model.parameters(), lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(tt.tensor(X)), tt.tensor(Y))
        loss.backward()
        calls.append(loss.item())
        return loss

    before = model[0].weight.data.copy()
    with tt.no_grad():  # the closure runs with gradients on all the same
        loss = opt.step(closure)
    assert calls == [loss.item()]
    assert not np.array_equal(model[0].weight.data, before)
    assert opt.step(closure).item() < loss.item()
    assert opt.step() is None


# ============================================================================ gradient clipping


def _grad_pairs(scale: float = 1.0):
    """tinytorch and torch parameters with the same gradients."""
    rng = np.random.default_rng(5)
    ours, theirs = [], []
    for shape in [(4, 3), (3,), (2, 2, 2)]:
        g = (rng.standard_normal(shape) * scale).astype(np.float32)
        p = nn.Parameter(np.zeros(shape, np.float32))
        p.grad = tt.tensor(g)
        q = torch.nn.Parameter(torch.zeros(shape))
        q.grad = torch.tensor(g)
        ours.append(p)
        theirs.append(q)
    return ours, theirs


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _grad_pairs()
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert_close(total, expected, what="total norm")
    for p, q in zip(ours, theirs):
        assert_close(p.grad, q.grad, what="clipped grad")
    clipped = max_norm < expected.item()
    assert clipped == (max_norm == 0.5)  # one case clips, the other leaves the grads alone
    if clipped:
        after = nn.utils.clip_grad_norm_(ours, 1e9, norm_type=norm_type)
        assert after.item() == pytest.approx(max_norm, rel=1e-4)


@needs_torch
@pytest.mark.parametrize("clip_value", [0.3, 10.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = _grad_pairs()
    nn.utils.clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, q in zip(ours, theirs):
        assert_close(p.grad, q.grad, rtol=0, atol=0)
    assert max(np.abs(p.grad.data).max() for p in ours) <= clip_value


@pytest.mark.parametrize("norm_type", [2.0, float("inf")])
@pytest.mark.parametrize("bad_index", [0, 2])
def test_clip_grad_norm_error_if_nonfinite(norm_type, bad_index):
    params = [nn.Parameter(np.zeros(3, np.float32)) for _ in range(3)]
    for i, p in enumerate(params):
        p.grad = tt.tensor([1.0, 2.0, float("nan") if i == bad_index else 3.0])
    with pytest.raises(RuntimeError, match="nan"):
        nn.utils.clip_grad_norm_(params, 1.0, norm_type=norm_type, error_if_nonfinite=True)
    finite = nn.Parameter(np.zeros(3, np.float32))
    finite.grad = tt.tensor([3.0, 4.0, 0.0])
    total = nn.utils.clip_grad_norm_(finite, 1.0, norm_type=norm_type, error_if_nonfinite=True)
    assert total.item() == pytest.approx(5.0 if norm_type == 2 else 4.0)
    assert math.isclose(float(np.linalg.norm(finite.grad.data)), 1.0 if norm_type == 2 else 5 / 4, rel_tol=1e-4)


# ============================================================================ updates go through the op registry


UPDATE_OPS = {
    "SGDStep": lambda ps: optim.SGD(ps, lr=0.1),
    "AdamStep": lambda ps: optim.AdamW(ps),
    "RMSpropStep": lambda ps: optim.RMSprop(ps, momentum=0.5),
    "AdagradStep": lambda ps: optim.Adagrad(ps),
}


@pytest.mark.parametrize("op_name", list(UPDATE_OPS))
def test_update_is_an_inplace_op_through_function_apply(op_name, monkeypatch):
    assert op_name in tt.OPS and issubclass(tt.OPS[op_name], tt.Function)
    assert tt.OPS[op_name].inplace and not tt.OPS[op_name].differentiable
    model = build_mlp(nn)
    opt = UPDATE_OPS[op_name](model.parameters())
    F.cross_entropy(model(tt.tensor(X)), tt.tensor(Y)).backward()
    versions = [p._version for p in model.parameters()]
    seen = []

    class Spy(function.OpHook):  # the recorder's hook: sees every op that Function.apply runs
        def __call__(self, cls, inputs, attrs):
            seen.append((cls.__name__, inputs[0]))
            return function.run(cls, inputs, attrs)

    monkeypatch.setattr(function, "_hook", Spy())
    opt.step()
    monkeypatch.setattr(function, "_hook", None)
    params = list(model.parameters())
    assert [p._version for p in params] == [v + 1 for v in versions]
    updates = [t for name, t in seen if name == op_name]
    assert len(updates) == len(params) and all(a is b for a, b in zip(updates, params))


def test_load_state_dict_keeps_the_state_of_a_0d_parameter_a_tensor():
    p = nn.Parameter(tt.tensor(1.0))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = tt.tensor(1.0)
    opt.step()
    again = optim.SGD([p], lr=0.1, momentum=0.9)
    again.load_state_dict(opt.state_dict())
    assert isinstance(again.state[p]["momentum_buffer"], tt.Tensor)
    p.grad = tt.tensor(1.0)
    again.step()  # used to fail: the 0-d buffer came back as a float
    assert p.item() == pytest.approx(1.0 - 0.1 - 0.1 * (0.9 + 1.0))
