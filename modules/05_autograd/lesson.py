# %% [markdown]
# # Lesson 05 · Autograd
#
# Every op in tinytorch is one small class with its forward and its backward side by side, in
# PyTorch's words: `forward(ctx, ...)` computes and saves what the gradient will need
# (`ctx.save_for_backward`), `backward(ctx, grad_output)` turns the gradient of the output into
# gradients of the inputs (the chain rule, one op at a time). Calling `Op.apply(...)` links a node
# into the **autograd graph**; `loss.backward()` walks that graph from the loss to the leaves.
#
# - **Build**: two ops of your own (`MyMul`, `MyExp`), checked against finite differences with
#   `tinytorch.autograd.gradcheck` and against tinytorch's ops; then the engine: a topological
#   sort and a `backward` that fills `.grad`, checked against tinytorch's `loss.backward()`.
# - **Use**: train a small MLP on two interleaved spirals with your engine, then with tinytorch's.
# - **Understand**: the graph drawn inline (micrograd's example with values and gradients, then an
#   MLP's step, forward and backward), how many nodes it has, what each saves and what that
#   costs, and the memory of one step as the inspector records it.
# - **Reflect**: why backward costs about twice the forward, and what `retain_graph` keeps.
#
# Prerequisites: lesson 01 (tensors, broadcasting) and the chain rule. Fill in every
# `raise NotImplementedError()`, run the cell and the check under it; `tinytorch check 5` runs
# every check and more tests on your notebook.

# %%
import os
import tempfile
import time
from collections import Counter

import numpy as np
import plotly.graph_objects as go

import tinytorch as tt
from tinytorch import Function, nn
from tinytorch.autograd import AccumulateGrad, gradcheck, unbroadcast

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: fewer points and steps, so the notebook runs in seconds
rng = np.random.default_rng(0)


def f64(*shape):
    """A random float64 leaf that requires grad: gradcheck's finite differences need float64."""
    return tt.tensor(rng.standard_normal(shape), requires_grad=True)


# %% [markdown]
# ## Build
#
# ### 1. Multiplication, forward and backward
#
# For `z = a * b`, the chain rule gives `dL/da = dL/dz * b` and `dL/db = dL/dz * a`. So forward
# must keep `a` and `b` for backward: `ctx.save_for_backward(a, b)`, read back as
# `ctx.saved_tensors`. Both methods work on NumPy arrays. Return the gradients at the shape of
# `grad_output`: if `a` was broadcast, tinytorch's engine sums the gradient back to `a`'s shape
# (`unbroadcast`, the one place broadcasting is undone), so each backward stays textbook.
#
# Defining a `Function` subclass registers it by name in `tinytorch.OPS`, the table the recorder and
# profiler read; the first line forgets an earlier definition, so the cell can run again.

# %%
tt.OPS.pop("MyMul", None)


class MyMul(Function):
    """z = a * b;  dz/da = b, dz/db = a"""

    @staticmethod
    def forward(ctx, a, b):
        ### BEGIN SOLUTION
        ctx.save_for_backward(a, b)
        return a * b
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        a, b = ctx.saved_tensors
        return grad_output * b, grad_output * a
        ### END SOLUTION


# %% tags=["check"]
# Check: MyMul computes a * b, passes gradcheck, and gives tinytorch's gradients (with broadcasting)
a, b = f64(3, 1), f64(1, 4)
z = MyMul.apply(a, b)
assert z.shape == (3, 4), f"MyMul.apply of (3, 1) and (1, 4) should have shape (3, 4), but has {z.shape}"
assert np.allclose(z.data, a.data * b.data), f"MyMul.apply(a, b) should be a * b =\n{a.data * b.data}\nbut is\n{z.data}"
assert gradcheck(MyMul.apply, [a, b])  # raises GradcheckError saying which entry differs
(MyMul.apply(a, b) ** 2).sum().backward()
ours = a.grad.data.copy(), b.grad.data.copy()
a.grad = b.grad = None
((a * b) ** 2).sum().backward()
assert np.allclose(ours[0], a.grad.data), f"d/da should be tinytorch's\n{a.grad.data}\nbut is\n{ours[0]}"
assert np.allclose(ours[1], b.grad.data), f"d/db should be tinytorch's\n{b.grad.data}\nbut is\n{ours[1]}"
print("ok: MyMul's gradients match finite differences and tinytorch's Mul")

# %% [markdown]
# ### 2. The exponential
#
# `d exp(x)/dx = exp(x)`: the output itself. So save the *output* (not the input): backward then
# costs one multiply and no second `exp`. What an op saves is a memory decision; the Understand
# part adds it up.

# %%
tt.OPS.pop("MyExp", None)


class MyExp(Function):
    """y = exp(x);  dy/dx = exp(x) = y"""

    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (y,) = ctx.saved_tensors
        return grad_output * y
        ### END SOLUTION


# %% tags=["check"]
# Check: MyExp computes exp, passes gradcheck, and gives tinytorch's gradient
x = f64(2, 3)
assert np.allclose(MyExp.apply(x).data, np.exp(x.data)), "MyExp.apply(x) should be np.exp(x)"
assert gradcheck(MyExp.apply, [x])
MyExp.apply(MyMul.apply(x, x)).sum().backward()
ours, x.grad = x.grad.data.copy(), None
(x * x).exp().sum().backward()
assert np.allclose(ours, x.grad.data), f"d/dx sum(exp(x * x)) should be tinytorch's\n{x.grad.data}\nbut is\n{ours}"
print("ok: MyExp's gradient matches finite differences and tinytorch's Exp")

# %% [markdown]
# ### 3. The order of the walk
#
# Every tensor made by an op has a `grad_fn`: the op's node (the `ctx` of its forward). A node's
# `next_functions` holds, for each input, the node that made it: another op's node, an
# `AccumulateGrad` node for a leaf that requires grad (its `.variable` is the leaf), or `None` for
# a constant. Backward must reach a node only after every node that uses its output, so first
# list the nodes in **topological order**: each node after all the nodes it depends on, each once,
# the root last.
#
# Write it without recursion: Python stops at about a thousand nested calls, and a long
# unrolled loop makes graphs deeper than that. A stack of `(node, children_done)` pairs does it:
# the first time you pop a node, push it back marked done and push its parents; when you pop it
# marked done, every parent is already in the list.


# %%
def topo_sort(root):
    """The nodes reachable from root through next_functions, each once, every node after its inputs' nodes."""
    ### BEGIN SOLUTION
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for parent in node.next_functions:
            if parent is not None and id(parent) not in seen:
                stack.append((parent, False))
    return order
    ### END SOLUTION


# %% tags=["check"]
# Check: topo_sort lists each node once, after its inputs, the same nodes as tinytorch's graph, even 3000 deep
a, b = f64(2), f64(2)
e = a * b
loss = (e.exp() + e * a).sum()  # e and a are used twice: fan-out (tinytorch's ops, so this checks topo_sort alone)
order = topo_sort(loss.grad_fn)
position = {id(node): i for i, node in enumerate(order)}
assert len(position) == len(order), "topo_sort lists a node more than once"
assert order[-1] is loss.grad_fn, "the root (loss.grad_fn) should come last"
for node in order:
    for parent in node.next_functions:
        if parent is not None:
            assert position[id(parent)] < position[id(node)], f"{parent} should come before {node}, which uses it"
expected = {id(n.node) for n in tt.autograd.graph(loss)}
assert set(position) == expected, f"topo_sort found {len(position)} nodes, tinytorch's graph has {len(expected)}"
deep = f64(1)
for _ in range(3000):
    deep = deep * 1.0
assert len(topo_sort(deep.grad_fn)) == 3001, "a chain of 3000 multiplications has 3001 nodes (and the leaf's)"
print(f"ok: {len(order)} nodes, in order:", [n.name for n in order])

# %% [markdown]
# ### 4. The engine
#
# Now `backward(tensor)`: start with `d tensor / d tensor = 1` (an array of ones) at the root, and
# visit the nodes in reverse topological order. At each op node, hand its accumulated gradient to
# `node.backward(node, grad)` (a single array or a tuple, one per input); for each input that has
# a node, sum the gradient back to the input's shape with `unbroadcast(grad, shape)`
# (`node.input_meta` holds each input's `(shape, dtype)`) and *add* it to what that node has
# received so far: a tensor used twice gets both contributions. At an `AccumulateGrad` node, add
# the gradient into the leaf's `.grad` (a `tt.Tensor`; it may already hold one).
#
# Finally, what forward saved is needed no more: unless `retain_graph=True`, set each node's
# `saved_tensors` to `None` after its backward, which frees that memory, as tinytorch does.


# %%
def backward(tensor, retain_graph=False):
    """Fill .grad of every leaf that tensor depends on with d tensor / d leaf (tensor: a scalar)."""
    ### BEGIN SOLUTION
    grads = {id(tensor.grad_fn): np.ones_like(tensor.data)}  # d tensor / d tensor = 1
    for node in reversed(topo_sort(tensor.grad_fn)):
        grad = grads.pop(id(node), None)
        if grad is None:
            continue  # no gradient reaches this node
        if isinstance(node, AccumulateGrad):
            leaf = node.variable
            leaf.grad = tt.Tensor(grad.copy()) if leaf.grad is None else tt.Tensor(leaf.grad.data + grad)
            continue
        input_grads = node.backward(node, grad)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for parent, input_grad, (shape, dtype) in zip(node.next_functions, input_grads, node.input_meta):
            if parent is None or input_grad is None:
                continue
            input_grad = unbroadcast(np.asarray(input_grad), shape).astype(dtype, copy=False)
            grads[id(parent)] = grads[id(parent)] + input_grad if id(parent) in grads else input_grad
        if not retain_graph:
            node.saved_tensors = None  # free what forward kept for us
    ### END SOLUTION


# %% tags=["check"]
# Check: backward gives tinytorch's gradients (fan-out, broadcasting, an MLP) and frees saved tensors
w, bias, x = f64(3, 2), f64(2), f64(4, 3)
loss = (((x @ w + bias) * w.sum()).exp() * x.sum(dim=1, keepdim=True)).sum()  # tinytorch's ops: this checks backward alone
backward(loss, retain_graph=True)
ours = [t.grad.data.copy() for t in (w, bias, x)]
w.grad = bias.grad = x.grad = None
loss.backward()
for name, mine, t in zip(("w", "bias", "x"), ours, (w, bias, x)):
    assert np.allclose(mine, t.grad.data), f"d loss/d {name} should be tinytorch's\n{t.grad.data}\nbut is\n{mine}"
model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
loss = nn.functional.cross_entropy(model(tt.randn(5, 2)), tt.tensor([0, 1, 1, 0, 1]))
backward(loss, retain_graph=True)
ours = [p.grad.data.copy() for p in model.parameters()]
model.zero_grad()
loss.backward(retain_graph=True)
for (name, p), mine in zip(model.named_parameters(), ours):
    assert np.allclose(mine, p.grad.data, atol=1e-6), (
        f"the MLP's {name}.grad should be tinytorch's\n{p.grad.data}\nbut is\n{mine}"
    )
backward(loss)
assert all(n.node.saved_tensors is None for n in tt.autograd.graph(loss) if n.op == "Linear"), (
    "backward(loss) without retain_graph should set each node's saved_tensors to None"
)
print("ok: your engine agrees with tinytorch's on", [n.op for n in tt.autograd.graph(loss)])

# %% [markdown]
# ## Use
#
# Two interleaved spirals (`tinytorch.datasets.spirals`, no download): no line separates them, so
# the network must bend its decision boundary. A small MLP trains on all the points at every
# step, first with **your** `backward(loss)`, then from the same starting weights with tinytorch's
# `loss.backward()`. Same graph, same gradients: the two loss curves must coincide.

# %%
from tinytorch.datasets import spirals

points = spirals(n=200 if FAST else 1000, turns=1.5, noise=0.05, seed=0)
x_all, y_all = tt.tensor(points.data), tt.tensor(points.targets)  # (N, 2) float32, (N,) int64
steps = 60 if FAST else 500


def make_model():
    tt.manual_seed(0)  # the same initial weights every time
    return nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))


def train(engine):
    """Full-batch Adam on the spirals; engine(loss) fills the gradients. Returns the model, losses, seconds."""
    model = make_model()
    optimizer = tt.optim.Adam(model.parameters(), lr=0.02)
    losses, start = [], time.perf_counter()
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x_all), y_all)
        optimizer.zero_grad()
        engine(loss)
        optimizer.step()
        losses.append(loss.item())
    return model, losses, time.perf_counter() - start


def accuracy(model):
    with tt.no_grad():
        return float((model(x_all).argmax(dim=1) == y_all).float().mean().item())


ours_model, ours_losses, ours_seconds = train(backward)
tt_model, tt_losses, tt_seconds = train(lambda loss: loss.backward())
gap = max(abs(p - q) for p, q in zip(ours_losses, tt_losses))
print(f"{len(points.data)} points, {steps} steps of full-batch Adam")
print(
    f"your engine:      loss {ours_losses[0]:.3f} -> {ours_losses[-1]:.4f}, accuracy {accuracy(ours_model):.1%}, {1e3 * ours_seconds / steps:.2f} ms/step"
)
print(
    f"tinytorch engine: loss {tt_losses[0]:.3f} -> {tt_losses[-1]:.4f}, accuracy {accuracy(tt_model):.1%}, {1e3 * tt_seconds / steps:.2f} ms/step"
)
print(f"largest difference between the two loss curves: {gap:.2e}")
assert gap < 1e-4, "the same gradients should give the same training curve"

# %%
grid = np.linspace(-1.3, 1.3, 80, dtype=np.float32)
gx, gy = np.meshgrid(grid, grid)
with tt.no_grad():
    logits = tt_model(tt.tensor(np.stack([gx.ravel(), gy.ravel()], axis=1)))  # (80 * 80, 2)
    p1 = logits.softmax(dim=1)[:, 1].numpy().reshape(gx.shape)
fig = go.Figure(go.Contour(x=grid, y=grid, z=p1, colorscale="RdBu_r", opacity=0.6, contours=dict(start=0, end=1, size=0.1)))
for label, color in ((0, "#2166ac"), (1, "#b2182b")):
    mask = points.targets == label
    fig.add_trace(
        go.Scatter(
            x=points.data[mask, 0],
            y=points.data[mask, 1],
            mode="markers",
            marker=dict(size=4, color=color),
            name=f"class {label}",
        )
    )
fig.add_trace(go.Scatter(y=tt_losses, xaxis="x2", yaxis="y2", name="loss (tinytorch)", line=dict(color="black")))
fig.add_trace(go.Scatter(y=ours_losses, xaxis="x2", yaxis="y2", name="loss (yours)", line=dict(color="orange", dash="dot")))
fig.update_layout(
    width=820, height=380, margin=dict(l=10, r=10, t=40, b=10), title="P(class 1) over the plane, and the loss per step",
    xaxis=dict(domain=[0, 0.48]), yaxis=dict(scaleanchor="x"), xaxis2=dict(domain=[0.58, 1], title="step"), yaxis2=dict(anchor="x2", type="log"),
)  # fmt: skip
fig.show()

# %% [markdown]
# ## Understand
#
# ### The graph of micrograd's example
#
# Andrej Karpathy's micrograd draws `L = (a * b + c) * f` with every value and gradient. tinytorch
# draws any graph the same way (`tinytorch.viz.draw_graph`): small tensors show their data and, after
# a backward, their gradient. Your `MyMul` appears under its own name: it is a node like any other.
# (`retain_graph=True` keeps what the nodes saved, for the backward view below.)

# %%
from tinytorch.viz import draw_graph

a, b, c, f = (tt.tensor(v, requires_grad=True) for v in (2.0, -3.0, 10.0, -2.0))
for t, name in ((a, "a"), (b, "b"), (c, "c"), (f, "f")):
    t.name = name
L = MyMul.apply(MyMul.apply(a, b) + c, f)
L.backward(retain_graph=True)
print(f"L = {L.item()}; dL/da = {a.grad.item()}, dL/db = {b.grad.item()}, dL/dc = {c.grad.item()}, dL/df = {f.grad.item()}")
draw_graph(L, title="L = (a * b + c) * f")

# %% [markdown]
# The backward view turns the arrows around: gradients flow from `L` to the leaves, and each op is
# drawn as its backward with the shapes of what it saved.

# %%
draw_graph(L, direction="backward", title="backward: what each node saved")

# %% [markdown]
# ### The graph of one training step
#
# The MLP's loss on a batch of spirals is a graph too. Parameters are drawn as badges on the op
# that uses them (named from the model), so the picture keeps to the computation. First forward,
# then the backward view, drawn before `backward()` frees the saved tensors.

# %%
batch = 64
mlp = make_model()
step_loss = nn.functional.cross_entropy(mlp(x_all[:batch]), y_all[:batch])
draw_graph(step_loss, model=mlp, title=f"MLP forward, batch {batch}")

# %%
draw_graph(step_loss, model=mlp, direction="backward", title="MLP backward: each op and what it saved")

# %% [markdown]
# How many nodes is that, and what does each keep alive until backward? `tinytorch.autograd.graph`
# lists the nodes with their saved arrays; the table adds up the bytes. Saved arrays are often
# other nodes' outputs (a `Linear` keeps its input, which is the `Tanh` before it's output), so the
# unique buffers are counted too.


# %%
def saved_table(loss):
    """Per op type: nodes, saved arrays' shapes and bytes; and the bytes of unique saved buffers."""
    rows, unique = {}, {}
    for n in tt.autograd.graph(loss):
        saved = () if n.op == "AccumulateGrad" else [s for s in n.node.saved_tensors or () if s is not None]  # None: not needed
        row = rows.setdefault(n.op, {"nodes": 0, "bytes": 0, "shapes": set()})
        row["nodes"] += 1
        row["bytes"] += sum(s.nbytes for s in saved)
        row["shapes"].update(str(tuple(s.shape)) for s in saved)
        for s in saved:
            owner = s if s.base is None else s.base
            unique[id(owner)] = owner.nbytes
    return rows, sum(unique.values())


rows, unique_saved = saved_table(step_loss)
node_count = sum(r["nodes"] for r in rows.values())
saved_bytes = sum(r["bytes"] for r in rows.values())
param_bytes = sum(p.data.nbytes for p in mlp.parameters())
print(f"{'op':<16}{'nodes':>6}{'saved bytes':>13}  saved shapes")
for op, r in rows.items():
    print(f"{op:<16}{r['nodes']:>6}{r['bytes']:>13,}  {', '.join(sorted(r['shapes'])) or '-'}")
print(
    f"{node_count} nodes ({Counter(n.op for n in tt.autograd.graph(step_loss))['AccumulateGrad']} of them leaves' AccumulateGrad)"
)
print(f"saved for backward: {saved_bytes:,} B ({unique_saved:,} B in unique buffers); the parameters: {param_bytes:,} B")

# %% [markdown]
# ### One step as the inspector records it
#
# `tinytorch.record` writes what a training step did (every op, every buffer's life, tagged
# parameter, gradient, optimizer state, activation, ...) into a run that `tinytorch-inspector`
# shows; its pictures are plain Plotly figures (`inspector.figures`), so they render here too.
# Watch activations pile up during forward and drop as backward consumes them.

# %%
from inspector import figures

logdir = tempfile.mkdtemp(prefix="lesson05-")
model = make_model()
optimizer = tt.optim.Adam(model.parameters(), lr=0.02)
with tt.record(f"{logdir}/spirals", model=model, optimizer=optimizer, trace_steps=(0,)) as run:
    loss = nn.functional.cross_entropy(model(x_all), y_all)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    run.step(loss)
reader = run.reader()
figures.memory.timeline(reader.memory_events(0), title="one recorded step: live bytes by category").show()
print(f"the run is in {run.path}: `tinytorch-inspector {logdir}` opens it in the browser")

# %% [markdown]
# ### What backward costs
#
# The profiler (`tinytorch.perf.Profile`) times every op of a few training steps, phase by phase
# (forward, backward, the optimizer's update), and counts their floating-point operations from
# the formula declared next to each op.

# %%
from tinytorch.perf import Profile

tt.manual_seed(0)
profiled = nn.Sequential(
    nn.Linear(2, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 2)
)  # wider: arithmetic, not Python, dominates
sgd = tt.optim.SGD(profiled.parameters(), lr=0.1)
with Profile() as prof:
    for _ in range(5):  # whole steps: forward, backward, the optimizer's update
        loss = nn.functional.cross_entropy(profiled(x_all), y_all)
        sgd.zero_grad()
        loss.backward()
        sgd.step()
by_phase = {p: {"flops": 0, "seconds": 0.0} for p in ("forward", "backward")}
for event in prof.events:
    if event.phase in by_phase:
        by_phase[event.phase]["flops"] += event.flops
        by_phase[event.phase]["seconds"] += event.seconds
flop_ratio = by_phase["backward"]["flops"] / by_phase["forward"]["flops"]
time_ratio = by_phase["backward"]["seconds"] / by_phase["forward"]["seconds"]
print(prof.text(top=8))
print(f"backward / forward: {flop_ratio:.2f}x the FLOPs, {time_ratio:.2f}x the time")

# %% [markdown]
# ### What `retain_graph` keeps
#
# After `backward()`, tinytorch frees every node's saved tensors: the graph is spent. With
# `retain_graph=True` they stay, and a second backward through the same graph works (and adds
# to `.grad` again).


# %%
def saved_now(loss):
    return sum(
        sum(s.nbytes for s in (n.node.saved_tensors or ()) if s is not None)
        for n in tt.autograd.graph(loss)
        if n.op != "AccumulateGrad"
    )


mlp = make_model()
loss = nn.functional.cross_entropy(mlp(x_all), y_all)
retained = {"before backward": saved_now(loss)}
loss.backward(retain_graph=True)
retained["after backward(retain_graph=True)"] = saved_now(loss)
loss.backward()
retained["after a second backward()"] = saved_now(loss)
for when, nbytes in retained.items():
    print(f"saved tensors {when}: {nbytes:,} B")
try:
    loss.backward()
except RuntimeError as e:
    second_error = str(e)
    print("a third backward:", second_error)

# %% [markdown]
# ## Reflect

# %%
print(f"1. backward did {flop_ratio:.2f}x the forward's FLOPs and took {time_ratio:.2f}x its time")
print(
    f"2. one step's graph: {node_count} nodes; saved for backward {saved_bytes:,} B ({unique_saved:,} B unique), parameters {param_bytes:,} B"
)
print(
    f"3. retain_graph=True kept {retained['after backward(retain_graph=True)']:,} B; a plain backward() left {retained['after a second backward()']:,} B"
)

# %% [markdown]
# **1. Why does backward cost about twice the forward?** Most of the work is in the `Linear`
# layers: forward computes `y = x W^T + b`, one matrix product. Backward needs two of the same
# size, `dL/dx = dL/dy W` for the layer below and `dL/dW = dL/dy^T x` for the weights, so its
# FLOPs are about double (line 1 above, counted from each op's declared formulas). The first
# layer's input needs no gradient, so it skips one product: the ratio stays just under 2.
# Element-wise ops add about one multiply per input that needs a gradient. The time ratio is
# measured, not assumed: it follows the FLOP ratio when large matrix products dominate (the wide
# model profiled here), and drifts from it when Python's overhead per op dominates (small
# tensors), when some product shapes run slower in BLAS than others, or when the machine is busy.
# Profile twice before you trust a timing.
#
# **2. What does the graph hold, and for how long?** Every op node keeps what its backward needs
# (line 2): `Linear` its input (and weights), `Tanh` its output, cross-entropy its probabilities.
# These are the *activations*, and for large batches they dwarf the parameters: memory of
# training grows with batch size and depth, not just with model size. The recorded timeline shows
# them rising through forward and released during backward.
#
# **3. What does `retain_graph` keep?** The saved tensors (line 3): without it, backward frees each
# node's saved arrays as soon as it has used them, so a second backward through the same graph
# fails with the message printed above. Keep the graph only when you really need two backward
# passes through it (two losses sharing a trunk, higher-order gradients); otherwise sum the losses
# and call backward once.
