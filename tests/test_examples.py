"""The milestone scripts in examples/ still run: each train() on a tiny budget (the synthetic ones
in full, the CIFAR-10 / Fashion-MNIST ones on a few fake images written in the official formats),
each --help, and each checkpoint loads back into a fresh model."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from tinytorch.train import load_checkpoint

from .dataset_files import write_cifar, write_mnist

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ["perceptron_1957", "xor_1969", "mlp_1986_cifar10", "lenet1_1989", "lenet5_1998", "cnn_cifar10", "fashion_mnist"]


def example(name: str):
    """Import examples/<name>.py as the scripts run: with examples/ on sys.path (for `common`)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cifar")
    write_cifar(root, train_sizes=(8, 8, 8, 8, 8), test_size=12)  # 40 training images, 12 test ones
    return root


@pytest.fixture(scope="module")
def fashion_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fashion")
    write_mnist(root / "FashionMNIST" / "raw", "train", n=40, gz=True)
    write_mnist(root / "FashionMNIST" / "raw", "t10k", n=12, gz=True, seed=1)
    return root


def tiny(module, root: Path, tmp_path: Path, **overrides):
    """The script's Config for one epoch over the fake data in batches of 16, checkpoint in tmp_path."""
    settings = dict(data=str(root), epochs=1, batch_size=16, checkpoint=str(tmp_path / "run.npz"), progress=False)
    return module.Config(**{**settings, **overrides})


def check_result(result, cfg, fresh_model) -> None:
    assert 0.0 <= result.test_accuracy <= 1.0 and result.seconds > 0
    assert len(result.history.epochs) == cfg.epochs and "val_accuracy" in result.history.epochs[-1]
    meta = load_checkpoint(cfg.checkpoint, fresh_model)  # the saved weights fit the architecture
    assert meta["epoch"] == cfg.epochs
    for (name, ours), theirs in zip(result.model.state_dict().items(), fresh_model.state_dict().values()):
        np.testing.assert_array_equal(ours.data, theirs.data, err_msg=name)


@pytest.mark.parametrize("name", SCRIPTS)
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        example(name).main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--epochs" in out and "--lr" in out and "--seed" in out and "--batch-size" in out


def test_perceptron_converges_to_100_percent(tmp_path):
    m = example("perceptron_1957")
    result = m.train(m.Config(checkpoint=str(tmp_path / "p.npz")))
    assert result.history.epochs[-1]["mistakes"] == 0
    assert result.extra["train_accuracy"] == 1.0
    assert result.extra["epochs_to_converge"] == len(result.history.epochs)
    load_checkpoint(tmp_path / "p.npz", m.Perceptron(10))


def test_xor_single_layer_fails_two_layers_succeed(tmp_path):
    m = example("xor_1969")
    result = m.main(["--checkpoint", str(tmp_path / "x.npz")])
    assert result.extra["single_layer_accuracy"] <= 0.75  # no line gets more than 3 of the 4 corners
    assert result.test_accuracy == 1.0
    assert (tmp_path / "x.npz").is_file()


def test_xor_noisy(tmp_path):
    m = example("xor_1969")
    result = m.train(m.Config(noisy=True, n=80, epochs=300, batch_size=32, checkpoint=""))
    assert result.test_accuracy > 0.9 and result.extra["single_layer_accuracy"] < 0.8


@pytest.mark.parametrize(
    "name, build",
    [("mlp_1986_cifar10", "mlp"), ("lenet1_1989", "lenet1"), ("lenet5_1998", "lenet5"), ("cnn_cifar10", "cnn")],
)
def test_cifar_scripts_run(name, build, cifar_root, tmp_path):
    m = example(name)
    cfg = tiny(m, cifar_root, tmp_path)
    result = m.train(cfg)
    check_result(result, cfg, getattr(m, build)())


def test_cnn_cifar10_evaluates_every_few_epochs(cifar_root, tmp_path):
    m = example("cnn_cifar10")
    cfg = tiny(m, cifar_root, tmp_path, limit=16, eval_every=2, epochs=3)
    history = m.train(cfg).history
    assert ["val_accuracy" in e for e in history.epochs] == [False, True, True]  # epoch 2, and the last
    lrs = [s["lr"] for s in history.steps]  # 3 steps: warm-up to the peak, then the cosine
    assert max(lrs) == pytest.approx(cfg.lr) and lrs[-1] < cfg.lr


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_fashion_mnist_runs(model, fashion_root, tmp_path):
    m = example("fashion_mnist")
    cfg = tiny(m, fashion_root, tmp_path, model=model)
    result = m.train(cfg)
    check_result(result, cfg, getattr(m, model)())


def test_main_parses_flags(cifar_root, tmp_path, capsys):
    m = example("mlp_1986_cifar10")
    argv = ["--data", str(cifar_root), "--epochs", "1", "--batch-size", "32", "--lr", "0.01"]
    m.main([*argv, "--seed", "3", "--no-progress", "--checkpoint", str(tmp_path / "m.npz")])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "test accuracy" in last and "wall time" in last and (tmp_path / "m.npz").is_file()


def test_normalisation_uses_training_statistics():
    common = example("common")
    images = np.random.default_rng(0).integers(0, 256, (7, 5, 5, 3), dtype=np.uint8)
    mean, std = common.channel_stats(images)
    scaled = images.astype(np.float64) / 255
    np.testing.assert_allclose(mean, scaled.mean(axis=(0, 1, 2)), rtol=1e-10)
    np.testing.assert_allclose(std, scaled.std(axis=(0, 1, 2)), rtol=1e-8)
    gray_mean, _ = common.channel_stats(images[..., 0])  # (N, H, W): one channel
    np.testing.assert_allclose(gray_mean, [scaled[..., 0].mean()], rtol=1e-10)


@pytest.fixture
def fashion_checkpoints(fashion_root, tmp_path) -> Path:
    """Both Fashion-MNIST milestones trained one epoch on the fake images, saved as the scripts name them."""
    m = example("fashion_mnist")
    for model in ("mlp", "cnn"):
        m.train(tiny(m, fashion_root, tmp_path, model=model, checkpoint=str(tmp_path / f"fashion_mnist_{model}.npz")))
    return tmp_path


def test_quantize_milestones_measures_a_4x_smaller_model(fashion_root, fashion_checkpoints, capsys):
    m = example("quantize_milestones")
    argv = ["--data", str(fashion_root), "--checkpoints", str(fashion_checkpoints), "--batch-size", "16"]
    sizes = m.main([*argv, "--models", "fmnist_mlp,fmnist_cnn,lenet5", "--calibration-batches", "2", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "skipping lenet5: no lenet5_1998.npz" in out and "int8 (blas) ms" in out
    assert [r["model"] for r in sizes] == ["Fashion-MNIST MLP", "Fashion-MNIST CNN"]
    for row in sizes:  # int8 weights plus float32 biases and scales: a little under 4x
        assert 3.5 < row["x smaller"] < 4.0 and 0 <= row["int8 acc %"] <= 100
    with pytest.raises(SystemExit, match="unknown milestones"):
        m.main([*argv, "--models", "nope"])


def test_compress_milestone_keeps_the_sparsity_through_fine_tuning(fashion_root, fashion_checkpoints, capsys):
    m = example("compress_milestone")
    argv = ["--data", str(fashion_root), "--checkpoints", str(fashion_checkpoints), "--batch-size", "16", "--no-progress"]
    m.main([*argv, "--amounts", "0.8", "--ranks", "8", "--distill-epochs", "1", "--student-hidden", "8"])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| global magnitude 80%"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert 79 < float(cells[1]) < 81 and cells[2] == "yes"  # sparsity after fine-tuning, counted again
    assert "| 8 " in out and "student 784-8-10" in out
