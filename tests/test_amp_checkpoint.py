"""Gradient checkpointing gives the same gradients for less activation memory; float16 training
with loss scaling skips an overflowing step without corrupting the weights."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.amp import GradScaler, MasterWeights
from tinytorch.utils import checkpoint


class Net(nn.Module):
    def __init__(self, segments: bool):
        super().__init__()
        self.segments = segments
        self.blocks = nn.ModuleList(
            [nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 32)) for _ in range(3)]
        )
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        for block in self.blocks:
            x = x + (checkpoint(block, x) if self.segments else block(x))
        return self.head(x)


def grads_of(segments: bool) -> dict:
    tt.manual_seed(0)
    model = Net(segments)
    x, y = tt.randn(16, 32), tt.randint(0, 4, (16,))
    tt.manual_seed(1)  # the same dropout masks in both runs (checkpointing replays them)
    F.cross_entropy(model(x), y).backward()
    return {n: p.grad.data.copy() for n, p in model.named_parameters()}


def test_checkpointing_gives_the_same_gradients():
    plain, checkpointed = grads_of(False), grads_of(True)
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        np.testing.assert_allclose(checkpointed[name], plain[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_checkpointing_without_inputs_that_need_grad_still_trains_the_segment():
    lin = nn.Linear(3, 2)
    checkpoint(lin, tt.randn(4, 3)).sum().backward()
    assert lin.weight.grad is not None and np.abs(lin.weight.grad.data).sum() > 0


def test_checkpointing_keeps_fewer_activation_bytes(tmp_path):
    def peak_activation(segments: bool) -> int:
        tt.manual_seed(0)
        model = Net(segments).eval()  # no dropout: compare memory only
        with tt.record(tmp_path / f"seg{segments}", model=model) as run:
            F.cross_entropy(model(tt.randn(64, 32)), tt.randint(0, 4, (64,))).backward()
            run.step()
        from inspector.figures.memory import replay

        events = tt.runs.RunReader(run.path).memory_events(0)
        return int(replay(events)["totals"][:, 3].max())  # column 3: activation (CATEGORIES order)

    assert peak_activation(True) < 0.7 * peak_activation(False)


def test_grad_scaler_skips_an_overflow_and_backs_off():
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2))
    masters = MasterWeights(model, lambda params: tt.optim.SGD(params, lr=0.1))
    assert model[0].weight.dtype == np.float16 and masters.master[0].dtype == np.float32
    assert masters.nbytes()["master"] == 2 * masters.nbytes()["model"]
    scaler = GradScaler(init_scale=2.0**24, growth_interval=3)  # a loss gradient of 2^24 overflows float16 (max 65504)
    x = tt.randn(32, 8).half()
    y = tt.randint(0, 2, (32,))
    before = [p.data.copy() for p in model.parameters()]
    masters.zero_grad()
    scaler.scale(F.cross_entropy(model(x), y)).backward()
    assert not masters.step(scaler)  # the overflow is found and the step skipped
    for b, p in zip(before, model.parameters()):
        assert np.array_equal(b, p.data) and np.isfinite(p.data).all()  # nothing corrupted
    assert scaler.get_scale() == 2.0**23 and scaler.skipped == 1
    losses = []
    for _ in range(40):
        masters.zero_grad()
        loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        masters.step(scaler)
        losses.append(float(loss.item()))
    assert scaler.get_scale() < 2.0**16  # backed off until the scaled gradients fit in float16
    assert losses[-1] < losses[0] and all(np.isfinite(losses))
    assert all(np.isfinite(p.data).all() for p in model.parameters())


def test_grad_scaler_grows_after_clean_steps():
    p = nn.Parameter(tt.tensor([1.0]))
    opt = tt.optim.SGD([p], lr=0.1)
    scaler = GradScaler(init_scale=4.0, growth_interval=2)
    for _ in range(2):
        opt.zero_grad()
        scaler.scale((p * 3).sum()).backward()
        assert scaler.step(opt)
        scaler.update()
    assert scaler.get_scale() == 8.0
    assert p.item() == pytest.approx(1.0 - 2 * 0.1 * 3)  # the unscaled gradient was used
    with pytest.raises(ValueError, match="growth_factor"):
        GradScaler(growth_factor=0.5)


def test_a_checkpoint_recompute_stays_in_the_backward_phase():
    a, b = nn.Linear(4, 4), nn.Linear(4, 4)
    x = tt.randn(2, 4, requires_grad=True)
    with tt.perf.profile() as prof:
        checkpoint(b, checkpoint(a, x)).sum().backward()
    after_forward = [e for e in prof.events if e.phase != "forward"]
    assert after_forward and {e.phase for e in after_forward} == {"backward"}  # the recomputed Linears too


def test_the_default_scale_fits_a_float16_loss():
    p = nn.Parameter(tt.tensor([1.0]).half())
    scaler = GradScaler()  # 2^16 > float16's largest value, so the scaling happens in float32
    scaled = scaler.scale((p * 1e-3).sum())
    assert scaled.dtype == np.float32 and np.isfinite(scaled.item())
