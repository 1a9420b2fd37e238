"""1969, XOR: Minsky and Papert showed a single-layer perceptron cannot learn XOR; a hidden
layer solves it. This trains both on the four XOR points and prints what each learned.

    python examples/xor_1969.py [--epochs 2000] [--hidden 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import tinytorch as tt
from tinytorch import nn

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def train(model: nn.Module, epochs: int, lr: float) -> float:
    """Full-batch training with binary cross-entropy; returns the accuracy on the 4 points."""
    opt = tt.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    x, y = tt.tensor(X), tt.tensor(Y)
    for _ in range(epochs):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with tt.no_grad():
        predicted = (model(x).data > 0).astype(np.float32)
    return float((predicted == Y).mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=2000)
    p.add_argument("--hidden", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    tt.manual_seed(args.seed)
    start = time.perf_counter()
    single = train(nn.Linear(2, 1), args.epochs, args.lr)
    print(f"single layer (perceptron): accuracy {single:.0%}  (a line cannot separate XOR)")
    mlp = nn.Sequential(nn.Linear(2, args.hidden), nn.Tanh(), nn.Linear(args.hidden, 1))
    two = train(mlp, args.epochs, args.lr)
    print(f"two layers ({args.hidden} hidden units): accuracy {two:.0%}")
    print(f"wall time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
