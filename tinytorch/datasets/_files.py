"""Files under the data root: where the root is, downloads checked by MD5, tar extraction that
cannot escape the root, and pickles that can hold data but never run code."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np


class DatasetError(RuntimeError):
    """Data missing, unreadable, or not what it should be; the message says what to run."""


def default_root() -> Path:
    """$TINYTORCH_DATA, else ~/.cache/tinytorch/datasets."""
    env = os.environ.get("TINYTORCH_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tinytorch" / "datasets"


def resolve_root(root: str | os.PathLike | None) -> Path:
    return default_root() if root is None else Path(root).expanduser()


def md5sum(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # the official checksums are MD5: integrity, not security
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_url(url: str, out: BinaryIO) -> None:
    """Copy the bytes at url (http, https or file://) into out, with a progress bar."""
    from tqdm import tqdm  # only downloads need it

    with urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], leave=False) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))


def download(url: str, path: Path, md5: str) -> Path:
    """url saved at path once its MD5 matches; a file already there with that MD5 is kept.
    The bytes go to a temporary file beside path first, so a failure leaves nothing behind."""
    if path.is_file() and md5sum(path) == md5:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                fetch_url(url, out)
            except Exception as e:  # URLError, HTTPError, timeouts, resets: all mean "no file"
                raise DatasetError(
                    f"could not download {url} to {path}: {e}. Check the network, or fetch the file by hand and put it at {path}"
                ) from e
        got = md5sum(tmp)
        if got != md5:
            raise DatasetError(
                f"{url} downloaded with MD5 {got}, expected {md5}; the file was discarded. Try again, or fetch it by hand and put it at {path}"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _check_member(member: tarfile.TarInfo, root: Path, archive: Path) -> None:
    """Refuse anything but a regular file or directory that stays under root."""
    if not (member.isfile() or member.isdir()):
        kind = "symlink" if member.issym() else "hard link" if member.islnk() else "device or special file"
        raise DatasetError(
            f"{archive}: refusing member {member.name!r}: it is a {kind}; only regular files and directories are extracted"
        )
    if PurePosixPath(member.name).is_absolute() or os.path.isabs(member.name):
        raise DatasetError(f"{archive}: refusing member {member.name!r}: absolute path")
    # resolve() also follows links already on disk, so an existing symlink cannot be used to escape
    if not (root / member.name).resolve().is_relative_to(root):
        raise DatasetError(f"{archive}: refusing member {member.name!r}: it would land outside {root}")


def extract_tar(archive: Path, root: Path) -> None:
    """Extract archive under root; every member is checked before anything is written."""
    root = root.resolve()
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, root, archive)
            for member in members:
                target = root / member.name
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DatasetError(f"{archive} is not a readable tar archive ({e}); delete it and download again") from e


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """Python 3 pickles of protocol <= 2 store bytes as _codecs.encode(text, 'latin1')."""
    if encoding != "latin1":
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed in a dataset pickle")
    return text.encode("latin1")


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """What a pickled ndarray needs, taken from NumPy itself, under its 1.x and 2.x module names."""
    reconstruct = np.empty(0).__reduce__()[0]  # multiarray._reconstruct
    frombuffer = np.arange(1).__reduce_ex__(5)[0]  # numeric._frombuffer (protocol 5)
    scalar = np.float64(0).__reduce__()[0]  # multiarray.scalar (numpy scalars)
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return allowed


_ALLOWED = {**_numpy_globals(), ("_codecs", "encode"): _latin1, ("builtins", "bytes"): bytes, ("__builtin__", "bytes"): bytes}


class _DataUnpickler(pickle.Unpickler):
    """Dicts, lists, bytes, numbers and NumPy arrays; any other global is refused, so nothing runs."""

    def __init__(self, file: BinaryIO, path: Path) -> None:
        super().__init__(file, encoding="bytes")  # the official CIFAR files are Python 2 pickles
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise DatasetError(
            f"{self.path}: refusing to load {module}.{name}: a dataset pickle may hold only dicts, lists, bytes and NumPy arrays"
        )


def load_pickle(path: Path) -> Any:
    """A pickled dataset file, read with the restricted unpickler."""
    try:
        with open(path, "rb") as f:
            return _DataUnpickler(f, path).load()
    except DatasetError:
        raise
    except Exception as e:  # corrupt bytes can fail in any way (EOFError, ValueError, KeyError, ...)
        raise DatasetError(
            f"{path} is not a readable pickle ({type(e).__name__}: {e}); it is truncated or corrupt: delete it and get it again"
        ) from e
