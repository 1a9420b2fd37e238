"""tinytorch.datasets._files: downloads checked by MD5, safe tar extraction, the restricted unpickler."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tinytorch.datasets import CIFAR10, MNIST, DatasetError, _files
from tinytorch.datasets._files import download, extract_tar, load_pickle

from .dataset_files import write_cifar, write_mnist


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _serve(monkeypatch, files: dict[str, bytes]) -> list[str]:
    """Replace the network: fetch_url writes files[name of the url]; returns the urls asked for."""
    asked = []

    def fetch(url, out):
        asked.append(url)
        out.write(files[url.rsplit("/", 1)[-1]])

    monkeypatch.setattr(_files, "fetch_url", fetch)
    return asked


# ---------------------------------------------------------------- download


def test_download_checks_the_md5_and_renames(tmp_path, monkeypatch):
    asked = _serve(monkeypatch, {"a.bin": b"hello"})
    path = download("https://example.org/a.bin", tmp_path / "sub" / "a.bin", _md5(b"hello"))
    assert path.read_bytes() == b"hello" and asked == ["https://example.org/a.bin"]
    download("https://example.org/a.bin", path, _md5(b"hello"))  # already there and right: not fetched again
    assert len(asked) == 1
    assert sorted(os.listdir(tmp_path / "sub")) == ["a.bin"]


def test_bad_checksum_raises_and_leaves_nothing(tmp_path, monkeypatch):
    _serve(monkeypatch, {"a.bin": b"not what was published"})
    with pytest.raises(DatasetError, match=f"MD5 {_md5(b'not what was published')}, expected {'0' * 32}; the file was discarded"):
        download("https://example.org/a.bin", tmp_path / "a.bin", "0" * 32)
    assert os.listdir(tmp_path) == []


def test_failed_fetch_leaves_nothing(tmp_path, monkeypatch):
    def fetch(url, out):
        out.write(b"partial")
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(_files, "fetch_url", fetch)
    with pytest.raises(DatasetError, match=r"could not download https://example.org/a.bin to .*a.bin: connection reset"):
        download("https://example.org/a.bin", tmp_path / "a.bin", "0" * 32)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("url", ["file:///nonexistent/tinytorch/a.bin", "http://127.0.0.1:9/a.bin"])
def test_unreachable_url_raises(tmp_path, url):
    with pytest.raises(DatasetError, match="could not download"):
        download(url, tmp_path / "a.bin", "0" * 32)
    assert os.listdir(tmp_path) == []


def test_file_url_download(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"\x00\x01" * 1000)
    path = download(source.as_uri(), tmp_path / "out" / "copy.bin", _md5(b"\x00\x01" * 1000))
    assert path.read_bytes() == source.read_bytes()


def test_mnist_download_bad_checksum_leaves_nothing(tmp_path, monkeypatch):
    _serve(monkeypatch, {"train-images-idx3-ubyte.gz": b"junk", "train-labels-idx1-ubyte.gz": b"junk"})
    with pytest.raises(DatasetError, match="MD5"):
        MNIST(root=tmp_path, download=True)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_mnist_download_writes_the_official_files(tmp_path, monkeypatch):
    write_mnist(tmp_path / "served", "t10k", n=3, gz=True)
    files = {p.name: p.read_bytes() for p in (tmp_path / "served").iterdir()}
    monkeypatch.setattr(MNIST, "md5", {name: _md5(data) for name, data in files.items()})
    asked = _serve(monkeypatch, files)
    ds = MNIST(root=tmp_path / "root", train=False, download=True)
    assert len(ds) == 3 and all(url.startswith(MNIST.mirror) for url in asked)
    assert sorted(p.name for p in (tmp_path / "root" / "MNIST" / "raw").iterdir()) == sorted(files)


# ---------------------------------------------------------------- CIFAR10 download and tar extraction


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def test_cifar10_download_and_extract(tmp_path, monkeypatch):
    write_cifar(tmp_path / "src")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setattr(CIFAR10, "url", archive.as_uri())
    monkeypatch.setattr(CIFAR10, "tgz_md5", _md5(archive.read_bytes()))
    ds = CIFAR10(root=tmp_path / "root", train=False, download=True)
    assert len(ds) == 4 and (tmp_path / "root" / "cifar-10-python.tar.gz").is_file()
    assert len(CIFAR10(root=tmp_path / "root", train=True, download=True)) == 10  # extracted: no second fetch needed


def test_cifar10_download_bad_checksum(tmp_path, monkeypatch):
    _serve(monkeypatch, {"cifar-10-python.tar.gz": b"an html error page"})
    with pytest.raises(DatasetError, match=f"expected {CIFAR10.tgz_md5}"):
        CIFAR10(root=tmp_path, download=True)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "member, reason",
    [
        (_file("../escaped.txt"), "it would land outside"),
        (_file("cifar-10-batches-py/../../escaped.txt"), "it would land outside"),
        (_file("/tmp/tinytorch-escaped.txt"), "absolute path"),
        (_link("cifar-10-batches-py/evil", "/etc/passwd", tarfile.SYMTYPE), "it is a symlink"),
        (_link("cifar-10-batches-py/hard", "/etc/passwd", tarfile.LNKTYPE), "it is a hard link"),
        (_link("cifar-10-batches-py/dev", "", tarfile.CHRTYPE), "it is a device or special file"),
    ],
)
def test_tar_refuses_members_that_escape(tmp_path, member, reason):
    archive = _tar(tmp_path / "bad.tar.gz", [_file("cifar-10-batches-py/ok.txt"), member])
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(DatasetError, match=re.escape(f"refusing member '{member[0].name}': {reason}")):
        extract_tar(archive, root)
    assert list(root.iterdir()) == []  # checked before anything is written
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/tinytorch-escaped.txt").exists()


def test_tar_refuses_writing_through_an_existing_symlink(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    (root / "link").symlink_to(outside)
    archive = _tar(tmp_path / "a.tar.gz", [_file("link/file.txt")])
    with pytest.raises(DatasetError, match="would land outside"):
        extract_tar(archive, root)
    assert list(outside.iterdir()) == []


def test_tar_extracts_files_and_directories(tmp_path):
    directory = tarfile.TarInfo("a/b")
    directory.type = tarfile.DIRTYPE
    archive = _tar(tmp_path / "ok.tar.gz", [(directory, None), _file("a/b/c.txt", b"hello"), _file("./top.txt", b"top")])
    extract_tar(archive, tmp_path / "root")
    assert (tmp_path / "root" / "a" / "b" / "c.txt").read_bytes() == b"hello"
    assert (tmp_path / "root" / "top.txt").read_bytes() == b"top"


def test_not_a_tar_archive(tmp_path):
    (tmp_path / "x.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(DatasetError, match="x.tar.gz is not a readable tar archive"):
        extract_tar(tmp_path / "x.tar.gz", tmp_path)


# ---------------------------------------------------------------- restricted unpickler


class _Exploit:
    def __init__(self, target: Path):
        self.command = f"touch {target}"

    def __reduce__(self):
        return os.system, (self.command,)


def test_unpickler_refuses_code(tmp_path):
    target = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Exploit(target)}, protocol=2))
    with pytest.raises(DatasetError, match=r"data_batch_1: refusing to load (posix|nt|os)\.system"):
        load_pickle(path)
    assert not target.exists()


def test_cifar10_refuses_a_malicious_batch(tmp_path):
    write_cifar(tmp_path)
    target = tmp_path / "pwned"
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({b"data": _Exploit(target)}))
    with pytest.raises(DatasetError, match="refusing to load"):
        CIFAR10(tmp_path, train=False)
    assert not target.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_unpickler_reads_arrays_and_plain_data(tmp_path, protocol):
    value = {b"data": np.arange(12, dtype=np.uint8).reshape(3, 4), b"labels": [1, 2], "n": np.int64(3), b"f": 1.5}
    (tmp_path / "p").write_bytes(pickle.dumps(value, protocol=protocol))
    out = load_pickle(tmp_path / "p")
    np.testing.assert_array_equal(out[b"data"], value[b"data"])
    assert out[b"labels"] == [1, 2] and out["n"] == 3 and out[b"f"] == 1.5


def test_unpickler_refuses_other_codecs(tmp_path):
    # a protocol-2 pickle may call _codecs.encode, but only to rebuild latin-1 bytes
    (tmp_path / "p").write_bytes(b"\x80\x02c_codecs\nencode\nq\x00X\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R.")
    with pytest.raises(DatasetError, match="rot13"):
        load_pickle(tmp_path / "p")
