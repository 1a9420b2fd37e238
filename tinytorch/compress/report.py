"""How sparse a model is, and what its zeros would save if stored sparsely."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.module import Module


def sparsity_report(model: Module, total: bool = True) -> list[dict[str, Any]]:
    """One row per parameter: {"layer": dotted name, "parameters", "zeros", "sparsity"}, where
    sparsity = zeros / parameters counts exact zeros; then a "total" row unless total=False."""
    rows = []
    for name, p in model.named_parameters():
        zeros = int(p.data.size - np.count_nonzero(p.data))
        rows.append({"layer": name, "parameters": int(p.data.size), "zeros": zeros, "sparsity": zeros / max(p.data.size, 1)})
    if total:
        n, z = sum(r["parameters"] for r in rows), sum(r["zeros"] for r in rows)
        rows.append({"layer": "total", "parameters": n, "zeros": z, "sparsity": z / max(n, 1)})
    return rows


def sparse_nbytes(model: Module) -> int:
    """Bytes of the parameters stored as a bitmask (1 bit per entry: np.packbits) plus the
    nonzero values: the arrays are built and measured, not estimated."""
    total = 0
    for p in model.parameters():
        nonzero = p.data != 0
        total += np.packbits(nonzero).nbytes + p.data[nonzero].nbytes
    return total
