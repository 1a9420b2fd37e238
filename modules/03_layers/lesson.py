# %% [markdown]
# # Lesson 03 · Layers
#
# A layer is some learnable numbers, its **parameters**, and a `forward` that uses them. PyTorch
# splits the two: `nn.Module` does the bookkeeping (finding every parameter of a model, naming
# them, handing them to the optimizer), and each layer does its own arithmetic. `nn.Linear`,
# `y = x W^T + b`, is the layer that holds nearly all the parameters of an MLP.
#
# - **Build**: PyTorch's initialisation of `Linear`; `Linear` itself; your own small `Module` whose
#   `parameters()` finds every parameter of a model by attribute assignment; and `Sequential`.
# - **Use**: the 1986 milestone MLP (3072-512-256-10) built from your pieces, then from
#   tinytorch's, trained on CIFAR-10: the same weights, the same losses.
# - **Understand**: how many bytes the parameters take, against the activations one training step
#   keeps, measured with the recorder for several batch sizes; the graph of your `Linear` against
#   tinytorch's fused one; why the initial weights are scaled by `1/sqrt(fan_in)`; and what happens
#   to parameters a `Module` cannot see.
# - **Reflect**: the lesson's systems questions, answered from those measurements.
#
# Fill in every `raise NotImplementedError()` in the Build part, run the cell, then run the check
# cell under it: a check says what it expected and what it got. `tinytorch check 3` runs every
# check, and a few more tests, on your notebook.

# %%
import math
import os
import tempfile
import time

import numpy as np
import plotly.graph_objects as go

import tinytorch as tt
from tinytorch import nn
from tinytorch.creation import default_generator  # the generator tt.manual_seed seeds
from tinytorch.nn import Parameter

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: fewer images and steps, so the notebook runs in seconds
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### 1. PyTorch's initialisation
#
# `nn.Linear(in_features, out_features)` holds `weight` of shape `(out_features, in_features)` and
# `bias` of shape `(out_features,)`. PyTorch fills the weight with `kaiming_uniform_(a=sqrt(5))`:
# uniform on `(-bound, bound)` with `bound = gain * sqrt(3 / fan_in)` and
# `gain = sqrt(2 / (1 + a^2)) = sqrt(1/3)`, which simplifies to `bound = 1 / sqrt(fan_in)`;
# `fan_in` is `in_features`, the number of inputs each output adds up. The bias is uniform on the
# same interval. (A uniform on `(-b, b)` has variance `b^2 / 3`: here `1 / (3 fan_in)`.)
#
# Fill a given `weight` and `bias` (tinytorch `Parameter`s, `bias` may be `None`) in place, with
# numbers drawn from tinytorch's generator, `default_generator().uniform(low, high, shape)`: the
# weight first, then the bias, exactly as tinytorch does, so that after `tt.manual_seed(0)` your
# layer and `nn.Linear` start from the same numbers. Write into the arrays (`weight.data[...] = ...`):
# initialisation is not part of any gradient.


# %%
def init_linear_(weight, bias=None):
    """PyTorch's Linear init, in place: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.shape[1]."""
    ### BEGIN SOLUTION
    fan_in = weight.shape[1]
    bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
    generator = default_generator()
    weight.data[...] = generator.uniform(-bound, bound, weight.shape)
    if bias is not None:
        bias.data[...] = generator.uniform(-bound, bound, bias.shape)
    ### END SOLUTION


# %% tags=["check"]
# Check: init_linear_ draws what nn.Linear draws after the same seed, within +-1/sqrt(fan_in)
weight, bias = Parameter(np.zeros((4, 3), np.float32)), Parameter(np.zeros(4, np.float32))
tt.manual_seed(0)
init_linear_(weight, bias)
tt.manual_seed(0)
theirs = nn.Linear(3, 4)
assert np.array_equal(weight.data, theirs.weight.data), (
    f"the weight should be nn.Linear's\n{theirs.weight.data}\nbut is\n{weight.data}"
)
assert np.array_equal(bias.data, theirs.bias.data), f"the bias should be nn.Linear's {theirs.bias.data}, but is {bias.data}"
assert weight.dtype == np.float32, f"the weight should stay float32, but is {weight.dtype}"
big = Parameter(np.zeros((256, 1024), np.float32))
init_linear_(big)
bound, spread = 1 / math.sqrt(1024), big.data.std()
assert np.abs(big.data).max() <= bound, (
    f"every weight should lie within 1/sqrt(1024) = {bound:.4f}, max is {np.abs(big.data).max():.4f}"
)
assert abs(spread - bound / math.sqrt(3)) < 1e-3, (
    f"the weights' std should be bound / sqrt(3) = {bound / math.sqrt(3):.4f}, but is {spread:.4f}"
)
print(f"ok: a (256, 1024) weight: bound {bound:.4f}, std {spread:.4f}")

# %% [markdown]
# ### 2. `Linear`
#
# Now the layer, on tinytorch's `nn.Module` (you write your own `Module` in the next step). In
# `__init__`, make the weight `(out_features, in_features)` and the bias `(out_features,)` as
# float32 `Parameter`s (`Parameter(np.empty(shape, np.float32))`: a tensor that requires grad and
# that the module registers when you assign it to an attribute), or `self.bias = None` when
# `bias=False`, then initialise them with `init_linear_`. `forward` is `x @ W^T + b`, written
# with tinytorch's operators so autograd sees it; `x` may have any number of leading dims
# (`(..., in_features) -> (..., out_features)`); the bias broadcasts over them.


# %%
class Linear(nn.Module):
    """y = x W^T + b, W of shape (out_features, in_features), initialised as PyTorch does."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        ### BEGIN SOLUTION
        self.weight = Parameter(np.empty((out_features, in_features), np.float32))
        self.bias = Parameter(np.empty(out_features, np.float32)) if bias else None
        init_linear_(self.weight, self.bias)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        out = x @ self.weight.T  # (..., in) @ (in, out) -> (..., out)
        return out if self.bias is None else out + self.bias  # (out,) broadcast over the leading dims
        ### END SOLUTION

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


# %% tags=["check"]
# Check: Linear starts as nn.Linear does, computes x W^T + b for any leading dims, and gets the same gradients
tt.manual_seed(0)
ours = Linear(3, 4)
tt.manual_seed(0)
theirs = nn.Linear(3, 4)
names = [name for name, _ in ours.named_parameters()]
assert names == ["weight", "bias"], f"Linear's parameters should be ['weight', 'bias'], but are {names}"
assert ours.weight.shape == (4, 3), f"Linear(3, 4).weight should have shape (4, 3) (out, in), but has {ours.weight.shape}"
assert np.array_equal(ours.weight.data, theirs.weight.data), "after the same seed, the weight should be nn.Linear's"
for shape in ((5, 3), (2, 5, 3)):
    x = tt.tensor(rng.standard_normal(shape).astype(np.float32))
    got, want = ours(x), theirs(x)
    assert got.shape == want.shape, f"Linear(3, 4) of shape {shape} should have shape {want.shape}, but has {got.shape}"
    assert np.allclose(got.data, want.data, atol=1e-6), (
        f"Linear(3, 4) of shape {shape} should be\n{want.data}\nbut is\n{got.data}"
    )
    got.sum().backward()
    want.sum().backward()
for name in ("weight", "bias"):
    g, w = getattr(ours, name).grad.data, getattr(theirs, name).grad.data
    assert np.allclose(g, w, atol=1e-5), f"d/d {name} should be nn.Linear's\n{w}\nbut is\n{g}"
plain = Linear(3, 4, bias=False)
assert plain.bias is None and len(list(plain.parameters())) == 1, "Linear(3, 4, bias=False) should have a weight only"
print("ok:", ours)

# %% [markdown]
# ### 3. Your own `Module`
#
# How does `model.parameters()` find every weight of a model? By watching attribute assignment.
# `Module.__setattr__` runs on every `self.name = value`: a `Parameter` is filed in
# `self._parameters`, a module in `self._modules`, and the attribute is set as usual in both cases
# (`object.__setattr__(self, name, value)`: the normal way, which does not call `__setattr__`
# again). Then `named_parameters()` yields this module's own parameters under their names, then
# each submodule's under `"submodule_name.their_name"`, recursively: `"0.weight"`, `"fc.bias"`,
# `"block.fc.weight"`. A tensor may be reachable twice (tied weights): yield it once, under its
# first name.
#
# Count as a module both your own `TinyModule`s and tinytorch's `nn.Module`s (your `Linear` is
# one): both have `named_parameters()`. Assigning anything else to a name drops what was filed
# under it. The rest (`parameters`, `zero_grad`, `__call__`) is given.


# %%
class TinyModule:
    """nn.Module's bookkeeping, small: parameters and submodules are found by attribute assignment."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})  # name -> Parameter
        object.__setattr__(self, "_modules", {})  # name -> TinyModule or nn.Module

    def __setattr__(self, name, value):
        ### BEGIN SOLUTION
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, (TinyModule, nn.Module)):
            self._modules[name] = value
        object.__setattr__(self, name, value)
        ### END SOLUTION

    def named_parameters(self):
        """(dotted name, parameter): this module's own, then each submodule's; each tensor once."""
        ### BEGIN SOLUTION
        seen = set()
        own = self._parameters.items()
        nested = ((f"{prefix}.{name}", p) for prefix, module in self._modules.items() for name, p in module.named_parameters())
        for name, p in (*own, *nested):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p
        ### END SOLUTION

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self):
        return iter(())  # a TinyModule has no buffers (the recorder asks for them)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def __call__(self, *args):
        return self.forward(*args)


# %% tags=["check"]
# Check: TinyModule finds the same parameters, under the same names, as tinytorch's nn.Module
class Inner(TinyModule):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)  # a tinytorch module inside yours
        self.scale = Parameter(np.ones(3, np.float32))


class Outer(TinyModule):
    def __init__(self):
        super().__init__()
        self.gain = Parameter(np.ones(1, np.float32))
        self.block = Inner()
        self.head = nn.Linear(3, 1)
        self.tied = self.head.weight  # the same tensor again: listed once
        self.note = "not a parameter"


class InnerRef(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.scale = nn.Linear(2, 3), Parameter(np.ones(3, np.float32))


class OuterRef(nn.Module):
    def __init__(self):
        super().__init__()
        self.gain, self.block, self.head = Parameter(np.ones(1, np.float32)), InnerRef(), nn.Linear(3, 1)
        self.tied = self.head.weight


ours, theirs = Outer(), OuterRef()
got, want = [n for n, _ in ours.named_parameters()], [n for n, _ in theirs.named_parameters()]
assert got == want, f"named_parameters() should give {want} (as nn.Module), but gives {got}"
assert ours.block.fc is ours._modules["block"]._modules["fc"], "attributes should still work: ours.block.fc"
assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters()), "parameter counts differ"
ours.gain = None  # no longer a parameter
assert "gain" not in dict(ours.named_parameters()), "assigning None to gain should drop it from the parameters"
print("ok:", got)

# %% [markdown]
# ### 4. `Sequential`
#
# The milestone MLPs are `nn.Sequential(...)`: layers applied one after the other. Register each
# layer as a submodule named by its position, `"0"`, `"1"`, ... (so the parameters are
# `"0.weight"`, `"0.bias"`, `"2.weight"`, ... as in PyTorch; `setattr(self, name, layer)` goes
# through your `__setattr__`), and let `forward` pass `x` through them in order.


# %%
class Sequential(TinyModule):
    """Modules applied in order, registered as "0", "1", ... as in nn.Sequential."""

    def __init__(self, *layers):
        super().__init__()
        ### BEGIN SOLUTION
        for i, layer in enumerate(layers):
            setattr(self, str(i), layer)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        for layer in self._modules.values():
            x = layer(x)
        return x
        ### END SOLUTION

    def __getitem__(self, i):
        return self._modules[str(i)]

    def __iter__(self):
        return iter(self._modules.values())

    def __len__(self):
        return len(self._modules)


# %% tags=["check"]
# Check: Sequential names its layers' parameters as nn.Sequential does and computes the same output
layers = [nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)]  # tinytorch's layers: this checks Sequential alone
ours, theirs = Sequential(*layers), nn.Sequential(*layers)
got, want = [n for n, _ in ours.named_parameters()], [n for n, _ in theirs.named_parameters()]
assert got == want, f"Sequential's parameter names should be {want}, but are {got}"
x = tt.tensor(rng.standard_normal((5, 4)).astype(np.float32))
assert np.allclose(ours(x).data, theirs(x).data), "Sequential(*layers)(x) should equal nn.Sequential(*layers)(x)"
assert ours[2] is layers[2], "ours[2] should be the third layer"
print("ok:", got)

# %% [markdown]
# ## Use
#
# The 1986 milestone (`examples/mlp_1986_cifar10.py`, `tinytorch milestone mlp_1986_cifar10`):
# Rumelhart, Hinton and Williams' backpropagation trains a multi-layer perceptron 3072-512-256-10
# with ReLU on CIFAR-10's raw pixels. Real data: the CIFAR-10 test batch (one file of the
# official "python version", quick to load), under `$TINYTORCH_DATA` or
# `~/.cache/tinytorch/datasets`; `CIFAR10(download=True)` fetches it. We train on most of it and
# hold the rest out (a lesson run, not a benchmark). Without it this lesson makes random images,
# so every cell still runs, and says so.

# %%
from tinytorch.datasets import CIFAR10, DatasetError

try:
    cifar = CIFAR10(train=False)
    images, labels, source = cifar.data, cifar.targets, "CIFAR-10 test batch"
except DatasetError as e:
    print(f"CIFAR-10 is not on this machine, so this lesson uses random images instead.\n  ({e})")
    images, labels = rng.integers(0, 256, (10000, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 10000)
    source = "random images (CIFAR-10 not found)"
if FAST:
    images, labels = images[:2500], labels[:2500]
flat = images.transpose(0, 3, 1, 2).reshape(len(images), 3 * 32 * 32).astype(np.float32) / 255  # (N, 32, 32, 3) -> (N, 3072)
pixels = (flat - flat.mean(axis=0)) / (flat.std(axis=0) + 1e-6)  # per-pixel mean 0, std 1
held_out = len(pixels) // 5
train_x, train_y = pixels[:-held_out], labels[:-held_out]
test_x, test_y = tt.tensor(pixels[-held_out:]), labels[-held_out:]
print(f"{source}: {len(train_x)} images to train on, {held_out} held out, each a row of {pixels.shape[1]} numbers")

# %% [markdown]
# The milestone twice: from **your** `Sequential` and `Linear`, then from **tinytorch's**, each
# after `tt.manual_seed(0)`, so they start from the same weights. Both train with the milestone's
# optimizer (SGD, momentum 0.9) on the same mini-batches; `tt.optim.SGD` only needs
# `model.parameters()`, which your `TinyModule` provides.

# %%
steps, batch = (20, 64) if FAST else (250, 128)


def milestone(linear, sequential):
    tt.manual_seed(0)
    return sequential(
        linear(3072, 512),  # (N, 3072) -> (N, 512)
        nn.ReLU(),
        linear(512, 256),  # (N, 256)
        nn.ReLU(),
        linear(256, 10),  # (N, 10) class scores
    )


def train(model, steps=steps, seed=0):
    """SGD with momentum on mini-batches; returns the losses and the seconds per step."""
    order = np.random.default_rng(seed)
    optimizer = tt.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
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


yours, theirs = milestone(Linear, Sequential), milestone(nn.Linear, nn.Sequential)
same_start = all(np.array_equal(p.data, q.data) for p, q in zip(yours.parameters(), theirs.parameters()))
print(f"same initial weights: {same_start}")
ours_losses, ours_seconds = train(yours)
tt_losses, tt_seconds = train(theirs)
gap = max(abs(a - b) for a, b in zip(ours_losses, tt_losses))
print(f"{steps} steps of SGD, batch {batch}")
print(
    f"yours:     loss {ours_losses[0]:.3f} -> {np.mean(ours_losses[-5:]):.3f}, accuracy {accuracy(yours):.1%}, {1e3 * ours_seconds:.1f} ms/step"
)
print(
    f"tinytorch: loss {tt_losses[0]:.3f} -> {np.mean(tt_losses[-5:]):.3f}, accuracy {accuracy(theirs):.1%}, {1e3 * tt_seconds:.1f} ms/step"
)
print(f"largest difference between the two loss curves: {gap:.1e} (chance accuracy: {1 / 10:.0%})")
assert same_start and gap < 1e-3, "the same weights and the same batches should give the same losses"

fig = go.Figure()
fig.add_trace(go.Scatter(y=tt_losses, name="tinytorch's layers", line=dict(color="black")))
fig.add_trace(go.Scatter(y=ours_losses, name="your layers", line=dict(color="orange", dash="dot", width=3)))
fig.update_layout(width=620, height=320, margin=dict(l=10, r=10, t=40, b=10), title="The 1986 MLP on CIFAR-10: training loss")
fig.update_xaxes(title_text="step").update_yaxes(title_text="cross-entropy")
fig.show()

# %% [markdown]
# ## Understand
#
# ### Where the parameters are
#
# Each `Linear(in, out)` holds `in * out` weights and `out` biases, float32: four bytes each. Your
# `named_parameters()` lists them:

# %%
param_rows = [(name, tuple(p.shape), p.numel(), p.data.nbytes) for name, p in yours.named_parameters()]
param_count, param_bytes = sum(r[2] for r in param_rows), sum(r[3] for r in param_rows)
for name, shape, count, nbytes in param_rows:
    print(f"{name:10} {str(shape):12} {count:>10,} numbers {nbytes / 2**20:8.3f} MiB  ({count / param_count:.1%})")
print(f"{'total':10} {'':12} {param_count:>10,} numbers {param_bytes / 2**20:8.3f} MiB")
first_layer_share = param_rows[0][2] / param_count

# %% [markdown]
# ### The graph of your layer and of tinytorch's
#
# Your `forward` is three ops: a transpose (a view, no copy), a matrix multiply and an add.
# tinytorch's `Linear` is one fused op whose backward produces `dW` directly in `W`'s
# `(out, in)` layout. Parameters are drawn as badges on the op that uses them, named from the
# model (`named_parameters()`, yours or tinytorch's), so here are both graphs on a batch of four
# images:

# %%
from tinytorch.viz import draw_graph

few_x, few_y = tt.tensor(train_x[:4]), tt.tensor(train_y[:4])
draw_graph(nn.functional.cross_entropy(yours(few_x), few_y), model=yours, title="your layers: x @ W.T + b")

# %%
draw_graph(nn.functional.cross_entropy(theirs(few_x), few_y), model=theirs, title="tinytorch's layers: one fused Linear op each")

# %% [markdown]
# Same arithmetic, different cost. The profiler (`tinytorch.perf.Profile`) times each op of one
# forward and backward of both models on the same batch, and the wall time of the whole (the
# fastest of a few repeats, since a busy machine only ever adds time). Backward through your
# `x @ W.T` yields the weight's gradient as the transpose of an `(in, out)` array; the engine
# stores `.grad` in `W`'s own `(out, in)` layout, a strided copy that happens outside any op, so
# the op times miss it and the wall time shows it. The fused op computes `dW = dy^T x` directly
# as `(out, in)`.

# %%
from tinytorch.perf import Profile


def step_profile(model, x, y, repeats=5):
    """The Profile of one forward + backward with the shortest wall time of `repeats`."""
    best = None
    for _ in range(repeats):
        model.zero_grad()
        with Profile() as prof:
            nn.functional.cross_entropy(model(x), y).backward()
        if best is None or prof.wall < best.wall:
            best = prof
    return best


prof_x, prof_y = tt.tensor(train_x[:batch]), tt.tensor(train_y[:batch])
profiles = {"yours": step_profile(yours, prof_x, prof_y), "tinytorch": step_profile(theirs, prof_x, prof_y)}
for name, prof in profiles.items():
    print(f"{name:9} layers, batch {batch}: {1e3 * prof.wall:.2f} ms wall, {1e3 * prof.op_seconds:.2f} ms of it in ops")
    for row in prof.table()[:3]:
        print(f"    {row['name']:8} {row['phase']:9} {row['calls']:3} calls {row['total_ms']:8.2f} ms")
layer_time_ratio = profiles["yours"].wall / profiles["tinytorch"].wall
outside_ops = {name: prof.wall - prof.op_seconds for name, prof in profiles.items()}
print(
    f"outside ops (the engine, gradient copies): yours {1e3 * outside_ops['yours']:.2f} ms, tinytorch's {1e3 * outside_ops['tinytorch']:.2f} ms"
)

# %% [markdown]
# ### Parameters against activations, recorded
#
# A training step needs more than the parameters. Backward needs what forward computed: each op
# saves its inputs or outputs (the **activations**), and those grow with the batch; the
# parameters do not. `tinytorch.record` tags every buffer a traced step allocates (parameter,
# gradient, optimizer state, activation, input, temporary) and `inspector.figures.memory` draws
# them as the inspector's Memory page does. One recorded run of the milestone, one traced step per
# batch size:

# %%
from inspector import figures

batch_sizes = [16, 64, 256, 1024] if FAST else [16, 64, 256, 1024, 2048]
logdir = tempfile.mkdtemp(prefix="lesson03-")
model = milestone(nn.Linear, nn.Sequential)
optimizer = tt.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
with tt.record(f"{logdir}/mlp-1986", model=model, optimizer=optimizer, trace_steps=range(len(batch_sizes))) as run:
    for b in batch_sizes:
        loss = nn.functional.cross_entropy(model(tt.tensor(train_x[:b])), tt.tensor(train_y[:b]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.step(loss)
reader = run.reader()
memory = {}  # batch size -> the largest live bytes of each category during its step
for step, b in enumerate(batch_sizes):
    totals = figures.memory.replay(reader.memory_events(step))["totals"]  # (events, categories)
    memory[b] = {c: int(totals[:, i].max()) for i, c in enumerate(figures.CATEGORIES)}
print(
    f"{'batch':>6}{'parameters':>12}{'gradients':>11}{'momentum':>10}{'activations':>13}{'input':>10}  (MiB, the most live at once)"
)
for b, m in memory.items():
    print(
        f"{b:>6}{m['parameter'] / 2**20:12.2f}{m['gradient'] / 2**20:11.2f}{m['optimizer_state'] / 2**20:10.2f}"
        f"{m['activation'] / 2**20:13.2f}{m['input'] / 2**20:10.2f}"
    )
figures.memory.timeline(
    reader.memory_events(len(batch_sizes) - 1), title=f"one recorded step, batch {batch_sizes[-1]}: live bytes by category"
).show()

# %% [markdown]
# The activations this MLP saves per image are the outputs of its two ReLUs (which the next
# `Linear` reads again) and the loss's log-probabilities; the first `Linear` also keeps the input
# batch itself. The recorder's numbers grow in a straight line with the batch; a fit gives the
# bytes per image, and the batch size beyond which the step's saved tensors outweigh the whole
# model.

# %%
sizes = np.array(batch_sizes, dtype=np.float64)
per_image, _ = np.polyfit(sizes, [memory[b]["activation"] for b in batch_sizes], 1)
per_image_input, _ = np.polyfit(sizes, [memory[b]["activation"] + memory[b]["input"] for b in batch_sizes], 1)
expected_per_image = (512 + 256 + 10) * 4  # the two ReLUs' outputs and the log-probabilities, float32
crossover = param_bytes / per_image_input
print(f"activations per image: {per_image:,.0f} B measured; (512 + 256 + 10) x 4 = {expected_per_image:,} B expected")
print(f"with the saved input batch: {per_image_input:,.0f} B per image")
print(f"parameters: {param_bytes / 2**20:.2f} MiB, so the saved tensors outweigh them beyond a batch of {crossover:,.0f} images")
model_state = [memory[b]["parameter"] + memory[b]["gradient"] + memory[b]["optimizer_state"] for b in batch_sizes]
colors = figures.CATEGORY_COLORS
fig = go.Figure()
fig.add_trace(
    go.Scatter(
        x=batch_sizes, y=[memory[b]["parameter"] for b in batch_sizes], name="parameters", line=dict(color=colors["parameter"])
    )
)
fig.add_trace(
    go.Scatter(x=batch_sizes, y=model_state, name="parameters + gradients + momentum", line=dict(color=colors["optimizer_state"]))
)
fig.add_trace(
    go.Scatter(
        x=batch_sizes,
        y=[memory[b]["activation"] for b in batch_sizes],
        name="activations",
        line=dict(color=colors["activation"], dash="dot"),
    )
)
fig.add_trace(go.Scatter(x=batch_sizes, y=[memory[b]["activation"] + memory[b]["input"] for b in batch_sizes], name="activations + input batch",
                         line=dict(color=colors["activation"], width=3)))  # fmt: skip
fig.add_vline(x=crossover, line=dict(color="#888", dash="dash"))
fig.add_annotation(
    x=np.log10(crossover), y=1, yref="paper", text="saved = parameters ", showarrow=False, xanchor="right"
)  # log axis: log10
fig.update_layout(width=620, height=340, margin=dict(l=10, r=10, t=40, b=10), title="Most bytes live at once during a step")
fig.update_xaxes(title_text="batch size", type="log").update_yaxes(title_text="bytes", type="log")
fig.show()

# %% [markdown]
# ### Why `1/sqrt(fan_in)`?
#
# Each output of a `Linear` adds up `fan_in` products, so its variance is about
# `fan_in * Var(w) * E[x^2]`: with weights of variance 1 it grows by a factor of order `fan_in`
# at every layer. Scaling the weights by `1/sqrt(fan_in)` keeps it of order 1. The constant
# matters too: ReLU zeroes half its inputs, so a ReLU network needs `Var(w) = 2 / fan_in` to keep
# the variance exactly (He, or Kaiming, initialisation); PyTorch's default `1 / (3 fan_in)` lets
# it shrink by a constant factor at every layer. Measured on real images, through a deep stack of
# `Linear(512, 512)` and ReLU:

# %%
deep = 8 if FAST else 12


def standard_normal_(w):
    w.data[...] = default_generator().standard_normal(w.shape)


inits = {
    "N(0, 1)": standard_normal_,
    "PyTorch's default, U(+-1/sqrt(fan_in))": init_linear_,
    "Kaiming, N(0, 2/fan_in)": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
}
spread = {}
for name, init in inits.items():
    tt.manual_seed(0)
    layers = [Linear(3072, 512)] + [Linear(512, 512) for _ in range(deep - 1)]
    h, stds = tt.tensor(train_x[:256]), []
    with tt.no_grad():
        for layer in layers:
            init(layer.weight)
            layer.bias.data[...] = 0  # the weights alone decide the scale
            h = layer(h).relu()
            stds.append(float(h.data.std()))
    spread[name] = stds
fig = go.Figure([go.Scatter(x=list(range(1, deep + 1)), y=s, name=name, mode="lines+markers") for name, s in spread.items()])
fig.update_layout(
    width=680, height=340, margin=dict(l=10, r=10, t=40, b=10), title="Standard deviation of the activations, layer by layer"
)
fig.update_xaxes(title_text="layer").update_yaxes(title_text="std after ReLU", type="log", exponentformat="e")
fig.show()
for name, s in spread.items():
    print(
        f"{name:40} layer 1: {s[0]:9.3g}   layer {deep}: {s[-1]:9.3g}   factor per layer: {(s[-1] / s[0]) ** (1 / (deep - 1)):.3f}"
    )

# %% [markdown]
# ### Parameters a `Module` cannot see
#
# `parameters()` finds only what `__setattr__` filed. Layers kept in a plain Python list are
# invisible to it: the optimizer never gets them and they never learn (PyTorch has
# `nn.ModuleList` for this). The same MLP twice, its hidden layers in a list and in a registered
# `Sequential`, trained a few steps:


# %%
class ListMLP(TinyModule):
    def __init__(self, hidden):
        super().__init__()
        self.hidden = hidden  # a Python list: not a module, so nothing in it is filed
        self.head = Linear(512, 10)

    def forward(self, x):
        for layer in self.hidden:
            x = layer(x).relu()
        return self.head(x)


class RegisteredMLP(ListMLP):
    def __init__(self, hidden):
        super().__init__(hidden)
        self.hidden = Sequential(*hidden)  # a module: its layers' parameters are found


def hidden_layers():
    tt.manual_seed(0)
    return [Linear(3072, 512), Linear(512, 512)]


seen, changed = {}, {}
for name, make in (("list", ListMLP), ("Sequential", RegisteredMLP)):
    model = make(hidden_layers())
    before = model.hidden[0].weight.data.copy()
    seen[name] = (len(list(model.parameters())), sum(p.numel() for p in model.parameters()))
    train(model, steps=5)
    changed[name] = float(np.abs(model.hidden[0].weight.data - before).max())
    print(
        f"hidden layers in a {name:10}: parameters() finds {seen[name][0]} tensors, {seen[name][1]:,} numbers; first layer's largest change after 5 steps: {changed[name]:.2e}"
    )

# %% [markdown]
# ## Reflect
#
# The answers below lean on the measurements printed by the cell under this one; run the notebook
# on your machine and the numbers are yours.

# %%
print(
    f"1. parameters {param_count:,} numbers, {param_bytes / 2**20:.2f} MiB (the first Linear holds {first_layer_share:.0%}); with SGD momentum, parameters + gradients + momentum = {sum(memory[batch_sizes[-1]][k] for k in ('parameter', 'gradient', 'optimizer_state')) / param_bytes:.0f}x the parameters"
)
print(
    f"   saved per image: {per_image_input:,.0f} B (input included); they outweigh the parameters beyond a batch of {crossover:,.0f}"
)
print(
    "2. activation std from layer 1 to layer "
    + f"{deep}: "
    + "; ".join(f"{name}: {s[0]:.3g} -> {s[-1]:.3g}" for name, s in spread.items())
)
print(
    f"3. parameters() with the layers in a list: {seen['list'][1]:,} numbers, in a Sequential: {seen['Sequential'][1]:,}; largest change of the listed layer: {changed['list']:.1e}"
)

print(
    f"4. one forward and backward through your layers took {layer_time_ratio:.1f}x the wall time of tinytorch's fused Linear ({1e3 * outside_ops['yours']:.1f} against {1e3 * outside_ops['tinytorch']:.1f} ms outside ops); the training steps in Use {ours_seconds / tt_seconds:.1f}x"
)

# %% [markdown]
# **1. Where does the MLP's memory go, parameters or activations?** Line 1: nearly all the
# parameters sit in the first `Linear`, whose weight has one column per input pixel. That cost is
# fixed; training multiplies it (a gradient and a momentum buffer per parameter). The activations
# are paid per image: the ReLU outputs and log-probabilities the next ops need in backward, plus
# the input batch the first layer keeps to compute `dW`. Small batches cost little beside the
# model; beyond the crossover batch size the step's saved tensors outweigh all its parameters,
# and for wide convolutional networks and transformers, whose activations per example are far
# larger, the activations dominate at ordinary batch sizes. This is why memory-saving tricks
# (recomputing activations, smaller batches with gradient accumulation) target activations.
#
# **2. Why scale the initial weights by `1/sqrt(fan_in)`?** Line 2: with unscaled weights each
# layer multiplies the activations' spread by about `sqrt(fan_in / 2)` (ReLU keeps half of the
# second moment), so it grows geometrically: a few dozen such layers overflow float32, and the
# gradients with them. Scaled by `1/sqrt(fan_in)`, the spread changes by a constant factor per
# layer instead. The constant decides the rest: PyTorch's default variance `1 / (3 fan_in)` makes
# that factor about `sqrt(1/6)` in a ReLU network, a shrink that a shallow MLP tolerates (its
# biases and the optimizer soon rescale things), while Kaiming's `2 / fan_in` keeps the spread
# steady through any depth, which deep ReLU networks need.
#
# **3. Why must a layer be registered?** Line 3: `parameters()` is not magic; it lists what
# `__setattr__` filed. Layers in a plain list are not found, so the optimizer never updates them:
# the network trains only its head and nothing warns you. The same applies to saving
# (`state_dict`), moving and counting a model. Hold submodules in attributes, `Sequential`,
# `ModuleList` or `ModuleDict`.
#
# **4. Why does tinytorch fuse `Linear` into one op?** Line 4: the matrix products are the same,
# but your version is three ops, and backward through `x @ W.T` produces the weight's gradient in
# the transposed layout, which the engine copies, element by strided element, into `W`'s layout:
# time the op profile cannot see, because it is spent between ops. The fused op computes
# `dW = dy^T x` directly as `(out, in)`, folds any leading dims into one matrix multiply, and adds
# the bias in place. Fusing is worth it where an op runs in every layer of every step; for
# everything else, composing primitives keeps the code small, which is the framework's rule.
