# %% [markdown]
# # Lesson 06 · Optimizers
#
# Backward fills every parameter's `.grad`; the **optimizer** turns those gradients into a step.
# Plain SGD steps against the gradient. **Momentum** keeps a running sum of past gradients, so the
# step builds speed along directions that agree from batch to batch. **Adam** keeps two running
# averages per parameter element, of the gradient and of its square, and divides one by the root
# of the other: every element gets a step of about the learning rate, whatever its gradient's scale.
# Those running averages are **state**, and state is memory: as much again as the parameters, for
# every buffer the optimizer keeps.
#
# - **Build**: the update rules of SGD with momentum and of Adam (with bias correction), on NumPy
#   arrays in place, then the two optimizers that allocate their state at the first step, as
#   PyTorch does; each checked against `tinytorch.optim`.
# - **Use**: your optimizers, then tinytorch's, train the milestone MLP (784-256-128-10) on
#   Fashion-MNIST from the same weights on the same batches.
# - **Understand**: memory by category of an SGD, a momentum and an Adam run as the inspector
#   records them, checked against NumPy's own allocation count; how far each optimizer moves each
#   parameter; what Adam's update costs in time.
# - **Reflect**: why Adam needs three times the parameters' memory, and what it buys.
#
# Prerequisites: lessons 03 to 05 (layers, losses, autograd). Fill in every
# `raise NotImplementedError()`, run the cell and the check under it; `tinytorch check 6` runs
# every check and more tests on your notebook.

# %%
import os
import tempfile
import time
import tracemalloc

import numpy as np
import plotly.graph_objects as go

import tinytorch as tt
from tinytorch import nn

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: a slice of the data and few steps, so the notebook runs in seconds
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### 1. SGD with momentum, as an update rule
#
# An update rule changes the parameter's array **in place** (the model holds that very array, so
# a new one would not reach it). Plain SGD is `p -= lr * g`. With momentum, a buffer the size of
# the parameter keeps a running sum of gradients, and the step follows the buffer:
#
# `buf = momentum * buf + g`, then `p -= lr * buf`
#
# (PyTorch's form; the buffer starts at zeros, so the first step is plain SGD). Update `buf` in
# place too: it is the optimizer's memory from one step to the next. With `momentum=0`, `buf` is
# `None` and there is no state at all.


# %%
def sgd_update(p, g, buf, lr, momentum=0.0):
    """One SGD step on the array p, in place: buf = momentum * buf + g; p -= lr * buf (p -= lr * g without momentum)."""
    ### BEGIN SOLUTION
    if momentum:
        buf *= momentum
        buf += g
        g = buf
    p -= lr * g
    ### END SOLUTION


# %% tags=["check"]
# Check: sgd_update changes p (and buf) in place and follows tinytorch's SGD step by step
for momentum in (0.0, 0.9):
    start = rng.standard_normal((3, 4)).astype(np.float32)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(4)]
    p, buf = start.copy(), np.zeros_like(start) if momentum else None
    theirs = tt.tensor(start.copy(), requires_grad=True)
    opt = tt.optim.SGD([theirs], lr=0.1, momentum=momentum)
    for k, g in enumerate(grads, 1):
        before = p
        result = sgd_update(p, g, buf, lr=0.1, momentum=momentum)
        assert result is None and before is p, "sgd_update should change p in place and return None"
        theirs.grad = tt.tensor(g)
        opt.step()
        assert np.allclose(p, theirs.data, atol=1e-6), (
            f"momentum={momentum}, after step {k}: p should be tinytorch's\n{theirs.data}\nbut is\n{p}"
        )
    if momentum:
        want = opt.state[theirs]["momentum_buffer"].data
        assert np.allclose(buf, want, atol=1e-6), f"the momentum buffer should be tinytorch's\n{want}\nbut is\n{buf}"
print("ok: plain SGD and SGD with momentum 0.9 follow tinytorch's SGD for 4 steps")

# %% [markdown]
# ### 2. Adam, as an update rule
#
# Adam keeps two buffers per parameter: `m`, a running mean of the gradient (momentum), and `v`, a
# running mean of its square (how large the gradient usually is, element by element). At step `t`
# (counting from 1):
#
# - `m = b1 * m + (1 - b1) * g` and `v = b2 * v + (1 - b2) * g * g`, in place;
# - **bias correction**: both start at zero, so early on they are too small by a factor
#   `1 - b^t`; divide it out: `m_hat = m / (1 - b1**t)`, `v_hat = v / (1 - b2**t)`;
# - `p -= lr * m_hat / (sqrt(v_hat) + eps)`.
#
# The ratio `m_hat / sqrt(v_hat)` is about 1 in size when the gradient keeps its sign: each
# element moves by about `lr`, however large or small its gradient. At `t = 1` it is exactly
# `g / |g|`.


# %%
def adam_update(p, g, m, v, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """One Adam step on p in place (m and v too); step counts from 1 and drives the bias correction."""
    ### BEGIN SOLUTION
    b1, b2 = betas
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * g * g
    m_hat = m / (1 - b1**step)
    v_hat = v / (1 - b2**step)
    p -= lr * m_hat / (np.sqrt(v_hat) + eps)
    ### END SOLUTION


# %% tags=["check"]
# Check: adam_update's first step moves every element by lr, and it follows tinytorch's Adam with its m and v
start = rng.standard_normal((3, 4)).astype(np.float32)
grads = [  # signs at random, sizes from 1e-3 to 1e2
    (rng.choice([-1, 1], (3, 4)) * rng.uniform(0.5, 1.5, (3, 4)) * 10.0 ** rng.integers(-3, 3, (3, 4))).astype(np.float32)
    for _ in range(5)
]
p, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
adam_update(p, grads[0], m, v, step=1, lr=0.01)
moved = np.abs(p - start)
assert np.allclose(moved, 0.01, rtol=1e-3), (
    f"with bias correction the first step moves each element by lr = 0.01, whatever |g|; it moved {moved.min():.3g} to {moved.max():.3g}"
)
theirs = tt.tensor(start.copy(), requires_grad=True)
opt = tt.optim.Adam([theirs], lr=0.01)
p, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)
for t, g in enumerate(grads, 1):
    before = p
    adam_update(p, g, m, v, step=t, lr=0.01)
    assert before is p, "adam_update should change p in place"
    theirs.grad = tt.tensor(g)
    opt.step()
    assert np.allclose(p, theirs.data, rtol=1e-5, atol=1e-6), (
        f"after step {t}: p should be tinytorch's\n{theirs.data}\nbut is\n{p}"
    )
state = opt.state[theirs]
assert np.allclose(m, state["exp_avg"].data, rtol=1e-5, atol=1e-8), (
    f"m should be tinytorch's exp_avg\n{state['exp_avg'].data}\nbut is\n{m}"
)
assert np.allclose(v, state["exp_avg_sq"].data, rtol=1e-5, atol=1e-12), (
    f"v should be tinytorch's exp_avg_sq\n{state['exp_avg_sq'].data}\nbut is\n{v}"
)
print("ok: Adam's first step moved every element by lr; 5 steps follow tinytorch's Adam (gradients from 1e-3 to 1e2)")

# %% [markdown]
# ### 3. The optimizers and their state
#
# An optimizer holds the parameters (tensors that require grad) and, for each, a dictionary of
# state: `self.state[p]`. Like PyTorch, it makes that state at the parameter's **first step**, not
# in `__init__` (so building an optimizer costs nothing until training starts). Write `step()` for
# both: for every parameter with a gradient, make its state if it has none (`np.zeros_like` of the
# parameter's data: one `"momentum_buffer"` for SGD with momentum and nothing for plain SGD; for
# Adam `"step"` (0), `"exp_avg"` and `"exp_avg_sq"`), then call your update rule on `p.data` and
# `p.grad.data`. `zero_grad` and `state_nbytes` (the bytes of every state array) are given.


# %%
class MySGD:
    """torch.optim.SGD's update with momentum, on your sgd_update."""

    def __init__(self, params, lr, momentum=0.0):
        self.params, self.lr, self.momentum = list(params), lr, momentum
        self.state = {}  # parameter -> {"momentum_buffer": array}, made at the parameter's first step

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        ### BEGIN SOLUTION
        for p in self.params:
            if p.grad is None:
                continue
            buf = None
            if self.momentum:
                if p not in self.state:
                    self.state[p] = {"momentum_buffer": np.zeros_like(p.data)}
                buf = self.state[p]["momentum_buffer"]
            sgd_update(p.data, p.grad.data, buf, self.lr, self.momentum)
        ### END SOLUTION

    def state_nbytes(self):
        return sum(a.nbytes for s in self.state.values() for a in s.values() if isinstance(a, np.ndarray))


class MyAdam(MySGD):
    """torch.optim.Adam's update, on your adam_update."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps = list(params), lr, betas, eps
        self.state = {}  # parameter -> {"step": int, "exp_avg": array, "exp_avg_sq": array}

    def step(self):
        ### BEGIN SOLUTION
        for p in self.params:
            if p.grad is None:
                continue
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {"step": 0, "exp_avg": np.zeros_like(p.data), "exp_avg_sq": np.zeros_like(p.data)}
            state["step"] += 1
            adam_update(p.data, p.grad.data, state["exp_avg"], state["exp_avg_sq"], state["step"], self.lr, self.betas, self.eps)
        ### END SOLUTION


# %% tags=["check"]
# Check: MySGD and MyAdam train an MLP exactly as tinytorch's optimizers do, with state made at the first step
def tiny_mlp():
    tt.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


x, y = tt.randn(32, 6), tt.randint(0, 3, (32,))
for name, mine, theirs in [
    ("SGD", lambda ps: MySGD(ps, lr=0.1), lambda ps: tt.optim.SGD(ps, lr=0.1)),
    ("SGD(momentum=0.9)", lambda ps: MySGD(ps, lr=0.1, momentum=0.9), lambda ps: tt.optim.SGD(ps, lr=0.1, momentum=0.9)),
    ("Adam", lambda ps: MyAdam(ps, lr=0.01), lambda ps: tt.optim.Adam(ps, lr=0.01)),
]:
    models = tiny_mlp(), tiny_mlp()
    opts = mine(list(models[0].parameters())), theirs(list(models[1].parameters()))
    assert opts[0].state_nbytes() == 0, f"{name}: no state should exist before the first step, found {opts[0].state_nbytes()} B"
    for _ in range(5):
        for model, opt in zip(models, opts):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for (pname, a), b in zip(models[0].named_parameters(), models[1].parameters()):
        assert np.allclose(a.data, b.data, rtol=1e-5, atol=1e-6), (
            f"{name}: after 5 steps {pname} should be tinytorch's\n{b.data}\nbut is\n{a.data}"
        )
    got, want = opts[0].state_nbytes(), opts[1].state_nbytes()
    assert got == want, f"{name}: the state should take {want:,} B (as tinytorch's), but takes {got:,} B"
    print(f"ok: {name} matches tinytorch after 5 steps; state {got:,} B")

# %% [markdown]
# ## Use
#
# The milestone MLP of `examples/fashion_mnist.py` (784-256-128-10, ReLU) on Fashion-MNIST: 28×28
# grey images of clothes in ten classes. tinytorch looks for the data under `$TINYTORCH_DATA`, then
# `~/.cache/tinytorch/datasets`, then Debian's `dataset-fashion-mnist` package; without it the
# lesson trains on random images (it says so), and every cell still runs.

# %%
from tinytorch.datasets import DatasetError, FashionMNIST

try:
    train_set, test_set = FashionMNIST(train=True), FashionMNIST(train=False)
    train_images, train_labels = train_set.data, train_set.targets
    test_images, test_labels = test_set.data, test_set.targets
    source = "Fashion-MNIST"
except DatasetError as e:
    print(f"Fashion-MNIST is not on this machine, so this lesson uses random images instead.\n  ({e})")
    train_images, train_labels = rng.integers(0, 256, (6000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 6000)
    test_images, test_labels = rng.integers(0, 256, (1000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 1000)
    source = "random images (Fashion-MNIST not found)"
if FAST:
    train_images, train_labels = train_images[:2560], train_labels[:2560]  # 20 batches of 128
    test_images, test_labels = test_images[:1000], test_labels[:1000]
mean, std = train_images.mean() / 255, train_images.std() / 255
batch_size = 128
steps = len(train_images) // batch_size  # one epoch of full batches (FAST: of the slice)
order = rng.permutation(len(train_images))  # every run sees the same batches in the same order


def batch(i):
    """Batch i of the fixed order: images normalised with the training set's mean and std, (B, 1, 28, 28), and labels."""
    rows = order[i * batch_size : (i + 1) * batch_size]
    x = (train_images[rows].astype(np.float32) / 255 - mean) / std
    return tt.tensor(x[:, None].astype(np.float32)), tt.tensor(train_labels[rows].astype(np.int64))


x_test = tt.tensor((((test_images.astype(np.float32) / 255 - mean) / std)[:, None]).astype(np.float32))
print(f"{source}: {len(train_images)} training images, {len(test_images)} test images; {steps} steps of batch {batch_size}")

# %% [markdown]
# Each optimizer trains the same model from the same starting weights on the same batches: yours
# first, then tinytorch's. SGD with momentum gets the milestone's learning rate (0.05), Adam the
# usual 1e-3. Your momentum does exactly tinytorch's arithmetic, so its curve is the same to the
# last bit. Your Adam computes the same formula in another order, so the two round differently in
# the last bit; Adam gives an element whose gradient is nearly zero a full step of about `lr`
# anyway (it divides by the gradient's own size), so once a ReLU flips on one side and not on the
# other, the two curves drift apart slowly. Both are right: compare them early, and loosely later.


# %%
def mlp():
    tt.manual_seed(0)  # the same initial weights for every run
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def train(make_optimizer):
    """steps of training; returns the losses, the test accuracy and the milliseconds per step."""
    model = mlp()
    optimizer = make_optimizer(list(model.parameters()))
    losses, start = [], time.perf_counter()
    for i in range(steps):
        x, y = batch(i)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    ms = 1e3 * (time.perf_counter() - start) / steps
    with tt.no_grad():
        accuracy = float((model(x_test).argmax(dim=1).numpy() == test_labels).mean())
    return dict(losses=losses, accuracy=accuracy, ms=ms)


results = {
    "your SGD(momentum=0.9)": train(lambda ps: MySGD(ps, lr=0.05, momentum=0.9)),
    "tinytorch SGD(momentum=0.9)": train(lambda ps: tt.optim.SGD(ps, lr=0.05, momentum=0.9)),
    "your Adam": train(lambda ps: MyAdam(ps, lr=1e-3)),
    "tinytorch Adam": train(lambda ps: tt.optim.Adam(ps, lr=1e-3)),
}
for name, r in results.items():
    print(
        f"{name:<28} loss {r['losses'][0]:.3f} -> {np.mean(r['losses'][-10:]):.3f} (last 10), test accuracy {r['accuracy']:.1%}, {r['ms']:.1f} ms/step"
    )
for kind in ("SGD(momentum=0.9)", "Adam"):
    gaps = np.abs(np.subtract(results[f"your {kind}"]["losses"], results[f"tinytorch {kind}"]["losses"]))
    print(
        f"{kind}: your loss curve and tinytorch's differ by at most {gaps[:10].max():.1e} in the first 10 steps, {gaps.max():.1e} in all"
    )
    assert gaps[:10].max() < 1e-4 and gaps.max() < 0.05, f"your {kind} and tinytorch's should train the same curve"

# %%
fig = go.Figure()
colors = {"SGD(momentum=0.9)": "#1f77b4", "Adam": "#d62728"}
for name, r in results.items():
    kind = name.split(" ", 1)[1]
    mine = name.startswith("your")
    fig.add_trace(
        go.Scatter(
            y=r["losses"], name=name, line=dict(color=colors[kind], dash="dot" if mine else "solid", width=3 if mine else 1.5)
        )
    )
fig.update_layout(
    title=f"{source}: loss per step, same weights and batches", xaxis_title="step", yaxis_title="cross-entropy",
    width=760, height=360, margin=dict(l=10, r=10, t=40, b=10), template="plotly_white",
)  # fmt: skip
fig.show()

# %% [markdown]
# ## Understand
#
# ### Memory by category, as the inspector records it
#
# `tinytorch.record` follows every buffer of a traced step and files it, when it is made, under a
# category: **parameter**, **gradient**, **optimizer_state**, **activation** (saved for backward),
# temporary, input. Three runs of the same model, each with its first step traced: plain SGD, SGD
# with momentum, Adam. The inspector's Compare page draws their memory at the end of that step as
# stacked bars, with the prediction drawn over each bar as lines: parameters P, + gradients P,
# + the optimizer's state (0, P, 2P). Here is the same figure, from the same code.

# %%
from inspector import figures
from tinytorch.runs import RunReader

logdir = tempfile.mkdtemp(prefix="lesson06-")
record_steps = 5 if FAST else 40
optimizers = {
    "sgd": lambda ps: tt.optim.SGD(ps, lr=0.05),
    "sgd-momentum": lambda ps: tt.optim.SGD(ps, lr=0.05, momentum=0.9),
    "adam": lambda ps: tt.optim.Adam(ps, lr=1e-3),
}
runs, trained = {}, {}
for name, make in optimizers.items():
    model = mlp()
    optimizer = make(list(model.parameters()))
    trained[name] = model, optimizer
    with tt.record(f"{logdir}/{name}", model=model, optimizer=optimizer, every=1, trace_steps=(0,)) as run:
        for i in range(record_steps):
            x, y = batch(i)
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.step(loss)
    runs[name] = RunReader(run.path)


def compared(name):
    """What the Compare page reads from a run: its optimizer, and its memory by category at the end of the traced step."""
    reader = runs[name]
    by_category = reader.memory_totals()[0]["by_category"]
    return dict(name=name, optimizer=reader.meta["optimizer"], param_bytes=by_category["parameter"], by_category=by_category)


bars = [compared(name) for name in runs]
figures.compare.memory_bars(bars).update_layout(width=760, height=460).show()
for r in bars:
    print(figures.compare.ratio_statement(r["name"], r["optimizer"], r["param_bytes"], r["by_category"]))
param_bytes = bars[0]["param_bytes"]
state_ratio = {r["name"]: r["by_category"].get("optimizer_state", 0) / r["param_bytes"] for r in bars}
grad_ratio = {r["name"]: r["by_category"].get("gradient", 0) / r["param_bytes"] for r in bars}

# %% [markdown]
# Where in the step does the state appear? The timeline of Adam's traced step (the inspector's
# Memory page): activations pile up in forward and go in backward, gradients arrive, and the two
# moment buffers are made during the optimizer's update, at the very first step, which is why
# the first step is the one to trace.

# %%
figures.memory.timeline(runs["adam"].memory_events(0), title="Adam's first step: live bytes by category").update_layout(
    width=760, height=380
).show()
adam_peak = figures.memory.peak(runs["adam"].memory_events(0), top=0)
print(
    f"peak of the step: {adam_peak['peak_bytes']:,} B during {adam_peak['phase']}, by category "
    + ", ".join(f"{c} {b:,} B" for c, b in adam_peak["by_category"].items())
)

# %% [markdown]
# ### The truth check: NumPy's own count
#
# The recorder's categories are bookkeeping; `tracemalloc` counts what NumPy really allocated. The
# bytes a fresh optimizer's first `step()` leaves allocated are its state (the update itself works
# in place), for tinytorch's optimizers and for yours.


# %%
def first_step_bytes(make_optimizer):
    """Bytes still allocated after the first optimizer.step() of a fresh MLP (its gradients already computed)."""
    model = mlp()
    optimizer = make_optimizer(list(model.parameters()))
    x, y = batch(0)
    nn.functional.cross_entropy(model(x), y).backward()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    optimizer.step()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before


allocated = {
    "tinytorch SGD": first_step_bytes(lambda ps: tt.optim.SGD(ps, lr=0.05)),
    "tinytorch SGD(momentum=0.9)": first_step_bytes(lambda ps: tt.optim.SGD(ps, lr=0.05, momentum=0.9)),
    "tinytorch Adam": first_step_bytes(lambda ps: tt.optim.Adam(ps, lr=1e-3)),
    "your SGD(momentum=0.9)": first_step_bytes(lambda ps: MySGD(ps, lr=0.05, momentum=0.9)),
    "your Adam": first_step_bytes(lambda ps: MyAdam(ps, lr=1e-3)),
}
print(f"parameters P = {param_bytes:,} B")
for name, nbytes in allocated.items():
    print(f"{name:<28} first step() left {nbytes:>10,} B allocated = {nbytes / param_bytes:.3f} P")

# %% [markdown]
# ### What the state buys: the step each element takes
#
# SGD's step is the gradient times one learning rate: elements (and whole layers) whose gradients
# are small barely move, those with large gradients move a lot. Adam divides each element's step
# by that element's typical gradient size, `sqrt(v)`, so every element moves by about `lr`. Take
# one more step with each trained model and look at how far every parameter element moved
# (log scale; the dashed line is Adam's `lr`).

# %%
moved = {}
for name in ("sgd-momentum", "adam"):
    model, optimizer = trained[name]
    before = [p.data.copy() for p in model.parameters()]
    x, y = batch(record_steps)
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    moved[name] = {n: np.abs(p.data - b).ravel() for (n, p), b in zip(model.named_parameters(), before)}  # |step| per element
fig = go.Figure()
for name, color in (("sgd-momentum", "#1f77b4"), ("adam", "#d62728")):
    steps_all = np.concatenate(list(moved[name].values()))
    fig.add_trace(go.Histogram(x=np.log10(steps_all[steps_all > 0]), name=name, marker_color=color, opacity=0.6, nbinsx=80))
fig.add_vline(x=np.log10(1e-3), line=dict(dash="dash", color="#d62728"))
fig.update_layout(
    barmode="overlay", title="How far one step moves each parameter element", xaxis_title="log10 |step|", yaxis_title="elements",
    width=760, height=340, margin=dict(l=10, r=10, t=40, b=10), template="plotly_white",
)  # fmt: skip
fig.show()
layer_step = {name: {n: float(np.median(d)) for n, d in m.items()} for name, m in moved.items()}  # median |step| per parameter
spread = {name: max(v.values()) / min(v.values()) for name, v in layer_step.items()}
print(f"{'parameter':<10}" + "".join(f"{name + ' median |step|':>28}" for name in layer_step))
for n in layer_step["adam"]:
    print(f"{n:<10}" + "".join(f"{layer_step[name][n]:>28.2e}" for name in layer_step))
for name, s in spread.items():
    print(f"{name}: the parameter that moves most moves {s:.1f}x as far as the one that moves least (median |step|)")

# %% [markdown]
# The recorder keeps the same story over the whole run: at every step, each parameter's
# **update-to-weight ratio** `|step| / |p|`, drawn by the inspector's Gradients page as a
# parameters × steps heatmap (log10, one colour scale for both runs).

# %%
ratio_maps = {name: runs[name].grad_stats("update_ratio") for name in ("sgd-momentum", "adam")}  # (steps, names, values)
every = np.concatenate([values.ravel() for _, _, values in ratio_maps.values()])
zmin, zmax = np.log10(np.nanmin(every[every > 0])), np.log10(np.nanmax(every))  # one colour scale for both
for name, (steps_, names, values) in ratio_maps.items():
    label = figures.compare.optimizer_name(runs[name].meta["optimizer"])
    fig = figures.gradients.heatmap(steps_, names, values, f"{label}: update / weight per step", z_title="log10 update/weight")
    fig.update_traces(zmin=zmin, zmax=zmax, selector=dict(type="heatmap"))
    fig.update_layout(width=760, height=320).show()

# %% [markdown]
# ### What the update costs in time
#
# Adam's update does more arithmetic per element than SGD's (two running means, a square root, a
# division). The profiler (`tinytorch.perf.Profile`) times a few whole steps of each, after two
# steps of warm-up, phase by phase, and counts the optimizer's FLOPs from the formula declared
# beside each update op.

# %%
from tinytorch.perf import Profile

profiled = {}
for name, make in (("SGD(momentum=0.9)", optimizers["sgd-momentum"]), ("Adam", optimizers["adam"])):
    model = mlp()
    optimizer = make(list(model.parameters()))
    for i in range(2):  # warm up: the first step allocates the state
        x, y = batch(i)
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    with Profile() as prof:
        for i in range(3 if FAST else 20):
            x, y = batch(i)
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    phases = {p: sum(e.seconds for e in prof.events if e.phase == p) for p in ("forward", "backward", "optimizer")}
    flops = sum(e.flops for e in prof.events if e.phase == "optimizer")
    profiled[name] = dict(phases=phases, share=phases["optimizer"] / sum(phases.values()), flops=flops)
    print(
        f"{name:<18} forward {1e3 * phases['forward']:7.1f} ms, backward {1e3 * phases['backward']:7.1f} ms, "
        f"optimizer {1e3 * phases['optimizer']:6.1f} ms ({profiled[name]['share']:.1%} of the op time); optimizer FLOPs {flops:,}"
    )
optimizer_time_ratio = profiled["Adam"]["phases"]["optimizer"] / profiled["SGD(momentum=0.9)"]["phases"]["optimizer"]
optimizer_flop_ratio = profiled["Adam"]["flops"] / profiled["SGD(momentum=0.9)"]["flops"]

# %% [markdown]
# ## Reflect

# %%
print(
    f"1. Adam state = {state_ratio['adam']:.2f} x P, momentum {state_ratio['sgd-momentum']:.2f} x P, plain SGD {state_ratio['sgd']:.2f} x P "
    f"(P = {param_bytes:,} B); parameters + Adam state = {1 + state_ratio['adam']:.2f} x P, with the gradients {1 + grad_ratio['adam'] + state_ratio['adam']:.2f} x P"
)
print(
    f"2. NumPy's count of the first step: Adam {allocated['tinytorch Adam'] / param_bytes:.3f} P, yours {allocated['your Adam'] / param_bytes:.3f} P; "
    f"momentum {allocated['tinytorch SGD(momentum=0.9)'] / param_bytes:.3f} P; plain SGD {allocated['tinytorch SGD'] / param_bytes:.3f} P"
)
print(
    f"3. Adam's update: {optimizer_flop_ratio:.1f}x momentum's FLOPs, {optimizer_time_ratio:.1f}x its time; "
    f"the optimizer's share of the op time: Adam {profiled['Adam']['share']:.1%}, momentum {profiled['SGD(momentum=0.9)']['share']:.1%}"
)
print(
    f"4. after {steps} steps: Adam loss {np.mean(results['tinytorch Adam']['losses'][-10:]):.3f}, test accuracy {results['tinytorch Adam']['accuracy']:.1%}; "
    f"momentum loss {np.mean(results['tinytorch SGD(momentum=0.9)']['losses'][-10:]):.3f}, {results['tinytorch SGD(momentum=0.9)']['accuracy']:.1%}; "
    f"median step per parameter, largest / smallest: Adam {spread['adam']:.1f}x, momentum {spread['sgd-momentum']:.1f}x"
)

# %% [markdown]
# **1. Why does Adam need three times the parameters' memory?** Because it keeps two arrays the
# size of the parameters for as long as training runs: `exp_avg` (the running mean of the
# gradient) and `exp_avg_sq` (of its square), one number each per parameter element, in the
# parameters' dtype. Line 1 above: the recorder files exactly twice the parameter bytes under
# optimizer state, so parameters plus state are three times the parameters, and during a step the
# gradients add a fourth copy. Momentum keeps one buffer, plain SGD none. Training with Adam thus
# holds four copies of the weights' bytes before a single activation, where inference holds one:
# for large models that, more than the activations, decides what fits in memory (and it is why
# large models keep the moments in lower precision or shard them across devices).
#
# **2. When is that memory taken, and is the bookkeeping right?** At the first `step()`, not when
# the optimizer is built (line 2: the bytes NumPy reports allocated by the first step are the
# state; the update itself works in place, on `p.data`). That is why the inspector traces the
# first step: memory jumps there and stays up for the rest of the run, so a model that fits for
# its first forward and backward can still fail at its first update. Your optimizer allocates the
# same amount as tinytorch's, because it keeps the same arrays.
#
# **3. Does Adam cost time too?** Line 3: its update does three times the arithmetic per element of
# momentum's, and in NumPy each of those operations is a pass over arrays the size of the
# parameters (with temporaries), so it costs several times momentum's time. How much that matters
# is its share of the step: the update does a fixed amount of work per weight, while forward and
# backward do work proportional to the batch size for every weight, so the share shrinks as the
# batch grows (and in fused GPU kernels the update is one pass over memory). Memory is the price
# that does not shrink: the state is there for the whole run, whatever the batch.
#
# **4. What does the state buy?** Line 4: dividing by the root of `v` gives every element a step of
# about `lr` whatever the size of its gradient, so the parameters with small gradients move about
# as far as the others (compare the two ratios of the largest to the smallest median step), and
# one learning rate suits every layer. With SGD the learning rate must be small enough for the
# layer with the largest gradients, and the others crawl. That is why Adam is the default for
# transformers, whose layers see gradients of very different sizes; SGD with momentum, one buffer
# cheaper, remains a strong choice for convolutional networks with a tuned schedule. Whether Adam
# also reaches a lower loss in a given number of steps depends on the problem and the learning
# rates: line 4 gives this run's answer.
