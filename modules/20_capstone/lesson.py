# %% [markdown]
# # Lesson 20 · Capstone
#
# Everything together: a model trained end to end with the recorder on, looked at with the
# inspector's pictures, tuned, and compared run against run. This is the loop of real work:
# train, look, change one thing, measure again.
#
# - **Build**: a model and an optimizer from a config; one training step and the accuracy; a
#   `train(config, data, logdir)` function that records its run for the inspector; then **one
#   improvement of your choice**, checked by the accuracy it reaches on a synthetic task (two
#   spirals) within the same number of steps.
# - **Use**: your `train` on Fashion-MNIST with the recorder on, then tinytorch's
#   `tinytorch.train.fit`, recorded the same way.
# - **Understand**: the recorded run inline (the traced step's graph, the gradient heatmap, the
#   memory timeline), a learning-rate sweep compared as curves, your improvement against the
#   baseline side by side (loss, memory by category, step time), the command that opens all the
#   runs in `tinytorch-inspector`, and what recording costs.
# - **Reflect**: what the runs say, read from the runs.
#
# Prerequisites: the course so far, above all lessons 05 to 08 (autograd, optimizers, training,
# data) and 14 (profiling). Fill in every `raise NotImplementedError()` in the Build part, run the
# cell, then the check under it; `tinytorch check 20` runs every check and more tests.

# %%
import os
import sys

if "numpy" not in sys.modules:  # small models: one BLAS thread is as fast, and steadier on a shared machine
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import tempfile
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace

import numpy as np

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.datasets import spirals
from tinytorch.runs import RunReader

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: a small slice of the data and few steps, so the notebook runs in seconds
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# A run is decided by its **config**: one dataclass, recorded with the run, so that two runs can be
# compared later by what was different. The synthetic task of the checks is given too: two
# interleaved spirals, 800 training and 400 validation points, which no straight line separates.
# Data comes as NumPy arrays `(x_train, y_train, x_val, y_val)`, as a data loader would hold it;
# each batch becomes a tensor when it is used.


# %%
@dataclass
class Config:
    """Everything that decides a run; recorded with it."""

    width: int = 32  # hidden units per layer
    depth: int = 2  # hidden layers
    optimizer: str = "sgd"  # "sgd" (with momentum 0.9) or "adam"
    lr: float = 0.05
    steps: int = 300  # optimizer steps
    batch_size: int = 64
    eval_every: int = 50  # steps between two validation accuracies
    seed: int = 0  # the initial weights and the order of the batches


def spiral_task(turns=1.5, noise=0.05):
    """(x_train, y_train, x_val, y_val) arrays: two spirals, 800 training and 400 validation points."""
    train, val = spirals(n=800, turns=turns, noise=noise, seed=0), spirals(n=400, turns=turns, noise=noise, seed=1)
    return train.data, train.targets, val.data, val.targets  # float32 (N, 2), int64 (N,)


# %% [markdown]
# ### 1. A model and an optimizer from the config
#
# `make_model(config, n_in, n_out)`: an MLP, `Linear(n_in, width)`, then `depth - 1` times
# `ReLU, Linear(width, width)`, then `ReLU, Linear(width, n_out)` (no activation at the end: the
# loss takes raw scores). Call `tt.manual_seed(config.seed)` first, so a config always starts from
# the same weights. `make_optimizer(model, config)`: `tt.optim.SGD` with `momentum=0.9`, or
# `tt.optim.Adam`, at `config.lr`; raise `ValueError` naming any other optimizer.


# %%
def make_model(config, n_in, n_out):
    """The config's MLP: n_in -> width (-> width, depth - 1 times) -> n_out, ReLU between."""
    ### BEGIN SOLUTION
    tt.manual_seed(config.seed)
    layers = [nn.Linear(n_in, config.width)]
    for _ in range(config.depth - 1):
        layers += [nn.ReLU(), nn.Linear(config.width, config.width)]
    layers += [nn.ReLU(), nn.Linear(config.width, n_out)]
    return nn.Sequential(*layers)
    ### END SOLUTION


def make_optimizer(model, config):
    """SGD with momentum 0.9, or Adam, at config.lr."""
    ### BEGIN SOLUTION
    if config.optimizer == "sgd":
        return tt.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9)
    if config.optimizer == "adam":
        return tt.optim.Adam(model.parameters(), lr=config.lr)
    raise ValueError(f"unknown optimizer {config.optimizer!r}: use 'sgd' or 'adam'")
    ### END SOLUTION


# %% tags=["check"]
# Check: make_model builds the config's MLP from its seed; make_optimizer picks SGD (momentum 0.9) or Adam
config = Config(width=16, depth=3, seed=5)
model = make_model(config, 5, 4)
want = [(16, 5), (16,), (16, 16), (16,), (16, 16), (16,), (4, 16), (4,)]
got = [tuple(p.shape) for p in model.parameters()]
assert got == want, f"Config(width=16, depth=3) from 5 inputs to 4 classes should have parameters of shapes {want}, but has {got}"
assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 3, "three hidden layers need three ReLUs"
assert model(tt.randn(7, 5)).shape == (7, 4), "a batch of 7 should give (7, 4) scores"
again = make_model(config, 5, 4)
assert all(np.array_equal(p.data, q.data) for p, q in zip(model.parameters(), again.parameters())), (
    "the same config should give the same initial weights"
)
other = make_model(replace(config, seed=6), 5, 4)
assert not np.array_equal(next(other.parameters()).data, next(model.parameters()).data), "another seed should give other weights"
sgd, adam = make_optimizer(model, config), make_optimizer(model, replace(config, optimizer="adam", lr=0.003))
assert isinstance(sgd, tt.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9, (
    f"'sgd' should be SGD with momentum 0.9, got {sgd!r}"
)
assert sgd.param_groups[0]["lr"] == config.lr, f"the SGD's lr should be the config's {config.lr}"
assert isinstance(adam, tt.optim.Adam) and adam.param_groups[0]["lr"] == 0.003, f"'adam' should be Adam at lr 0.003, got {adam!r}"
try:
    make_optimizer(model, replace(config, optimizer="rmsprop"))
except ValueError as e:
    print("ok:", [type(m).__name__ for m in model], "; unknown optimizer:", e)
else:
    raise AssertionError("make_optimizer should raise ValueError for optimizer='rmsprop'")

# %% [markdown]
# ### 2. One step, and the accuracy
#
# `train_step(model, optimizer, x, y)`: the forward pass, the cross-entropy loss, zero the
# gradients, backward, the optimizer's step; return the loss as a Python float.
# `accuracy(model, x, y)`: the fraction of rows whose highest score is the label, computed under
# `tt.no_grad()` (no graph is built just to measure) and in eval mode, putting the model back in
# training mode afterwards (this MLP behaves the same in both, but dropout or batch norm would not).


# %%
def train_step(model, optimizer, x, y):
    """One optimizer step on the batch (x, y); returns the batch's loss before the step."""
    ### BEGIN SOLUTION
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
    ### END SOLUTION


def accuracy(model, x, y):
    """Fraction of rows of x whose highest score is the label in y."""
    ### BEGIN SOLUTION
    model.eval()
    try:
        with tt.no_grad():
            return float((model(x).argmax(dim=1) == y).float().mean().item())
    finally:
        model.train()
    ### END SOLUTION


# %% tags=["check"]
# Check: train_step takes tinytorch's step (same loss, same new weights) and accuracy is tinytorch's metric
x_train, y_train, x_val, y_val = (tt.tensor(a) for a in spiral_task())
config = Config(width=8)
ours, twin = make_model(config, 2, 2), make_model(config, 2, 2)
ours_opt, twin_opt = make_optimizer(ours, config), make_optimizer(twin, config)
for k in range(3):
    xb, yb = x_train[k * 32 : (k + 1) * 32], y_train[k * 32 : (k + 1) * 32]
    loss = train_step(ours, ours_opt, xb, yb)
    want = F.cross_entropy(twin(xb), yb)
    twin_opt.zero_grad()
    want.backward()
    twin_opt.step()
    assert isinstance(loss, float), f"train_step should return a Python float, not {type(loss).__name__}"
    assert np.isclose(loss, want.item(), rtol=1e-6), f"step {k}: the loss should be {want.item():.6f}, but is {loss}"
for (name, p), q in zip(ours.named_parameters(), twin.parameters()):
    assert np.allclose(p.data, q.data, atol=1e-6), (
        f"after three steps, {name} should equal tinytorch's step's, it differs by {np.abs(p.data - q.data).max():.2e}"
    )
acc = accuracy(ours, x_val, y_val)
with tt.no_grad():
    want = tt.train.accuracy(ours(x_val), y_val)
assert isinstance(acc, float) and np.isclose(acc, want), f"accuracy should be {want:.4f} (tinytorch.train.accuracy), but is {acc}"
assert ours.training, "accuracy should put the model back in training mode"
print(f"ok: three steps as tinytorch takes them; validation accuracy {acc:.3f}")

# %% [markdown]
# ### 3. The training function, recorded
#
# `train(config, data, logdir=None, name="run")` with `data = (x_train, y_train, x_val, y_val)`:
#
# - the model (`n_in` from `x_train`, one output per class: `y_train`'s largest label + 1) and its
#   optimizer, from the config;
# - the batches: `np.random.default_rng(config.seed)`, a fresh permutation of the training rows at
#   each pass over them, `batch_size` rows per step, `config.steps` steps; each batch made a tensor
#   (`tt.tensor(x_train[idx])`) and handed to your `train_step`;
# - **recording**, when `logdir` is given: `tt.record(f"{logdir}/{name}", model=model,
#   optimizer=optimizer, trace_steps=(0,), config=asdict(config))` around the loop (a `with`
#   block, so the run is closed even if training fails), `run.step(loss)` after every step, and
#   each validation accuracy as `run.log("val/accuracy", acc, step=step)`. (Without `logdir`,
#   `contextlib.nullcontext()` stands in for the recorder.) Step 0 is *traced*: every op and
#   every buffer, for the graph and the memory timeline;
# - the validation accuracy after every `eval_every` steps and after the last one.
#
# Return `{"model", "losses" (one float per step), "val_accuracy" ([(step, accuracy), ...], step
# counted from 0), "path" (the run's folder, `run.path`, or None)}`.


# %%
def train(config, data, logdir=None, name="run"):
    """Train the config's model on data = (x_train, y_train, x_val, y_val), recording into logdir/name."""
    x_train, y_train, x_val, y_val = data
    ### BEGIN SOLUTION
    model = make_model(config, x_train.shape[1], int(y_train.max()) + 1)
    optimizer = make_optimizer(model, config)
    order = np.random.default_rng(config.seed)
    batches = np.zeros(0, dtype=np.int64)
    losses, val_accuracy = [], []
    recorder = (
        tt.record(f"{logdir}/{name}", model=model, optimizer=optimizer, trace_steps=(0,), config=asdict(config))
        if logdir is not None
        else nullcontext()
    )
    with recorder as run:
        for step in range(config.steps):
            if len(batches) < config.batch_size:  # a new pass over the training rows
                batches = np.concatenate([batches, order.permutation(len(x_train))])
            idx, batches = batches[: config.batch_size], batches[config.batch_size :]
            losses.append(train_step(model, optimizer, tt.tensor(x_train[idx]), tt.tensor(y_train[idx])))
            if run is not None:
                run.step(losses[-1])
            if (step + 1) % config.eval_every == 0 or step == config.steps - 1:
                val_accuracy.append((step, accuracy(model, tt.tensor(x_val), tt.tensor(y_val))))
                if run is not None:
                    run.log("val/accuracy", val_accuracy[-1][1], step=step)
    return {"model": model, "losses": losses, "val_accuracy": val_accuracy, "path": run.path if run is not None else None}
    ### END SOLUTION


# %% tags=["check"]
# Check: train trains (the same run twice from one config), records every step, and traces step 0
data = spiral_task()
config = Config(steps=60, eval_every=20)
first, again = train(config, data), train(config, data)
assert len(first["losses"]) == 60, f"60 steps should give 60 losses, not {len(first['losses'])}"
assert first["losses"] == again["losses"], "the same config should give the same run: seed the model and the batch order"
assert [s for s, _ in first["val_accuracy"]] == [19, 39, 59], (
    f"eval_every=20 over 60 steps: accuracies after steps [19, 39, 59], got {[s for s, _ in first['val_accuracy']]}"
)
assert first["path"] is None and tt.record.active() is None, "without logdir nothing is recorded"
assert np.mean(first["losses"][-10:]) < first["losses"][0], "the loss should go down over 60 steps"
logdir = tempfile.mkdtemp(prefix="lesson20-check-")
run = train(config, data, logdir, name="check")
assert run["path"] is not None and tt.record.active() is None, "with logdir, train returns the run's path and closes the recorder"
reader = RunReader(run["path"])
steps = reader.steps()
assert len(steps["step"]) == 60, f"the run should hold 60 steps, not {len(steps['step'])}"
assert np.allclose(steps["loss"], run["losses"], rtol=1e-6), "the recorded losses should be the ones train returns"
assert reader.traced_steps() == [0], f"step 0, and only it, should be traced, not {reader.traced_steps()}"
_, names, _ = reader.grad_stats("norm")
assert names == [n for n, _ in run["model"].named_parameters()], f"gradient statistics of every parameter, got {names}"
logged_steps, logged = reader.scalars("val/accuracy")
assert list(logged_steps) == [19, 39, 59] and np.allclose(logged, [a for _, a in run["val_accuracy"]]), (
    "log each val/accuracy at its step"
)
assert reader.meta["config"]["steps"] == 60, "record the config with the run (config=asdict(config))"
print(
    f"ok: loss {run['losses'][0]:.3f} -> {run['losses'][-1]:.3f}, validation accuracy {run['val_accuracy'][-1][1]:.3f}, run in {run['path']}"
)

# %% [markdown]
# ### 4. Your improvement
#
# With the default `Config()`, `train` reaches a mediocre accuracy on the spirals in its 300
# steps. Make it better: `train_better(config, data, logdir, name)` trains with **one improvement
# of your choice**, and the check wants a validation accuracy of at least 0.9 on the spirals with
# the same number of steps (`config.steps`) and the same batch size. Ideas: another optimizer, a
# better learning rate, a wider or deeper model, a learning-rate schedule, a different
# initialisation. You may call `train` with a changed config (`dataclasses.replace`), or write
# your own loop (record it the same way). Say in a comment what you changed and why you expected
# it to help; the Understand part compares your run with the baseline on real data.


# %%
def train_better(config, data, logdir=None, name="better"):
    """train(), with one improvement of your choice; same steps and batch size. Returns what train returns."""
    ### BEGIN SOLUTION
    # Adam instead of SGD with momentum: it scales each parameter's step by the size of its recent
    # gradients, so layers whose gradients are small still move, and a larger lr is stable.
    return train(replace(config, optimizer="adam", lr=0.02), data, logdir, name)
    ### END SOLUTION


# %% tags=["check"]
# Check: train_better reaches 0.9 validation accuracy on the spirals in the baseline's 300 steps
data = spiral_task()
base = Config()
better = train_better(base, data)
assert len(better["losses"]) == base.steps, f"the same budget: {base.steps} steps, not {len(better['losses'])}"
reached = better["val_accuracy"][-1][1]
baseline = train(base, data)["val_accuracy"][-1][1]
assert reached >= 0.9, (
    f"your improvement should reach 0.9 validation accuracy on the spirals, it reached {reached:.3f} (the baseline: {baseline:.3f})"
)
print(f"ok: validation accuracy {reached:.3f}, the baseline's {baseline:.3f}")

# %% [markdown]
# ## Use
#
# Real data: Fashion-MNIST, 28×28 greyscale images of clothes in ten classes, flattened to 784
# inputs in [0, 1]. The 10,000 test images are split into a training part and a validation part
# (the 60,000 training images would only make the lesson slower). tinytorch looks under
# `$TINYTORCH_DATA`, `~/.cache/tinytorch/datasets` and Debian's `dataset-fashion-mnist`; without
# the data this lesson uses random images, and says so.

# %%
from tinytorch.datasets import DatasetError, FashionMNIST

try:
    test_set = FashionMNIST(train=False)
    images, labels, source = test_set.data, test_set.targets, "Fashion-MNIST test images"
except DatasetError as e:
    print(f"Fashion-MNIST is not on this machine, so this lesson uses random images instead.\n  ({e})")
    images, labels = rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 10000)
    source = "random images (Fashion-MNIST not found)"
n_train, n_val = (2000, 500) if FAST else (8000, 2000)
x = (images.reshape(len(images), -1) / 255).astype(np.float32)  # (N, 784)
y = np.asarray(labels, dtype=np.int64)
fashion = (x[:n_train], y[:n_train], x[n_train : n_train + n_val], y[n_train : n_train + n_val])  # NumPy arrays
print(f"{source}: {n_train} for training, {n_val} for validation, {x.shape[1]} inputs")

# %% [markdown]
# First **your** `train`, recorded into a fresh folder of runs: a wider MLP than for the spirals,
# SGD with momentum, a step per batch of 64.

# %%
logdir = tempfile.mkdtemp(prefix="lesson20-runs-")
base_config = replace(Config(), width=64, steps=40 if FAST else 400, eval_every=10 if FAST else 50)
start = time.perf_counter()
base_run = train(base_config, fashion, logdir, name="sgd-baseline")
base_seconds = time.perf_counter() - start
print(f"your train: {base_config}")
print(f"  loss {base_run['losses'][0]:.3f} -> {np.mean(base_run['losses'][-10:]):.3f} (mean of the last 10 steps)")
print(f"  validation accuracy: {', '.join(f'step {s}: {a:.3f}' for s, a in base_run['val_accuracy'])}")
print(f"  {1e3 * base_seconds / base_config.steps:.1f} ms per step, recorded, run in {base_run['path']}")

# %% [markdown]
# Then **tinytorch's** training loop, `tinytorch.train.fit`, on the same model and data: a
# `DataLoader` shuffles the batches, `fit(..., record=...)` records the run the same way (a step
# per optimizer step, with each epoch's metrics as scalars). Its batch order differs from yours, so
# the numbers differ a little; the runs hold the same kind of record.

# %%
from tinytorch.data import DataLoader, TensorDataset

tt_model = make_model(base_config, 784, 10)
tt_opt = make_optimizer(tt_model, base_config)
loader = DataLoader(TensorDataset(x[:n_train], y[:n_train]), batch_size=base_config.batch_size, shuffle=True)
val_loader = DataLoader(TensorDataset(x[n_train : n_train + n_val], y[n_train : n_train + n_val]), batch_size=500)
epochs = max(1, round(base_config.steps / len(loader)))
history = tt.train.fit(tt_model, loader, nn.CrossEntropyLoss(), tt_opt, epochs=epochs, val_loader=val_loader,
                       record=f"{logdir}/fit", progress=False)  # fmt: skip
fit_run = max((p for p in tt.runs.list_runs(logdir) if p.name.startswith("fit")), key=lambda p: p.stat().st_mtime)
fit_reader = RunReader(fit_run)
print(f"tinytorch fit: {epochs} epoch(s) of {len(loader)} steps, validation accuracy {history.epochs[-1]['val_accuracy']:.3f}")
print(
    f"  recorded {len(fit_reader.steps()['step'])} steps, scalars {fit_reader.tags()}, traced steps {fit_reader.traced_steps()}"
)
assert len(fit_reader.steps()["step"]) == history.epochs[-1]["step"], "fit records a step per optimizer step"
assert fit_reader.meta["parameters"] == RunReader(base_run["path"]).meta["parameters"], "the same model in both runs"

# %% [markdown]
# ## Understand
#
# ### The recorded run, inline
#
# A run is a SQLite file; `tinytorch.runs.RunReader` reads it, and the inspector's pictures are
# plain functions of what it reads (`inspector.figures`), so they render here as they do in the
# browser. First the graph of the traced step, drawn by `tinytorch.viz` (each op with its output
# shape, time and bytes; parameters as badges):

# %%
from inspector import figures
from tinytorch import viz

reader = RunReader(base_run["path"])
print(f"run {reader.name}: {reader.last_step() + 1} steps, traced {reader.traced_steps()}, scalars {reader.tags()}")
viz.draw_graph((reader, 0), title="sgd-baseline, step 0 (forward)")

# %% [markdown]
# The inspector's Graph page places the same graph (Graphviz's layout) in an interactive Plotly
# figure; colour by time shows where the step spent it (hover a node for its card).

# %%
graph = viz.fold(viz.graph_of((reader, 0)), 150)
drawn = viz.layout(viz.to_dot(graph, "forward").source)
figures.graph.graph_figure(
    graph, drawn["nodes"], color_by="time", edge_paths=drawn["edges"], title="step 0, coloured by time"
).show()
slowest = max(graph.nodes, key=lambda n: n.stats.get("time_ms", 0.0) + n.stats.get("backward_ms", 0.0))
print(
    f"{len(graph.nodes)} nodes; the slowest: {slowest.op} ({slowest.stats.get('time_ms', 0):.3f} ms forward, {slowest.stats.get('backward_ms', 0):.3f} ms backward)"
)

# %% [markdown]
# Gradient flow: the norm of every parameter's gradient at every step, as the Gradients page
# shows it (log scale). A layer whose row goes dark has stopped learning; one that turns bright
# and keeps growing is heading for an explosion.

# %%
grad_steps, grad_names, grad_norms = reader.grad_stats("norm")
figures.gradients.heatmap(grad_steps, grad_names, grad_norms, "gradient norm per parameter and step").show()
_, _, update_ratios = reader.grad_stats("update_ratio")
for name, norms, ratio in zip(grad_names, grad_norms, update_ratios):
    print(f"{name:>10}: |g| first {norms[0]:.4f}, last {norms[-1]:.4f}; update/weight median {np.nanmedian(ratio):.2e}")

# %% [markdown]
# Memory over the traced step: every buffer, by category, as it is allocated and freed through
# forward, backward and the optimizer's update (the Memory page): activations rise through forward
# and fall through backward, gradients and the optimizer's state appear as backward and the update
# first write them.

# %%
figures.memory.timeline(reader.memory_events(0), title="sgd-baseline, step 0: live bytes by category").show()
totals = reader.memory_totals()[0]["by_category"]
print("at the end of step 0:", ", ".join(f"{k} {v:,} B" for k, v in totals.items() if v))

# %% [markdown]
# ### Tune one thing: the learning rate
#
# The same config at a few learning rates, each its own recorded run; then the runs read back and
# overlaid as the Runs page does (`figures.runs.curves`): training loss, and validation accuracy.

# %%
lrs = (0.005, 0.05, 0.5) if FAST else (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
sweep = {}
for lr in lrs:
    sweep[lr] = train(replace(base_config, lr=lr), fashion, logdir, name=f"lr-{lr:g}")
readers = {lr: RunReader(r["path"]) for lr, r in sweep.items()}
loss_lines = [s for lr, rd in readers.items() for s in figures.runs.loss_series(f"lr {lr:g}", rd.steps(), {})]
acc_lines = [
    s
    for lr, rd in readers.items()
    for s in figures.runs.metric_series(f"lr {lr:g}", {"val/accuracy": rd.scalars("val/accuracy")})
]
figures.runs.curves(loss_lines, "training loss by learning rate", "loss", log_y=True).show()
figures.runs.curves(acc_lines, "validation accuracy by learning rate", "accuracy").show()
final = {lr: float(rd.scalars("val/accuracy")[1][-1]) for lr, rd in readers.items()}
for lr, rd in readers.items():
    _, _, ratio = rd.grad_stats("update_ratio")
    loss = rd.steps()["loss"]
    print(
        f"lr {lr:<6g}: loss {loss[0]:.3f} -> {np.mean(loss[-10:]):.3f}, validation accuracy {final[lr]:.3f}, update/weight median {np.nanmedian(ratio):.1e}"
    )

# %% [markdown]
# ### Your improvement against the baseline
#
# Your `train_better` on the same data, recorded, then the two runs side by side as the Compare
# page shows them: memory by category at the traced step against what the optimizers predict
# (parameters P, gradients P, momentum P, Adam's two moments 2P), the loss, and the step time.

# %%
better_run = train_better(base_config, fashion, logdir, name="better")
pair = {"sgd-baseline": RunReader(base_run["path"]), "better": RunReader(better_run["path"])}
compared = []
for name, rd in pair.items():
    first_totals = rd.memory_totals()[0]["by_category"]
    compared.append(
        dict(
            name=name,
            optimizer=str(rd.meta.get("optimizer")),
            param_bytes=first_totals.get("parameter", 0),
            by_category=first_totals,
        )
    )
    print(figures.compare.ratio_statement(name, compared[-1]["optimizer"], compared[-1]["param_bytes"], first_totals))
figures.compare.memory_bars(compared).show()
losses = [figures.runs.loss_series(name, rd.steps(), {}) for name, rd in pair.items()]
figures.compare.loss_figure(*losses, title="training loss: baseline (solid) and yours (dotted)").show()
figures.compare.step_time_figure(*[(name, rd.steps()) for name, rd in pair.items()]).show()
better_acc = better_run["val_accuracy"][-1][1]
print(f"validation accuracy: baseline {base_run['val_accuracy'][-1][1]:.3f}, yours {better_acc:.3f}")

# %% [markdown]
# ### All the runs in the inspector
#
# Every run of this notebook is in one folder. `tinytorch-inspector` serves it in the browser,
# live while runs are written (start it in a terminal; it is not started from here):

# %%
runs = tt.runs.list_runs(logdir)
print(f"{len(runs)} runs in {logdir}: {', '.join(sorted(p.name for p in runs))}")
print(f"\n    tinytorch-inspector {logdir}\n")
print("then open http://127.0.0.1:8050/ (Runs, Graph, Gradients, Memory, Compare)")

# %% [markdown]
# ### What recording costs
#
# The recorder reads every op as it passes through `Function.apply`; on a traced step it follows
# every buffer too. The same short training with and without it, timed in alternating rounds
# (lesson 19) into a scratch folder:

# %%
scratch = tempfile.mkdtemp(prefix="lesson20-timing-")
short = replace(base_config, steps=10, eval_every=10)
costs = tt.perf.compare(
    {"not recorded": lambda: train(short, fashion), "recorded": lambda: train(short, fashion, scratch, "timing")},
    baseline="not recorded", rounds=5 if FAST else 9, warmup=1,
)  # fmt: skip
print(costs.text())
record_cost = costs["recorded"].time.median / costs["not recorded"].time.median

# %% [markdown]
# ## Reflect
#
# The answers below lean on the lines this cell prints, read from the runs; run the notebook and
# they are your machine's.

# %%
best, worst = max(final, key=final.get), min(final, key=final.get)
print(
    f"1. validation accuracy by lr: {', '.join(f'{lr:g}: {a:.3f}' for lr, a in final.items())}; best lr {best:g}, worst {worst:g}"
)
by_name = {c["name"]: c for c in compared}


def activation_peak(reader):
    """The most activation bytes alive at once during the traced step 0 (the memory timeline's green band)."""
    return int(figures.memory.replay(reader.memory_events(0))["totals"][:, figures.CATEGORIES.index("activation")].max())


for name, c in by_name.items():
    cats = c["by_category"]
    p = max(cats.get("parameter", 0), 1)
    print(
        f"2. {name}: gradients {cats.get('gradient', 0) / p:.2f}x the parameters, optimizer state {cats.get('optimizer_state', 0) / p:.2f}x; "
        f"at most {activation_peak(pair[name]):,} B of activations alive at once in step 0, the parameters {cats.get('parameter', 0):,} B"
    )
first_norm, last_norm = grad_norms[:, 0], grad_norms[:, -1]
print(
    f"3. largest gradient norm at step 0: {grad_names[int(np.nanargmax(first_norm))]}, smallest: {grad_names[int(np.nanargmin(first_norm))]}; "
    f"median |g| over the parameters {np.nanmedian(first_norm):.3f} at step 0, {np.nanmedian(last_norm):.3f} at the last step"
)
print(
    f"4. recording took {record_cost:.2f}x the time of not recording (step 0 traced, gradient norms every step, all statistics every 20th)"
)

# %% [markdown]
# **1. What did the learning rate do?** Line 1, with the two curves above. Too small a rate moves
# the weights so little per step that the loss falls slowly and the run ends early in its
# descent; too large a rate overshoots, and the loss jumps, stalls or diverges (an accuracy at or
# below chance). The update-to-weight ratios printed under the sweep are the mechanism: each step
# changes the weights by about that fraction, and the best rate sits between the ratio that barely
# moves the weights and the one that rewrites them every step. Read the ratio with the curve: a
# run that diverged can show a *tiny* median ratio, because once an oversized step has pushed the
# ReLUs into their flat side, the gradients are zero and nothing moves any more. The best rate is
# a property of this model, optimizer, batch size and budget of steps: change one and tune again.
#
# **2. Where does the memory go?** Line 2. The gradients are one copy of the parameters; the
# optimizer's state is another copy for momentum, two for Adam (its first and second moments),
# none for plain SGD, as the Compare bars predict, so the optimizer alone can decide whether a
# model fits. Activations are what the forward pass saved for backward: the timeline shows them
# rising through forward and freed through backward. They scale with the batch size and the
# depth, not with the parameters: for this small batch they stay below the parameters (the two
# numbers of line 2), while a large batch or a deep network turns that around.
#
# **3. What does the gradient heatmap say?** Line 3. The gradient norm differs from layer to layer
# (weights and biases, near the input or the output) and changes as training goes on. Early on it
# often *grows*: at initialisation the scores are nearly uniform and small weights pass a weak
# signal backwards; as the weights grow and the model commits to answers, the gradients reaching
# each layer grow with them. Later, as the loss settles, they shrink and get noisier from batch to
# batch; line 3 says which phase this short run ended in. A row that fades to nothing would be a
# layer that stopped learning (dead ReLUs, a vanishing signal); a row that keeps brightening step
# after step is the start of an explosion (lesson 07).
#
# **4. What does looking cost?** Line 4. Gradient norms on every step cost a little (one pass over
# each gradient, a transaction per step), the full statistics (histogram, max, mean, update ratio)
# five more (the sum, max and min of each gradient, the norms of each weight and of its update),
# which is why they come every 20th step unless you ask for more; the traced step
# costs more, since every op and buffer is written down. That is why long runs trace only a few
# chosen steps (`record(every=..., trace_steps=...)`).
