"""Small two-class point sets that need no download: float32 points (N, dim), int64 labels in {0, 1},
classes balanced and shuffled, the same for the same seed."""

from __future__ import annotations

import numpy as np

from ..data.dataset import ArrayDataset


def _dataset(points: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> ArrayDataset:
    order = rng.permutation(len(labels))  # interleave the classes, so an unshuffled loader sees both
    return ArrayDataset(points[order].astype(np.float32), labels[order].astype(np.int64))


def _labels(n: int) -> np.ndarray:
    return np.arange(n) % 2  # balanced: the first class gets the odd one out


def linearly_separable(n: int = 200, dim: int = 2, margin: float = 0.5, seed: int = 0) -> ArrayDataset:
    """Gaussian points split by a random hyperplane through 0, each class pushed margin/2 off it (the perceptron's data)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(dim)
    w /= np.linalg.norm(w)  # unit normal, so x @ w is the signed distance to the plane
    x = rng.standard_normal((n, dim))
    y = _labels(n)
    side = np.where(y == 1, 1.0, -1.0)
    distance = np.abs(x @ w) + margin / 2  # (n,): at least margin / 2 from the plane, on the label's side
    x += (side * distance - x @ w)[:, None] * w  # (n, 1) * (dim,): move each point along w only
    return _dataset(x, y, rng)


def xor(n: int = 200, noise: float = 0.1, seed: int = 0, exact: bool = False) -> ArrayDataset:
    """Points around the corners of the unit square, label = x0 XOR x1; exact=True gives just the 4 corners."""
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    if exact:
        return ArrayDataset(corners, np.array([0, 1, 1, 0], np.int64))
    rng = np.random.default_rng(seed)
    which = np.arange(n) % 4  # balanced over corners, so over classes too
    x = corners[which] + noise * rng.standard_normal((n, 2))
    return _dataset(x, (which == 1) | (which == 2), rng)


def spirals(n: int = 200, turns: float = 1.5, noise: float = 0.05, seed: int = 0) -> ArrayDataset:
    """Two interleaved spirals of radius up to 1, each winding `turns` times, one per class."""
    rng = np.random.default_rng(seed)
    y = _labels(n)
    t = rng.uniform(0.1, 1.0, n)  # radius; the centre is left out, where the arms meet
    angle = 2 * np.pi * turns * t + np.pi * y  # the second arm is the first turned by half a circle
    x = t[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # (n, 2)
    return _dataset(x + noise * rng.standard_normal((n, 2)), y, rng)


def moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> ArrayDataset:
    """Two interleaving half circles, as scikit-learn's make_moons: (cos t, sin t) and (1 - cos t, 0.5 - sin t)."""
    rng = np.random.default_rng(seed)
    y = _labels(n)
    t = np.pi * rng.uniform(0, 1, n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)  # (n, 2)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where(y[:, None] == 0, upper, lower)
    return _dataset(x + noise * rng.standard_normal((n, 2)), y, rng)
