"""Writers for tiny dataset files in the official formats, for the dataset tests."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
_IDX_TYPE = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}


def write_cifar(root: Path, train_sizes=(3, 2, 2, 1, 2), test_size: int = 4, protocol: int = 4, seed: int = 0) -> dict:
    """<root>/cifar-10-batches-py as the official archive has it; returns the rows and labels written."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    names = [f"data_batch_{k + 1}" for k in range(len(train_sizes))] + ["test_batch"]
    for name, n in zip(names, [*train_sizes, test_size]):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)  # red, green, blue planes of 32x32
        labels = [int(v) for v in rng.integers(0, 10, n)]
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data, b"filenames": [b"x.png"] * n}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        written[name] = (data, labels)
    meta = {b"label_names": [c.encode() for c in CIFAR_CLASSES], b"num_cases_per_batch": 10000, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return written


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX: 0x00 0x00, type byte, ndim, big-endian int32 dims, then the values (big-endian)."""
    code = _IDX_TYPE[array.dtype]
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def write_mnist(folder: Path, split: str = "train", n: int = 5, gz: bool = False, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """{split}-images-idx3-ubyte and {split}-labels-idx1-ubyte (plus .gz when gz) in folder."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", images, gz)
    write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", labels, gz)
    return images, labels
