"""tinytorch.datasets: CIFAR10, MNIST, FashionMNIST on tiny files in the official formats, and the synthetic sets."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.data import DataLoader
from tinytorch.data.transforms import Compose, Normalize, ToTensor
from tinytorch.datasets import (
    CIFAR10,
    MNIST,
    DatasetError,
    FashionMNIST,
    default_root,
    linearly_separable,
    moons,
    read_idx,
    spirals,
    xor,
)

from .dataset_files import CIFAR_CLASSES, idx_bytes, write_cifar, write_idx, write_mnist

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def no_system_copies(monkeypatch):
    """Tests must not see the Debian Fashion-MNIST this machine may have."""
    monkeypatch.setattr(FashionMNIST, "system_dirs", ())


# ---------------------------------------------------------------- CIFAR10


@pytest.mark.parametrize("protocol", [2, 4])  # 2: bytes pickled by Python 3 as _codecs.encode; 4: as cifar10_from_jpg.py
def test_cifar10_reads_the_official_python_batches(tmp_path, protocol):
    written = write_cifar(tmp_path, protocol=protocol)
    train, test = CIFAR10(root=tmp_path), CIFAR10(root=str(tmp_path), train=False)
    assert len(train) == 10 and len(test) == 4
    assert train.data.shape == (10, 32, 32, 3) and train.data.dtype == np.uint8
    assert train.targets.dtype == np.int64 and train.classes == CIFAR_CLASSES
    rows = np.concatenate([written[f"data_batch_{k}"][0] for k in range(1, 6)])
    labels = sum((written[f"data_batch_{k}"][1] for k in range(1, 6)), [])
    np.testing.assert_array_equal(train.targets, labels)
    # pixel (r, c) of channel ch sits at ch * 1024 + r * 32 + c in the official row
    assert train.data[4, 5, 7, 2] == rows[4, 2 * 1024 + 5 * 32 + 7]
    np.testing.assert_array_equal(train.data, rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(test.data[3, :, :, 1], written["test_batch"][0][3, 1024:2048].reshape(32, 32))
    np.testing.assert_array_equal(test.targets, written["test_batch"][1])


def test_cifar10_batches_through_a_loader_with_transforms(tmp_path):
    written = write_cifar(tmp_path)
    ds = CIFAR10(tmp_path, train=False, transform=Compose([ToTensor(), Normalize([0.5] * 3, [0.5] * 3)]))
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 3, 32, 32) and x.dtype == tt.float32 and y.dtype == tt.int64
    expected = written["test_batch"][0].reshape(4, 3, 32, 32) / 255.0 * 2 - 1
    np.testing.assert_allclose(x.data, expected, atol=1e-6)
    image, label = ds[2]
    assert image.shape == (3, 32, 32) and label == written["test_batch"][1][2]


def test_cifar10_missing_names_the_path_and_the_command(tmp_path):
    with pytest.raises(DatasetError, match="data_batch_1") as info:
        CIFAR10(root=tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in message
    assert f"CIFAR10(root='{tmp_path / 'nowhere'}', download=True)" in message
    assert isinstance(info.value, RuntimeError)


def test_cifar10_truncated_and_malformed_batches(tmp_path):
    write_cifar(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:500])
    with pytest.raises(DatasetError, match="data_batch_3.*truncated or corrupt"):
        CIFAR10(tmp_path)
    write_cifar(tmp_path, train_sizes=(2,) * 5)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(
        pickle.dumps({b"data": np.zeros((2, 5), np.uint8), b"labels": [0, 1]})
    )
    with pytest.raises(DatasetError, match=r"test_batch: b'data' should be uint8 \(N, 3072\), got uint8 \(2, 5\)"):
        CIFAR10(tmp_path, train=False)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({b"images": 1}))
    with pytest.raises(DatasetError, match="expected a dict with key b'data'"):
        CIFAR10(tmp_path, train=False)


# ---------------------------------------------------------------- MNIST and Fashion-MNIST


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files(tmp_path, cls, gz, no_system_copies):
    raw = tmp_path / cls.__name__ / "raw"
    train_images, train_labels = write_mnist(raw, "train", n=6, gz=gz)
    test_images, test_labels = write_mnist(raw, "t10k", n=3, gz=not gz, seed=1)
    train, test = cls(root=tmp_path), cls(root=tmp_path, train=False)
    assert train.data.dtype == np.uint8 and train.data.shape == (6, 28, 28)
    assert train.targets.dtype == np.int64 and len(train.classes) == 10
    np.testing.assert_array_equal(train.data, train_images)
    np.testing.assert_array_equal(train.targets, train_labels)
    np.testing.assert_array_equal(test.data, test_images)
    np.testing.assert_array_equal(test.targets, test_labels)
    x, y = next(iter(DataLoader(cls(tmp_path, transform=ToTensor()), batch_size=4)))
    assert x.shape == (4, 1, 28, 28) and x.dtype == tt.float32 and y.dtype == tt.int64
    np.testing.assert_allclose(x.data[:, 0], train_images[:4] / 255.0, atol=1e-7)


def test_read_idx_other_types_and_gzip_by_content(tmp_path):
    values = np.arange(-3, 9, dtype=">i4").reshape(3, 4)
    path = write_idx(tmp_path / "ints-idx2-int", values, gz=True)  # gzipped, but not named .gz
    out = read_idx(path)
    assert out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_idx_names_the_file_and_sizes(tmp_path, gz):
    raw = idx_bytes(np.zeros((4, 28, 28), np.uint8))  # 16 header bytes + 3136
    path = tmp_path / ("t10k-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw[:-100]) if gz else raw[:-100])
    with pytest.raises(DatasetError, match=rf"{path.name}.*\(4, 28, 28\).*3152 bytes.*has 3052") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_stream(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(1000, np.uint8)))[:-30])
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz.*gzip"):
        read_idx(path)


def test_truncated_idx_header(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(np.zeros((4, 28, 28), np.uint8))[:10])
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte: the file has 10 bytes, fewer than its 16-byte IDX header"):
        read_idx(path)


def test_wrong_magic_and_wrong_dims(tmp_path):
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x08\x03\x00\x00" + bytes(100))
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte: not an IDX file: magic number '08030000'"):
        read_idx(bad)
    write_idx(bad, np.zeros(5, np.uint8))
    with pytest.raises(DatasetError, match="expected an IDX file of 3 dims, the magic number says 1"):
        read_idx(bad, ndim=3)


def test_mnist_labels_must_match_images(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    write_mnist(raw, "train", n=4)
    write_idx(raw / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(DatasetError, match=r"\(4, 28, 28\).*\(3,\) labels"):
        MNIST(tmp_path)
    write_idx(raw / "train-labels-idx1-ubyte", np.array([0, 1, 2, 12], np.uint8))
    with pytest.raises(DatasetError, match=r"labels span 0..12, expected 0..9"):
        MNIST(tmp_path)


def test_fashion_mnist_missing_names_paths_and_commands(tmp_path, monkeypatch):
    monkeypatch.setattr(FashionMNIST, "system_dirs", (tmp_path / "system",))
    with pytest.raises(DatasetError) as info:
        FashionMNIST(root=tmp_path, train=False)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte(.gz)" in message
    assert str(tmp_path / "FashionMNIST" / "raw") in message and str(tmp_path / "system") in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert f"FashionMNIST(root='{tmp_path}', download=True)" in message


def test_fashion_mnist_falls_back_to_the_system_copy(tmp_path, monkeypatch):
    images, _ = write_mnist(tmp_path / "system", "t10k", n=2, gz=True)
    monkeypatch.setattr(FashionMNIST, "system_dirs", (tmp_path / "system",))
    ds = FashionMNIST(root=tmp_path / "empty", train=False)
    np.testing.assert_array_equal(ds.data, images)


def test_mnist_does_not_look_in_the_fashion_copy(tmp_path):
    with pytest.raises(DatasetError, match="MNIST") as info:
        MNIST(root=tmp_path)
    assert "apt-get" not in str(info.value) and "ossci-datasets" in str(info.value)


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_test_split_from_debian(tmp_path):
    ds = FashionMNIST(root=tmp_path, train=False)
    assert ds.data.shape == (10000, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets.min() == 0 and ds.targets.max() == 9
    assert np.all(np.bincount(ds.targets) == 1000)


# ---------------------------------------------------------------- default root


def test_tinytorch_data_sets_the_default_root(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "data"))
    assert default_root() == tmp_path / "data"
    write_cifar(tmp_path / "data")
    assert len(CIFAR10(train=False)) == 4
    monkeypatch.delenv("TINYTORCH_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_root() == tmp_path / ".cache" / "tinytorch" / "datasets"


# ---------------------------------------------------------------- synthetic sets


@pytest.mark.parametrize("make", [linearly_separable, xor, spirals, moons])
def test_synthetic_sets_shapes_labels_and_seeds(make):
    ds = make(n=101)
    assert ds.data.shape == (101, 2) and ds.data.dtype == np.float32
    assert ds.targets.dtype == np.int64 and set(ds.targets) == {0, 1}
    assert abs(int(ds.targets.sum()) - 50) <= 1  # balanced
    np.testing.assert_array_equal(make(n=101).data, ds.data)
    assert not np.array_equal(make(n=101, seed=1).data, ds.data)
    assert ds.targets[:10].min() == 0 and ds.targets[:10].max() == 1  # classes interleaved, not sorted


def test_linearly_separable_is_separable_with_a_margin():
    ds = linearly_separable(n=300, dim=3, margin=0.5)
    x, y = ds.data.astype(np.float64), np.where(ds.targets == 1, 1.0, -1.0)
    w = np.zeros(3)
    for _ in range(200):  # the perceptron converges on separable data (Novikoff)
        wrong = np.flatnonzero(y * (x @ w) <= 0)
        if wrong.size == 0:
            break
        w += y[wrong[0]] * x[wrong[0]]
    assert np.all(y * (x @ w) > 0)


def test_xor_exact_and_noisy():
    exact = xor(exact=True)
    np.testing.assert_array_equal(exact.data, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(exact.targets, [0, 1, 1, 0])
    noisy = xor(n=200, noise=0.1)
    corner = noisy.data > 0.5
    np.testing.assert_array_equal(noisy.targets, corner[:, 0] ^ corner[:, 1])


def test_spirals_and_moons_geometry():
    radius = np.linalg.norm(spirals(n=200, noise=0.0).data, axis=1)
    assert radius.min() >= 0.1 - 1e-6 and radius.max() <= 1 + 1e-6
    ds = moons(n=200, noise=0.0)
    upper, lower = ds.data[ds.targets == 0], ds.data[ds.targets == 1]
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(lower - [1, 0.5], axis=1), 1, atol=1e-6)
