"""tinytorch.text.TinyShakespeare: finding the file, the 90/10 split, random-window batches."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import tinytorch as tt
from tinytorch.datasets import DatasetError, _files
from tinytorch.text import CharTokenizer, TinyShakespeare

REAL = Path("/work/shared/data/tinyshakespeare.txt")  # these machines' copy; the test using it skips elsewhere


def _text(n: int = 4000, seed: int = 1) -> str:
    """n characters of random letters, spaces and newlines: windows of 8 are (almost surely) unique."""
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz ABC\n,."), size=n))


def _corpus(tmp_path: Path, text: str) -> TinyShakespeare:
    path = tmp_path / "small.txt"
    path.write_text(text, encoding="utf-8", newline="")
    return TinyShakespeare(path=path)


@pytest.fixture
def small(tmp_path) -> TinyShakespeare:
    return _corpus(tmp_path, _text())


def test_text_tokenizer_and_split(small):
    text = _text()
    assert small.text == text and small.tokenizer == CharTokenizer(text) and small.vocab_size == len(set(text))
    assert small.train_data.dtype == small.val_data.dtype == np.int64
    assert (len(small.train_data), len(small.val_data)) == (3600, 400)
    assert small.tokenizer.decode(np.concatenate([small.train_data, small.val_data])) == text
    assert small.tokenizer.decode(small.val_data) == text[3600:]  # the last 10% is validation


def _where(windows: np.ndarray, row: np.ndarray) -> list[int]:
    return np.flatnonzero((windows == row).all(axis=1)).tolist()


@pytest.mark.parametrize("split", ["train", "val"])
def test_get_batch_windows_and_targets(small, split):
    data = small.train_data if split == "train" else small.val_data
    x, y = small.get_batch(split, batch_size=16, block_size=8)
    assert isinstance(x, tt.Tensor) and isinstance(y, tt.Tensor)
    assert x.shape == y.shape == (16, 8) and x.dtype == y.dtype == np.int64
    windows = sliding_window_view(data, 8)  # (len - 7, 8): every window of the split
    for xb, yb in zip(x.data, y.data):
        starts = _where(windows, xb)
        assert starts, "x row is not a window of the split"
        assert any(s + 1 < len(windows) and (windows[s + 1] == yb).all() for s in starts)  # y = x moved by one


def test_get_batch_reaches_the_last_window(tmp_path):
    ds = _corpus(tmp_path, _text(110))  # val split: 11 characters, so block_size 10 has one window
    x, y = ds.get_batch("val", 5, 10)
    assert (x.data == ds.val_data[:10]).all() and (y.data == ds.val_data[1:]).all()


def test_get_batch_draws_every_start(small):
    """Starts cover 0..len-T-1 uniformly: in 4000 draws from a 100-start split each appears."""
    ds = small
    ds.val_data = ds.val_data[:108]  # 100 windows of 8 (+1 for the target)
    x, _ = ds.get_batch("val", 4000, 8, generator=np.random.default_rng(0))
    windows = sliding_window_view(ds.val_data, 8)[:100]
    seen = {s for row in x.data for s in _where(windows, row)}
    assert seen == set(range(100))


def test_get_batch_is_reproducible(small):
    a = small.get_batch("train", 4, 16, generator=np.random.default_rng(7))
    b = small.get_batch("train", 4, 16, generator=np.random.default_rng(7))
    c = small.get_batch("train", 4, 16, generator=np.random.default_rng(8))
    assert all((p.data == q.data).all() for p, q in zip(a, b)) and not (a[0].data == c[0].data).all()
    tt.manual_seed(3)
    d = small.get_batch("train", 4, 16)
    tt.manual_seed(3)
    assert (small.get_batch("train", 4, 16)[0].data == d[0].data).all()  # the default generator follows manual_seed


def test_get_batch_errors(small):
    with pytest.raises(ValueError, match="split must be 'train' or 'val', got 'test'"):
        small.get_batch("test", 4, 8)
    with pytest.raises(ValueError, match="the val split has 400 tokens; block_size 400 needs at least 401"):
        small.get_batch("val", 4, 400)
    with pytest.raises(ValueError, match="must be positive"):
        small.get_batch("train", 0, 8)


def test_newlines_are_kept_as_written(tmp_path):
    assert _corpus(tmp_path, "a\r\nb\n" * 10).text == "a\r\nb\n" * 10


# ---------------------------------------------------------------- finding the file


class Small(TinyShakespeare):
    """The standard file's checks, with a small file standing in for it."""

    url = "https://example.org/input.txt"
    body = _text(1000, seed=2)
    size, md5 = len(body), hashlib.md5(body.encode()).hexdigest()


@pytest.mark.parametrize("where", ["tinyshakespeare/input.txt", "tinyshakespeare/tinyshakespeare.txt", "tinyshakespeare.txt"])
def test_found_under_root(tmp_path, where):
    (tmp_path / where).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / where).write_text(Small.body)
    ds = Small(tmp_path)
    assert ds.path == tmp_path / where and ds.text == Small.body


def test_root_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "tinyshakespeare.txt").write_text(Small.body)
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    assert Small().path == tmp_path / "tinyshakespeare.txt"


def test_missing_file_says_what_to_run(tmp_path):
    with pytest.raises(DatasetError, match="not in .*looked for .*input.txt.*download=True.*TINYTORCH_DATA") as e:
        TinyShakespeare(tmp_path)
    assert str(tmp_path / "tinyshakespeare" / "input.txt") in str(e.value)
    with pytest.raises(DatasetError, match="is not a file"):
        TinyShakespeare(path=tmp_path / "nope.txt")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(DatasetError, match="is a file; pass it as path="):
        TinyShakespeare(tmp_path / "f.txt")


def test_wrong_size_says_expected(tmp_path):
    (tmp_path / "tinyshakespeare.txt").write_text("too short")
    with pytest.raises(DatasetError, match=r"tinyshakespeare.txt has 9 bytes; expected 1,115,394 .*download=True"):
        TinyShakespeare(tmp_path)


def _serve(monkeypatch, body: bytes) -> list[str]:
    asked = []

    def fetch(url, out):
        asked.append(url)
        out.write(body)

    monkeypatch.setattr(_files, "fetch_url", fetch)
    return asked


def test_download_when_missing_or_wrong(tmp_path, monkeypatch):
    asked = _serve(monkeypatch, Small.body.encode())
    (tmp_path / "tinyshakespeare.txt").write_text("truncated")
    ds = Small(tmp_path, download=True)
    assert asked == [Small.url] and ds.path == tmp_path / "tinyshakespeare" / "input.txt" and ds.text == Small.body
    Small(tmp_path, download=True)  # now there: not fetched again
    assert len(asked) == 1


def test_download_with_a_bad_checksum_leaves_nothing(tmp_path, monkeypatch):
    _serve(monkeypatch, b"something else")
    with pytest.raises(DatasetError, match="MD5 .* expected .*discarded"):
        Small(tmp_path, download=True)
    assert list((tmp_path / "tinyshakespeare").iterdir()) == []


# ---------------------------------------------------------------- the real corpus


@pytest.mark.skipif(not REAL.is_file(), reason=f"{REAL} is not on this machine")
def test_the_real_corpus():
    ds = TinyShakespeare(path=REAL)
    assert len(ds.text) == 1_115_394 and ds.vocab_size == 65 and ds.tokenizer.chars[:3] == ["\n", " ", "!"]
    assert (len(ds.train_data), len(ds.val_data)) == (1_003_854, 111_540)
    assert ds.text.startswith("First Citizen:\nBefore we proceed") and ds.tokenizer.decode(ds.train_data[:5]) == "First"
    assert hashlib.md5(REAL.read_bytes()).hexdigest() == TinyShakespeare.md5
