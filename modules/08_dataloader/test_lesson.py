"""Lesson 08's tests of the learner's Build code: batch_indices and MyDataLoader against
tinytorch.data.DataLoader (sizes, shuffling, drop_last, several arrays, transforms seeing whole
batches), and random_crop, random_horizontal_flip and normalize against tinytorch.data.transforms
(shapes, dtypes, seeds, inputs left unchanged). `build` is the learner's notebook executed up to
`## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch.data import ArrayDataset, DataLoader, TensorDataset, transforms


def test_batch_indices_follow_tinytorchs_loader(build):
    for n in (0, 1, 7, 16, 33):
        for size in (1, 4, 16, 50):
            for shuffle in (False, True):
                for drop_last in (False, True):
                    loader = DataLoader(
                        TensorDataset(np.arange(n)), batch_size=size, shuffle=shuffle, drop_last=drop_last, seed=n
                    )
                    generator = np.random.default_rng(n)
                    for epoch in (1, 2, 3):
                        want = [b[0].numpy().tolist() for b in loader]
                        got = [np.asarray(b).tolist() for b in build.batch_indices(n, size, shuffle, drop_last, generator)]
                        assert got == want, f"n={n}, batch_size={size}, shuffle={shuffle}, drop_last={drop_last}, epoch {epoch}"


def test_batch_indices_in_order_need_no_generator(build):
    batches = build.batch_indices(10, 4)
    assert [np.asarray(b).tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [np.asarray(b).tolist() for b in build.batch_indices(10, 4, drop_last=True)] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_loader_matches_tinytorch_with_three_arrays(build):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (37, 4, 4), dtype=np.uint8)
    y = rng.integers(0, 10, 37)
    w = rng.standard_normal(37).astype(np.float32)
    for size, shuffle, drop_last in [(8, False, False), (8, True, False), (5, True, True), (40, True, False)]:
        ours = build.MyDataLoader((x, y, w), size, shuffle=shuffle, drop_last=drop_last, seed=4)
        theirs = DataLoader(TensorDataset(x, y, w), batch_size=size, shuffle=shuffle, drop_last=drop_last, seed=4)
        assert len(ours) == len(theirs), f"batch_size={size}, drop_last={drop_last}: {len(theirs)} batches, not {len(ours)}"
        for epoch in (1, 2):
            got, want = list(ours), list(theirs)
            assert len(got) == len(want), f"epoch {epoch}: {len(want)} batches expected, got {len(got)}"
            for ours_batch, their_batch in zip(got, want):
                assert len(ours_batch) == 3, "a batch of three arrays is a tuple of three tensors"
                for a, b in zip(ours_batch, their_batch):
                    assert isinstance(a, tt.Tensor), f"batches should hold Tensors, not {type(a).__name__}"
                    assert a.dtype == b.dtype, f"a batch keeps the array's dtype {b.dtype}, got {a.dtype}"
                    np.testing.assert_array_equal(
                        a.numpy(), b.numpy(), err_msg=f"batch_size={size}, shuffle={shuffle}, epoch {epoch}"
                    )


def test_loader_transforms_whole_batches_and_leaves_the_data_alone(build):
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = np.arange(10)
    before = x.copy()
    seen = []

    def transform(batch):
        seen.append(batch.shape)
        batch *= -1  # a transform may change its batch: the loader's copy, never the dataset
        return batch

    loader = build.MyDataLoader((x, y), 4, shuffle=True, seed=0, transform=transform)
    batches = list(loader)
    assert seen == [(4, 3), (4, 3), (2, 3)], f"the transform should see whole batches (4, 3), (4, 3), (2, 3), it saw {seen}"
    np.testing.assert_array_equal(x, before, err_msg="iterating the loader must not change the dataset's arrays")
    for bx, by in batches:
        np.testing.assert_array_equal(bx.numpy(), -x[by.numpy()], err_msg="the transform applies to the inputs of the same rows")


def test_same_seed_same_order_and_epochs_differ(build):
    y = np.arange(64)
    a = [b[0].numpy().tolist() for b in build.MyDataLoader((y,), 16, shuffle=True, seed=9)]
    b_loader = build.MyDataLoader((y,), 16, shuffle=True, seed=9)
    b = [t[0].numpy().tolist() for t in b_loader]
    c = [t[0].numpy().tolist() for t in b_loader]
    assert a == b, "two loaders with the same seed should give the same order"
    assert a != c, "the second epoch should be a new permutation"
    assert sorted(sum(c, [])) == list(range(64)), "an epoch visits every sample once"


def test_random_crop_matches_tinytorch(build):
    rng = np.random.default_rng(2)
    for shape, size, padding in [((5, 3, 8, 8), 8, 2), ((4, 1, 6, 9), 5, 0), ((3, 2, 7, 7), 7, 3), ((1, 3, 4, 4), 2, 1)]:
        for dtype in (np.float32, np.uint8):
            batch = (rng.random(shape) * 200).astype(dtype)
            before = batch.copy()
            got = build.random_crop(batch, size, padding, np.random.default_rng(3))
            want = transforms.RandomCrop(size, padding=padding, generator=np.random.default_rng(3))(batch)
            assert got.shape == want.shape, f"{shape}, size {size}, padding {padding}: shape {want.shape}, not {got.shape}"
            assert got.dtype == batch.dtype, f"random_crop should keep the dtype {batch.dtype}, got {got.dtype}"
            np.testing.assert_array_equal(got, want, err_msg=f"{shape}, size {size}, padding {padding}: the windows differ")
            np.testing.assert_array_equal(batch, before, err_msg="random_crop must not change its input")


def test_random_crop_windows_are_windows_of_the_padded_image(build):
    image = np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4)
    padded = np.pad(image[0, 0], 1)  # (6, 6)
    windows = {padded[t : t + 4, u : u + 4].tobytes() for t in range(3) for u in range(3)}
    crops = build.random_crop(np.repeat(image, 50, axis=0), 4, 1, np.random.default_rng(0))
    assert crops.shape == (50, 1, 4, 4), f"50 crops of size 4 should have shape (50, 1, 4, 4), not {crops.shape}"
    for k, crop in enumerate(crops[:, 0]):
        assert crop.tobytes() in windows, f"crop {k} is not a 4 x 4 window of the zero-padded image:\n{crop}"
    assert len({c.tobytes() for c in crops}) > 3, "the 50 images should get different windows"


def test_random_horizontal_flip_matches_tinytorch(build):
    rng = np.random.default_rng(4)
    for shape in [(8, 3, 4, 5), (5, 1, 2, 2)]:
        batch = rng.integers(0, 255, shape).astype(np.uint8)
        before = batch.copy()
        for p in (0.0, 0.3, 0.5, 1.0):
            got = build.random_horizontal_flip(batch, p, np.random.default_rng(6))
            want = transforms.RandomHorizontalFlip(p, generator=np.random.default_rng(6))(batch)
            assert got.dtype == batch.dtype and got.shape == batch.shape, "a flip keeps shape and dtype"
            np.testing.assert_array_equal(got, want, err_msg=f"{shape}, p={p}")
        np.testing.assert_array_equal(batch, before, err_msg="random_horizontal_flip must not change its input")


def test_normalize_matches_tinytorch(build):
    rng = np.random.default_rng(5)
    for channels in (1, 3):
        batch = rng.random((6, channels, 5, 4))  # float64 in, float32 out
        mean = rng.random(channels).tolist()
        std = (0.1 + rng.random(channels)).tolist()
        got = build.normalize(batch, mean, std)
        want = transforms.Normalize(mean, std)(batch)
        assert got.dtype == np.float32, f"normalize should return float32, not {got.dtype}"
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{channels} channel(s)")
    dataset = ArrayDataset(rng.random((4, 3, 2, 2)).astype(np.float32), np.arange(4))
    x = dataset.data
    np.testing.assert_allclose(
        build.normalize(x, x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))).mean(axis=(0, 2, 3)), 0, atol=1e-5
    )
