"""Low-rank factorization of Linear layers by truncated SVD.

W (out, in) = U S V^T. Keeping the r largest singular values gives W_r = U_r S_r V_r^T, the best
rank-r approximation in the Frobenius norm (Eckart-Young), with relative error
    ||W - W_r|| / ||W|| = sqrt(sum_{i>r} s_i^2 / sum_i s_i^2).
As layers: x -> x V_r sqrt(S_r) (Linear(in, r), no bias) -> U_r sqrt(S_r) (Linear(r, out) + b):
r (in + out) weights instead of in * out, fewer whenever r < in out / (in + out).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..nn.container import Sequential
from ..nn.layers import Linear
from ..nn.module import Module


def low_rank(linear: Linear, rank: int) -> Sequential:
    """Sequential(Linear(in, rank, bias=False), Linear(rank, out)) computing x W_r^T + b, W_r the
    rank-`rank` truncated SVD of linear.weight; sqrt(S) is split evenly between the two factors."""
    if not isinstance(linear, Linear):
        raise TypeError(f"low_rank factorizes an nn.Linear, got {type(linear).__name__}")
    out_features, in_features = linear.weight.shape
    limit = min(out_features, in_features)
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 1 <= rank <= limit:
        raise ValueError(
            f"rank must be an integer in [1, min(out, in) = {limit}] for a weight of shape {tuple(linear.weight.shape)}, got {rank!r}"
        )
    dtype = linear.weight.dtype
    u, s, vt = np.linalg.svd(linear.weight.data.astype(np.float64), full_matrices=False)  # (out, k), (k,), (k, in)
    root = np.sqrt(s[:rank])
    first = Linear(in_features, rank, bias=False, dtype=dtype)
    second = Linear(rank, out_features, bias=linear.bias is not None, dtype=dtype)
    first.weight.data[...] = root[:, None] * vt[:rank]  # (rank, in)
    second.weight.data[...] = u[:, :rank] * root  # (out, rank)
    if linear.bias is not None:
        second.bias.data[...] = linear.bias.data
    return Sequential(first, second)


def svd_tail_error(weight: Any, rank: int) -> float:
    """sqrt(sum_{i>rank} s_i^2 / sum_i s_i^2): the relative Frobenius error of the best rank-`rank` approximation."""
    s = np.linalg.svd(np.asarray(getattr(weight, "data", weight), np.float64), compute_uv=False)
    return float(np.sqrt((s[rank:] ** 2).sum() / (s**2).sum()))


def relative_error(linear: Linear, factored: Sequential) -> float:
    """||W - W2 W1||_F / ||W||_F, measured on the factor weights themselves."""
    w = linear.weight.data.astype(np.float64)
    approx = factored[1].weight.data.astype(np.float64) @ factored[0].weight.data.astype(np.float64)  # (out, r) @ (r, in)
    return float(np.linalg.norm(w - approx) / np.linalg.norm(w))


def low_rank_model(model: Module, rank: int, modules: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Replace Linear layers of the model, in place, by their rank-`rank` factorization and return
    one row per layer: {"layer", "shape", "rank", "parameters", "parameters_after", "relative_error"}.

    modules: dotted names of the layers to factor; default every Linear that the rank makes smaller
    (rank (in + out) < in out); an explicitly named layer the rank cannot fit raises."""
    named = dict(model.named_modules())
    if modules is None:
        names = [n for n, m in named.items() if isinstance(m, Linear) and n and rank * sum(m.weight.shape) < m.weight.data.size]
        if not names:
            raise ValueError(f"no Linear layer of {type(model).__name__} gets smaller at rank {rank}")
    else:
        names = list(modules)
        for n in names:
            if not isinstance(named.get(n), Linear):
                raise ValueError(f"{n!r} is not the name of a Linear layer of the model")
    rows = []
    for n in names:
        linear = named[n]
        factored = low_rank(linear, rank)
        parent, _, child = n.rpartition(".")
        named[parent].add_module(child, factored)  # the same key: a Sequential keeps its order
        rows.append({
            "layer": n, "shape": tuple(linear.weight.shape), "rank": rank,
            "parameters": sum(p.data.size for p in linear.parameters()),
            "parameters_after": sum(p.data.size for p in factored.parameters()),
            "relative_error": relative_error(linear, factored),
        })  # fmt: skip
    return rows
