# %% [markdown]
# # Lesson 04 · Losses
#
# A loss turns a batch of predictions and targets into one number; its gradient tells every
# prediction which way to move. **Mean squared error** measures distances between numbers;
# **cross-entropy** measures how much probability a classifier gives the right class. How they
# are computed decides whether training sees a useful gradient, `inf`, or NaN.
#
# - **Build**: mean squared error as a tinytorch op; a stable log-softmax; one-hot targets with
#   label smoothing; and cross-entropy fused with its log-softmax, whose backward is just
#   `softmax - onehot`. Each is checked against tinytorch's and finite differences.
# - **Use**: a classifier on Fashion-MNIST trained with your cross-entropy and with tinytorch's
#   (the same curve), then with mean squared error against one-hot targets.
# - **Understand**: the gradient of cross-entropy drawn for real images; why it beats mean squared
#   error for classification; the composed loss turning into `inf` and NaN where the fused one
#   stays exact; what fusing saves in graph nodes, memory and time; and label smoothing measured
#   on a recorded run: confidence, calibration, the loss's floor.
# - **Reflect**: the lesson's systems questions, answered from those measurements.
#
# Fill in every `raise NotImplementedError()` in the Build part, run the cell, then run the check
# cell under it: a check says what it expected and what it got. `tinytorch check 4` runs every
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

F = nn.functional
FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: fewer images and steps, so the notebook runs in seconds
rng = np.random.default_rng(0)


def f64(*shape, scale=1.0):
    """A random float64 leaf that requires grad: gradcheck's finite differences need float64."""
    return tt.tensor(scale * rng.standard_normal(shape), requires_grad=True)


# %% [markdown]
# ## Build
#
# Each loss is a tinytorch op: a `Function` with `forward(ctx, ...)` on NumPy arrays, which keeps
# what backward needs with `ctx.save_for_backward`, and `backward(ctx, grad_output)`, which returns
# one gradient per input (`None` for an input that gets none, such as integer class labels).
# A loss returns a scalar (a 0-d array), so `grad_output` is a 0-d array too: 1 when the loss is
# what you call `backward()` on, something else when the loss is scaled or summed with others.
# Lesson 05 builds the engine that calls `backward`; the first line of each cell forgets an
# earlier definition, so the cell can run again.
#
# ### 1. Mean squared error
#
# `mse(x, y) = mean((x - y)^2)` over all `N` elements; `d mse / dx = 2 (x - y) / N` and
# `d mse / dy = -2 (x - y) / N`, each times `grad_output`. Save `x - y`. Insist on equal shapes
# and raise `ValueError` otherwise: `(N, 1)` against `(N,)` would broadcast to an `(N, N)` matrix
# of every prediction against every target, a wrong loss that trains without complaint.

# %%
tt.OPS.pop("MyMSELoss", None)


class MyMSELoss(Function):
    """mean((x - y)^2);  d/dx = 2 (x - y) / N,  d/dy = -2 (x - y) / N"""

    @staticmethod
    def forward(ctx, x, y):
        ### BEGIN SOLUTION
        if x.shape != y.shape:
            raise ValueError(f"prediction of shape {x.shape} and target of shape {y.shape} must have the same shape")
        diff = x - y
        ctx.save_for_backward(diff)
        return np.mean(diff * diff)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (diff,) = ctx.saved_tensors
        g = grad_output * (2 / diff.size) * diff
        return g, -g
        ### END SOLUTION


# %% tags=["check"]
# Check: MyMSELoss agrees with F.mse_loss, passes gradcheck in both inputs, and refuses mismatched shapes
x, y = f64(4, 3), f64(4, 3)
assert np.isclose(MyMSELoss.apply(x, y).item(), F.mse_loss(x, y).item()), "MyMSELoss should equal F.mse_loss"
assert gradcheck(MyMSELoss.apply, [x, y])  # raises GradcheckError saying which entry differs
(MyMSELoss.apply(x, y) * 3).backward()  # grad_output = 3
ours, x.grad = x.grad.data.copy(), None
(F.mse_loss(x, y) * 3).backward()
assert np.allclose(ours, x.grad.data), f"d (3 mse)/dx should be tinytorch's\n{x.grad.data}\nbut is\n{ours}"
try:
    MyMSELoss.apply(tt.zeros(5, 1), tt.zeros(5))
except ValueError as e:
    print("ok: (5, 1) against (5,) raises ValueError:", e)
else:
    raise AssertionError("MyMSELoss of shapes (5, 1) and (5,) should raise ValueError")

# %% [markdown]
# ### 2. Log-softmax
#
# Cross-entropy needs `log softmax(z)_c = z_c - log sum_j exp(z_j)` for every row of logits `z`
# (one row per example, one column per class). The sum of exponentials overflows for large logits;
# as in softmax, subtract the row's max `m` first: `log sum exp(z) = m + log sum exp(z - m)`, the
# **log-sum-exp trick**. So `log_softmax(z) = (z - m) - log sum exp(z - m)`, every exponent at
# most 0. Computing `log(softmax(z))` instead would fail differently: a probability too small for
# float32 rounds to 0 and its log is `-inf`; this form never takes the log of a tiny number.
# Work over the last axis, keeping it for broadcasting (`keepdims=True`).


# %%
def log_softmax(z):
    """log softmax over the last axis of a NumPy array, by the log-sum-exp trick."""
    ### BEGIN SOLUTION
    shifted = z - z.max(axis=-1, keepdims=True)  # every exponent <= 0
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    ### END SOLUTION


# %% tags=["check"]
# Check: log_softmax agrees with tinytorch and stays finite (and exact) for logits 1000 apart
z = rng.standard_normal((4, 5)).astype(np.float32)
got, want = log_softmax(z), tt.tensor(z).log_softmax(dim=1).data
assert got.shape == want.shape, f"log_softmax of shape {z.shape} should keep the shape, but gives {got.shape}"
assert np.allclose(got, want, atol=1e-6), f"log_softmax should be tinytorch's\n{want}\nbut is\n{got}"
with np.errstate(over="raise", divide="raise", invalid="raise"):
    wide = log_softmax(np.array([[1000.0, 0.0], [-1000.0, 1000.0]], np.float32))
assert np.allclose(wide, [[0.0, -1000.0], [-2000.0, 0.0]]), f"log_softmax([1000, 0]) should be [0, -1000], but is {wide[0]}"
assert np.allclose(np.exp(got).sum(axis=1), 1, atol=1e-6), "exp(log_softmax) should sum to 1 in every row"
print("ok: log_softmax([[1000, 0], [-1000, 1000]]) =", wide.tolist())

# %% [markdown]
# ### 3. Targets as distributions, with label smoothing
#
# Cross-entropy compares the model's distribution `p` with a target distribution `q`. For a
# label `y`, `q` is one-hot: 1 at column `y`, 0 elsewhere. **Label smoothing** (used for
# Inception, transformers, and by `F.cross_entropy(..., label_smoothing=eps)`) moves a share `eps`
# of that mass evenly onto all `C` classes: `q = (1 - eps) onehot(y) + eps / C`. The model can then
# never reach zero loss by pushing its logits apart forever. Return `q` as an `(N, C)` array of
# the given float dtype, from `target`, an integer array of shape `(N,)`.


# %%
def target_distribution(target, num_classes, label_smoothing=0.0, dtype=np.float32):
    """(N, C) rows: (1 - eps) * onehot(target) + eps / C."""
    ### BEGIN SOLUTION
    q = np.full((len(target), num_classes), label_smoothing / num_classes, dtype=dtype)
    q[np.arange(len(target)), target] += 1 - label_smoothing
    return q
    ### END SOLUTION


# %% tags=["check"]
# Check: target_distribution is one-hot without smoothing, sums to 1 per row, and moves eps evenly
labels = np.array([2, 0, 1, 2])
onehot = target_distribution(labels, 3)
want = F.one_hot(tt.tensor(labels), 3).data
assert onehot.shape == (4, 3), f"the targets of 4 labels and 3 classes should have shape (4, 3), not {onehot.shape}"
assert np.array_equal(onehot, want), f"without smoothing, the targets should be one-hot\n{want}\nbut are\n{onehot}"
smooth = target_distribution(labels, 3, label_smoothing=0.3)
assert smooth.dtype == np.float32, f"the targets should be float32 by default, not {smooth.dtype}"
assert np.allclose(smooth.sum(axis=1), 1), f"every row should sum to 1, not {smooth.sum(axis=1)}"
assert np.allclose(smooth[0], [0.1, 0.1, 0.8]), f"label 2 of 3 with eps = 0.3 should be [0.1, 0.1, 0.8], not {smooth[0]}"
print("ok: label 2 of 3, eps 0.3 ->", smooth[0])

# %% [markdown]
# ### 4. Cross-entropy, fused with its log-softmax
#
# The loss of one example is `-sum_c q_c log p_c` with `log p = log_softmax(z)`; the batch's loss
# is the mean over its `N` rows. Put both in one op, and the backward is short. With
# `p = softmax(z)` and `sum_c q_c = 1`:
#
# `d/dz_k [-sum_c q_c (z_c - log sum_j exp z_j)] = -q_k + p_k`
#
# so the gradient of the mean loss with respect to the logits is `(p - q) / N`, times
# `grad_output`: no exponential of anything large, no division by a probability. Save `p`
# (`np.exp` of the log-softmax) and `q`. `target` holds integer class labels: return `None` for
# its gradient. `label_smoothing` arrives as a keyword:
# `MyCrossEntropy.apply(logits, target, label_smoothing=0.1)`.

# %%
tt.OPS.pop("MyCrossEntropy", None)


class MyCrossEntropy(Function):
    """mean over rows of -sum_c q_c log softmax(z)_c;  d/dz = (softmax(z) - q) / N"""

    @staticmethod
    def forward(ctx, logits, target, label_smoothing=0.0):
        ### BEGIN SOLUTION
        n, classes = logits.shape
        log_p = log_softmax(logits)  # (N, C)
        q = target_distribution(target, classes, label_smoothing, logits.dtype)  # (N, C)
        ctx.save_for_backward(np.exp(log_p), q)
        return -(q * log_p).sum() / n
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        p, q = ctx.saved_tensors
        return grad_output * (p - q) / len(p), None
        ### END SOLUTION


# %% tags=["check"]
# Check: MyCrossEntropy equals F.cross_entropy (with and without smoothing), passes gradcheck, gradient (p - q) / N
logits, labels = f64(6, 4, scale=2.0), tt.tensor(np.array([0, 3, 1, 1, 2, 0]))
for eps in (0.0, 0.1):
    ours, theirs = MyCrossEntropy.apply(logits, labels, label_smoothing=eps), F.cross_entropy(logits, labels, label_smoothing=eps)
    assert ours.shape == (), f"the loss should be a scalar, but has shape {ours.shape}"
    assert np.isclose(ours.item(), theirs.item()), (
        f"label_smoothing={eps}: the loss should be {theirs.item():.6f}, but is {ours.item():.6f}"
    )
    assert gradcheck(lambda z, eps=eps: MyCrossEntropy.apply(z, labels, label_smoothing=eps), [logits])
logits.grad = None
MyCrossEntropy.apply(logits, labels).backward()
p, q = logits.softmax(dim=1).data, np.eye(4)[labels.data]
assert np.allclose(logits.grad.data, (p - q) / 6), (
    f"the gradient should be (softmax - onehot) / N =\n{(p - q) / 6}\nbut is\n{logits.grad.data}"
)
big = tt.tensor(np.array([[0.0, 5000.0], [3000.0, -3000.0]], np.float32), requires_grad=True)
with np.errstate(over="raise", divide="raise", invalid="raise"):
    loss = MyCrossEntropy.apply(big, tt.tensor(np.array([0, 0])))
    loss.backward()
assert np.isclose(loss.item(), 2500.0), f"logits 5000 apart, wrong class: the mean loss should be 2500, but is {loss.item()}"
print("ok: loss", loss.item(), "gradient", big.grad.data.tolist())

# %% [markdown]
# ## Use
#
# Real data: Fashion-MNIST, 28×28 grey images of clothes in ten classes. tinytorch looks for it
# under `$TINYTORCH_DATA`, else `~/.cache/tinytorch/datasets`, else Debian's
# `dataset-fashion-mnist` package; `FashionMNIST(download=True)` fetches it. Without it this
# lesson makes random images, so every cell still runs, and says so.

# %%
from tinytorch.datasets import DatasetError, FashionMNIST

try:
    test_set = FashionMNIST(train=False)
    images, labels, source = test_set.data, test_set.targets, "Fashion-MNIST test set"
except DatasetError as e:
    print(f"Fashion-MNIST is not on this machine, so this lesson uses random images instead.\n  ({e})")
    images, labels = rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 10000)
    source = "random images (Fashion-MNIST not found)"
class_names = FashionMNIST.classes
if FAST:
    images, labels = images[:3000], labels[:3000]
pixels = images.reshape(len(images), 28 * 28).astype(np.float32) / 255
pixels = (pixels - pixels.mean()) / pixels.std()  # (N, 784), mean 0, std 1
held_out = len(pixels) // 5
train_x, train_y = pixels[:-held_out], labels[:-held_out]
test_x, test_y = tt.tensor(pixels[-held_out:]), labels[-held_out:]
print(f"{source}: {len(train_x)} images to train on, {held_out} held out")

# %% [markdown]
# One small MLP, trained by Adam on mini-batches drawn in the same order every time and from the
# same initial weights, so runs differ only in their loss. First **your** cross-entropy, then
# **tinytorch's** `F.cross_entropy`: the curves must coincide. Then mean squared error between the
# ten outputs and the one-hot targets (yours, then tinytorch's `F.mse_loss`): a regression onto the
# labels, which also learns to classify.

# %%
steps, batch = (60, 64) if FAST else (800, 128)


def make_mlp(seed=0):
    tt.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def train(loss_fn, steps=steps, lr=1e-3, run=None, prepare=None):
    """Adam on mini-batches; loss_fn(scores, labels) -> loss. Returns the model, losses, seconds per step."""
    model, order = make_mlp(), np.random.default_rng(0)
    if prepare is not None:
        prepare(model)  # changes the initial weights
    optimizer = tt.optim.Adam(model.parameters(), lr=lr)
    losses, start = [], time.perf_counter()
    for _ in range(steps):
        idx = order.integers(0, len(train_x), batch)
        loss = loss_fn(model(tt.tensor(train_x[idx])), tt.tensor(train_y[idx]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if run is not None:
            run.step(loss)
    return model, losses, (time.perf_counter() - start) / steps


def accuracy(model):
    with tt.no_grad():
        return float((model(test_x).argmax(dim=1).numpy() == test_y).mean())


def onehot(y):
    return tt.tensor(target_distribution(y.numpy(), 10))


runs = {
    "cross-entropy (yours)": lambda s, y: MyCrossEntropy.apply(s, y),
    "cross-entropy (tinytorch)": lambda s, y: F.cross_entropy(s, y),
    "MSE on one-hot (yours)": lambda s, y: MyMSELoss.apply(s, onehot(y)),
    "MSE on one-hot (tinytorch)": lambda s, y: F.mse_loss(s, onehot(y)),
}
trained = {name: train(fn) for name, fn in runs.items()}
print(f"{steps} steps of Adam, batch {batch}; accuracy on {held_out} held-out images")
for name, (model, losses, seconds) in trained.items():
    print(
        f"{name:28} loss {losses[0]:.3f} -> {np.mean(losses[-10:]):.4f}   accuracy {accuracy(model):.1%}   {1e3 * seconds:.2f} ms/step"
    )
ce_gap = max(abs(a - b) for a, b in zip(trained["cross-entropy (yours)"][1], trained["cross-entropy (tinytorch)"][1]))
mse_gap = max(abs(a - b) for a, b in zip(trained["MSE on one-hot (yours)"][1], trained["MSE on one-hot (tinytorch)"][1]))
print(f"largest gap between the curves: cross-entropy {ce_gap:.1e}, MSE {mse_gap:.1e}")
assert ce_gap < 1e-3 and mse_gap < 1e-3, "your losses and tinytorch's should give the same training curves"
ce_model = trained["cross-entropy (tinytorch)"][0]
accuracy_ce, accuracy_mse = accuracy(ce_model), accuracy(trained["MSE on one-hot (tinytorch)"][0])

fig = make_subplots(rows=1, cols=2, subplot_titles=("cross-entropy", "MSE on one-hot targets"))
for col, kind in ((1, "cross-entropy"), (2, "MSE on one-hot")):
    for who, style in (("tinytorch", dict(color="black")), ("yours", dict(color="orange", dash="dot", width=3))):
        fig.add_trace(go.Scatter(y=trained[f"{kind} ({who})"][1], name=f"{kind} ({who})", line=style), 1, col)
fig.update_layout(width=820, height=330, margin=dict(l=10, r=10, t=40, b=10), showlegend=False)
fig.update_xaxes(title_text="step")
fig.show()

# %% [markdown]
# ## Understand
#
# ### The gradient of cross-entropy, pictured
#
# Your backward says the gradient of an example's loss with respect to its logits is
# `softmax - onehot`: the model's probabilities, minus 1 at the true class. Below, twelve held-out
# images through the trained classifier, the gradient computed by your op (on the sum of the
# losses, so each row is one example's own gradient): blue pulls the true class's logit up, red
# pushes the others down in proportion to the probability they took.

# %%
shown = 12
scores = tt.tensor(ce_model(test_x[:shown]).data, requires_grad=True)  # (12, 10), a leaf
(MyCrossEntropy.apply(scores, tt.tensor(test_y[:shown])) * shown).backward()  # x N: each row's own gradient
g = scores.grad.data  # (12, 10)
p_true = scores.softmax(dim=1).data[np.arange(shown), test_y[:shown]]
rows = [f"{class_names[y]} (p={pt:.2f})" for y, pt in zip(test_y[:shown], p_true)]
fig = go.Figure(go.Heatmap(z=g, x=class_names, y=rows, colorscale="RdBu_r", zmid=0, colorbar=dict(title="dL/dz")))
fig.update_layout(width=760, height=420, margin=dict(l=10, r=10, t=40, b=10), title="d loss / d logits for 12 held-out images")
fig.update_yaxes(autorange="reversed")
fig.show()
print(f"largest |row sum| of the gradient: {np.abs(g.sum(axis=1)).max():.1e} (softmax and onehot both sum to 1)")
print(f"every entry lies in [-1, 1]: smallest {g.min():.3f}, largest {g.max():.3f}")

# %% [markdown]
# Over all held-out images, the size of each example's gradient against the probability the model
# gives its true class: examples the model already gets right with confidence contribute almost
# nothing, and the wrong ones dominate the update.

# %%
with tt.no_grad():
    all_scores = ce_model(test_x)
all_p = all_scores.softmax(dim=1).data
per_example = np.linalg.norm(all_p - np.eye(10, dtype=np.float32)[test_y], axis=1)  # |softmax - onehot| per row
p_all_true = all_p[np.arange(held_out), test_y]
right = all_p.argmax(axis=1) == test_y
fig = go.Figure(
    go.Scattergl(
        x=p_all_true, y=per_example, mode="markers", marker=dict(size=4, color=np.where(right, "#2ca02c", "#d62728"), opacity=0.5)
    )
)
fig.update_layout(
    width=560, height=330, margin=dict(l=10, r=10, t=40, b=10), title="Gradient size per example (green: classified right)"
)
fig.update_xaxes(title_text="probability of the true class").update_yaxes(title_text="|softmax - onehot|")
fig.show()
share_from_wrong = float((per_example[~right] ** 2).sum() / (per_example**2).sum())
print(
    f"{(~right).mean():.1%} of the examples are misclassified; they carry {share_from_wrong:.1%} of the summed squared gradient"
)

# %% [markdown]
# ### Why not mean squared error for classification?
#
# With one output and a sigmoid (two classes), cross-entropy's gradient with respect to the logit
# `z` is `sigmoid(z) - y`. Mean squared error on the probability has the sigmoid's slope in it:
# `2 (sigmoid(z) - y) sigmoid(z) (1 - sigmoid(z))`, which vanishes exactly when the model is
# confidently wrong and most needs to move. Both computed by your ops through autograd, target
# `y = 1`:

# %%
z = tt.tensor(np.linspace(-10, 10, 401), requires_grad=True)
target_one = tt.ones(401, dtype=tt.float64)
MyCrossEntropy.apply(tt.stack([tt.zeros(401, dtype=tt.float64), z], dim=1), tt.tensor(np.ones(401, np.int64))).backward()
ce_grad, z.grad = z.grad.data * 401, None  # x N: one example's own gradient
MyMSELoss.apply(z.sigmoid(), target_one).backward()
mse_grad = z.grad.data * 401
fig = go.Figure()
fig.add_trace(go.Scatter(x=z.data, y=ce_grad, name="cross-entropy: sigmoid(z) - 1"))
fig.add_trace(go.Scatter(x=z.data, y=mse_grad, name="MSE on sigmoid(z): 2 (s - 1) s (1 - s)"))
fig.update_layout(width=620, height=330, margin=dict(l=10, r=10, t=40, b=10), title="d loss / d z for a target of 1")
fig.update_xaxes(title_text="logit z (negative: confidently wrong)").update_yaxes(title_text="gradient")
fig.show()
at_wrong = int(np.argmin(np.abs(z.data + 10)))
print(f"at z = -10 (confidently wrong): cross-entropy's gradient {ce_grad[at_wrong]:.4f}, MSE's {mse_grad[at_wrong]:.2e}")

# %% [markdown]
# On real data: the same MLP, but with its last layer's weights multiplied by 20, so that it starts
# out confident and mostly wrong. Train it with cross-entropy, and with mean squared error between
# its softmax probabilities and the one-hot targets (your ops both), from the same start:

# %%
confident_steps = 60 if FAST else 300


def last_layer_times_20(model):
    with tt.no_grad():
        model[2].weight.data[...] *= 20
        model[2].bias.data[...] *= 20


def confident_start_accuracy(loss_fn):
    model, _, _ = train(loss_fn, steps=confident_steps, prepare=last_layer_times_20)
    return accuracy(model)


confident = {
    "cross-entropy": confident_start_accuracy(lambda s, y: MyCrossEntropy.apply(s, y)),
    "MSE on softmax": confident_start_accuracy(lambda s, y: MyMSELoss.apply(s.softmax(dim=1), onehot(y))),
}
for name, acc in confident.items():
    print(f"confident start, {name:15}: accuracy after {confident_steps} steps {acc:.1%}")
print(f"(the plain start, {steps} steps: cross-entropy {accuracy_ce:.1%}, MSE on one-hot scores {accuracy_mse:.1%})")

# %% [markdown]
# ### Stable, or `inf` and NaN
#
# The same loss computed three ways, in float32, for one example whose true class scores 0 and
# a wrong class scores `d` (the exact loss is about `d`): as written in a textbook,
# `-log(exp(z_y) / sum exp(z))`; through a stable softmax and then a log, `-log(softmax(z)_y)`
# (tinytorch's ops, so autograd gives the gradient too); and fused, your op.

# %%
gaps = np.array([1, 10, 50, 80, 90, 100, 110, 200, 1000], dtype=np.float32)
table = {"textbook": [], "softmax, then log": [], "fused (yours)": []}
grads_composed, grads_fused = [], []
for d in gaps:
    logits = np.array([[0.0, d]], np.float32)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        table["textbook"].append(float(-np.log(np.exp(logits[0, 0]) / np.exp(logits).sum())))
        zc = tt.tensor(logits, requires_grad=True)
        composed = -(zc.softmax(dim=1)[0, 0].log())
        composed.backward()
    table["softmax, then log"].append(composed.item())
    grads_composed.append(zc.grad.data[0])
    zf = tt.tensor(logits, requires_grad=True)
    fused = MyCrossEntropy.apply(zf, tt.tensor(np.array([0])))
    fused.backward()
    table["fused (yours)"].append(fused.item())
    grads_fused.append(zf.grad.data[0])
print(f"{'gap d':>7}" + "".join(f"{name:>20}" for name in table) + f"{'grad, composed':>22}{'grad, fused':>16}")
for k, d in enumerate(gaps):
    print(
        f"{d:7.0f}"
        + "".join(f"{table[name][k]:20.4g}" for name in table)
        + f"{str(grads_composed[k]):>22}{str(grads_fused[k]):>16}"
    )
first_bad = {name: next((float(d) for d, v in zip(gaps, values) if not np.isfinite(v)), None) for name, values in table.items()}
composed_grad_bad = next((float(d) for d, gr in zip(gaps, grads_composed) if not np.isfinite(gr).all()), None)
print(f"first gap with a non-finite loss: {first_bad}; with a non-finite composed gradient: {composed_grad_bad}")
print(
    f"float32: exp overflows past {np.log(np.finfo(np.float32).max):.1f}; "
    f"the smallest positive float32 is {np.finfo(np.float32).smallest_subnormal:.1e}, whose log is {np.log(np.finfo(np.float32).smallest_subnormal):.1f}"
)

# %% [markdown]
# ### What fusing saves
#
# Even written stably, cross-entropy composed of primitives (tinytorch's `log_softmax`, then
# picking each row's true class, then the mean) is a chain of ops, each keeping arrays for
# backward. The fused op is one node that keeps `softmax` once. Both graphs for a batch of four,
# drawn by `tinytorch.viz.draw_graph`:

# %%
from tinytorch.viz import draw_graph


def composed_ce(z, y):
    """Cross-entropy from primitives: mean of -log_softmax(z)[i, y_i]."""
    return -(z.log_softmax(dim=1)[np.arange(len(y)), y.numpy()]).mean()


small = tt.tensor(rng.standard_normal((4, 10)).astype(np.float32), requires_grad=True)
small_y = tt.tensor(np.array([1, 0, 7, 3]))
draw_graph(composed_ce(small, small_y), title="composed: log_softmax, pick, mean")

# %%
draw_graph(MyCrossEntropy.apply(small, small_y), title="fused: one op")

# %% [markdown]
# The cost on a language model's scale, where every position of every sequence is classified
# over a whole vocabulary: for tinytorch's composed cross-entropy, tinytorch's fused one and yours,
# the graph's nodes and the bytes they keep for backward (from `tinytorch.autograd.graph`), the
# peak of memory allocated during forward and backward (`tracemalloc`, which sees NumPy's
# buffers), and the time (`tinytorch.perf.Profile`, the fastest of a few repeats).

# %%
import tracemalloc

from tinytorch.perf import Profile

rows_lm, vocab = (1024, 2000) if FAST else (2048, 8000)
lm_logits = rng.standard_normal((rows_lm, vocab)).astype(np.float32)
lm_labels = tt.tensor(rng.integers(0, vocab, rows_lm))
variants = {"composed (tinytorch ops)": composed_ce, "fused (tinytorch)": F.cross_entropy, "fused (yours)": MyCrossEntropy.apply}


def forward_backward(fn):
    """One forward and backward; returns the graph's op nodes and the bytes they saved."""
    z = tt.tensor(lm_logits, requires_grad=True)
    loss = fn(z, lm_labels)
    nodes = [n for n in tt.autograd.graph(loss) if n.op != "AccumulateGrad"]
    saved = sum(a.nbytes for n in nodes for a in (n.node.saved_tensors or ()) if hasattr(a, "nbytes"))
    loss.backward()
    return len(nodes), saved, loss.item()


fusion = {}
for name, fn in variants.items():
    tracemalloc.start()
    nodes, saved, value = forward_backward(fn)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    best = np.inf
    for _ in range(3):
        with Profile() as prof:
            forward_backward(fn)
        best = min(best, prof.wall)
    fusion[name] = dict(nodes=nodes, saved=saved, peak=peak, seconds=best, loss=value)
print(f"logits ({rows_lm}, {vocab}) float32: {lm_logits.nbytes / 2**20:.1f} MiB each copy")
print(f"{'':26}{'nodes':>6}{'saved MiB':>11}{'peak MiB':>10}{'ms':>8}{'loss':>9}")
for name, f in fusion.items():
    print(f"{name:26}{f['nodes']:6}{f['saved'] / 2**20:11.1f}{f['peak'] / 2**20:10.1f}{1e3 * f['seconds']:8.1f}{f['loss']:9.4f}")

# %% [markdown]
# tinytorch's composition is written with care: its `exp` keeps one array the size of the logits,
# as the fused op keeps its log-probabilities, so they save about the same. The difference is in
# the temporaries: every op of the chain writes a full-size result in forward and another in
# backward, which raises the peak and takes time. Your fused op keeps `q` beside `p`: a dense
# `(N, C)` array that is almost all zeros, built and multiplied at full size. tinytorch's keeps the
# `N` integer labels instead and subtracts 1 at each row's label in place.

# %% [markdown]
# ### Label smoothing, measured
#
# Cross-entropy against one-hot targets keeps rewarding larger logit gaps even on examples the model
# already gets right, so trained classifiers grow overconfident. With label smoothing `eps` the
# best a model can do is give the true class `1 - eps + eps/C` and every other class `eps/C`: a
# finite logit gap, and a loss that cannot go below the entropy of `q`. Two runs of the same
# classifier, recorded with `tinytorch.record`; their loss curves drawn by the inspector's
# `inspector.figures.runs.curves`.

# %%
from inspector import figures

eps, logdir = 0.1, tempfile.mkdtemp(prefix="lesson04-")
smoothing_steps = 300 if FAST else 1600  # long enough for the plain model to grow overconfident
smoothed = {}
for label, e in (("eps 0", 0.0), (f"eps {eps}", eps)):
    with tt.record(f"{logdir}/smoothing-{e}", trace_steps=()) as run:
        model, _, _ = train(lambda s, y, e=e: F.cross_entropy(s, y, label_smoothing=e), steps=smoothing_steps, run=run)
    smoothed[label] = (model, run.reader().steps())
series = [dict(name=label, steps=cols["step"], values=cols["loss"]) for label, (_, cols) in smoothed.items()]
q_best = target_distribution(np.array([0]), 10, eps)[0]
floor = float(-(q_best * np.log(q_best)).sum())  # the entropy of the smoothed target: the lowest loss
fig = figures.runs.curves(series, "Training loss with and without label smoothing", "cross-entropy")
fig.add_hline(y=floor, line=dict(color="#888", dash="dash"), annotation_text=f"floor with eps {eps}")
fig.update_layout(width=620, height=330)
fig.show()


def calibration(model, bins=10):
    """Accuracy, mean confidence, mean top-1 minus top-2 logit, expected calibration error."""
    with tt.no_grad():
        s = model(test_x).data
    p = tt.tensor(s).softmax(dim=1).data
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    right = pred == test_y
    top2 = np.sort(s, axis=1)[:, -2:]
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges) - 1, 0, bins - 1)
    ece = sum(
        abs(right[which == b].mean() - conf[which == b].mean()) * (which == b).mean() for b in range(bins) if (which == b).any()
    )
    return dict(accuracy=right.mean(), confidence=conf.mean(), over=conf.mean() - right.mean(), wrong=conf[~right].mean(),
                gap=(top2[:, 1] - top2[:, 0]).mean(), ece=ece, conf_all=conf)  # fmt: skip


measured = {label: calibration(model) for label, (model, _) in smoothed.items()}
best_gap = float(np.log(q_best.max() / q_best.min()))
print(
    f"{'':8}{'accuracy':>10}{'confidence':>12}{'when wrong':>12}{'confidence - accuracy':>23}{'logit gap':>11}{'calibration error':>19}"
)
for label, m in measured.items():
    print(
        f"{label:8}{m['accuracy']:10.1%}{m['confidence']:12.3f}{m['wrong']:12.3f}{m['over']:+23.3f}{m['gap']:11.2f}{m['ece']:19.3f}"
    )
print(f"with eps {eps}: lowest possible loss {floor:.3f}, best logit gap log((1 - eps + eps/C) / (eps/C)) = {best_gap:.2f}")
fig = go.Figure([go.Histogram(x=m["conf_all"], name=label, nbinsx=40, opacity=0.6) for label, m in measured.items()])
fig.update_layout(
    width=560,
    height=300,
    margin=dict(l=10, r=10, t=40, b=10),
    barmode="overlay",
    title="Confidence (largest probability) on held-out images",
)
fig.show()

# %% [markdown]
# ## Reflect
#
# The answers below lean on the measurements printed by the cell under this one; run the notebook
# on your machine and the numbers are yours.

# %%
print(
    f"1. first logit gap with a non-finite loss: textbook {first_bad['textbook']}, softmax then log {first_bad['softmax, then log']}, fused {first_bad['fused (yours)']}; composed gradient non-finite from {composed_grad_bad}"
)
c, f_, y_ = fusion["composed (tinytorch ops)"], fusion["fused (tinytorch)"], fusion["fused (yours)"]
print(
    f"   composed vs fused (tinytorch): {c['nodes']} vs {f_['nodes']} nodes, {c['saved'] / f_['saved']:.1f}x the saved bytes, {c['peak'] / f_['peak']:.1f}x the peak, {c['seconds'] / f_['seconds']:.1f}x the time; yours saves {y_['saved'] / f_['saved']:.1f}x tinytorch's"
)
print(
    f"2. gradient rows sum to {np.abs(g.sum(axis=1)).max():.0e}; misclassified examples ({(~right).mean():.1%}) carry {share_from_wrong:.1%} of the squared gradient"
)
print(
    f"   confidently wrong (z = -10): cross-entropy gradient {ce_grad[at_wrong]:.3f}, MSE on sigmoid {mse_grad[at_wrong]:.1e}; from a confident start, accuracy {confident['cross-entropy']:.1%} vs {confident['MSE on softmax']:.1%}"
)
e0, e1 = measured["eps 0"], measured[f"eps {eps}"]
print(
    f"3. label smoothing {eps}: confidence when wrong {e0['wrong']:.3f} -> {e1['wrong']:.3f}, confidence - accuracy {e0['over']:+.3f} -> {e1['over']:+.3f}, logit gap {e0['gap']:.2f} -> {e1['gap']:.2f}, calibration error {e0['ece']:.3f} -> {e1['ece']:.3f}, accuracy {e0['accuracy']:.1%} -> {e1['accuracy']:.1%}; loss floor {floor:.3f}"
)

# %% [markdown]
# **1. Why fuse log-softmax into cross-entropy?** Line 1: the textbook formula overflows `exp` as
# soon as a logit passes float32's limit. The stable softmax followed by a log survives a little
# longer, but its gradient fails first: backward through `log` divides by the true class's
# probability, and once that probability is below about `1 / float32 max` the quotient overflows to
# `inf` and then NaN, long before the loss itself turns `inf` (when the probability rounds to 0).
# The fused op never forms the probability it takes the log of: `z - max - log sum exp(z - max)`
# is exact for any gap, and its gradient `softmax - onehot` divides by nothing. It is also cheaper:
# one node where the composition is a chain, and although tinytorch's careful composition saves
# about as many bytes for backward, each of its ops writes full-size temporaries, which raises the
# peak and costs time. What the fused op keeps matters as well: your version's dense `q` doubles
# the saved bytes, where tinytorch's keeps integer labels. On a language model the
# `(positions, vocabulary)` logits are among the largest arrays of the whole step, so these
# choices show.
#
# **2. What does the gradient `softmax - onehot` tell the network?** Line 2: each row sums to zero
# (the probability taken from the true class is handed to the others), every entry lies between
# -1 and 1 however wrong the model is, and an example the model gets right with confidence has a
# gradient near zero: the misclassified examples carry most of the update. Mean squared error on a
# probability multiplies that signal by the sigmoid's (or softmax's) slope, which is nearly zero
# exactly when the model is confidently wrong: from a confident start, the model trained that way
# is stuck far below the one trained with cross-entropy. (Mean squared error on the raw scores, as
# in Use, has no such slope and learns; but its scores are not probabilities.)
#
# **3. What does label smoothing change?** Line 3: the smoothed target stops rewarding ever larger
# logit gaps (with smoothing the best gap is finite, printed above; without it there is none), so
# the trained model's gaps shrink and its confidence drops, most usefully on the examples it gets
# wrong. Whether the calibration error
# falls depends on where the plain model stands: when its confidence exceeds its accuracy
# (a positive `confidence - accuracy`, which grows with training), smoothing pulls it towards
# calibrated; a model still underconfident is pushed further. Accuracy is not what smoothing aims
# at, and it changes comparatively little. And the training loss can no longer reach 0: its floor is the entropy of the smoothed target, which
# the loss curve approaches instead.
