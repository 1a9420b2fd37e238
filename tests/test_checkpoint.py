"""tinytorch.train checkpoints: one .npz without pickle, atomic writes, clear errors, exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn as nn
import tinytorch.optim as optim
from tinytorch.train import CheckpointError, History, Trainer, fit, load_checkpoint, save_checkpoint

from .test_train import ArrayLoader, blobs, mlp, params


def trained(opt_cls=optim.Adam, **opt_kwargs):
    """A model, optimizer and scheduler after a few steps, so every piece of state is non-trivial."""
    model = mlp(0.2)
    opt = opt_cls(model.parameters(), **(opt_kwargs or {"lr": 0.01}))
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, y = blobs(16)
    fit(model, ArrayLoader(x, y, 8), nn.CrossEntropyLoss(), opt, 2, scheduler=sched, progress=False)
    return model, opt, sched


def test_round_trip_restores_model_optimizer_scheduler_rng_and_loader(tmp_path):
    model, opt, sched = trained()
    loader = ArrayLoader(*blobs(8), 4, shuffle=True, seed=3)
    next(iter(loader))  # move its generator off the seed
    history = History([{"epoch": 1, "train_loss": 0.5}], [{"step": 1, "loss": 0.5, "lr": 0.01}])
    path = save_checkpoint(tmp_path / "ck.npz", model, opt, sched, epoch=2, step=4, history=history, loader=loader,
                           extra={"note": "hi"})  # fmt: skip
    expected_draw, expected_perm = tt.rand(3).data, loader.generator.permutation(8)

    tt.manual_seed(99)  # everything fresh and different
    model2 = mlp(0.2)
    opt2 = optim.Adam(model2.parameters(), lr=0.5)
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=1, gamma=0.5)
    loader2 = ArrayLoader(*blobs(8), 4, shuffle=True, seed=3)
    meta = load_checkpoint(path, model2, opt2, sched2, loader=loader2)

    assert meta["epoch"] == 2 and meta["step"] == 4 and meta["extra"] == {"note": "hi"} and meta["history"] == history
    for a, b in zip(params(model), params(model2)):
        np.testing.assert_array_equal(a, b)
    sd, sd2 = opt.state_dict(), opt2.state_dict()
    assert sd["param_groups"] == sd2["param_groups"] and isinstance(opt2.param_groups[0]["betas"], tuple)
    for i, state in sd["state"].items():
        assert state["step"] == sd2["state"][i]["step"] and isinstance(sd2["state"][i]["step"], int)
        np.testing.assert_array_equal(state["exp_avg"], sd2["state"][i]["exp_avg"])
        np.testing.assert_array_equal(state["exp_avg_sq"], sd2["state"][i]["exp_avg_sq"])
    assert sched2.state_dict() == sched.state_dict() and sched2.get_last_lr() == sched.get_last_lr()
    np.testing.assert_array_equal(tt.rand(3).data, expected_draw)  # tinytorch's RNG continues where it was
    np.testing.assert_array_equal(loader2.generator.permutation(8), expected_perm)  # and the shuffle order


def test_file_is_one_npz_without_pickle_and_with_the_documented_layout(tmp_path):
    model, opt, sched = trained(optim.SGD, lr=0.1, momentum=0.9)
    path = save_checkpoint(tmp_path / "ck.npz", model, opt, sched, epoch=2, step=4)
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]
    with np.load(path, allow_pickle=False) as npz:
        files = set(npz.files)
        assert all(npz[k].dtype != object for k in files)
        meta = json.loads(npz["meta.json"].item().decode())
    assert files == {"meta.json"} | {f"model/{k}" for k in model.state_dict()} | {
        f"optimizer/state/{i}/momentum_buffer" for i in range(4)
    }
    assert meta["format"] == "tinytorch-checkpoint" and meta["version"] == 1
    assert meta["optimizer"]["class"] == "SGD" and meta["optimizer"]["param_groups"][0]["momentum"] == 0.9
    assert meta["scheduler"]["state"]["last_epoch"] == 2
    assert meta["rng_state"] == tt.get_rng_state() and meta["loader_rng_state"] is None


def test_a_crash_mid_write_leaves_the_old_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    model, opt, _ = trained()
    path = tmp_path / "ck.npz"
    save_checkpoint(path, model, opt, epoch=1)
    old_bytes = path.read_bytes()

    def crash(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")  # some bytes reach the disk, then the writer dies
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, model, opt, epoch=2)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes and [p.name for p in tmp_path.iterdir()] == ["ck.npz"]
    assert load_checkpoint(path, mlp(0.2))["epoch"] == 1


def test_overwriting_replaces_the_file_and_keeps_its_permissions(tmp_path):
    model, opt, _ = trained()
    path = tmp_path / "ck.npz"
    save_checkpoint(path, model, epoch=1)
    path.chmod(0o640)
    save_checkpoint(path, model, opt, epoch=2)
    assert load_checkpoint(path, model)["epoch"] == 2 and path.stat().st_mode & 0o777 == 0o640
    with pytest.raises(FileNotFoundError, match="directory .*missing does not exist"):
        save_checkpoint(tmp_path / "missing" / "ck.npz", model)


def test_loading_bad_files_names_the_file_and_the_problem(tmp_path):
    model = mlp()
    with pytest.raises(FileNotFoundError, match=r"checkpoint .*nope\.npz does not exist"):
        load_checkpoint(tmp_path / "nope.npz", model)

    text = tmp_path / "notes.npz"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.npz is not a tinytorch checkpoint: it is not a readable \.npz"):
        load_checkpoint(text, model)

    npy = tmp_path / "array.npz"
    with open(npy, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(CheckpointError, match=r"array\.npz is not a tinytorch checkpoint: it holds one array"):
        load_checkpoint(npy, model)

    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(3))
    with pytest.raises(
        CheckpointError, match=r"plain\.npz is an \.npz file but not a tinytorch checkpoint: it has no meta\.json"
    ):
        load_checkpoint(plain, model)

    good = save_checkpoint(tmp_path / "good.npz", model)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.npz is not a tinytorch checkpoint: it is not a readable"):
        load_checkpoint(truncated, model)

    newer = tmp_path / "newer.npz"
    np.savez(newer, **{"meta.json": np.array(json.dumps({"format": "tinytorch-checkpoint", "version": 99}).encode())})
    with pytest.raises(CheckpointError, match=r"newer\.npz has format version 99; this tinytorch reads up to version 1"):
        load_checkpoint(newer, model)


def test_a_damaged_entry_is_reported(tmp_path):
    good = save_checkpoint(tmp_path / "good.npz", mlp())
    data = bytearray(good.read_bytes())
    start = data.index(b"model/0.weight.npy") + len("model/0.weight.npy") + 140  # inside that member: its CRC fails
    data[start : start + 8] = b"\xff" * 8
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"damaged\.npz is damaged"):
        load_checkpoint(damaged, mlp())


def test_a_checkpoint_that_does_not_fit_leaves_everything_unchanged(tmp_path):
    model, opt, sched = trained()
    path = save_checkpoint(tmp_path / "ck.npz", model, opt, sched)

    other = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2))
    before = params(other)
    with pytest.raises(CheckpointError, match=r"ck\.npz does not fit the model: .*size mismatch for 0\.weight"):
        load_checkpoint(path, other)
    with pytest.raises(CheckpointError, match=r"ck\.npz does not fit the model: .*missing keys: \['2\.weight'"):
        load_checkpoint(path, nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2), nn.Linear(2, 2)))
    for a, b in zip(before, params(other)):
        np.testing.assert_array_equal(a, b)

    fresh = mlp(0.2)
    before = params(fresh)
    with pytest.raises(CheckpointError, match=r"holds the state of a Adam optimizer, not of a SGD"):
        load_checkpoint(path, fresh, optim.SGD(fresh.parameters(), lr=0.1))
    half = optim.Adam([{"params": list(fresh.parameters())[:2]}, {"params": list(fresh.parameters())[2:]}])
    with pytest.raises(CheckpointError, match=r"does not fit the optimizer: loaded state has 1 parameter groups"):
        load_checkpoint(path, fresh, half)
    for a, b in zip(before, params(fresh)):  # the model was rolled back when the optimizer did not fit
        np.testing.assert_array_equal(a, b)

    bare = save_checkpoint(tmp_path / "bare.npz", model)
    with pytest.raises(CheckpointError, match=r"bare\.npz holds no optimizer state"):
        load_checkpoint(bare, fresh, optim.Adam(fresh.parameters()))


def test_unsavable_extra_is_named(tmp_path):
    with pytest.raises(TypeError, match=r"cannot save meta\['extra'\]\['fn'\] in a checkpoint"):
        save_checkpoint(tmp_path / "ck.npz", mlp(), extra={"fn": print})
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- resuming


def _run(epochs: int, init_seed: int, opt_name: str, interval: str, checkpoint=None, resume=None):
    """A fresh model/optimizer/scheduler/loader (dropout, shuffling: RNG state matters) trained to `epochs`."""
    tt.manual_seed(init_seed)
    model = mlp(0.3)
    if opt_name == "sgd":
        opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.9, nesterov=True, weight_decay=1e-3)
    else:
        opt = optim.Adam(model.parameters(), lr=0.02, betas=(0.8, 0.99))
    if interval == "step":
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4 * 5)
    else:
        sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    x, y = blobs(40, spread=1.2)
    xv, yv = blobs(24, seed=5, spread=1.2)
    history = fit(model, ArrayLoader(x, y, 8, shuffle=True, seed=11), nn.CrossEntropyLoss(), opt, epochs,
                  val_loader=ArrayLoader(xv, yv, 8), scheduler=sched, scheduler_interval=interval,
                  clip_grad_norm=5.0, checkpoint=checkpoint, resume=resume, progress=False)  # fmt: skip
    return model, opt, history


@pytest.mark.parametrize(("opt_name", "interval"), [("sgd", "epoch"), ("adam", "step")])
def test_resuming_continues_the_same_curve(tmp_path, opt_name, interval):
    path = tmp_path / "run.npz"
    straight, straight_opt, full = _run(4, 0, opt_name, interval)
    _, _, first = _run(2, 0, opt_name, interval, checkpoint=path)
    assert load_checkpoint(path, mlp(0.3), restore_rng=False)["epoch"] == 2
    resumed, resumed_opt, rest = _run(4, 123, opt_name, interval, checkpoint=path, resume=path)

    assert first.steps == full.steps[:10]
    assert [s["loss"] for s in rest.steps] == [s["loss"] for s in full.steps]  # epochs 3-4 exactly, 1-2 from the file
    assert [s["lr"] for s in rest.steps] == [s["lr"] for s in full.steps]
    for a, b in zip(params(straight), params(resumed)):
        np.testing.assert_array_equal(a, b)
    assert [e["val_loss"] for e in rest.epochs] == [e["val_loss"] for e in full.epochs]
    assert resumed_opt.param_groups[0]["lr"] == straight_opt.param_groups[0]["lr"]
    assert load_checkpoint(path, mlp(0.3))["epoch"] == 4  # the checkpoint moved on with the resumed run


def test_resume_of_a_finished_run_trains_nothing(tmp_path):
    path = tmp_path / "run.npz"
    model, _, history = _run(2, 0, "sgd", "epoch", checkpoint=path)
    again, _, same = _run(2, 7, "sgd", "epoch", resume=path)
    assert same == history
    for a, b in zip(params(model), params(again)):
        np.testing.assert_array_equal(a, b)


def test_trainer_checkpoint_methods(tmp_path):
    x, y = blobs(8)
    model = mlp()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), progress=False)
    trainer.fit(ArrayLoader(x, y, 4), 1)
    trainer.save_checkpoint(tmp_path / "t.npz", extra={"tag": 1})
    fresh = mlp()
    other = Trainer(fresh, optim.SGD(fresh.parameters(), lr=0.1), nn.CrossEntropyLoss(), progress=False)
    meta = other.load_checkpoint(tmp_path / "t.npz")
    assert meta["extra"] == {"tag": 1} and other.epoch == 1 and other.step == 2 and other.history == trainer.history
