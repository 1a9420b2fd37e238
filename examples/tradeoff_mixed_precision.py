"""Mixed precision against float32, measured on the Fashion-MNIST MLP (784-256-128-10).

The float16 run stores the model, its activations and its gradients in float16 and computes in
float16; tinytorch.amp.MasterWeights keeps float32 copies that SGD updates (a float16 weight
cannot take an update smaller than its last bit), and GradScaler multiplies the loss so small
gradients do not vanish in float16, skipping a step and halving the scale when a gradient
overflows. The loss (softmax and cross-entropy of the 10 logits) is computed in float32, as
PyTorch's autocast does: the scale itself, 2^16, is more than float16 can hold. Both runs start from the same weights and see the same batches in the same order.

Measured: bytes by category from the recorder's traced last step (parameters, gradients,
optimizer state at the step's end; the activation peak during it), the float32 masters and their
gradients, test accuracy after training, steps the scaler skipped and its final scale, training
wall time, and one training step of each timed in alternating rounds (tinytorch.perf.compare).
NumPy has no float16 BLAS: its float16 matrix multiply is a plain loop, many times slower than
float32, so on a CPU float16 saves memory and costs time. --limit keeps the run to minutes.

    python examples/tradeoff_mixed_precision.py [--data ROOT] [--epochs 2] [--limit 20000] [--logdir runs]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from common import arg, channel_stats, parse_config, warmup_cosine
from fashion_mnist import mlp
from tradeoff_accumulation import kb, step_memory, threads_note

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.amp import GradScaler, MasterWeights


@dataclass
class Config:
    data: str | None = arg(None, "Fashion-MNIST root; None: $TINYTORCH_DATA, else the known local copies", type=str)
    epochs: int = arg(2, "training epochs")
    limit: int = arg(20000, "training images used (0: all 60,000); the test set is always whole")
    test_limit: int = arg(0, "test images used (0: all 10,000)")
    batch_size: int = arg(128, "batch size")
    lr: float = arg(0.05, "SGD learning rate at the start of the cosine (momentum 0.9)")
    init_scale: float = arg(2.0**16, "GradScaler's initial loss scale")
    growth_interval: int = arg(2000, "clean steps before the scale doubles")
    rounds: int = arg(5, "timing rounds of one training step, float32 and float16 alternating")
    logdir: str = arg("runs", "folder of the runs")
    seed: int = arg(0, "seed of the weights and of the batch order")


def load(cfg: Config) -> dict[str, np.ndarray]:
    """Training and test images as float32 (N, 1, 28, 28), normalised with the training set's statistics."""
    from tinytorch.datasets import FashionMNIST

    train, test = FashionMNIST(cfg.data, train=True), FashionMNIST(cfg.data, train=False)
    (mean,), (std,) = channel_stats(train.data)
    limits = {"train": cfg.limit or None, "test": cfg.test_limit or None}

    def prepare(images: np.ndarray) -> np.ndarray:
        return ((images.astype(np.float32) / 255 - mean) / std).astype(np.float32)[:, None]  # (N, 1, 28, 28)

    return dict(x=prepare(train.data[: limits["train"]]), y=train.targets[: limits["train"]].astype(np.int64),
                x_test=prepare(test.data[: limits["test"]]), y_test=test.targets[: limits["test"]].astype(np.int64))  # fmt: skip


@tt.no_grad()
def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, dtype: type, batch: int = 1000) -> float:
    model.eval()
    correct = sum(int((model(tt.Tensor(x[i : i + batch].astype(dtype))).data.argmax(1) == y[i : i + batch]).sum())
                  for i in range(0, len(x), batch))  # fmt: skip
    model.train()
    return correct / len(x)


class Float32:
    """Plain float32 training: one optimizer on the model."""

    dtype = np.float32

    def __init__(self, model: nn.Module, lr: float) -> None:
        self.model, self.optimizer = model, tt.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        self.optimizer.zero_grad()
        loss = F.cross_entropy(self.model(tt.Tensor(x)), tt.Tensor(y))
        loss.backward()
        self.optimizer.step()
        return float(loss.item())


class Float16:
    """float16 model, float32 masters updated by the optimizer, dynamic loss scaling."""

    dtype = np.float16

    def __init__(self, model: nn.Module, lr: float, init_scale: float, growth_interval: int) -> None:
        self.model = model
        self.masters = MasterWeights(model, lambda params: tt.optim.SGD(params, lr=lr, momentum=0.9))
        self.optimizer = self.masters.optimizer
        self.scaler = GradScaler(init_scale=init_scale, growth_interval=growth_interval)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        self.masters.zero_grad()
        logits = self.model(tt.Tensor(x.astype(np.float16)))  # (N, 10) float16
        loss = F.cross_entropy(logits.float(), tt.Tensor(y))  # softmax and loss in float32, as autocast does
        self.scaler.scale(loss).backward()  # the scaled gradient enters the float16 model at the logits
        self.masters.step(self.scaler)  # skipped (and the scale halved) if a gradient overflowed
        return float(loss.item())


def train(variant: Float32 | Float16, data: dict[str, np.ndarray], cfg: Config, name: str) -> dict[str, Any]:
    """cfg.epochs epochs recorded into logdir/name (the last step traced: by then every buffer
    exists, even if the scaler skipped the first steps); test accuracy after each epoch."""
    n, b = len(data["x"]), cfg.batch_size
    steps = cfg.epochs * (n // b)
    scheduler = warmup_cosine(variant.optimizer, total_steps=steps)
    order = np.random.default_rng(cfg.seed)
    config = dict(dtype=np.dtype(variant.dtype).name, epochs=cfg.epochs, train_images=n, batch_size=b, lr=cfg.lr)
    accuracies, seconds = [], 0.0
    with tt.record(Path(cfg.logdir) / name, model=variant.model, optimizer=variant.optimizer, every=10, trace_steps=(steps - 1,),
                   config=config) as run:  # fmt: skip
        for _ in range(cfg.epochs):
            perm = order.permutation(n)
            start = time.perf_counter()
            for i in range(n // b):
                rows = perm[i * b : (i + 1) * b]
                run.step(variant.step(data["x"][rows], data["y"][rows]))
                scheduler.step()
            seconds += time.perf_counter() - start
            accuracies.append(accuracy(variant.model, data["x_test"], data["y_test"], variant.dtype))
            run.log("val/accuracy", accuracies[-1])
    dtypes = sorted({str(p.dtype) for p in variant.model.parameters()})
    return dict(
        run=run.path, memory=step_memory(run.path, steps - 1), accuracy=accuracies, seconds=seconds, steps=steps, dtypes=dtypes
    )


def measure(cfg: Config, data: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    data = data if data is not None else load(cfg)
    tt.manual_seed(cfg.seed)
    full, half = mlp(), mlp()
    half.load_state_dict(full.state_dict())  # the same starting weights
    variants = {
        "float32": Float32(full, cfg.lr),
        "float16 + fp32 masters": Float16(half, cfg.lr, cfg.init_scale, cfg.growth_interval),
    }
    results = {name: train(v, data, cfg, f"mixed-precision-{name.split()[0]}") for name, v in variants.items()}
    amp = variants["float16 + fp32 masters"]
    masters = amp.masters.master
    results["float16 + fp32 masters"].update(
        master_bytes=amp.masters.nbytes()["master"], master_grad_bytes=sum(m.grad.data.nbytes for m in masters if m.grad is not None),
        skipped=amp.scaler.skipped, scale=amp.scaler.get_scale(),
        finite=all(bool(np.isfinite(p.data).all()) for p in [*half.parameters(), *masters]),
    )  # fmt: skip
    results["float32"].update(finite=all(bool(np.isfinite(p.data).all()) for p in full.parameters()))
    x, y = data["x"][: cfg.batch_size], data["y"][: cfg.batch_size]
    timing = tt.perf.compare({name: (lambda v=v: v.step(x, y)) for name, v in variants.items()}, baseline="float32",
                             rounds=cfg.rounds, warmup=1)  # fmt: skip
    return dict(results=results, timing=timing, batch_size=cfg.batch_size)


def table(out: dict[str, Any]) -> str:
    rows = ["| variant | parameters | gradients | optimizer state | activation peak | fp32 masters + their grads | test accuracy | skipped steps | final scale | training time | one step (median, IQR) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, r in out["results"].items():
        end, t = r["memory"]["end"], out["timing"][name].time
        masters = f"{kb(r['master_bytes'])} + {kb(r['master_grad_bytes'])}" if "master_bytes" in r else "-"
        acc = " / ".join(f"{100 * a:.2f}%" for a in r["accuracy"])
        rows.append(f"| {name} | {kb(end.get('parameter', 0))} | {kb(end.get('gradient', 0))} | {kb(end.get('optimizer_state', 0))} | "
                    f"{kb(r['memory']['max']['activation'])} | {masters} | {acc} | {r.get('skipped', '-')} | {r.get('scale', '-')} | "
                    f"{r['seconds']:.1f} s ({r['steps']} steps) | {1e3 * t.median:.1f} ms ({1e3 * t.iqr:.1f}) |")  # fmt: skip
    ratio = out["timing"]["float16 + fp32 masters"].ratio
    slow = [1 / v for v in ratio.samples]
    full, half = out["results"]["float32"], out["results"]["float16 + fp32 masters"]
    notes = [
        "test accuracy after each epoch; memory at the end of the traced last step (activation: its peak during the step)",
        f"float16 step time: {1 / ratio.median:.1f}x float32's (per round {min(slow):.1f}-{max(slow):.1f}, "
        f"{out['timing'].rounds} alternating rounds of one batch of {out['batch_size']})",
        f"float16 parameters {half['memory']['end'].get('parameter', 0) / full['memory']['end'].get('parameter', 1):.2f}x float32's; "
        f"float16 model + fp32 masters {(half['memory']['end'].get('parameter', 0) + half['master_bytes']) / full['memory']['end'].get('parameter', 1):.2f}x; "
        f"activation peak {half['memory']['max']['activation'] / max(1, full['memory']['max']['activation']):.2f}x",
        "the recorder counts the fp32 masters as parameters and their gradients as gradients (the optimizer steps them)",
        threads_note(),
        f"runs: {full['run']} and {half['run']}",
    ]  # fmt: skip
    return "\n".join(rows) + "\n\n" + "\n".join(notes)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    cfg = parse_config(Config, __doc__, argv)
    out = measure(cfg)
    print(table(out), flush=True)
    return out


if __name__ == "__main__":
    main()
