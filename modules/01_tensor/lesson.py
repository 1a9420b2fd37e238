# %% [markdown]
# # Lesson 01 · Tensors
#
# A tensor is an n-dimensional array plus the few facts every later lesson leans on: its **shape**,
# its **dtype**, the rule that decides what `a + b` means when the shapes differ (**broadcasting**),
# and what it all **costs in memory**.
#
# - **Build**: your own small `Tensor` on NumPy: data, shape and dtype; `+ - * /` with broadcasting
#   and a shape check; `@` as a broadcast multiply and a sum; `sum` and `mean` over a dimension.
# - **Use**: your `Tensor`, then tinytorch's, on real images (Fashion-MNIST): the mean image,
#   normalisation, and a classifier made of nothing but `+ * @ sum`.
# - **Understand**: bytes per dtype, views that share memory and copies that do not, what
#   broadcasting costs, and why your `@` is slower and hungrier than tinytorch's.
# - **Reflect**: the systems questions of the lesson, answered from those measurements.
#
# Fill in every `raise NotImplementedError()` in the Build part, run the cell, then run the check
# cell under it: a check says what it expected and what it got. `tinytorch check 1` runs every
# check, and a few more tests, on your notebook.

# %%
import os
import time
import tracemalloc

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import tinytorch as tt

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: a small slice of the data, so the notebook runs in seconds
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### 1. Data, shape and dtype
#
# `Tensor(data)` keeps its values in a NumPy array, `self.data`. The dtype follows tinytorch (and
# PyTorch): Python floats become **float32**, half the bytes of NumPy's default float64 and what
# accelerators are built for; Python ints become int64; a NumPy array keeps its own dtype; an
# explicit `dtype=` wins over all of these. A `Tensor` given to `Tensor(...)` hands over its data.


# %%
class Tensor:
    """A tiny tensor: a NumPy array `data`, its `shape` and `dtype`; the operators come below."""

    def __init__(self, data, dtype=None):
        ### BEGIN SOLUTION
        if isinstance(data, Tensor):
            data = data.data
        array = np.asarray(data, dtype=dtype)
        if dtype is None and array.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
            array = array.astype(np.float32)  # Python floats default to float32, as in PyTorch
        self.data = array
        ### END SOLUTION

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def __repr__(self):
        return f"Tensor({self.data.tolist()}, dtype={self.dtype})"


# %% tags=["check"]
# Check: Tensor keeps NumPy data with tinytorch's shapes and dtypes
for data in ([1.0, 2.0], [[1, 2], [3, 4]], 3.5, np.zeros((2, 3)), np.arange(4, dtype=np.uint8)):
    ours, theirs = Tensor(data), tt.tensor(data)
    assert isinstance(ours.data, np.ndarray), f"Tensor({data!r}).data should be a NumPy array, not {type(ours.data).__name__}"
    assert ours.shape == theirs.shape, f"Tensor({data!r}).shape should be {theirs.shape} (as tinytorch), but is {ours.shape}"
    assert ours.dtype == theirs.dtype, f"Tensor({data!r}).dtype should be {theirs.dtype} (as tinytorch), but is {ours.dtype}"
assert Tensor([1, 2], dtype=np.float64).dtype == np.float64, "an explicit dtype= should win"
print("ok:", Tensor([[1.0, 2.0]]), Tensor(7))

# %% [markdown]
# ### 2. Broadcasting
#
# `a + b` works when the shapes *broadcast*: line them up on the right; in every position the two
# sizes must be equal, or one of them 1 (it is stretched to the other); a missing dimension counts
# as 1. So `(4, 1) + (3,)` is `(4, 3)`, and `(2, 3) + (4,)` is an error. Write the rule: return
# the result's shape, or raise `ValueError` naming both shapes.


# %%
def broadcast_shape(a, b):
    """The shape of `x op y` for x of shape a and y of shape b, e.g. (4, 1), (3,) -> (4, 3)."""
    ### BEGIN SOLUTION
    n = max(len(a), len(b))
    padded_a, padded_b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(padded_a, padded_b):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"shapes {tuple(a)} and {tuple(b)} do not broadcast: {x} against {y}")
        out.append(y if x == 1 else x)
    return tuple(out)
    ### END SOLUTION


# %% tags=["check"]
# Check: broadcast_shape follows NumPy's rule, and refuses shapes that do not fit
for a, b in [((2, 3), (3,)), ((4, 1), (3,)), ((), (2, 2)), ((8, 1, 6, 1), (7, 1, 5)), ((3, 1), (1, 0))]:
    got, want = broadcast_shape(a, b), np.broadcast_shapes(a, b)
    assert tuple(got) == want, f"broadcast_shape({a}, {b}) should be {want}, but is {got}"
for a, b in [((2, 3), (4,)), ((2, 1), (3, 4))]:
    try:
        broadcast_shape(a, b)
    except ValueError:
        continue
    raise AssertionError(f"broadcast_shape({a}, {b}) should raise ValueError: the shapes do not broadcast")
print("ok:", broadcast_shape((4, 1), (3,)))

# %% [markdown]
# ### 3. Element-wise operators
#
# Every element-wise operator does the same three things: take the other operand's array (a
# `Tensor`'s `.data`, or a plain Python number as it is), check that the shapes broadcast, and
# apply a NumPy function. Write that once, in `_elementwise`; the operators below it are given.
# (NumPy then broadcasts for us. Its dtype rules differ from tinytorch's in corners, such as
# int64 + float32, which tinytorch makes float32 as PyTorch does; the checks use one dtype.)


# %%
def _elementwise(self, other, op):
    """op(self.data, other's data) as a new Tensor, after checking that the shapes broadcast."""
    ### BEGIN SOLUTION
    b = other.data if isinstance(other, Tensor) else other
    broadcast_shape(self.shape, np.shape(b))  # raises ValueError naming both shapes
    return Tensor(op(self.data, b))
    ### END SOLUTION


Tensor._elementwise = _elementwise
Tensor.__add__ = lambda self, other: self._elementwise(other, np.add)
Tensor.__sub__ = lambda self, other: self._elementwise(other, np.subtract)
Tensor.__mul__ = lambda self, other: self._elementwise(other, np.multiply)
Tensor.__truediv__ = lambda self, other: self._elementwise(other, np.divide)
Tensor.__radd__ = Tensor.__add__  # 2 + t
Tensor.__rmul__ = Tensor.__mul__  # 2 * t
Tensor.__rsub__ = lambda self, other: self._elementwise(other, lambda a, b: b - a)  # 2 - t
Tensor.__rtruediv__ = lambda self, other: self._elementwise(other, lambda a, b: b / a)  # 1 / t

# %% tags=["check"]
# Check: + - * / broadcast and agree with tinytorch; mismatched shapes raise ValueError
a = rng.standard_normal((4, 1)).astype(np.float32)
b = rng.standard_normal((1, 3)).astype(np.float32)
for name, ours, theirs in [
    ("a + b", Tensor(a) + Tensor(b), tt.tensor(a) + tt.tensor(b)),
    ("a - b", Tensor(a) - Tensor(b), tt.tensor(a) - tt.tensor(b)),
    ("a * b", Tensor(a) * Tensor(b), tt.tensor(a) * tt.tensor(b)),
    ("a / (b + 3)", Tensor(a) / (Tensor(b) + 3), tt.tensor(a) / (tt.tensor(b) + 3)),
    ("1 - 2 * a", 1 - 2 * Tensor(a), 1 - 2 * tt.tensor(a)),
]:
    assert isinstance(ours, Tensor), f"{name} should be a Tensor, but is a {type(ours).__name__}"
    assert ours.shape == theirs.shape, f"{name} should have shape {theirs.shape}, but has {ours.shape}"
    assert np.allclose(ours.data, theirs.data), f"{name} should be\n{theirs.data}\nbut is\n{ours.data}"
try:
    Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
except ValueError as e:
    print("ok: (2, 3) + (4,) raises ValueError:", e)
else:
    raise AssertionError("Tensor of shape (2, 3) + Tensor of shape (4,) should raise ValueError")

# %% [markdown]
# ### 4. Matrix multiplication, the slow and honest way
#
# `(n, k) @ (k, m)` is `(n, m)`: entry `[i, j]` is the sum over `k` of `a[i, k] * b[k, j]`. With
# broadcasting that is two lines: make the products of every `(i, k, j)` at once, `a` as
# `(n, k, 1)` times `b` as `(1, k, m)`, then sum over the `k` axis. Check the shapes first and raise
# `ValueError` when they do not fit. (The Understand part measures what this costs.)


# %%
def matmul(self, other):
    """self @ other for 2-D tensors: (n, k) @ (k, m) -> (n, m), as a broadcast multiply and a sum over k."""
    ### BEGIN SOLUTION
    if self.data.ndim != 2 or other.data.ndim != 2 or self.shape[1] != other.shape[0]:
        raise ValueError(f"cannot multiply {self.shape} by {other.shape}: need (n, k) @ (k, m)")
    products = self.data[:, :, None] * other.data[None, :, :]  # (n, k, 1) * (1, k, m) -> (n, k, m)
    return Tensor(products.sum(axis=1))  # (n, m)
    ### END SOLUTION


Tensor.__matmul__ = matmul

# %% tags=["check"]
# Check: @ agrees with tinytorch's matmul, and refuses (2, 3) @ (4, 2)
a = rng.standard_normal((5, 3)).astype(np.float32)
b = rng.standard_normal((3, 4)).astype(np.float32)
ours, theirs = Tensor(a) @ Tensor(b), tt.tensor(a) @ tt.tensor(b)
assert ours.shape == (5, 4), f"(5, 3) @ (3, 4) should have shape (5, 4), but has {ours.shape}"
assert np.allclose(ours.data, theirs.data, atol=1e-5), f"a @ b should be\n{theirs.data}\nbut is\n{ours.data}"
try:
    Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 2)))
except ValueError as e:
    print("ok: (2, 3) @ (4, 2) raises ValueError:", e)
else:
    raise AssertionError("(2, 3) @ (4, 2) should raise ValueError: 3 columns against 4 rows")

# %% [markdown]
# ### 5. Reductions: `sum` and `mean` over a dimension
#
# `t.sum(dim=d)` adds along axis `d` and removes it; `keepdim=True` keeps it with size 1, so the
# result still broadcasts against `t` (that is how you subtract each row's mean from the row).
# `dim=None` sums everything. Write `sum`; `mean` is given on top of it.


# %%
def tensor_sum(self, dim=None, keepdim=False):
    """The sum over axis dim (all axes when None); keepdim keeps the summed axis with size 1."""
    ### BEGIN SOLUTION
    return Tensor(self.data.sum(axis=dim, keepdims=keepdim))
    ### END SOLUTION


def tensor_mean(self, dim=None, keepdim=False):
    count = self.data.size if dim is None else self.shape[dim]
    return self.sum(dim, keepdim) / count


Tensor.sum, Tensor.mean = tensor_sum, tensor_mean

# %% tags=["check"]
# Check: sum and mean agree with tinytorch for every dim, with and without keepdim
x = rng.standard_normal((3, 4)).astype(np.float32)
for dim in (None, 0, 1, -1):
    for keepdim in (False, True):
        ours, theirs = Tensor(x).sum(dim, keepdim), tt.tensor(x).sum(dim=dim, keepdim=keepdim)
        assert ours.shape == theirs.shape, (
            f"sum(dim={dim}, keepdim={keepdim}) should have shape {theirs.shape}, but has {ours.shape}"
        )
        assert np.allclose(ours.data, theirs.data, atol=1e-6), (
            f"sum(dim={dim}, keepdim={keepdim}) should be {theirs.data}, but is {ours.data}"
        )
rows = Tensor(x) - Tensor(x).mean(dim=1, keepdim=True)  # (3, 4) - (3, 1)
assert np.allclose(rows.sum(dim=1).data, 0, atol=1e-5), "each row minus its mean should sum to 0"
print("ok:", Tensor(x).sum(dim=0).shape, Tensor(x).sum(dim=0, keepdim=True).shape)

# %% [markdown]
# ## Use
#
# Real data: the Fashion-MNIST test set, greyscale 28×28 images of clothes in ten classes, pixels
# stored as uint8 (0 to 255). tinytorch looks for it under `$TINYTORCH_DATA`, else
# `~/.cache/tinytorch/datasets`, else Debian's `dataset-fashion-mnist` package; `FashionMNIST(download=True)`
# fetches it. Without it this lesson makes random images, so every cell still runs, and says so.

# %%
from tinytorch.datasets import DatasetError, FashionMNIST

try:
    test_set = FashionMNIST(train=False)
    images, labels, source = test_set.data, test_set.targets, "Fashion-MNIST test set"
except DatasetError as e:
    print(f"Fashion-MNIST is not on this machine, so this lesson uses random images instead.\n  ({e})")
    images, labels = rng.integers(0, 256, (2000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 2000)
    source = "random images (Fashion-MNIST not found)"
if FAST:
    images, labels = images[:500], labels[:500]
n = len(images)
print(f"{source}: images {images.dtype} {images.shape}, labels {labels.dtype} {labels.shape}")

# %% [markdown]
# First with **your** `Tensor`: pixels scaled to [0, 1], the mean image, the standard deviation of
# every pixel, and the images normalised to mean 0 and standard deviation 1 per pixel. The mean
# image is a `(784,)` row broadcast against the `(N, 784)` batch.

# %%
start = time.perf_counter()
x = Tensor(images.reshape(n, 28 * 28), dtype=np.float32) / 255  # (N, 784)
mean = x.mean(dim=0)  # (784,)
centered = x - mean  # (N, 784) - (784,)
std = Tensor(np.sqrt((centered * centered).mean(dim=0).data))  # (784,)
normalised = centered / (std + 1e-3)  # (N, 784); + 1e-3: border pixels are always 0
ours_seconds = time.perf_counter() - start
print(f"your Tensor: normalised {n} images in {1e3 * ours_seconds:.1f} ms")
print(f"normalised pixels: mean {normalised.data.mean():+.5f}, std {normalised.data.std():.4f}")

# %% [markdown]
# Then **tinytorch's** `Tensor`, the same computation with its built-in `mean` and `std`. The
# numbers must agree with yours.

# %%
start = time.perf_counter()
tx = tt.tensor(images.reshape(n, 28 * 28), dtype=tt.float32) / 255  # (N, 784)
t_mean, t_std = tx.mean(dim=0), tx.std(dim=0, unbiased=False)  # (784,), (784,)
t_normalised = (tx - t_mean) / (t_std + 1e-3)
tt_seconds = time.perf_counter() - start
difference = float(np.abs(normalised.data - t_normalised.data).max())
print(f"tinytorch: {1e3 * tt_seconds:.1f} ms; largest difference from yours: {difference:.2e}")
assert difference < 1e-3, "your normalisation and tinytorch's should agree"

fig = make_subplots(rows=1, cols=2, subplot_titles=("mean image", "standard deviation per pixel"))
fig.add_trace(go.Heatmap(z=mean.data.reshape(28, 28)[::-1], colorscale="gray", showscale=False), 1, 1)
fig.add_trace(go.Heatmap(z=std.data.reshape(28, 28)[::-1], colorscale="gray", showscale=False), 1, 2)
fig.update_layout(width=620, height=320, margin=dict(l=10, r=10, t=40, b=10))
fig.update_xaxes(visible=False).update_yaxes(visible=False, scaleanchor="x")
fig.show()

# %% [markdown]
# A classifier with nothing but `+ * @ sum`: the mean image of each class (from the second part of
# the images), then each image of the first part gets the class whose mean is nearest. The squared
# distance `|x - mu|^2 = |x|^2 - 2 x·mu + |mu|^2`, and `|x|^2` is the same for every class, so the
# nearest mean is the largest `x·mu - |mu|^2 / 2`: one `@` for all images and classes at once.

# %%
m = 200 if FAST else 1000  # images classified; the means come from the others
onehot = tt.tensor(np.eye(10, dtype=np.float32)[labels[m:]])  # (N - m, 10)
class_means = (onehot.T @ t_normalised[m:]) / onehot.sum(dim=0).unsqueeze(1).clamp(min=1)  # (10, 784)

mu = Tensor(class_means.data)  # (10, 784)
scores = Tensor(normalised.data[:m]) @ Tensor(mu.data.T) - (mu * mu).sum(dim=1) / 2  # (m, 10) - (10,)
ours_accuracy = float((scores.data.argmax(axis=1) == labels[:m]).mean())

t_scores = t_normalised[:m] @ class_means.T - (class_means * class_means).sum(dim=1) / 2  # (m, 10)
tt_accuracy = float((t_scores.argmax(dim=1).numpy() == labels[:m]).mean())
print(
    f"nearest class mean on {m} held-out images: yours {ours_accuracy:.1%}, tinytorch's {tt_accuracy:.1%} (chance: {1 / 10:.0%})"
)

# %% [markdown]
# ## Understand
#
# ### What a tensor costs
#
# A tensor's memory is its number of elements times the bytes of one element (`itemsize`). The
# table is computed for the images above, and `tracemalloc` (which sees NumPy's buffers) confirms
# that converting them really allocates that much.


# %%
def allocated(make):
    """(result, bytes still allocated after make(), peak bytes during it), measured by tracemalloc."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = make()
    now, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, now - before, peak - before


bytes_per_dtype = {}
for dtype in (np.uint8, np.float16, np.float32, np.float64):
    converted, measured, _ = allocated(lambda dtype=dtype: images.astype(dtype))
    bytes_per_dtype[np.dtype(dtype).name] = converted.nbytes
    print(
        f"{np.dtype(dtype).name:>8}: {np.dtype(dtype).itemsize} B/element -> {converted.nbytes / 2**20:7.2f} MiB  (tracemalloc: {measured / 2**20:7.2f} MiB)"
    )
dtype_ratio = bytes_per_dtype["float64"] / bytes_per_dtype["float32"]

# %% [markdown]
# ### Views share memory, copies do not
#
# `reshape`, `transpose` and slicing do not move data: they return a *view*, a new shape and new
# *strides* (bytes to step along each axis) over the same buffer. Arithmetic makes a new buffer,
# and so does `clone()`. Each row below is measured: does the result share memory with `t`, and
# how many bytes did making it allocate?

# %%
t = tt.tensor(images.reshape(n, 28 * 28), dtype=tt.float32)  # (N, 784)
ops = {
    "t.reshape(N, 28, 28)": lambda: t.reshape(n, 28, 28),
    "t.transpose(0, 1)": lambda: t.transpose(0, 1),
    "t[:10]": lambda: t[:10],
    "t[:, ::2]": lambda: t[:, ::2],
    "t.clone()": lambda: t.clone(),
    "t * 2": lambda: t * 2,
}
views = {}
print(f"t: shape {tuple(t.shape)}, strides {t.data.strides}, {t.data.nbytes / 2**20:.2f} MiB")
for name, make in ops.items():
    out, new_bytes, _ = allocated(make)
    views[name] = (np.shares_memory(out.data, t.data), new_bytes)
    kind = "view" if views[name][0] else "copy"
    print(
        f"{name:<22} {kind}  shape {str(tuple(out.shape)):<14} strides {str(out.data.strides):<12} allocated {new_bytes / 2**20:7.3f} MiB"
    )

# %% [markdown]
# Broadcasting is a view too: stretching the mean image over the batch sets the batch axis's
# stride to 0, so every row reads the same 784 numbers. Memory is spent only when an operation
# writes its full-size result.

# %%
stretched = np.broadcast_to(mean.data, (n, 28 * 28))
_, centered_bytes, _ = allocated(lambda: x - mean)
print(
    f"mean {mean.shape} broadcast to {stretched.shape}: strides {stretched.strides}, shares memory: {np.shares_memory(stretched, mean.data)}"
)
print(f"x - mean writes a new (N, 784) result: {centered_bytes / 2**20:.2f} MiB")

# %% [markdown]
# ### Your `@` against tinytorch's
#
# Your `matmul` builds every product `a[i, k] * b[k, j]` before summing: an `(n, k, m)` array.
# tinytorch calls NumPy's `matmul`, which hands the work to BLAS: it accumulates in blocks that fit
# in the CPU's caches and never stores the products. Same answer; measured below.


# %%
def best_time(fn, repeat=5):
    fn()  # warm up (BLAS starts its threads, caches fill)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


a_np = normalised.data[:m]  # (m, 784)
b_np = np.ascontiguousarray(mu.data.T)  # (784, 10)
ours_a, ours_b, tt_a, tt_b = Tensor(a_np), Tensor(b_np), tt.tensor(a_np), tt.tensor(b_np)
_, _, ours_peak = allocated(lambda: ours_a @ ours_b)
_, _, tt_peak = allocated(lambda: tt_a @ tt_b)
ours_time = best_time(lambda: ours_a @ ours_b)
tt_time = best_time(lambda: tt_a @ tt_b)
products_bytes = a_np.shape[0] * a_np.shape[1] * b_np.shape[1] * 4
print(f"({m}, 784) @ (784, 10): yours {1e3 * ours_time:.2f} ms, peak {ours_peak / 2**20:.2f} MiB")
print(f"                      tinytorch {1e3 * tt_time:.3f} ms, peak {tt_peak / 2**20:.3f} MiB")
print(f"the (n, k, m) products alone: {products_bytes / 2**20:.2f} MiB; the (n, m) result: {m * 10 * 4 / 2**10:.1f} KiB")

# %% [markdown]
# ### float64 or float32?
#
# Twice the bytes per element means twice the bytes to move through memory, and SIMD units do half
# as many float64 operations per instruction. The same matrix product in both dtypes:

# %%
size = 256 if FAST else 512
square = rng.standard_normal((size, size))
dtype_times = {}
for name in ("float32", "float64"):
    a_sq = tt.tensor(square, dtype=name)
    dtype_times[name] = best_time(lambda a_sq=a_sq: a_sq @ a_sq)
    print(f"{name}: {1e3 * dtype_times[name]:.2f} ms for a ({size}, {size}) @ ({size}, {size}) product")

# %% [markdown]
# ## Reflect
#
# The answers below lean on the measurements printed by the cell under this one; run the notebook
# on your machine and the numbers are yours.

# %%
print(
    f"1. float64 takes {dtype_ratio:.0f}x the bytes of float32; these {n} images: uint8 {bytes_per_dtype['uint8'] / 2**20:.2f} MiB, float32 {bytes_per_dtype['float32'] / 2**20:.2f} MiB, float64 {bytes_per_dtype['float64'] / 2**20:.2f} MiB"
)
print(f"   float64 matmul took {dtype_times['float64'] / dtype_times['float32']:.1f}x the float32 time")
shared = [name for name, (is_view, _) in views.items() if is_view]
copied = [name for name, (is_view, _) in views.items() if not is_view]
print(f"2. views (no new buffer): {', '.join(shared)}; copies: {', '.join(copied)}")
print(
    f"   largest allocation by a view: {max(b for v, b in views.values() if v) / 2**10:.1f} KiB; by a copy: {max(b for v, b in views.values() if not v) / 2**20:.2f} MiB"
)
print(f"3. your @ used {ours_peak / max(tt_peak, 1):.0f}x the peak memory of tinytorch's and {ours_time / tt_time:.0f}x its time")

# %% [markdown]
# **1. How much memory do the images take, and what does the dtype decide?** Bytes are elements
# times `itemsize`, so the dtype alone sets the bill: the dataset as uint8 is a quarter of its
# float32 size, and float64 doubles float32 again (ratio 1 above). That is why tinytorch, like
# PyTorch, defaults to float32, and keeps images as uint8 until a batch is used. The time ratio
# shows the other cost: more bytes to move, fewer numbers per SIMD instruction.
#
# **2. When does an operation cost memory?** Line 2: reshape, transpose and slicing are views, a
# new shape and strides over the same buffer, and allocate next to nothing; only operations that
# write new values (arithmetic, `clone`) pay for a full buffer. Broadcasting is a view with a zero
# stride; the cost comes when the result is written. A view keeps its whole base buffer alive, so a
# small slice of a big tensor is not small. (tinytorch's `contiguous()` returns the tensor as it is:
# NumPy accepts any strides; `clone()` makes a compact copy.)
#
# **3. Why is your `@` slower and hungrier?** Line 3: it materialises the `(n, k, m)` products, `k`
# times the size of the answer, and streams them through memory twice (write, then sum); BLAS keeps
# running sums in registers and caches. Same arithmetic, different memory traffic: in this course,
# that difference is usually the whole story of speed.
