"""Lesson 20's tests of the learner's Build code: make_model and make_optimizer against the config,
train_step against tinytorch's own step (SGD and Adam), accuracy against tinytorch.train.accuracy,
train's determinism and its recorded run (every step, the traced step 0, gradient statistics, the
validation scalars, the config; the recorder closed even when training fails), and train_better
on the spirals with other seeds. `build` is the learner's notebook executed up to `## Use`."""

from __future__ import annotations

import tempfile
from dataclasses import replace

import numpy as np

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.runs import RunReader


def small_data(seed=0, n=120, features=3, classes=3):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, features)) * 3
    y = rng.integers(0, classes, n)
    x = (centres[y] + rng.standard_normal((n, features))).astype(np.float32)
    return x[: n // 2 + n // 4], y[: n // 2 + n // 4], x[n // 2 + n // 4 :], y[n // 2 + n // 4 :]


def test_make_model_shapes_for_several_configs(build):
    for width, depth, n_in, n_out in [(4, 1, 3, 2), (16, 2, 784, 10), (8, 4, 2, 5)]:
        model = build.make_model(build.Config(width=width, depth=depth), n_in, n_out)
        shapes = [tuple(p.shape) for p in model.parameters()]
        want = [(width, n_in), (width,)] + [(width, width), (width,)] * (depth - 1) + [(n_out, width), (n_out,)]
        assert shapes == want, f"width={width}, depth={depth}, {n_in} -> {n_out}: parameters {shapes}, want {want}"
        relus = sum(isinstance(m, nn.ReLU) for m in model.modules())
        assert relus == depth, f"depth={depth} hidden layers need {depth} ReLUs, found {relus}"
        assert model(tt.randn(3, n_in)).shape == (3, n_out)


def test_make_model_uses_the_config_seed(build):
    config = build.Config(width=6, seed=11)
    tt.manual_seed(123)  # the caller's state must not matter
    a = build.make_model(config, 4, 2)
    tt.manual_seed(456)
    b = build.make_model(config, 4, 2)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=f"{name}: the same config should give the same weights")


def test_make_optimizer(build):
    model = build.make_model(build.Config(width=4), 2, 2)
    sgd = build.make_optimizer(model, build.Config(optimizer="sgd", lr=0.123))
    assert isinstance(sgd, tt.optim.SGD), f"'sgd' should make tinytorch's SGD, not {type(sgd).__name__}"
    group = sgd.param_groups[0]
    assert group["lr"] == 0.123 and group["momentum"] == 0.9, f"SGD at lr 0.123 with momentum 0.9, got {group}"
    assert [id(p) for p in group["params"]] == [id(p) for p in model.parameters()], "the optimizer steps the model's parameters"
    adam = build.make_optimizer(model, build.Config(optimizer="adam", lr=0.004))
    assert isinstance(adam, tt.optim.Adam) and adam.param_groups[0]["lr"] == 0.004, (
        f"'adam' should be Adam at lr 0.004, got {adam!r}"
    )
    for bad in ("SGD", "lbfgs", ""):
        try:
            build.make_optimizer(model, build.Config(optimizer=bad))
        except ValueError:
            continue
        raise AssertionError(f"optimizer={bad!r} should raise ValueError")


def test_train_step_matches_tinytorchs_step(build):
    x, y, _, _ = small_data(1)
    for optimizer in ("sgd", "adam"):
        config = build.Config(width=8, optimizer=optimizer, lr=0.01)
        ours, twin = build.make_model(config, 3, 3), build.make_model(config, 3, 3)
        ours_opt, twin_opt = build.make_optimizer(ours, config), build.make_optimizer(twin, config)
        for k in range(4):
            xb, yb = tt.tensor(x[k * 16 : (k + 1) * 16]), tt.tensor(y[k * 16 : (k + 1) * 16])
            loss = build.train_step(ours, ours_opt, xb, yb)
            want = F.cross_entropy(twin(xb), yb)
            twin_opt.zero_grad()
            want.backward()
            twin_opt.step()
            assert np.isclose(loss, want.item(), rtol=1e-6), f"{optimizer}, step {k}: loss {loss}, want {want.item()}"
        for (name, p), q in zip(ours.named_parameters(), twin.parameters()):
            np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7, err_msg=f"{optimizer}: {name} after 4 steps")


def test_accuracy_matches_tinytorch_and_builds_no_graph(build):
    x, y, _, _ = small_data(2)
    model = build.make_model(build.Config(width=5), 3, 3)
    xt, yt = tt.tensor(x), tt.tensor(y)
    got = build.accuracy(model, xt, yt)
    with tt.no_grad():
        want = tt.train.accuracy(model(xt), yt)
    assert isinstance(got, float) and np.isclose(got, want), f"accuracy should be {want}, got {got!r}"
    assert all(p.grad is None for p in model.parameters()), "accuracy should not touch the gradients"
    assert model.training, "accuracy should leave the model in training mode"
    perfect = tt.tensor(np.eye(3, dtype=np.float32)), tt.tensor(np.arange(3))
    assert build.accuracy(nn.Identity(), *perfect) == 1.0, "scores that are the one-hot labels: accuracy 1.0"


def test_train_is_deterministic_and_returns_its_history(build):
    data = small_data(3)
    config = build.Config(width=8, steps=25, batch_size=16, eval_every=10, seed=2)
    a, b = build.train(config, data), build.train(config, data)
    assert set(a) >= {"model", "losses", "val_accuracy", "path"}, (
        f"train returns model, losses, val_accuracy, path; got {sorted(a)}"
    )
    assert len(a["losses"]) == 25 and a["losses"] == b["losses"], "25 steps, the same losses from the same config"
    assert [s for s, _ in a["val_accuracy"]] == [9, 19, 24], f"eval_every=10 over 25 steps: [9, 19, 24], got {a['val_accuracy']}"
    assert a["path"] is None, "no logdir: no run"
    c = build.train(replace(config, seed=3), data)
    assert c["losses"] != a["losses"], "another seed should give another run"
    final = a["val_accuracy"][-1][1]
    assert final == build.accuracy(a["model"], tt.tensor(data[2]), tt.tensor(data[3])), "the last accuracy is the final model's"


def test_train_batches_cover_the_data(build):
    x, y, xv, yv = small_data(4, n=80)  # 60 training rows
    seen = []
    original = build.train_step

    def spy(model, optimizer, xb, yb):
        seen.append(xb.numpy().copy())
        return original(model, optimizer, xb, yb)

    build["train"].__globals__["train_step"] = spy  # the notebook's train looks train_step up in its globals
    try:
        build.train(build.Config(width=4, steps=6, batch_size=20, eval_every=6), (x, y, xv, yv))
    finally:
        build["train"].__globals__["train_step"] = original
    assert len(seen) == 6 and all(b.shape == (20, 3) for b in seen), f"6 batches of 20 rows, got {[b.shape for b in seen]}"
    first_pass = np.concatenate(seen[:3])
    assert sorted(map(tuple, first_pass)) == sorted(map(tuple, x)), (
        "three batches of 20 should be one pass over the 60 rows, each once"
    )


def test_train_records_its_run(build):
    data = small_data(5)
    config = build.Config(width=8, depth=2, steps=12, batch_size=16, eval_every=5)
    logdir = tempfile.mkdtemp(prefix="lesson20-test-")
    run = build.train(config, data, logdir, name="t")
    assert tt.record.active() is None, "train should close its recorder"
    reader = RunReader(run["path"])
    assert reader.status == "finished", f"the run should be finished, is {reader.status}"
    np.testing.assert_allclose(reader.steps()["loss"], run["losses"], rtol=1e-6, err_msg="recorded losses")
    assert reader.traced_steps() == [0], f"only step 0 traced, got {reader.traced_steps()}"
    assert reader.memory_events(0)["kind"].size > 0, "the traced step should hold memory events"
    steps, names, norms = reader.grad_stats("norm")
    assert list(steps) == list(range(12)) and np.isfinite(norms).all(), "gradient statistics at every step"
    assert names == [n for n, _ in run["model"].named_parameters()]
    logged_steps, logged = reader.scalars("val/accuracy")
    assert list(logged_steps) == [4, 9, 11], f"val/accuracy at steps [4, 9, 11], got {list(logged_steps)}"
    np.testing.assert_allclose(logged, [a for _, a in run["val_accuracy"]], err_msg="logged accuracies")
    assert reader.meta["config"] == {**vars(config)}, f"the config recorded with the run, got {reader.meta['config']}"


def test_train_closes_the_recorder_when_training_fails(build):
    x, y, xv, yv = small_data(6)
    bad = (x, y, xv[:, :2], yv)  # validation rows with the wrong width: the first evaluation fails
    logdir = tempfile.mkdtemp(prefix="lesson20-test-")
    try:
        build.train(build.Config(width=4, steps=3, batch_size=8, eval_every=2), bad, logdir, name="broken")
    except NotImplementedError:
        raise  # train is not written yet
    except Exception:
        pass
    else:
        raise AssertionError("training with validation data of the wrong width should raise")
    assert tt.record.active() is None, "a failed train() must close its recorder (use a with block), or the next record() fails"


def test_train_better_on_other_seeds(build):
    data = build.spiral_task()
    for seed in (1, 2):
        config = build.Config(seed=seed)
        result = build.train_better(config, data)
        assert len(result["losses"]) == config.steps, f"the same budget: {config.steps} steps, not {len(result['losses'])}"
        reached = result["val_accuracy"][-1][1]
        assert reached >= 0.85, (
            f"with seed {seed}, your improvement reached {reached:.3f} validation accuracy on the spirals (want 0.85)"
        )
