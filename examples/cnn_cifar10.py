"""A modern small CNN on CIFAR-10: three blocks of 3x3 convolution, batch normalisation, ReLU and
max pooling (32, 64, 128 channels), then two linear layers. Random crops of the image padded by 4
and horizontal flips; SGD with Nesterov momentum 0.9, weight decay 5e-4 and label smoothing 0.1;
the learning rate rises linearly to 0.05 over the first 15% of the steps, then falls along a cosine
to 0. The test set is evaluated every few epochs (--eval-every), not every step.

    python examples/cnn_cifar10.py --data /work/data [--epochs 15] [--lr 0.05] [--eval-every 5] [--seed 0]
"""

from __future__ import annotations

from dataclasses import dataclass

from common import Result, RunConfig, arg, cifar10_loaders, parse_config, report, run, seed_everything, warmup_cosine

import tinytorch as tt
from tinytorch import nn
from tinytorch.data.transforms import RandomCrop, RandomHorizontalFlip


@dataclass
class Config(RunConfig):
    epochs: int = arg(15, "training epochs")
    lr: float = arg(0.05, "peak learning rate, reached at the end of the warm-up")
    warmup: float = arg(0.15, "fraction of the steps spent warming up")
    momentum: float = arg(0.9, "SGD Nesterov momentum")
    weight_decay: float = arg(5e-4, "L2 weight decay")
    label_smoothing: float = arg(0.1, "label smoothing of the cross-entropy")
    eval_every: int = arg(5, "evaluate on the test set every this many epochs (and after the last)")
    checkpoint: str = arg("checkpoints/cnn_cifar10.npz", "checkpoint path ('' for none)")


def block(c_in: int, c_out: int) -> nn.Module:
    """(N, c_in, H, W) -> (N, c_out, H/2, W/2); no conv bias: BatchNorm's shift replaces it."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),  # (N, c_out, H, W)
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, c_out, H/2, W/2)
    )


def cnn() -> nn.Module:
    return nn.Sequential(
        block(3, 32),  # (N, 3, 32, 32) -> (N, 32, 16, 16)
        block(32, 64),  # (N, 64, 8, 8)
        block(64, 128),  # (N, 128, 4, 4)
        nn.Flatten(),  # (N, 2048)
        nn.Linear(2048, 256),  # (N, 256)
        nn.ReLU(),
        nn.Linear(256, 10),  # (N, 10) class scores
    )


def train(cfg: Config) -> Result:
    seed_everything(cfg.seed)
    loaders = cifar10_loaders(cfg, augment=[RandomCrop(32, padding=4), RandomHorizontalFlip()])
    model = cnn()
    optimizer = tt.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay)
    total = cfg.epochs * len(loaders[0])
    scheduler = warmup_cosine(optimizer, total_steps=total, warmup_steps=round(cfg.warmup * total))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    return run(model, loaders, optimizer, cfg, loss_fn=loss_fn, scheduler=scheduler)


def main(argv: list[str] | None = None) -> Result:
    cfg = parse_config(Config, __doc__, argv)
    result = train(cfg)
    report("Modern CNN on CIFAR-10", result, cfg.checkpoint)
    return result


if __name__ == "__main__":
    main()
