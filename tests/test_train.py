"""tinytorch.train: the loop (fit, Trainer), evaluate, History, callbacks, progress bar."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn as nn
import tinytorch.optim as optim
from tinytorch.train import Callback, EarlyStopping, History, Trainer, evaluate, fit


class ArrayLoader:
    """A stand-in for tinytorch.data.DataLoader: (inputs, targets) batches from arrays, reshuffled
    at each pass by its own generator (exposed as .generator, as the checkpoint expects)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False, seed: int = 0) -> None:
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.generator = np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        order = self.generator.permutation(len(self.x)) if self.shuffle else np.arange(len(self.x))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            yield tt.tensor(self.x[idx]), tt.tensor(self.y[idx])


def blobs(n: int, seed: int = 0, spread: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs around (-1, -1) and (1, 1): float32 points (n, 2), int64 labels (n,)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(0, spread, (n, 2)) + np.where(y[:, None] == 1, 1.0, -1.0)
    return x.astype(np.float32), y.astype(np.int64)


def rings(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy concentric rings (radius 0.5 and 1.5): not linearly separable, so the hidden layer matters."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    radius = np.where(y == 1, 1.5, 0.5) + rng.normal(0, 0.15, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1).astype(np.float32), y.astype(np.int64)


def mlp(dropout: float = 0.0) -> nn.Module:
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2))


def params(model: nn.Module) -> list[np.ndarray]:
    return [p.data.copy() for p in model.parameters()]


class Recorder(Callback):
    """Writes down every hook call, with what the trainer showed at that moment."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def on_train_begin(self, trainer):
        self.calls.append(("train_begin", trainer.epoch, trainer.step))

    def on_epoch_begin(self, trainer):
        self.calls.append(("epoch_begin", trainer.epoch, trainer.model.training))

    def on_step_begin(self, trainer):
        self.calls.append(("step_begin", trainer.batch_index))

    def on_before_optimizer_step(self, trainer):
        has_grads = all(p.grad is not None for p in trainer.model.parameters())
        self.calls.append(("before_optimizer_step", trainer.step, has_grads))

    def on_step_end(self, trainer, loss, stepped):
        assert isinstance(loss, float)
        self.calls.append(("step_end", trainer.step, stepped))

    def on_epoch_end(self, trainer, metrics):
        self.calls.append(("epoch_end", trainer.epoch, metrics["epoch"]))

    def on_train_end(self, trainer):
        self.calls.append(("train_end", trainer.epoch, trainer.step))


# ---------------------------------------------------------------------- learning


def test_fit_learns_two_rings():
    x, y = rings(512, seed=1)
    xv, yv = rings(256, seed=2)
    model = mlp()
    opt = optim.Adam(model.parameters(), lr=0.02)
    history = fit(model, ArrayLoader(x, y, 32, shuffle=True), nn.CrossEntropyLoss(), opt, 5,
                  val_loader=ArrayLoader(xv, yv, 64), progress=False)  # fmt: skip
    assert history.epochs[-1]["val_accuracy"] >= 0.95
    assert history.epochs[-1]["train_accuracy"] >= 0.95
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]
    assert history.epochs[-1]["val_loss"] < 0.2


def test_history_records_epochs_and_steps_and_is_json():
    x, y = blobs(40)
    model = mlp(0.1)
    history = fit(model, ArrayLoader(x, y, 16), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05), 3,
                  val_loader=ArrayLoader(x, y, 16), eval_every=2, progress=False)  # fmt: skip
    assert isinstance(history, History) and len(history.epochs) == 3 and len(history.steps) == 3 * 3
    first, second, third = history.epochs
    assert set(first) == {"epoch", "step", "train_loss", "train_accuracy", "lr", "time", "samples_per_s"}  # not evaluated
    assert "val_loss" in second and "val_accuracy" in second  # epoch 2: eval_every=2
    assert "val_loss" in third  # always after the last
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3] and [e["step"] for e in history.epochs] == [3, 6, 9]
    assert [s["step"] for s in history.steps] == list(range(1, 10))
    assert {s["epoch"] for s in history.steps} == {1, 2, 3} and all(s["lr"] == 0.05 for s in history.steps)
    assert first["samples_per_s"] > 0 and first["time"] > 0
    assert history.metric("val_loss")[0] is None and history.metric("val_loss")[1] == second["val_loss"]
    text = json.dumps(history)
    assert History.from_dict(json.loads(text)) == history


def test_train_loss_is_mean_over_samples_of_the_batches():
    x, y = blobs(10)  # batches of 4, 4, 2
    model = nn.Linear(2, 2)
    seen = []

    class Losses(Callback):
        def on_step_end(self, trainer, loss, stepped):
            seen.append((loss, len(trainer.targets)))

    history = fit(model, ArrayLoader(x, y, 4), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.0), 1,
                  callbacks=[Losses()], progress=False)  # fmt: skip
    expected = sum(loss * n for loss, n in seen) / 10
    assert history.epochs[0]["train_loss"] == pytest.approx(expected, rel=1e-6)
    assert history.epochs[0]["train_loss"] == pytest.approx(evaluate(model, ArrayLoader(x, y, 10), nn.CrossEntropyLoss())["loss"])


def test_regression_targets_have_no_accuracy_and_custom_metrics_work():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 2)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0]], np.float32)).astype(np.float32)

    def mae(output, target):
        return float(np.abs(output.data - target.data).mean())

    model = nn.Linear(2, 1)
    history = fit(model, ArrayLoader(x, y, 8), nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), 2,
                  val_loader=ArrayLoader(x, y, 8), metrics=("accuracy", mae), progress=False)  # fmt: skip
    assert "train_accuracy" not in history.epochs[0] and "val_accuracy" not in history.epochs[0]
    assert history.epochs[1]["train_mae"] < history.epochs[0]["train_mae"]
    assert "val_mae" in history.epochs[1]


# ---------------------------------------------------------------------- evaluate


def test_evaluate_matches_a_manual_computation_and_restores_modes():
    x, y = blobs(10)
    model = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5), nn.Linear(3, 3))
    model.train()
    model[1].eval()  # a submodule in its own mode must keep it
    model[0].train()
    result = evaluate(model, ArrayLoader(x, y, 4), nn.CrossEntropyLoss())

    w1, b1, w2, b2 = (p.data.astype(np.float64) for p in model.parameters())
    logits = (x @ w1.T + b1) @ w2.T + b2  # dropout is off in eval mode
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))  # log softmax
    assert result["loss"] == pytest.approx(-log_probs[np.arange(10), y].mean(), rel=1e-5)
    assert result["accuracy"] == pytest.approx((logits.argmax(1) == y).mean())
    assert set(result) == {"loss", "accuracy"}
    assert model.training and model[0].training and not model[1].training and model[2].training
    assert all(p.grad is None for p in model.parameters())  # ran under no_grad: nothing to backward

    model.eval()
    evaluate(model, ArrayLoader(x, y, 4), nn.CrossEntropyLoss())
    assert not any(m.training for m in model.modules())


def test_evaluate_runs_under_no_grad_and_rejects_an_empty_loader():
    model = nn.Linear(2, 2)
    grad_modes = []
    model.register_forward_hook(lambda m, args, out: grad_modes.append((tt.is_grad_enabled(), out.requires_grad)))
    x, y = blobs(4)
    evaluate(model, ArrayLoader(x, y, 2), nn.CrossEntropyLoss())
    assert grad_modes == [(False, False), (False, False)]
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, ArrayLoader(x[:0], y[:0], 2), nn.CrossEntropyLoss())


# ---------------------------------------------------------------------- accumulation, clipping, schedules


@pytest.mark.parametrize(("n", "big", "small", "accumulate"), [(16, 8, 2, 4), (10, 4, 2, 2)])
def test_gradient_accumulation_equals_one_big_batch(n, big, small, accumulate):
    """(16, 8, 2, 4): windows of 4 batches of 2 = batches of 8. (10, 4, 2, 2): batches 4, 4, 2 against
    windows of 2+2, 2+2 and a last window of one batch of 2 (the remainder steps at the epoch's end)."""
    x, y = blobs(n)
    runs = []
    for batch, steps in ((big, 1), (small, accumulate)):
        tt.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 2))
        opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        history = fit(model, ArrayLoader(x, y, batch), nn.CrossEntropyLoss(), opt, 2, accumulate_steps=steps, progress=False)
        runs.append((params(model), history))
    (p_big, h_big), (p_small, h_small) = runs
    for a, b in zip(p_big, p_small):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert len(h_big.steps) == len(h_small.steps) == 2 * -(-n // big)
    np.testing.assert_allclose([s["loss"] for s in h_big.steps], [s["loss"] for s in h_small.steps], rtol=1e-5)


def test_clip_grad_norm_is_applied_before_the_step():
    x, y = blobs(8)
    tt.manual_seed(0)
    model = nn.Linear(2, 2)
    before = params(model)
    norms = []

    class GradNorm(Callback):
        def on_before_optimizer_step(self, trainer):
            norms.append(float(np.sqrt(sum((p.grad.data.astype(np.float64) ** 2).sum() for p in trainer.model.parameters()))))

    history = fit(model, ArrayLoader(x, y, 8), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1.0), 1,
                  clip_grad_norm=1e-3, callbacks=[GradNorm()], progress=False)  # fmt: skip
    assert norms[0] == pytest.approx(1e-3, rel=1e-3)  # clipped before the callback and the step
    assert history.steps[0]["grad_norm"] > 1e-2  # the norm before clipping is recorded
    change = np.sqrt(sum(((a - b).astype(np.float64) ** 2).sum() for a, b in zip(params(model), before)))
    assert change == pytest.approx(1e-3, rel=1e-3)  # SGD with lr 1 moves by exactly the clipped gradient


@pytest.mark.parametrize("interval", ["epoch", "step"])
def test_scheduler_interval_decides_when_lr_changes(interval):
    x, y = blobs(6)  # 3 batches of 2 per epoch
    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = fit(model, ArrayLoader(x, y, 2), nn.CrossEntropyLoss(), opt, 2, scheduler=sched,
                  scheduler_interval=interval, progress=False)  # fmt: skip
    lrs = [s["lr"] for s in history.steps]
    if interval == "epoch":
        assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
        assert [e["lr"] for e in history.epochs] == [1.0, 0.5] and opt.param_groups[0]["lr"] == 0.25
    else:
        assert lrs == [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125]
        assert [e["lr"] for e in history.epochs] == [1.0, 0.125] and opt.param_groups[0]["lr"] == 0.015625


def test_bad_arguments_are_named():
    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scheduler_interval"):
        Trainer(model, opt, nn.CrossEntropyLoss(), scheduler_interval="batch")
    with pytest.raises(ValueError, match="accumulate_steps"):
        Trainer(model, opt, nn.CrossEntropyLoss(), accumulate_steps=0)
    with pytest.raises(ValueError, match="clip_grad_norm"):
        Trainer(model, opt, nn.CrossEntropyLoss(), clip_grad_norm=0)
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        Trainer(model, opt, nn.CrossEntropyLoss(), metrics=("f1",))
    x, y = blobs(4)
    with pytest.raises(ValueError, match="yielded no batches in epoch 1"):
        fit(model, ArrayLoader(x[:0], y[:0], 2), nn.CrossEntropyLoss(), opt, 1, progress=False)


# ---------------------------------------------------------------------- callbacks


def test_callbacks_run_in_order_with_the_right_counts():
    x, y = blobs(10)  # 5 batches of 2; accumulate 2: windows 2, 2, 1
    model = mlp()
    rec = Recorder()
    fit(model, ArrayLoader(x, y, 2), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), 2,
        accumulate_steps=2, callbacks=[rec], progress=False)  # fmt: skip

    def epoch(e: int, step0: int) -> list[tuple]:
        calls: list[tuple] = [("epoch_begin", e, True)]
        step = step0
        for i in range(5):
            calls.append(("step_begin", i))
            stepped = i % 2 == 1 or i == 4
            if stepped:
                calls.append(("before_optimizer_step", step, True))
                step += 1
            calls.append(("step_end", step, stepped))
        return [*calls, ("epoch_end", e, e + 1)]

    assert rec.calls == [("train_begin", 0, 0), *epoch(0, 0), *epoch(1, 3), ("train_end", 2, 6)]


def test_callbacks_may_stop_training_after_the_current_epoch():
    x, y = blobs(8)

    class StopAtTwo(Callback):
        def on_step_end(self, trainer, loss, stepped):
            if trainer.epoch == 1:
                trainer.stop_training = True

    model = mlp()
    val = ArrayLoader(x, y, 4)
    history = fit(model, ArrayLoader(x, y, 4), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), 10,
                  val_loader=val, eval_every=5, callbacks=[StopAtTwo()], progress=False)  # fmt: skip
    assert [e["epoch"] for e in history.epochs] == [1, 2]
    assert len(history.steps) == 4  # the second epoch ran to its end
    assert "val_loss" in history.epochs[1]  # the last epoch is evaluated even off the eval_every grid


def test_early_stopping_stops_when_the_monitored_value_stalls():
    x, y = blobs(8)
    model = mlp()
    stopper = EarlyStopping("val_loss", patience=2)
    history = fit(model, ArrayLoader(x, y, 4), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.0), 10,
                  val_loader=ArrayLoader(x, y, 4), callbacks=[stopper], progress=False)  # fmt: skip
    assert len(history.epochs) == 3  # lr 0: no improvement after epoch 1, patience 2
    assert stopper.best_epoch == 1 and EarlyStopping("val_accuracy").mode == "max"


def test_on_train_end_runs_when_training_fails():
    x, y = blobs(4)
    rec = Recorder()

    def bad_loss(output, target):
        raise RuntimeError("loss exploded")

    model = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="loss exploded"):
        fit(model, ArrayLoader(x, y, 2), bad_loss, optim.SGD(model.parameters(), lr=0.1), 1, callbacks=[rec], progress=False)
    assert rec.calls[-1] == ("train_end", 0, 0)


# ---------------------------------------------------------------------- progress bar


def test_progress_false_prints_nothing(capfd):
    x, y = blobs(8)
    model = mlp()
    fit(model, ArrayLoader(x, y, 4), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), 2,
        val_loader=ArrayLoader(x, y, 4), progress=False)  # fmt: skip
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_progress_bar_writes_to_stderr_when_not_a_terminal(capsys):
    x, y = blobs(8)
    model = mlp()
    fit(model, ArrayLoader(x, y, 4), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), 2,
        val_loader=ArrayLoader(x, y, 4))  # fmt: skip
    out, err = capsys.readouterr()
    assert out == ""
    assert "epoch 1/2" in err and "epoch 2/2" in err
    assert "loss=" in err and "acc=" in err and "val_loss=" in err and "samples/s=" in err
