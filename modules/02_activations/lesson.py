# %% [markdown]
# # Lesson 02 · Activations
#
# Without a nonlinearity between them, any stack of linear layers is one linear layer. The
# **activation** is that nonlinearity: an element-wise function applied to every unit. Which one
# you pick decides how gradients flow back through the network: a slope near 0 stops them, a
# slope of exactly 0 stops them for good.
#
# - **Build**: ReLU, sigmoid, tanh, GELU and softmax as tinytorch ops, each a forward and its
#   backward side by side, checked against finite differences and tinytorch's own.
# - **Use**: an MLP on Fashion-MNIST with each of your activations, then with tinytorch's: the same
#   training curves, and which activation learns fastest.
# - **Understand**: each activation's slope; gradients shrinking layer after layer in a deep
#   sigmoid network (recorded, drawn as the inspector draws it); tanh saturated by raw pixels; ReLU
#   units that die and never come back; softmax overflowing on large logits; what each costs.
# - **Reflect**: the lesson's systems questions, answered from those measurements.
#
# Fill in every `raise NotImplementedError()` in the Build part, run the cell, then run the check
# cell under it: a check says what it expected and what it got. `tinytorch check 2` runs every
# check, and a few more tests, on your notebook.

# %%
import os
import tempfile
import time

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import tinytorch as tt
from tinytorch import Function, nn
from tinytorch.autograd import gradcheck
from tinytorch.ops.elementwise import erf  # NumPy has no erf; tinytorch's is good to 1.5e-7

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: fewer images, steps and layers, so the notebook runs in seconds
rng = np.random.default_rng(0)


def f64(*shape, scale=1.0):
    """A random float64 leaf that requires grad: gradcheck's finite differences need float64."""
    return tt.tensor(scale * rng.standard_normal(shape), requires_grad=True)


def grads(fn, x):
    """d sum(fn(x)) / dx for a float tensor x (a fresh leaf, so x itself is untouched)."""
    leaf = tt.tensor(x.data.copy(), requires_grad=True)
    fn(leaf).sum().backward()
    return leaf.grad.data


# %% [markdown]
# ## Build
#
# Every op in tinytorch is a small class with its forward and its backward side by side, in
# PyTorch's words. `forward(ctx, x)` gets NumPy arrays, returns the output, and keeps what the
# gradient will need with `ctx.save_for_backward(...)`. `backward(ctx, grad_output)` gets the
# gradient of the loss with respect to the output and returns the gradient with respect to the
# input: for an element-wise `y = f(x)` that is `grad_output * f'(x)`, the chain rule, one op at
# a time. `MyReLU.apply(t)` runs it on a tensor and links it into the autograd graph. (Lesson 05
# builds the engine that calls `backward`; here you write the slopes, which decide how gradients
# flow.)
#
# Defining a `Function` subclass registers it by name in `tinytorch.OPS`; the first line of each
# cell forgets an earlier definition, so the cell can run again.
#
# ### 1. ReLU
#
# `relu(x) = max(x, 0)`: slope 1 where `x > 0`, 0 elsewhere (at exactly 0 too, as PyTorch). Save
# the output: `out > 0` is the same mask as `x > 0`, and backward needs nothing else.

# %%
tt.OPS.pop("MyReLU", None)


class MyReLU(Function):
    """relu(x) = max(x, 0);  d/dx = 1 where x > 0, else 0"""

    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION
        out = np.maximum(x, 0)
        ctx.save_for_backward(out)
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (out,) = ctx.saved_tensors
        return grad_output * (out > 0)
        ### END SOLUTION


# %% tags=["check"]
# Check: MyReLU computes max(x, 0), passes gradcheck, and gives tinytorch's gradient (0 at x = 0)
x = f64(3, 4)
assert np.array_equal(MyReLU.apply(x).data, np.maximum(x.data, 0)), "MyReLU.apply(x) should be max(x, 0)"
assert gradcheck(MyReLU.apply, [x])  # raises GradcheckError saying which entry differs
edge = tt.tensor([-2.0, 0.0, 3.0])
ours, theirs = grads(MyReLU.apply, edge), grads(lambda t: t.relu(), edge)
assert np.array_equal(ours, theirs), f"d relu/dx at {edge.tolist()} should be {theirs}, but is {ours}"
assert MyReLU.apply(tt.ones(2)).dtype == np.float32, "MyReLU of float32 should stay float32"
print("ok: MyReLU's gradient matches finite differences and tinytorch's; at -2, 0, 3 it is", ours)

# %% [markdown]
# ### 2. Sigmoid, without overflow
#
# `sigmoid(x) = 1 / (1 + exp(-x))` squashes any number into (0, 1); its slope is
# `sigmoid(x) (1 - sigmoid(x))`, so save the output. Written as it stands, `exp(-x)` overflows for
# `x` below about -88 in float32 (NumPy warns and returns `inf`). Never compute an `exp` of a large
# positive number: for `x < 0` use the equal form `exp(x) / (1 + exp(x))`. With `e = exp(-|x|)`,
# which is at most 1, both cases are one line each (`np.where`).

# %%
tt.OPS.pop("MySigmoid", None)


class MySigmoid(Function):
    """s(x) = 1 / (1 + exp(-x));  ds/dx = s (1 - s)"""

    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION
        e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
        out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        ctx.save_for_backward(out)
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (out,) = ctx.saved_tensors
        return grad_output * out * (1 - out)
        ### END SOLUTION


# %% tags=["check"]
# Check: MySigmoid agrees with tinytorch, passes gradcheck, and never overflows (x = -1000 and 1000)
x = f64(3, 4, scale=3.0)
assert np.allclose(MySigmoid.apply(x).data, x.sigmoid().data), "MySigmoid.apply(x) should be tinytorch's x.sigmoid()"
assert gradcheck(MySigmoid.apply, [x])
ours, theirs = grads(MySigmoid.apply, x), grads(lambda t: t.sigmoid(), x)
assert np.allclose(ours, theirs), f"d sigmoid/dx should be tinytorch's\n{theirs}\nbut is\n{ours}"
wide = tt.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0])
with np.errstate(over="raise", invalid="raise"):  # an overflow is an error here, not a warning
    out = MySigmoid.apply(wide).data
want = np.array([0.0, 1.9287e-22, 0.5, 1.0, 1.0], np.float32)
assert out.dtype == np.float32, f"MySigmoid of float32 should stay float32, but is {out.dtype}"
assert np.allclose(out, want, rtol=1e-4, atol=0), f"sigmoid({wide.tolist()}) should be {want}, but is {out}"
print("ok: sigmoid at -1000, -50, 0, 50, 1000 =", out)

# %% [markdown]
# ### 3. Tanh
#
# `tanh(x) = (e^x - e^-x) / (e^x + e^-x)`, in (-1, 1) and centred on 0 (it is `2 sigmoid(2x) - 1`).
# NumPy's `np.tanh` is stable; the slope is `1 - tanh(x)^2`, so again save the output.

# %%
tt.OPS.pop("MyTanh", None)


class MyTanh(Function):
    """y = tanh(x);  dy/dx = 1 - y^2"""

    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (out,) = ctx.saved_tensors
        return grad_output * (1 - out * out)
        ### END SOLUTION


# %% tags=["check"]
# Check: MyTanh agrees with tinytorch and passes gradcheck
x = f64(3, 4, scale=2.0)
assert np.allclose(MyTanh.apply(x).data, np.tanh(x.data)), "MyTanh.apply(x) should be np.tanh(x)"
assert gradcheck(MyTanh.apply, [x])
ours, theirs = grads(MyTanh.apply, x), grads(lambda t: t.tanh(), x)
assert np.allclose(ours, theirs), f"d tanh/dx should be tinytorch's\n{theirs}\nbut is\n{ours}"
print("ok: d tanh/dx at 0 is", grads(MyTanh.apply, tt.zeros(1))[0], "and at 5 is", grads(MyTanh.apply, tt.tensor([5.0]))[0])

# %% [markdown]
# ### 4. GELU
#
# GPT and BERT use `gelu(x) = x Phi(x)`, where `Phi(x) = (1 + erf(x / sqrt 2)) / 2` is the
# probability that a standard normal variable is below `x`: a ReLU with a smooth knee, slightly
# negative for small negative `x`. Its slope is `Phi(x) + x phi(x)` with the normal density
# `phi(x) = exp(-x^2 / 2) / sqrt(2 pi)`. Save the input (the slope needs `x`, not the output).
# `erf` is imported in the setup cell. Return the dtype you were given: a Python float such as
# `1 / np.sqrt(2)` is float64 and would widen a float32 array, so compute with `x.dtype` in mind
# (`.astype(x.dtype, copy=False)`).

# %%
tt.OPS.pop("MyGELU", None)


class MyGELU(Function):
    """gelu(x) = x Phi(x);  d/dx = Phi(x) + x phi(x)"""

    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION
        ctx.save_for_backward(x)
        cdf = 0.5 * (1 + erf(x / np.sqrt(2)))
        return (x * cdf).astype(x.dtype, copy=False)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (x,) = ctx.saved_tensors
        cdf = 0.5 * (1 + erf(x / np.sqrt(2)))
        pdf = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
        return (grad_output * (cdf + x * pdf)).astype(x.dtype, copy=False)
        ### END SOLUTION


# %% tags=["check"]
# Check: MyGELU agrees with tinytorch's gelu, keeps float32, and passes gradcheck
x = f64(3, 4, scale=2.0)
assert np.allclose(MyGELU.apply(x).data, x.gelu().data, atol=1e-6), "MyGELU.apply(x) should be tinytorch's x.gelu()"
assert gradcheck(MyGELU.apply, [x])
ours, theirs = grads(MyGELU.apply, x), grads(lambda t: t.gelu(), x)
assert np.allclose(ours, theirs, atol=1e-6), f"d gelu/dx should be tinytorch's\n{theirs}\nbut is\n{ours}"
small = tt.tensor([-1.0, 0.0, 1.0])
assert MyGELU.apply(small).dtype == np.float32, f"MyGELU of float32 should be float32, not {MyGELU.apply(small).dtype}"
print("ok: gelu(-1, 0, 1) =", MyGELU.apply(small).data, "slopes", grads(MyGELU.apply, small))

# %% [markdown]
# ### 5. Softmax, stable, over a dimension
#
# `softmax(x)_i = exp(x_i) / sum_j exp(x_j)` along `dim` turns a row of scores into probabilities.
# `exp(1000)` is `inf` and `inf / inf` is NaN; but subtracting the row's maximum first changes
# nothing (the factor `exp(-max)` cancels) and makes the largest exponent `exp(0) = 1`. Keep the
# reduced axis (`keepdims=True`) so the max and the sum broadcast back against the row.
#
# Backward: every output depends on every input of its row, so the slope is a matrix (the
# Jacobian `dy_i/dx_j = y_i (delta_ij - y_j)`). You never build it: multiplied by the incoming
# gradient `g` it is `y * (g - sum(g * y))`, the sum along `dim` (kept for broadcasting). Save `y`;
# `dim` arrives as a keyword: `MySoftmax.apply(x, dim=1)`, and you keep it on `ctx`.

# %%
tt.OPS.pop("MySoftmax", None)


class MySoftmax(Function):
    """y = exp(x - max) / sum exp(x - max) along dim;  dx = y * (g - sum(g * y, dim))"""

    @staticmethod
    def forward(ctx, x, dim=-1):
        ### BEGIN SOLUTION
        e = np.exp(x - x.max(axis=dim, keepdims=True))  # the largest exponent is exp(0) = 1
        out = e / e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (out,) = ctx.saved_tensors
        return out * (grad_output - (grad_output * out).sum(axis=ctx.dim, keepdims=True))
        ### END SOLUTION


# %% tags=["check"]
# Check: MySoftmax agrees with tinytorch on every dim, passes gradcheck, and survives logits near 1000
x = f64(3, 4)
for dim in (0, 1, -1):
    ours, theirs = MySoftmax.apply(x, dim=dim), x.softmax(dim=dim)
    assert ours.shape == theirs.shape, f"softmax(dim={dim}) should have shape {theirs.shape}, but has {ours.shape}"
    assert np.allclose(ours.data, theirs.data), f"softmax(dim={dim}) should be\n{theirs.data}\nbut is\n{ours.data}"
    assert gradcheck(lambda t, dim=dim: MySoftmax.apply(t, dim=dim), [x])
    mine, want = grads(lambda t, dim=dim: MySoftmax.apply(t, dim=dim) ** 2, x), grads(lambda t, dim=dim: t.softmax(dim) ** 2, x)
    assert np.allclose(mine, want), f"d sum(softmax(x, dim={dim})^2)/dx should be tinytorch's\n{want}\nbut is\n{mine}"
big = tt.tensor([[1000.0, 1001.0, 1002.0]])
with np.errstate(over="raise", invalid="raise"):
    p = MySoftmax.apply(big, dim=1).data
want = tt.tensor([[0.0, 1.0, 2.0]]).softmax(dim=1).data
assert np.allclose(p, want), f"softmax([1000, 1001, 1002]) should equal softmax([0, 1, 2]) = {want}, but is {p}"
print("ok: softmax([1000, 1001, 1002]) =", p)

# %% [markdown]
# ## Use
#
# Real data: Fashion-MNIST, 28×28 grey images of clothes in ten classes. tinytorch looks for it
# under `$TINYTORCH_DATA`, else `~/.cache/tinytorch/datasets`, else Debian's
# `dataset-fashion-mnist` package; `FashionMNIST(download=True)` fetches it. Without it this
# lesson makes random images, so every cell still runs, and says so. Pixels are scaled to mean 0
# and standard deviation 1 (the Understand part shows why).

# %%
from tinytorch.datasets import DatasetError, FashionMNIST

try:
    test_set = FashionMNIST(train=False)
    images, labels, source = test_set.data, test_set.targets, "Fashion-MNIST test set"
except DatasetError as e:
    print(f"Fashion-MNIST is not on this machine, so this lesson uses random images instead.\n  ({e})")
    images, labels = rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 10000)
    source = "random images (Fashion-MNIST not found)"
if FAST:
    images, labels = images[:3000], labels[:3000]
raw = images.reshape(len(images), 28 * 28).astype(np.float32)  # (N, 784), 0 to 255
mean, std = raw.mean(), raw.std()
pixels = (raw - mean) / std  # (N, 784), mean 0, std 1
held_out = len(pixels) // 5  # the last fifth is never trained on
train_x, train_y = pixels[:-held_out], labels[:-held_out]
test_x, test_y = tt.tensor(pixels[-held_out:]), labels[-held_out:]
print(f"{source}: {len(train_x)} images to train on, {held_out} held out; pixel mean {mean:.1f}, std {std:.1f}")

# %% [markdown]
# An activation is a function, and a model wants a module: `Act(fn)` wraps one for
# `nn.Sequential`. The MLP has two hidden layers; `train` runs Adam on mini-batches drawn in the
# same order every time, from the same initial weights (`tt.manual_seed`), so two runs differ only
# in their activation.

# %%
steps, batch = (60, 64) if FAST else (400, 128)


class Act(nn.Module):
    """An activation function as a module, e.g. Act(MyReLU.apply)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def make_mlp(act, width=128, seed=0):
    tt.manual_seed(seed)  # the same initial weights for every activation
    return nn.Sequential(nn.Linear(784, width), Act(act), nn.Linear(width, width), Act(act), nn.Linear(width, 10))


def train(model, steps=steps, lr=1e-3, seed=0):
    """Adam on mini-batches of the training images; returns the losses and the seconds per step."""
    order = np.random.default_rng(seed)
    optimizer = tt.optim.Adam(model.parameters(), lr=lr)
    losses, start = [], time.perf_counter()
    for _ in range(steps):
        idx = order.integers(0, len(train_x), batch)
        loss = nn.functional.cross_entropy(model(tt.tensor(train_x[idx])), tt.tensor(train_y[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, (time.perf_counter() - start) / steps


def accuracy(model):
    with tt.no_grad():
        return float((model(test_x).argmax(dim=1).numpy() == test_y).mean())


activations = {  # name: (yours, tinytorch's)
    "relu": (MyReLU.apply, lambda t: t.relu()),
    "sigmoid": (MySigmoid.apply, lambda t: t.sigmoid()),
    "tanh": (MyTanh.apply, lambda t: t.tanh()),
    "gelu": (MyGELU.apply, lambda t: t.gelu()),
}
curves, results = {}, {}
for name, (yours, theirs) in activations.items():
    ours_model, tt_model = make_mlp(yours), make_mlp(theirs)
    ours_losses, ours_seconds = train(ours_model)
    tt_losses, tt_seconds = train(tt_model)
    gap = max(abs(a - b) for a, b in zip(ours_losses, tt_losses))
    assert gap < 1e-3, f"{name}: your activation and tinytorch's should give the same training curve"
    curves[name] = (ours_losses, tt_losses)
    results[name] = dict(
        loss=np.mean(tt_losses[-10:]), acc=accuracy(tt_model), ours_ms=1e3 * ours_seconds, tt_ms=1e3 * tt_seconds, gap=gap
    )
print(f"{steps} steps of Adam, batch {batch}; loss = mean of the last 10 steps, accuracy on the {held_out} held-out images")
print(f"{'':8}{'loss':>8}{'accuracy':>10}{'yours ms/step':>15}{'tinytorch ms/step':>19}{'largest loss gap':>18}")
for name, r in results.items():
    print(f"{name:8}{r['loss']:8.3f}{r['acc']:10.1%}{r['ours_ms']:15.2f}{r['tt_ms']:19.2f}{r['gap']:18.1e}")

# %%
fig = go.Figure()
palette = {"relu": "#1f77b4", "sigmoid": "#d62728", "tanh": "#2ca02c", "gelu": "#9467bd"}
for name, (ours_losses, tt_losses) in curves.items():
    fig.add_trace(go.Scatter(y=tt_losses, name=f"{name} (tinytorch)", line=dict(color=palette[name], width=1.5)))
    fig.add_trace(
        go.Scatter(y=ours_losses, name=f"{name} (yours)", line=dict(color=palette[name], dash="dot", width=3), opacity=0.6)
    )
fig.update_layout(width=760, height=360, margin=dict(l=10, r=10, t=40, b=10), title="Training loss per step, by activation")
fig.update_xaxes(title_text="step").update_yaxes(title_text="cross-entropy")
fig.show()

# %% [markdown]
# The same model learns at different speeds depending only on its activation. Your softmax turns
# the trained model's scores into class probabilities, the same as tinytorch's:

# %%
relu_model = make_mlp(MyReLU.apply)
train(relu_model)
with tt.no_grad():
    logits = relu_model(test_x)  # (held_out, 10)
probs_ours, probs_tt = MySoftmax.apply(logits, dim=1).data, logits.softmax(dim=1).data
print(f"largest difference between your probabilities and tinytorch's: {np.abs(probs_ours - probs_tt).max():.1e}")
print(f"mean probability given to the true class: {probs_ours[np.arange(held_out), test_y].mean():.3f}")

# %% [markdown]
# ## Understand
#
# ### The slopes
#
# Backward multiplies the gradient by each activation's slope, so the slope is what matters for
# learning. Here are the four activations and their slopes, each slope computed by your backward
# (a tensor of inputs, `y.sum().backward()`, then `x.grad`).

# %%
xs = tt.tensor(np.linspace(-6, 6, 481, dtype=np.float32))
slopes = {name: grads(yours, xs) for name, (yours, _) in activations.items()}
fig = make_subplots(rows=1, cols=2, subplot_titles=("activation f(x)", "slope f'(x), from your backward"))
for name, (yours, _) in activations.items():
    fig.add_trace(go.Scatter(x=xs.data, y=yours(xs).data, name=name, line=dict(color=palette[name])), 1, 1)
    fig.add_trace(go.Scatter(x=xs.data, y=slopes[name], name=name, line=dict(color=palette[name]), showlegend=False), 1, 2)
fig.update_layout(width=820, height=340, margin=dict(l=10, r=10, t=40, b=10))
fig.show()
flat_share = {name: float((np.abs(s) < 0.01).mean()) for name, s in slopes.items()}
for name, s in slopes.items():
    print(f"{name:8} largest slope {np.abs(s).max():.3f}; slope below 0.01 on {flat_share[name]:.0%} of [-6, 6]")

# %% [markdown]
# ### Gradients through depth
#
# A network of many layers multiplies one slope per layer on the way back, and a weight matrix
# each time. The sigmoid's slope is at most a quarter, so the gradient shrinks at every layer it
# crosses; tanh's is 1 at 0 and ReLU's is 1 wherever a unit is on. The deep MLPs below (PyTorch's
# default initialisation, same weights for each activation) take one batch of real images; the
# plot shows the gradient norm of each layer's weights after one backward.

# %%
depth = 6 if FAST else 10


def make_deep(act, width=128, seed=0):
    tt.manual_seed(seed)
    layers = [nn.Linear(784, width), Act(act)]
    for _ in range(depth - 2):
        layers += [nn.Linear(width, width), Act(act)]
    return nn.Sequential(*layers, nn.Linear(width, 10))


def weight_grad_norms(model, x, y):
    model.zero_grad()
    nn.functional.cross_entropy(model(tt.tensor(x)), tt.tensor(y)).backward()
    return [float(np.linalg.norm(p.grad.data)) for name, p in model.named_parameters() if name.endswith("weight")]


deep_norms = {
    name: weight_grad_norms(make_deep(theirs), train_x[:256], train_y[:256]) for name, (_, theirs) in activations.items()
}
fig = go.Figure()
for name, norms in deep_norms.items():
    fig.add_trace(
        go.Scatter(x=list(range(1, depth + 1)), y=norms, name=name, mode="lines+markers", line=dict(color=palette[name]))
    )
fig.update_layout(
    width=620, height=340, margin=dict(l=10, r=10, t=40, b=10), title=f"Gradient norm of each layer's weights, {depth} layers"
)
fig.update_xaxes(title_text="layer (1 = next to the input)").update_yaxes(title_text="|dL/dW|", type="log")
fig.show()
first_to_last = {name: norms[0] / norms[-1] for name, norms in deep_norms.items()}
for name, ratio in first_to_last.items():
    print(f"{name:8} first layer's gradient / last layer's: {ratio:.1e}")

# %% [markdown]
# The inspector shows the same thing over a whole run. `tinytorch.record` keeps, at every step,
# each parameter's gradient norm (and more); `inspector.figures.gradients.heatmap` draws layers
# against steps, on a log scale, as the inspector's Gradients page does. Two short runs of the
# deep network, sigmoid and ReLU, from the same weights:

# %%
from inspector import figures

logdir = tempfile.mkdtemp(prefix="lesson02-")
deep_steps = 20 if FAST else 100
heat = {}
for name in ("sigmoid", "relu"):
    model = make_deep(activations[name][1])
    optimizer = tt.optim.Adam(model.parameters(), lr=1e-3)
    order = np.random.default_rng(0)
    with tt.record(f"{logdir}/deep-{name}", model=model, optimizer=optimizer, trace_steps=()) as run:
        for _ in range(deep_steps):
            idx = order.integers(0, len(train_x), batch)
            loss = nn.functional.cross_entropy(model(tt.tensor(train_x[idx])), tt.tensor(train_y[idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.step(loss)
    heat[name] = run.reader().grad_stats("norm")  # (steps, parameter names, values (params, steps))
    last_loss = loss.item()
    print(f"{name}: loss after {deep_steps} steps {last_loss:.3f}")
positive = np.concatenate([v[2][v[2] > 0] for v in heat.values()])  # NaN compares False: left out too
lo, hi = np.log10(positive.min()), np.log10(positive.max())
for name, (steps_seen, names, values) in heat.items():
    fig = figures.gradients.heatmap(steps_seen, names, values, title=f"{name}: log10 gradient norm per parameter and step")
    fig.update_traces(zmin=lo, zmax=hi, selector=dict(type="heatmap"))  # one colour scale for both runs
    fig.update_layout(width=760, height=380)
    fig.show()

# %% [markdown]
# ### Saturation: tanh on raw pixels
#
# tanh is flat beyond about ±3. Feed the first layer raw pixels (0 to 255) instead of normalised
# ones and its inputs are large, so most units sit on the flat parts: their slope is near 0 and
# the gradient stops there. Measured on the same images, the same first layer:

# %%
tt.manual_seed(0)
first = nn.Linear(784, 128)
saturation = {}
for name, x in (("raw pixels", raw[:512]), ("normalised", pixels[:512])):
    pre = first(tt.tensor(x))  # (512, 128) pre-activations
    slope = 1 - np.tanh(pre.data) ** 2
    saturation[name] = dict(pre=pre.data.ravel(), flat=float((slope < 0.01).mean()), slope=float(slope.mean()))
    print(
        f"{name:11}: pre-activation std {pre.data.std():7.2f}; tanh slope < 0.01 for {saturation[name]['flat']:.1%} of units; mean slope {saturation[name]['slope']:.3f}"
    )
fig = go.Figure()
for name, s in saturation.items():
    fig.add_trace(go.Histogram(x=np.clip(s["pre"], -20, 20), name=name, nbinsx=80, opacity=0.6, histnorm="probability"))
fig.add_vrect(x0=-3, x1=3, fillcolor="#2ca02c", opacity=0.1, line_width=0, annotation_text="tanh not flat")
fig.update_layout(
    width=620,
    height=320,
    margin=dict(l=10, r=10, t=40, b=10),
    barmode="overlay",
    title="First-layer pre-activations (clipped to ±20)",
)
fig.show()

# %% [markdown]
# ### Dead ReLUs
#
# A ReLU unit whose input is negative for every example outputs 0 and passes no gradient back:
# its weights never change again, so it stays dead. A large step can push a unit's bias and
# weights there. Two runs of the ReLU MLP, a modest and a large Adam learning rate; then, on the
# held-out images, the share of each layer's units that never fire.


# %%
def dead_fraction(model, x):
    """Per hidden layer: the share of units whose output is 0 for every row of x."""
    dead, h = [], x
    with tt.no_grad():
        for layer in model:
            h = layer(h)
            if isinstance(layer, Act):
                dead.append(float((h.data.max(axis=0) <= 0).mean()))
    return dead


dead, zero_frac = {"at initialisation": dead_fraction(make_mlp(MyReLU.apply), test_x)}, {}
for lr in (1e-3, 5e-2):
    model = make_mlp(MyReLU.apply)
    optimizer = tt.optim.Adam(model.parameters(), lr=lr)
    order = np.random.default_rng(0)
    with tt.record(f"{logdir}/relu-lr{lr}", model=model, optimizer=optimizer, every=1, trace_steps=()) as run:
        for _ in range(steps):
            idx = order.integers(0, len(train_x), batch)
            loss = nn.functional.cross_entropy(model(tt.tensor(train_x[idx])), tt.tensor(train_y[idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.step(loss)
    dead[f"after Adam, lr {lr:g}"] = dead_fraction(model, test_x)
    zero_frac[lr] = run.reader().grad_stats("zero_frac")
for when, d in dead.items():
    print(f"{when:22} dead units: layer 1 {d[0]:.1%}, layer 2 {d[1]:.1%}")
fig = go.Figure([go.Bar(x=["hidden layer 1", "hidden layer 2"], y=d, name=when) for when, d in dead.items()])
fig.update_layout(
    width=560, height=320, margin=dict(l=10, r=10, t=40, b=10), title="Share of ReLU units dead on the held-out images"
)
fig.update_yaxes(tickformat=".0%")
fig.show()

# %% [markdown]
# The recorder saw it happen: the share of exact zeros in each parameter's gradient, at every step
# of the large learning rate's run. A dead unit's row of weights gets a zero gradient on every
# batch, so the share climbs and stays.

# %%
steps_seen, names, values = zero_frac[5e-2]
fig = figures.gradients.heatmap(
    steps_seen, names, values, title="lr 0.05: share of zeros in each gradient", log10=False, z_title="zero share"
)
fig.update_layout(width=760, height=320)
fig.show()

# %% [markdown]
# ### Softmax on large logits
#
# Trained networks can produce large scores. The softmax written as it reads,
# `exp(x) / sum(exp(x))`, overflows in float32 once a score passes `log(float32 max)`; yours
# subtracts the max first. Both run on the trained model's held-out scores multiplied by growing
# factors, against a float64 reference:

# %%
overflow_at = float(np.log(np.finfo(np.float32).max))
reference_logits = logits.data.astype(np.float64)
scales = [1, 3, 10, 30, 100, 300, 1000]
naive_nan, ours_nan, ours_err = [], [], []
for s in scales:
    z = (reference_logits * s).astype(np.float32)
    want = np.exp(z - z.max(axis=1, keepdims=True).astype(np.float64))
    want /= want.sum(axis=1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    ours = MySoftmax.apply(tt.tensor(z), dim=1).data
    naive_nan.append(float((~np.isfinite(naive).all(axis=1)).mean()))
    ours_nan.append(float((~np.isfinite(ours).all(axis=1)).mean()))
    ours_err.append(float(np.abs(ours - want).max()))
print(f"float32 overflows past exp({overflow_at:.2f}); largest held-out score {np.abs(reference_logits).max():.1f}")
for s, nan_share, err in zip(scales, naive_nan, ours_err):
    print(f"scores x{s:<5} naive softmax: {nan_share:6.1%} rows NaN or inf;  yours: largest error {err:.1e}")
fig = go.Figure()
fig.add_trace(
    go.Scatter(x=scales, y=naive_nan, name="naive: share of rows with NaN", mode="lines+markers", line=dict(color="#d62728"))
)
fig.add_trace(
    go.Scatter(
        x=scales, y=ours_nan, name="yours: share of rows with NaN", mode="lines+markers", line=dict(color="#1f77b4", dash="dot")
    )
)
fig.update_layout(width=620, height=320, margin=dict(l=10, r=10, t=40, b=10), title="Softmax of scaled scores in float32")
fig.update_xaxes(title_text="scale of the scores", type="log").update_yaxes(tickformat=".0%")
fig.show()

# %% [markdown]
# ### What each activation costs
#
# The profiler (`tinytorch.perf.Profile`) times every op of a forward and a backward through each
# of tinytorch's activations on a batch of hidden units (the fastest of a few repeats, since a busy
# machine only ever adds time), and the graph tells what each keeps for backward: ReLU, sigmoid
# and tanh keep their output, GELU its input.

# %%
from tinytorch.perf import Profile

hidden = tt.tensor(rng.standard_normal((512 if FAST else 2048, 1024)).astype(np.float32), requires_grad=True)
ops = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "gelu": "Gelu"}
cost = {}
for name, op in ops.items():
    fn = activations[name][1]
    best = {"forward": np.inf, "backward": np.inf}
    for _ in range(5):
        with Profile() as prof:  # one forward and one backward per profile
            out = fn(hidden)
            saved = sum(a.nbytes for a in out.grad_fn.saved_tensors)
            out.sum().backward()
        for phase in best:
            best[phase] = min(best[phase], sum(e.seconds for e in prof.events if e.op == op and e.phase == phase))
    cost[name] = dict(best, saved=saved)
print(f"input {tuple(hidden.shape)} float32, {hidden.data.nbytes / 2**20:.1f} MiB")
print(f"{'':8}{'forward ms':>12}{'backward ms':>13}{'saved MiB':>11}")
for name, c in cost.items():
    print(f"{name:8}{1e3 * c['forward']:12.2f}{1e3 * c['backward']:13.2f}{c['saved'] / 2**20:11.1f}")

# %% [markdown]
# ## Reflect
#
# The answers below lean on the measurements printed by the cell under this one; run the notebook
# on your machine and the numbers are yours.

# %%
print(
    f"1. first layer's gradient / last layer's, {depth} layers deep: sigmoid {first_to_last['sigmoid']:.1e}, tanh {first_to_last['tanh']:.1e}, relu {first_to_last['relu']:.1e}, gelu {first_to_last['gelu']:.1e}"
)
print(
    f"   largest slope: sigmoid {np.abs(slopes['sigmoid']).max():.2f}, tanh {np.abs(slopes['tanh']).max():.2f}, relu {np.abs(slopes['relu']).max():.2f}"
)
print(
    f"2. tanh units with slope < 0.01: raw pixels {saturation['raw pixels']['flat']:.1%}, normalised {saturation['normalised']['flat']:.1%}"
)
print("3. dead ReLU units (layer 1, layer 2): " + "; ".join(f"{when} {d[0]:.1%}, {d[1]:.1%}" for when, d in dead.items()))
print(
    f"4. naive softmax rows with NaN: {naive_nan[0]:.1%} at x1, {naive_nan[-1]:.1%} at x{scales[-1]}; yours, largest error: {max(ours_err):.1e}"
)
print(
    "5. forward + backward time relative to relu: "
    + ", ".join(
        f"{n} {(c['forward'] + c['backward']) / (cost['relu']['forward'] + cost['relu']['backward']):.1f}x"
        for n, c in cost.items()
    )
)

# %% [markdown]
# **1. Why does a deep sigmoid network barely train its first layers?** Backward multiplies the
# gradient by the activation's slope at every layer. The sigmoid's slope never exceeds a quarter
# (line 1), so the gradient shrinks by at least that factor per layer, geometrically with depth:
# the first layers of the deep sigmoid network get a gradient orders of magnitude below the last
# one's, and the heatmap shows it stays so during training. tanh's slope is 1 near 0 and ReLU's is
# 1 for every active unit, so their gradients reach the first layer at a usable size. (ReLU and
# GELU networks lose some on the way too, because PyTorch's default initialisation shrinks the
# signal by a constant factor at each layer, as lesson 03 measures; nothing like the sigmoid's collapse.)
# That is why ReLU, and GELU, its smooth cousin, replaced the sigmoid in hidden layers; the
# sigmoid survives where a probability is wanted, at the output or inside gates.
#
# **2. What does normalising the inputs do for tanh?** Line 2: on raw pixels the first layer's
# inputs are large, so most tanh units sit on the flat part of the curve and pass almost no
# gradient: they are saturated, and learning stalls before it starts. Scaled to mean 0 and
# standard deviation 1, the same weights give pre-activations of order 1, where the slope is
# large. Normalisation (of inputs, and inside networks with LayerNorm and BatchNorm) is largely
# about keeping units away from flat regions.
#
# **3. What kills a ReLU unit?** Line 3: at initialisation hardly any unit is dead; after the large
# learning rate many are. One big update can push a unit's weights and bias so that its input is
# negative for every image; then its output and its gradient are 0 for every batch (the heatmap's
# zero share), the optimizer never moves it again, and the network has lost that capacity for
# good. Smaller steps, a warm-up, or an activation with a nonzero slope for negative inputs
# (LeakyReLU, GELU) avoid it.
#
# **4. Why subtract the max in softmax?** Line 4: once a score passes the overflow point of
# `exp` in float32, `exp` gives `inf` and `inf / inf` gives NaN, and a NaN in the loss spreads
# through every gradient. Subtracting the row's max makes every exponent at most 0, so nothing
# overflows, and the answer is mathematically the same; the lesson on losses goes one step further
# with the log-softmax.
#
# **5. What does an activation cost?** Line 5: ReLU is one comparison per element forward and one
# multiply backward. Sigmoid and tanh each evaluate one transcendental function, which NumPy
# computes with vectorised instructions, so on a CPU they cost about what ReLU does, or a little
# more. GELU is the expensive one here: tinytorch evaluates `erf` as a polynomial and an `exp`,
# forward and again in backward, in several passes over the array. All of them are element-wise:
# they do a few operations per number they read and write, so memory traffic, not arithmetic,
# bounds them, and each keeps one array the size of its input for backward. That is why
# activations, not weights, fill a network's memory at large batch sizes (lesson 03 measures it).
