"""What the milestone scripts share: flags built from a config dataclass, image loaders normalised
with the training set's own statistics, the per-step warm-up + cosine schedule, the training run
(progress bar, one line per epoch, checkpoint, wall time) and the final report line.

The scripts import it as `from common import ...` (Python puts the script's folder on sys.path).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

import tinytorch as tt
from tinytorch import nn
from tinytorch.data import ArrayDataset, DataLoader
from tinytorch.data.transforms import Compose, Normalize, ToTensor
from tinytorch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR
from tinytorch.train import Callback, History, ProgressBar, Trainer

C = TypeVar("C")


def arg(default: Any, help: str, **kwargs: Any) -> Any:
    """A config field that becomes a command-line flag: arg(0.02, "peak learning rate")."""
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass
class RunConfig:
    """The flags every data-driven milestone takes; a script's Config subclasses it and sets its defaults."""

    epochs: int = arg(10, "training epochs")
    batch_size: int = arg(128, "training batch size")
    lr: float = arg(1e-3, "(peak) learning rate")
    seed: int = arg(0, "seed for initialisation, shuffling and augmentation")
    data: str | None = arg(None, "data root; None: $TINYTORCH_DATA, else ~/.cache/tinytorch/datasets", type=str)
    checkpoint: str = arg("", "where to save the checkpoint after each epoch ('' for none)")
    eval_every: int = arg(1, "evaluate on the test set every this many epochs (and after the last)")
    limit: int | None = arg(None, "use only the first N training and test images (quick checks)", type=int)
    progress: bool = arg(True, "show a progress bar per epoch")


def parse_config(cls: type[C], doc: str | None, argv: Sequence[str] | None = None) -> C:
    """One flag per field of the config dataclass (--batch-size sets batch_size); defaults from the class."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        default = f.default if f.default is not dataclasses.MISSING else None
        flag, help = "--" + f.name.replace("_", "-"), f.metadata.get("help", "")
        if isinstance(default, bool):  # --progress / --no-progress
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help)
        else:
            kind = f.metadata.get("type", type(default))
            choices = f.metadata.get("choices")
            parser.add_argument(flag, type=kind, default=default, choices=choices, help=f"{help} (default: %(default)s)")
    return cls(**vars(parser.parse_args(argv)))


# ---------------------------------------------------------------------- data


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images (N, H, W, C), or (N, H, W) for one channel, on the
    [0, 1] scale ToTensor gives. Summed in float64 chunks: a float64 copy of CIFAR-10 would be 1.2 GB."""
    pixels = images.reshape(len(images), -1, images.shape[-1] if images.ndim == 4 else 1)  # (N, H*W, C)
    total, squares, count = 0.0, 0.0, 0
    for start in range(0, len(pixels), 5000):
        chunk = pixels[start : start + 5000].astype(np.float64) / 255  # (n, H*W, C)
        total = total + chunk.sum(axis=(0, 1))
        squares = squares + (chunk**2).sum(axis=(0, 1))
        count += chunk.shape[0] * chunk.shape[1]
    mean = total / count
    std = np.sqrt(squares / count - mean**2)
    return mean.tolist(), std.tolist()


def image_loaders(
    train: ArrayDataset, test: ArrayDataset, cfg: RunConfig, augment: Sequence[Callable] = ()
) -> tuple[DataLoader, DataLoader]:
    """Shuffled training batches and ordered test batches of float32 (N, C, H, W): pixels scaled to
    [0, 1], augmented (training only), then normalised with the training images' mean and std."""
    limit = cfg.limit
    mean, std = channel_stats(train.data[:limit])
    print(f"training set: {len(train.data[:limit])} images, per-channel mean {np.round(mean, 4)}, std {np.round(std, 4)}")
    train_tf = Compose([ToTensor(), *augment, Normalize(mean, std)])
    test_tf = Compose([ToTensor(), Normalize(mean, std)])
    train_set = ArrayDataset(train.data[:limit], train.targets[:limit], transform=train_tf)
    test_set = ArrayDataset(test.data[:limit], test.targets[:limit], transform=test_tf)
    # The loader's own seeded generator orders the epochs, and the checkpoint saves its state.
    return DataLoader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed), DataLoader(test_set, 500)


def cifar10_loaders(cfg: RunConfig, augment: Sequence[Callable] = ()) -> tuple[DataLoader, DataLoader]:
    """CIFAR-10 from cfg.data (the official python batches); see image_loaders."""
    from tinytorch.datasets import CIFAR10

    return image_loaders(CIFAR10(cfg.data, train=True), CIFAR10(cfg.data, train=False), cfg, augment)


def fashion_mnist_loaders(cfg: RunConfig, augment: Sequence[Callable] = ()) -> tuple[DataLoader, DataLoader]:
    """Fashion-MNIST from cfg.data, or Debian's /usr/share/datasets/fashion-mnist; see image_loaders."""
    from tinytorch.datasets import FashionMNIST

    return image_loaders(FashionMNIST(cfg.data, train=True), FashionMNIST(cfg.data, train=False), cfg, augment)


# ---------------------------------------------------------------------- schedule


def warmup_cosine(optimizer: tt.optim.Optimizer, total_steps: int, warmup_steps: int = 0) -> LRScheduler:
    """A per-step schedule (step() after every optimizer step): the lr rises linearly to the base lr
    over warmup_steps, then falls along a cosine to 0 at total_steps. warmup_steps=0: cosine only."""
    cosine = CosineAnnealingLR(optimizer, T_max=max(1, total_steps - warmup_steps))
    if warmup_steps <= 0:
        return cosine
    warmup = LinearLR(optimizer, start_factor=1 / warmup_steps, total_iters=warmup_steps)  # base / W ... base
    return SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])


# ---------------------------------------------------------------------- the run


@dataclass
class Result:
    """What a milestone's train() returns."""

    test_accuracy: float
    seconds: float  # wall time of training and evaluation (data loading not included)
    history: History
    model: nn.Module
    extra: dict[str, float] = field(default_factory=dict)  # what a milestone reports besides (e.g. the single layer's accuracy)


class EpochLine(Callback):
    """One plain line per epoch on stdout (the log keeps it; the progress bar only redraws)."""

    def on_epoch_end(self, trainer: Trainer, m: dict[str, Any]) -> None:
        test = f"  test loss {m['val_loss']:.4f} acc {100 * m['val_accuracy']:.2f}%" if "val_accuracy" in m else ""
        print(
            f"epoch {m['epoch']:>3}/{trainer.epochs}  train loss {m['train_loss']:.4f} acc {100 * m['train_accuracy']:.2f}%"
            f"{test}  lr {m['lr']:.4g}  {m['time']:.1f} s  {m['samples_per_s']:,.0f} samples/s",
            flush=True,
        )


def run(
    model: nn.Module,
    loaders: tuple[DataLoader, DataLoader],
    optimizer: tt.optim.Optimizer,
    cfg: RunConfig,
    loss_fn: Callable | None = None,
    scheduler: LRScheduler | None = None,
) -> Result:
    """Train with tinytorch.train's Trainer (a scheduler steps every optimizer step), evaluating on
    the test set every cfg.eval_every epochs and after the last; save the checkpoint after each epoch."""
    train_loader, test_loader = loaders
    checkpoint = Path(cfg.checkpoint) if cfg.checkpoint else None
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters; {len(train_loader)} steps per epoch", flush=True)
    # The bar first: it clears its line at the epoch's end before EpochLine prints one.
    callbacks: list[Callback] = [ProgressBar(leave=False, mininterval=1.0)] if cfg.progress else []
    callbacks.append(EpochLine())
    trainer = Trainer(
        model, optimizer, loss_fn or nn.CrossEntropyLoss(), scheduler=scheduler, scheduler_interval="step",
        callbacks=callbacks, progress=False,
    )  # fmt: skip
    start = time.perf_counter()
    history = trainer.fit(train_loader, cfg.epochs, val_loader=test_loader, eval_every=cfg.eval_every, checkpoint=checkpoint)
    seconds = time.perf_counter() - start
    return Result(history.epochs[-1]["val_accuracy"], seconds, history, model)


def report(name: str, result: Result, checkpoint: str = "") -> None:
    """The last line of every milestone: test accuracy and wall time."""
    saved = f" | checkpoint {checkpoint}" if checkpoint else ""
    print(f"{name}: test accuracy {100 * result.test_accuracy:.2f}% | wall time {result.seconds:.1f} s{saved}", flush=True)


def seed_everything(seed: int) -> None:
    """tinytorch's generator (initialisation, dropout, augmentation) and NumPy's legacy global one."""
    tt.manual_seed(seed)
    np.random.seed(seed)


if __name__ == "__main__":
    sys.exit("common.py holds shared helpers; run one of the milestone scripts instead")
