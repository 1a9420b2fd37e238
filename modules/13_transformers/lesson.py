# %% [markdown]
# # Lesson 13 · Transformers
#
# A transformer is attention (lesson 12) and a small MLP, each wrapped in a LayerNorm and a
# residual connection, stacked. GPT adds token and position embeddings below the stack and a
# read-out above it that shares its matrix with the token embedding. That is the whole model.
#
# - **Build**: the MLP (`Linear`, GELU, `Linear`), the pre-norm `TransformerBlock`, and a small
#   GPT's forward pass with weight tying, each checked against tinytorch's (`tinytorch.nn`,
#   `tinytorch.models.GPT`) with the same weights.
# - **Use**: train your GPT on tiny Shakespeare (first step by step beside tinytorch's, for the
#   same losses), then generate text with tinytorch's `GPT.generate` from your trained weights.
# - **Understand**: the parameter and activation memory of each block, recorded during a training
#   step; attention's memory growing as T² again, now inside a whole block; the autograd graph
#   folded by module, so a model of a few hundred ops still fits on a page.
# - **Reflect**: what sets a block's parameters, what sets its activations, and where T² wins.
#
# Prerequisites: lesson 12 (attention). Fill in every `raise NotImplementedError()`, run the cell
# and the check under it; `tinytorch check 13` runs every check and more tests on your notebook.

# %%
import os
import tempfile
import time

import numpy as np
import plotly.graph_objects as go

import tinytorch as tt
from tinytorch import nn
from tinytorch.models import GPT, GPTConfig

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: a smaller model and a few steps, so the notebook runs in seconds
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### 1. The MLP
#
# After attention has mixed information *between* positions, the MLP transforms each position on
# its own: a `Linear` widening the `C` channels four times, a GELU, a `Linear` back to `C`, then
# dropout. (GELU is `x · Φ(x)`, a smooth ReLU; lesson 02.) Two thirds of a block's parameters live
# here. The layers are made for you, with tinytorch's names; write the forward pass.


# %%
class MyMLP(nn.Module):
    """x (B, T, C) -> c_fc -> GELU -> c_proj -> dropout -> (B, T, C)."""

    def __init__(self, n_embd, dropout=0.0, bias=True):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)  # (B, T, C) -> (B, T, 4C)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)  # (B, T, 4C) -> (B, T, C)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))
        ### END SOLUTION


# %% tags=["check"]
# Check: MyMLP with tinytorch's weights gives the outputs and gradients of tinytorch's MLP
tt.manual_seed(0)
theirs, ours = nn.MLP(8), MyMLP(8)
ours.load_state_dict(theirs.state_dict())
x = tt.randn(2, 3, 8)
got, want = ours(x), theirs(x)
assert got.shape == (2, 3, 8), f"MyMLP of (2, 3, 8) should have shape (2, 3, 8), but has {got.shape}"
assert np.allclose(got.data, want.data, atol=1e-6), f"MyMLP should give tinytorch's\n{want.data[0]}\nbut gives\n{got.data[0]}"
got.sum().backward()
want.sum().backward()
for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
    assert np.allclose(p.grad.data, q.grad.data, atol=1e-5), f"{name}.grad should be tinytorch's, but differs"
print("ok:", [f"{name} {tuple(p.shape)}" for name, p in ours.named_parameters()])

# %% [markdown]
# ### 2. The pre-norm block
#
# `x = x + attn(ln_1(x))`, then `x = x + mlp(ln_2(x))`. Each sub-layer reads a *normalised* copy
# of `x` and *adds* its result to `x`. The sum, the residual stream, is never normalised inside
# the stack, so the gradient of the loss reaches every block through the additions unchanged:
# that is what lets deep stacks train (the original transformer normalised after the addition,
# post-norm, and needed a careful warm-up). The attention is tinytorch's `CausalSelfAttention`,
# the layer you built in lesson 12.


# %%
class MyBlock(nn.Module):
    """Pre-norm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = nn.CausalSelfAttention(n_embd, n_head, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = MyMLP(n_embd, dropout, bias)

    def forward(self, x):
        ### BEGIN SOLUTION
        x = x + self.attn(self.ln_1(x))  # positions exchange information
        return x + self.mlp(self.ln_2(x))  # each position thinks on its own
        ### END SOLUTION


# %% tags=["check"]
# Check: MyBlock gives tinytorch's TransformerBlock outputs and gradients (with tinytorch's MLP inside)
tt.manual_seed(0)
theirs, ours = nn.TransformerBlock(8, 2), MyBlock(8, 2)
ours.mlp = nn.MLP(8)  # tinytorch's MLP, so this checks the block alone
ours.load_state_dict(theirs.state_dict())
x = tt.randn(2, 5, 8, requires_grad=True)
got, want = ours(x), theirs(x)
assert got.shape == (2, 5, 8), f"the block's output should have shape (2, 5, 8), but has {got.shape}"
assert np.allclose(got.data, want.data, atol=1e-5), f"the block should give tinytorch's\n{want.data[0]}\nbut gives\n{got.data[0]}"
(got * got).sum().backward()
x_grad, x.grad = x.grad.data.copy(), None
(want * want).sum().backward()
assert np.allclose(x_grad, x.grad.data, atol=1e-4), "the gradient of the block's input should be tinytorch's"
for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
    assert np.allclose(p.grad.data, q.grad.data, atol=1e-4), f"{name}.grad should be tinytorch's, but differs"
print("ok: your block and tinytorch's agree, output", got.shape)

# %% [markdown]
# ### 3. A small GPT, with weight tying
#
# The configuration is tinytorch's `GPTConfig` (vocab_size, block_size, n_layer, n_head, n_embd,
# dropout, bias). Make, with these names:
#
# - `wte`, the token embedding `(vocab_size, C)`, and `wpe`, the position embedding
#   `(block_size, C)`; `drop`, a `Dropout`;
# - `h`, an `nn.ModuleList` of `n_layer` blocks (yours); `ln_f`, a final `LayerNorm`;
# - `lm_head`, a `Linear(C, vocab_size, bias=False)` whose weight **is** `wte.weight`: weight tying.
#   A `(vocab, C)` matrix turns ids into vectors at the bottom; the same matrix scores a vector
#   against every token at the top. One matrix instead of two, and the gradient from both ends
#   trains it. Assign the parameter itself (`self.lm_head.weight = self.wte.weight`).
#
# `forward(idx, targets=None)`: `idx (B, T)` ids with `T <= block_size` (else `ValueError`);
# `x = drop(wte(idx) + wpe(positions 0..T-1))`, every block, `ln_f`, `lm_head`: logits
# `(B, T, vocab)`. With targets, also the cross-entropy of the `(B·T, vocab)` logits against the
# `(B·T,)` targets; return `(logits, loss)`, loss `None` without targets.


# %%
class MyGPT(nn.Module):
    """Embeddings (tokens + positions) -> n_layer blocks -> LayerNorm -> tied read-out: logits (B, T, vocab)."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        ### BEGIN SOLUTION
        c = config.n_embd
        self.wte = nn.Embedding(config.vocab_size, c)
        self.wpe = nn.Embedding(config.block_size, c)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([MyBlock(c, config.n_head, config.dropout, config.bias) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(c, bias=config.bias)
        self.lm_head = nn.Linear(c, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: one (vocab, C) matrix at both ends
        ### END SOLUTION

    def forward(self, idx, targets=None):
        ### BEGIN SOLUTION
        b, t = idx.shape
        if t > self.config.block_size:
            raise ValueError(f"sequence of length {t} is longer than block_size {self.config.block_size}")
        x = self.drop(self.wte(idx) + self.wpe(tt.arange(t)))  # (B, T, C) + (T, C)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab)
        if targets is None:
            return logits, None
        loss = nn.functional.cross_entropy(logits.reshape(b * t, -1), targets.reshape(b * t))  # (B*T, vocab) vs (B*T,)
        return logits, loss
        ### END SOLUTION


# %% tags=["check"]
# Check: MyGPT (with tinytorch's blocks inside) gives tinytorch's GPT logits, loss and tied gradient
config = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8)
tt.manual_seed(0)
theirs, ours = GPT(config), MyGPT(config)
assert ours.lm_head.weight is ours.wte.weight, "lm_head.weight should be the same Parameter as wte.weight (weight tying)"
ours.h = nn.ModuleList([nn.TransformerBlock(8, 2, bias=False) for _ in range(2)])  # tinytorch's blocks: this checks the GPT alone
ours.load_state_dict(theirs.state_dict())
n_ours, n_theirs = sum(p.numel() for p in ours.parameters()), sum(p.numel() for p in theirs.parameters())
assert n_ours == n_theirs, f"MyGPT should have tinytorch's {n_theirs} parameters (the tied matrix counted once), but has {n_ours}"
idx, targets = tt.randint(0, 11, (3, 8)), tt.randint(0, 11, (3, 8))
(logits, loss), (want_logits, want_loss) = ours(idx, targets), theirs(idx, targets)
assert logits.shape == (3, 8, 11), f"logits should have shape (3, 8, 11), but have {logits.shape}"
assert np.allclose(logits.data, want_logits.data, atol=1e-5), "the logits should be tinytorch's"
assert abs(loss.item() - want_loss.item()) < 1e-5, (
    f"the loss should be tinytorch's {want_loss.item():.6f}, but is {loss.item():.6f}"
)
assert ours(idx)[1] is None, "without targets, forward should return (logits, None)"
loss.backward()
want_loss.backward()
assert np.allclose(ours.wte.weight.grad.data, theirs.wte.weight.grad.data, atol=1e-5), (
    "the tied matrix's gradient (from the embedding and the read-out) should be tinytorch's"
)
try:
    ours(tt.randint(0, 11, (1, 9)))
except ValueError as e:
    print("ok: a sequence of 9 > block_size 8 raises ValueError:", e)
else:
    raise AssertionError("a sequence longer than block_size should raise ValueError")

# %% [markdown]
# ## Use
#
# Tiny Shakespeare, one character per token (nanoGPT's `shakespeare_char`). tinytorch looks for
# it under `$TINYTORCH_DATA`, else `~/.cache/tinytorch/datasets`; `TinyShakespeare(download=True)`
# fetches it. Without it the lesson trains on Sonnet 18 (the inspector's demo text) and says so.

# %%
from tinytorch.datasets import DatasetError
from tinytorch.text import CharTokenizer, TinyShakespeare

try:
    corpus = TinyShakespeare()
    tokenizer, train_data, val_data, source = corpus.tokenizer, corpus.train_data, corpus.val_data, "tiny Shakespeare"
except DatasetError as e:
    from inspector.demo import TEXT

    print(f"tiny Shakespeare is not on this machine, so this lesson uses Sonnet 18 instead.\n  ({e})")
    tokenizer = CharTokenizer(TEXT)
    train_data = val_data = tokenizer.encode(TEXT, as_array=True)  # too short to hold out a validation part
    source = "Sonnet 18 (tiny Shakespeare not found)"
print(f"{source}: {len(train_data):,} training and {len(val_data):,} validation characters, vocabulary {tokenizer.vocab_size}")

# %% [markdown]
# A small GPT: nanoGPT's recipe at a fraction of its size (no biases, no dropout, tinytorch's
# initialisation, copied into yours). First a few steps of your model and tinytorch's side by side
# from the same weights on the same batches: the losses must agree. Then your model trains on.

# %%
if FAST:
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=32, n_layer=2, n_head=4, n_embd=32)
    batch_size, steps, side_by_side = 4, 10, 3
else:
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=64)
    batch_size, steps, side_by_side = 12, 300, 10


def get_batch(data, gen):
    """B random windows: inputs (B, T) and targets (B, T), the next character at each position."""
    starts = gen.integers(0, len(data) - config.block_size, batch_size)
    windows = data[starts[:, None] + np.arange(config.block_size + 1)]  # (B, T + 1)
    return tt.tensor(windows[:, :-1]), tt.tensor(windows[:, 1:])


@tt.no_grad()
def val_loss(model, batches=4 if FAST else 20):
    gen = np.random.default_rng(123)  # the same validation batches every time
    return float(np.mean([model(*get_batch(val_data, gen))[1].item() for _ in range(batches)]))


def train_step(model, optimizer, batch):
    """One step of AdamW; returns the loss and the seconds it took."""
    start = time.perf_counter()
    _, loss = model(*batch)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item(), time.perf_counter() - start


tt.manual_seed(0)
tt_gpt = GPT(config)  # nanoGPT's initialisation
ours = MyGPT(config)
ours.load_state_dict(tt_gpt.state_dict())
start_val = val_loss(ours)
opt_ours = tt.optim.AdamW(ours.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=0.0)
opt_tt = tt.optim.AdamW(tt_gpt.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=0.0)
gen = np.random.default_rng(1)
side = {"yours": ([], []), "tinytorch's": ([], [])}
for _ in range(side_by_side):  # the two models take turns on the same batch, so a busy machine slows both alike
    batch = get_batch(train_data, gen)
    for (model, optimizer), (losses, seconds) in zip(((ours, opt_ours), (tt_gpt, opt_tt)), side.values()):
        loss, took = train_step(model, optimizer, batch)
        losses.append(loss)
        seconds.append(took)
print(f"{config}\n{sum(p.numel() for p in ours.parameters()):,} parameters; batches of {batch_size} x {config.block_size}")
for name, (losses, seconds) in side.items():
    print(f"first {side_by_side} steps, {name:<12} losses {np.round(losses, 4)}, median {1e3 * np.median(seconds):.0f} ms/step")
ours_losses = side["yours"][0]
gap = max(abs(a - b) for a, b in zip(*(losses for losses, _ in side.values())))
assert gap < 1e-3, f"the same model from the same weights should give the same losses (largest difference {gap:.2e})"

# %%
start = time.perf_counter()
ours_losses += [train_step(ours, opt_ours, get_batch(train_data, gen))[0] for _ in range(steps - side_by_side)]
more_step = (time.perf_counter() - start) / (steps - side_by_side)
end_val = val_loss(ours)
print(f"{steps} steps of your GPT, {1e3 * more_step:.0f} ms/step: validation loss {start_val:.3f} -> {end_val:.3f}")
fig = go.Figure(go.Scatter(y=ours_losses, name="training loss (a batch)"))
fig.add_trace(go.Scatter(x=[0, steps - 1], y=[start_val, end_val], mode="markers+lines", name="validation loss"))
fig.update_layout(width=620, height=300, margin=dict(l=10, r=10, t=40, b=10), title="your GPT on " + source, xaxis_title="step")
fig.show()

# %% [markdown]
# Your weights, tinytorch's `generate`: the two models have the same parameter names, so the
# trained state loads into `GPT`, whose `generate(idx, max_new_tokens, temperature, top_k)`
# samples one character at a time (with the KV cache of lesson 17).

# %%
tt_gpt.load_state_dict(ours.state_dict())
prompt = tt.tensor([tokenizer.encode("\n")])
sample = tt_gpt.generate(prompt, 80 if FAST else 300, temperature=0.8, top_k=20, generator=np.random.default_rng(0))
print(tokenizer.decode(sample[0].tolist()))

# %% [markdown]
# ## Understand
#
# ### Memory of one training step, block by block
#
# `tinytorch.record` traces a training step of your model: every buffer with its category
# (parameter, gradient, optimizer state, activation, temporary) and the module that made or saved
# it. First the step as the inspector's Memory page draws it (`inspector.figures.memory.timeline`):
# activations pile up through the blocks during forward and are released during backward, while
# the parameters, their gradients and AdamW's two moments per parameter stay.

# %%
from inspector import figures

logdir = tempfile.mkdtemp(prefix="lesson13-")
with tt.record(f"{logdir}/step", model=ours, optimizer=opt_ours, trace_steps=(0,)) as run:
    _, loss = ours(*get_batch(train_data, np.random.default_rng(3)))
    opt_ours.zero_grad()
    loss.backward()
    opt_ours.step()
    run.step(loss)
reader = run.reader()
events, ops = reader.memory_events(0), reader.ops(0)
figures.memory.timeline(events, ops=ops, title="one training step of your GPT: live bytes by category").show()

# %% [markdown]
# Then per part of the model: each activation is charged to the module of the op that saved it
# for backward, and each parameter to its module (the tied matrix belongs to `wte`; `lm_head`
# only borrows it).


# %%
def part(module):
    """'h.1.attn.c_attn' -> 'h.1' (a block); 'wte' -> 'wte'; '' -> 'loss' (code outside modules)."""
    names = module.split(".") if module else ["loss"]
    return ".".join(names[:2]) if names[0] == "h" else names[0]


def activations_by(events, ops, key):
    """Bytes of every buffer saved for backward, summed by key(module of the op that saved it, the buffer's shape)."""
    module_of = {op["seq"]: op["module"] or "" for op in ops}
    totals = {}
    for b in figures.memory.buffers(events):
        saved_by = [holder for _, category, holder in b["history"] if category == "activation"]
        if saved_by:
            k = key(module_of[int(saved_by[0].split("#")[1])], tuple(events["shape"][b["alloc"]]))
            totals[k] = totals.get(k, 0) + b["nbytes"]
    return totals


params = {}
for name, p in ours.named_parameters():  # the tied matrix once, under its first name (wte.weight)
    key = part(name.rpartition(".")[0])
    params[key] = params.get(key, 0) + p.data.nbytes
acts = activations_by(events, ops, lambda module, shape: part(module))
parts = list(dict.fromkeys([*params, *acts]))
print(f"{'part':<8}{'parameters':>14}{'activations':>14}")
for p in parts:
    print(f"{p:<8}{params.get(p, 0):>14,}{acts.get(p, 0):>14,}")
at_peak = figures.memory.peak(events, ops=ops)
print(
    f"the step's peak, {at_peak['peak_bytes']:,} bytes in the {at_peak['phase']} phase, by category:",
    {k: f"{v:,}" for k, v in at_peak["by_category"].items()},
)

fig = go.Figure()
fig.add_trace(go.Bar(x=parts, y=[params.get(p, 0) for p in parts], name="parameters"))
fig.add_trace(go.Bar(x=parts, y=[acts.get(p, 0) for p in parts], name="activations (saved for backward)"))
fig.update_layout(width=700, height=360, barmode="group", title=f"bytes per part, batch {batch_size} x {config.block_size}",
                  yaxis=dict(type="log", title="bytes"), margin=dict(l=10, r=10, t=40, b=10))  # fmt: skip
fig.show()

# %% [markdown]
# ### Attention's T² inside a block
#
# Lesson 12 measured one attention layer alone. Inside a block, the LayerNorms and the MLP (whose
# hidden layer is four times wider) add activations that grow as `T`, so the `T x T` part must
# grow further before it dominates. Below, one block of the same width, one traced step per
# sequence length (batch 1), its activations split into the `(B, nh, T, T)` arrays and the rest.

# %%
lengths = (32, 64, 128) if FAST else (64, 128, 256, 512)
block_kinds = {}
for t in lengths:
    tt.manual_seed(0)
    one_block = MyGPT(
        GPTConfig(vocab_size=tokenizer.vocab_size, block_size=max(lengths), n_layer=1, n_head=config.n_head, n_embd=config.n_embd)
    )
    ids = tt.tensor(np.resize(train_data, t + 1)[None])  # (1, t + 1)
    with tt.record(f"{logdir}/T{t}", model=one_block, trace_steps=(0,)) as run:
        _, loss = one_block(ids[:, :-1], ids[:, 1:])
        loss.backward()
        run.step(loss)
    reader = run.reader()
    kinds = activations_by(
        reader.memory_events(0), reader.ops(0),
        lambda module, shape, t=t: None if part(module) != "h.0" else "T x T" if shape == (1, config.n_head, t, t) else "rest of the block",
    )  # fmt: skip
    block_kinds[t] = {k: kinds.get(k, 0) for k in ("T x T", "rest of the block")}

print(f"one block, n_embd {config.n_embd}, {config.n_head} heads, batch 1: activation bytes saved for backward")
print(f"{'T':>5}{'T x T':>14}{'rest':>14}{'T x T share':>13}")
for t, k in block_kinds.items():
    print(f"{t:>5}{k['T x T']:>14,}{k['rest of the block']:>14,}{k['T x T'] / sum(k.values()):>13.0%}")

t_axis = np.array(lengths, dtype=np.float64)
fits = {}
fig = go.Figure()
for name, color in (("T x T", "#d62728"), ("rest of the block", "#1f77b4")):
    values = np.array([block_kinds[t][name] for t in lengths], dtype=np.float64)
    fits[name] = np.polyfit(np.log(t_axis), np.log(values), 1)
    fig.add_trace(go.Scatter(x=t_axis, y=values, mode="markers", marker=dict(size=10, color=color), name=name))
    fig.add_trace(go.Scatter(x=t_axis, y=np.exp(fits[name][1]) * t_axis ** fits[name][0], mode="lines",
                             line=dict(dash="dash", color=color), name=f"fit: slope {fits[name][0]:.2f}"))  # fmt: skip
fig.update_layout(width=700, height=400, title="one transformer block: activation bytes against sequence length",
                  xaxis=dict(type="log", title="sequence length T"), yaxis=dict(type="log", title="bytes saved for backward"))  # fmt: skip
fig.show()
crossover = np.exp((fits["rest of the block"][1] - fits["T x T"][1]) / (fits["T x T"][0] - fits["rest of the block"][0]))
print(f"slopes: T x T {fits['T x T'][0]:.3f}, rest {fits['rest of the block'][0]:.3f}; the two fits cross at T = {crossover:.0f}")

# %% [markdown]
# ### The graph, folded by module
#
# One forward pass of your GPT is many ops (counted below), and every block adds as many again.
# `tinytorch.viz.draw_graph` folds the graph by module scope until it fits a node budget
# (`max_nodes`): each block becomes one box, with its op count and the bytes its outputs hold.
# `expand` keeps chosen modules open.

# %%
from tinytorch.viz import draw_graph, graph_of

idx, targets = get_batch(train_data, np.random.default_rng(4))
_, loss = ours(idx, targets)
n_ops = len(graph_of(loss, ours).nodes)
print(f"the forward graph of one batch has {n_ops} nodes")
draw_graph(loss, model=ours, max_nodes=20, title=f"your GPT, {n_ops} ops folded by module")

# %%
draw_graph(loss, model=ours, max_nodes=25, expand=["h.0"], title="the same graph with block h.0 opened one level")

# %% [markdown]
# ## Reflect

# %%
c = config.n_embd
block_params = sum(p.numel() for p in ours.h[0].parameters())
untied = sum(p.numel() for p in ours.parameters()) + ours.wte.weight.numel()
train_acts, train_params = acts["h.0"], params["h.0"]
largest = lengths[-1]
print(
    f"1. one block has {block_params:,} parameters; 12 C^2 = {12 * c * c:,} for C = {c}; "
    f"tying saved {ours.wte.weight.numel():,} of {untied:,} parameters"
)
print(
    f"2. at batch {batch_size} x {config.block_size}, block h.0 saved {train_acts / train_params:.1f}x its parameter bytes as activations; "
    f"the whole model {sum(acts.values()) / sum(params.values()):.1f}x"
)
print(
    f"3. inside one block the T x T arrays were {block_kinds[largest]['T x T'] / sum(block_kinds[largest].values()):.0%} of its activations at T = {largest}; "
    f"block fits cross at T = {crossover:.0f}"
)

# %% [markdown]
# **1. What sets a block's parameters?** The width alone (line 1 above): the attention's `c_attn`
# and `c_proj` hold `3C²` and `C²`, the MLP's two layers `4C²` each, so `12 C²` plus the
# LayerNorms' few `C`. Neither the sequence length nor the batch appears, and every block is the
# same size, so parameters grow linearly with depth and quadratically with width. Weight tying
# removes the read-out's own `(vocab, C)` matrix: a large share of a small model whose vocabulary
# is big next to its width, almost nothing in a large one.
#
# **2. What sets its activations?** Every token that passes through a block leaves arrays behind
# for backward: the LayerNorms' inputs, the MLP's `4C`-wide hidden layer (twice: before and after
# GELU), the queries, keys and values, and the attention matrices. So the bytes grow with batch ×
# length × width (plus the `T²` part), and already at this small training batch one block keeps
# more bytes of activations than of parameters (line 2). Bigger batches and longer contexts grow
# this side only: that is why activation memory, not the weights, usually decides what fits, and
# why recomputing activations in backward (checkpointing) pays.
#
# **3. Where does T² win inside a block?** Line 3: the `T x T` arrays grow with the square of the
# length and the rest linearly (the slopes printed above), so their share climbs with `T`; the
# crossover sits at a longer length than for the attention layer alone (lesson 12), because the
# MLP's wide hidden layer adds much more to the linear part. A wider model pushes it further out,
# more heads pull it in: each head keeps its own `T x T` arrays.
