# %% [markdown]
# # Lesson 14 · Profiling
#
# "Why is training slow?" has an answer only when it is measured: which ops take the time, in
# forward or in backward, how many floating-point operations they do and how many bytes they move,
# which lines of Python they spend it on, and where the memory goes while a step runs. Every op of
# tinytorch passes through one choke point, `Function.apply`, which hands it to a **hook** when one
# is installed (`tinytorch.function._hook`): that is all a profiler needs.
#
# - **Build**: a tiny profiler of your own, an `OpHook` that times every op, forward and backward,
#   and tables its events by op; the FLOPs of a convolution from its shapes, and the arithmetic
#   intensity of an op; each checked against `tinytorch.perf.Profile`.
# - **Use**: your profiler, then tinytorch's, on a training step of the milestone CNN (the modern
#   CIFAR-10 CNN: three blocks of convolution, batch norm, ReLU and pooling, then two linear
#   layers), and what each costs.
# - **Understand**: the profiler's tables by op and by module, forward against backward measured
#   (not assumed to be twice), FLOPs and arithmetic intensity on this machine's roofline, a layer
#   line by line, and memory over time against the recorder's categories.
# - **Reflect**: where the bottleneck is, and what would move it.
#
# Prerequisites: lessons 05 (autograd: the engine calls each node's backward) and 09 (convolution
# by im2col). Fill in every `raise NotImplementedError()`, run the cell and the check under it;
# `tinytorch check 14` runs every check and more tests on your notebook.

# %%
import os
import sys

if "numpy" not in sys.modules:  # BLAS fixes its thread count when NumPy loads: one thread, unless you set another
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # (steadier timings; threads fighting a busy machine are slow)

import tempfile
import time
import tracemalloc

import numpy as np
import plotly.graph_objects as go

import tinytorch as tt
from tinytorch import function, nn
from tinytorch.function import OpHook, run
from tinytorch.perf import Profile

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: a small batch and few repeats, so the notebook runs in seconds
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### 1. A hook that sees every op
#
# `Function.apply` reads one module global, `tinytorch.function._hook`. When it is `None` (nothing
# records), the op runs as it is. Otherwise apply calls `hook(cls, inputs, attrs)` and returns what
# the hook returns; the hook must run the op itself, with `tinytorch.function.run(cls, inputs, attrs)`
# (the forward and the autograd bookkeeping). A profiler is a hook that looks at the clock around
# that call.
#
# `OpTimer` installs itself in `__enter__` and puts back what was there in `__exit__` (given). Write
# `__call__`: run the op, timed with `time.perf_counter()`, append `(self.phase, op name, seconds)`
# to `self.events` (the op's name is its class's, `cls.__name__`) and return the op's output.
# (tinytorch's `Profile` also chains to a recorder that is already installed; yours replaces it
# while it runs.)


# %%
class OpTimer(OpHook):
    """A tiny profiler: while installed as tinytorch.function._hook, it times every op it sees."""

    def __init__(self):
        self.events = []  # (phase, op name, seconds), in the order the ops ran
        self.phase = "forward"

    def __enter__(self):
        self.previous, function._hook = function._hook, self  # from now on Function.apply calls self(cls, inputs, attrs)
        self.phase = "forward"
        return self

    def __exit__(self, *exc):
        function._hook = self.previous  # put back what was there (None when nothing records)

    def __call__(self, cls, inputs, attrs):
        """A forward op: run it with function.run, timed; record (phase, name, seconds); return its output."""
        ### BEGIN SOLUTION
        start = time.perf_counter()
        out = run(cls, inputs, attrs)
        self.events.append((self.phase, cls.__name__, time.perf_counter() - start))
        return out
        ### END SOLUTION


# %% tags=["check"]
# Check: OpTimer sees the same ops as tinytorch's Profile, in order, and the results are unchanged
x, w = tt.randn(64, 32), tt.randn(32, 16, requires_grad=True)
want = (x @ w).relu().sum().item()
with OpTimer() as timer:
    got = (x @ w).relu().sum().item()
assert function._hook is None, "OpTimer's __exit__ should put the previous hook (None) back"
with Profile() as prof:
    (x @ w).relu().sum()
ops, expected = [op for _, op, _ in timer.events], [e.op for e in prof.events]
assert ops == expected, f"OpTimer should see the ops {expected}, but saw {ops}"
assert all(phase == "forward" and seconds >= 0 for phase, _, seconds in timer.events), (
    f"forward events, with times: {timer.events}"
)
assert got == want, f"the profiled computation should give the same result, {want}, but gave {got}"
print("ok:", [(op, f"{1e6 * s:.0f} us") for _, op, s in timer.events])

# %% [markdown]
# ### 2. Backward, and the phases of a step
#
# Backward ops do not pass through `apply`: the engine calls each node's backward itself. When a hook
# is installed it calls `hook.backward(node, grad)` instead, which must return
# `node.backward(node, grad)` (the gradients for the node's inputs). Time it as an event of phase
# `"backward"`, named `node.name` (the forward op's name: `Conv2d`'s node is a `Conv2d`).
#
# The engine and the optimizer also say what runs next with `hook.set_phase(phase)`: `"backward"`
# when backward starts, `"optimizer"` when it ends and when `optimizer.step()` starts, `"forward"`
# when the step is over. Keep it in `self.phase`, which `__call__` writes into each event: then the
# optimizer's update ops are told apart from the forward's.


# %%
def backward(self, node, grad):
    """One node's backward, called by the engine: run it, timed, as a ("backward", name, seconds) event."""
    ### BEGIN SOLUTION
    start = time.perf_counter()
    grads = node.backward(node, grad)
    self.events.append(("backward", node.name, time.perf_counter() - start))
    return grads
    ### END SOLUTION


def set_phase(self, phase):
    """What runs next: "forward", "backward" or "optimizer"."""
    ### BEGIN SOLUTION
    self.phase = phase
    ### END SOLUTION


OpTimer.backward, OpTimer.set_phase = backward, set_phase


# %% tags=["check"]
# Check: a whole training step, forward, backward and optimizer, gives Profile's events in the same order
def one_step(model, optimizer, x, y):
    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


tt.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
optimizer = tt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
x, y = tt.randn(10, 8), tt.randint(0, 3, (10,))
with Profile() as prof:
    one_step(model, optimizer, x, y)
with OpTimer() as timer:
    one_step(model, optimizer, x, y)
ours = [(phase, op) for phase, op, _ in timer.events]
theirs = [(e.phase, e.op) for e in prof.events]
assert ours == theirs, f"the step's events should be\n{theirs}\nbut are\n{ours}"
assert model[0].weight.grad is not None, "backward should still compute the gradients"
print("ok:", sorted({phase for phase, _ in ours}), "phases;", len(ours), "events")

# %% [markdown]
# ### 3. The table
#
# A profile is read as a table: per (op, phase), how many calls, how much time in total, and its
# share of all the time the events took. Return one row per (op, phase) as a dict
# `{"op", "phase", "calls", "ms", "share"}` (`share` a fraction of 1), slowest first.


# %%
def summarise(events):
    """Rows {"op", "phase", "calls", "ms", "share"} per (op, phase) of (phase, op, seconds) events, slowest first."""
    ### BEGIN SOLUTION
    rows = {}
    for phase, op, seconds in events:
        row = rows.setdefault((op, phase), {"op": op, "phase": phase, "calls": 0, "ms": 0.0})
        row["calls"] += 1
        row["ms"] += 1e3 * seconds
    total = sum(r["ms"] for r in rows.values())
    for r in rows.values():
        r["share"] = r["ms"] / total if total else 0.0
    return sorted(rows.values(), key=lambda r: -r["ms"])
    ### END SOLUTION


# %% tags=["check"]
# Check: summarise adds up calls and time per (op, phase), slowest first, as tinytorch's table counts them
events = [("forward", "MatMul", 0.003), ("forward", "Relu", 0.001), ("backward", "MatMul", 0.004), ("forward", "MatMul", 0.002)]
rows = summarise(events)
order = [(r["op"], r["phase"]) for r in rows]
assert order == [("MatMul", "forward"), ("MatMul", "backward"), ("Relu", "forward")], (
    f"one row per (op, phase), slowest first, but got {order}"
)
first = rows[0]
assert first["calls"] == 2, f"MatMul ran twice in forward, but its row says {first['calls']} calls"
assert np.isclose(first["ms"], 5.0), f"MatMul's forward took 3 + 2 ms, but its row says {first['ms']} ms"
assert np.isclose(rows[1]["share"], 0.4), f"the share is of all the events' time: 4 of 10 ms, but is {rows[1]['share']}"
tt.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
optimizer = tt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
with Profile() as prof:
    loss = nn.functional.cross_entropy(model(tt.randn(10, 8)), tt.randint(0, 3, (10,)))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
calls = {(r["name"], r["phase"]): r["calls"] for r in prof.table("op")}
ours = {(r["op"], r["phase"]): r["calls"] for r in summarise([(e.phase, e.op, e.seconds) for e in prof.events])}
assert ours == calls, f"on Profile's own events the calls should be its table's\n{calls}\nbut are\n{ours}"
print("ok:", [(r["op"], r["phase"], r["calls"], f"{r['share']:.0%}") for r in rows])

# %% [markdown]
# ### 4. FLOPs and arithmetic intensity
#
# Time alone does not say whether an op is slow or just big. Count its work: a convolution with
# weight `(Co, Ci, kh, kw)` on input `(N, Ci, H, W)` makes `N * Co * Ho * Wo` outputs, each a sum of
# `Ci * kh * kw` products: one multiply and one add each, **2 FLOPs**; the bias adds one more per
# output. The output size is `Ho = (H + 2 padding - kh) // stride + 1` (the same for `Wo`).
#
# **Arithmetic intensity** is the work per byte of memory traffic: FLOPs divided by the bytes the op
# reads and writes (each input once and its output once, `itemsize` bytes per element). Low
# intensity means the op waits on memory; high means it can keep the arithmetic units busy. Step 4 of
# the Understand part places every op of the CNN by it.


# %%
def conv2d_flops(x_shape, weight_shape, stride=1, padding=0, bias=True):
    """Forward FLOPs of a 2-D convolution: 2 per (output element, weight of its window), + 1 per output for the bias."""
    ### BEGIN SOLUTION
    n, _, h, w = x_shape
    co, ci, kh, kw = weight_shape
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    outputs = n * co * ho * wo
    return 2 * outputs * ci * kh * kw + (outputs if bias else 0)
    ### END SOLUTION


def arithmetic_intensity(flops, *shapes, itemsize=4):
    """FLOPs per byte moved, when the op reads each input and writes its output once (shapes: inputs and output)."""
    ### BEGIN SOLUTION
    return flops / (itemsize * sum(int(np.prod(s)) for s in shapes))
    ### END SOLUTION


# %% tags=["check"]
# Check: conv2d_flops is tinytorch's formula, and the intensity is the profiler's FLOPs per byte moved
for x_shape, w_shape, stride, padding, bias in [((2, 3, 12, 12), (8, 3, 5, 5), 1, 2, True), ((4, 16, 9, 9), (32, 16, 3, 3), 2, 0, False),
                                                ((1, 1, 28, 28), (6, 1, 5, 5), 1, 0, True)]:  # fmt: skip
    conv = nn.Conv2d(x_shape[1], w_shape[0], w_shape[2], stride=stride, padding=padding, bias=bias)
    inputs = tt.randn(*x_shape)
    with Profile() as prof:
        out = conv(inputs)
    event = prof.events[0]
    got = conv2d_flops(x_shape, w_shape, stride, padding, bias)
    assert got == event.flops, (
        f"conv2d_flops({x_shape}, {w_shape}, stride={stride}, padding={padding}, bias={bias}) should be {event.flops:,}, but is {got:,}"
    )
    shapes = [x_shape, w_shape, *([(w_shape[0],)] if bias else []), out.shape]
    intensity = arithmetic_intensity(got, *shapes)
    assert np.isclose(intensity, event.flops / event.moved), (
        f"the intensity should be {event.flops / event.moved:.3f} FLOP/B, but is {intensity:.3f}"
    )
print(f"ok: the last convolution: {got:,} FLOPs, {intensity:.2f} FLOPs per byte moved")

# %% [markdown]
# ## Use
#
# The milestone CNN (`examples/cnn_cifar10.py`): three blocks of a 3×3 convolution without bias,
# batch norm, ReLU and 2×2 max pooling (32, 64, 128 channels), then `Linear(2048, 256)`, ReLU and
# `Linear(256, 10)`; SGD with Nesterov momentum and weight decay, cross-entropy with label smoothing,
# on a batch of real CIFAR-10 images (with `FAST`, a small batch from the test file, which is
# quickest to read; the profile of a step does not depend on which images). Without the dataset the
# lesson profiles random images of the same shape, and says so.

# %%
from tinytorch.datasets import CIFAR10, DatasetError

batch_size = 16 if FAST else 128
try:
    cifar = CIFAR10(train=not FAST)
    images, labels = cifar.data[:batch_size], cifar.targets[:batch_size]  # (B, 32, 32, 3) uint8, (B,)
    source = f"CIFAR-10 {'test' if FAST else 'training'} images"
except DatasetError as e:
    print(f"CIFAR-10 is not on this machine, so this lesson profiles random images instead.\n  ({e})")
    images, labels = rng.integers(0, 256, (batch_size, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, batch_size)
    source = "random images (CIFAR-10 not found)"
pixels = images.astype(np.float32).transpose(0, 3, 1, 2) / 255  # (B, 3, 32, 32)
pixels = (pixels - pixels.mean(axis=(0, 2, 3), keepdims=True)) / pixels.std(axis=(0, 2, 3), keepdims=True)
x, y = tt.tensor(pixels), tt.tensor(labels.astype(np.int64))
print(f"{source}: a batch of {batch_size}, {tuple(x.shape)} {x.dtype}")


def block(c_in, c_out):
    """(N, c_in, H, W) -> (N, c_out, H/2, W/2); no conv bias: BatchNorm's shift replaces it."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2))


def cnn():
    tt.manual_seed(0)
    return nn.Sequential(
        block(3, 32),  # (N, 3, 32, 32) -> (N, 32, 16, 16)
        block(32, 64),  # (N, 64, 8, 8)
        block(64, 128),  # (N, 128, 4, 4)
        nn.Flatten(),  # (N, 2048)
        nn.Linear(2048, 256),  # (N, 256)
        nn.ReLU(),
        nn.Linear(256, 10),  # (N, 10) class scores
    )


model = cnn()
optimizer = tt.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)


def train_step():
    loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


train_step()  # a first step: BLAS warms up, the optimizer makes its momentum buffers

# %% [markdown]
# The same step three ways, in interleaved rounds so that a busy moment of the machine hurts all
# three alike: with no profiler, under your `OpTimer`, and under `tinytorch.perf.Profile`. The two
# profilers must see the same events; their tables should tell the same story. A busy machine only
# ever *adds* time, so for each op of the step the fastest of its runs is the best estimate: `best`
# is a profile made of those.

# %%
rounds = 3 if FAST else 5
seconds = {"no profiler": [], "OpTimer (yours)": [], "Profile (tinytorch)": []}
timers, profiles = [], []
for _ in range(rounds):
    start = time.perf_counter()
    train_step()
    seconds["no profiler"].append(time.perf_counter() - start)
    with OpTimer() as timer:
        start = time.perf_counter()
        train_step()
        seconds["OpTimer (yours)"].append(time.perf_counter() - start)
    with Profile() as prof:
        start = time.perf_counter()
        train_step()
        seconds["Profile (tinytorch)"].append(time.perf_counter() - start)
    timers.append(timer)
    profiles.append(prof)
step_ms = {name: 1e3 * min(s) for name, s in seconds.items()}
for name, ms in step_ms.items():
    print(f"{name:<20} {ms:8.1f} ms per step (best of {rounds})")
assert all([(p, op) for p, op, _ in t.events] == [(e.phase, e.op) for e in profiles[0].events] for t in timers), (
    "the same events every time"
)

# each op's fastest run, in your summary and as a tinytorch Profile
ours = summarise([min(column, key=lambda event: event[2]) for column in zip(*(t.events for t in timers))])
best = Profile()
best.events = [min(column, key=lambda event: event.seconds) for column in zip(*(p.events for p in profiles))]
best.wall = min(p.wall for p in profiles)
theirs = {(r["name"], r["phase"]): r["total_ms"] for r in best.table("op")}
print(f"\n{'yours: op':<16}{'phase':<11}{'calls':>6}{'ms':>9}{'share':>8}      tinytorch's: ms")
for r in ours[:8]:
    print(f"{r['op']:<16}{r['phase']:<11}{r['calls']:>6}{r['ms']:>9.2f}{r['share']:>8.1%}{theirs[(r['op'], r['phase'])]:>20.2f}")

# %% [markdown]
# ## Understand
#
# ### The profile, by op and by module
#
# `Profile.text()` prints the table: per op type and phase, calls, total and self time, the FLOPs
# (from the formula declared next to each op), the achieved GFLOP/s, the arithmetic intensity
# (FLOP/B) and the bytes of the arrays the op created. Its last line compares the time inside ops
# with the wall-clock time of the whole block: the rest is Python between the ops.

# %%
print(best.text(top=14))

# %% [markdown]
# By module: `0` is the first block, `0.0` its convolution, `0.1` its batch norm, ...; a module's
# total includes its submodules, its self time only the ops it runs itself. `(top level)` is what
# runs outside every module: the loss and the optimizer's updates.

# %%
print(best.text(by="module", top=14))

# %% [markdown]
# The inspector's Profile page draws the same rows (`inspector.figures.profile.profile_figure`),
# forward, backward and optimizer stacked:

# %%
from inspector.figures.profile import profile_figure


def figure_rows(by):
    rows = best.table(by)
    for r in rows:
        r["share"] = 100 * r["total_ms"] / (1e3 * best.op_seconds)  # the figure's hover shows the share of the step
    return rows


profile_figure(figure_rows("op"), top=12, title=f"time per op type, one step, batch {batch_size}").show()
profile_figure(figure_rows("module"), top=12, title="time per module (totals include submodules)").show()

# %% [markdown]
# ### Forward against backward, measured
#
# The usual rule of thumb says backward costs twice the forward: a layer's backward needs two
# products of the forward's size (the gradient for its input and for its weights). The profiler
# measures both phases separately; below, per layer with weights, and for the whole step.

# %%
layers = {}  # module -> {phase: [ms, FLOPs]}
for e in best.events:
    if e.op in ("Conv2d", "Linear") and e.phase in ("forward", "backward"):
        cell = layers.setdefault(e.module, {"op": e.op, "forward": [0.0, 0], "backward": [0.0, 0]})[e.phase]
        cell[0] += 1e3 * e.seconds
        cell[1] += e.flops
phases = {p: [sum(1e3 * e.seconds for e in best.events if e.phase == p), sum(e.flops for e in best.events if e.phase == p)]
          for p in ("forward", "backward", "optimizer")}  # fmt: skip
print(f"{'layer':<8}{'forward ms':>11}{'backward ms':>13}{'time ratio':>12}{'FLOP ratio':>12}")
for name, c in layers.items():
    print(
        f"{name:<8}{c['forward'][0]:>11.2f}{c['backward'][0]:>13.2f}{c['backward'][0] / c['forward'][0]:>12.2f}{c['backward'][1] / c['forward'][1]:>12.2f}"
    )
time_ratio = phases["backward"][0] / phases["forward"][0]
flop_ratio = phases["backward"][1] / phases["forward"][1]
print(
    f"whole step: forward {phases['forward'][0]:.1f} ms, backward {phases['backward'][0]:.1f} ms, optimizer {phases['optimizer'][0]:.1f} ms"
)
print(f"backward / forward: {time_ratio:.2f}x the time, {flop_ratio:.2f}x the FLOPs")

fig = go.Figure()
for phase, color in (("forward", "#1f77b4"), ("backward", "#d62728")):
    fig.add_trace(go.Bar(x=[f"{name} {c['op']}" for name, c in layers.items()], y=[c[phase][0] for c in layers.values()], name=phase,
                         marker_color=color, text=[f"{c[phase][1] / 1e6:.0f} MFLOP" for c in layers.values()]))  # fmt: skip
fig.update_layout(barmode="group", width=640, height=320, margin=dict(l=10, r=10, t=40, b=10), yaxis_title="ms",
                  xaxis_title="layer (module name)", title="forward and backward time of each layer with weights")  # fmt: skip
fig.update_xaxes(type="category")
fig.show()

# %% [markdown]
# ### FLOPs, arithmetic intensity and the roofline
#
# How fast could each op go on this machine? `tinytorch.perf.machine_peaks` measures two ceilings:
# the GFLOP/s of a large float32 matrix product (the compute roof) and the bandwidth of a large copy
# (the memory roof). An op of intensity `I` FLOP/B cannot beat `min(peak, I * bandwidth)`: below
# the **ridge** `peak / bandwidth` it is memory-bound, above it compute-bound. Each op of the step
# (forward `f`, backward `b`) is placed at its measured intensity and speed.

# %%
from tinytorch.perf import machine_peaks, roofline_figure, roofline_points

peaks = machine_peaks(n=512 if FAST else 1024, megabytes=32 if FAST else 128, repeats=10)
points = roofline_points(best, peaks)
print(
    f"this machine: {peaks['gflops']:.1f} GFLOP/s matmul peak, {peaks['bandwidth_gbs']:.1f} GB/s copy, ridge at {peaks['ridge_flops_per_byte']:.2f} FLOP/B"
)
print(f"{'op':<14}{'phase':<10}{'GFLOP':>8}{'FLOP/B':>8}{'GFLOP/s':>9}{'of roof':>9}  bound")
for p in sorted(points, key=lambda p: -p["total_ms"])[:10]:
    print(
        f"{p['name']:<14}{p['phase']:<10}{p['flops'] / 1e9:>8.3f}{p['intensity']:>8.2f}{p['gflops']:>9.2f}{p['efficiency']:>9.1%}  {p['bound']}"
    )
roofline_figure(points, peaks).update_layout(width=760, height=420).show()

# %% [markdown]
# ### A layer, line by line
#
# The op table says which op; `tinytorch.perf.line_profile` says which line. It runs the first block
# (convolution, batch norm, ReLU, pooling) forward and backward under `line_profiler`, timing every
# line of the modules' `forward` and of the ops' `forward` and `backward`. A module's line that calls
# an op includes the op's time; the lines inside the ops (`tinytorch/ops/`) are where NumPy does the
# work. The slowest of those, each line's best of a few runs:

# %%
import tinytorch.ops
from tinytorch.perf import line_profile

ops_folder = os.path.dirname(tinytorch.ops.__file__)
fastest = {}  # (file, line) -> the row of its fastest run: as for the ops, noise only adds time
for _ in range(rounds):
    for r in line_profile(model[0], x):
        key = (r["file"], r["line"])
        if key not in fastest or r["time_ms"] < fastest[key]["time_ms"]:
            fastest[key] = r
op_lines = sorted((r for r in fastest.values() if r["file"].startswith(ops_folder)), key=lambda r: -r["time_ms"])
print(f"{'op function':<20}{'line':>5}{'hits':>6}{'ms':>9}  source")
for r in op_lines[:10]:
    print(f"{r['function'][:20]:<20}{r['line']:>5}{r['hits']:>6}{r['time_ms']:>9.2f}  {r['source'].strip()[:78]}")
top_line = op_lines[0]
matmul_share = sum(r["time_ms"] for r in op_lines if "@" in r["source"]) / sum(r["time_ms"] for r in op_lines)
print(f"lines with a matrix product (@): {matmul_share:.0%} of the time inside the ops; the other lines: {1 - matmul_share:.0%}")

# %% [markdown]
# ### Memory over time
#
# `tinytorch.perf.memory_timeline(fn)` samples, while `fn` runs, the bytes of every live NumPy array
# (`tracemalloc`'s NumPy domain) and the process's resident memory (RSS, `psutil`: the interpreter,
# the libraries, BLAS's buffers, everything). Run a step under a recorder that traces it, and each
# sample also holds the bytes the framework accounts for, by category: parameters, gradients,
# optimizer state, activations saved for backward, temporaries, inputs. `tracemalloc` starts before
# the model is built, so NumPy's count includes it. Sampling can miss a short peak:
# `tracemalloc.get_traced_memory()` also gives the exact peak of everything it traces (NumPy's
# arrays and Python's objects), and the recorder's events give the exact peak of its categories.

# %%
from inspector import figures
from tinytorch.perf import memory_timeline, timeline_figure
from tinytorch.runs import RunReader

tracemalloc.start()
model = cnn()  # a fresh model, optimizer and batch, made while tracemalloc watches
optimizer = tt.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
x, y = tt.tensor(pixels.copy()), tt.tensor(labels.astype(np.int64))
logdir = tempfile.mkdtemp(prefix="lesson14-")
with tt.record(f"{logdir}/cnn", model=model, optimizer=optimizer, trace_steps=(1,)) as recording:
    recording.step(train_step())  # step 0: the momentum buffers appear; not traced
    tracemalloc.reset_peak()
    timeline = memory_timeline(lambda: recording.step(train_step()), interval=0.002 if FAST else 0.005)  # step 1, traced
    traced_peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
events = RunReader(recording.path).memory_events(1)
exact = figures.memory.peak(events)
print(f"{len(timeline['t'])} samples over {1e3 * timeline['t'][-1]:.0f} ms")
print(f"NumPy arrays, sampled peak:           {timeline['peak_numpy'] / 2**20:7.2f} MiB")
print(f"everything tracemalloc sees, exact:   {traced_peak / 2**20:7.2f} MiB")
print(f"what the recorder accounts for, exact: {exact['peak_bytes'] / 2**20:6.2f} MiB, in {exact['phase']}:")
for category, nbytes in sorted(exact["by_category"].items(), key=lambda kv: -kv[1]):
    print(f"    {category:<16}{nbytes / 2**20:7.2f} MiB")
print(f"process RSS: {timeline['rss'][0] / 2**20:.1f} MiB at the start, sampled peak {timeline['peak_rss'] / 2**20:.1f} MiB")
timeline_figure(timeline).update_layout(width=820, height=380, title="sampled while the step ran").show()
figures.memory.timeline(events, title="the same step as the recorder saw it: live bytes by category, event by event").show()

# %% [markdown]
# ## Reflect

# %%
table = best.table("op")
top = table[0]
conv_share = sum(r["total_ms"] for r in table if r["name"] == "Conv2d") / (1e3 * best.op_seconds)
heavy = [p for p in points if p["name"] in ("Conv2d", "Linear")]
light = [p for p in points if p["name"] not in ("Conv2d", "Linear")]
print(
    f"1. slowest: {top['name']} {top['phase']}, {top['total_ms'] / (1e3 * best.op_seconds):.0%} of the op time; "
    f"all convolutions together {conv_share:.0%}; the ops are {best.op_seconds / best.wall:.0%} of the step's wall time"
)
print(f"2. backward / forward: {time_ratio:.2f}x the time, {flop_ratio:.2f}x the FLOPs")
print(
    f"3. Conv2d and Linear: {min(p['intensity'] for p in heavy):.1f} FLOP/B or more, {min(p['gflops'] for p in heavy):.1f} to {max(p['gflops'] for p in heavy):.1f} GFLOP/s; "
    f"the other ops: {max(p['intensity'] for p in light):.2f} FLOP/B or less, at most {max(p['gflops'] for p in light):.2f} GFLOP/s; "
    f"ridge {peaks['ridge_flops_per_byte']:.2f} FLOP/B, peak {peaks['gflops']:.1f} GFLOP/s"
)
print(
    f"4. the first block's slowest line: {top_line['function']}, {top_line['source'].strip()}; "
    f"matrix products {matmul_share:.0%} of its ops' time"
)
print(
    f"5. memory peak: recorded {exact['peak_bytes'] / 2**20:.1f} MiB (activations {exact['by_category'].get('activation', 0) / 2**20:.1f} MiB, "
    f"parameters {exact['by_category'].get('parameter', 0) / 2**20:.1f} MiB); tracemalloc {traced_peak / 2**20:.1f} MiB; RSS {timeline['peak_rss'] / 2**20:.0f} MiB"
)

# %% [markdown]
# **1. Where is the bottleneck?** In the convolutions (line 1): they do nearly all the FLOPs of the
# step, and their im2col matrix products, forward and above all backward, take most of its time.
# The rest (batch norm, ReLU, pooling, the optimizer's updates) is cheap per element but not free.
# The ops' share of the wall time says what the Python between them costs: with a small batch the
# framework's overhead per op weighs more; with a large one the arithmetic dominates. To train
# faster, make the convolution's matrix products faster (more BLAS threads, a better layout) before
# anything else.
#
# **2. Is backward twice the forward?** Measure it (line 2). For each convolution and linear layer,
# backward does two products the size of the forward's (the input's gradient and the weight's), so
# the FLOP ratio is close to two; the first convolution needs no gradient for the images, which
# pulls it down. The time ratio follows the FLOPs only roughly: the backward products have other
# shapes (a transposed im2col matrix, a sum over the whole batch for the weight's gradient) that run
# at another speed, and folding the columns' gradient back onto the image is memory traffic with no
# FLOPs counted at all.
#
# **3. Compute-bound or memory-bound?** The roofline (line 3): convolutions and linear layers do
# many FLOPs per byte, above the ridge, so the arithmetic units limit them, and only they can come
# near the measured peak (the larger the batch, the higher their intensity). Batch norm, ReLU,
# pooling and the updates do a handful of FLOPs per element they move: their intensity is low, at or
# below the ridge, so bandwidth sets their speed, however few FLOPs they do. Making them faster
# means moving fewer bytes (fusing them with the op before, as tinytorch's fused batch norm does for
# its own steps), not computing faster.
#
# **4. Which line?** The line profile (line 4) lands on single NumPy calls: a matrix product, or a
# pass over a whole activation (a reduction, a mask, a copy). The Python around them costs next to
# nothing. The first block is where the two compete: its convolution has only three input channels,
# so its matrix product is small, while its activations are the largest of the network (full
# resolution, 32 channels), so the element-wise passes over them weigh as much or more. Later blocks
# turn this around: more channels, smaller images.
#
# **5. Where does the memory go?** At the peak of a step (line 5), the activations saved for backward
# are the largest category: they grow with the batch, the parameters do not. tracemalloc's exact
# peak is higher than what the recorder attributes, because an op's scratch arrays (the im2col
# columns, intermediate results freed before the op returns) and the Python objects of the run live
# where no category can see them. The RSS is larger still: the interpreter, the libraries, and memory
# NumPy has freed but the allocator keeps. Profile the step that matters (the real batch size), more
# than once: a busy machine shows up as noise, which is why the tables above keep each op's best.
