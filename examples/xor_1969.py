"""1969, XOR: Minsky and Papert showed that a single-layer perceptron cannot learn XOR (no line
separates (0,1), (1,0) from (0,0), (1,1)); a hidden layer solves it. This trains both, a single
linear layer and a 2-layer MLP, with binary cross-entropy and Adam, and prints what each learned.
By default the data are the four corners; --noisy uses tinytorch.datasets.xor, noisy points
around the corners, with a held-out fifth as the test set.

    python examples/xor_1969.py [--epochs 2000] [--hidden 4] [--lr 0.05] [--noisy] [--seed 0]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from common import Result, arg, parse_config, report, seed_everything

import tinytorch as tt
from tinytorch import nn
from tinytorch.data import DataLoader, random_split
from tinytorch.datasets import xor
from tinytorch.train import History, save_checkpoint


@dataclass
class Config:
    epochs: int = arg(2000, "passes over the training points")
    batch_size: int = arg(256, "points per step (the default takes all of them: full-batch training)")
    lr: float = arg(0.05, "Adam learning rate")
    hidden: int = arg(4, "hidden units of the MLP")
    noisy: bool = arg(False, "noisy points around the corners instead of the four corners")
    n: int = arg(400, "points of the noisy set")
    noise: float = arg(0.15, "standard deviation of the noise")
    seed: int = arg(0, "seed of initialisation, data and shuffling")
    checkpoint: str = arg("checkpoints/xor_1969.npz", "checkpoint path of the MLP ('' for none)")


def fit_xor(model: nn.Module, train_loader: DataLoader, cfg: Config, name: str) -> History:
    """Minibatch training with binary cross-entropy on the logit; a line every epochs/4 epochs."""
    optimizer = tt.optim.Adam(model.parameters(), lr=cfg.lr)
    loss_fn, history = nn.BCEWithLogitsLoss(), History()
    for epoch in range(1, cfg.epochs + 1):
        total = count = 0.0
        for x, y in train_loader:  # x (B, 2), y (B,) int64
            loss = loss_fn(model(x), y.float().unsqueeze(1))  # logits (B, 1) against targets (B, 1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(y), count + len(y)
        history.epochs.append({"epoch": epoch, "train_loss": total / count})
        if epoch % max(1, cfg.epochs // 4) == 0 or epoch == cfg.epochs:
            print(f"{name}: epoch {epoch:>5}/{cfg.epochs}  loss {total / count:.4f}", flush=True)
    return history


def accuracy(model: nn.Module, loader: DataLoader) -> float:
    correct = total = 0
    with tt.no_grad():
        for x, y in loader:
            correct += int(((model(x).squeeze(1) > 0).long() == y).sum().item())  # logit > 0 means class 1
            total += len(y)
    return correct / total


def train(cfg: Config) -> Result:
    seed_everything(cfg.seed)
    if cfg.noisy:
        train_set, test_set = random_split(xor(n=cfg.n, noise=cfg.noise, seed=cfg.seed), [0.8, 0.2])
    else:
        train_set = test_set = xor(exact=True)  # the four corners are the whole problem
    loader = DataLoader(train_set, cfg.batch_size, shuffle=True, seed=cfg.seed)
    test_loader = DataLoader(test_set, 256)
    start = time.perf_counter()

    single = nn.Linear(2, 1)  # (N, 2) -> (N, 1): one line through the plane
    fit_xor(single, loader, cfg, "single layer")
    single_acc = accuracy(single, test_loader)
    print(f"single layer (perceptron): test accuracy {100 * single_acc:.1f}%  (a line cannot separate XOR)")

    mlp = nn.Sequential(
        nn.Linear(2, cfg.hidden),  # (N, 2) -> (N, hidden)
        nn.Tanh(),
        nn.Linear(cfg.hidden, 1),  # (N, 1) logit of class 1
    )
    history = fit_xor(mlp, loader, cfg, "2-layer MLP")
    mlp_acc = accuracy(mlp, test_loader)
    print(f"two layers ({cfg.hidden} hidden units): test accuracy {100 * mlp_acc:.1f}%")
    seconds = time.perf_counter() - start
    if cfg.checkpoint:
        Path(cfg.checkpoint).parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(cfg.checkpoint, mlp, epoch=cfg.epochs, history=history, extra={"single_layer_accuracy": single_acc})
    return Result(mlp_acc, seconds, history, mlp, {"single_layer_accuracy": single_acc})


def main(argv: list[str] | None = None) -> Result:
    cfg = parse_config(Config, __doc__, argv)
    result = train(cfg)
    report("1969 XOR, 2-layer MLP", result, cfg.checkpoint)
    return result


if __name__ == "__main__":
    main()
