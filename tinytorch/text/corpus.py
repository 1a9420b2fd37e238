"""Tiny Shakespeare: the 1,115,394-character corpus of char-rnn and nanoGPT, character ids,
a 90/10 train/validation split, and random-window batches for next-token prediction."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..creation import default_generator
from ..datasets import _files
from ..datasets._files import DatasetError, resolve_root
from ..tensor import Tensor
from .tokenizers import CharTokenizer


def _read_text(path: Path) -> str:
    try:
        # newline="" keeps the characters as they are in the file (no \r\n -> \n), so sizes match
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read {path} as UTF-8 text: {e}") from e


class TinyShakespeare:
    """The corpus as character ids: `.text`, `.tokenizer` (65 characters), `.train_data` and
    `.val_data` (int64, first 90% / last 10%), and `get_batch` as in nanoGPT.

    Looked up, in order: `path` if given (any text file, used as it is); else under root
    ($TINYTORCH_DATA, else ~/.cache/tinytorch/datasets) as tinyshakespeare/input.txt,
    tinyshakespeare/tinyshakespeare.txt or tinyshakespeare.txt, whose size must be the standard one.
    The checksum is of the char-rnn file (sha256 86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed)."""

    url = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
    size, md5 = 1_115_394, "6fb458f1232090904fb40fe944165e91"  # bytes (= characters: it is ASCII) and MD5 of that file
    folder = "tinyshakespeare"
    train_fraction = 0.9

    def __init__(
        self, root: str | os.PathLike | None = None, download: bool = False, path: str | os.PathLike | None = None
    ) -> None:
        self.root = resolve_root(root)
        self.path = self._explicit(Path(path).expanduser()) if path is not None else self._find(download)
        self.text = _read_text(self.path)
        self.tokenizer = CharTokenizer(self.text)
        self.data = np.asarray(self.tokenizer.encode(self.text, as_array=True), dtype=np.int64)
        n = int(self.train_fraction * len(self.data))
        self.train_data, self.val_data = self.data[:n], self.data[n:]

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def _explicit(self, path: Path) -> Path:
        if not path.is_file():
            raise DatasetError(f"TinyShakespeare: path={str(path)!r} is not a file")
        return path

    def _candidates(self) -> list[Path]:
        folder = self.root / self.folder
        return [folder / "input.txt", folder / "tinyshakespeare.txt", self.root / "tinyshakespeare.txt"]

    def _find(self, download: bool) -> Path:
        """The first candidate of the standard size; downloaded first if none is and download is set."""
        if self.root.is_file():
            raise DatasetError(f"TinyShakespeare: root {str(self.root)!r} is a file; pass it as path={str(self.root)!r}")
        found = [p for p in self._candidates() if p.is_file()]
        good = [p for p in found if p.stat().st_size == self.size]
        if not good and download:
            good = [self.download()]
        if good:
            return good[0]
        how = (
            f"Run TinyShakespeare(root={str(self.root)!r}, download=True) to download {self.url} (1.1 MB) there, "
            f"set TINYTORCH_DATA to the folder that holds it, or pass path= to use a text file as it is."
        )
        if found:
            sizes = ", ".join(f"{p} has {p.stat().st_size:,} bytes" for p in found)
            raise DatasetError(
                f"TinyShakespeare: {sizes}; expected {self.size:,} (the standard corpus): truncated or another file. Delete it. {how}"
            )
        looked = ", ".join(str(p) for p in self._candidates())
        raise DatasetError(f"TinyShakespeare: the corpus is not in {self.root} (looked for {looked}). {how}")

    def download(self) -> Path:
        """Fetch the char-rnn file to <root>/tinyshakespeare/input.txt, checked by MD5 (kept for next time)."""
        return _files.download(self.url, self.root / self.folder / "input.txt", self.md5)

    def get_batch(
        self, split: str, batch_size: int, block_size: int, generator: np.random.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """x, y int64 (B, T): B random windows of the split, y[b, t] = x[b, t + 1] (the next character).
        Windows are drawn by `generator`, else tinytorch's default one (seeded by manual_seed)."""
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if batch_size < 1 or block_size < 1:
            raise ValueError(f"batch_size and block_size must be positive, got {batch_size} and {block_size}")
        data = self.train_data if split == "train" else self.val_data
        if len(data) <= block_size:
            raise ValueError(f"the {split} split has {len(data)} tokens; block_size {block_size} needs at least {block_size + 1}")
        rng = generator if generator is not None else default_generator()
        starts = rng.integers(0, len(data) - block_size, size=batch_size)  # the last window ends at data[-1]
        offsets = starts[:, None] + np.arange(block_size)  # (B, T): one gather for the whole batch
        return Tensor(data[offsets]), Tensor(data[offsets + 1])

    def __repr__(self) -> str:
        return f"TinyShakespeare(path={str(self.path)!r}, {len(self.text):,} characters, vocab_size={self.vocab_size})"
