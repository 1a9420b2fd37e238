"""Fashion-MNIST, Zalando's drop-in replacement for MNIST (28x28 grey clothing in 10 classes), with
two models: --model mlp (784-256-128-10, SGD momentum 0.9, cosine from 0.05 over 10 epochs, set
every step) or --model cnn (two 3x3 convolution + pooling stages, then 128 units; Adam 1e-3, 8
epochs). Inputs are normalised with the training set's mean and std. --epochs and --lr override
the model's defaults.

    python examples/fashion_mnist.py --model mlp|cnn [--data ROOT] [--epochs N] [--lr LR] [--seed 0]
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from common import Result, RunConfig, arg, fashion_mnist_loaders, parse_config, report, run, seed_everything, warmup_cosine

import tinytorch as tt
from tinytorch import nn

DEFAULTS = {"mlp": {"epochs": 10, "lr": 0.05}, "cnn": {"epochs": 8, "lr": 1e-3}}  # the two recipes


@dataclass
class Config(RunConfig):
    model: str = arg("mlp", "which model", choices=["mlp", "cnn"])
    epochs: int | None = arg(None, "training epochs; None: 10 for the MLP, 8 for the CNN", type=int)
    lr: float | None = arg(None, "learning rate; None: 0.05 (MLP, start of the cosine), 1e-3 (CNN, Adam)", type=float)
    momentum: float = arg(0.9, "SGD momentum (MLP)")
    checkpoint: str = arg("checkpoints/fashion_mnist_{model}.npz", "checkpoint path ('' for none)")

    def resolved(self) -> Config:
        """The config with the chosen model's defaults filled in."""
        chosen = {k: v for k, v in DEFAULTS[self.model].items() if getattr(self, k) is None}
        return replace(self, **chosen, checkpoint=self.checkpoint.format(model=self.model))


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),  # (N, 1, 28, 28) -> (N, 784)
        nn.Linear(784, 256),  # (N, 256)
        nn.ReLU(),
        nn.Linear(256, 128),  # (N, 128)
        nn.ReLU(),
        nn.Linear(128, 10),  # (N, 10) class scores
    )


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),  # (N, 1, 28, 28) -> (N, 32, 28, 28)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 32, 14, 14)
        nn.Conv2d(32, 64, 3, padding=1),  # (N, 64, 14, 14)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 64, 7, 7)
        nn.Flatten(),  # (N, 3136)
        nn.Linear(3136, 128),  # (N, 128)
        nn.ReLU(),
        nn.Linear(128, 10),  # (N, 10) class scores
    )


def train(cfg: Config) -> Result:
    cfg = cfg.resolved()
    seed_everything(cfg.seed)
    loaders = fashion_mnist_loaders(cfg)
    if cfg.model == "mlp":
        model = mlp()
        optimizer = tt.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
        scheduler = warmup_cosine(optimizer, total_steps=cfg.epochs * len(loaders[0]))
    else:
        model = cnn()
        optimizer, scheduler = tt.optim.Adam(model.parameters(), lr=cfg.lr), None
    return run(model, loaders, optimizer, cfg, scheduler=scheduler)


def main(argv: list[str] | None = None) -> Result:
    cfg = parse_config(Config, __doc__, argv).resolved()
    result = train(cfg)
    report(f"Fashion-MNIST {cfg.model.upper()}", result, cfg.checkpoint)
    return result


if __name__ == "__main__":
    main()
