"""tinytorch.data: Dataset, TensorDataset, Subset, random_split, default_collate, DataLoader."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.data import ArrayDataset, DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split

from .helpers import data_rng


def _dataset(n: int = 10) -> TensorDataset:
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)  # row i is [3i, 3i+1, 3i+2]
    return TensorDataset(x, np.arange(n, dtype=np.int64))


class CountingDataset(TensorDataset):
    """Counts the per-sample calls, to prove the loader batches by indexing whole arrays."""

    calls = 0

    def __getitem__(self, index):
        CountingDataset.calls += 1
        return super().__getitem__(index)


class Squares(Dataset):
    """No get_batch of its own: the loader falls back to __getitem__ and collate."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.full((2,), i, np.float32), i * i


def _order(loader: DataLoader) -> list[int]:
    return [int(i) for _, y in loader for i in y.data]


# ---------------------------------------------------------------- datasets


def test_tensor_dataset_indexing_and_batches():
    ds = TensorDataset(tt.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([0, 1, 0]))
    assert len(ds) == 3
    x, y = ds[1]
    np.testing.assert_array_equal(x, [3.0, 4.0])
    assert y == 1
    xb, yb = ds.get_batch(np.array([2, 0]))
    np.testing.assert_array_equal(xb, [[5.0, 6.0], [1.0, 2.0]])
    np.testing.assert_array_equal(yb, [0, 0])
    assert isinstance(xb, np.ndarray) and xb.dtype == np.float32
    np.testing.assert_array_equal(ds[1:][1], [1, 0])  # a slice is a batch, as on torch tensors


def test_tensor_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(4,\)"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError):
        TensorDataset()


def test_dataset_transform_sees_the_batch_of_inputs_only():
    seen = []
    ds = TensorDataset(np.ones((5, 2), np.float32), np.arange(5), transform=lambda x: seen.append(x.shape) or x * 2)
    x, y = ds.get_batch(np.array([0, 1, 2]))
    assert seen == [(3, 2)]
    np.testing.assert_array_equal(x, 2 * np.ones((3, 2)))
    np.testing.assert_array_equal(y, [0, 1, 2])
    x0, _ = ds[4]  # one sample goes through as a batch of one
    assert seen[-1] == (1, 2) and x0.shape == (2,)


def test_array_dataset_data_and_targets():
    ds = ArrayDataset(np.zeros((4, 2)), np.arange(4))
    assert ds.data.shape == (4, 2) and list(ds.targets) == [0, 1, 2, 3]
    ds.targets = np.array([3, 2, 1, 0])
    assert ds[0][1] == 3


def test_subset_indexes_through_the_parent():
    sub = Subset(_dataset(), [7, 2, 5])
    assert len(sub) == 3
    assert sub[0][1] == 7
    _, y = sub.get_batch(np.array([2, 0]))
    np.testing.assert_array_equal(y, [5, 7])
    with pytest.raises(IndexError, match="10 samples"):
        Subset(_dataset(), [10])


def test_subset_of_a_dataset_without_get_batch_falls_back():
    _, y = Subset(Squares(), [3, 1]).get_batch(np.array([0, 1]))
    np.testing.assert_array_equal(y, [9, 1])


@pytest.mark.parametrize(
    "lengths, sizes", [([3, 7], [3, 7]), ([0.5, 0.5], [5, 5]), ([0.34, 0.33, 0.33], [4, 3, 3]), ([0.25, 0.75], [3, 7])]
)
def test_random_split_is_disjoint_and_covering(lengths, sizes):
    parts = random_split(_dataset(10), lengths, generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == sizes
    every = np.concatenate([p.indices for p in parts])
    assert sorted(every) == list(range(10))


def test_random_split_is_reproducible_with_a_generator():
    a = random_split(_dataset(20), [0.8, 0.2], generator=np.random.default_rng(5))
    b = random_split(_dataset(20), [0.8, 0.2], generator=np.random.default_rng(5))
    c = random_split(_dataset(20), [0.8, 0.2], generator=np.random.default_rng(6))
    assert all(np.array_equal(p.indices, q.indices) for p, q in zip(a, b))
    assert not np.array_equal(a[0].indices, c[0].indices)


def test_random_split_uses_the_default_generator():
    tt.manual_seed(3)
    a = random_split(_dataset(20), [10, 10])
    tt.manual_seed(3)
    b = random_split(_dataset(20), [10, 10])
    assert np.array_equal(a[0].indices, b[0].indices)


def test_random_split_rejects_wrong_lengths():
    with pytest.raises(ValueError, match="sum to 9, but the dataset has 10"):
        random_split(_dataset(10), [4, 5])
    with pytest.raises(ValueError):
        random_split(_dataset(10), [0.5, 2.5])


def test_default_collate_stacks_fields():
    x, y = default_collate([(np.zeros(2, np.float32), 1), (np.ones(2, np.float32), 2)])
    assert x.shape == (2, 2) and x.dtype == np.float32
    assert y.dtype == np.int64 and list(y) == [1, 2]
    assert default_collate([0.5, 1.5]).dtype == np.float32
    assert default_collate([{"a": tt.tensor([1.0])}, {"a": tt.tensor([2.0])}])["a"].shape == (2, 1)
    with pytest.raises(ValueError, match=r"\(2,\), \(3,\)"):
        default_collate([np.zeros(2), np.zeros(3)])


# ---------------------------------------------------------------- DataLoader


@pytest.mark.parametrize(
    "n, batch, drop_last, sizes", [(10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4]), (8, 4, True, [4, 4]), (3, 5, True, [])]
)
def test_batch_count_and_sizes(n, batch, drop_last, sizes):
    loader = DataLoader(_dataset(n), batch_size=batch, drop_last=drop_last)
    assert len(loader) == len(sizes)
    assert [len(y.data) for _, y in loader] == sizes


def test_batches_are_tensors_with_the_arrays_dtypes():
    x, y = next(iter(DataLoader(_dataset(), batch_size=4)))
    assert isinstance(x, tt.Tensor) and isinstance(y, tt.Tensor)
    assert x.dtype == tt.float32 and y.dtype == tt.int64
    assert x.shape == (4, 3) and not x.requires_grad
    np.testing.assert_array_equal(x.data[1], [3, 4, 5])


def test_unshuffled_order_is_sequential():
    assert _order(DataLoader(_dataset(10), batch_size=3)) == list(range(10))


def test_shuffle_covers_every_index_once_per_epoch():
    loader = DataLoader(_dataset(23), batch_size=5, shuffle=True, seed=0)
    for _ in range(3):
        order = _order(loader)
        assert sorted(order) == list(range(23)) and order != list(range(23))


def test_same_seed_same_order_and_epochs_differ():
    a = DataLoader(_dataset(50), batch_size=8, shuffle=True, seed=1)
    b = DataLoader(_dataset(50), batch_size=8, shuffle=True, seed=1)
    first, second = _order(a), _order(a)
    assert first == _order(b) and second == _order(b)
    assert first != second


def test_passed_generator_decides_the_order():
    loader = DataLoader(_dataset(30), batch_size=8, shuffle=True, generator=np.random.default_rng(4))
    assert _order(loader) == list(np.random.default_rng(4).permutation(30))
    with pytest.raises(ValueError, match="seed or generator"):
        DataLoader(_dataset(), seed=1, generator=np.random.default_rng(1))


def test_default_generator_is_read_at_iteration_time():
    loader = DataLoader(_dataset(30), batch_size=8, shuffle=True)
    tt.manual_seed(11)  # replaces the default generator after the loader was made
    first = _order(loader)
    tt.manual_seed(11)
    assert _order(loader) == first
    assert loader.generator is tt.default_generator()


def test_restoring_the_generator_state_restores_the_order():
    loader = DataLoader(_dataset(40), batch_size=16, shuffle=True, seed=7)
    _order(loader)
    saved = loader.generator.bit_generator.state  # as a checkpoint would, between epochs
    expected = [_order(loader), _order(loader)]
    resumed = DataLoader(_dataset(40), batch_size=16, shuffle=True, seed=123)
    resumed.generator.bit_generator.state = saved
    assert [_order(resumed), _order(resumed)] == expected


def test_get_batch_is_used_not_one_call_per_sample():
    CountingDataset.calls = 0
    ds = CountingDataset(np.zeros((100, 2), np.float32), np.arange(100))
    batches = list(DataLoader(ds, batch_size=32, shuffle=True, seed=0))
    assert len(batches) == 4 and CountingDataset.calls == 0
    list(DataLoader(Subset(ds, np.arange(50)), batch_size=10))
    assert CountingDataset.calls == 0


def test_collate_fallback_without_get_batch():
    loader = DataLoader(Squares(), batch_size=3)
    batches = list(loader)
    assert len(batches) == 3
    x, y = batches[1]
    assert x.shape == (3, 2) and x.dtype == tt.float32 and y.dtype == tt.int64
    np.testing.assert_array_equal(y.data, [9, 16, 25])


def test_plain_list_dataset():
    samples = [(np.float32(i), i % 2) for i in range(5)]
    x, y = next(iter(DataLoader(samples, batch_size=5)))
    np.testing.assert_array_equal(x.data, np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(y.data, [0, 1, 0, 1, 0])


def test_custom_collate_fn_gets_the_samples():
    received = []

    def collate(samples):
        received.append(len(samples))
        xs, ys = zip(*samples)
        return np.stack(xs).sum(axis=1), np.array(ys) * 10

    x, y = next(iter(DataLoader(_dataset(), batch_size=4, collate_fn=collate)))
    assert received == [4]
    np.testing.assert_array_equal(x.data, [3, 12, 21, 30])
    np.testing.assert_array_equal(y.data, [0, 10, 20, 30])


def test_loader_transform_applies_to_the_input_batch():
    loader = DataLoader(_dataset(6), batch_size=3, transform=lambda x: x[:, :1] * -1)
    x, y = next(iter(loader))
    np.testing.assert_array_equal(x.data, [[0], [-3], [-6]])
    np.testing.assert_array_equal(y.data, [0, 1, 2])


def test_loader_with_random_data_and_shuffle_keeps_pairs():
    x = data_rng().standard_normal((37, 4)).astype(np.float32)
    y = np.arange(37)
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=10, shuffle=True, seed=2):
        np.testing.assert_array_equal(xb.data, x[yb.data])


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_dataset(), batch_size=0)
