"""Post-training int8 quantization of the milestone models, measured: model bytes, test accuracy
before and after, agreement of the predictions, and inference time for a batch of 256.

Each model is rebuilt by its own script's builder, loaded from its checkpoint, calibrated on 10
training batches (an observer on the input of every Linear and Conv2d), and quantized with
tinytorch.quant.quantize_model: int8 weights per output channel, int8 activations, exact int32
sums. "int8 (blas)" gets those sums from float BLAS (exact, see tinytorch/quant/affine.py),
"int8 (int32)" from NumPy's integer matmul; "float" is the float32 model.

    python examples/quantize_milestones.py --data /work/data [--models fmnist_mlp,fmnist_cnn,cifar_mlp,lenet5,cifar_cnn]
        [--observer minmax|moving_average|percentile] [--ablation] [--repeats 5] [--checkpoints DIR] [--limit N]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from common import RunConfig, arg, cifar10_loaders, fashion_mnist_loaders, parse_config

import tinytorch as tt
from tinytorch import nn
from tinytorch.data import DataLoader
from tinytorch.quant import model_nbytes, quantize_model
from tinytorch.train import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def _builder(script: str, name: str) -> Callable[[], nn.Module]:
    """The architecture as the milestone script defines it (imported when needed)."""

    def build() -> nn.Module:
        import importlib

        return getattr(importlib.import_module(script), name)()

    return build


# key: (title, dataset, builder, checkpoint file in --checkpoints)
MILESTONES: dict[str, tuple[str, str, Callable[[], nn.Module], str]] = {
    "fmnist_mlp": ("Fashion-MNIST MLP", "fashion", _builder("fashion_mnist", "mlp"), "fashion_mnist_mlp.npz"),
    "fmnist_cnn": ("Fashion-MNIST CNN", "fashion", _builder("fashion_mnist", "cnn"), "fashion_mnist_cnn.npz"),
    "cifar_mlp": ("1986 MLP, CIFAR-10*", "cifar", _builder("mlp_1986_cifar10", "mlp"), "mlp_1986_cifar10.npz"),
    "lenet5": ("1998 LeNet-5, CIFAR-10*", "cifar", _builder("lenet5_1998", "lenet5"), "lenet5_1998.npz"),
    "cifar_cnn": ("modern CNN, CIFAR-10*", "cifar", _builder("cnn_cifar10", "cnn"), "cnn_cifar10.npz"),
}


@dataclass
class Config(RunConfig):
    models: str = arg("fmnist_mlp,fmnist_cnn,cifar_mlp,lenet5,cifar_cnn", "comma-separated milestones to quantize")
    checkpoints: str = arg(str(ROOT / "checkpoints"), "folder of the milestone checkpoints")
    observer: str = arg("minmax", "activation observer", choices=["minmax", "moving_average", "percentile"])
    calibration_batches: int = arg(10, "training batches (of --batch-size) seen by the observers")
    repeats: int = arg(5, "timed runs per variant (the median is reported)")
    int32: bool = arg(True, "also time the NumPy int32-matmul variant")
    ablation: bool = arg(False, "also compare observers and per-tensor weights (accuracy only)")


# ---------------------------------------------------------------------- helpers shared with compress_milestone.py


_LOADERS: dict[str, tuple[DataLoader, DataLoader]] = {}


def loaders(dataset: str, cfg: RunConfig) -> tuple[DataLoader, DataLoader]:
    """(shuffled training loader, test loader), normalised as the milestone scripts train them."""
    if dataset not in _LOADERS:
        _LOADERS[dataset] = (fashion_mnist_loaders if dataset == "fashion" else cifar10_loaders)(cfg)
    return _LOADERS[dataset]


def load_milestone(key: str, folder: str | Path) -> tuple[nn.Module, int]:
    """The milestone's model with its checkpoint's weights, and the epoch it was saved after."""
    title, _, build, file = MILESTONES[key]
    model = build()
    meta = load_checkpoint(Path(folder) / file, model, restore_rng=False)
    return model.eval(), int(meta["epoch"])


def predict(model: nn.Module, loader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
    """(logits, targets) over the whole loader, in eval mode, without gradients."""
    model.eval()
    logits, targets = [], []
    with tt.no_grad():
        for x, y in loader:
            logits.append(model(x).data)
            targets.append(y.data)
    return np.concatenate(logits), np.concatenate(targets)


def accuracy(model: nn.Module, loader: DataLoader) -> float:
    logits, targets = predict(model, loader)
    return float((logits.argmax(1) == targets).mean())


def median_ms(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median wall time in ms of each fn(), the variants taking turns round by round
    (tinytorch.perf.compare), so a machine whose load changes slows them alike."""
    report = tt.perf.compare(fns, rounds=repeats, warmup=1)
    return {name: 1e3 * report[name].time.median for name in fns}


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    """A Markdown table: one column per key of the first row."""
    cols = list(rows[0])
    cells = [[_cell(c) for c in r.values()] for r in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(cols)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    print(flush=True)


# ---------------------------------------------------------------------- the measurements


def _cell(value: Any) -> str:
    """Numbers to 4 significant digits (integers in full), everything else as str."""
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):,.4g}"
    return str(value)


def measure(key: str, cfg: Config) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """(accuracy and size row, speed row, ablation rows) of one milestone."""
    title, dataset, _, _ = MILESTONES[key]
    train_loader, test_loader = loaders(dataset, cfg)
    model, epoch = load_milestone(key, cfg.checkpoints)
    logits_f, targets = predict(model, test_loader)
    train_loader.generator = np.random.default_rng(cfg.seed)  # every model and variant calibrates on the same batches
    calibration = _first(train_loader, cfg.calibration_batches * train_loader.batch_size)
    qmodel = quantize_model(model, calibration, cfg.calibration_batches, observer=cfg.observer)
    logits_q, _ = predict(qmodel, test_loader)
    acc_f, acc_q = (logits_f.argmax(1) == targets).mean(), (logits_q.argmax(1) == targets).mean()
    size = {
        "model": title, "epochs": epoch, "float MB": model_nbytes(model) / 1e6, "int8 MB": model_nbytes(qmodel) / 1e6,
        "x smaller": model_nbytes(model) / model_nbytes(qmodel), "float acc %": 100 * acc_f, "int8 acc %": 100 * acc_q,
        "change (points)": 100 * (acc_q - acc_f), "same prediction %": 100 * (logits_q.argmax(1) == logits_f.argmax(1)).mean(),
        "logit rel. error %": 100 * np.linalg.norm(logits_q - logits_f) / np.linalg.norm(logits_f),
    }  # fmt: skip
    x = tt.tensor(np.concatenate([b[0].data for b in _first(test_loader, 256)])[:256])  # (256, C, H, W)
    with tt.no_grad():
        variants = {"float ms": lambda: model(x), "int8 (blas) ms": lambda: qmodel(x)}
        if cfg.int32:
            slow = quantize_model(model, calibration, cfg.calibration_batches, observer=cfg.observer, method="int32")
            variants["int8 (int32) ms"] = lambda: slow(x)
        speed = {"model": title, **median_ms(variants, cfg.repeats)}
    speed["int8 (blas) / float"] = speed["int8 (blas) ms"] / speed["float ms"]
    ablation = []
    if cfg.ablation:
        for observer in ("minmax", "moving_average", "percentile"):
            for per_channel in (True, False):
                q = quantize_model(model, calibration, cfg.calibration_batches, per_channel=per_channel, observer=observer)
                ablation.append({"model": title, "observer": observer, "weights": "per channel" if per_channel else "per tensor",
                                 "int8 acc %": 100 * accuracy(q, test_loader), "float acc %": 100 * acc_f})  # fmt: skip
    return size, speed, ablation


def _first(loader: DataLoader, n: int) -> list:
    """The loader's first batches, enough for n samples."""
    batches, count = [], 0
    for batch in loader:
        batches.append(batch)
        count += len(batch[1].data)
        if count >= n:
            break
    return batches


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    cfg = parse_config(Config, __doc__, argv)
    keys = [k.strip() for k in cfg.models.split(",") if k.strip()]
    unknown = [k for k in keys if k not in MILESTONES]
    if unknown:
        raise SystemExit(f"unknown milestones {unknown}; choose from {sorted(MILESTONES)}")
    sizes, speeds, ablations = [], [], []
    for key in keys:
        if not (Path(cfg.checkpoints) / MILESTONES[key][3]).exists():
            print(f"skipping {key}: no {MILESTONES[key][3]} in {cfg.checkpoints} (train it with its milestone script)")
            continue
        print(f"quantizing {MILESTONES[key][0]} ...", flush=True)
        size, speed, ablation = measure(key, cfg)
        sizes.append(size), speeds.append(speed), ablations.extend(ablation)
    if not sizes:
        raise SystemExit("no milestone checkpoint found")
    print(f"\nAccuracy and size (test set; activations calibrated by {cfg.observer} on {cfg.calibration_batches} batches):")
    print_table(sizes)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"Inference time, batch of 256, median of {cfg.repeats} runs (NumPy {np.__version__}, {os.cpu_count()} CPUs, load {load}):"
    )
    print_table(speeds)
    if ablations:
        print("Observers and weight granularity (test accuracy):")
        print_table(ablations)
    print("* CIFAR-10 here is the JPEG q75 copy of the official images (see ../shared/data/README.md).")
    return sizes


if __name__ == "__main__":
    main()
