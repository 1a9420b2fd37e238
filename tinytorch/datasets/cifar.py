"""CIFAR-10 from the official "python version": <root>/cifar-10-batches-py/data_batch_1..5,
test_batch, batches.meta, each a pickled dict with b"data" uint8 (N, 3072) and b"labels"."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..data.dataset import ArrayDataset
from ._files import DatasetError, extract_tar, load_pickle, resolve_root
from ._files import download as download_file


def _field(batch: Any, key: str, path: Path) -> Any:
    """batch[b"key"] (the official Python 2 pickles) or batch["key"] (Python 3 ones)."""
    if isinstance(batch, dict):
        for k in (key.encode(), key):
            if k in batch:
                return batch[k]
    keys = sorted(map(repr, batch)) if isinstance(batch, dict) else type(batch).__name__
    raise DatasetError(f"{path}: expected a dict with key b{key!r}, found {keys}; is it a CIFAR-10 python batch?")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> images uint8 (N, 32, 32, 3) and labels int64 (N,)."""
    batch = load_pickle(path)
    data, labels = _field(batch, "data", path), np.asarray(_field(batch, "labels", path))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{path}: b'data' should be uint8 (N, 3072), got {got}")
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu" or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise DatasetError(f"{path}: b'labels' should be {len(data)} integers in 0..9, got {labels.dtype} {labels.shape}")
    # Rows hold the red, green and blue planes one after the other.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, 3, 32, 32) -> (N, 32, 32, 3)
    return images, labels.astype(np.int64)


class CIFAR10(ArrayDataset):
    """CIFAR-10: 50000 training / 10000 test images in 10 classes. `.data` is uint8 (N, 32, 32, 3),
    channels last as torchvision keeps it (ToTensor makes float32 (N, 3, 32, 32)); `.targets` int64."""

    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename, tgz_md5 = "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"
    base_folder = "cifar-10-batches-py"
    train_list = [f"data_batch_{k}" for k in range(1, 6)]
    test_list = ["test_batch"]

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        download: bool = False,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.root, self.train = resolve_root(root), train
        folder = self.root / self.base_folder
        names = [*(self.train_list if train else self.test_list), "batches.meta"]
        if download and not all((folder / n).is_file() for n in names):
            self.download()
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise DatasetError(
                f"CIFAR10: {', '.join(missing)} not found in {folder}. Run CIFAR10(root={str(self.root)!r}, download=True) "
                f"to download {self.url} (163 MB) and extract it there, or extract {self.filename} into {self.root} yourself."
            )
        parts = [_read_batch(folder / n) for n in names[:-1]]
        data = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))  # (N, 32, 32, 3), rows contiguous for fast batching
        super().__init__(data, np.concatenate([p[1] for p in parts]), transform=transform)
        self.classes = self._read_classes(folder / "batches.meta")

    @staticmethod
    def _read_classes(path: Path) -> list[str]:
        names = _field(load_pickle(path), "label_names", path)
        return [n.decode() if isinstance(n, bytes) else str(n) for n in names]

    def download(self) -> None:
        """Fetch the official archive (kept for next time), check its MD5 and extract it under root."""
        archive = download_file(self.url, self.root / self.filename, self.tgz_md5)
        extract_tar(archive, self.root)

    def __repr__(self) -> str:
        return f"CIFAR10(root={str(self.root)!r}, train={self.train}, {len(self)} images)"
