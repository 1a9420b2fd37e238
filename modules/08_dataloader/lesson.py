# %% [markdown]
# # Lesson 08 · Data loading
#
# A training loop asks for batches many thousands of times. The **data loader** hands them over: it
# decides the order (shuffled by a *seeded* generator, so a run can be repeated and resumed), cuts
# the order into batches, fetches each batch from the dataset, and turns it into what the model
# eats (floats, channels first, normalised, randomly cropped and flipped for augmentation). Done
# one sample at a time in Python, that is slower than the model; done as one NumPy operation per
# batch, it is nearly free.
#
# - **Build**: the batch order of an epoch; a `DataLoader` that fetches a batch by indexing whole
#   arrays; batch transforms: random crop with padding, random horizontal flip, per-channel
#   normalisation, vectorised over the batch. Each is checked against `tinytorch.data`.
# - **Use**: your loader and transforms, then tinytorch's, on CIFAR-10 (the same batches, bit for
#   bit), and a small model trained from them.
# - **Understand**: per-sample Python against whole-batch indexing, measured over batch sizes; the
#   memory of the dataset against a batch, and of loading lazily against converting everything
#   first (`tinytorch.perf.memory_timeline`).
# - **Reflect**: where the time of data loading goes, what memory it needs, and what a seeded
#   generator buys.
#
# Prerequisites: lesson 01 (arrays, views and copies). Fill in every `raise NotImplementedError()`,
# run the cell and the check under it; `tinytorch check 8` runs every check and more tests on your
# notebook.

# %%
import os
import time
import tracemalloc

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import tinytorch as tt
from tinytorch.data import ArrayDataset, DataLoader, TensorDataset, transforms

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: a slice of the data, so the notebook runs in seconds
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### 1. The order of an epoch
#
# An epoch visits every sample once. Without shuffling the order is `0, 1, ..., n - 1`; with it,
# one permutation drawn from the loader's generator, `generator.permutation(n)` (a new one each
# epoch, because the generator moves on). Cut the order into consecutive batches of `batch_size`
# indices; the last batch is shorter when `batch_size` does not divide `n`, and `drop_last=True`
# leaves it out (useful when every step should see the same batch size).


# %%
def batch_indices(n, batch_size, shuffle=False, drop_last=False, generator=None):
    """One epoch's batches as a list of index arrays: 0..n-1 in order, or in the order generator.permutation(n) gives."""
    ### BEGIN SOLUTION
    order = generator.permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    return [order[start : start + batch_size] for start in range(0, stop, batch_size)]
    ### END SOLUTION


# %% tags=["check"]
# Check: batch_indices gives tinytorch's DataLoader order, in order and shuffled by a seed, two epochs running
for n, size, shuffle, drop_last in [
    (10, 3, False, False),
    (10, 3, False, True),
    (12, 4, True, False),
    (11, 4, True, True),
    (3, 5, False, False),
]:
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=size, shuffle=shuffle, drop_last=drop_last, seed=7)
    generator = np.random.default_rng(7)
    for epoch in (1, 2):
        want = [batch[0].numpy().tolist() for batch in loader]
        got = [list(map(int, b)) for b in batch_indices(n, size, shuffle, drop_last, generator)]
        assert got == want, (
            f"n={n}, batch_size={size}, shuffle={shuffle}, drop_last={drop_last}, epoch {epoch}: should be {want}, but is {got}"
        )
print("ok:", [b.tolist() for b in batch_indices(10, 4, True, False, np.random.default_rng(0))])

# %% [markdown]
# ### 2. The loader: whole-batch indexing
#
# `MyDataLoader(arrays, batch_size, shuffle, drop_last, seed, transform)` holds arrays that share
# their first dimension (images and labels) and one generator for the whole run (made from `seed`
# in `__init__`, given). Write `__len__` (the number of batches) and `__iter__`: for each index
# array of the epoch, fetch the batch with **one indexing per array**, `a[idx]` (NumPy copies the
# chosen rows in C, with no Python loop over samples), apply `transform` to the first array (the
# inputs) when there is one, and yield the batch as a tuple of tensors (`tt.from_numpy` wraps an
# array without copying it again).


# %%
class MyDataLoader:
    """Batches of arrays sharing their first dimension, as tuples of Tensors, shuffled by a seeded generator."""

    def __init__(self, arrays, batch_size, shuffle=False, drop_last=False, seed=None, transform=None):
        self.arrays = tuple(np.asarray(a) for a in arrays)
        self.batch_size, self.shuffle, self.drop_last, self.transform = batch_size, shuffle, drop_last, transform
        self.generator = np.random.default_rng(seed)  # one generator for the run: each epoch draws the next order

    def __len__(self):
        ### BEGIN SOLUTION
        n = len(self.arrays[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        ### END SOLUTION

    def __iter__(self):
        ### BEGIN SOLUTION
        for idx in batch_indices(len(self.arrays[0]), self.batch_size, self.shuffle, self.drop_last, self.generator):
            first, *rest = (a[idx] for a in self.arrays)  # one NumPy indexing per array: a copy of the chosen rows
            if self.transform is not None:
                first = self.transform(first)
            yield (tt.from_numpy(first), *(tt.from_numpy(r) for r in rest))
        ### END SOLUTION


# %% tags=["check"]
# Check: MyDataLoader yields tinytorch's DataLoader batches (shuffled, two epochs, with a transform) and its length
images = rng.integers(0, 256, (23, 2, 3), dtype=np.uint8)
labels = rng.integers(0, 5, 23)
double = lambda x: x.astype(np.float32) * 2
for size, shuffle, drop_last in [(5, True, False), (5, False, True), (8, True, True)]:
    ours = MyDataLoader((images, labels), size, shuffle=shuffle, drop_last=drop_last, seed=3, transform=double)
    theirs = DataLoader(
        ArrayDataset(images, labels, transform=double), batch_size=size, shuffle=shuffle, drop_last=drop_last, seed=3
    )
    assert len(ours) == len(theirs), f"batch_size={size}, drop_last={drop_last}: len should be {len(theirs)}, but is {len(ours)}"
    for epoch in (1, 2):
        got, want = list(ours), list(theirs)
        assert len(got) == len(want), f"epoch {epoch}: {len(want)} batches expected, got {len(got)}"
        for k, ((x, y), (tx, ty)) in enumerate(zip(got, want)):
            assert isinstance(x, tt.Tensor) and isinstance(y, tt.Tensor), (
                f"a batch should be a tuple of Tensors, got {type(x).__name__}"
            )
            assert x.dtype == tx.dtype and y.dtype == ty.dtype, (
                f"batch dtypes should be {tx.dtype}, {ty.dtype}; got {x.dtype}, {y.dtype}"
            )
            assert np.array_equal(x.numpy(), tx.numpy()) and np.array_equal(y.numpy(), ty.numpy()), (
                f"batch_size={size}, shuffle={shuffle}, epoch {epoch}, batch {k}: labels should be {ty.numpy()}, but are {y.numpy()}"
            )
print(f"ok: {len(ours)} batches per epoch, as tinytorch's DataLoader, epoch after epoch")

# %% [markdown]
# ### 3. Random crop with padding
#
# Augmentation shows the model a slightly different image each epoch, so it learns the object and
# not the pixels. The classic one for CIFAR-10: pad each image with `padding` zeros on every side,
# then cut a random `size × size` window out of it. For a batch `(N, C, H, W)`: pad the two spatial
# axes (`np.pad`), then draw the windows' top rows, then their left columns, in that order, one
# per image: `generator.integers(0, H + 2 * padding - size + 1, N)` (and the same with `W`). Cut
# all `N` windows at once, without a loop over images:
# `np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(2, 3))` is a *view* of
# every possible window, shape `(N, C, H', W', size, size)` (no copy: new strides over the same
# bytes; lesson 09 builds convolution on it), and indexing it with `[np.arange(N), :, top, left]`
# picks one window per image, `(N, C, size, size)`.


# %%
def random_crop(images, size, padding, generator):
    """A random size x size window of each image of (N, C, H, W), after zero padding on every side."""
    ### BEGIN SOLUTION
    padded = np.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)))  # (N, C, H + 2p, W + 2p)
    n, _, h, w = padded.shape
    top = generator.integers(0, h - size + 1, n)
    left = generator.integers(0, w - size + 1, n)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(2, 3))  # (N, C, H', W', size, size), a view
    return windows[np.arange(n), :, top, left]  # (N, C, size, size): one window per image, copied
    ### END SOLUTION


# %% tags=["check"]
# Check: random_crop cuts the same windows as tinytorch's RandomCrop with the same generator, vectorised
batch = rng.standard_normal((6, 3, 8, 8)).astype(np.float32)
for size, padding in [(8, 2), (5, 0), (8, 0), (6, 3)]:
    got = random_crop(batch, size, padding, np.random.default_rng(11))
    want = transforms.RandomCrop(size, padding=padding, generator=np.random.default_rng(11))(batch)
    assert got.shape == want.shape, (
        f"size={size}, padding={padding}: the crops should have shape {want.shape}, but have {got.shape}"
    )
    assert np.array_equal(got, want), (
        f"size={size}, padding={padding}: the windows differ from tinytorch's (draw the tops, then the lefts)"
    )
    assert got.dtype == batch.dtype, f"random_crop should keep the dtype {batch.dtype}, got {got.dtype}"
assert np.array_equal(random_crop(batch, 8, 0, np.random.default_rng(0)), batch), (
    "a crop of the full size without padding is the batch"
)
print("ok: crops of", batch.shape, "->", got.shape, "as tinytorch's RandomCrop")

# %% [markdown]
# ### 4. Random horizontal flip
#
# Mirror each image left to right with probability `p`: draw one uniform number per image,
# `generator.random(N) < p`, and reverse the last axis of the chosen images (`[..., ::-1]`). The
# others stay as they are; return a new array, not the input changed in place (the dataset's
# arrays must not change).


# %%
def random_horizontal_flip(images, p, generator):
    """Each image of (N, C, H, W) mirrored left-right with probability p (a new array)."""
    ### BEGIN SOLUTION
    flip = generator.random(len(images)) < p
    out = images.copy()
    out[flip] = images[flip][..., ::-1]
    return out
    ### END SOLUTION


# %% tags=["check"]
# Check: random_horizontal_flip flips the images tinytorch's RandomHorizontalFlip flips, and leaves its input alone
batch = rng.standard_normal((9, 2, 4, 5)).astype(np.float32)
before = batch.copy()
for p in (0.0, 0.5, 1.0):
    got = random_horizontal_flip(batch, p, np.random.default_rng(5))
    want = transforms.RandomHorizontalFlip(p, generator=np.random.default_rng(5))(batch)
    assert np.array_equal(got, want), f"p={p}: the flipped images differ from tinytorch's (one generator.random(N) < p per image)"
assert np.array_equal(batch, before), "random_horizontal_flip should not change its input"
assert np.array_equal(random_horizontal_flip(batch, 1.0, rng), batch[..., ::-1]), "p=1 flips every image"
print("ok: flips as tinytorch's RandomHorizontalFlip")

# %% [markdown]
# ### 5. Normalisation per channel
#
# Subtract each channel's mean and divide by its standard deviation (computed once, on the
# training images), so every input channel has mean 0 and spread 1: `(x - mean[c]) / std[c]`.
# `mean` and `std` have one value per channel; reshape them to `(C, 1, 1)` so they broadcast over
# `(N, C, H, W)`. Return float32.


# %%
def normalize(images, mean, std):
    """(x - mean[c]) / std[c] for each channel c of (N, C, H, W), as float32."""
    ### BEGIN SOLUTION
    mean = np.asarray(mean, np.float32).reshape(-1, 1, 1)  # (C, 1, 1)
    std = np.asarray(std, np.float32).reshape(-1, 1, 1)
    return ((images - mean) / std).astype(np.float32, copy=False)
    ### END SOLUTION


# %% tags=["check"]
# Check: normalize agrees with tinytorch's Normalize, per channel, in float32
batch = rng.random((4, 3, 5, 5), dtype=np.float32)
mean, std = [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]
got, want = normalize(batch, mean, std), transforms.Normalize(mean, std)(batch)
assert got.dtype == np.float32, f"normalize should return float32, not {got.dtype}"
assert np.allclose(got, want, atol=1e-6), f"normalize differs from tinytorch's Normalize by up to {np.abs(got - want).max():.2e}"
print("ok: per-channel means after normalising:", got.mean(axis=(0, 2, 3)).round(3))

# %% [markdown]
# ## Use
#
# CIFAR-10: 32×32 colour images in ten classes, kept as tinytorch (and torchvision) keeps them:
# uint8, channels last, `(N, 32, 32, 3)`. tinytorch looks under `$TINYTORCH_DATA`, then
# `~/.cache/tinytorch/datasets` (`CIFAR10(download=True)` fetches it there); without it the lesson
# uses random images and says so. With `FAST`, a slice of the test split (it loads quicker).

# %%
from tinytorch.datasets import CIFAR10, DatasetError

try:
    train_set = CIFAR10(train=not FAST)
    test_set = train_set if FAST else CIFAR10(train=False)
    images, labels, classes = train_set.data, train_set.targets, train_set.classes
    source = "CIFAR-10"
except DatasetError as e:
    print(f"CIFAR-10 is not on this machine, so this lesson uses random images instead.\n  ({e})")
    images = rng.integers(0, 256, (6000, 32, 32, 3), dtype=np.uint8)
    labels, classes = rng.integers(0, 10, 6000), [f"class {k}" for k in range(10)]
    test_set, source = None, "random images (CIFAR-10 not found)"
if FAST:
    images, labels, test_images, test_labels = images[:2048], labels[:2048], images[-1000:], labels[-1000:]
elif test_set is not None:
    test_images, test_labels = test_set.data, test_set.targets
else:
    images, labels, test_images, test_labels = images[:5000], labels[:5000], images[5000:], labels[5000:]
sample = images[:2000].astype(np.float32) / 255  # the channel statistics, estimated from 2000 images
channel_mean, channel_std = sample.mean(axis=(0, 1, 2)), sample.std(axis=(0, 1, 2))
print(f"{source}: {images.shape} {images.dtype} for training, {len(test_images)} test images")
print(f"per-channel mean {channel_mean.round(4)}, std {channel_std.round(4)}")

# %% [markdown]
# The pipeline: `ToTensor` (tinytorch's: uint8 channels-last to float32 channels-first in [0, 1]),
# then your crop (padding 4), flip and normalisation, all drawing from one generator; your loader
# feeds it batches of 128. tinytorch's `DataLoader` with tinytorch's transforms, seeded alike, must
# give the very same batches.

# %%
to_tensor = transforms.ToTensor()


def augment_with(generator):
    """Your transforms as one function of a batch of uint8 images (N, 32, 32, 3) -> float32 (N, 3, 32, 32)."""

    def augment(batch):
        x = to_tensor(batch)  # (N, 3, 32, 32) in [0, 1]
        x = random_crop(x, 32, 4, generator)
        x = random_horizontal_flip(x, 0.5, generator)
        return normalize(x, channel_mean, channel_std)

    return augment


def epoch_seconds(loader):
    """Seconds to go through one epoch of the loader (the best of 3 when an epoch is quick), and the number of samples."""
    best = float("inf")
    for _ in range(3):
        start, count = time.perf_counter(), 0
        for x, _ in loader:
            count += len(x.data)
        best = min(best, time.perf_counter() - start)
        if best > 0.2:  # slow enough to measure once
            break
    return best, count


ours = MyDataLoader((images, labels), 128, shuffle=True, seed=0, transform=augment_with(np.random.default_rng(1)))
generator = np.random.default_rng(1)
pipeline = transforms.Compose([
    to_tensor, transforms.RandomCrop(32, padding=4, generator=generator), transforms.RandomHorizontalFlip(0.5, generator=generator),
    transforms.Normalize(channel_mean, channel_std),
])  # fmt: skip
theirs = DataLoader(ArrayDataset(images, labels, transform=pipeline), batch_size=128, shuffle=True, seed=0)
first_ours, first_theirs = next(iter(ours)), next(iter(theirs))
assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first_ours, first_theirs)), (
    "your pipeline and tinytorch's should give the same batch"
)
print(
    f"the first batch is the same in both: inputs {first_ours[0].dtype} {first_ours[0].shape}, labels {first_ours[1].dtype} {first_ours[1].shape}"
)
for name, loader in (("your loader", ours), ("tinytorch's", theirs)):
    seconds, count = epoch_seconds(loader)
    print(f"{name:<12} one epoch of {count} augmented images in {seconds:.2f} s: {count / seconds:,.0f} images/s")

# %%
shown = 8
plain = images[:shown]
augmented = augment_with(np.random.default_rng(2))(plain) * channel_std.reshape(3, 1, 1) + channel_mean.reshape(
    3, 1, 1
)  # undo normalise
fig = make_subplots(rows=2, cols=shown, horizontal_spacing=0.01, vertical_spacing=0.04)
for k in range(shown):
    fig.add_trace(go.Image(z=plain[k]), 1, k + 1)
    fig.add_trace(
        go.Image(z=(255 * augmented[k].transpose(1, 2, 0).clip(0, 1)).astype(np.uint8)), 2, k + 1
    )  # (3, 32, 32) -> (32, 32, 3)
fig.update_layout(title=f"{source}: the images (top) and one augmented draw of each (bottom)", width=820, height=270,
                  margin=dict(l=10, r=10, t=40, b=10))  # fmt: skip
fig.update_xaxes(visible=False).update_yaxes(visible=False)
fig.show()

# %% [markdown]
# And the loader at work: a small MLP (3072-256-10) trained for one epoch on your augmented
# batches (`tinytorch.train.fit`), measured on test images that are only normalised.

# %%
from tinytorch import nn
from tinytorch.nn import functional as F

tt.manual_seed(0)
model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 256), nn.ReLU(), nn.Linear(256, 10))
train_loader = MyDataLoader((images, labels), 128, shuffle=True, seed=0, transform=augment_with(np.random.default_rng(1)))
test_loader = MyDataLoader(
    (test_images, test_labels), 500, transform=lambda b: normalize(to_tensor(b), channel_mean, channel_std)
)
start = time.perf_counter()
history = tt.train.fit(
    model, train_loader, F.cross_entropy, tt.optim.Adam(model.parameters(), lr=1e-3), 1, val_loader=test_loader, progress=False
)
result = history.epochs[-1]
print(
    f"one epoch ({result['step']} steps) in {time.perf_counter() - start:.1f} s: train loss {result['train_loss']:.3f}, "
    f"test accuracy {result['val_accuracy']:.1%} (chance: {1 / len(classes):.0%})"
)

# %% [markdown]
# ## Understand
#
# ### One sample at a time, or one batch at a time?
#
# PyTorch's classic path fetches a batch sample by sample: `dataset[i]` for each index, then
# `collate_fn` stacks them; every sample costs Python calls, and a transform runs once per image.
# tinytorch's `DataLoader` takes that path when you pass a `collate_fn`, and otherwise asks the
# dataset for the whole batch at once (`get_batch(indices)`: one indexing, one transform per
# batch), as your loader does. Both paths, over the same images, for three batch sizes, without
# and with the augmentation:

# %%
from tinytorch.data import default_collate

timed = images[: 1024 if FAST else 4096]
timed_labels = labels[: len(timed)]
sizes = (16, 64, 256)
speed = {}
for augmented in (False, True):
    for path in ("per sample", "whole batch"):
        key = f"{path}, {'augmented' if augmented else 'raw uint8'}"
        speed[key] = []
        for size in sizes:
            g = np.random.default_rng(1)
            dataset = ArrayDataset(timed, timed_labels, transform=augment_with(g) if augmented else None)
            loader = DataLoader(dataset, size, shuffle=True, seed=0, collate_fn=default_collate if path == "per sample" else None)
            seconds, count = epoch_seconds(loader)
            speed[key].append(count / seconds)
        print(f"{key:<26}" + "".join(f"  batch {s}: {v:>9,.0f} images/s" for s, v in zip(sizes, speed[key])))
fig = go.Figure()
for key, values in speed.items():
    fig.add_trace(
        go.Scatter(
            x=list(sizes), y=values, name=key, mode="lines+markers", line=dict(dash="dot" if "per sample" in key else "solid")
        )
    )
fig.update_layout(title="Loader throughput by batch size", xaxis=dict(title="batch size", type="log", tickvals=list(sizes)),
                  yaxis=dict(title="images per second", type="log"), width=760, height=360, template="plotly_white",
                  margin=dict(l=10, r=10, t=40, b=10))  # fmt: skip
fig.show()
speedup = {
    kind: [b / a for a, b in zip(speed[f"per sample, {kind}"], speed[f"whole batch, {kind}"])]
    for kind in ("raw uint8", "augmented")
}

# %% [markdown]
# ### What the dataset costs, and what a batch costs
#
# The dataset stays in memory as uint8; only the batch in hand becomes float32. The alternative,
# converting (and normalising) every image once before training, is simple and costs four times the
# dataset's bytes, for as long as training runs. `tinytorch.perf.memory_timeline` samples NumPy's
# own allocation count (`tracemalloc`) while a function runs: one epoch of your loader, against
# converting the same images up front and then cropping and flipping each batch of that. (The
# sampling itself slows the code it watches, so read the heights, not the seconds.)

# %%
from tinytorch.perf import memory_timeline

subset = images[: 2048 if FAST else 8192]
subset_labels = labels[: len(subset)]


def lazy_epoch():
    loader = MyDataLoader((subset, subset_labels), 128, shuffle=True, seed=0, transform=augment_with(np.random.default_rng(1)))
    for _ in loader:
        pass


def upfront_epoch():
    everything = normalize(to_tensor(subset), channel_mean, channel_std)  # (N, 3, 32, 32) float32, all at once
    g = np.random.default_rng(1)
    for idx in batch_indices(len(everything), 128, shuffle=True, generator=np.random.default_rng(0)):
        random_horizontal_flip(random_crop(everything[idx], 32, 4, g), 0.5, g)  # the augmentation still runs per batch


timelines = {"lazy: one batch at a time": memory_timeline(lazy_epoch, interval=0.01), "up front: everything as float32 first": memory_timeline(upfront_epoch, interval=0.01)}  # fmt: skip
fig = go.Figure()
for name, tl in timelines.items():
    base = tl["numpy"][0]
    fig.add_trace(go.Scatter(x=tl["t"], y=np.subtract(tl["numpy"], base), name=name, mode="lines"))
fig.update_layout(title=f"NumPy bytes allocated while one epoch of {len(subset)} images is loaded", xaxis_title="seconds",
                  yaxis_title="bytes above the start", width=760, height=340, template="plotly_white", margin=dict(l=10, r=10, t=40, b=10))  # fmt: skip
fig.show()
peaks = {name: tl["peak_numpy"] - tl["numpy"][0] for name, tl in timelines.items()}

index = np.random.default_rng(0).permutation(len(images))[:128]
picked = images[index]  # fancy indexing: a copy of 128 rows
sliced = images[:128]  # a slice: a view, no copy
batch_bytes = ours.transform(picked).nbytes
tracemalloc.start()
ours.transform(images[index])
_, one_batch_peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
memory = {
    "dataset, uint8": images.nbytes,
    "dataset as float32": images.size * np.dtype(np.float32).itemsize,
    "one batch, uint8": picked.nbytes,
    "one augmented batch, float32": batch_bytes,
    "peak while making one batch": one_batch_peak,
}
for name, nbytes in memory.items():
    print(f"{name:<30} {nbytes / 2**20:10.3f} MiB")
print(
    f"images[index] shares memory with images: {np.shares_memory(picked, images)}; images[:128]: {np.shares_memory(sliced, images)}"
)
for name, peak in peaks.items():
    print(f"{name:<38} peak {peak / 2**20:8.2f} MiB above the start")

# %% [markdown]
# ## Reflect

# %%
import itertools

middle = sizes.index(64)
print(
    f"1. whole-batch indexing against per sample, at batch {sizes[middle]}: {speedup['raw uint8'][middle]:.0f}x the images/s raw, "
    f"{speedup['augmented'][middle]:.0f}x augmented; per sample, the batch size changes little "
    f"({speed['per sample, augmented'][0]:,.0f} to {speed['per sample, augmented'][-1]:,.0f} images/s augmented)"
)
print(
    f"2. dataset {memory['dataset, uint8'] / 2**20:.1f} MiB as uint8, {memory['dataset as float32'] / memory['dataset, uint8']:.0f}x that as float32; "
    f"a batch {memory['one augmented batch, float32'] / 2**20:.2f} MiB; epoch peak lazily {peaks['lazy: one batch at a time'] / 2**20:.2f} MiB, "
    f"up front {peaks['up front: everything as float32 first'] / 2**20:.2f} MiB"
)


def labels_of(loader, batches=3):
    """The labels of the first few batches of the loader's next epoch."""
    return [y.numpy().copy() for _, y in itertools.islice(loader, batches)]


first = labels_of(MyDataLoader((images, labels), 128, shuffle=True, seed=0))
again = labels_of(MyDataLoader((images, labels), 128, shuffle=True, seed=0))
loader = MyDataLoader((images, labels), 128, shuffle=True, seed=0)
saved = loader.generator.bit_generator.state
epoch_one, epoch_two = labels_of(loader), labels_of(loader)
loader.generator.bit_generator.state = saved  # a checkpoint restores this, and the order carries on as it would have
resumed = labels_of(loader)
same = all(np.array_equal(a, b) for a, b in zip(first, again))
differs = not all(np.array_equal(a, b) for a, b in zip(epoch_one, epoch_two))
restored = all(np.array_equal(a, b) for a, b in zip(epoch_one, resumed))
print(
    f"3. same seed, same order: {same}; epoch 2 differs from epoch 1: {differs}; restoring the generator's state repeats the order: {restored}"
)

# %% [markdown]
# **1. Where does the time of data loading go?** Line 1 above. Per sample, every image costs a
# `__getitem__` call, a tuple, a transform called on a batch of one (with its own small NumPy calls,
# each with a fixed overhead) and a share of `np.stack`: Python's cost per call, paid once per
# image, so the batch size hardly matters. Whole-batch indexing pays those costs once per batch
# and lets NumPy loop in C over the rows, so it gets faster per image as batches grow until the
# bytes moved, not the calls, set the pace. That is why PyTorch runs per-sample loaders in worker
# processes, and why vectorised batch transforms (as here, or on the GPU) are the fast path.
#
# **2. What memory does loading need?** Line 2: the dataset is kept in its compact form (one byte per
# pixel) and only the batch in hand becomes float32, four bytes per value; converting everything
# first quadruples the dataset's bytes and keeps them for the whole run (and the conversion's
# temporaries push its peak higher still), while a lazy loader's extra memory is a few batches and
# the temporaries of the transforms. Fancy indexing copies the
# chosen rows (a batch is a fresh array, which a transform may change freely), while a slice is a
# view: the loader never changes the dataset.
#
# **3. What does a seeded generator buy?** Line 3: the same seed gives the same order, so a run
# can be repeated exactly and two variants compared on the same batches (the Use part relied on
# it); each epoch draws a fresh permutation because the generator moves on; and because the order
# comes from the generator's state, a checkpoint that saves the state (as
# `tinytorch.train.save_checkpoint` does with `loader.generator.bit_generator.state`) resumes a run
# on exactly the batches it would have seen.
