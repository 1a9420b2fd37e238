# %% [markdown]
# # Lesson 11 · Embeddings and positional encodings
#
# A token id is a name, not a quantity: id 42 is not "twice" id 21. A model turns each id into a
# vector it can compute with by looking it up in a table, the **embedding**: row `i` of a
# `(vocab_size, dim)` matrix of parameters, learned like any weight. Looking rows up forgets where
# each token stood, so a **positional encoding** adds a vector that depends on the position.
#
# - **Build**: the lookup as a `Function`, with the backward that scatters gradients back into the
#   rows that were read (`np.add.at`); the same gradient kept sparse, as the rows touched and
#   their values; the sinusoidal positional encoding of "Attention is all you need".
# - **Use**: a small next-character model on tiny Shakespeare with your embedding and encoding,
#   then with tinytorch's (the same losses), and without positions (what order is worth).
# - **Understand**: how few rows a batch touches (and the recorder's zero fraction of each
#   gradient), what Adam does to rows a batch never touched, the table's memory against the
#   model's, a lookup against a one-hot matrix product in the profiler, what the character
#   embeddings learned, and why sinusoids encode relative position.
# - **Reflect**: the systems questions of the lesson, answered from those measurements.
#
# Prerequisites: lessons 05 (`Function`, backward) and 10 (tokens). Fill in every
# `raise NotImplementedError()`, run the cell and the check under it; `tinytorch check 11` runs
# every check and more tests on your notebook.

# %%
import os
import tempfile
import time
import tracemalloc

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import tinytorch as tt
from inspector.demo import TEXT as SONNET  # Shakespeare's Sonnet 18: the stand-in text when the corpus is missing
from tinytorch import Function, nn
from tinytorch.autograd import gradcheck

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: fewer steps, so the notebook runs in seconds
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### 1. The lookup, forward and backward
#
# Forward is indexing: for ids of any shape `(...)`, `weight[ids]` has shape `(..., dim)`, row
# `ids[b, t]` of the table at each position. (It equals `one_hot(ids) @ weight`, without building
# the one-hot matrix; the Understand part measures the difference.)
#
# Backward: every position read one row, so row `i`'s gradient is the **sum** of the output
# gradients at all positions where `ids == i`, and zero for rows nobody read. Start from zeros of
# the table's shape and add each position's gradient into its row. Careful: `grad[ids] += g`
# does *not* add twice when an id repeats (NumPy writes each row once); `np.add.at(grad, ids, g)`
# does. The ids get no gradient: return `None` for them. Save what backward needs: the ids and the
# table's shape.

# %%
tt.OPS.pop("MyEmbedding", None)


class MyEmbedding(Function):
    """out = weight[ids];  d weight[i] = sum of grad_output over the positions where ids == i"""

    @staticmethod
    def forward(ctx, weight, ids):
        ### BEGIN SOLUTION
        ctx.save_for_backward(ids)
        ctx.table_shape = weight.shape
        return weight[ids]  # (..., dim)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (ids,) = ctx.saved_tensors
        grad_weight = np.zeros(ctx.table_shape, grad_output.dtype)  # (V, dim): rows nobody read stay zero
        np.add.at(grad_weight, ids, grad_output)  # a repeated id adds each of its gradients
        return grad_weight, None
        ### END SOLUTION


# %% tags=["check"]
# Check: MyEmbedding looks rows up, passes gradcheck, and sums the gradients of repeated ids as tinytorch
weight = tt.tensor(rng.standard_normal((7, 3)), requires_grad=True)
ids = tt.tensor(np.array([[1, 4, 1], [6, 1, 0]]))  # id 1 three times, ids 2, 3 and 5 never
out = MyEmbedding.apply(weight, ids)
assert out.shape == (2, 3, 3), f"ids (2, 3) into a (7, 3) table should give (2, 3, 3), but gave {out.shape}"
assert np.array_equal(out.data, weight.data[ids.data]), "MyEmbedding.apply(weight, ids) should be weight[ids]"
(MyEmbedding.apply(weight, ids) ** 2).sum().backward()
ours, weight.grad = weight.grad.data.copy(), None
(nn.functional.embedding(ids, weight) ** 2).sum().backward()
assert np.allclose(ours[1], weight.grad.data[1]), (
    f"row 1 is read three times: its gradient should add all three, {weight.grad.data[1]} (as tinytorch), but is {ours[1]}"
)
assert np.allclose(ours, weight.grad.data), f"the table's gradient should be tinytorch's\n{weight.grad.data}\nbut is\n{ours}"
assert not ours[[2, 3, 5]].any(), "rows no id read should get a zero gradient"
assert gradcheck(lambda w: MyEmbedding.apply(w, ids), [weight])
print("ok: rows with a nonzero gradient:", np.flatnonzero(np.abs(ours).sum(axis=1)).tolist(), "of", weight.shape[0])

# %% [markdown]
# ### 2. The same gradient, sparse
#
# Most rows of that gradient are zero when the vocabulary is large and the batch small. A sparse
# gradient keeps only the rows that were read: `rows`, the distinct ids in increasing order, and
# `values`, one summed gradient row for each (PyTorch's `nn.Embedding(sparse=True)` works this
# way). `np.unique(ids, return_inverse=True)` gives both the distinct ids and, for every position,
# which of them it is; then add each position's gradient into its slot of `values`.


# %%
def sparse_grad(ids, grad_output):
    """(rows, values): the distinct ids, sorted, and the sum of grad_output (..., dim) over each one's positions."""
    ### BEGIN SOLUTION
    rows, slot = np.unique(ids, return_inverse=True)
    dim = grad_output.shape[-1]
    values = np.zeros((len(rows), dim), grad_output.dtype)
    np.add.at(values, slot.reshape(-1), grad_output.reshape(-1, dim))  # (positions, dim) into (rows, dim)
    return rows, values
    ### END SOLUTION


# %% tags=["check"]
# Check: sparse_grad keeps the rows read, and scattered into zeros gives tinytorch's dense gradient
weight = tt.tensor(rng.standard_normal((50, 4)).astype(np.float32), requires_grad=True)
ids = rng.integers(0, 50, (3, 5))
g = rng.standard_normal((3, 5, 4)).astype(np.float32)
(nn.functional.embedding(tt.tensor(ids), weight) * tt.tensor(g)).sum().backward()
rows, values = sparse_grad(ids, g)
assert list(rows) == sorted(set(ids.ravel().tolist())), (
    f"rows should be the distinct ids, sorted: {sorted(set(ids.ravel().tolist()))}, not {list(rows)}"
)
assert values.shape == (len(rows), 4), f"values should have one row per distinct id: ({len(rows)}, 4), not {values.shape}"
dense = np.zeros((50, 4), np.float32)
dense[rows] = values
assert np.allclose(dense, weight.grad.data, atol=1e-6), (
    "the sparse gradient, scattered into zeros, should be tinytorch's dense one"
)
print(f"ok: {len(rows)} rows of {weight.shape[0]} carry the gradient of {ids.size} lookups")

# %% [markdown]
# ### 3. Sinusoidal positional encoding
#
# Vaswani et al. add to the token at position `p` a fixed vector whose pairs of entries turn at
# different speeds, like the hands of a clock:
#
# `PE[p, 2i] = sin(p / 10000^(2i/dim))`,  `PE[p, 2i+1] = cos(p / 10000^(2i/dim))`
#
# for `i = 0, 1, ...`: the first pair turns once every `2*pi` positions, the last pair almost not
# at all. Return a float32 `(max_len, dim)` table. With an odd `dim` the last column is a sine
# (there are `ceil(dim/2)` sines and `floor(dim/2)` cosines).


# %%
def sinusoidal_encoding(max_len, dim):
    """The (max_len, dim) float32 table: sin and cos of p / 10000^(2i/dim) in columns 2i and 2i+1."""
    ### BEGIN SOLUTION
    position = np.arange(max_len)[:, None]  # (max_len, 1)
    rate = 1.0 / 10000 ** (np.arange(0, dim, 2) / dim)  # (ceil(dim/2),): each pair's speed
    pe = np.zeros((max_len, dim), np.float32)
    pe[:, 0::2] = np.sin(position * rate)
    pe[:, 1::2] = np.cos(position * rate)[:, : dim // 2]
    return pe
    ### END SOLUTION


# %% tags=["check"]
# Check: sinusoidal_encoding is tinytorch's SinusoidalPositionalEncoding table, odd dimensions included
for max_len, dim in [(10, 8), (50, 16), (7, 5)]:
    ours, theirs = sinusoidal_encoding(max_len, dim), nn.SinusoidalPositionalEncoding(dim, max_len=max_len).pe.numpy()
    assert ours.shape == theirs.shape, f"({max_len}, {dim}): the table should have shape {theirs.shape}, but has {ours.shape}"
    assert ours.dtype == np.float32, f"the table should be float32, but is {ours.dtype}"
    assert np.allclose(ours, theirs, atol=1e-5), (
        f"({max_len}, {dim}): the table differs from tinytorch's\n{theirs}\nyours:\n{ours}"
    )
print("ok: position 1 of an 8-dim encoding:", np.round(sinusoidal_encoding(2, 8)[1], 3))

# %% [markdown]
# ## Use
#
# Tiny Shakespeare, one id per character (lesson 10). tinytorch looks for it under
# `$TINYTORCH_DATA` (then `~/.cache/tinytorch/datasets`); `TinyShakespeare(download=True)` fetches
# it. Without it the lesson uses the sonnet instead, and says so (a text that small teaches the
# model little). `get_batch` draws random windows of the training part (the first nine tenths).

# %%
from tinytorch.datasets import DatasetError
from tinytorch.text import TinyShakespeare

try:
    corpus = TinyShakespeare()
    source = "tiny Shakespeare"
except DatasetError as e:
    print(f"tiny Shakespeare is not on this machine, so this lesson uses Sonnet 18 instead.\n  ({e})")
    path = os.path.join(tempfile.mkdtemp(prefix="lesson11-"), "sonnet.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(SONNET)
    corpus, source = TinyShakespeare(path=path), "Sonnet 18 (tiny Shakespeare not found)"
chars, vocab = corpus.tokenizer.chars, corpus.vocab_size
print(
    f"{source}: {len(corpus.text):,} characters, vocabulary {vocab}; train {len(corpus.train_data):,}, validation {len(corpus.val_data):,}"
)

# %% [markdown]
# The model predicts the next character from the `T` before it: look up each one's vector, add its
# position's vector, pass each position through a `Linear` and `tanh`, **average over the
# positions**, and score the vocabulary. Averaging forgets order: without the positional encoding
# the model sees a bag of characters and cannot tell which one came last. `YourEmbedding` is
# tinytorch's `nn.Embedding` (its table) with your op inside; `AddPositions` adds your sinusoidal
# table. The token table starts small, as GPT's does (normal with standard deviation 0.02), so what
# it holds after training is what training wrote. Built after the same `tt.manual_seed`, the models
# start from the same weights and see the same batches.

# %%
T, DIM, HIDDEN = 8, 32, 128
BATCH = 64
steps = 300 if FAST else 3000


class YourEmbedding(nn.Embedding):
    def forward(self, ids):
        return MyEmbedding.apply(self.weight, ids)


class AddPositions(nn.Module):
    """x (B, T, dim) + your sinusoidal table's first T rows (a constant: no parameters)."""

    def __init__(self, dim, max_len):
        super().__init__()
        self.register_buffer("pe", tt.tensor(sinusoidal_encoding(max_len, dim)), persistent=False)

    def forward(self, x):
        return x + self.pe[: x.shape[1]]


class CharModel(nn.Module):
    """ids (B, T) -> scores (B, vocab) of the character after them."""

    def __init__(self, embedding, positions):
        super().__init__()
        self.tok = embedding  # (vocab, DIM) table
        self.pos = positions  # adds a vector per position, or None
        self.mix = nn.Linear(DIM, HIDDEN)
        self.out = nn.Linear(HIDDEN, vocab)

    def forward(self, ids):
        x = self.tok(ids)  # (B, T, DIM)
        if self.pos is not None:
            x = self.pos(x)
        return self.out(self.mix(x).tanh().mean(dim=1))  # (B, T, HIDDEN) -> (B, HIDDEN) -> (B, vocab)


def make_model(kind):
    tt.manual_seed(0)
    if kind == "yours":
        model = CharModel(YourEmbedding(vocab, DIM), AddPositions(DIM, T))
    else:
        model = CharModel(
            nn.Embedding(vocab, DIM), nn.SinusoidalPositionalEncoding(DIM, max_len=T) if kind == "tinytorch" else None
        )
    nn.init.normal_(model.tok.weight, 0.0, 0.02)  # small, as GPT does: the table then holds what training wrote
    return model


def windows(split, batch, generator):
    """batch random windows: the T characters (B, T) and the one after them (B,)."""
    x, y = corpus.get_batch(split, batch, T, generator=generator)
    return x, y[:, -1]


val_x, val_y = windows("val", 2000, np.random.default_rng(2))  # a fixed validation set


def train(model, steps=steps, batch=BATCH):
    """Adam on random windows (the same ones for every model); returns losses, the optimizer, seconds per step."""
    optimizer = tt.optim.Adam(model.parameters(), lr=1e-2)
    generator, losses, start = np.random.default_rng(1), [], time.perf_counter()
    for _ in range(steps):
        x, y = windows("train", batch, generator)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, optimizer, (time.perf_counter() - start) / steps


def val_loss(model):
    with tt.no_grad():
        return nn.functional.cross_entropy(model(val_x), val_y).item()


models, results = {}, {}
for kind in ("yours", "tinytorch", "no positions"):
    models[kind] = make_model(kind)
    results[kind] = train(models[kind])
    print(
        f"{kind:>13}: loss {results[kind][0][0]:.3f} -> {results[kind][0][-1]:.3f}, validation {val_loss(models[kind]):.3f}, {1e3 * results[kind][2]:.2f} ms/step"
    )
gap = max(abs(a - b) for a, b in zip(results["yours"][0], results["tinytorch"][0]))
print(f"largest difference between your curve and tinytorch's: {gap:.2e} (uniform guessing: {np.log(vocab):.3f})")
assert max(abs(a - b) for a, b in zip(results["yours"][0][:50], results["tinytorch"][0][:50])) < 1e-3, (
    "the same model should give the same losses"
)


def smooth(values, k=20):
    return np.convolve(values, np.ones(k) / k, mode="valid")


fig = go.Figure()
for kind, color, dash in (("tinytorch", "black", "solid"), ("yours", "orange", "dot"), ("no positions", "#1f77b4", "solid")):
    fig.add_trace(go.Scatter(y=smooth(results[kind][0]), name=kind, line=dict(color=color, dash=dash)))
fig.update_layout(title="Training loss (moving average of 20 steps)", xaxis_title="step", yaxis_title="cross-entropy", width=700, height=330,
                  margin=dict(l=10, r=10, t=40, b=10))  # fmt: skip
fig.show()

# %% [markdown]
# ## Understand
#
# ### How many rows does a batch touch?
#
# A batch of `B` windows of `T` characters reads `B*T` rows of the table, many of them the same
# row. The gradient reaches only the distinct ones. Below, the share of the table a batch reads,
# for the characters and for a BPE vocabulary learned on the same text (lesson 10), as the
# batch grows.

# %%
from tinytorch.text import BPETokenizer

bpe = BPETokenizer.train(corpus.text[: 50_000 if FAST else 300_000], 512 if FAST else 2048)
bpe_ids = bpe.encode(corpus.text[: 200_000 if FAST else len(corpus.text)], as_array=True)
char_ids = corpus.train_data
sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
touched = {"characters": [], f"BPE {bpe.vocab_size}": []}
draw = np.random.default_rng(3)
for name, data, v in (("characters", char_ids, vocab), (f"BPE {bpe.vocab_size}", bpe_ids, bpe.vocab_size)):
    for b in sizes:
        starts = draw.integers(0, len(data) - T, b)
        batch_ids = data[starts[:, None] + np.arange(T)]  # (b, T)
        touched[name].append(len(np.unique(batch_ids)) / v)
fig = go.Figure()
for name, share in touched.items():
    fig.add_trace(go.Scatter(x=[b * T for b in sizes], y=share, name=name, mode="lines+markers"))
fig.update_layout(title="Share of the embedding table one batch reads", xaxis_title="tokens in the batch (B*T)", xaxis_type="log",
                  yaxis_title="rows read / vocabulary", yaxis_tickformat=".0%", width=700, height=340, margin=dict(l=10, r=10, t=40, b=10))  # fmt: skip
fig.show()
for name, share in touched.items():
    print(f"{name:>12}: a batch of {BATCH * T} tokens reads {share[sizes.index(BATCH)]:.1%} of the rows")

# %% [markdown]
# The recorder sees the same thing in every step: among the gradient statistics it keeps for each
# parameter is the fraction of entries exactly zero. A few steps of the character model with small
# batches (16 windows), as the inspector's Gradients page draws it: the table's gradient is mostly
# zeros, the dense layers' are not.

# %%
from inspector import figures

logdir = tempfile.mkdtemp(prefix="lesson11-")
model = make_model("tinytorch")
optimizer = tt.optim.Adam(model.parameters(), lr=1e-2)
generator = np.random.default_rng(4)
with tt.record(f"{logdir}/chars", model=model, optimizer=optimizer, every=1, trace_steps=(2,)) as run:
    for _ in range(12):
        x, y = windows("train", 16, generator)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.step(loss)
reader = run.reader()
steps_seen, names, zero_frac = reader.grad_stats("zero_frac")
figures.gradients.heatmap(steps_seen, names, zero_frac, "Fraction of each gradient that is exactly zero", log10=False,
                          z_title="zero fraction").show()  # fmt: skip
table_zero = float(np.nanmean(zero_frac[names.index("tok.weight")]))
print(f"tok.weight's gradient: {table_zero:.1%} zeros on average over {len(steps_seen)} steps of 16 x {T} tokens")

# %% [markdown]
# A zero row of the gradient is still stored and added: tinytorch's backward, like yours, returns
# the dense `(vocab, dim)` array. For a large vocabulary that is a table-sized allocation per step
# to carry a few rows. `tracemalloc` measures the backward of one batch through a GPT-2-sized
# table (50257 tokens, 128 dimensions), against the sparse gradient of the same batch.

# %%
big_table = tt.tensor(np.zeros((50257, 128), np.float32), requires_grad=True)
big_ids = tt.tensor(draw.integers(0, 50257, (BATCH, T)))
upstream = np.ones((BATCH, T, 128), np.float32)
looked_up = nn.functional.embedding(big_ids, big_table)
tracemalloc.start()
looked_up.backward(tt.tensor(upstream))
dense_bytes = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
rows, values = sparse_grad(big_ids.numpy(), upstream)
sparse_bytes = rows.nbytes + values.nbytes
print(f"dense gradient: {dense_bytes / 2**20:.2f} MiB allocated; sparse: {len(rows)} rows, {sparse_bytes / 2**10:.1f} KiB")

# %% [markdown]
# What does the optimizer do with a row no one read? SGD moves a row by its gradient: zero, so
# it stays. Adam moves it by its running averages, which remember earlier steps: a row read once
# keeps moving every step after. One more step of the trained model on a batch of two windows:

# %%
model, optimizer = models["yours"], results["yours"][1]
x, y = windows("train", 2, np.random.default_rng(5))
read = np.unique(x.numpy())
table = model.tok.weight
snapshot = [p.data.copy() for p in model.parameters()]
before = table.data.copy()
moved = {}
for name, opt in (("SGD", tt.optim.SGD(model.parameters(), lr=1e-2)), ("Adam", optimizer)):
    for p, saved_data in zip(model.parameters(), snapshot):
        p.data[...] = saved_data  # both start from the trained weights
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    moved[name] = int((table.data != before).any(axis=1).sum())
    print(f"{name:>4}: {moved[name]} rows of {vocab} moved; the batch read {len(read)}")
for p, saved_data in zip(model.parameters(), snapshot):
    p.data[...] = saved_data

# %% [markdown]
# ### The table's memory against the model's
#
# Parameters by part, for the character model above and for the small GPT of lesson 13
# (`tinytorch.models.GPT`: 4 blocks of width 128, its output layer tied to the token table) with
# three vocabularies: characters, the BPE one above, and GPT-2's.

# %%
from tinytorch.models import GPT, GPTConfig


def parameters_by_part(model, part):
    out = {}
    for name, p in model.named_parameters():
        out[part(name)] = out.get(part(name), 0) + p.numel()
    return out


char_parts = parameters_by_part(models["tinytorch"], lambda n: n.split(".")[0])
print("character model:", {k: f"{v:,}" for k, v in char_parts.items()})
gpt_parts = {}
for v in (vocab, bpe.vocab_size, 50257):
    tt.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=v, block_size=64, n_layer=4, n_head=4, n_embd=128))
    gpt_parts[v] = parameters_by_part(
        gpt, lambda n: {"wte": "token table", "wpe": "position table"}.get(n.split(".")[0], "blocks")
    )
    total = sum(gpt_parts[v].values())
    print(
        f"GPT, vocabulary {v:>6,}: {total:>10,} parameters ({4 * total / 2**20:6.2f} MiB); token table {gpt_parts[v]['token table'] / total:.1%}"
    )
fig = go.Figure()
for part, color in (("token table", "#d62728"), ("position table", "#ff7f0e"), ("blocks", "#1f77b4")):
    fig.add_trace(
        go.Bar(x=[f"V = {v:,}" for v in gpt_parts], y=[gpt_parts[v][part] for v in gpt_parts], name=part, marker_color=color)
    )
fig.update_layout(barmode="stack", title="A small GPT's parameters, by part", yaxis_title="parameters", width=600, height=340,
                  margin=dict(l=10, r=10, t=40, b=10))  # fmt: skip
fig.show()

# %% [markdown]
# Training keeps more than the parameters: each also has a gradient and, with Adam, two running
# averages. The recorded step above lists every buffer with what holds it; those held for the
# table:

# %%
events = reader.memory_events(2)
table_buffers = {b["holder"]: b for b in figures.memory.buffers(events) if b["holder"] and "tok.weight" in b["holder"]}
for holder, b in table_buffers.items():  # by holder: a new step's .grad replaces the last one's
    print(f"{holder:<28} {b['category']:<16} {b['nbytes']:>8,} B")
table_training_bytes = sum(b["nbytes"] for b in table_buffers.values())
print(f"the table costs {table_training_bytes / table.data.nbytes:.0f}x its own bytes in training")

# %% [markdown]
# ### A lookup against a one-hot matrix product
#
# `weight[ids]` equals `one_hot(ids) @ weight`: each one-hot row picks one row of the table. The
# product computes it with `2 * V * dim` FLOPs per token (almost all multiplications by zero) and
# its backward builds the dense gradient with another product of the same size; the lookup does no
# arithmetic, and its backward adds each token's gradient into one row. The profiler counts the
# FLOPs of one forward and backward of each; the time is the best of a few runs. Two vocabularies:
# the BPE one above and a larger one.

# %%
from tinytorch.perf import Profile


def lookup_and_product(v):
    """{name: (FLOPs, best seconds)} of a forward and backward of both ways, for a (v, 128) table."""
    weight = tt.tensor(rng.standard_normal((v, 128)).astype(np.float32), requires_grad=True)
    ids = tt.tensor(draw.integers(0, v, (BATCH, T)))
    ways = {
        "lookup": lambda: nn.functional.embedding(ids, weight),
        "one-hot @ weight": lambda: nn.functional.one_hot(ids, v).float() @ weight,
    }
    assert np.allclose(ways["lookup"]().data, ways["one-hot @ weight"]().data), "both compute the same rows"
    out = {}
    for name, fn in ways.items():
        with Profile() as prof:
            fn().sum().backward()
        flops = sum(e.flops for e in prof.events if e.op != "Sum")  # the lookup or the product, not the .sum()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn().sum().backward()
            times.append(time.perf_counter() - start)
        out[name] = (flops, min(times))
    return out


compare = {v: lookup_and_product(v) for v in (bpe.vocab_size, 8192)}
print(f"{'vocabulary':>10} {'way':>17} {'FLOPs':>14} {'forward + backward':>19}")
for v, ways in compare.items():
    for name, (flops, seconds) in ways.items():
        print(f"{v:>10,} {name:>17} {flops:>14,} {1e3 * seconds:>16.2f} ms")

# %% [markdown]
# ### What the character embeddings learned
#
# Nothing told the model that `a` and `e` are both vowels. Characters that can stand in the same
# places predict the same next characters, so their gradients push their rows the same way. The
# cosine similarity between every two rows of the trained table (tinytorch's model; the mean row
# removed first), the characters grouped by hand (space and newline, sentence ends, other marks,
# vowels, consonants, capitals):

# %%
groups = {"space": " \n", "sentence ends": ".!?", "other marks": ",;:'-", "vowels": "aeiou", "consonants": "bcdfghjklmnpqrstvwxyz",
          "capitals": "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}  # fmt: skip
order = [c for g in groups.values() for c in g if c in chars]
index = [chars.index(c) for c in order]


def cosine(table):
    """Cosine similarity of every two rows, after removing the mean row (a direction all rows share)."""
    centered = table - table.mean(axis=0)
    unit = centered / np.linalg.norm(centered, axis=1, keepdims=True)
    return unit @ unit.T  # (V, V)


def group_mean(similarity, a, b):
    """Mean similarity between the characters of groups a and b (distinct pairs)."""
    ia, ib = [chars.index(c) for c in groups[a] if c in chars], [chars.index(c) for c in groups[b] if c in chars]
    block = similarity[np.ix_(ia, ib)]
    return float(block[~np.eye(len(ia), len(ib), dtype=bool)].mean()) if a == b else float(block.mean())


trained = cosine(models["tinytorch"].tok.weight.data)
initial = cosine(make_model("tinytorch").tok.weight.data)
fig = go.Figure(go.Heatmap(z=trained[np.ix_(index, index)], x=[repr(c)[1:-1] for c in order], y=[repr(c)[1:-1] for c in order],
                           colorscale="RdBu_r", zmid=0, zmin=-1, zmax=1))  # fmt: skip
fig.update_layout(title="Cosine similarity of the learned character embeddings", width=720, height=680, margin=dict(l=10, r=10, t=40, b=10),
                  yaxis_autorange="reversed", xaxis_tickfont_size=8, yaxis_tickfont_size=8, xaxis_nticks=80, yaxis_nticks=80)  # fmt: skip
fig.show()
pairs = [
    ("vowels", "vowels"),
    ("vowels", "consonants"),
    ("consonants", "consonants"),
    ("sentence ends", "sentence ends"),
    ("vowels", "capitals"),
]
similarity = {p: (group_mean(initial, *p), group_mean(trained, *p)) for p in pairs}
for (a, b), (before_sim, after_sim) in similarity.items():
    print(f"{a:>13} with {b:<13}: mean cosine {before_sim:+.3f} at initialisation, {after_sim:+.3f} after training")
neighbours = {c: "".join(chars[j] for j in np.argsort(-trained[chars.index(c)])[1:5]) for c in "aeo.?!" if c in chars}
print("nearest neighbours:", {c: n for c, n in neighbours.items()})

# %% [markdown]
# A flat picture of the same table: its two principal directions (PCA), each character drawn where
# its row falls.

# %%
w = models["tinytorch"].tok.weight.data[index]
centered = w - w.mean(axis=0)
_, _, vt = np.linalg.svd(centered, full_matrices=False)
xy = centered @ vt[:2].T  # (characters, 2)
colors = {"space": "#7f7f7f", "sentence ends": "#9467bd", "other marks": "#8c564b", "vowels": "#d62728", "consonants": "#1f77b4",
          "capitals": "#2ca02c"}  # fmt: skip
fig = go.Figure()
for g, members in groups.items():
    k = [i for i, c in enumerate(order) if c in members]
    fig.add_trace(go.Scatter(x=xy[k, 0], y=xy[k, 1], mode="text", text=[repr(order[i])[1:-1] for i in k], name=g,
                             textfont=dict(color=colors[g], size=14)))  # fmt: skip
fig.update_layout(
    title="The character table's two principal directions", width=640, height=480, margin=dict(l=10, r=10, t=40, b=10)
)
fig.show()

# %% [markdown]
# ### What the sinusoids encode
#
# Your table for 64 positions and 32 dimensions: fast-turning pairs on the left, slow ones on the
# right. The dot product of two positions' vectors depends only on how far apart they are (each
# pair contributes `cos(rate * (p - q))`), so the product matrix has the same value along every
# diagonal: the encoding carries *relative* position, with no parameter to learn.

# %%
pe = sinusoidal_encoding(64, DIM)
dots = pe @ pe.T  # (64, 64)
shifts = np.array([[dots[p, p + k] - dots[0, k] for k in range(32)] for p in range(32)])
fig = make_subplots(rows=1, cols=2, subplot_titles=("PE[p, j]", "PE[p] . PE[q]"))
fig.add_trace(go.Heatmap(z=pe, colorscale="RdBu_r", zmid=0, showscale=False), 1, 1)
fig.add_trace(go.Heatmap(z=dots, colorscale="Viridis", showscale=False), 1, 2)
fig.update_xaxes(title_text="dimension j", row=1, col=1)
fig.update_xaxes(title_text="position q", row=1, col=2)
fig.update_yaxes(title_text="position p", autorange="reversed", row=1, col=1)
fig.update_yaxes(autorange="reversed", row=1, col=2)
fig.update_layout(width=820, height=380, margin=dict(l=10, r=10, t=40, b=10))
fig.show()
learned_positions = gpt_parts[vocab]["position table"]
print(f"largest change of PE[p] . PE[p + k] as p moves (k fixed): {np.abs(shifts).max():.2e}; sinusoids have 0 parameters, "
      f"the GPT's learned position table {learned_positions:,}")  # fmt: skip

# %% [markdown]
# ## Reflect

# %%
char_share, bpe_share = touched["characters"][sizes.index(BATCH)], touched[f"BPE {bpe.vocab_size}"][sizes.index(BATCH)]
print(
    f"1. a batch of {BATCH * T} tokens reads {char_share:.0%} of the character table, {bpe_share:.0%} of the BPE {bpe.vocab_size} one"
)
print(f"   recorded zero fraction of the table's gradient (16 windows a step): {table_zero:.0%}")
print(f"   GPT-2-sized table: dense gradient {dense_bytes / 2**20:.1f} MiB, sparse {sparse_bytes / 2**10:.0f} KiB")
print(f"   one step after a batch that read {len(read)} rows: SGD moved {moved['SGD']}, Adam {moved['Adam']}")
shares = {v: gpt_parts[v]["token table"] / sum(gpt_parts[v].values()) for v in gpt_parts}
print(f"2. token table's share of the small GPT: {', '.join(f'V = {v:,}: {s:.0%}' for v, s in shares.items())}; "
      f"in training the table costs {table_training_bytes / table.data.nbytes:.0f}x its bytes")  # fmt: skip
print(
    "3. one-hot product against lookup: "
    + "; ".join(
        f"V = {v:,}: {w['one-hot @ weight'][0]:,} FLOPs against {w['lookup'][0]:,}, {w['one-hot @ weight'][1] / w['lookup'][1]:.1f}x the time"
        for v, w in compare.items()
    )
)
vv, vc, ends = (
    similarity[("vowels", "vowels")],
    similarity[("vowels", "consonants")],
    similarity[("sentence ends", "sentence ends")],
)
print(
    f"4. mean cosine, initialisation -> trained: vowels with vowels {vv[0]:+.2f} -> {vv[1]:+.2f}, "
    f"vowels with consonants {vc[0]:+.2f} -> {vc[1]:+.2f}, sentence ends with each other {ends[0]:+.2f} -> {ends[1]:+.2f}"
)
print(f"   nearest neighbours: {neighbours}")
print(
    f"5. validation loss: with positions {val_loss(models['tinytorch']):.3f}, without {val_loss(models['no positions']):.3f}; "
    f"PE[p] . PE[p + k] varies with p by {np.abs(shifts).max():.1e}"
)

# %% [markdown]
# **1. Why is an embedding's gradient sparse, and what does that cost?** A batch reads only the
# rows of the tokens it contains (line 1): with a few dozen characters most rows, with a subword
# vocabulary a smaller share, and with GPT-2's fifty thousand tokens a tiny one. The
# rest of the gradient is exactly zero, as the recorder's zero fraction shows, yet tinytorch (and
# your op) stores and adds it as a dense table-sized array every step: the sparse form carries the
# same information in a sliver of the bytes. The optimizer matters too: SGD leaves unread rows where
# they are, but Adam keeps moving every row that was ever read, by its running averages, even
# when the current batch did not touch it. That is why PyTorch has sparse gradients for embeddings
# and a `SparseAdam` that updates only the rows read.
#
# **2. How much of a model is its embedding table?** It grows with the vocabulary while the blocks
# do not (line 2): for characters it is a rounding error, for GPT-2's vocabulary it is most of a
# small GPT's parameters, even with the output layer sharing it (weight tying; untied, it would
# count twice). In training each parameter also holds a gradient and Adam's two averages, so the
# table's cost is multiplied by the recorded factor. Large vocabularies make small models mostly
# table.
#
# **3. Why look rows up instead of multiplying by one-hot vectors?** Same result, very different
# work (line 3): the product spends `2 * V * dim` FLOPs per token, nearly all on zeros, and
# allocates the `(tokens, V)` one-hot matrix; the lookup copies `dim` numbers per token and the
# profiler counts no arithmetic at all. Its time grows with the tokens, the product's with the
# tokens times the vocabulary. At a small vocabulary BLAS runs the wasted product so fast that the
# two can be close, because the lookup's backward is `np.add.at`, which adds one element at a time
# without NumPy's buffering; as the vocabulary grows the product falls behind (compare the two
# sizes of line 3). Frameworks therefore write the scatter-add as its own kernel.
#
# **4. What did the embeddings learn?** Line 4: at initialisation the rows are random and groups
# of characters are no closer than any others; after a short training, characters that play the
# same role (vowels, sentence-ending punctuation) move towards each other, because they precede
# similar characters and so receive similar gradients. Rare characters are read in few batches
# and stay close to where they started: another face of the sparsity of line 1.
#
# **5. What do positions add, and why sinusoids?** Averaging over the window throws order away;
# adding a position's vector before the per-position layer lets the model weigh the last character
# more than the first, and the validation loss shows what that is worth (line 5). The sinusoids
# cost no parameters and no memory that grows with training, work for any length, and their dot
# products depend only on the distance between positions (line 5), so "three characters back" looks
# the same everywhere. A learned table (GPT's `wpe`) can fit the data better, at the price of
# parameters and a hard maximum length.
