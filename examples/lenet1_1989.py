"""1989, LeNet-1: LeCun and colleagues read handwritten zip codes with small convolutions that share
their weights across the image, each followed by subsampling. Here the same shape of network (4 and
12 feature maps of 5x5 filters, 2x2 max pooling, ReLU as today) meets CIFAR-10: Adam at 1e-3,
inputs normalised with the training set's statistics.

    python examples/lenet1_1989.py --data /work/data [--epochs 10] [--lr 1e-3] [--seed 0]
"""

from __future__ import annotations

from dataclasses import dataclass

from common import Result, RunConfig, arg, cifar10_loaders, parse_config, report, run, seed_everything

import tinytorch as tt
from tinytorch import nn


@dataclass
class Config(RunConfig):
    epochs: int = arg(10, "training epochs")
    lr: float = arg(1e-3, "Adam learning rate")
    checkpoint: str = arg("checkpoints/lenet1_1989.npz", "checkpoint path ('' for none)")


def lenet1() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 5),  # (N, 3, 32, 32) -> (N, 4, 28, 28)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 4, 14, 14)
        nn.Conv2d(4, 12, 5),  # (N, 12, 10, 10)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 12, 5, 5)
        nn.Flatten(),  # (N, 300)
        nn.Linear(300, 10),  # (N, 10) class scores
    )


def train(cfg: Config) -> Result:
    seed_everything(cfg.seed)
    loaders = cifar10_loaders(cfg)
    model = lenet1()
    optimizer = tt.optim.Adam(model.parameters(), lr=cfg.lr)
    return run(model, loaders, optimizer, cfg)


def main(argv: list[str] | None = None) -> Result:
    cfg = parse_config(Config, __doc__, argv)
    result = train(cfg)
    report("1989 LeNet-1 on CIFAR-10", result, cfg.checkpoint)
    return result


if __name__ == "__main__":
    main()
