"""MNIST and Fashion-MNIST from the original IDX files (gzipped or not), in torchvision's
layout <root>/MNIST/raw and <root>/FashionMNIST/raw; Fashion-MNIST also comes from Debian."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..data.dataset import ArrayDataset
from ._files import DatasetError, resolve_root
from ._files import download as download_file

# IDX type byte -> element type (multi-byte values are big-endian)
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: Path) -> tuple[bytes, bool]:
    """The file's bytes, gunzipped when it starts with the gzip magic (whatever its name), and whether it was."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":
        return raw, False
    try:
        return gzip.decompress(raw), True
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DatasetError(
            f"{path}: broken gzip stream ({e}); the file is truncated or corrupt: delete it and get it again"
        ) from e


def read_idx(path: Path, ndim: int | None = None) -> np.ndarray:
    """An IDX file as an array. Layout: 0x00 0x00, a type byte, ndim; ndim big-endian int32 dims; the values."""
    raw, gzipped = _read_bytes(path)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_TYPES:
        raise DatasetError(
            f"{path}: not an IDX file: magic number {raw[:4].hex()!r}, expected 0000TTNN with type TT in {sorted(f'{t:02x}' for t in _IDX_TYPES)}"
        )
    if ndim is not None and raw[3] != ndim:
        raise DatasetError(f"{path}: expected an IDX file of {ndim} dims, the magic number says {raw[3]}")
    header = 4 + 4 * raw[3]
    if len(raw) < header:
        raise DatasetError(f"{path}: the file has {len(raw)} bytes, fewer than its {header}-byte IDX header; it is truncated")
    dims = tuple(int(d) for d in np.frombuffer(raw[4:header], ">i4"))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = header + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        unzipped = " uncompressed" if gzipped else ""
        raise DatasetError(
            f"{path}: IDX header says {raw[3]} dims {dims} of {dtype}, so {expected} bytes, but the file has {len(raw)}{unzipped} bytes; "
            "it is truncated or corrupt: delete it and get it again"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))  # a native, writable copy


class MNIST(ArrayDataset):
    """Handwritten digits 0-9: 60000 training / 10000 test images. `.data` uint8 (N, 28, 28),
    `.targets` int64 (N,), as torchvision (ToTensor makes float32 (N, 1, 28, 28))."""

    folder = "MNIST"
    mirror = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    md5 = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes = [f"{d} - {word}" for d, word in enumerate("zero one two three four five six seven eight nine".split())]
    system_dirs: tuple[Path, ...] = ()  # copies installed by a package manager, searched after root
    install_hint = ""

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        download: bool = False,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.root, self.train = resolve_root(root), train
        split = "train" if train else "t10k"
        names = (f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte")
        files = self._find(names)
        if files is None and download:
            files = self.download(names)
        if files is None:
            raise DatasetError(self._missing(names))
        images, labels = read_idx(files[0], ndim=3), read_idx(files[1], ndim=1)
        if images.dtype != np.uint8 or len(images) != len(labels):
            raise DatasetError(
                f"{type(self).__name__}: {files[0]} holds {images.dtype} {images.shape}, {files[1]} {labels.shape} labels; expected uint8 images, one label each"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise DatasetError(f"{files[1]}: labels span {labels.min()}..{labels.max()}, expected 0..{len(self.classes) - 1}")
        super().__init__(images, labels.astype(np.int64), transform=transform)

    @property
    def raw_folder(self) -> Path:
        return self.root / self.folder / "raw"

    def _find(self, names: tuple[str, ...]) -> list[Path] | None:
        """The files in the first folder that has all of them (each plain or .gz), or None."""
        for folder in (self.raw_folder, *self.system_dirs):
            found = [next((p for p in (folder / n, folder / f"{n}.gz") if p.is_file()), None) for n in names]
            if None not in found:
                return found
        return None

    def download(self, names: tuple[str, ...]) -> list[Path]:
        """The gzipped files from the official address, each checked by MD5, into raw_folder."""
        return [download_file(self.mirror + f"{n}.gz", self.raw_folder / f"{n}.gz", self.md5[f"{n}.gz"]) for n in names]

    def _missing(self, names: tuple[str, ...]) -> str:
        cls = type(self).__name__
        where = " nor in ".join(str(d) for d in (self.raw_folder, *self.system_dirs))
        hint = f"Run {self.install_hint}, or {cls}" if self.install_hint else f"Run {cls}"
        return (
            f"{cls}: {' and '.join(f'{n}(.gz)' for n in names)} not found in {where}. "
            f"{hint}(root={str(self.root)!r}, download=True) to download them from {self.mirror}."
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, train={self.train}, {len(self)} images)"


class FashionMNIST(MNIST):
    """Zalando's clothing images in 10 classes, same format and sizes as MNIST."""

    folder = "FashionMNIST"
    mirror = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    md5 = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    system_dirs = (Path("/usr/share/datasets/fashion-mnist"),)  # Debian's dataset-fashion-mnist
    install_hint = "`apt-get install dataset-fashion-mnist` (Debian, Ubuntu)"
