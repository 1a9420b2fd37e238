"""The trade-off scripts and the acceleration lesson measure what they claim, at tiny sizes on
fake data in the official formats: accumulation gives the big batch's update for a lower
activation peak; checkpointing gives the same gradients for a lower activation peak; float16
training keeps its weights finite at half the bytes of the float32 masters; optimizer state is
exactly 0, 1, 2, 2 parameter-sized buffers; the three matmul and convolution versions agree.
Each script's runs open in the inspector's reader. Nothing here checks a time."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.runs import RunReader

from .dataset_files import write_cifar, write_mnist

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ["tradeoff_accumulation", "tradeoff_checkpointing", "tradeoff_mixed_precision", "tradeoff_optimizers", "acceleration"]


def example(name: str):
    """Import examples/<name>.py as the scripts run: with examples/ on sys.path (for `common`)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def fashion_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fashion")
    write_mnist(root / "FashionMNIST" / "raw", "train", n=64, gz=True)
    write_mnist(root / "FashionMNIST" / "raw", "t10k", n=16, gz=True, seed=1)
    return root


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cifar")
    write_cifar(root, train_sizes=(2, 2, 2, 2, 2), test_size=8)
    return root


@pytest.fixture(scope="module")
def text_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("text") / "corpus.txt"
    words = np.random.default_rng(0).choice(["to", "be", "or", "not", "that", "is", "the", "question"], 600)
    path.write_text(" ".join(words) + "\n")
    return path


def inspectable(path: Path) -> dict:
    """A run the inspector's Memory and Compare pages can show: parameters and a traced step's totals."""
    reader = RunReader(path)
    try:
        assert reader.params() and reader.memory_totals() and reader.last_step() is not None
        return reader.meta
    finally:
        reader.close()


@pytest.mark.parametrize("name", SCRIPTS)
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        example(name).main(["--help"])
    assert exit_.value.code == 0
    assert "--logdir" in capsys.readouterr().out


def test_accumulation_gives_the_big_batch_update_for_a_lower_activation_peak(fashion_root, tmp_path, capsys):
    m = example("tradeoff_accumulation")
    args = ["--data", str(fashion_root), "--batch-size", "32", "--accumulate", "4", "--steps", "2", "--rounds", "1",
            "--number", "1", "--logdir", str(tmp_path)]  # fmt: skip
    out = m.main(args)
    assert out["max_param_diff_first"] < 1e-6  # float rounding only
    big, acc = out["memory"]["big"], out["memory"]["acc"]
    assert acc["max"]["activation"] < 0.5 * big["max"]["activation"]  # a quarter of the batch alive at a time
    assert big["at_peak"] and big["peak"] == sum(big["at_peak"].values())
    for path in out["runs"].values():
        inspectable(path)
    assert "| batch 32 |" in capsys.readouterr().out
    # the tolerance means something: a step on the first micro-batch alone is far from the big batch's
    batches = m.fashion_batches(str(fashion_root))
    tt.manual_seed(0)
    full, part = m.mlp(), m.mlp()
    part.load_state_dict(full.state_dict())
    m.big_step(full, tt.optim.SGD(full.parameters(), lr=0.1), batches, 0, 32)
    m.big_step(part, tt.optim.SGD(part.parameters(), lr=0.1), batches, 0, 8)
    assert max(float(np.abs(a.data - b.data).max()) for a, b in zip(full.parameters(), part.parameters())) > 1e-4


def test_checkpointing_gives_the_same_gradients_for_a_lower_activation_peak(cifar_root, text_file, tmp_path):
    m = example("tradeoff_checkpointing")
    args = ["--data", str(cifar_root), "--text", str(text_file), "--cnn-batch", "8", "--width", "4", "--gpt-batch", "2",
            "--block-size", "16", "--n-layer", "2", "--n-embd", "32", "--steps", "1", "--rounds", "1", "--logdir", str(tmp_path)]  # fmt: skip
    out = m.main(args)
    assert set(out) == {"cnn", "gpt"}
    for name, r in out.items():
        assert r["grad_rel_diff"] < 1e-5, name
        plain, ckpt = r["memory"]["plain"], r["memory"]["checkpointed"]
        assert ckpt["max"]["activation"] < plain["max"]["activation"], name
        assert r["flops"]["checkpointed"]["total"] > r["flops"]["plain"]["total"], name  # the forward, run again
        assert r["flops"]["checkpointed"]["total"] - r["flops"]["plain"]["total"] <= r["flops"]["plain"]["forward"], name
        for path in r["runs"].values():
            inspectable(path)


def test_checkpointing_segments_change_no_gradient_of_the_gpt():
    """The lesson's GPT forward with checkpoints is the model's own forward: same loss, same gradients."""
    m = example("tradeoff_checkpointing")
    from tinytorch.models import GPT, GPTConfig

    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16))
    idx, targets = tt.randint(0, 11, (3, 8)), tt.randint(0, 11, (3, 8))
    loss = m.gpt_loss(model, idx, targets)
    plain, ckpt = m.gradients(model, loss, False), m.gradients(model, loss, True)
    assert loss(True).item() == pytest.approx(loss(False).item(), rel=1e-6)
    for name in plain:
        np.testing.assert_allclose(ckpt[name], plain[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_mixed_precision_keeps_weights_finite_at_half_the_bytes_of_the_masters(fashion_root, tmp_path):
    m = example("tradeoff_mixed_precision")
    args = ["--data", str(fashion_root), "--epochs", "1", "--limit", "0", "--batch-size", "16", "--rounds", "1",
            "--logdir", str(tmp_path)]  # fmt: skip
    out = m.main(args)
    full, half = out["results"]["float32"], out["results"]["float16 + fp32 masters"]
    assert half["finite"] and full["finite"]
    assert half["dtypes"] == ["float16"] and full["dtypes"] == ["float32"]
    # the recorder sees the float16 model's parameters and the float32 masters the optimizer steps
    model_bytes = half["master_bytes"] // 2
    assert half["master_bytes"] == full["memory"]["end"]["parameter"]
    assert half["memory"]["end"]["parameter"] == model_bytes + half["master_bytes"]
    assert half["memory"]["end"]["gradient"] == model_bytes + half["master_bytes"]  # float16 grads and the masters' float32 ones
    assert half["scale"] > 0 and 0 <= half["skipped"] <= half["steps"]
    assert all(0 <= a <= 1 for a in half["accuracy"] + full["accuracy"])
    for r in (full, half):
        inspectable(r["run"])


def test_optimizer_state_is_exactly_0_1_2_2_parameter_sizes(fashion_root, tmp_path):
    m = example("tradeoff_optimizers")
    from inspector.figures.compare import predicted_state_bytes

    out = m.main(["--data", str(fashion_root), "--steps", "2", "--batch-size", "16", "--logdir", str(tmp_path)])
    assert list(out) == ["sgd", "sgd-momentum", "adam", "adamw"]
    for name, copies in {"sgd": 0, "sgd-momentum": 1, "adam": 2, "adamw": 2}.items():
        end = out[name]["memory"]["end"]
        p = end["parameter"]
        assert p == 4 * (784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10)  # the MLP's float32 parameters
        assert end.get("optimizer_state", 0) == copies * p == out[name]["state_nbytes"], name
        assert end["gradient"] == p, name
        meta = inspectable(out[name]["run"])  # the Compare page predicts the same from the stored optimizer
        assert predicted_state_bytes(meta["optimizer"], p) == copies * p, name


def test_matmul_and_conv_versions_agree():
    m = example("acceleration")
    rng = np.random.default_rng(0)
    for n, k, j in ((1, 1, 1), (5, 3, 7), (17, 16, 9)):
        a, b = rng.standard_normal((n, k), dtype=np.float32), rng.standard_normal((k, j), dtype=np.float32)
        exact = a.astype(np.float64) @ b
        for fn in m.MATMUL.values():
            np.testing.assert_allclose(fn(a, b), exact, rtol=1e-4, atol=1e-5)
    x, w = rng.standard_normal((2, 3, 7, 6), dtype=np.float32), rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))).astype(np.float64)
    exact = np.zeros((2, 4, 7, 6))
    for u in range(3):  # the definition: out[n, o, i, j] = sum_{c,u,v} xp[n, c, i+u, j+v] w[o, c, u, v]
        for v in range(3):
            exact += np.einsum("ncij,oc->noij", xp[:, :, u : u + 7, v : v + 6], w[:, :, u, v])
    for fn in m.CONV.values():
        np.testing.assert_allclose(fn(x, w), exact, rtol=1e-4, atol=1e-4)
    assert m.agree(m.MATMUL, a, b) < 1e-4
    with pytest.raises(AssertionError, match="disagrees"):  # the check before timing catches a wrong version
        m.agree({"off by one row": lambda a, b: np.roll(a @ b, 1, axis=0), "BLAS": m.matmul_blas}, a, b)


def test_acceleration_main_measures_every_version_and_writes_a_profiled_run(tmp_path, capsys):
    m = example("acceleration")
    args = ["--sizes", "8", "--large-sizes", "16", "--image-sizes", "4", "--large-image-sizes", "", "--rounds", "1",
            "--min-seconds", "0.001", "--peak-size", "64", "--peak-megabytes", "1", "--logdir", str(tmp_path)]  # fmt: skip
    out = m.main(args)
    assert [len(e["rows"]) for e in out["matmul"]] == [3, 2] and [len(e["rows"]) for e in out["conv"]] == [3]
    for entry in out["matmul"] + out["conv"]:
        assert all(r["seconds"] > 0 and r["gflops"] > 0 for r in entry["rows"])
        assert entry["rows"][0]["speedup"] == 1.0
    assert out["peaks"]["gflops"] > 0 and out["peaks"]["bandwidth_gbs"] > 0
    inspectable(out["run"])
    reader = RunReader(out["run"])
    try:
        assert reader.profile(0) and "matmul/BLAS (a @ b) GFLOP/s" in reader.tags()
    finally:
        reader.close()
    assert "naive Python loops" in capsys.readouterr().out
