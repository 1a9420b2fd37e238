"""1986, backpropagation: Rumelhart, Hinton and Williams trained hidden layers by propagating the
error backwards. Here a multi-layer perceptron 3072-512-256-10 with ReLU learns CIFAR-10 from raw
pixels: SGD with momentum 0.9 and weight decay 5e-4, the learning rate following a cosine from 0.02
to 0 (set every step), random horizontal flips, inputs normalised with the training set's statistics.

    python examples/mlp_1986_cifar10.py --data /work/data [--epochs 15] [--lr 0.02] [--seed 0]
"""

from __future__ import annotations

from dataclasses import dataclass

from common import Result, RunConfig, arg, cifar10_loaders, parse_config, report, run, seed_everything, warmup_cosine

import tinytorch as tt
from tinytorch import nn
from tinytorch.data.transforms import RandomHorizontalFlip


@dataclass
class Config(RunConfig):
    epochs: int = arg(15, "training epochs")
    lr: float = arg(0.02, "learning rate at the start of the cosine")
    momentum: float = arg(0.9, "SGD momentum")
    weight_decay: float = arg(5e-4, "L2 weight decay")
    checkpoint: str = arg("checkpoints/mlp_1986_cifar10.npz", "checkpoint path ('' for none)")


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),  # (N, 3, 32, 32) -> (N, 3072)
        nn.Linear(3072, 512),  # (N, 512)
        nn.ReLU(),
        nn.Linear(512, 256),  # (N, 256)
        nn.ReLU(),
        nn.Linear(256, 10),  # (N, 10) class scores
    )


def train(cfg: Config) -> Result:
    seed_everything(cfg.seed)
    loaders = cifar10_loaders(cfg, augment=[RandomHorizontalFlip()])
    model = mlp()
    optimizer = tt.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    scheduler = warmup_cosine(optimizer, total_steps=cfg.epochs * len(loaders[0]))
    return run(model, loaders, optimizer, cfg, scheduler=scheduler)


def main(argv: list[str] | None = None) -> Result:
    cfg = parse_config(Config, __doc__, argv)
    result = train(cfg)
    report("1986 MLP on CIFAR-10", result, cfg.checkpoint)
    return result


if __name__ == "__main__":
    main()
