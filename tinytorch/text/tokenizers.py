"""Tokenizers: text <-> integer ids. CharTokenizer (one id per character of a corpus) and a
byte-level BPETokenizer (GPT-2 style: UTF-8 bytes, merges learned by pair frequency)."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..tensor import Tensor

# GPT-2's pre-split (contractions, words, numbers, punctuation, whitespace), written for the
# stdlib `re`, which lacks \p{L}: [^\W\d_] is "letters", (?:[^\s\w]|_) is "punctuation".
# Every character falls in exactly one class, so the chunks always tile the text.
SPLIT_PATTERN = r"""'(?:s|t|re|ve|m|ll|d)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
_SPLIT = re.compile(SPLIT_PATTERN)


def _ids_list(ids: Any, vocab_size: int) -> list[int]:
    """ids (list, ndarray or Tensor, one sequence) as ints, each checked to be in 0..vocab_size-1."""
    arr = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    if arr.ndim != 1:
        raise ValueError(f"decode takes one sequence of ids, got shape {arr.shape}; pass one row, e.g. ids[0]")
    if arr.size == 0:
        return []
    if arr.dtype.kind not in "iu":
        raise ValueError(f"token ids must be integers, got dtype {arr.dtype}")
    bad = np.flatnonzero((arr < 0) | (arr >= vocab_size))
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"token id {arr[k]} at position {k} is not in the vocabulary (ids 0..{vocab_size - 1})")
    return arr.tolist()


def _output(ids: list[int], as_array: bool) -> list[int] | np.ndarray:
    return np.array(ids, dtype=np.int64) if as_array else ids


def _read_json(path: str | os.PathLike, kind: str) -> dict:
    """The JSON object saved by `kind`.save(), or an error saying what the file is instead."""
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read a {kind} from {path}: {e}") from e
    if not isinstance(obj, dict) or obj.get("type") != f"tinytorch.{kind}":
        found = obj.get("type") if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{path} does not hold a {kind} (its type is {found!r}); was it written by {kind}.save()?")
    return obj


def _write_json(path: str | os.PathLike, obj: dict) -> None:
    # ensure_ascii keeps any character (even a lone surrogate) writable, as a \u escape
    Path(path).write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")


class CharTokenizer:
    """One id per distinct character of a corpus, in code point order (nanoGPT's shakespeare_char)."""

    def __init__(self, text: str = "", unk: str | None = None) -> None:
        if unk is not None and len(unk) != 1:
            raise ValueError(f"unk must be one character, got {unk!r}")
        # unk joins the vocabulary so unknown characters have an id to map to
        self._set_chars(sorted(set(text) | ({unk} if unk is not None else set())), unk)

    @classmethod
    def from_text(cls, text: str, unk: str | None = None) -> CharTokenizer:
        return cls(text, unk=unk)

    def _set_chars(self, chars: list[str], unk: str | None) -> None:
        self.chars, self.unk = list(chars), unk
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.itos = dict(enumerate(self.chars))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str, as_array: bool = False) -> list[int] | np.ndarray:
        """Each character's id; an unknown one maps to unk's id, or raises naming it and where it is."""
        if self.unk is not None:
            unk_id = self.stoi[self.unk]
            return _output([self.stoi.get(c, unk_id) for c in text], as_array)
        try:
            ids = [self.stoi[c] for c in text]
        except KeyError as e:
            char = e.args[0]
            pos = text.index(char)
            raise ValueError(
                f"character {char!r} (U+{ord(char):04X}) at position {pos} is not in the vocabulary of "
                f"{self.vocab_size} characters; build the tokenizer from text that has it, or pass unk="
            ) from None
        return _output(ids, as_array)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join([self.chars[i] for i in _ids_list(ids, self.vocab_size)])

    def save(self, path: str | os.PathLike) -> None:
        _write_json(path, {"type": "tinytorch.CharTokenizer", "version": 1, "chars": self.chars, "unk": self.unk})

    @classmethod
    def load(cls, path: str | os.PathLike) -> CharTokenizer:
        obj = _read_json(path, "CharTokenizer")
        chars, unk = obj.get("chars"), obj.get("unk")
        if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError(f"{path}: 'chars' should be a list of single characters")
        if len(set(chars)) != len(chars):
            raise ValueError(f"{path}: 'chars' repeats {sorted(c for c, n in Counter(chars).items() if n > 1)}")
        if unk is not None and unk not in chars:
            raise ValueError(f"{path}: unk {unk!r} is not one of the characters")
        tok = cls.__new__(cls)
        tok._set_chars(chars, unk)
        return tok

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and (self.chars, self.unk) == (other.chars, other.unk)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, unk={self.unk!r})"


def _merge(ids: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """Every non-overlapping occurrence of pair, left to right, replaced by new."""
    out, i, n = [], 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _merge_array(ids: np.ndarray, weights: np.ndarray, pair: tuple[int, int], new: int) -> tuple[np.ndarray, np.ndarray]:
    """_merge on arrays, vectorised: the same left-to-right choice when the pair overlaps (a, a, a)."""
    a, b = pair
    pos = np.flatnonzero((ids[:-1] == a) & (ids[1:] == b))
    if a == b and pos.size > 1:
        # a run of matches p, p+1, p+2, ... is a run of a's: merging left to right keeps p, p+2, ...
        k = np.arange(pos.size)
        run_start = np.maximum.accumulate(np.where(np.diff(pos, prepend=-2) != 1, k, 0))
        pos = pos[(k - run_start) % 2 == 0]
    ids = ids.copy()
    ids[pos] = new
    keep = np.ones(ids.size, dtype=bool)
    keep[pos + 1] = False
    return ids[keep], weights[keep]


class BPETokenizer:
    """Byte-level BPE: ids 0..255 are the bytes, id 256+k is merge k. Text is first split into
    GPT-2's chunks (SPLIT_PATTERN), so no token spans two words; any string round-trips."""

    def __init__(self, merges: Iterable[tuple[int, int]] = ()) -> None:
        self.merges = [(int(a), int(b)) for a, b in merges]
        self.ranks = {pair: k for k, pair in enumerate(self.merges)}  # pair -> k: token 256+k, applied k-th
        self.vocab = [bytes([i]) for i in range(256)]
        for k, (a, b) in enumerate(self.merges):
            if not (0 <= a < 256 + k and 0 <= b < 256 + k):
                raise ValueError(f"merge {k} {(a, b)} uses an id not yet defined (ids 0..{255 + k} exist then)")
            self.vocab.append(self.vocab[a] + self.vocab[b])
        # GPT-2's cache: a chunk (" the") recurs, so its merges are worked out once
        self._encode_chunk = lru_cache(maxsize=1 << 16)(self._encode_chunk_uncached)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    @classmethod
    def train(cls, text: str, vocab_size: int, verbose: bool = False) -> BPETokenizer:
        """Greedy merges: each step merges the most frequent adjacent pair (ties: smallest ids)
        inside the chunks of text. Stops early if no pair is left."""
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the bytes), got {vocab_size}")
        # Count each distinct chunk once, weighted by how often it occurs: " the" 3000 times is one row.
        chunks = Counter(_SPLIT.findall(text))
        ids_list, weight_list = [], []
        for chunk, count in chunks.items():
            data = chunk.encode("utf-8", "surrogatepass")
            ids_list += [*data, -1]  # -1 separates chunks: a pair never spans two of them
            weight_list += [count] * (len(data) + 1)
        ids, weights = np.array(ids_list, dtype=np.int64), np.array(weight_list, dtype=np.int64)
        merges: list[tuple[int, int]] = []
        vocab = [bytes([i]) for i in range(256)]  # only for verbose's report
        for new in range(256, vocab_size):
            left, right = ids[:-1], ids[1:]
            inside = (left >= 0) & (right >= 0)
            keys = left[inside] * vocab_size + right[inside]  # pair (a, b) as one integer
            if keys.size == 0:
                if verbose:
                    print(f"no pairs left: stopping at vocab_size {new}")
                break
            uniq, inverse = np.unique(keys, return_inverse=True)  # sorted, so argmax ties go to the smallest pair
            counts = np.bincount(inverse, weights=weights[:-1][inside])
            best = int(np.argmax(counts))
            pair = divmod(int(uniq[best]), vocab_size)
            ids, weights = _merge_array(ids, weights, pair, new)
            merges.append(pair)
            vocab.append(vocab[pair[0]] + vocab[pair[1]])
            if verbose:
                print(f"merge {new - 255}/{vocab_size - 256}: {pair} -> {new} {vocab[new]!r} ({int(counts[best])} times)")
        return cls(merges)

    def _encode_chunk_uncached(self, chunk: str) -> tuple[int, ...]:
        """minbpe's loop: merge the present pair learned earliest, until none is mergeable."""
        ids = list(chunk.encode("utf-8", "surrogatepass"))
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: self.ranks.get(p, len(self.merges)))
            if pair not in self.ranks:
                break
            ids = _merge(ids, pair, 256 + self.ranks[pair])
        return tuple(ids)

    def encode(self, text: str, as_array: bool = False) -> list[int] | np.ndarray:
        ids: list[int] = []
        for chunk in _SPLIT.findall(text):
            ids.extend(self._encode_chunk(chunk))
        return _output(ids, as_array)

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        return b"".join([self.vocab[i] for i in _ids_list(ids, self.vocab_size)])

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """The text; bytes that are not valid UTF-8 (ids a model sampled) are decoded with `errors`."""
        data = self.decode_bytes(ids)
        try:
            return data.decode("utf-8", "surrogatepass")  # encode() let lone surrogates through: so does this
        except UnicodeDecodeError:
            return data.decode("utf-8", errors)

    def save(self, path: str | os.PathLike) -> None:
        obj = {"type": "tinytorch.BPETokenizer", "version": 1, "pattern": SPLIT_PATTERN, "merges": self.merges}
        _write_json(path, obj)

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPETokenizer:
        obj = _read_json(path, "BPETokenizer")
        if obj.get("pattern") != SPLIT_PATTERN:
            raise ValueError(
                f"{path}: trained with the split pattern {obj.get('pattern')!r}, this version uses {SPLIT_PATTERN!r}"
            )
        merges = obj.get("merges")
        if not isinstance(merges, list) or not all(
            isinstance(m, list) and len(m) == 2 and all(type(i) is int for i in m) for m in merges
        ):
            raise ValueError(f"{path}: 'merges' should be a list of [id, id] pairs")
        try:
            return cls(merges)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BPETokenizer) and self.merges == other.merges

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size})"
