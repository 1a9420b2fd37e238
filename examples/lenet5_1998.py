"""1998, LeNet-5: LeCun, Bottou, Bengio and Haffner's deeper network (6 and 16 feature maps, then
fully connected layers of 120 and 84 units) read cheques for banks. Here it meets CIFAR-10 with
ReLU and max pooling, as today: Adam at 1e-3, inputs normalised with the training set's statistics.

    python examples/lenet5_1998.py --data /work/data [--epochs 10] [--lr 1e-3] [--seed 0]
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
    checkpoint: str = arg("checkpoints/lenet5_1998.npz", "checkpoint path ('' for none)")


def lenet5() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 6, 5),  # (N, 3, 32, 32) -> (N, 6, 28, 28)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 6, 14, 14)
        nn.Conv2d(6, 16, 5),  # (N, 16, 10, 10)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 16, 5, 5)
        nn.Flatten(),  # (N, 400)
        nn.Linear(400, 120),  # (N, 120)
        nn.ReLU(),
        nn.Linear(120, 84),  # (N, 84)
        nn.ReLU(),
        nn.Linear(84, 10),  # (N, 10) class scores
    )


def train(cfg: Config) -> Result:
    seed_everything(cfg.seed)
    loaders = cifar10_loaders(cfg)
    model = lenet5()
    optimizer = tt.optim.Adam(model.parameters(), lr=cfg.lr)
    return run(model, loaders, optimizer, cfg)


def main(argv: list[str] | None = None) -> Result:
    cfg = parse_config(Config, __doc__, argv)
    result = train(cfg)
    report("1998 LeNet-5 on CIFAR-10", result, cfg.checkpoint)
    return result


if __name__ == "__main__":
    main()
