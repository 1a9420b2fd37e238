# %% [markdown]
# # Lesson 07 · Training
#
# The pieces are there: a model, a loss, autograd, an optimizer. **Training** is the loop that
# runs them, and the few habits that keep it honest and alive: evaluate on data the model does not
# train on (in eval mode, without a graph); **clip** the gradient's norm so one bad batch cannot
# throw the weights away; **accumulate** gradients over several small batches when one big batch
# does not fit in memory.
#
# - **Build**: gradient clipping by the global norm; one training step over micro-batches
#   (accumulation, then clipping, then the update); evaluation; `fit`, the loop over epochs with a
#   history. Each is checked against `tinytorch.nn.utils` and `tinytorch.train`.
# - **Use**: your `fit`, then tinytorch's, train the milestone MLP on Fashion-MNIST: the same
#   history, number for number.
# - **Understand**: gradient flow as the inspector records it: a healthy run and an exploding one
#   (gradient-norm heatmaps, the alerts with their rule and first step, the first op that made a
#   NaN), and the same explosion clipped; then what gradient accumulation and checkpointing trade,
#   measured by the recorder (peak memory, activations) and the profiler (time, FLOPs).
# - **Reflect**: how a run explodes and how to see it early; what accumulation and checkpointing
#   give and what they cost.
#
# Prerequisites: lessons 05 and 06 (autograd, optimizers). Fill in every
# `raise NotImplementedError()`, run the cell and the check under it; `tinytorch check 7` runs
# every check and more tests on your notebook.

# %%
import os
import tempfile
import time
import warnings

import numpy as np
import plotly.graph_objects as go

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: a slice of the data and fewer steps, so the notebook runs in seconds
rng = np.random.default_rng(0)


def small_mlp():
    """A small MLP with the same weights every time, for the checks."""
    tt.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))


# %% [markdown]
# ## Build
#
# ### 1. Gradient clipping by the global norm
#
# Treat all the gradients of a model as one long vector and measure its length:
# `total = sqrt(sum over parameters of sum(g ** 2))`. If `total > max_norm`, multiply every
# gradient by `max_norm / (total + 1e-6)`, in place, so the vector keeps its direction and its
# length becomes `max_norm`. Return `total`, the norm *before* clipping (a float): it is the number
# worth logging. Skip parameters whose `.grad` is `None`, and add the squares up in float64 (the
# squares of large float32 gradients overflow).


# %%
def clip_grad_norm(parameters, max_norm):
    """Scale all gradients together so their global L2 norm is at most max_norm; return the norm before."""
    ### BEGIN SOLUTION
    grads = [p.grad.data for p in parameters if p.grad is not None]
    total = float(np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads)))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total
    ### END SOLUTION


# %% tags=["check"]
# Check: clip_grad_norm returns tinytorch's norm and leaves tinytorch's gradients, clipped or not
shapes = [(4, 3), (3,), (2, 5)]
for max_norm in (0.5, 1e6):
    ours = [tt.zeros(*s, requires_grad=True) for s in shapes] + [tt.zeros(2, requires_grad=True)]  # the last: no gradient
    theirs = [tt.zeros(*s, requires_grad=True) for s in shapes] + [tt.zeros(2, requires_grad=True)]
    for a, b in zip(ours[:-1], theirs[:-1]):
        g = (3 * rng.standard_normal(a.shape)).astype(np.float32)
        a.grad, b.grad = tt.tensor(g.copy()), tt.tensor(g.copy())
    total = clip_grad_norm(ours, max_norm)
    want = float(tt.nn.utils.clip_grad_norm_(theirs, max_norm).item())
    assert abs(total - want) < 1e-4 * want, f"max_norm={max_norm}: the norm before clipping should be {want}, but is {total}"
    for a, b in zip(ours[:-1], theirs[:-1]):
        assert np.allclose(a.grad.data, b.grad.data, rtol=1e-5), (
            f"max_norm={max_norm}: a clipped gradient should be\n{b.grad.data}\nbut is\n{a.grad.data}"
        )
    assert ours[-1].grad is None, "a parameter without a gradient should keep .grad = None"
print(f"ok: norm {want:.3f}; clipped to 0.5 as tinytorch does, and left alone under a large max_norm")

# %% [markdown]
# ### 2. One step, over micro-batches
#
# A step: `optimizer.zero_grad()`; then for each of the `k` micro-batches `(x, y)`, the loss
# `loss_fn(model(x), y)` **divided by k**, and its `backward()`. Gradients add up in `.grad`, so
# after the last micro-batch `.grad` holds the mean of the `k` micro-batch gradients: for batches
# of equal size, exactly the gradient of one batch `k` times as big. Then clip (when `max_norm` is
# given, with your `clip_grad_norm`) and `optimizer.step()`. Return the loss of the step (the sum
# of the divided micro-batch losses, a float) and the norm before clipping (`None` without
# clipping). Only one micro-batch's graph lives at a time: that is the memory accumulation saves.


# %%
def train_step(model, optimizer, loss_fn, micro_batches, max_norm=None):
    """zero_grad; backward of loss / k for each of the k micro-batches; clip; step. Returns (loss, norm before clipping)."""
    ### BEGIN SOLUTION
    optimizer.zero_grad()
    k, total = len(micro_batches), 0.0
    for x, y in micro_batches:
        loss = loss_fn(model(x), y) / k
        loss.backward()
        total += loss.item()
    norm = clip_grad_norm(model.parameters(), max_norm) if max_norm is not None else None
    optimizer.step()
    return total, norm
    ### END SOLUTION


# %% tags=["check"]
# Check: 4 micro-batches of 8 make the same step as one batch of 32; with max_norm the gradient is clipped
x, y = tt.randn(32, 5), tt.randint(0, 3, (32,))
ours, theirs = small_mlp(), small_mlp()
opt = tt.optim.SGD(theirs.parameters(), lr=0.1)
want = F.cross_entropy(theirs(x), y)  # tinytorch alone: one batch of 32
want.backward()
opt.step()
loss, norm = train_step(
    ours, tt.optim.SGD(ours.parameters(), lr=0.1), F.cross_entropy, [(x[i : i + 8], y[i : i + 8]) for i in range(0, 32, 8)]
)
assert abs(loss - want.item()) < 1e-5, f"the step's loss should be the big batch's {want.item():.6f}, but is {loss}"
assert norm is None, f"without max_norm the norm should be None, but is {norm}"
for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
    assert np.allclose(a.data, b.data, atol=1e-6), (
        f"after the step {name} should be tinytorch's one-batch step\n{b.data}\nbut is\n{a.data}"
    )
model = small_mlp()
loss, norm = train_step(model, tt.optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, [(x, y)], max_norm=0.01)
left = float(np.sqrt(sum((p.grad.data.astype(np.float64) ** 2).sum() for p in model.parameters())))
assert norm is not None and norm > 0.01, f"with max_norm the norm before clipping should be returned, got {norm}"
assert left <= 0.01 + 1e-6, f"with max_norm=0.01 the gradients left for the optimizer should have norm 0.01, but have {left}"
print(f"ok: accumulated step = big-batch step; norm {norm:.3f} clipped to {left:.3f}")

# %% [markdown]
# ### 3. Evaluation
#
# Measure the model on batches it does not train on: the mean loss and the accuracy (the fraction
# of samples whose highest score is the target), both **weighted by batch size** (the last batch is
# often smaller). Two rules: no graph (`with tt.no_grad():`, which saves the memory and time of
# recording it) and **eval mode** (`model.eval()`: dropout off, batch norm uses its running
# statistics). Put the model back in the mode it was in, even if something raises.


# %%
def evaluate(model, batches, loss_fn):
    """{"loss": mean over samples, "accuracy": fraction correct} on batches of (x, y), without a graph, in eval mode."""
    ### BEGIN SOLUTION
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    try:
        with tt.no_grad():
            for x, y in batches:
                out = model(x)
                n = len(y)
                total_loss += loss_fn(out, y).item() * n
                correct += int((out.argmax(dim=1) == y).sum().item())
                count += n
    finally:
        model.train(was_training)
    return {"loss": total_loss / count, "accuracy": correct / count}
    ### END SOLUTION


# %% tags=["check"]
# Check: evaluate agrees with tinytorch.train.evaluate (uneven batches, dropout off) and restores train mode
tt.manual_seed(0)
model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))
data = [(tt.randn(n, 5), tt.randint(0, 3, (n,))) for n in (10, 10, 7)]
ours = evaluate(model, data, F.cross_entropy)
want = tt.train.evaluate(model, data, F.cross_entropy)
for key in ("loss", "accuracy"):
    assert abs(ours[key] - want[key]) < 1e-6, f"evaluate's {key} should be {want[key]:.6f} (tinytorch's), but is {ours[key]}"
assert model.training and model[2].training, "evaluate should put the model back in training mode"
print(f"ok: loss {ours['loss']:.4f}, accuracy {ours['accuracy']:.3f}, as tinytorch.train.evaluate")

# %% [markdown]
# ### 4. The loop: `fit`
#
# For each epoch: `model.train()`; take the training batches in windows of `accumulate` (the last
# window may be shorter) and make one `train_step` of each; then `evaluate` on the validation
# batches. Gather each window as the loader hands the batches over: a list of the whole epoch
# would hold every batch in memory at once. Keep a history as tinytorch's `fit` does: `history["steps"]` gets one dict per step,
# `{"step": 1, 2, ..., "loss": ...}` (and `"grad_norm"` when clipping), and `history["epochs"]`
# one per epoch, `{"epoch": 1, 2, ..., "step": steps so far, "train_loss": ..., "val_loss": ...,
# "val_accuracy": ...}`. The epoch's `train_loss` is the mean of its batches' losses weighted by
# their sizes.


# %%
def fit(model, optimizer, loss_fn, train_batches, val_batches, epochs, accumulate=1, max_norm=None):
    """Train for `epochs` epochs, `accumulate` batches per step, clipping at max_norm; evaluate after each epoch."""
    history = {"epochs": [], "steps": []}

    ### BEGIN SOLUTION
    def windows(batches):
        """The batches in lists of `accumulate` (the last may be shorter), made as the loader hands them over."""
        window = []
        for batch in batches:
            window.append(batch)
            if len(window) == accumulate:
                yield window
                window = []
        if window:
            yield window

    for epoch in range(1, epochs + 1):
        model.train()
        loss_sum, samples = 0.0, 0
        for window in windows(train_batches):
            loss, norm = train_step(model, optimizer, loss_fn, window, max_norm)
            step = {"step": len(history["steps"]) + 1, "loss": loss}
            if norm is not None:
                step["grad_norm"] = norm
            history["steps"].append(step)
            n = sum(len(y) for _, y in window)
            loss_sum, samples = loss_sum + loss * n, samples + n
        val = evaluate(model, val_batches, loss_fn)
        history["epochs"].append({"epoch": epoch, "step": len(history["steps"]), "train_loss": loss_sum / samples,
                                  "val_loss": val["loss"], "val_accuracy": val["accuracy"]})  # fmt: skip
    ### END SOLUTION
    return history


# %% tags=["check"]
# Check: fit trains exactly as tinytorch.train.fit, with accumulation and clipping, and keeps its history
data = [(tt.randn(8, 5), tt.randint(0, 3, (8,))) for _ in range(5)]
val = [(tt.randn(12, 5), tt.randint(0, 3, (12,)))]
ours, theirs = small_mlp(), small_mlp()
mine = fit(
    ours, tt.optim.SGD(ours.parameters(), lr=0.2, momentum=0.9), F.cross_entropy, data, val, epochs=3, accumulate=2, max_norm=0.5
)
want = tt.train.fit(
    theirs, data, F.cross_entropy, tt.optim.SGD(theirs.parameters(), lr=0.2, momentum=0.9), epochs=3,
    val_loader=val, accumulate_steps=2, clip_grad_norm=0.5, progress=False,
)  # fmt: skip
assert len(mine["steps"]) == len(want.steps) == 9, (
    f"3 epochs of 5 batches, 2 per step, make 9 steps; your history has {len(mine['steps'])}"
)
for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
    assert np.allclose(a.data, b.data, atol=1e-5), f"after fit, {name} should be tinytorch's\n{b.data}\nbut is\n{a.data}"
for got, exp in zip(mine["epochs"], want.epochs):
    for key in ("epoch", "step", "train_loss", "val_loss", "val_accuracy"):
        assert abs(got[key] - exp[key]) < 1e-5, f"epoch {exp['epoch']}: {key} should be {exp[key]}, but is {got[key]}"
for got, exp in zip(mine["steps"], want.steps):
    assert abs(got["grad_norm"] - exp["grad_norm"]) < 1e-4 * exp["grad_norm"], (
        f"step {exp['step']}: grad_norm should be {exp['grad_norm']}, but is {got['grad_norm']}"
    )
print("ok: 3 epochs as tinytorch.train.fit:", [round(e["val_loss"], 4) for e in mine["epochs"]])

# %% [markdown]
# ## Use
#
# The milestone MLP of `examples/fashion_mnist.py` (784-256-128-10) on Fashion-MNIST, with SGD and
# momentum, two batches per step and the gradient clipped at norm 5: first your `fit`, then
# tinytorch's `tinytorch.train.fit`, from the same weights on the same shuffled batches
# (`tinytorch.data.DataLoader` with a seed; lesson 08 builds one). Without the data the lesson uses
# random images, and says so.

# %%
from tinytorch.data import ArrayDataset, DataLoader
from tinytorch.datasets import DatasetError, FashionMNIST

try:
    train_set, test_set = FashionMNIST(train=True), FashionMNIST(train=False)
    train_images, train_labels, test_images, test_labels = train_set.data, train_set.targets, test_set.data, test_set.targets
    source = "Fashion-MNIST"
except DatasetError as e:
    print(f"Fashion-MNIST is not on this machine, so this lesson uses random images instead.\n  ({e})")
    train_images, train_labels = rng.integers(0, 256, (8192, 28, 28), dtype=np.uint8), rng.integers(0, 10, 8192)
    test_images, test_labels = rng.integers(0, 256, (1000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 1000)
    source = "random images (Fashion-MNIST not found)"
if FAST:
    train_images, train_labels = train_images[:2048], train_labels[:2048]
    test_images, test_labels = test_images[:1000], test_labels[:1000]
mean, std = train_images.mean() / 255, train_images.std() / 255


def normalised(images):
    return ((images.astype(np.float32) / 255 - mean) / std).astype(np.float32)[:, None]  # (N, 1, 28, 28)


train_x, test_x = normalised(train_images), normalised(test_images)
epochs = 2 if FAST else 3


def loaders():
    """The same shuffled training batches every time (a fresh seeded generator), and the test batches in order."""
    train = DataLoader(ArrayDataset(train_x, train_labels.astype(np.int64)), batch_size=128, shuffle=True, drop_last=True, seed=0)
    return train, DataLoader(ArrayDataset(test_x, test_labels.astype(np.int64)), batch_size=500)


def mlp():
    tt.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


print(f"{source}: {len(train_x)} training images, {len(test_x)} test images, {epochs} epochs")
runs = {}
for who in ("yours", "tinytorch's"):
    model = mlp()
    optimizer = tt.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train_loader, test_loader = loaders()
    start = time.perf_counter()
    if who == "yours":
        history = fit(model, optimizer, F.cross_entropy, train_loader, test_loader, epochs, accumulate=2, max_norm=5.0)
    else:
        history = tt.train.fit(model, train_loader, F.cross_entropy, optimizer, epochs, val_loader=test_loader,
                               accumulate_steps=2, clip_grad_norm=5.0, progress=False)  # fmt: skip
    runs[who] = dict(history=history, seconds=time.perf_counter() - start)
    for e in history["epochs"]:
        print(
            f"{who:<12} epoch {e['epoch']}: train loss {e['train_loss']:.4f}, test loss {e['val_loss']:.4f}, test accuracy {e['val_accuracy']:.1%}"
        )
    print(f"{who:<12} {runs[who]['seconds']:.1f} s for {history['epochs'][-1]['step']} steps")
gap = max(
    abs(a[k] - b[k])
    for a, b in zip(runs["yours"]["history"]["epochs"], runs["tinytorch's"]["history"]["epochs"])
    for k in ("train_loss", "val_loss")
)
print(f"largest difference between the two histories: {gap:.2e}")
assert gap < 1e-4, "your fit and tinytorch's should train the same run"

# %%
fig = go.Figure()
for who, dash in (("tinytorch's", "solid"), ("yours", "dot")):
    steps = runs[who]["history"]["steps"]
    fig.add_trace(
        go.Scatter(x=[s["step"] for s in steps], y=[s["loss"] for s in steps], name=f"{who} training loss", line=dict(dash=dash))
    )
    fig.add_trace(go.Scatter(x=[s["step"] for s in steps], y=[s["grad_norm"] for s in steps], name=f"{who} gradient norm (before clipping)",
                             yaxis="y2", line=dict(dash=dash, color="#999")))  # fmt: skip
    epochs_ = runs[who]["history"]["epochs"]
    fig.add_trace(go.Scatter(x=[e["step"] for e in epochs_], y=[e["val_loss"] for e in epochs_], name=f"{who} test loss", mode="markers+lines",
                             line=dict(dash=dash, color="#d62728"), marker=dict(size=9)))  # fmt: skip
fig.add_hline(y=5.0, line=dict(color="#999", dash="dash"), yref="y2")
fig.update_layout(
    title=f"{source}: loss, test loss, gradient norm (clip: 5)", xaxis_title="step",
    yaxis=dict(title="loss"), yaxis2=dict(title="gradient norm", overlaying="y", side="right", showgrid=False),
    width=820, height=380, margin=dict(l=10, r=10, t=40, b=10), template="plotly_white", legend=dict(orientation="h", y=-0.25),
)  # fmt: skip
fig.show()

# %% [markdown]
# ## Understand
#
# ### Gradient flow: a healthy run and an exploding one
#
# The recorder (`tinytorch.record`) keeps, at every step, the norm of every parameter's gradient
# and whether it holds NaN or Inf, and checks them against health rules; every `every` steps (20 by
# default) it adds the rest of the statistics (largest element, fraction of zeros, histogram,
# update-to-weight ratio); with `anomaly="warn"` it also names the first op whose output holds NaN or Inf.
# Three runs of the same MLP (2-64-64-2) on two spirals, with your `train_step`, recorded:
#
# - **healthy**: PyTorch's initialisation, a squared-error loss on one-hot targets scaled by 10,
#   SGD with a modest learning rate;
# - **exploding**: the inspector demo's recipe: the same, with the initial weights doubled and a
#   learning rate ten times larger;
# - **clipped**: the exploding recipe, with your clipping at norm 1.

# %%
from inspector import figures
from tinytorch.datasets import spirals
from tinytorch.runs import RunReader

points = spirals(n=1024, noise=0.1, seed=0)
px, py = tt.tensor(points.data), tt.tensor(points.targets)
logdir = tempfile.mkdtemp(prefix="lesson07-")
flow_steps = 60
recipes = {"healthy": (1.0, 0.05, None), "exploding": (2.0, 0.5, None), "clipped": (2.0, 0.5, 1.0)}  # weight scale, lr, max_norm
flow, caught = {}, {}
for name, (scale, lr, max_norm) in recipes.items():
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    with tt.no_grad():
        for p in model.parameters():
            p.mul_(scale)
    optimizer = tt.optim.SGD(model.parameters(), lr=lr)
    draw = np.random.default_rng(0)  # the same batches for every run
    loss_fn = lambda out, y: F.mse_loss(out, F.one_hot(y, 2).float() * 10)
    with warnings.catch_warnings(record=True) as seen, np.errstate(all="ignore"):  # overflow is the point here
        warnings.simplefilter("always")
        with tt.record(f"{logdir}/{name}", model=model, optimizer=optimizer, trace_steps=(), anomaly="warn") as run:
            for _ in range(flow_steps):
                idx = draw.integers(0, len(py), 64)
                loss, norm = train_step(model, optimizer, loss_fn, [(px[idx], py[idx])], max_norm)
                if norm is not None:
                    run.log("grad_norm_before_clipping", norm)
                run.step(loss)
    caught[name] = [str(w.message) for w in seen if "first non-finite" in str(w.message)]
    flow[name] = RunReader(run.path)
    losses = flow[name].steps()["loss"]
    print(f"{name:<10} loss {losses[0]:.4g} -> {losses[-1]:.4g}; alerts: {len(flow[name].alerts())}")

figures.runs.curves(
    [s for name in flow for s in figures.runs.loss_series(name, flow[name].steps(), {})],
    "Loss per step (gaps: NaN)",
    "loss",
    log_y=True,
).update_layout(width=760, height=340).show()

# %% [markdown]
# The inspector's Gradients page draws each parameter's gradient norm at every step as a heatmap
# (log10, parameters top to bottom in model order). A red x marks a gradient holding NaN or Inf, a
# grey circle one that is exactly zero (no unit of the layer passed anything back). One colour
# scale for both runs, so the colours compare.

# %%
norm_maps = {name: flow[name].grad_stats("norm") for name in ("healthy", "exploding")}
finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for _, _, v in norm_maps.values()])
zmin, zmax = np.log10(finite.min()), np.log10(finite.max())
for name, (steps_, names, values) in norm_maps.items():
    nonfinite = flow[name].grad_stats("nonfinite")[2] > 0
    fig = figures.gradients.heatmap(steps_, names, values, f"{name}: gradient norm per parameter and step", nonfinite=nonfinite)
    fig.update_traces(zmin=zmin, zmax=zmax, selector=dict(type="heatmap"))
    fig.update_layout(width=760, height=320).show()

# %% [markdown]
# The alerts, as the Gradients page lists them: each with the rule that fired, where and at which
# step. A rule fires once when its condition starts to hold for a parameter.

# %%
rows = figures.gradients.alert_rows(flow["exploding"].alerts())
print(f"exploding run: {len(rows)} alerts")
print(f"{'step':>4}  {'kind':<10} {'where':<26} rule")
for r in rows[:14]:
    print(f"{r['step']:>4}  {r['kind']:<10} {r['where']:<26} {r['rule']}")
first = figures.gradients.first_by_kind(flow["exploding"].alerts())
print("\nthe first alert of each kind:")
for kind, r in first.items():
    print(f"  {kind:<10} step {r['step']}: {r['message'][:150]}")
print("\nthe anomaly warning:", caught["exploding"][0][:200] if caught["exploding"] else "none")
alert_counts = {name: len(flow[name].alerts()) for name in flow}
print("alerts per run:", alert_counts)

clip_steps, clip_norms = flow["clipped"].scalars("grad_norm_before_clipping")
max_grad = {name: float(np.nanmax(np.where(np.isfinite(v), v, np.nan))) for name, (_, _, v) in norm_maps.items()}
print(
    f"clipped run: gradient norm before clipping from {clip_norms.min():.3g} to {clip_norms.max():.3g}, after clipping at most 1"
)

# %% [markdown]
# ### What gradient accumulation trades
#
# One step on a big batch of Fashion-MNIST images (1024; with `FAST`, 512), or 8 micro-batches of
# an eighth of it accumulated by your `train_step`: the same gradient (the MLP has no layer that
# depends on the batch), so the same step. The recorder traces each step's every buffer; the
# inspector's Memory page draws the live bytes by category along the step. The micro-batches are
# made one at a time (`Lazy` below), so only one lives at a time, as a data loader would hand
# them over.


# %%
class Lazy:
    """k micro-batches of the first `size` training images, each made only when the loop reaches it."""

    def __init__(self, size, k):
        self.size, self.k = size, k

    def __len__(self):
        return self.k

    def __iter__(self):
        m = self.size // self.k
        for i in range(self.k):
            yield tt.tensor(train_x[i * m : (i + 1) * m]), tt.tensor(train_labels[i * m : (i + 1) * m].astype(np.int64))


def traced_step(name, model, micro_batches):
    """One train_step (SGD) recorded with every buffer traced; returns the run's reader."""
    optimizer = tt.optim.SGD(model.parameters(), lr=0.1)
    with tt.record(f"{logdir}/{name}", model=model, optimizer=optimizer, trace_steps=(0,)) as run:
        loss, _ = train_step(model, optimizer, F.cross_entropy, micro_batches)
        run.step(loss)
    return RunReader(run.path)


def memory_of(reader):
    """The step's peak of live bytes (and its make-up), and the activations' own peak, from the buffer events."""
    events = reader.memory_events(0)
    at_peak = figures.memory.peak(events, top=0)
    activation = int(figures.memory.replay(events)["totals"][:, figures.CATEGORIES.index("activation")].max())
    return dict(peak=at_peak["peak_bytes"], phase=at_peak["phase"], by_category=at_peak["by_category"], activation=activation)


effective = 512 if FAST else 1024  # images per step
variants = {f"batch {effective}": 1, f"8 x {effective // 8} accumulated": 8}
accumulation, params_after, readers = {}, {}, {}
for name, k in variants.items():
    model = mlp()
    readers[name] = traced_step(name.replace(" ", "_"), model, Lazy(effective, k))
    accumulation[name] = memory_of(readers[name])
    params_after[name] = [p.data.copy() for p in model.parameters()]
top = 1.05 * max(m["peak"] for m in accumulation.values())  # one scale for both pictures
for name, reader in readers.items():
    fig = figures.memory.timeline(reader.memory_events(0), title=f"{name}: live bytes by category in one step")
    fig.update_layout(width=760, height=300).update_yaxes(range=[0, top]).show()
same_step = max(float(np.abs(a - b).max()) for a, b in zip(*params_after.values()))
for name, m in accumulation.items():
    parts = ", ".join(f"{c} {b / 2**20:.2f}" for c, b in m["by_category"].items())
    print(
        f"{name:<22} peak {m['peak'] / 2**20:.2f} MiB in {m['phase']} ({parts}); activation peak {m['activation'] / 2**20:.2f} MiB"
    )
print(f"largest difference between the two models' parameters after the step: {same_step:.1e}")
timing_model = mlp()
frozen = tt.optim.SGD(timing_model.parameters(), lr=0.0)  # timing only: the same work, the weights left as they are
acc_timing = tt.perf.compare(
    {name: (lambda k=k: train_step(timing_model, frozen, F.cross_entropy, Lazy(effective, k))) for name, k in variants.items()},
    baseline=f"batch {effective}", rounds=3 if FAST else 7, warmup=1,
)  # fmt: skip
print(acc_timing.text())

# %% [markdown]
# ### What checkpointing trades
#
# `tinytorch.utils.checkpoint(segment, x)` runs a segment of the model without keeping its
# activations (only its input `x`), and runs it again during backward to get them back. A deep MLP
# (16 layers of width 128 in 4 segments of 4) on the same big batch, plain and with a
# checkpoint around every segment: the same gradients; the recorder measures the memory, the
# profiler counts the FLOPs (the segments' forward runs twice), `tinytorch.perf.compare` times a
# step of each in alternating rounds.

# %%
from tinytorch.utils import checkpoint


class DeepMLP(nn.Module):
    """784 -> 128, then 16 layers of 128 (Linear + ReLU) in 4 segments of 4, then 10 scores. checkpointed=True
    wraps each segment in a checkpoint. The same weights either way (seeded)."""

    def __init__(self, checkpointed=False):
        super().__init__()
        tt.manual_seed(0)
        self.stem = nn.Sequential(nn.Flatten(), nn.Linear(784, 128))
        self.segments = nn.ModuleList(
            [nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(128, 128), nn.ReLU())]) for _ in range(4)]
        )
        self.head = nn.Linear(128, 10)
        self.checkpointed = checkpointed

    def forward(self, x):
        h = self.stem(x)  # (N, 128)
        for segment in self.segments:
            h = checkpoint(segment, h) if self.checkpointed else segment(h)  # (N, 128); checkpointed: only h is kept
        return self.head(h)  # (N, 10)


big_x = tt.tensor(train_x[:effective])  # (B, 1, 28, 28)
big_y = tt.tensor(train_labels[:effective].astype(np.int64))
deep = {name: DeepMLP(checkpointed=name == "checkpointed") for name in ("plain", "checkpointed")}
grads = {}
for name, model in deep.items():
    F.cross_entropy(model(big_x), big_y).backward()
    grads[name] = [p.grad.data.copy() for p in model.parameters()]
grad_gap = max(float(np.abs(a - b).max() / (np.abs(a).max() or 1)) for a, b in zip(grads["plain"], grads["checkpointed"]))
print(f"largest relative difference between the gradients with and without checkpoints: {grad_gap:.1e}")

checkpointing, readers = {}, {}
for name in deep:
    readers[name] = traced_step(f"deep-{name}", DeepMLP(checkpointed=name == "checkpointed"), [(big_x, big_y)])
    checkpointing[name] = memory_of(readers[name])
    with tt.perf.profile() as prof:
        F.cross_entropy(deep[name](big_x), big_y).backward()
    checkpointing[name]["flops"] = sum(e.flops for e in prof.events)
top = 1.05 * max(m["peak"] for m in checkpointing.values())
for name, reader in readers.items():
    fig = figures.memory.timeline(reader.memory_events(0), title=f"deep MLP, {name}: live bytes by category in one step")
    fig.update_layout(width=760, height=300).update_yaxes(range=[0, top]).show()
ck_timing = tt.perf.compare(
    {name: (lambda model=model: F.cross_entropy(model(big_x), big_y).backward()) for name, model in deep.items()},
    baseline="plain", rounds=3 if FAST else 7, warmup=1,
)  # fmt: skip
for name, m in checkpointing.items():
    print(
        f"{name:<13} activation peak {m['activation'] / 2**20:.2f} MiB, peak of all live bytes {m['peak'] / 2**20:.2f} MiB, "
        f"forward + backward {m['flops'] / 1e9:.3f} GFLOP"
    )
print(ck_timing.text())

# %% [markdown]
# ## Reflect

# %%
first_alert = figures.gradients.alert_rows(flow["exploding"].alerts())[0]
nonfinite_step = first.get("nonfinite", {}).get("step")
anomaly = first.get("anomaly", {})
print(
    f"1. exploding: first alert at step {first_alert['step']} ({first_alert['kind']}, rule '{first_alert['rule']}', {first_alert['where']}); "
    f"first NaN/Inf gradient at step {nonfinite_step}; first non-finite op: {anomaly.get('where', 'none')} at step {anomaly.get('step')}"
)
print(
    f"   largest gradient norm: healthy {max_grad['healthy']:.3g}, exploding {max_grad['exploding']:.3g}; "
    f"alerts: healthy {alert_counts['healthy']}, exploding {alert_counts['exploding']}, clipped {alert_counts['clipped']}; "
    f"clipped run: last loss {flow['clipped'].steps()['loss'][-1]:.4g}, norm before clipping up to {clip_norms.max():.3g}"
)
big, acc = accumulation[f"batch {effective}"], accumulation[f"8 x {effective // 8} accumulated"]
acc_ratio = acc_timing[f"8 x {effective // 8} accumulated"].ratio.median
print(
    f"2. accumulation: peak {acc['peak'] / big['peak']:.2f}x, activation peak {acc['activation'] / big['activation']:.2f}x the big batch's; "
    f"parameters after the step differ by {same_step:.1e}; throughput {acc_ratio:.2f}x"
)
plain, ck = checkpointing["plain"], checkpointing["checkpointed"]
print(
    f"3. checkpointing: activation peak {ck['activation'] / plain['activation']:.2f}x, peak of all live bytes {ck['peak'] / plain['peak']:.2f}x; "
    f"FLOPs +{ck['flops'] / plain['flops'] - 1:.0%}; step time {1 / ck_timing['checkpointed'].ratio.median:.2f}x; gradients differ by {grad_gap:.1e}"
)

# %% [markdown]
# **1. How does a run explode, and how do you see it coming?** Line 1 above. Doubling every weight
# of a ReLU network multiplies its output, and its gradients, by a power of two per layer; with a
# learning rate ten times too large, each step then overshoots so far that the next gradient is
# larger still: a feedback loop that grows geometrically. The recorder's statistics see it steps
# before anything breaks: the gradient-norm bound fires at the first alert, several steps before
# the first NaN, and the anomaly check then names the op that first produced an Inf (a backward
# matrix product, where huge numbers are summed). Reading the heatmap top to bottom shows which
# layers grow first. Clipping caps the step, not the gradient's growth at its source: the clipped
# run stays finite (its norm before clipping stays large, and a learning rate this large still
# trains badly), which is why clipping is a seat belt and the cure is a sane initialisation and
# learning rate. The health rules are heuristics: a growth rule can also fire on a healthy run
# when a small gradient dips near zero and comes back, so read the rule with the alert.
#
# **2. What does gradient accumulation trade?** Line 2: the same step (the parameters agree to
# float rounding) for a fraction of the peak memory, because only one micro-batch's input and
# activations are alive at a time; the parameters and gradients are the same in both, and while
# accumulating a just-computed gradient briefly sits beside `.grad` (the temporary band in the
# timeline), so the saving is largest when activations dominate. What it can cost is time: eight
# smaller matrix products may use the processor less well than one large one, and the per-op
# overhead is paid eight times; the throughput in line 2 says how much that is here, and it is
# worth measuring rather than assuming. Layers that look across the batch (batch norm) would also
# see eight small batches instead of one, so for them the step is no longer the same.
#
# **3. What does checkpointing trade?** Line 3: the activations kept between forward and backward
# shrink to the segments' inputs plus one segment recomputed at a time (with `n` layers in
# segments of `sqrt(n)`, about `2 sqrt(n)` layers' worth instead of `n`), for one more forward
# pass of the checkpointed segments: their forward FLOPs a second time, a fraction of the step's
# since backward costs about twice the forward, and paid in time too. Whether the peak of
# all memory falls as much depends on what else is alive at the peak (parameters, gradients,
# optimizer state): checkpointing pays off when activations dominate, which is the case for large
# batches, long sequences and deep models, and it leaves the gradients unchanged.
