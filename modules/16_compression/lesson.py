# %% [markdown]
# # Lesson 16 · Compression
#
# A trained network has more parameters than it needs. Three ways to need fewer:
# **pruning** sets the least important weights to zero (and keeps them zero while training goes
# on), a **low-rank factorisation** replaces a weight matrix by the product of two thin ones, and
# **distillation** trains a small student to imitate a large teacher's softened predictions.
#
# - **Build**: a magnitude mask; pruning a layer with a mask that stays applied through optimizer
#   steps; the truncated SVD of a weight as two factors; the distillation loss, each checked against
#   `tinytorch.compress`.
# - **Use**: a Fashion-MNIST MLP trained here, pruned with your pieces and fine-tuned, then the same
#   with `tinytorch.compress.prune_magnitude`: the same weights after the same steps.
# - **Understand**: accuracy against sparsity (right after pruning, and after fine-tuning), where
#   global pruning takes its weights, what the zeros save in bytes and in time, parameters against
#   rank and the error of the factorisation, and a distilled student against one trained on labels.
# - **Reflect**: how far pruning goes, what sparsity saves and what it does not, when low rank pays,
#   and what a teacher adds.
#
# Prerequisites: lessons 03 (`Linear`), 05 (autograd, gradient hooks) and 06 (optimizers). Fill in
# every `raise NotImplementedError()`, run the cell and the check under it; `tinytorch check 16`
# runs every check and more tests on your notebook.

# %%
import os
import sys

if "numpy" not in sys.modules:  # BLAS fixes its thread count when NumPy loads: one thread, unless you set another
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # (steadier timings; threads fighting a busy machine are slow)

import time

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import tinytorch as tt
from tinytorch import compress, nn
from tinytorch.autograd import gradcheck

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: a slice of the data, short training and fine-tuning
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### 1. Which weights go: a magnitude mask
#
# Magnitude pruning assumes a weight close to 0 matters little. To prune the fraction `amount` of a
# weight, keep all but the `k = round(amount * size)` entries of smallest `|w|`: return a boolean
# mask of `w`'s shape, `True` where the weight is kept. `np.argpartition(scores, k - 1)[:k]` finds
# the `k` smallest without sorting everything (and `k = 0` prunes nothing).


# %%
def magnitude_mask(weight, amount):
    """A bool mask of weight's shape: False at the round(amount * size) entries of smallest |w|."""
    ### BEGIN SOLUTION
    scores = np.abs(weight).ravel()
    k = round(amount * scores.size)
    keep = np.ones(scores.size, bool)
    if k:
        keep[np.argpartition(scores, k - 1)[:k]] = False  # the k smallest |w|
    return keep.reshape(weight.shape)
    ### END SOLUTION


# %% tags=["check"]
# Check: magnitude_mask removes the smallest weights, exactly as tinytorch's per-layer pruning does
tt.manual_seed(0)
layer = nn.Linear(30, 20)
w = layer.weight.data.copy()
mask = magnitude_mask(w, 0.7)
assert mask.dtype == bool and mask.shape == (20, 30), (
    f"the mask should be bool of shape (20, 30), but is {mask.dtype} {mask.shape}"
)
assert (~mask).sum() == 420, f"70% of 600 weights is 420 pruned entries, but the mask prunes {(~mask).sum()}"
assert np.abs(w[~mask]).max() <= np.abs(w[mask]).min(), "every pruned |w| should be below every kept one"
compress.prune_magnitude(layer, 0.7, scope="layer")
assert np.array_equal(mask, layer.weight_mask.data), "the mask should be the one tinytorch's prune_magnitude chose"
assert magnitude_mask(w, 0.0).all(), "amount 0 should keep everything"
print(f"ok: pruned {(~mask).sum()} of {mask.size}: every |w| below {np.abs(w[mask]).min():.4f}")

# %% [markdown]
# ### 2. Pruning that stays pruned
#
# Zeroing weights once is not enough: the next optimizer step moves them again. Make the zeros stay:
#
# 1. write the zeros into the weight (`layer.weight.data`, in place);
# 2. register a **gradient hook** on the weight (`layer.weight.register_hook(fn)`): autograd calls
#    `fn(grad)` with the weight's gradient (a `Tensor`) before adding it to `.grad`, and uses what
#    `fn` returns instead; return the gradient with the pruned entries set to 0.
#
# Then every update of a pruned entry is made of zeros: SGD's `lr * g`, its momentum `b m + g`
# (which starts at 0), weight decay `wd * w`, Adam's `m / (sqrt(v) + eps)`. (An optimizer that
# already holds momentum for the layer needs that zeroed too; `tinytorch.compress.prune_magnitude`
# does it when given the optimizer.) Return the mask.


# %%
def prune_layer(layer, amount):
    """Prune the fraction `amount` of layer.weight by magnitude, for good: zeros now, zero gradients later."""
    ### BEGIN SOLUTION
    mask = magnitude_mask(layer.weight.data, amount)
    layer.weight.data[~mask] = 0
    layer.weight.register_hook(lambda grad: tt.Tensor(np.where(mask, grad.data, 0).astype(grad.dtype)))
    return mask
    ### END SOLUTION


# %% tags=["check"]
# Check: pruned weights stay exactly 0 through SGD with momentum and weight decay, as with tinytorch's pruning
def pruned_and_trained(prune):
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3))
    prune(model)
    optimizer = tt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    x, y = tt.randn(32, 12), tt.randint(0, 3, (32,))
    for _ in range(5):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


ours = pruned_and_trained(lambda m: [prune_layer(m[i], 0.6) for i in (0, 2)])
theirs = pruned_and_trained(lambda m: compress.prune_magnitude(m, 0.6, scope="layer"))
for i in (0, 2):
    w, want = ours[i].weight.data, theirs[i].weight.data
    zeros, pruned = int((w == 0).sum()), round(0.6 * w.size)
    assert zeros >= pruned, f"layer {i}: {zeros} weights are 0 after 5 steps; the {pruned} pruned ones should have stayed 0"
    assert np.allclose(w, want, atol=1e-6), f"layer {i}'s weights after 5 steps should be those of tinytorch's pruned model"
print(
    f"ok: after 5 steps of SGD, {(ours[0].weight.data == 0).mean():.0%} and {(ours[2].weight.data == 0).mean():.0%} of the weights are still 0"
)

# %% [markdown]
# ### 3. Low rank: two thin matrices for one wide one
#
# The singular value decomposition writes a weight `W (out, in) = U S V^T`, with the singular values
# `s_1 >= s_2 >= ...` on the diagonal of `S`. Keeping the `r` largest, `W_r = U_r S_r V_r^T`, is the
# best rank-`r` approximation (Eckart-Young), with relative error
# `||W - W_r|| / ||W|| = sqrt(sum_{i>r} s_i^2 / sum_i s_i^2)`.
#
# As layers: `x -> x V_r sqrt(S_r)` (a `Linear(in, r)` with weight `first = sqrt(S_r) V_r^T`, shape
# `(r, in)`, no bias) then `-> U_r sqrt(S_r)` (a `Linear(r, out)` with weight `second = U_r sqrt(S_r)`,
# shape `(out, r)`, and the old bias). `r (in + out)` weights instead of `in * out`. Write the two
# factors with `np.linalg.svd(w, full_matrices=False)` (in float64, returned as the weight's dtype);
# building the layers is given.


# %%
def svd_factors(w, rank):
    """(first (rank, in), second (out, rank)) with second @ first the best rank-`rank` approximation of w (out, in)."""
    ### BEGIN SOLUTION
    u, s, vt = np.linalg.svd(w.astype(np.float64), full_matrices=False)  # (out, k), (k,), (k, in)
    root = np.sqrt(s[:rank])
    first = root[:, None] * vt[:rank]  # (rank, in)
    second = u[:, :rank] * root  # (out, rank)
    return first.astype(w.dtype), second.astype(w.dtype)
    ### END SOLUTION


def factorize(linear, rank):
    """Sequential(Linear(in, rank, bias=False), Linear(rank, out)) computing x W_r^T + b."""
    first, second = svd_factors(linear.weight.data, rank)
    thin_in, thin_out = nn.Linear(linear.in_features, rank, bias=False), nn.Linear(rank, linear.out_features)
    thin_in.weight.data[...], thin_out.weight.data[...] = first, second
    thin_out.bias.data[...] = linear.bias.data
    return nn.Sequential(thin_in, thin_out)


# %% tags=["check"]
# Check: svd_factors gives the best rank-r approximation (tinytorch's low_rank), with the predicted error
tt.manual_seed(0)
layer = nn.Linear(40, 24)
x = tt.randn(8, 40)
for rank in (1, 5, 24):
    first, second = svd_factors(layer.weight.data, rank)
    assert first.shape == (rank, 40) and second.shape == (24, rank), (
        f"rank {rank}: shapes should be ({rank}, 40) and (24, {rank}), not {first.shape} and {second.shape}"
    )
    theirs = compress.low_rank(layer, rank)
    want = theirs[1].weight.data @ theirs[0].weight.data  # (24, r) @ (r, 40)
    assert np.allclose(second @ first, want, atol=1e-5), (
        f"rank {rank}: second @ first should be tinytorch's rank-{rank} approximation"
    )
    error = np.linalg.norm(layer.weight.data - second @ first) / np.linalg.norm(layer.weight.data)
    predicted = compress.svd_tail_error(layer.weight, rank)
    assert abs(error - predicted) < 1e-5, (
        f"rank {rank}: the relative error should be sqrt(tail / total) = {predicted:.5f}, but is {error:.5f}"
    )
    with tt.no_grad():
        assert np.allclose(factorize(layer, rank)(x).numpy(), theirs(x).numpy(), atol=1e-5), (
            f"rank {rank}: the factored layer's output"
        )
print(f"ok: rank 5 keeps {5 * (40 + 24)} of {40 * 24} weights with relative error {compress.svd_tail_error(layer.weight, 5):.3f}")

# %% [markdown]
# ### 4. The distillation loss
#
# A teacher's logits say more than its top class: which wrong classes look alike. Distillation
# (Hinton, Vinyals and Dean, 2015) trains the student on the teacher's probabilities softened by a
# **temperature** `T > 1`, `p_t = softmax(teacher / T)`, `p_s = softmax(student / T)`, mixed with
# the usual cross-entropy on the labels:
#
# `loss = alpha T^2 KL(p_t || p_s) + (1 - alpha) cross_entropy(student, targets)`,
#
# with `KL(p_t || p_s) = sum_c p_t (log p_t - log p_s)` summed over classes and averaged over the
# batch. The soft term's gradient shrinks as `1 / T^2`, and the `T^2` keeps it the same size whatever
# `T` is. Write it with tinytorch's differentiable ops (`log_softmax(dim=1)`, `exp`, `sum`, `mean`,
# `nn.functional.cross_entropy`), so autograd gives the backward; no gradient may reach the
# teacher (`detach()`).


# %%
def distill_loss(student_logits, teacher_logits, targets, T=4.0, alpha=0.9):
    """alpha T^2 KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) cross_entropy(student, targets)."""
    ### BEGIN SOLUTION
    log_p_teacher = (teacher_logits.detach() / T).log_softmax(dim=1)  # (N, C)
    log_p_student = (student_logits / T).log_softmax(dim=1)  # (N, C)
    kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim=1).mean()
    return alpha * T * T * kl + (1 - alpha) * nn.functional.cross_entropy(student_logits, targets)
    ### END SOLUTION


# %% tags=["check"]
# Check: distill_loss is tinytorch's distillation_loss, value and gradient, and the teacher gets no gradient
student = tt.tensor(rng.standard_normal((6, 5)), requires_grad=True)  # float64, for gradcheck
teacher = tt.tensor(rng.standard_normal((6, 5)) * 3, requires_grad=True)
targets = tt.tensor([0, 1, 2, 3, 4, 0])
for T, alpha in ((4.0, 0.9), (1.0, 0.5), (2.0, 0.0)):
    ours = distill_loss(student, teacher, targets, T, alpha)
    want = compress.distillation_loss(student, teacher, targets, T, alpha)
    assert np.isclose(ours.item(), want.item()), (
        f"T={T}, alpha={alpha}: the loss should be {want.item():.6f}, but is {ours.item():.6f}"
    )
assert gradcheck(lambda s: distill_loss(s, teacher, targets), [student])
distill_loss(student, teacher, targets).backward()
assert teacher.grad is None, "no gradient should flow into the teacher's logits (detach them)"
ours_grad, student.grad = student.grad.data.copy(), None
compress.distillation_loss(student, teacher, targets).backward()
assert np.allclose(ours_grad, student.grad.data), "the gradient for the student's logits should be tinytorch's"
print(f"ok: loss {distill_loss(student, teacher, targets).item():.4f} at T=4, alpha=0.9; the same gradient as tinytorch's")

# %% [markdown]
# ## Use
#
# Real data: Fashion-MNIST, normalised with the training images' mean and standard deviation. The
# model is the Fashion-MNIST milestone's MLP, `784-256-128-10` with ReLU, trained here with SGD and
# momentum (with `FAST`, on a slice for a few steps, so it is less accurate). Without the dataset the
# lesson makes learnable stand-in images (ten noisy prototypes) and says so.

# %%
from tinytorch.data import DataLoader, TensorDataset
from tinytorch.datasets import DatasetError, FashionMNIST

try:
    train_set, test_set = FashionMNIST(train=True), FashionMNIST(train=False)
    train_images, train_labels = train_set.data, train_set.targets
    test_images, test_labels = test_set.data, test_set.targets
    source = "Fashion-MNIST"
except DatasetError as e:
    print(f"Fashion-MNIST is not on this machine, so this lesson uses noisy prototype images instead.\n  ({e})")
    prototypes = rng.integers(0, 256, (10, 28, 28))
    train_labels, test_labels = rng.integers(0, 10, 12000), rng.integers(0, 10, 2000)
    train_images, test_images = (np.clip(prototypes[y] + rng.normal(0, 90, (len(y), 28, 28)), 0, 255).astype(np.uint8)
                                 for y in (train_labels, test_labels))  # fmt: skip
    source = "stand-in images (Fashion-MNIST not found)"
n_train, n_test = (3000, 1000) if FAST else (len(train_images), len(test_images))
mean, std = float(train_images[:n_train].mean() / 255), float(train_images[:n_train].std() / 255)  # Python floats keep float32


def prepare(images):
    return ((images.astype(np.float32) / 255 - mean) / std).reshape(-1, 1, 28, 28)  # (N, 1, 28, 28) float32


x_train, y_train = prepare(train_images[:n_train]), train_labels[:n_train].astype(np.int64)
x_test, y_test = prepare(test_images[:n_test]), test_labels[:n_test].astype(np.int64)
print(f"{source}: {n_train} training and {n_test} test images, {x_train.dtype} {x_train.shape[1:]}")


def make_mlp():
    tt.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def accuracy(model, x=None, y=None):
    """Test accuracy (eval mode, no gradients, batches of 1000)."""
    x, y = (x_test, y_test) if x is None else (x, y)
    model.eval()
    with tt.no_grad():
        logits = np.concatenate([model(tt.tensor(x[i : i + 1000])).numpy() for i in range(0, len(x), 1000)])
    return float((logits.argmax(axis=1) == y).mean())


def train(model, steps, lr, loss_fn=None, seed=0):
    """`steps` of SGD with momentum on shuffled batches of 64 (the order fixed by seed); loss_fn(model, x, y)."""
    loss_fn = loss_fn or (lambda model, x, y: nn.functional.cross_entropy(model(x), y))
    optimizer = tt.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True, seed=seed)
    model.train()
    done = 0
    while done < steps:
        for xb, yb in loader:
            loss = loss_fn(model, xb, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    return model


train_steps = 2 * n_train // 64  # two epochs
start = time.perf_counter()
dense = train(make_mlp(), train_steps, lr=0.05)
dense_accuracy = accuracy(dense)
print(f"trained {train_steps} steps in {time.perf_counter() - start:.1f} s: test accuracy {dense_accuracy:.1%}")


def trained_copy():
    """A fresh MLP holding the trained weights (each compression starts again from them)."""
    model = make_mlp()
    model.load_state_dict(dense.state_dict())
    return model


# %% [markdown]
# ### Your pruning, then tinytorch's
#
# Each `Linear` loses 80% of its weights to `prune_layer`; the accuracy drops; a short fine-tuning
# with the masks applied wins most of it back. Then the same with
# `tinytorch.compress.prune_magnitude(model, 0.8, scope="layer")`, the same fine-tuning steps in
# the same order: the weights must come out the same.

# %%
amount, fine_tune_steps = 0.8, (20 if FAST else 300)
linear_names = [name for name, m in dense.named_modules() if isinstance(m, nn.Linear)]

start = time.perf_counter()
mine = trained_copy()
# "1", "3", "5": the Linear layers' names, their indices in the Sequential
masks = {name: prune_layer(mine[int(name)], amount) for name in linear_names}
mine_pruned_accuracy = accuracy(mine)
train(mine, fine_tune_steps, lr=0.01, seed=1)
mine_seconds = time.perf_counter() - start
still_zero = all((mine[int(name)].weight.data[~mask] == 0).all() for name, mask in masks.items())
print(f"yours:     {amount:.0%} pruned per layer: accuracy {dense_accuracy:.1%} -> {mine_pruned_accuracy:.1%}, "
      f"after {fine_tune_steps} fine-tuning steps {accuracy(mine):.1%}; pruned weights still 0: {still_zero}")  # fmt: skip

start = time.perf_counter()
theirs = compress.prune_magnitude(trained_copy(), amount, scope="layer")
theirs_pruned_accuracy = accuracy(theirs)
train(theirs, fine_tune_steps, lr=0.01, seed=1)
theirs_seconds = time.perf_counter() - start
report = compress.sparsity_report(theirs)
print(f"tinytorch: {amount:.0%} pruned per layer: accuracy {dense_accuracy:.1%} -> {theirs_pruned_accuracy:.1%}, "
      f"after {fine_tune_steps} fine-tuning steps {accuracy(theirs):.1%}; sparsity now {report[-1]['sparsity']:.1%}")  # fmt: skip
gap = max(float(np.abs(mine[int(n)].weight.data - theirs[int(n)].weight.data).max()) for n in linear_names)
print(
    f"largest difference between your fine-tuned weights and tinytorch's: {gap:.2e} ({mine_seconds:.1f} s and {theirs_seconds:.1f} s)"
)
assert still_zero and gap < 1e-4, "the same masks and the same steps should give the same weights"

# %% [markdown]
# ## Understand
#
# ### Accuracy against sparsity
#
# Global magnitude pruning (`scope="global"`: one threshold over all the layers) at growing
# amounts, each starting again from the trained weights: the test accuracy right after pruning,
# and after the same short fine-tuning with the masks kept. The dashed line is pruning each layer
# by the same amount, without fine-tuning.

# %%
amounts = [0.5, 0.8, 0.9, 0.95, 0.98] if FAST else [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99]
curve = {"pruned": [], "fine-tuned": [], "per layer, pruned": []}
for a in amounts:
    model = compress.prune_magnitude(trained_copy(), a)
    curve["pruned"].append(accuracy(model))
    curve["fine-tuned"].append(accuracy(train(model, fine_tune_steps, lr=0.01, seed=1)))
    curve["per layer, pruned"].append(accuracy(compress.prune_magnitude(trained_copy(), a, scope="layer")))
    print(f"{a:5.0%} of the weights pruned: accuracy {curve['pruned'][-1]:.1%} -> fine-tuned {curve['fine-tuned'][-1]:.1%}"
          f"   (per layer, not fine-tuned: {curve['per layer, pruned'][-1]:.1%})")  # fmt: skip

fig = go.Figure()
fig.add_trace(go.Scatter(x=[0, *amounts], y=[dense_accuracy, *curve["pruned"]], name="global, just pruned", mode="lines+markers"))
fig.add_trace(
    go.Scatter(
        x=[0, *amounts],
        y=[dense_accuracy, *curve["fine-tuned"]],
        name=f"global, + {fine_tune_steps} fine-tuning steps",
        mode="lines+markers",
    )
)
fig.add_trace(
    go.Scatter(
        x=[0, *amounts],
        y=[dense_accuracy, *curve["per layer, pruned"]],
        name="per layer, just pruned",
        mode="lines+markers",
        line=dict(dash="dash"),
    )
)
fig.add_hline(y=0.1, line=dict(color="#999", dash="dot"), annotation_text="chance")
fig.update_layout(width=760, height=360, margin=dict(l=10, r=10, t=40, b=10), title="test accuracy against the fraction of weights pruned",
                  xaxis_title="sparsity of the weights", yaxis_title="test accuracy", xaxis_tickformat=".0%", yaxis_tickformat=".0%")  # fmt: skip
fig.show()

# %% [markdown]
# ### Where global pruning takes its weights
#
# One threshold for the whole model: a layer of many small weights loses more than a layer of few
# large ones. `tinytorch.compress.sparsity_report` counts the zeros of every parameter (the biases
# are not pruned).

# %%
global_amount = 0.9
pruned90 = compress.prune_magnitude(trained_copy(), global_amount)
rows = [r for r in compress.sparsity_report(pruned90) if r["layer"].endswith("weight")]
for r in rows:
    print(f"{r['layer']:<10}{r['parameters']:>9,} weights, {r['zeros']:>9,} zero: {r['sparsity']:6.1%}")
layer_sparsity = {r["layer"]: r["sparsity"] for r in rows}
fig = go.Figure(
    go.Bar(x=[r["layer"] for r in rows], y=[r["sparsity"] for r in rows], text=[f"{r['parameters']:,} weights" for r in rows])
)
fig.update_layout(width=560, height=300, margin=dict(l=10, r=10, t=40, b=10), yaxis_tickformat=".0%",
                  title=f"sparsity per layer, {global_amount:.0%} pruned globally")  # fmt: skip
fig.show()

# %% [markdown]
# ### What the zeros save
#
# The zeros are still stored: a float32 zero costs as much as any float32. Saving bytes needs a
# sparse format; `tinytorch.compress.sparse_nbytes` builds one (one bit per entry saying whether it
# is kept, then the kept values) and measures it. While training, the mask itself is one more byte
# per weight (`remove` makes the pruning permanent and drops it). And a dense matrix multiply
# multiplies the zeros like any other number: the time of a forward pass.


# %%
def best_ms(fns, rounds=10 if FAST else 20):
    """The best time of each function in ms, measured in interleaved rounds (a busy moment hits them all alike)."""
    times = {name: [] for name in fns}
    for k in range(rounds + 1):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if k:  # round 0 warms up
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * min(t) for name, t in times.items()}


from tinytorch.quant import model_nbytes

with_masks = model_nbytes(pruned90)
compress.remove(pruned90)  # the zeros stay; the masks and hooks go
storage = {"dense, float32": model_nbytes(dense), "pruned, with its masks": with_masks, "pruned, dense float32": model_nbytes(pruned90),
           "pruned, bitmask + values": compress.sparse_nbytes(pruned90), "dense, bitmask + values": compress.sparse_nbytes(dense)}  # fmt: skip
for name, nbytes in storage.items():
    print(f"{name:<28}{nbytes:>11,} B")
batch = tt.tensor(x_test[:256])
with tt.no_grad():
    forward_ms = best_ms({"dense": lambda: dense(batch), "pruned": lambda: pruned90(batch)})
print(
    f"forward pass of {len(batch)} images: dense {forward_ms['dense']:.2f} ms, {global_amount:.0%} zeros {forward_ms['pruned']:.2f} ms"
)

# %% [markdown]
# ### Low rank: parameters against rank, and the error
#
# A weight's singular values say how much a low rank can keep. Left: the spectrum of the first
# layer's weight, trained and at its random initialisation. Middle: the relative error of the best
# rank-`r` approximation, `sqrt(tail / total)`, for each layer. Right: the whole model with every
# `Linear` that rank `r` makes smaller factorised (`tinytorch.compress.low_rank_model`, no
# fine-tuning): its parameters and its test accuracy.

# %%
ranks = [2, 4, 8, 16, 32, 64, 96]
singular = {
    "trained": np.linalg.svd(dense[1].weight.data, compute_uv=False),
    "at initialisation": np.linalg.svd(make_mlp()[1].weight.data, compute_uv=False),
}
errors = {name: [compress.svd_tail_error(dense[int(name)].weight, r) for r in ranks] for name in linear_names}
dense_parameters = sum(p.numel() for p in dense.parameters())
low_rank_rows = []
for r in ranks:
    model = trained_copy()
    layers = compress.low_rank_model(model, r)
    low_rank_rows.append(dict(rank=r, parameters=sum(p.numel() for p in model.parameters()), accuracy=accuracy(model),
                              factored=[row["layer"] for row in layers]))  # fmt: skip
    print(f"rank {r:>3}: layers {', '.join(low_rank_rows[-1]['factored']):<8} factorised, {low_rank_rows[-1]['parameters']:>7,} parameters "
          f"({low_rank_rows[-1]['parameters'] / dense_parameters:6.1%} of {dense_parameters:,}), first layer's error {errors['1'][ranks.index(r)]:.3f}, "
          f"accuracy {low_rank_rows[-1]['accuracy']:.1%}")  # fmt: skip

energy = {name: float((s[:16] ** 2).sum() / (s**2).sum()) for name, s in singular.items()}
print(
    f"the first layer's 16 largest singular values hold {energy['trained']:.1%} of its squared norm trained, "
    f"{energy['at initialisation']:.1%} at initialisation"
)

fig = make_subplots(rows=1, cols=3, subplot_titles=("singular values, first layer", "relative error of rank r", "the factorised model"),
                    specs=[[{}, {}, {"secondary_y": True}]])  # fmt: skip
for name, s in singular.items():
    fig.add_trace(go.Scatter(y=s, name=name, mode="lines"), 1, 1)
for name, e in errors.items():
    fig.add_trace(
        go.Scatter(x=ranks, y=e, name=f"layer {name} {tuple(dense[int(name)].weight.shape)}", mode="lines+markers"), 1, 2
    )
fig.add_trace(go.Scatter(x=ranks, y=[row["accuracy"] for row in low_rank_rows], name="test accuracy", mode="lines+markers"), 1, 3)
fig.add_trace(go.Scatter(x=ranks, y=[row["parameters"] for row in low_rank_rows], name="parameters", mode="lines+markers",
                         line=dict(dash="dash")), 1, 3, secondary_y=True)  # fmt: skip
fig.add_hline(y=dense_accuracy, line=dict(color="#999", dash="dot"), row=1, col=3)
fig.update_xaxes(type="log", title_text="rank r")
fig.update_xaxes(type="linear", title_text="index", row=1, col=1)
fig.update_yaxes(type="log", row=1, col=1)
fig.update_layout(width=1000, height=360, margin=dict(l=10, r=10, t=40, b=10))
fig.show()

# %% [markdown]
# ### Distillation: a small student, with and without the teacher
#
# A student `784-32-10` (about a tenth of the teacher's parameters) trained twice from the same
# initial weights on the same batches: once on the labels alone, once with your `distill_loss` on
# the trained MLP's logits (`T = 4`, `alpha = 0.9`).


# %%
def make_student():
    tt.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))


dense.eval()


def distilled(model, x, y):
    with tt.no_grad():
        teacher_logits = dense(x)
    return distill_loss(model(x), teacher_logits, y, T=4.0, alpha=0.9)


student_steps = train_steps
students = {}
for name, loss_fn in (("labels only", None), ("distilled", distilled)):
    start = time.perf_counter()
    students[name] = (
        accuracy(train(make_student(), student_steps, lr=0.05, loss_fn=loss_fn, seed=2)),
        time.perf_counter() - start,
    )
student_parameters = sum(p.numel() for p in make_student().parameters())
print(f"teacher 784-256-128-10: {dense_parameters:,} parameters, accuracy {dense_accuracy:.1%}")
for name, (acc, seconds) in students.items():
    print(
        f"student 784-32-10, {name:<12}: {student_parameters:,} parameters, accuracy {acc:.1%} after {student_steps} steps ({seconds:.1f} s)"
    )

# %% [markdown]
# ## Reflect

# %%
kept = [a for a, acc in zip(amounts, curve["fine-tuned"]) if acc >= dense_accuracy - 0.01]
just_pruned = [a for a, acc in zip(amounts, curve["pruned"]) if acc >= dense_accuracy - 0.01]
print(
    f"1. within one point of the dense accuracy ({dense_accuracy:.1%}): up to {max(just_pruned, default=0):.0%} sparsity just pruned, "
    f"{max(kept, default=0):.0%} after {fine_tune_steps} fine-tuning steps; at {amounts[-1]:.0%}: {curve['pruned'][-1]:.1%} -> {curve['fine-tuned'][-1]:.1%}"
)
print(
    f"2. {global_amount:.0%} pruned globally leaves the layers at " + ", ".join(f"{n} {s:.0%}" for n, s in layer_sparsity.items())
)
print(
    f"3. dense {storage['dense, float32']:,} B; {global_amount:.0%} pruned: {storage['pruned, dense float32']:,} B as float32, "
    f"{storage['pruned, bitmask + values']:,} B as bitmask + values; forward {forward_ms['dense']:.2f} ms dense, {forward_ms['pruned']:.2f} ms pruned"
)
good = [row for row in low_rank_rows if row["accuracy"] >= dense_accuracy - 0.01]
smallest = good[0] if good else low_rank_rows[-1]
print(
    f"4. {'the smallest rank within one point of the dense accuracy' if good else 'no rank within one point; the largest'}: {smallest['rank']}, "
    f"{smallest['parameters'] / dense_parameters:.1%} of the parameters, accuracy {smallest['accuracy']:.1%}, first layer's error "
    f"{errors['1'][ranks.index(smallest['rank'])]:.2f}; its 16 largest singular values: {energy['trained']:.0%} of the norm, "
    f"{energy['at initialisation']:.0%} at initialisation"
)
print(
    f"5. student ({student_parameters / dense_parameters:.1%} of the teacher's parameters): labels only {students['labels only'][0]:.1%}, "
    f"distilled {students['distilled'][0]:.1%}; teacher {dense_accuracy:.1%}"
)

# %% [markdown]
# **1. How much of the network can go?** Much more than intuition suggests (line 1). The weights of
# smallest magnitude contribute least to each sum, so removing them first barely moves the outputs
# until the pruning eats into weights that carry signal; then the accuracy falls off a cliff. A few
# fine-tuning steps with the masks kept let the surviving weights compensate for the lost ones,
# which moves the cliff further out. Fine-tuning is also more training: a model trained briefly, as
# here, can come out of it more accurate than it went in (the fine-tuned curve against the dense
# point). How far pruning goes depends on how over-parameterised the model is for its data: the same
# recipe on a smaller model, or a harder task, loses accuracy sooner.
#
# **2. Why does global pruning treat the layers differently?** One threshold for all the weights
# (line 2): the first layer, with most of the weights, each small because its 784 inputs share the
# work, loses the most; the classifier's few large weights are mostly kept. That is why global
# pruning usually beats pruning every layer by the same amount at high sparsity (the dashed curve
# against the solid one): it spends the zeros where they cost least. Pruning the small last layer as
# hard as the others removes weights that matter.
#
# **3. What do the zeros save?** Nothing, as long as they are stored densely (line 3): a float32 zero
# is four bytes, and during training the mask adds one more per weight. A sparse format (here a
# one-bit mask plus the kept values) turns sparsity into bytes, and pays off only above a certain
# sparsity: stored that way, the dense model grows. Time is the same story: a dense matrix multiply
# multiplies the zeros too. Speed needs sparse kernels that skip them, which pay off only at high,
# or structured, sparsity (whole rows or channels removed, `prune_structured`, shrink the matrices
# themselves).
#
# **4. When does a low rank pay?** A rank-`r` factorisation of an `(out, in)` weight has
# `r (in + out)` parameters, fewer than `in * out` only when `r < in out / (in + out)`; its error is
# fixed by the singular values it drops (middle plot). Training adds a few large directions to the
# flat spectrum of the random initialisation (line 4: the largest singular values hold more of the
# norm once trained), and those carry what the network learned; the long tail is mostly the
# initialisation's noise, which the data hardly excites. So a rank far below the full one keeps the
# accuracy although the weight's relative error looks large, and fine-tuning would recover more.
# Unlike unstructured sparsity, the saving is real at once: two smaller dense matrices, fewer bytes
# and fewer FLOPs.
#
# **5. What does the teacher add?** The soft targets carry how the teacher ranks the wrong classes (a
# shirt looks like a T-shirt, not like a sneaker), more information per image than a single label,
# and a smoother target to fit. Whether that beats the labels alone depends on the budget (line 5):
# with a short training and a teacher that is itself not much better than the student, the gain is
# small or noise; it grows with a strong teacher and a student with capacity to spare.
