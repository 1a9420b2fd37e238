"""1957, the perceptron: Rosenblatt's machine learned a linear threshold unit without gradients.
It predicts y_hat = 1 if w . x + b > 0 else 0 and, on a mistake only, moves the plane towards the
point: w += lr (y - y_hat) x, b += lr (y - y_hat). On linearly separable data it stops making
mistakes after finitely many updates (Novikoff's convergence theorem, 1962). The data are
tinytorch.datasets.linearly_separable points; a held-out fifth of them is the test set.

    python examples/perceptron_1957.py [--epochs 100] [--lr 1.0] [--batch-size 1] [--n 500] [--dim 10] [--margin 0.1] [--seed 0]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from common import Result, arg, parse_config, report, seed_everything

import tinytorch as tt
from tinytorch import nn
from tinytorch.data import DataLoader, random_split
from tinytorch.datasets import linearly_separable
from tinytorch.train import History, save_checkpoint


@dataclass
class Config:
    epochs: int = arg(100, "most passes over the training points (training stops at the first without a mistake)")
    batch_size: int = arg(1, "points per update: 1 is Rosenblatt's online rule; more sums the corrections of a batch")
    lr: float = arg(1.0, "step of each correction")
    n: int = arg(500, "points in the data set (a fifth is held out)")
    dim: int = arg(10, "dimension of the points")
    margin: float = arg(0.1, "gap between the two classes (smaller: more corrections before convergence)")
    seed: int = arg(0, "seed of the data, the split and the shuffling")
    checkpoint: str = arg("checkpoints/perceptron_1957.npz", "checkpoint path ('' for none)")


class Perceptron(nn.Module):
    """A linear threshold unit; its weights are learned by the perceptron rule, not by gradients."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(tt.zeros(dim), requires_grad=False)  # (dim,)
        self.bias = nn.Parameter(tt.zeros(()), requires_grad=False)  # ()

    def forward(self, x: tt.Tensor) -> tt.Tensor:
        return (x @ self.weight + self.bias > 0).float()  # (N, dim) @ (dim,) -> (N,) of 0. or 1.


def accuracy(model: Perceptron, loader: DataLoader) -> float:
    correct = total = 0
    for x, y in loader:
        correct += int((model(x) == y.float()).sum().item())
        total += len(y)
    return correct / total


def train(cfg: Config) -> Result:
    seed_everything(cfg.seed)
    data = linearly_separable(n=cfg.n, dim=cfg.dim, margin=cfg.margin, seed=cfg.seed)
    train_set, test_set = random_split(data, [0.8, 0.2])  # by the generator seed_everything seeded
    loader = DataLoader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed)
    model, history = Perceptron(cfg.dim), History()
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        mistakes = 0
        for x, y in loader:  # x (B, dim), y (B,) int64 in {0, 1}
            error = y.float() - model(x)  # (B,): +1 missed a 1, -1 missed a 0, 0 right
            mistakes += int((error != 0).sum().item())
            model.weight += cfg.lr * (error.unsqueeze(1) * x).sum(0)  # (B, 1) * (B, dim) -> (dim,)
            model.bias += cfg.lr * error.sum()
        history.epochs.append({"epoch": epoch, "mistakes": mistakes})
        print(f"epoch {epoch:>3}: {mistakes:>3} mistakes on {len(train_set)} training points", flush=True)
        if mistakes == 0:  # a whole pass without a correction: every training point is on its side
            break
    train_acc, test_acc = accuracy(model, DataLoader(train_set, 256)), accuracy(model, DataLoader(test_set, 256))
    seconds = time.perf_counter() - start
    converged = history.epochs[-1]["mistakes"] == 0
    updates = sum(e["mistakes"] for e in history.epochs)
    if converged:
        print(f"converged: epoch {len(history.epochs)} made no mistake ({updates} corrections in all)")
    else:
        print(f"not converged after {cfg.epochs} epochs ({updates} corrections)")
    print(f"training accuracy {100 * train_acc:.2f}% (the separable set), held-out accuracy {100 * test_acc:.2f}%")
    if cfg.checkpoint:
        Path(cfg.checkpoint).parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(cfg.checkpoint, model, epoch=len(history.epochs), history=history)
    epochs = len(history.epochs) if converged else float("nan")
    return Result(test_acc, seconds, history, model, {"train_accuracy": train_acc, "epochs_to_converge": epochs})


def main(argv: list[str] | None = None) -> Result:
    cfg = parse_config(Config, __doc__, argv)
    result = train(cfg)
    report("1957 perceptron (held-out points)", result, cfg.checkpoint)
    return result


if __name__ == "__main__":
    main()
