# %% [markdown]
# # Lesson 18 · Acceleration
#
# The same arithmetic can run a thousand times faster or slower depending on *how* it is handed to
# the machine. This lesson writes a matrix multiply and a convolution three ways each and measures
# the difference, then places the results on this machine's **roofline**: the most it can compute
# per second, and the most it can move.
#
# - **Build**: matmul as three Python loops, as one Python loop over rows with NumPy inside, and as
#   one BLAS call (with its FLOP and byte count); convolution from its definition (a Python loop per
#   output element), then as **im2col** plus one matrix multiply.
# - **Use**: your convolutions and matmuls, then tinytorch's, on real images (CIFAR-10): the same
#   numbers, very different speeds.
# - **Understand**: the speed-up factors measured at a few sizes, GFLOP/s against the machine's
#   measured peak, the roofline with every op of a profiled CNN step on it, and what im2col costs
#   in memory.
# - **Reflect**: where the speed comes from, and what it costs.
#
# Prerequisites: lessons 01 (tensors, `@`) and 09 (convolutions) help; lesson 14 (profiling) gives
# the profiler used here. Fill in every `raise NotImplementedError()` in the Build part, run the
# cell, then the check under it; `tinytorch check 18` runs every check and more tests.

# %%
import os
import sys

if "numpy" not in sys.modules:  # BLAS fixes its thread count when NumPy loads: one thread, unless you set another
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
THREADS = int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count()))

import math
import time
import tracemalloc

import numpy as np
import plotly.graph_objects as go
from numpy.lib.stride_tricks import sliding_window_view
from plotly.subplots import make_subplots

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: small sizes and few rounds, so the notebook runs in seconds
rng = np.random.default_rng(0)


def randn(*shape):
    """A float32 array of standard normal numbers."""
    return rng.standard_normal(shape, dtype=np.float32)


# %% [markdown]
# ## Build
#
# ### 1. Matrix multiply as Python loops
#
# `(n, k) @ (k, m)` is `(n, m)`, and entry `[i, j]` is `sum over p of a[i, p] * b[p, j]`: three
# nested loops, one multiply-add at a time. Work on Python lists (`a.tolist()`): indexing a NumPy
# array one element at a time is even slower, since every `a[i, p]` makes a new NumPy scalar
# object. Raise `ValueError` when the inner sizes differ, and return a NumPy array with the dtype
# NumPy gives `a @ b` (`np.result_type(a, b)`).


# %%
def matmul_loops(a, b):
    """a @ b for 2-D arrays, (n, k) @ (k, m) -> (n, m), one multiply-add at a time in Python."""
    ### BEGIN SOLUTION
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"cannot multiply {a.shape} by {b.shape}: need (n, k) @ (k, m)")
    x, y = a.tolist(), b.tolist()
    n, k, m = a.shape[0], a.shape[1], b.shape[1]
    out = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            s = 0.0
            for p in range(k):
                s += x[i][p] * y[p][j]
            out[i][j] = s
    return np.array(out, dtype=np.result_type(a, b)).reshape(n, m)
    ### END SOLUTION


# %% tags=["check"]
# Check: matmul_loops agrees with tinytorch's matmul, keeps float32, and refuses (2, 3) @ (4, 2)
for shape_a, shape_b in [((3, 4), (4, 5)), ((1, 1), (1, 1)), ((2, 7), (7, 1)), ((1, 6), (6, 3))]:
    a, b = randn(*shape_a), randn(*shape_b)
    ours, theirs = matmul_loops(a, b), (tt.tensor(a) @ tt.tensor(b)).numpy()
    assert isinstance(ours, np.ndarray), f"matmul_loops should return a NumPy array, not {type(ours).__name__}"
    assert ours.shape == theirs.shape, f"{shape_a} @ {shape_b} should have shape {theirs.shape}, but has {ours.shape}"
    assert ours.dtype == np.float32, f"float32 @ float32 should be float32, but is {ours.dtype}"
    assert np.allclose(ours, theirs, atol=1e-5), f"{shape_a} @ {shape_b} should be\n{theirs}\nbut is\n{ours}"
try:
    matmul_loops(np.ones((2, 3)), np.ones((4, 2)))
except ValueError as e:
    print("ok: (2, 3) @ (4, 2) raises ValueError:", e)
else:
    raise AssertionError("matmul_loops of (2, 3) and (4, 2) should raise ValueError: 3 columns against 4 rows")

# %% [markdown]
# ### 2. One Python loop, NumPy inside
#
# Move the two inner loops into NumPy. Row `i` of the result is a weighted sum of the rows of `b`:
# `out[i] = sum over p of a[i, p] * b[p, :]`, which is `a[i, :, None] * b` (a `(k, 1)` column times
# the `(k, m)` matrix, broadcast) summed over axis 0. Now Python runs `n` iterations instead of
# `n * k * m`, and NumPy does the rest in compiled loops (but not BLAS: no `@`, `np.dot` or
# `np.matmul` here).


# %%
def matmul_rows(a, b):
    """a @ b with a Python loop over the output rows; each row is one NumPy multiply and sum."""
    ### BEGIN SOLUTION
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    for i in range(a.shape[0]):
        out[i] = (a[i, :, None] * b).sum(axis=0)  # (k, 1) * (k, m) -> (k, m) -> (m,)
    return out
    ### END SOLUTION


# %% tags=["check"]
# Check: matmul_rows agrees with tinytorch's matmul and keeps float32
for shape_a, shape_b in [((3, 4), (4, 5)), ((1, 1), (1, 1)), ((5, 2), (2, 1)), ((16, 32), (32, 8))]:
    a, b = randn(*shape_a), randn(*shape_b)
    ours, theirs = matmul_rows(a, b), (tt.tensor(a) @ tt.tensor(b)).numpy()
    assert isinstance(ours, np.ndarray) and ours.shape == theirs.shape, (
        f"{shape_a} @ {shape_b} should be an array of shape {theirs.shape}, but is {getattr(ours, 'shape', ours)}"
    )
    assert ours.dtype == np.float32, f"float32 @ float32 should be float32, but is {ours.dtype}"
    assert np.allclose(ours, theirs, atol=1e-4), f"{shape_a} @ {shape_b} should be\n{theirs}\nbut is\n{ours}"
print("ok: matmul_rows(16x32, 32x8) agrees with tinytorch")

# %% [markdown]
# ### 3. One BLAS call, and what a matmul costs
#
# `a @ b` hands the whole product to BLAS (here OpenBLAS), a library tuned for each CPU: it cuts the
# matrices into blocks that stay in the caches, runs several multiply-adds per instruction (SIMD,
# fused multiply-add) and can use every core. (This notebook gives it one thread, set at the top:
# every version then runs on one core, and a shared machine's load cannot stall threads waiting
# for each other. Set `OPENBLAS_NUM_THREADS` before starting Jupyter to try more.) Write it, then
# the two numbers the roofline needs:
#
# - **FLOPs**: each of the `n * m` outputs takes `k` multiplies and `k` adds, so `2 * n * k * m`;
# - **bytes**: the least traffic possible, each operand read once and the result written once:
#   `itemsize * (n * k + k * m + n * m)`.
#
# Their ratio, FLOPs per byte, is the **arithmetic intensity**: how much work each byte fetched
# from memory buys.


# %%
def matmul_blas(a, b):
    """a @ b in one call to BLAS."""
    ### BEGIN SOLUTION
    return a @ b  # (n, k) @ (k, m): one sgemm
    ### END SOLUTION


def matmul_cost(n, k, m, itemsize=4):
    """(FLOPs, bytes) of an (n, k) @ (k, m) product: 2nkm, and each operand moved once."""
    ### BEGIN SOLUTION
    return 2 * n * k * m, itemsize * (n * k + k * m + n * m)
    ### END SOLUTION


# %% tags=["check"]
# Check: matmul_blas agrees with tinytorch, and matmul_cost with the profiler's FLOP count and a hand count
a, b = randn(6, 5), randn(5, 3)
assert np.allclose(matmul_blas(a, b), (tt.tensor(a) @ tt.tensor(b)).numpy(), atol=1e-5), "matmul_blas(a, b) should be a @ b"
assert tuple(matmul_cost(2, 3, 4)) == (48, 104), (
    f"matmul_cost(2, 3, 4) should be (48, 4 * (6 + 12 + 8)) = (48, 104), but is {matmul_cost(2, 3, 4)}"
)
assert tuple(matmul_cost(2, 3, 4, itemsize=8)) == (48, 208), (
    f"with itemsize=8 the bytes double: (48, 208), not {matmul_cost(2, 3, 4, 8)}"
)
with tt.perf.profile() as prof:
    tt.tensor(a) @ tt.tensor(b)
flops = sum(e.flops for e in prof.events)
assert matmul_cost(6, 5, 3)[0] == flops, (
    f"tinytorch's profiler counts {flops} FLOPs for (6, 5) @ (5, 3), matmul_cost says {matmul_cost(6, 5, 3)[0]}"
)
n = 512
print(f"ok: a ({n}, {n}) @ ({n}, {n}) product: {matmul_cost(n, n, n)[0] / matmul_cost(n, n, n)[1]:.0f} FLOP per byte at best")

# %% [markdown]
# ### 4. Convolution from its definition
#
# A 2-D convolution (a cross-correlation, as in PyTorch) of `x` `(N, C, H, W)` by `w` `(O, C, kh,
# kw)`: pad `x` with `padding` zeros on each side of H and W, slide the kernel by `stride`, and
#
#     out[n, o, i, j] = sum over c, u, v of xp[n, c, i*stride + u, j*stride + v] * w[o, c, u, v]
#
# The output is `(N, O, Ho, Wo)` with `Ho = (H + 2 * padding - kh) // stride + 1` (and `Wo`
# alike). Write it as the definition reads: a Python loop over every output element `(n, o, i,
# j)`, the window's product with the kernel summed by NumPy. (`np.pad` pads; no bias.)


# %%
def conv2d_loops(x, w, stride=1, padding=0):
    """(N, C, H, W) * (O, C, kh, kw) -> (N, O, Ho, Wo): one Python iteration per output element."""
    ### BEGIN SOLUTION
    n_, c_, h, w_ = x.shape
    o_, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))  # (N, C, H + 2p, W + 2p)
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w_ + 2 * padding - kw) // stride + 1
    out = np.zeros((n_, o_, ho, wo), dtype=np.result_type(x, w))
    for n in range(n_):
        for o in range(o_):
            for i in range(ho):
                for j in range(wo):
                    window = xp[n, :, i * stride : i * stride + kh, j * stride : j * stride + kw]  # (C, kh, kw)
                    out[n, o, i, j] = (window * w[o]).sum()
    return out
    ### END SOLUTION


# %% tags=["check"]
# Check: conv2d_loops agrees with tinytorch's F.conv2d, with and without stride and padding
x, w = randn(2, 3, 7, 6), randn(4, 3, 3, 3)
for stride, padding in [(1, 0), (1, 1), (2, 1), (3, 2)]:
    ours = conv2d_loops(x, w, stride=stride, padding=padding)
    theirs = F.conv2d(tt.tensor(x), tt.tensor(w), stride=stride, padding=padding).numpy()
    assert ours.shape == theirs.shape, (
        f"stride {stride}, padding {padding}: the output should be {theirs.shape}, but is {ours.shape}"
    )
    assert np.allclose(ours, theirs, atol=1e-4), (
        f"stride {stride}, padding {padding}: largest difference {np.abs(ours - theirs).max():.3g}"
    )
print("ok: conv2d_loops(x, w, stride=2, padding=1) has shape", conv2d_loops(x, w, stride=2, padding=1).shape)

# %% [markdown]
# ### 5. im2col: every window as a row
#
# The loops above compute, for every window, a dot product with each kernel. Gather the windows
# first, as the rows of one matrix `cols` `(N * Ho * Wo, C * kh * kw)`, and the whole convolution
# becomes one matrix multiply. `sliding_window_view(xp, (kh, kw), axis=(2, 3))` gives every window
# at stride 1 as a *view* `(N, C, H', W', kh, kw)` (no copy); take every `stride`-th window, move
# `C` next to `kh, kw` so each window flattens in the order of a row of `w.reshape(O, -1)`, and
# reshape. That reshape copies: each input pixel lands in up to `kh * kw` rows.


# %%
def im2col(x, kh, kw, stride=1, padding=0):
    """The (N*Ho*Wo, C*kh*kw) matrix whose row (n, i, j) is the window at output (i, j) of image n."""
    ### BEGIN SOLUTION
    n_, c_ = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))  # (N, C, Hp, Wp)
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]  # (N, C, Ho, Wo, kh, kw), a view
    ho, wo = windows.shape[2:4]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n_ * ho * wo, c_ * kh * kw)  # (N, Ho, Wo, C, kh, kw): a copy
    ### END SOLUTION


# %% tags=["check"]
# Check: im2col has one row per output position, each the flattened window, for several strides and paddings
x = randn(2, 3, 6, 5)
for kh, kw, stride, padding in [(3, 3, 1, 0), (3, 3, 2, 1), (2, 3, 1, 1), (1, 1, 1, 0)]:
    ho, wo = (6 + 2 * padding - kh) // stride + 1, (5 + 2 * padding - kw) // stride + 1
    cols = im2col(x, kh, kw, stride, padding)
    assert cols.shape == (2 * ho * wo, 3 * kh * kw), (
        f"im2col with a {kh}x{kw} kernel, stride {stride}, padding {padding} should have shape {(2 * ho * wo, 3 * kh * kw)}, but has {cols.shape}"
    )
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    for n, i, j in [(0, 0, 0), (1, ho - 1, wo - 1), (1, ho // 2, 0)]:
        want = xp[n, :, i * stride : i * stride + kh, j * stride : j * stride + kw].ravel()
        got = cols[(n * ho + i) * wo + j]
        assert np.array_equal(got, want), f"row for image {n}, output ({i}, {j}) should be the window\n{want}\nbut is\n{got}"
print("ok: im2col of (2, 3, 6, 5) with a 3x3 kernel, padding 1:", im2col(x, 3, 3, 1, 1).shape)

# %% [markdown]
# ### 6. Convolution as one matrix multiply
#
# With `cols` `(N * Ho * Wo, C * kh * kw)` and the kernels as rows, `w.reshape(O, -1)` `(O, C * kh *
# kw)`, the convolution is `cols @ w.reshape(O, -1).T`: `(N * Ho * Wo, O)`, one output channel per
# column. Reshape to `(N, Ho, Wo, O)` and move the channels to axis 1. This is what
# `tinytorch.nn.functional.conv2d` does (channels last inside, so its columns gather contiguous
# memory).


# %%
def conv2d_im2col(x, w, stride=1, padding=0):
    """(N, C, H, W) * (O, C, kh, kw) -> (N, O, Ho, Wo) as im2col and one BLAS matmul."""
    ### BEGIN SOLUTION
    n_, _, h, w_ = x.shape
    o_, _, kh, kw = w.shape
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w_ + 2 * padding - kw) // stride + 1
    cols = im2col(x, kh, kw, stride, padding)  # (N*Ho*Wo, C*kh*kw)
    out = cols @ w.reshape(o_, -1).T  # (N*Ho*Wo, C*kh*kw) @ (C*kh*kw, O) -> (N*Ho*Wo, O)
    return out.reshape(n_, ho, wo, o_).transpose(0, 3, 1, 2)  # (N, O, Ho, Wo)
    ### END SOLUTION


# %% tags=["check"]
# Check: conv2d_im2col agrees with tinytorch's F.conv2d, with and without stride and padding
x, w = randn(2, 3, 9, 8), randn(5, 3, 3, 3)
for stride, padding in [(1, 0), (1, 1), (2, 1), (2, 0)]:
    ours = conv2d_im2col(x, w, stride=stride, padding=padding)
    theirs = F.conv2d(tt.tensor(x), tt.tensor(w), stride=stride, padding=padding).numpy()
    assert ours.shape == theirs.shape, (
        f"stride {stride}, padding {padding}: the output should be {theirs.shape}, but is {ours.shape}"
    )
    assert np.allclose(ours, theirs, atol=1e-4), (
        f"stride {stride}, padding {padding}: largest difference {np.abs(ours - theirs).max():.3g}"
    )
print("ok: conv2d_im2col agrees with F.conv2d; output", conv2d_im2col(x, w, padding=1).shape)

# %% [markdown]
# ## Use
#
# Real images: the CIFAR-10 test set (32×32 colour images, stored as uint8 `(N, 32, 32, 3)`).
# tinytorch looks for it under `$TINYTORCH_DATA`, else `~/.cache/tinytorch/datasets`;
# `CIFAR10(train=False, download=True)` fetches it. Without it this lesson uses random images of
# the same shape, and says so.

# %%
from tinytorch.datasets import CIFAR10, DatasetError

try:
    test_set = CIFAR10(train=False)
    pixels, source = test_set.data[:256], "CIFAR-10 test images"
except DatasetError as e:
    print(f"CIFAR-10 is not on this machine, so this lesson uses random images instead.\n  ({e})")
    pixels, source = rng.integers(0, 256, (256, 32, 32, 3), dtype=np.uint8), "random images (CIFAR-10 not found)"
images = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2), dtype=np.float32) / 255  # (N, 3, 32, 32) in [0, 1]
print(f"{source}: {images.shape} {images.dtype}")

# %% [markdown]
# A first convolution layer: eight 3×3 filters over the three colour channels, padding 1 so the
# output keeps the image's size. Four are edge detectors (Sobel filters, horizontal and vertical,
# on the brightness, and on red minus blue), four are random. First **yours**, the loops on a few
# images only and im2col on the batch, then **tinytorch's** `F.conv2d`: the same numbers.

# %%
sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
grey, red_blue = np.ones(3, np.float32) / 3, np.array([1, 0, -1], np.float32)
edges = [np.einsum("c,uv->cuv", colour, k) for colour in (grey, red_blue) for k in (sobel, sobel.T)]  # 4 x (3, 3, 3)
filters = np.concatenate([np.stack(edges), randn(4, 3, 3, 3) / 3])  # (8, 3, 3, 3)

few, batch = images[: 1 if FAST else 4], images[: 32 if FAST else 256]


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


loops_out, loops_s = timed(conv2d_loops, few, filters, 1, 1)
im2col_out, im2col_s = timed(conv2d_im2col, batch, filters, 1, 1)
with tt.no_grad():
    tt_out, tt_s = timed(lambda: F.conv2d(tt.tensor(batch), tt.tensor(filters), padding=1).numpy())
assert np.allclose(loops_out, tt_out[: len(few)], atol=1e-4) and np.allclose(im2col_out, tt_out, atol=1e-4), (
    "the three should agree"
)
for name, count, seconds in [
    ("your loops", len(few), loops_s),
    ("your im2col", len(batch), im2col_s),
    ("tinytorch", len(batch), tt_s),
]:
    print(f"{name:>12}: {count:4d} images in {1e3 * seconds:8.2f} ms = {count / seconds:10,.0f} images/s")
print(
    f"largest difference from tinytorch: loops {np.abs(loops_out - tt_out[: len(few)]).max():.1e}, im2col {np.abs(im2col_out - tt_out).max():.1e}"
)

fig = make_subplots(
    rows=1, cols=5, subplot_titles=["image", "brightness, d/dx", "brightness, d/dy", "red-blue, d/dx", "random filter"]
)
fig.add_trace(go.Image(z=(255 * batch[0].transpose(1, 2, 0)).astype(np.uint8)), 1, 1)
for col, channel in enumerate((0, 1, 2, 4), start=2):
    fig.add_trace(go.Heatmap(z=tt_out[0, channel][::-1], colorscale="RdBu", zmid=0, showscale=False), 1, col)
fig.update_layout(width=900, height=240, margin=dict(l=10, r=10, t=40, b=10))
fig.update_xaxes(visible=False).update_yaxes(visible=False, scaleanchor="x")
fig.show()

# %% [markdown]
# The matmuls on real data: ten linear scores per image, the flattened image `(B, 3072)` times a
# weight matrix `(3072, 10)`. The three versions must agree.

# %%
flat = batch.reshape(len(batch), -1)  # (B, 3072)
weights = randn(3072, 10) / math.sqrt(3072)
scores = {}
for name, fn, rows in [("loops", matmul_loops, 2), ("rows", matmul_rows, len(flat)), ("BLAS", matmul_blas, len(flat))]:
    scores[name], seconds = timed(fn, flat[:rows], weights)
    print(f"{name:>6}: ({rows}, 3072) @ (3072, 10) in {1e3 * seconds:8.3f} ms = {rows / seconds:12,.0f} images/s")
assert np.allclose(scores["loops"], scores["BLAS"][:2], atol=1e-4) and np.allclose(scores["rows"], scores["BLAS"], atol=1e-4)
print("the three agree: largest difference", f"{np.abs(scores['rows'] - scores['BLAS']).max():.1e}")

# %% [markdown]
# ## Understand
#
# ### Speed-ups, measured at a few sizes
#
# One call is not a measurement: the machine is shared and its speed drifts. Each size is timed in
# rounds with the versions alternating (`tinytorch.perf.compare`, lesson 19 builds it), a fast
# version repeated within a round so the round lasts long enough for the clock. The naive loops
# run only at the small sizes (at the large ones they would take minutes); nothing is
# extrapolated. The versions are checked to agree before they are timed.


# %%
def time_versions(fns, rounds, min_seconds=0.005):
    """Seconds per call of each version, one value per round, versions alternating round by round."""
    reps = {}
    for name, fn in fns.items():
        start = time.perf_counter()
        fn()
        reps[name] = max(1, math.ceil(min_seconds / max(time.perf_counter() - start, 1e-9)))
    calls = {name: (lambda fn=fn, r=reps[name]: [fn() for _ in range(r)]) for name, fn in fns.items()}
    report = tt.perf.compare(calls, rounds=rounds, warmup=1)
    return {name: np.asarray(report[name].time.samples) / reps[name] for name in fns}


MATMULS = {"Python loops": matmul_loops, "NumPy, loop over rows": matmul_rows, "BLAS (a @ b)": matmul_blas}
all_three, numpy_only = ((16, 32, 64), (128, 256)) if FAST else ((32, 64, 128), (256, 512, 1024))
rounds = 3 if FAST else 5
matmul_times = {name: {} for name in MATMULS}  # version -> size -> per-round seconds
for n in all_three + numpy_only:
    a, b = randn(n, n), randn(n, n)
    fns = {name: fn for name, fn in MATMULS.items() if n in all_three or name != "Python loops"}
    reference = matmul_blas(a, b)
    for name, fn in fns.items():
        assert np.allclose(fn(a, b), reference, rtol=1e-3, atol=1e-3), f"{name} disagrees with BLAS at n = {n}"
    for name, seconds in time_versions({name: (lambda fn=fn, a=a, b=b: fn(a, b)) for name, fn in fns.items()}, rounds).items():
        matmul_times[name][n] = seconds

print(f"{'n':>5} " + "".join(f"{name:>24}" for name in MATMULS) + "   speed-ups (median of the rounds)")
for n in all_three + numpy_only:
    row = "".join(
        f"{1e3 * np.median(matmul_times[name][n]):21.4f} ms" if n in matmul_times[name] else f"{'-':>24}" for name in MATMULS
    )
    t = {name: matmul_times[name].get(n) for name in MATMULS}
    ups = (
        f"rows/loops {np.median(t['Python loops'] / t['NumPy, loop over rows']):7.1f}x, "
        if t["Python loops"] is not None
        else " " * 26
    )
    ups += f"BLAS/rows {np.median(t['NumPy, loop over rows'] / t['BLAS (a @ b)']):7.1f}x"
    print(f"{n:>5} {row}   {ups}")

# %% [markdown]
# The same numbers on log-log axes. Time grows as `n³` for all three (a line of slope 3); the
# versions differ by a *factor*, the vertical gap. At small sizes the fixed cost of a call (Python,
# NumPy's dispatch, BLAS starting its threads) bends the lines flat.

# %%
fig = go.Figure()
for name in MATMULS:
    sizes = sorted(matmul_times[name])
    med = [np.median(matmul_times[name][n]) for n in sizes]
    lo = [np.percentile(matmul_times[name][n], 25) for n in sizes]
    hi = [np.percentile(matmul_times[name][n], 75) for n in sizes]
    fig.add_trace(go.Scatter(x=sizes, y=med, name=name, mode="lines+markers",
                             error_y=dict(type="data", symmetric=False, array=np.subtract(hi, med), arrayminus=np.subtract(med, lo))))  # fmt: skip
fig.update_xaxes(type="log", title="n (an n×n @ n×n product)")
fig.update_yaxes(type="log", title="seconds per call (median, bars: IQR of the rounds)")
fig.update_layout(width=760, height=420, title="Matrix multiply, three ways", template="plotly_white")
fig.show()

# %% [markdown]
# ### Convolution: loops against im2col
#
# A small layer (8 input channels, 16 output channels, 3×3, padding 1, batch 2) at a few image
# sizes: your loops, your im2col, and tinytorch's `F.conv2d`, alternating as above.

# %%
CONVS = {
    "loops": conv2d_loops,
    "your im2col": conv2d_im2col,
    "tinytorch F.conv2d": lambda x, w, stride, padding: F.conv2d(
        tt.tensor(x), tt.tensor(w), stride=stride, padding=padding
    ).numpy(),
}
image_sizes, large_images = ((8, 16), (32, 64)) if FAST else ((8, 16, 32), (64, 128))
conv_w = randn(16, 8, 3, 3) / math.sqrt(72)
conv_times = {name: {} for name in CONVS}
with tt.no_grad():
    for hw in image_sizes + large_images:
        x = randn(2, 8, hw, hw)
        fns = {name: fn for name, fn in CONVS.items() if hw in image_sizes or name != "loops"}
        reference = CONVS["tinytorch F.conv2d"](x, conv_w, 1, 1)
        for name, fn in fns.items():
            assert np.allclose(fn(x, conv_w, 1, 1), reference, atol=1e-4), f"{name} disagrees at {hw}x{hw}"
        for name, seconds in time_versions(
            {name: (lambda fn=fn, x=x: fn(x, conv_w, 1, 1)) for name, fn in fns.items()}, rounds
        ).items():
            conv_times[name][hw] = seconds
for hw in image_sizes + large_images:
    flops = 2 * 2 * 16 * hw * hw * 8 * 9  # 2 * N * O * Ho * Wo * C * kh * kw
    parts = []
    for name in CONVS:
        if hw in conv_times[name]:
            t = np.median(conv_times[name][hw])
            parts.append(f"{name} {1e3 * t:9.3f} ms ({flops / t / 1e9:6.2f} GFLOP/s)")
    up = (
        f"; im2col/loops {np.median(conv_times['loops'][hw] / conv_times['your im2col'][hw]):.0f}x"
        if hw in conv_times["loops"]
        else ""
    )
    print(f"{hw:>4}x{hw:<4}" + ", ".join(parts) + up)

# %% [markdown]
# ### The roofline of this machine
#
# Two measured limits bound every computation: the **peak** rate of arithmetic (here: the GFLOP/s
# of a large float32 matmul, BLAS at its best) and the **bandwidth** of memory (the GB/s of copying
# a large array). A computation of intensity `I` FLOPs per byte can go no faster than
# `min(peak, I * bandwidth)`: below the **ridge** (peak / bandwidth) it waits for memory
# (memory-bound), above it for the arithmetic units (compute-bound). `tinytorch.perf.machine_peaks`
# measures both.

# %%
peaks = tt.perf.machine_peaks(n=1024, megabytes=64 if FAST else 128)
print(
    f"on {THREADS} BLAS thread(s): peak float32 matmul {peaks['gflops']:.1f} GFLOP/s, copy bandwidth {peaks['bandwidth_gbs']:.1f} GB/s, ridge {peaks['ridge_flops_per_byte']:.2f} FLOP/byte"
)
largest = max(all_three)
flops, nbytes = matmul_cost(largest, largest, largest)
version_gflops = {name: flops / np.median(matmul_times[name][largest]) / 1e9 for name in MATMULS}
for name, g in version_gflops.items():
    print(
        f"{name:>22} at n = {largest}: {g:9.3f} GFLOP/s = {g / peaks['gflops']:.2%} of the peak (intensity {flops / nbytes:.1f} FLOP/byte)"
    )

# %% [markdown]
# Now a real workload on it: a training step of a small CNN on the images (two convolutions, ReLU,
# max-pooling, a linear classifier), profiled (`tinytorch.perf.profile`, lesson 14). Every op type
# becomes a point at its measured intensity (its FLOPs over the bytes it read and wrote) and its
# achieved GFLOP/s (`tinytorch.perf.roofline_points`); `roofline_figure` draws them under the two
# roofs. Your three matmuls at the largest size all three ran are added as stars.

# %%
tt.manual_seed(0)
cnn = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 16, 16, 16)
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, 8, 8)
    nn.Flatten(), nn.Linear(32 * 8 * 8, 10),
)  # fmt: skip
opt = tt.optim.SGD(cnn.parameters(), lr=0.01)
xb, yb = tt.tensor(batch), tt.tensor(rng.integers(0, 10, len(batch)))


def train_step():
    loss = F.cross_entropy(cnn(xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()


train_step()  # a first step warms up (buffers, BLAS threads) untimed
with tt.perf.profile() as prof:
    for _ in range(2):
        train_step()
points = tt.perf.roofline_points(prof, peaks)
fig = tt.perf.roofline_figure(points, peaks)
fig.add_trace(go.Scatter(x=[flops / nbytes] * 3, y=list(version_gflops.values()), mode="markers+text", name=f"your matmuls, n = {largest}",
                         text=list(version_gflops), textposition="middle right", marker=dict(symbol="star", size=12, color="#2ca02c")))  # fmt: skip
fig.update_layout(width=820, height=520)
fig.show()
print(f"{'op':<16}{'phase':<10}{'FLOP/byte':>10}{'GFLOP/s':>10}{'attainable':>12}{'share':>8}  bound")
for p in sorted(points, key=lambda p: p["intensity"]):
    print(
        f"{p['name']:<16}{p['phase']:<10}{p['intensity']:>10.2f}{p['gflops']:>10.2f}{p['attainable_gflops']:>12.2f}{p['efficiency']:>8.1%}  {p['bound']}"
    )

# %% [markdown]
# ### What im2col costs in memory
#
# im2col copies every input pixel into up to `kh * kw` rows. `tracemalloc` (which sees NumPy's
# buffers) measures the peak memory of each convolution of the Use batch, beside the size of the
# input and of the `cols` matrix.


# %%
def peak_bytes(fn):
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


cols_bytes = im2col(batch, 3, 3, 1, 1).nbytes
memory = {
    "loops (one image)": peak_bytes(lambda: conv2d_loops(batch[:1], filters, 1, 1)),
    "your im2col": peak_bytes(lambda: conv2d_im2col(batch, filters, 1, 1)),
    "tinytorch F.conv2d": peak_bytes(lambda: F.conv2d(tt.tensor(batch), tt.tensor(filters), padding=1)),
}
print(
    f"input {batch.nbytes / 2**20:.2f} MiB, output {tt_out.nbytes / 2**20:.2f} MiB, cols {cols_bytes / 2**20:.2f} MiB ({cols_bytes / batch.nbytes:.1f}x the input)"
)
for name, peak in memory.items():
    print(f"{name:>20}: peak {peak / 2**20:7.2f} MiB")

# %% [markdown]
# ## Reflect
#
# The answers below lean on the lines this cell prints; run the notebook and they are your
# machine's.

# %%
t = {name: np.median(matmul_times[name][largest]) for name in MATMULS}
print(
    f"1. n = {largest}: rows {t['Python loops'] / t['NumPy, loop over rows']:.0f}x faster than the loops, "
    f"BLAS {t['NumPy, loop over rows'] / t['BLAS (a @ b)']:.0f}x faster than rows, {t['Python loops'] / t['BLAS (a @ b)']:,.0f}x in all"
)
big = max(numpy_only)
big_gflops = matmul_cost(big, big, big)[0] / np.median(matmul_times["BLAS (a @ b)"][big]) / 1e9
print(
    f"2. BLAS reached {big_gflops:.1f} GFLOP/s at n = {big} ({big_gflops / peaks['gflops']:.0%} of the measured peak); "
    f"the loops {version_gflops['Python loops']:.4f} GFLOP/s"
)
bound = {b: sorted({p["name"] for p in points if p["bound"] == b}) for b in ("memory", "compute")}
print(
    f"3. ridge {peaks['ridge_flops_per_byte']:.2f} FLOP/byte; memory-bound: {', '.join(bound['memory']) or 'none'}; compute-bound: {', '.join(bound['compute']) or 'none'}"
)
best = max(points, key=lambda p: p["gflops"])
print(
    f"   the fastest op of the CNN step: {best['name']} ({best['phase']}) at {best['gflops']:.2f} GFLOP/s, {best['efficiency']:.0%} of what the roofline allows it"
)
print(
    f"4. im2col's cols: {cols_bytes / batch.nbytes:.1f}x the input; peak memory of im2col {memory['your im2col'] / 2**20:.2f} MiB "
    f"against {memory['loops (one image)'] / 2**20:.2f} MiB for the loops"
)
biggest = max(large_images)
gap = np.median(conv_times["your im2col"][biggest] / conv_times["tinytorch F.conv2d"][biggest])
print(f"   at {biggest}x{biggest}, tinytorch's F.conv2d ran {gap:.1f}x as fast as your im2col")

# %% [markdown]
# **1. Where does the speed come from?** Line 1. The loops pay Python's price for every single
# multiply-add: fetch a bytecode, look up two list items, box a new float object, add. Moving the
# two inner loops into NumPy pays that price once per row, and the inner work runs as compiled C
# over contiguous memory. BLAS removes the last loop and goes further: it blocks the matrices so
# each block is reused from the caches many times, and uses SIMD fused multiply-adds (and, given
# threads, every core: here it had one, so this is the speed-up on one core).
# The arithmetic is the same in all three; the overhead per operation and the memory traffic are
# not.
#
# **2. How close does BLAS get to the machine?** Line 2: at large sizes BLAS runs near the measured
# peak (which *is* a large BLAS matmul, so that is the ceiling by construction), while the loops use
# a sliver of it. At small sizes even BLAS falls short: the fixed cost of a call and of waking its
# threads is not amortised over enough work (the curves bend flat on the left of the plot). The
# peak is a measurement too: on a busy machine it comes out low, and a share above one hundred
# percent is the sign that other work slowed the peak's measurement, not that BLAS beat the
# hardware. Run the notebook again on a quiet machine and compare.
#
# **3. What does the roofline say about a training step?** Line 3. The matmul-like ops (`Conv2d`,
# `Linear`, their backward) have high intensity: each byte is reused in many multiply-adds, so they
# can be compute-bound. Element-wise ops (`Relu`, the optimizer's `SGDStep`) and pooling do about one
# operation per element moved: their intensity is far below the ridge, and faster arithmetic would
# not help them; only moving fewer bytes does (fusing ops, smaller dtypes). Two caveats, both
# visible in the table: the memory roof is the bandwidth of main memory, and small tensors that
# stay in the CPU's caches can beat it; and most points sit far under their roof, because for
# small tensors the per-call overhead (Python, allocating the result), not the hardware, is the
# limit.
#
# **4. What does im2col cost?** Line 4: it buys one large, fast matmul with memory. Each pixel is
# copied into up to `kh * kw` rows, so `cols` is about that many times the input, and it is kept for
# the backward pass (`dW = g^T @ cols`). The loops allocate almost nothing but run orders of
# magnitude slower. The copy itself takes time too, and how much depends on the memory layout:
# your `im2col` gathers each window's channels from planes far apart in memory (NCHW), while
# tinytorch works channels-last (NHWC), so a window's channels sit side by side and the copy reads
# contiguous runs (the gap on the second line of 4). Its backward also scatters gradients one
# kernel position at a time rather than building the full gradient of `cols`.
