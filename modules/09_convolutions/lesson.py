# %% [markdown]
# # Lesson 09 · Convolutions
#
# A convolution slides a small filter over an image: every output pixel is the dot product of the
# filter with the window of input under it. Written as loops that is seven nested `for`s; written
# the way frameworks do it, it is **one matrix multiply**: gather every window into a row of a
# matrix (**im2col**), multiply by the filters, and the product *is* the output.
#
# - **Build**: `im2col` with NumPy's `sliding_window_view`, its adjoint `col2im`, a `MyConv2d`
#   op (forward as one matmul, backward as two more and a `col2im`) and `MyMaxPool2d` on top of
#   the same two functions, each checked against tinytorch's `Conv2d` and `MaxPool2d`.
# - **Use**: LeNet-5 on CIFAR-10 with your layers, then with tinytorch's, from the same weights:
#   the same losses, and what each costs per step.
# - **Understand**: the im2col matrix drawn for a tiny image; its memory in a recorded training
#   step (about `k*k` times the input, and most of the step's memory); the FLOPs the profiler
#   counts for each convolution against the closed form; where FLOPs and parameters go.
# - **Reflect**: the systems questions of the lesson, answered from those measurements.
#
# Prerequisites: lessons 01 (tensors, views and strides) and 05 (`Function`, forward and backward).
# Fill in every `raise NotImplementedError()`, run the cell and the check under it;
# `tinytorch check 9` runs every check and more tests on your notebook.

# %%
import os
import tempfile
import time
import tracemalloc

import numpy as np
import plotly.graph_objects as go
from numpy.lib.stride_tricks import sliding_window_view
from plotly.subplots import make_subplots

import tinytorch as tt
from tinytorch import Function, nn
from tinytorch.autograd import gradcheck

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: a few batches, so the notebook runs in seconds
rng = np.random.default_rng(0)


def out_size(size, kernel, stride=1, padding=0):
    """Output length along one axis: floor((size + 2 * padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


# %% [markdown]
# ## Build
#
# ### 1. im2col: every window as a row
#
# For an input `x` of shape `(N, C, H, W)` and filters `w` of shape `(Co, C, kh, kw)`, output pixel
# `(n, o, i, j)` is `sum over c, a, b of x[n, c, i*s + a, j*s + b] * w[o, c, a, b]`: the window
# of `C*kh*kw` numbers under position `(i, j)`, dotted with filter `o`. Lay every window out as a
# row and the whole layer is one product:
#
# `cols (N*Ho*Wo, C*kh*kw) @ w.reshape(Co, C*kh*kw).T  ->  (N*Ho*Wo, Co)`
#
# `sliding_window_view(xp, (kh, kw), axis=(2, 3))` returns every `kh x kw` window of the padded
# input `xp` as a **view** of shape `(N, C, H', W', kh, kw)`: no copy, just strides. Keep every
# `stride`-th window along both axes, put the window's position first and its content
# `(C, kh, kw)` last (the order of `w.reshape(Co, -1)`), and reshape to the matrix. That reshape
# cannot be a view: each pixel sits in up to `kh*kw` windows, so it is copied that many times.
# `np.pad` pads height and width with zeros. `out_size` (in the setup cell) gives `Ho` and `Wo`.


# %%
def im2col(x, kernel_size, stride=1, padding=0):
    """(N, C, H, W) -> (N*Ho*Wo, C*kh*kw): row n*Ho*Wo + i*Wo + j is the window under output (i, j) of image n."""
    ### BEGIN SOLUTION
    n, c, h, w = x.shape
    kh, kw = kernel_size
    ho, wo = out_size(h, kh, stride, padding), out_size(w, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))  # (N, C, H + 2p, W + 2p)
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]  # (N, C, Ho, Wo, kh, kw), a view
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)  # (N*Ho*Wo, C*kh*kw): the copy
    ### END SOLUTION


# %% tags=["check"]
# Check: im2col has one row per output pixel holding its window, and im2col @ weights is tinytorch's conv2d
x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
cols = im2col(x, (3, 2), stride=2, padding=1)
assert cols.shape == (2 * 4 * 4, 3 * 3 * 2), (
    f"im2col of (2, 3, 7, 6), kernel (3, 2), stride 2, padding 1 should be (32, 18), but is {cols.shape}"
)
xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
for n, i, j in [(0, 0, 0), (1, 2, 3), (0, 3, 1)]:
    want = xp[n, :, 2 * i : 2 * i + 3, 2 * j : 2 * j + 2].ravel()
    got = cols[n * 16 + i * 4 + j]
    assert np.array_equal(got, want), f"row for image {n}, output ({i}, {j}) should be its window\n{want}\nbut is\n{got}"
w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
ours = (im2col(x, (3, 3)) @ w.reshape(5, -1).T).reshape(2, 5, 4, 5).transpose(0, 3, 1, 2)  # (N, Ho, Wo, Co) -> (N, Co, Ho, Wo)
theirs = nn.functional.conv2d(tt.tensor(x), tt.tensor(w)).numpy()
assert np.allclose(ours, theirs, atol=1e-4), (
    "im2col(x) @ w.reshape(Co, -1).T, reshaped to (N, Co, Ho, Wo), should be tinytorch's conv2d"
)
print("ok: im2col", x.shape, "->", cols.shape)

# %% [markdown]
# ### 2. col2im: windows back onto the image
#
# Backward needs the opposite move. `im2col` copies pixel `p` into every window that holds it, so
# the gradient of `p` is the **sum** of the gradients of all those copies. `col2im(cols, x_shape,
# ...)` takes a matrix shaped like im2col's and adds every row's entries back where they came
# from. No loop over windows or pixels: loop over the `kh*kw` positions inside the kernel; for
# position `(a, b)`, the entries of all windows form one `(N, C, Ho, Wo)` block that lands on the
# strided slice `xp[:, :, a : a + s*Ho : s, b : b + s*Wo : s]` of a zero (padded) image. Return
# the image without its padding.
#
# (In linear-algebra words, col2im is the transpose of im2col: `<im2col(x), c> = <x, col2im(c)>`
# for every `x` and `c`, which is what the check tests.)


# %%
def col2im(cols, x_shape, kernel_size, stride=1, padding=0):
    """(N*Ho*Wo, C*kh*kw) -> (N, C, H, W): each entry added back to the pixel im2col copied it from."""
    ### BEGIN SOLUTION
    n, c, h, w = x_shape
    kh, kw = kernel_size
    ho, wo = out_size(h, kh, stride, padding), out_size(w, kw, stride, padding)
    windows = cols.reshape(n, ho, wo, c, kh, kw)
    xp = np.zeros((n, c, h + 2 * padding, w + 2 * padding), cols.dtype)
    for a in range(kh):
        for b in range(kw):  # every window's entry (a, b) at once: one strided slice of the image
            xp[:, :, a : a + stride * ho : stride, b : b + stride * wo : stride] += windows[..., a, b].transpose(0, 3, 1, 2)
    return xp[:, :, padding : padding + h, padding : padding + w]
    ### END SOLUTION


# %% tags=["check"]
# Check: col2im is im2col's transpose, and col2im(im2col(ones)) counts the windows over each pixel
x = rng.standard_normal((2, 3, 7, 6))
for k, s, p in [((3, 3), 1, 0), ((3, 2), 2, 1), ((2, 2), 2, 0)]:
    c = rng.standard_normal(im2col(x, k, s, p).shape)
    back = col2im(c, x.shape, k, s, p)
    assert back.shape == x.shape, f"col2im should return the image's shape {x.shape}, but returns {back.shape}"
    lhs, rhs = float((im2col(x, k, s, p) * c).sum()), float((x * back).sum())
    assert np.isclose(lhs, rhs), (
        f"kernel {k}, stride {s}, padding {p}: <im2col(x), c> = {lhs:.6f} should equal <x, col2im(c)> = {rhs:.6f}"
    )
counts = col2im(im2col(np.ones((1, 1, 4, 4)), (3, 3)), (1, 1, 4, 4), (3, 3))[0, 0]
want = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])
assert np.array_equal(counts, want), f"a 4x4 image under 3x3 windows: each pixel is in\n{want}\nwindows, col2im counted\n{counts}"
print("ok: col2im is the transpose of im2col; windows per pixel:\n", counts.astype(int))

# %% [markdown]
# ### 3. The convolution op
#
# Forward: `cols = im2col(x)`, then `out = cols @ W^T + b` with `W = weight.reshape(Co, -1)`,
# shaped `(N*Ho*Wo, Co)`; that is the output in `(N, Ho, Wo, Co)` order, so reshape and move the
# channels to axis 1. Save `cols` (and the weight) for backward with `ctx.save_for_backward`: that
# saved matrix is what the Understand part weighs. Keep the rest backward needs (the input's shape,
# stride, padding) as attributes of `ctx`. With `g` the output gradient as a `(N*Ho*Wo, Co)` matrix:
#
# - `dW = g^T @ cols`, reshaped to the weight's shape (each filter's gradient sums over windows);
# - `db = g.sum(axis=0)`;
# - `dx = col2im(g @ W)`: each window's gradient, added back onto the image.
#
# Return `None` for `dx` when `ctx.needs_input_grad[0]` is False (the first layer's images): it
# skips the biggest product. The FLOPs formula is given: the profiler reads it.

# %%
tt.OPS.pop("MyConv2d", None)


class MyConv2d(Function):
    """out = im2col(x) @ W^T + b;  dW = g^T @ cols,  db = sum of g,  dx = col2im(g @ W)"""

    @staticmethod
    def flops(shapes, out, attrs):
        n, co, ho, wo = out
        _, c, kh, kw = shapes[1]
        return 2 * n * co * ho * wo * c * kh * kw + n * co * ho * wo  # a multiply and an add per weight per output, + bias

    @staticmethod
    def forward(ctx, x, weight, bias, stride=1, padding=0):
        ### BEGIN SOLUTION
        n, c, h, w = x.shape
        co, _, kh, kw = weight.shape
        ho, wo = out_size(h, kh, stride, padding), out_size(w, kw, stride, padding)
        cols = im2col(x, (kh, kw), stride, padding)  # (N*Ho*Wo, C*kh*kw)
        out = cols @ weight.reshape(co, -1).T + bias  # (N*Ho*Wo, Co)
        ctx.save_for_backward(cols, weight)
        ctx.geometry = (x.shape, stride, padding)
        return out.reshape(n, ho, wo, co).transpose(0, 3, 1, 2)  # (N, Co, Ho, Wo)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        cols, weight = ctx.saved_tensors
        x_shape, stride, padding = ctx.geometry
        co = weight.shape[0]
        g = grad_output.transpose(0, 2, 3, 1).reshape(-1, co)  # (N, Co, Ho, Wo) -> (N*Ho*Wo, Co)
        grad_weight = (g.T @ cols).reshape(weight.shape)  # (Co, C*kh*kw) -> (Co, C, kh, kw)
        grad_bias = g.sum(axis=0)  # (Co,)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = col2im(g @ weight.reshape(co, -1), x_shape, weight.shape[2:], stride, padding)  # (N, C, H, W)
        return grad_x, grad_weight, grad_bias
        ### END SOLUTION


# %% tags=["check"]
# Check: MyConv2d matches tinytorch's conv2d forward, passes gradcheck, and gives tinytorch's gradients
def f64(*shape, grad=True):
    return tt.tensor(rng.standard_normal(shape), requires_grad=grad)


x, w, b = f64(2, 3, 7, 6), f64(4, 3, 3, 2), f64(4)
for s, p in [(1, 0), (2, 1)]:
    ours = MyConv2d.apply(x, w, b, stride=s, padding=p)
    theirs = nn.functional.conv2d(x, w, b, stride=s, padding=p)
    assert ours.shape == theirs.shape, (
        f"stride {s}, padding {p}: the output should have shape {theirs.shape}, but has {ours.shape}"
    )
    assert np.allclose(ours.data, theirs.data), f"stride {s}, padding {p}: MyConv2d's output differs from tinytorch's conv2d"
    assert gradcheck(lambda x, w, b, s=s, p=p: MyConv2d.apply(x, w, b, stride=s, padding=p), [x, w, b])
(MyConv2d.apply(x, w, b, stride=2, padding=1) ** 2).sum().backward()
ours = [t.grad.data.copy() for t in (x, w, b)]
x.grad = w.grad = b.grad = None
(nn.functional.conv2d(x, w, b, stride=2, padding=1) ** 2).sum().backward()
for name, mine, t in zip(("x", "weight", "bias"), ours, (x, w, b)):
    assert np.allclose(mine, t.grad.data), f"d/d{name} should be tinytorch's\n{t.grad.data}\nbut is\n{mine}"
images = tt.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))  # needs no gradient: dx is skipped
MyConv2d.apply(images, w.float(), b.float()).sum().backward()
print("ok: MyConv2d agrees with tinytorch's Conv2d, forward and backward")

# %% [markdown]
# ### 4. Max pooling on the same two functions
#
# A `k x k` max pool with stride `s` takes the largest value of each channel's window. im2col
# already gathers the windows: reshape its rows to `(N*Ho*Wo, C, k*k)` and each channel's window
# is one row of `k*k` numbers. Forward: the position of the maximum (`argmax`, the first one on
# ties, as PyTorch and tinytorch) and its value; save the positions (and, on `ctx`, the input's
# shape, kernel size and stride). Backward: each window's gradient goes to its maximum only, so
# write `g` into a zero `(N*Ho*Wo, C, k*k)` array at the saved positions (`np.put_along_axis`)
# and `col2im` it back onto the image (where windows overlap, a pixel that wins twice gets both).

# %%
tt.OPS.pop("MyMaxPool2d", None)


class MyMaxPool2d(Function):
    """out = max over each k x k window;  the gradient goes to the window's maximum (the first, on ties)"""

    @staticmethod
    def flops(shapes, out, attrs):
        return int(np.prod(out)) * attrs["kernel_size"] ** 2  # one comparison per window element

    @staticmethod
    def forward(ctx, x, kernel_size=2, stride=None):
        stride = stride or kernel_size
        ### BEGIN SOLUTION
        n, c, h, w = x.shape
        k = kernel_size
        ho, wo = out_size(h, k, stride), out_size(w, k, stride)
        windows = im2col(x, (k, k), stride).reshape(n * ho * wo, c, k * k)  # (N*Ho*Wo, C, k*k)
        best = windows.argmax(axis=2)  # (N*Ho*Wo, C): where each window's maximum is
        out = np.take_along_axis(windows, best[..., None], axis=2)[..., 0]  # (N*Ho*Wo, C)
        ctx.save_for_backward(best)
        ctx.geometry = (x.shape, k, stride)
        return out.reshape(n, ho, wo, c).transpose(0, 3, 1, 2)  # (N, C, Ho, Wo)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (best,) = ctx.saved_tensors
        x_shape, k, stride = ctx.geometry
        c = x_shape[1]
        g = grad_output.transpose(0, 2, 3, 1).reshape(-1, c)  # (N*Ho*Wo, C)
        window_grads = np.zeros((g.shape[0], c, k * k), grad_output.dtype)
        np.put_along_axis(window_grads, best[..., None], g[..., None], axis=2)  # only the maximum gets it
        return col2im(window_grads.reshape(g.shape[0], c * k * k), x_shape, (k, k), stride)
        ### END SOLUTION


# %% tags=["check"]
# Check: MyMaxPool2d matches tinytorch's max_pool2d, passes gradcheck, and breaks ties as tinytorch
x = tt.tensor(rng.standard_normal((2, 3, 6, 7)), requires_grad=True)
for k, s in [(2, 2), (3, 2), (3, 1)]:
    ours, theirs = MyMaxPool2d.apply(x, kernel_size=k, stride=s), nn.functional.max_pool2d(x, k, s)
    assert ours.shape == theirs.shape, f"kernel {k}, stride {s}: shape should be {theirs.shape}, but is {ours.shape}"
    assert np.array_equal(ours.data, theirs.data), f"kernel {k}, stride {s}: MyMaxPool2d's output differs from tinytorch's"
    assert gradcheck(lambda x, k=k, s=s: MyMaxPool2d.apply(x, kernel_size=k, stride=s), [x])
ties = tt.tensor(rng.integers(0, 2, (1, 2, 4, 4)).astype(np.float32), requires_grad=True)  # many equal maxima
MyMaxPool2d.apply(ties, kernel_size=2).sum().backward()
ours, ties.grad = ties.grad.data.copy(), None
nn.functional.max_pool2d(ties, 2).sum().backward()
assert np.array_equal(ours, ties.grad.data), (
    f"on ties the gradient should go to the first maximum, as tinytorch:\n{ties.grad.data}\nbut is\n{ours}"
)
print("ok: MyMaxPool2d agrees with tinytorch's MaxPool2d, ties included")

# %% [markdown]
# ## Use
#
# LeNet-5 (LeCun et al., 1998) with today's ReLU and max pooling, on CIFAR-10: 32x32 colour photos
# of ten classes. tinytorch looks for the official python batches under `$TINYTORCH_DATA` (then
# `~/.cache/tinytorch/datasets`); `CIFAR10(download=True)` fetches them. Without them the lesson
# uses random images, and says so. With `FAST`, a slice of the test batch stands in for the
# training set (reading all of it takes longer than training on a few batches) and the last
# images of it are held out.

# %%
from tinytorch.datasets import CIFAR10, DatasetError

try:
    if FAST:
        test_set = CIFAR10(train=False)
        train_images, train_labels = test_set.data[:8000], test_set.targets[:8000]
        test_images, test_labels = test_set.data[-1000:], test_set.targets[-1000:]
        source = "CIFAR-10 (FAST: 8000 test-batch images to train, 1000 others held out)"
    else:
        train_set, test_set = CIFAR10(train=True), CIFAR10(train=False)
        train_images, train_labels, test_images, test_labels = train_set.data, train_set.targets, test_set.data, test_set.targets
        source = "CIFAR-10"
    classes = test_set.classes
except DatasetError as e:
    print(f"CIFAR-10 is not on this machine, so this lesson uses random images instead.\n  ({e})")
    train_images, train_labels = rng.integers(0, 256, (2000, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 2000)
    test_images, test_labels = rng.integers(0, 256, (500, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 500)
    classes, source = [f"class {k}" for k in range(10)], "random images (CIFAR-10 not found)"

mean = train_images.reshape(-1, 3).mean(axis=0) / 255  # per channel
std = train_images.reshape(-1, 3).std(axis=0) / 255


def to_input(images):
    """uint8 (N, 32, 32, 3) -> float32 (N, 3, 32, 32), normalised per channel."""
    return ((images / 255 - mean) / std).astype(np.float32).transpose(0, 3, 1, 2)


print(f"{source}: train {train_images.shape}, held out {test_images.shape}; channel means {np.round(mean, 3)}")

# %% [markdown]
# Your op and tinytorch's go into the same layers: `YourConv2d` is tinytorch's `nn.Conv2d` (its
# parameters, its initialisation) with your op in `forward`, and likewise for pooling. Built after
# the same `tt.manual_seed`, both networks start from the same weights, see the same batches, and
# must follow the same loss curve. (Your im2col orders a window as `(C, kh, kw)`, tinytorch's as
# `(kh, kw, C)`, so float32 sums round differently: the curves agree to rounding at first, and
# over hundreds of steps those differences compound into a visible drift.)


# %%
class YourConv2d(nn.Conv2d):
    def forward(self, x):
        return MyConv2d.apply(x, self.weight, self.bias, stride=self.stride[0], padding=self.padding[0])


class YourMaxPool2d(nn.MaxPool2d):
    def forward(self, x):
        return MyMaxPool2d.apply(x, kernel_size=self.kernel_size, stride=self.stride)


def lenet5(conv=nn.Conv2d, pool=nn.MaxPool2d):
    tt.manual_seed(0)  # the same initial weights for every call
    return nn.Sequential(
        conv(3, 6, 5),  # (N, 3, 32, 32) -> (N, 6, 28, 28)
        nn.ReLU(),
        pool(2),  # (N, 6, 14, 14)
        conv(6, 16, 5),  # (N, 16, 10, 10)
        nn.ReLU(),
        pool(2),  # (N, 16, 5, 5)
        nn.Flatten(),  # (N, 400)
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),  # (N, 10) class scores
    )


batch_size = 32 if FAST else 64
steps = 20 if FAST else 400
order = np.random.default_rng(1).permutation(len(train_images))[: steps * batch_size]  # the same batches for both


def train(model):
    """Adam on `steps` batches; returns the losses and the seconds per step."""
    optimizer = tt.optim.Adam(model.parameters(), lr=1e-3)
    losses, start = [], time.perf_counter()
    for k in range(steps):
        idx = order[k * batch_size : (k + 1) * batch_size]
        loss = nn.functional.cross_entropy(model(tt.tensor(to_input(train_images[idx]))), tt.tensor(train_labels[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, (time.perf_counter() - start) / steps


def accuracy(model, images, labels, batch=500):
    with tt.no_grad():
        hits = sum(
            int((model(tt.tensor(to_input(images[i : i + batch]))).argmax(dim=1).numpy() == labels[i : i + batch]).sum())
            for i in range(0, len(images), batch)
        )
    return hits / len(images)


ours_model, tt_model = lenet5(YourConv2d, YourMaxPool2d), lenet5()
ours_losses, ours_step = train(ours_model)
tt_losses, tt_step = train(tt_model)
gap = max(abs(a - b) for a, b in zip(ours_losses, tt_losses))
print(f"LeNet-5, {steps} steps of Adam, batch {batch_size}")
print(f"your layers:      loss {ours_losses[0]:.3f} -> {ours_losses[-1]:.3f}, {1e3 * ours_step:.1f} ms/step")
print(f"tinytorch layers: loss {tt_losses[0]:.3f} -> {tt_losses[-1]:.3f}, {1e3 * tt_step:.1f} ms/step")
print(f"largest difference between the loss curves: {gap:.2e}")
assert max(abs(a - b) for a, b in zip(ours_losses[:20], tt_losses[:20])) < 1e-3, "the same model should give the same losses"
ours_accuracy = accuracy(ours_model, test_images, test_labels)
tt_accuracy = accuracy(tt_model, test_images, test_labels)
print(f"held-out accuracy: yours {ours_accuracy:.1%}, tinytorch's {tt_accuracy:.1%} (chance: {1 / 10:.0%})")

# %% [markdown]
# What the first layer sees: one held-out image and the six feature maps of `conv1` after ReLU
# (bright: the filter matched there), next to the loss curves of the two networks.

# %%
image = test_images[:1]
with tt.no_grad():
    maps = tt_model[1](tt_model[0](tt.tensor(to_input(image)))).numpy()[0]  # (6, 28, 28)
titles = [f"input: {classes[test_labels[0]]}"] + [f"conv1 map {k + 1}" for k in range(6)] + ["loss per step"]
fig = make_subplots(rows=2, cols=7, specs=[[{}] * 7, [{"colspan": 7}] + [None] * 6], subplot_titles=titles,
                    row_heights=[0.4, 0.6], vertical_spacing=0.12)  # fmt: skip
fig.add_trace(go.Image(z=image[0]), 1, 1)
for k in range(6):
    fig.add_trace(go.Heatmap(z=maps[k][::-1], colorscale="gray", showscale=False), 1, k + 2)
fig.add_trace(go.Scatter(y=tt_losses, name="tinytorch", line=dict(color="black")), 2, 1)
fig.add_trace(go.Scatter(y=ours_losses, name="yours", line=dict(color="orange", dash="dot")), 2, 1)
for k in range(1, 8):
    fig.update_xaxes(visible=False, row=1, col=k)
    fig.update_yaxes(visible=False, row=1, col=k)
fig.update_xaxes(title_text="step", row=2, col=1)
fig.update_layout(width=900, height=440, margin=dict(l=10, r=10, t=40, b=10))
fig.show()

# %% [markdown]
# ## Understand
#
# ### The im2col matrix, drawn
#
# A tiny one-channel 5x5 image whose pixels are numbered, and a 3x3 kernel: each row of the
# im2col matrix is one window, so a pixel's number appears in as many rows as windows cover it.
# The centre pixel is in every window; a corner pixel in one.

# %%
tiny = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
tiny_cols = im2col(tiny, (3, 3))  # (9, 9)
coverage = col2im(np.ones_like(tiny_cols), tiny.shape, (3, 3))[0, 0]  # windows per pixel
fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], subplot_titles=(
    f"im2col: {tiny_cols.shape[0]} windows x {tiny_cols.shape[1]} values",
    "windows over each pixel"))  # fmt: skip
fig.add_trace(
    go.Heatmap(z=tiny_cols, text=tiny_cols.astype(int), texttemplate="%{text}", colorscale="Blues", showscale=False), 1, 1
)
fig.add_trace(
    go.Heatmap(z=coverage, text=coverage.astype(int), texttemplate="%{text}", colorscale="Oranges", showscale=False), 1, 2
)
fig.update_yaxes(autorange="reversed", title_text="window (output pixel)", row=1, col=1)
fig.update_xaxes(title_text="position in the window", row=1, col=1)
fig.update_yaxes(autorange="reversed", scaleanchor="x2", row=1, col=2)
fig.update_layout(width=820, height=360, margin=dict(l=10, r=10, t=50, b=10))
fig.show()
print(
    f"the image has {tiny.size} numbers, its im2col matrix {tiny_cols.size}: {tiny_cols.size / tiny.size:.2f}x; kernel k*k = {3 * 3}"
)

# %% [markdown]
# ### One training step as the recorder sees it
#
# The graph of LeNet-5 on a batch, forward, then backward: each `Conv2d` node keeps its im2col
# matrix for backward (the backward view lists the shapes each node saved).

# %%
from tinytorch.viz import draw_graph

record_batch = batch_size
xb = tt.tensor(to_input(train_images[:record_batch]))
yb = tt.tensor(train_labels[:record_batch])
model = lenet5()
step_loss = nn.functional.cross_entropy(model(xb), yb)
draw_graph(step_loss, model=model, title=f"LeNet-5 forward, batch {record_batch}")

# %%
draw_graph(step_loss, model=model, direction="backward", title="LeNet-5 backward: what each op saved")

# %% [markdown]
# `tinytorch.record` follows every buffer of a traced step, tagged by what holds it. Below, the
# largest buffers of one full step (forward, backward, Adam's update) as the inspector's Memory page
# draws them. The two biggest bands are the convolutions' im2col matrices, saved by each `Conv2d` in
# forward and freed as soon as its backward has used them.

# %%
from inspector import figures

logdir = tempfile.mkdtemp(prefix="lesson09-")
model = lenet5()
optimizer = tt.optim.Adam(model.parameters(), lr=1e-3)
with tt.record(f"{logdir}/lenet5", model=model, optimizer=optimizer, trace_steps=(1,)) as run:
    for _ in range(2):  # the second step is traced: the first pays one-off costs (Adam's state, warm caches)
        loss = nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.step(loss)
reader = run.reader()
events, ops = reader.memory_events(1), reader.ops(1)
figures.memory.timeline(events, mode="buffers", top=6, ops=ops, title="one LeNet-5 step: the six largest buffers").show()

# %% [markdown]
# The recorded ops say which input each convolution saw and what it saved; the buffers say how
# many bytes that saved matrix took. For a stride-1 convolution without padding each of the
# `Ho*Wo` windows copies `C*k*k` numbers, so the matrix is `k*k * Ho*Wo / (H*W)` times the input.

# %%
saved = {b["holder"]: b["nbytes"] for b in figures.memory.buffers(events) if b["category"] == "activation"}
layers = []
for o in ops:
    if o["phase"] == "forward" and o["op"] == "Conv2d":
        (n, c, h, w), (co, _, k, _) = o["input_shapes"][:2]
        _, _, ho, wo = o["output_shape"]
        input_bytes = n * c * h * w * 4  # float32
        layers.append(dict(name=f"conv (module {o['module']})", input=input_bytes, cols=saved[f"saved by Conv2d#{o['seq']}"],
                           predicted=k * k * ho * wo / (h * w), k=k, shape=o["saved"][0]))  # fmt: skip
for layer in layers:
    print(
        f"{layer['name']}: input {layer['input'] / 2**20:.2f} MiB, im2col {layer['shape']} {layer['cols'] / 2**20:.2f} MiB "
        f"= {layer['cols'] / layer['input']:.2f}x the input (k*k * Ho*Wo / (H*W) = {layer['predicted']:.2f})"
    )
top = figures.memory.peak(events, ops=ops)
cols_bytes = sum(layer["cols"] for layer in layers)
param_bytes = sum(p.data.nbytes for p in model.parameters())
print(
    f"peak of the step: {top['peak_bytes'] / 2**20:.2f} MiB in {top['phase']}; im2col matrices {cols_bytes / 2**20:.2f} MiB of it"
)
print(f"by category at the peak: { {c: f'{v / 2**20:.2f} MiB' for c, v in top['by_category'].items()} }")
print(f"all parameters: {param_bytes / 2**20:.3f} MiB")

# %% [markdown]
# Your `im2col` pays the same: `tracemalloc` (which sees NumPy's buffers) measures what it
# allocates for the first layer's batch. Your backward also builds `g @ W`, a second matrix of
# the same size, where tinytorch's adds one kernel position at a time; the peak memory of one
# forward and backward of each network shows it.


# %%
def peak_bytes(fn):
    """Bytes allocated at the peak of fn(), beyond what was live before (tracemalloc)."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return peak


first_input = to_input(train_images[:record_batch])
im2col_bytes = peak_bytes(lambda: im2col(first_input, (5, 5)))
print(
    f"your im2col of the batch {first_input.shape}: {im2col_bytes / 2**20:.2f} MiB for a {first_input.nbytes / 2**20:.2f} MiB input"
)


def step_of(model):
    return lambda: nn.functional.cross_entropy(model(xb), yb).backward()


ours_peak, tt_peak = peak_bytes(step_of(lenet5(YourConv2d, YourMaxPool2d))), peak_bytes(step_of(lenet5()))
print(f"peak of a forward and backward: your layers {ours_peak / 2**20:.2f} MiB, tinytorch's {tt_peak / 2**20:.2f} MiB")

# %% [markdown]
# ### FLOPs: the profiler against the closed form
#
# Each output number of a convolution is a dot product of length `C*k*k`: a multiply and an add
# per weight, plus the bias. So a layer does `2 * N*Co*Ho*Wo * C*k*k + N*Co*Ho*Wo` floating-point
# operations. `tinytorch.perf.Profile` counts FLOPs from the formula declared next to each op;
# below they are set side by side with the closed form, and with each layer's parameters.

# %%
from tinytorch.perf import Profile

model = lenet5()
optimizer = tt.optim.Adam(model.parameters(), lr=1e-3)
with Profile() as prof:
    loss = nn.functional.cross_entropy(model(xb), yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
forward = [e for e in prof.events if e.phase == "forward" and e.op in ("Conv2d", "Linear")]
layer_inputs, h = {}, xb
with tt.no_grad():
    for module in model:  # each layer's input shape, for the closed form
        layer_inputs[id(module)], h = h.shape, module(h)
rows = []
for e, module in zip(forward, [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]):
    params = sum(p.numel() for p in module.parameters())
    if isinstance(module, nn.Conv2d):
        (n, c, h, w), (co, _, k, _) = layer_inputs[id(module)], module.weight.shape
        ho, wo = out_size(h, k), out_size(w, k)
        closed = 2 * n * co * ho * wo * c * k * k + n * co * ho * wo
    else:
        n = layer_inputs[id(module)][0]
        closed = 2 * n * module.in_features * module.out_features + n * module.out_features
    rows.append(dict(name=f"{e.op} {e.module}", flops=e.flops, closed=closed, params=params, ms=1e3 * e.seconds))
    assert e.flops == closed, f"{e.op} {e.module}: the profiler counts {e.flops} FLOPs, the closed form {closed}"
print(f"{'layer':<12}{'profiler FLOPs':>16}{'closed form':>14}{'parameters':>12}{'FLOPs/param':>13}{'forward ms':>12}")
for r in rows:
    print(
        f"{r['name']:<12}{r['flops']:>16,}{r['closed']:>14,}{r['params']:>12,}{r['flops'] / r['params']:>13,.0f}{r['ms']:>12.2f}"
    )
conv_flops = sum(r["flops"] for r in rows if r["name"].startswith("Conv2d"))
conv_params = sum(r["params"] for r in rows if r["name"].startswith("Conv2d"))
total_flops, total_params = sum(r["flops"] for r in rows), sum(r["params"] for r in rows)
print(f"convolutions: {conv_flops / total_flops:.1%} of the FLOPs with {conv_params / total_params:.1%} of the parameters")

fig = go.Figure()
names = [r["name"] for r in rows]
fig.add_trace(go.Bar(x=names, y=[r["flops"] / total_flops for r in rows], name="share of forward FLOPs"))
fig.add_trace(go.Bar(x=names, y=[r["params"] / total_params for r in rows], name="share of parameters"))
fig.update_layout(barmode="group", width=700, height=320, margin=dict(l=10, r=10, t=40, b=10), yaxis_tickformat=".0%",
                  title="Where LeNet-5's work and its weights are")  # fmt: skip
fig.show()

# %% [markdown]
# The same step's time per op, as the inspector's Profile page shows it (from the recorded run).

# %%
figures.profile.profile_figure(figures.profile.profile_rows(ops), title="one recorded LeNet-5 step: time per op type").show()

# %% [markdown]
# ### Your convolution against tinytorch's
#
# The same forward and backward of the same batch, best of a few runs. tinytorch keeps images
# channels-last inside its ops (each window then reads `C` neighbouring numbers at a time, and
# the matmul's output is already the next layer's layout) and builds no second im2col-sized
# matrix in backward.


# %%
def best_time(fn, repeat=3):
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


ours_time = best_time(step_of(lenet5(YourConv2d, YourMaxPool2d)))
tt_time = best_time(step_of(lenet5()))
print(f"forward and backward of batch {record_batch}: your layers {1e3 * ours_time:.1f} ms, tinytorch's {1e3 * tt_time:.1f} ms")

# %% [markdown]
# ## Reflect

# %%
ratios = ", ".join(
    f"{layer['cols'] / layer['input']:.2f}x (k*k = {layer['k'] ** 2}, k*k * Ho*Wo / (H*W) = {layer['predicted']:.2f})"
    for layer in layers
)
print(f"1. im2col matrix / layer input, measured by the recorder: {ratios}")
print(
    f"   at the step's peak the im2col matrices were {cols_bytes / top['peak_bytes']:.0%} of the live bytes; parameters {param_bytes / top['peak_bytes']:.1%}"
)
print(
    f"2. profiler FLOPs = closed form for all {len(rows)} layers; convolutions: {conv_flops / total_flops:.0%} of the FLOPs, {conv_params / total_params:.0%} of the parameters"
)
print(
    f"3. your layers / tinytorch's: {ours_time / tt_time:.2f}x the time, {ours_peak / tt_peak:.2f}x the peak memory of a forward and backward"
)

# %% [markdown]
# **1. What does im2col cost, and why about `k*k` times the input?** Each output pixel gets its own
# copy of the window under it, and neighbouring windows overlap: with stride 1 every interior pixel
# lands in `k*k` rows (the coverage picture), so the matrix is the input times `k*k`, trimmed by
# the border (line 1, with the prediction `k*k * Ho*Wo / (H*W)` beside each measurement). The
# matrix is kept for backward (`dW = g^T @ cols`), so it lives through the whole forward pass: the
# recorder shows it dwarfing the parameters and most of the step's peak. What it buys is one large
# matrix multiply, which BLAS runs near the machine's peak, instead of many small loops. Frameworks
# that cannot afford the memory tile the matrix, or use direct and Winograd kernels instead.
#
# **2. Where do a CNN's FLOPs and parameters go?** The profiler's counts equal the closed form
# (line 2): a convolution reuses each weight at every one of its `Ho*Wo` output positions, so a few
# hundred weights do millions of multiply-adds, while a `Linear` layer uses each weight once per
# image. Convolutions are where the time goes; the fully connected layers are where the parameters
# (and the optimizer's state) are. To make a CNN faster, shrink the convolutions' `Ho*Wo*C*k*k`; to
# make it smaller, shrink the dense layers.
#
# **3. Why is tinytorch's convolution faster and leaner than yours?** Same arithmetic, different
# memory traffic (line 3). Your im2col gathers `(C, kh, kw)` windows from a channels-first image:
# strided reads that jump across planes. tinytorch gathers channels-last windows, so each read is
# `C` neighbouring numbers, and its matmul's output needs no transposing copy for the next layer.
# In backward, your `col2im(g @ W)` first builds a matrix as large as the saved im2col one, while
# tinytorch multiplies and adds one kernel position at a time, so its peak stays lower.
