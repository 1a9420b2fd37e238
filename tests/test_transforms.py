"""tinytorch.data.transforms on whole batches: ToTensor, Normalize, RandomCrop, RandomHorizontalFlip, Compose."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.data import DataLoader, TensorDataset, transforms
from tinytorch.data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, ToTensor

from .helpers import data_rng


def _uint8(*shape: int) -> np.ndarray:
    return data_rng().integers(0, 256, shape, dtype=np.uint8)


# ---------------------------------------------------------------- ToTensor


@pytest.mark.parametrize(
    "shape, layout, expected, to_chw",
    [
        ((5, 8, 6, 3), "auto", (5, 3, 8, 6), lambda x: x.transpose(0, 3, 1, 2)),  # NHWC, as CIFAR10.data
        ((5, 3, 8, 6), "auto", (5, 3, 8, 6), lambda x: x),  # NCHW stays
        ((5, 8, 6), "auto", (5, 1, 8, 6), lambda x: x[:, None]),  # grayscale batch, as MNIST.data
        ((8, 6, 3), "auto", (3, 8, 6), lambda x: x.transpose(2, 0, 1)),  # one HWC image
        ((8, 6), "auto", (1, 8, 6), lambda x: x[None]),  # one grayscale image
        ((3, 8, 6), "chw", (3, 8, 6), lambda x: x),  # one CHW image needs the layout said
        ((5, 8, 6, 4), "hwc", (5, 4, 8, 6), lambda x: x.transpose(0, 3, 1, 2)),
        ((5, 8, 3), "hw", (5, 1, 8, 3), lambda x: x[:, None]),  # width 3 would read as HWC under "auto"
    ],
)
def test_to_tensor_layouts_and_scaling(shape, layout, expected, to_chw):
    x = _uint8(*shape)
    out = ToTensor(layout)(x)
    assert out.shape == expected and out.dtype == np.float32
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, to_chw(x).astype(np.float32) / np.float32(255))


def test_to_tensor_range_and_non_uint8():
    out = ToTensor()(np.array([[[0, 255]]], np.uint8))  # (1, 1, 2): one grayscale image 1x2
    np.testing.assert_array_equal(out, [[[[0.0, 1.0]]]])
    floats = data_rng().standard_normal((2, 4, 4, 3))
    out = ToTensor()(floats)  # floats are only cast and moved, not scaled (as torchvision)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, floats.transpose(0, 3, 1, 2), rtol=1e-6)


def test_to_tensor_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5, 6\)"):
        ToTensor()(np.zeros((2, 3, 4, 5, 6), np.uint8))
    with pytest.raises(ValueError, match="layout"):
        ToTensor("nhwc")


# ---------------------------------------------------------------- Normalize


def test_normalize_matches_manual_math():
    x = data_rng().random((4, 3, 5, 5), dtype=np.float32)
    mean, std = [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]
    out = Normalize(mean, std)(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    for c in range(3):
        np.testing.assert_allclose(out[:, c], (x[:, c] - mean[c]) / std[c], rtol=1e-6, atol=1e-6)
    single = Normalize(mean, std)(x[0])  # (C, H, W)
    np.testing.assert_allclose(single, out[0], rtol=1e-6)


def test_normalize_one_value_for_every_channel():
    x = data_rng().random((2, 1, 4, 4), dtype=np.float32)
    np.testing.assert_allclose(Normalize(0.5, 0.25)(x), (x - 0.5) / 0.25, rtol=1e-6)


def test_normalize_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"2 values.*\(4, 3, 5, 5\) has 3 channels"):
        Normalize([0.5, 0.5], [1, 1])(np.zeros((4, 3, 5, 5), np.float32))
    with pytest.raises(ValueError, match="zero"):
        Normalize([0.5], [0.0])


def test_to_tensor_then_normalize_against_torch_free_math():
    x = _uint8(6, 7, 7, 3)
    out = Compose([ToTensor(), Normalize([0.5, 0.4, 0.3], [0.2, 0.25, 0.3])])(x)
    mean, std = np.array([0.5, 0.4, 0.3])[:, None, None], np.array([0.2, 0.25, 0.3])[:, None, None]  # (C, 1, 1)
    manual = (x.transpose(0, 3, 1, 2) / 255.0 - mean) / std  # NHWC -> NCHW
    np.testing.assert_allclose(out, manual, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- RandomCrop


def test_random_crop_outputs_are_windows_of_the_padded_input():
    x = data_rng().random((64, 2, 6, 6), dtype=np.float32) + 1  # > 0, so zero padding is recognisable
    out = RandomCrop(6, padding=2, generator=np.random.default_rng(0))(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = []
    for k in range(len(x)):
        found = [(i, j) for i in range(5) for j in range(5) if np.array_equal(out[k], padded[k, :, i : i + 6, j : j + 6])]
        assert found, f"image {k} is not a window of its padded input"
        offsets.append(found[0])
    assert len(set(offsets)) > 10  # each image draws its own offset
    rows = {i for i, _ in offsets}
    assert rows == set(range(5))  # and every offset is reachable


def test_random_crop_smaller_size_without_padding():
    x = np.arange(2 * 1 * 5 * 5, dtype=np.float32).reshape(2, 1, 5, 5)
    out = RandomCrop((3, 2), generator=np.random.default_rng(1))(x)
    assert out.shape == (2, 1, 3, 2)
    for k in range(2):  # rows of the source differ by 5, columns by 1
        top, left = divmod(int(out[k, 0, 0, 0]) - 25 * k, 5)
        np.testing.assert_array_equal(out[k], x[k, :, top : top + 3, left : left + 2])


def test_random_crop_single_image_and_default_generator():
    x = data_rng().random((3, 8, 8), dtype=np.float32)
    tt.manual_seed(5)
    a = RandomCrop(8, padding=4)(x)
    tt.manual_seed(5)
    b = RandomCrop(8, padding=4)(x)
    assert a.shape == (3, 8, 8)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("transform", [RandomCrop(32, padding=4), RandomHorizontalFlip()])
def test_crop_and_flip_refuse_channels_last(transform):
    with pytest.raises(ValueError, match=r"channels first.*\(8, 32, 32, 3\) looks channels-last: apply ToTensor\(\) first"):
        transform(np.zeros((8, 32, 32, 3), np.uint8))  # CIFAR10.data as stored: ToTensor must come first


def test_random_crop_too_large():
    with pytest.raises(ValueError, match=r"size \(9, 9\).*\(8, 8\)"):
        RandomCrop(9)(np.zeros((1, 1, 8, 8)))


# ---------------------------------------------------------------- RandomHorizontalFlip


def test_horizontal_flip_flips_about_p_of_the_images():
    x = data_rng().random((2000, 1, 2, 3), dtype=np.float32)
    out = RandomHorizontalFlip(p=0.3, generator=np.random.default_rng(0))(x)
    flipped = np.array([np.array_equal(o, xi[..., ::-1]) for o, xi in zip(out, x)])
    kept = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert np.all(flipped ^ kept)  # every image is either mirrored or untouched
    assert abs(flipped.mean() - 0.3) < 0.04
    np.testing.assert_array_equal(x, x.copy())  # the input is not modified


@pytest.mark.parametrize("p, expected", [(0.0, lambda x: x), (1.0, lambda x: x[..., ::-1])])
def test_horizontal_flip_extremes(p, expected):
    x = data_rng().random((5, 3, 4, 4), dtype=np.float32)
    np.testing.assert_array_equal(RandomHorizontalFlip(p)(x), expected(x))


# ---------------------------------------------------------------- Compose and the loader


def test_compose_applies_in_order_and_reprs():
    t = Compose([lambda x: x + 1, lambda x: x * 10])
    np.testing.assert_array_equal(t(np.array([1, 2])), [20, 30])
    assert "RandomCrop(size=(32, 32), padding=4)" in repr(Compose([RandomCrop(32, padding=4), ToTensor()]))


def test_cifar_style_pipeline_through_a_loader():
    images, labels = _uint8(20, 8, 8, 3), np.arange(20) % 10
    pipeline = transforms.Compose(
        [ToTensor(), RandomCrop(8, padding=2), RandomHorizontalFlip(), Normalize([0.5] * 3, [0.25] * 3)]
    )
    loader = DataLoader(TensorDataset(images, labels, transform=pipeline), batch_size=8, shuffle=True, seed=0)
    batches = list(loader)
    assert [tuple(x.shape) for x, _ in batches] == [(8, 3, 8, 8), (8, 3, 8, 8), (4, 3, 8, 8)]
    assert all(x.dtype == tt.float32 and y.dtype == tt.int64 for x, y in batches)
    assert all(x.data.min() >= -2.0 - 1e-6 and x.data.max() <= 2.0 + 1e-6 for x, _ in batches)
