# %% [markdown]
# # Lesson 12 · Attention
#
# Attention lets every position of a sequence look at the others and take a weighted mix of what
# it finds there: `softmax(q k^T / sqrt(d)) v`. It is the one layer of a transformer whose cost
# grows with the *square* of the sequence length, and this lesson measures exactly that.
#
# - **Build**: softmax from primitives (stable against overflow); the causal mask; scaled
#   dot-product attention returning its weights; splitting channels into heads and merging them
#   back; a causal self-attention layer, checked against tinytorch's `CausalSelfAttention`.
# - **Use**: a tiny character model (embeddings, your attention layer, a linear read-out) trained
#   on tiny Shakespeare, then the same model with tinytorch's layer: the same loss curve.
# - **Understand**: the attention maps the recorder probes, drawn by the inspector's figure; and
#   the bytes one attention layer keeps for backward at growing sequence lengths, measured by the
#   recorder: the attention matrices grow as T², the linear layers' inputs as T.
# - **Reflect**: why attention is O(T²) in memory, from those measurements.
#
# Prerequisites: lessons 05 (autograd), 03 (`Linear`, `Module`) and 11 (embeddings). Fill in every
# `raise NotImplementedError()`, run the cell and the check under it; `tinytorch check 12` runs
# every check and more tests on your notebook.

# %%
import os
import tempfile
import time

import numpy as np
import plotly.graph_objects as go

import tinytorch as tt
from tinytorch import nn
from tinytorch.autograd import gradcheck
from tinytorch.nn import functional as F

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: fewer steps and shorter sequences, so the notebook runs in seconds
rng = np.random.default_rng(0)


def f64(*shape):
    """A random float64 leaf that requires grad: gradcheck's finite differences need float64."""
    return tt.tensor(rng.standard_normal(shape), requires_grad=True)


# %% [markdown]
# ## Build
#
# ### 1. Softmax from primitives
#
# `softmax(x)_i = exp(x_i) / sum_j exp(x_j)` along one dimension: positive weights that sum to 1.
# Written as it stands, `exp(1000)` overflows to `inf` and the result is `nan`. Subtracting the
# row's maximum first changes nothing mathematically (the factor `exp(-max)` cancels) and keeps
# every exponent at most 0. Use tinytorch's primitives only (`amax`, `-`, `exp`, `sum`, `/`), so
# autograd differentiates it for you; take the maximum of `x.detach()`: it is a constant shift,
# and a masked entry of `-inf` must become a weight of exactly 0.


# %%
def softmax(x, dim=-1):
    """exp(x - max) / sum(exp(x - max)) along dim, from tinytorch primitives (so it has a gradient)."""
    ### BEGIN SOLUTION
    e = (x - x.detach().amax(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)
    ### END SOLUTION


# %% tags=["check"]
# Check: softmax agrees with tinytorch's, passes gradcheck, survives large inputs and -inf
x = f64(3, 5)
for dim in (-1, 0):
    ours, theirs = softmax(x, dim), x.softmax(dim)
    assert ours.shape == theirs.shape, f"softmax(x, dim={dim}) should have shape {theirs.shape}, but has {ours.shape}"
    assert np.allclose(ours.data, theirs.data), f"softmax(x, dim={dim}) should be\n{theirs.data}\nbut is\n{ours.data}"
assert gradcheck(lambda t: softmax(t, -1), [x])  # raises GradcheckError saying which entry differs
big = softmax(tt.tensor([[1000.0, 1001.0, 1002.0]]))
assert np.isfinite(big.data).all(), f"softmax of [1000, 1001, 1002] should be finite, but is {big.data}: subtract the max"
masked = softmax(tt.tensor([[0.5, float("-inf"), 0.5]]))
assert np.allclose(masked.data, [[0.5, 0.0, 0.5]]), f"softmax([0.5, -inf, 0.5]) should be [0.5, 0, 0.5], but is {masked.data}"
print("ok:", softmax(tt.tensor([1.0, 2.0, 3.0])))

# %% [markdown]
# ### 2. The causal mask
#
# A language model predicts the next character from the ones before it, so position `i` may look
# at positions `0 .. i` and never ahead. For `L` queries and `S` keys the mask is a boolean
# `(L, S)` array, True where the query may attend. Usually `L = S` and it is the lower triangle.
# When a cache holds earlier keys (lesson 17), the `L` queries are the *last* `L` positions of
# the `S`: query `i` sits at position `S - L + i` and sees keys `0 .. S - L + i`.
# (`np.tril(a, k)` keeps the entries on and below the `k`-th diagonal.)


# %%
def causal_mask(length, keys=None):
    """(length, keys) booleans, True where query i (at position keys - length + i) may see key j."""
    keys = length if keys is None else keys
    ### BEGIN SOLUTION
    return np.tril(np.ones((length, keys), dtype=bool), keys - length)
    ### END SOLUTION


# %% tags=["check"]
# Check: causal_mask is the lower triangle, aligned to the end when there are more keys than queries
got = causal_mask(3)
want = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=bool)
assert np.asarray(got).dtype == bool, f"causal_mask should be booleans, but has dtype {np.asarray(got).dtype}"
assert np.array_equal(got, want), f"causal_mask(3) should be\n{want}\nbut is\n{got}"
got = causal_mask(2, 5)
want = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=bool)
assert np.array_equal(got, want), f"causal_mask(2, 5): the queries are positions 3 and 4, so it should be\n{want}\nbut is\n{got}"
print("ok:\n", causal_mask(4).astype(int))

# %% [markdown]
# ### 3. Scaled dot-product attention
#
# For queries `q (..., L, d)`, keys `k (..., S, d)` and values `v (..., S, d)`:
#
# 1. scores `q @ k^T`, times `1 / sqrt(d)`: `(..., L, S)`, one score per (query, key) pair. The
#    scale keeps the scores' spread near 1 whatever `d` is, so softmax does not saturate.
# 2. with `is_causal`, scores where the mask is False become `-inf` (`masked_fill(mask, value)`
#    fills where `mask` is True, so pass the *blocked* positions, `~allowed`, as a `tt.tensor`);
# 3. weights = `softmax(scores)` over the keys (your step 1); every row sums to 1;
# 4. output `weights @ v`: `(..., L, d)`, each query's weighted mix of the values.
#
# Return the output and the weights (the pictures below draw the weights).


# %%
def scaled_dot_product_attention(q, k, v, is_causal=False):
    """softmax(q k^T / sqrt(d) [+ causal mask]) v, and the weights. q (..., L, d); k, v (..., S, d)."""
    ### BEGIN SOLUTION
    length, keys, d = q.shape[-2], k.shape[-2], q.shape[-1]
    scores = (q @ k.transpose(-2, -1)) * (1.0 / np.sqrt(d))  # (..., L, d) @ (..., d, S) -> (..., L, S)
    if is_causal:
        scores = scores.masked_fill(tt.tensor(~causal_mask(length, keys)), float("-inf"))
    weights = softmax(scores, dim=-1)  # (..., L, S)
    return weights @ v, weights  # (..., L, S) @ (..., S, d) -> (..., L, d)
    ### END SOLUTION


# %% tags=["check"]
# Check: attention gives tinytorch's output, weights and gradients, causal or not
q, k, v = f64(2, 4, 3), f64(2, 4, 3), f64(2, 4, 3)
for is_causal in (False, True):
    out, weights = scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    want_out, want_weights = F.attention(q, k, v, is_causal=is_causal)
    assert out.shape == (2, 4, 3), f"the output should have shape (2, 4, 3), but has {out.shape}"
    assert np.allclose(weights.data, want_weights.data), (
        f"weights (is_causal={is_causal}) should be\n{want_weights.data}\nbut are\n{weights.data}"
    )
    assert np.allclose(out.data, want_out.data), f"output (is_causal={is_causal}) should be\n{want_out.data}\nbut is\n{out.data}"
    assert gradcheck(lambda q, k, v, causal=is_causal: scaled_dot_product_attention(q, k, v, causal)[0], [q, k, v])
causal_weights = scaled_dot_product_attention(q, k, v, is_causal=True)[1].data
assert np.all(np.triu(causal_weights, 1) == 0), "with is_causal=True no query should put weight on a later key"
print("ok: the first query's causal weights:", causal_weights[0, 0], "the last's:", causal_weights[0, -1].round(3))

# %% [markdown]
# ### 4. Heads: split the channels, merge them back
#
# One attention over `C` channels gives each query a single mix. Multi-head attention cuts the
# channels into `n_head` groups of `hs = C / n_head` and runs attention in each group separately,
# so a position can look at several places at once (one head at the previous character, another
# at the start of the word). Splitting is a reshape and a transpose, both views:
# `(B, T, C) -> (B, T, nh, hs) -> (B, nh, T, hs)`; merging undoes it. Refuse a `C` that `n_head`
# does not divide, with a `ValueError`.


# %%
def split_heads(x, n_head):
    """(B, T, C) -> (B, n_head, T, C // n_head): head h holds channels h*hs .. (h+1)*hs - 1."""
    ### BEGIN SOLUTION
    b, t, c = x.shape
    if c % n_head:
        raise ValueError(f"{c} channels do not split into {n_head} heads")
    return x.reshape(b, t, n_head, c // n_head).transpose(1, 2)  # (B, T, C) -> (B, T, nh, hs) -> (B, nh, T, hs)
    ### END SOLUTION


def merge_heads(x):
    """(B, nh, T, hs) -> (B, T, nh * hs): the inverse of split_heads."""
    ### BEGIN SOLUTION
    b, nh, t, hs = x.shape
    return x.transpose(1, 2).reshape(b, t, nh * hs)  # (B, nh, T, hs) -> (B, T, nh, hs) -> (B, T, C)
    ### END SOLUTION


# %% tags=["check"]
# Check: split_heads puts channels h*hs.. in head h, merge_heads undoes it, and 10 channels refuse 4 heads
x = tt.tensor(np.arange(2 * 3 * 8, dtype=np.float32).reshape(2, 3, 8))
heads = split_heads(x, 4)
assert heads.shape == (2, 4, 3, 2), f"split_heads of (2, 3, 8) into 4 heads should have shape (2, 4, 3, 2), but has {heads.shape}"
want = x.data.reshape(2, 3, 4, 2).transpose(0, 2, 1, 3)
assert np.array_equal(heads.data, want), f"head 1 of the first sample should be\n{want[0, 1]}\nbut is\n{heads.data[0, 1]}"
back = merge_heads(heads)
assert back.shape == (2, 3, 8) and np.array_equal(back.data, x.data), "merge_heads(split_heads(x, 4)) should give x back"
try:
    split_heads(tt.zeros(1, 2, 10), 4)
except ValueError as e:
    print("ok: 10 channels into 4 heads raises ValueError:", e)
else:
    raise AssertionError("split_heads of 10 channels into 4 heads should raise ValueError")

# %% [markdown]
# ### 5. Causal self-attention, the layer
#
# Now a `Module`: one `Linear` from `C` to `3C` gives the queries, keys and values of every
# position at once (`c_attn`; its output splits along the last dimension into `q | k | v`); split
# each into heads; causal attention in every head; merge the heads; a last `Linear` (`c_proj`)
# mixes them. The names are tinytorch's (and nanoGPT's), so the two layers load each other's
# weights. The line between your two parts hands the weights to an active recorder (the inspector
# draws them below); it does nothing when nothing records.


# %%
class MyCausalSelfAttention(nn.Module):
    """Causal self-attention over n_embd channels in n_head heads: c_attn to q, k, v; attention; c_proj."""

    def __init__(self, n_embd, n_head, bias=True):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)  # x -> [q | k | v]
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)

    def forward(self, x):
        """x (B, T, C) -> (B, T, C); position t sees positions 0..t only."""
        # first part: `out` (B, nh, T, hs) and `weights` (B, nh, T, T); second part: return the layer's output
        ### BEGIN SOLUTION
        c = x.shape[-1]
        q, k, v = (split_heads(part, self.n_head) for part in self.c_attn(x).split(c, dim=-1))  # 3 x (B, nh, T, hs)
        out, weights = scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs), (B, nh, T, T)
        ### END SOLUTION
        tt.record.attention(weights)  # the recorder keeps them when it probes; otherwise a no-op
        ### BEGIN SOLUTION
        return self.c_proj(merge_heads(out))  # (B, T, C)
        ### END SOLUTION


# %% tags=["check"]
# Check: MyCausalSelfAttention with tinytorch's weights gives its outputs and gradients
tt.manual_seed(0)
theirs = nn.CausalSelfAttention(8, 2)
ours = MyCausalSelfAttention(8, 2)
ours.load_state_dict(theirs.state_dict())
x = tt.randn(2, 5, 8, requires_grad=True)
got, want = ours(x), theirs(x)
assert got.shape == (2, 5, 8), f"the layer's output should have shape (2, 5, 8), but has {got.shape}"
assert np.allclose(got.data, want.data, atol=1e-5), f"the output should be tinytorch's\n{want.data[0]}\nbut is\n{got.data[0]}"
(got * want.detach()).sum().backward()
ours_grads = {name: p.grad.data.copy() for name, p in ours.named_parameters()}
x_grad, x.grad = x.grad.data.copy(), None
(theirs(x) * want.detach()).sum().backward()
for name, p in theirs.named_parameters():
    assert np.allclose(ours_grads[name], p.grad.data, atol=1e-5), f"{name}.grad should be tinytorch's, but differs"
assert np.allclose(x_grad, x.grad.data, atol=1e-5), "the gradient of the input should be tinytorch's"
print("ok: your layer and tinytorch's agree;", [name for name, _ in ours.named_parameters()])

# %% [markdown]
# ## Use
#
# Real text: tiny Shakespeare (about a million characters, the corpus of Karpathy's char-rnn and
# nanoGPT). tinytorch looks for it under `$TINYTORCH_DATA`, else `~/.cache/tinytorch/datasets`;
# `TinyShakespeare(download=True)` fetches it. Without it the lesson trains on Sonnet 18 (the
# inspector's demo text), so every cell still runs, and says so.

# %%
from tinytorch.datasets import DatasetError
from tinytorch.text import CharTokenizer, TinyShakespeare

try:
    text, source = TinyShakespeare().text, "tiny Shakespeare"
except DatasetError as e:
    from inspector.demo import TEXT as text

    source = "Sonnet 18 (tiny Shakespeare not found)"
    print(f"tiny Shakespeare is not on this machine, so this lesson uses Sonnet 18 instead.\n  ({e})")
tokenizer = CharTokenizer(text)
data = tokenizer.encode(text, as_array=True)  # int64 ids, one per character
vocab_size = tokenizer.vocab_size
print(f"{source}: {len(text):,} characters, a vocabulary of {vocab_size}: {''.join(tokenizer.chars)!r}")

# %% [markdown]
# The model is as small as a language model gets: each character's embedding plus its position's,
# one causal self-attention layer added on (a residual connection), a LayerNorm, and a `Linear`
# that scores every character of the vocabulary as the next one. Without attention it could only
# learn which character follows which; attention lets it use the characters before.

# %%
block_size, n_embd, n_head, batch_size = (32, 32, 4, 8) if FAST else (64, 64, 4, 16)
steps = 15 if FAST else 300


class TinyCharModel(nn.Module):
    """Characters (B, T) -> token + position embeddings -> x + attention(x) -> LayerNorm -> logits (B, T, vocab)."""

    def __init__(self, attention, vocab_size, block_size, n_embd):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab_size, n_embd), nn.Embedding(block_size, n_embd)
        self.attn = attention
        self.ln, self.head = nn.LayerNorm(n_embd), nn.Linear(n_embd, vocab_size)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(tt.arange(idx.shape[1]))  # (B, T, C) + (T, C)
        x = x + self.attn(x)  # each position adds what it gathered from the ones before it
        return self.head(self.ln(x))  # (B, T, vocab)


def batches(seed):
    """Random windows of the text: inputs x (B, T) and targets y, the next character at each position."""
    gen = np.random.default_rng(seed)
    while True:
        starts = gen.integers(0, len(data) - block_size, batch_size)
        windows = data[starts[:, None] + np.arange(block_size + 1)]  # (B, T + 1)
        yield tt.tensor(windows[:, :-1]), tt.tensor(windows[:, 1:])


def train(model):
    """AdamW on `steps` batches (the same ones for every model); returns the losses and the seconds per step."""
    optimizer = tt.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    losses, stream, start = [], batches(seed=1), time.perf_counter()
    for _ in range(steps):
        x, y = next(stream)
        loss = F.cross_entropy(model(x).reshape(-1, vocab_size), y.reshape(-1))  # (B*T, vocab) vs (B*T,)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, (time.perf_counter() - start) / steps


tt.manual_seed(0)
ours_model = TinyCharModel(MyCausalSelfAttention(n_embd, n_head), vocab_size, block_size, n_embd)
tt_model = TinyCharModel(nn.CausalSelfAttention(n_embd, n_head), vocab_size, block_size, n_embd)
tt_model.load_state_dict(ours_model.state_dict())  # the same starting weights
ours_losses, ours_step = train(ours_model)
tt_losses, tt_step = train(tt_model)
gap = max(abs(a - b) for a, b in zip(ours_losses, tt_losses))
print(
    f"{steps} steps, batches of {batch_size} x {block_size} characters, {sum(p.numel() for p in ours_model.parameters()):,} parameters"
)
print(f"your attention:      loss {ours_losses[0]:.3f} -> {ours_losses[-1]:.3f}, {1e3 * ours_step:.1f} ms/step")
print(f"tinytorch attention: loss {tt_losses[0]:.3f} -> {tt_losses[-1]:.3f}, {1e3 * tt_step:.1f} ms/step")
print(f"largest difference between the two loss curves: {gap:.2e} (uniform guessing: {np.log(vocab_size):.3f})")
assert gap < 1e-3, "the same layer with the same weights should give the same training curve"

# %% [markdown]
# What has it learned? Sampling from it, one character at a time (each new character is fed back
# in; the window keeps the last `block_size`):


# %%
@tt.no_grad()
def sample(model, prompt, n, seed=0):
    gen, ids = np.random.default_rng(seed), list(tokenizer.encode(prompt))
    for _ in range(n):
        logits = model(tt.tensor([ids[-block_size:]]))[0, -1].data.astype(np.float64)  # the last position's scores
        p = np.exp(logits - logits.max())
        ids.append(int(gen.choice(vocab_size, p=p / p.sum())))
    return tokenizer.decode(ids)


fig = go.Figure(go.Scatter(y=ours_losses, name="your attention"))
fig.add_trace(go.Scatter(y=tt_losses, name="tinytorch's", line=dict(dash="dot")))
fig.update_layout(width=620, height=300, margin=dict(l=10, r=10, t=40, b=10), title="training loss", xaxis_title="step")
fig.show()
print(sample(ours_model, text[: block_size // 2], 60 if FAST else 200))

# %% [markdown]
# ## Understand
#
# ### Attention maps, as the recorder probes them
#
# `tinytorch.record(..., probe=tokens)` runs the model on a fixed input at recorded steps and keeps
# every attention layer's weights: the `tt.record.attention(weights)` line in your layer hands them
# over. The inspector's Attention page draws them with `inspector.figures.attention.grid`, a plain
# Plotly figure, so it renders here too. Each map has the query (the position attending) on the
# vertical axis and the key (the position attended to) on the horizontal one; the causal mask
# leaves the upper triangle empty.

# %%
from inspector import figures

logdir = tempfile.mkdtemp(prefix="lesson12-")
probe_text = text[: min(block_size, 32)]
probe = tt.tensor([tokenizer.encode(probe_text)])  # (1, T)


def probe_maps(model, name):
    """The attention weights of `model` on the probe text, as the recorder stores them: {layer: {weights, tokens}}."""
    with tt.record(
        f"{logdir}/{name}", model=model, probe=probe, probe_every=1, probe_tokens=list(probe_text), trace_steps=()
    ) as run:
        run.step()  # a step boundary: the recorder runs its probe
    return run.reader().probe(0)


tt.manual_seed(0)
untrained = TinyCharModel(MyCausalSelfAttention(n_embd, n_head), vocab_size, block_size, n_embd)
maps = {"untrained": probe_maps(untrained, "untrained"), "trained": probe_maps(ours_model, "trained")}
figures.attention.grid(maps["trained"], title=f"your trained layer on {probe_text[:24]!r}...: one map per head").show()

# %% [markdown]
# Two numbers per head summarise a map: how far back a query looks on average (the weights times
# the distance `i - j`, averaged over queries), and how spread its weights are (the entropy, in
# nats; a query at position `i` that spreads evenly over its `i + 1` keys has entropy `log(i + 1)`).
# Training (given enough steps) sharpens the untrained layer's near-uniform maps into heads with a
# preference: compare the two lines printed below.


# %%
def head_stats(weights):
    """Per head: the mean distance looked back and the mean entropy of the weights. weights (heads, T, T)."""
    w = np.asarray(weights, dtype=np.float64)
    t = w.shape[-1]
    distance = np.arange(t)[:, None] - np.arange(t)[None, :]  # i - j
    entropy = -(w * np.log(np.where(w > 0, w, 1))).sum(-1)  # (heads, T)
    return (w * distance).sum(-1).mean(-1), entropy.mean(-1)


stats = {name: head_stats(m["attn"]["weights"]) for name, m in maps.items()}
uniform_entropy = np.mean(np.log(np.arange(1, len(probe_text) + 1)))
for name, (distance, entropy) in stats.items():
    print(f"{name:>9}: distance looked back per head {np.round(distance, 2)}, entropy {np.round(entropy, 2)}")
print(f"evenly spread weights would have entropy {uniform_entropy:.2f} and look back {(len(probe_text) - 1) / 4:.2f} on average")

# %% [markdown]
# ### Memory: what one attention layer keeps for backward
#
# To compute gradients, autograd keeps some arrays of the forward pass alive until backward (the
# *activations*, lesson 05). `tinytorch.record` traces every buffer of a training step with its
# category, the op that saved it and the module it belongs to. Below, one traced step of the model
# per sequence length `T` (batch 1); each activation is charged to the module of the op that saved
# it, and within the attention layer split into the arrays shaped `(B, nh, T, T)` (scores and
# weights, one number per pair of positions), the inputs the two `Linear` layers keep, and the
# rest (the queries, keys and values, the softmax's sums).

# %%
lengths = (32, 64, 128) if FAST else (64, 128, 256, 512)


def attention_activations(t):
    """One traced training step at sequence length t: the attention layer's saved bytes, by kind."""
    tt.manual_seed(0)
    model = TinyCharModel(nn.CausalSelfAttention(n_embd, n_head), vocab_size, max(lengths), n_embd)
    ids = tt.tensor(np.resize(data, t + 1)[None])  # (1, t + 1): the first t + 1 characters, repeated if the text is short
    with tt.record(f"{logdir}/T{t}", model=model, trace_steps=(0,)) as run:
        loss = F.cross_entropy(model(ids[:, :-1]).reshape(t, vocab_size), ids[0, 1:])
        loss.backward()
        run.step(loss)
    reader = run.reader()
    events, op_module = reader.memory_events(0), {op["seq"]: op["module"] or "" for op in reader.ops(0)}
    kinds = {"attention (T x T)": 0, "linear layers": 0, "other": 0}
    holders = set()
    for b in figures.memory.buffers(events):
        saved_by = [holder for _, category, holder in b["history"] if category == "activation"]
        if not saved_by:
            continue
        op, seq = saved_by[0].removeprefix("saved by ").split("#")
        if not op_module.get(int(seq), "").startswith("attn"):
            continue  # saved by another module: embeddings, LayerNorm, the head
        shape = events["shape"][b["alloc"]]  # the buffer's shape, from its allocation event
        if tuple(shape) == (1, n_head, t, t):
            kinds["attention (T x T)"] += b["nbytes"]
            holders.update(h.removeprefix("saved by ").split("#")[0] for h in saved_by)
        elif op == "Linear":
            kinds["linear layers"] += b["nbytes"]
        else:
            kinds["other"] += b["nbytes"]
    return kinds, sorted(holders)


measured = {t: attention_activations(t) for t in lengths}
print(f"one attention layer, n_embd {n_embd}, {n_head} heads, batch 1: activation bytes saved for backward\n")
print("| T | attention (T x T) | linear layers | other | whole layer | T x T share |")
print("|---:|---:|---:|---:|---:|---:|")
for t, (kinds, _) in measured.items():
    total = sum(kinds.values())
    print(
        f"| {t} | {kinds['attention (T x T)']:,} | {kinds['linear layers']:,} | {kinds['other']:,} | {total:,} | {kinds['attention (T x T)'] / total:.0%} |"
    )
square_holders = measured[lengths[-1]][1]
print(f"\nthe (B, nh, T, T) arrays kept at T = {lengths[-1]}, by the ops that saved them: {square_holders}")

# %% [markdown]
# On log-log axes a power law `bytes = a T^p` is a straight line of slope `p`. The fitted slopes
# are computed from the table above (a least-squares line through the logarithms). The whole layer
# is a sum of both kinds, so its slope lies between them and climbs towards 2 as `T` grows.

# %%
t_axis = np.array(lengths, dtype=np.float64)
series = {
    name: np.array([measured[t][0][name] for t in lengths], dtype=np.float64) for name in ("attention (T x T)", "linear layers")
}
series["whole layer"] = np.array([sum(measured[t][0].values()) for t in lengths], dtype=np.float64)
slopes = {}
fig = go.Figure()
for (name, values), color in zip(series.items(), ("#d62728", "#1f77b4", "#7f7f7f")):
    slope, intercept = np.polyfit(np.log(t_axis), np.log(values), 1)
    slopes[name] = slope
    fig.add_trace(go.Scatter(x=t_axis, y=values, mode="markers", marker=dict(size=10, color=color), name=f"{name} (measured)"))
    fig.add_trace(go.Scatter(x=t_axis, y=np.exp(intercept) * t_axis**slope, mode="lines", line=dict(dash="dash", color=color),
                             name=f"fit: slope {slope:.2f}"))  # fmt: skip
fig.update_layout(width=700, height=420, title="one attention layer: activation bytes against sequence length",
                  xaxis=dict(type="log", title="sequence length T"), yaxis=dict(type="log", title="bytes saved for backward"))  # fmt: skip
fig.show()
print(", ".join(f"{name}: slope {s:.3f}" for name, s in slopes.items()))

# %% [markdown]
# The `(B, nh, T, T)` arrays are exactly `B · nh · T² · 4` bytes each (float32), so the measured
# bytes say how many of them the layer keeps; and how much of each is the masked upper triangle,
# the zeros the causal mask wrote:

# %%
per_matrix = {t: 1 * n_head * t * t * 4 for t in lengths}
matrices_kept = {t: measured[t][0]["attention (T x T)"] / per_matrix[t] for t in lengths}
trained_weights = maps["trained"]["attn"]["weights"]  # (heads, T, T)
zero_share = float((trained_weights == 0).mean())
print(f"(B, nh, T, T) float32 arrays kept per layer: {matrices_kept}")
print(f"share of the probe's attention weights that are exact zeros (masked): {zero_share:.1%}")

# %% [markdown]
# ## Reflect

# %%
largest = lengths[-1]
at_largest = measured[largest][0]
fit_square, fit_linear = (np.polyfit(np.log(t_axis), np.log(series[n]), 1) for n in ("attention (T x T)", "linear layers"))
crossover = np.exp((fit_linear[1] - fit_square[1]) / (fit_square[0] - fit_linear[0]))
print(
    f"1. fitted slopes on log-log axes: attention (T x T) {slopes['attention (T x T)']:.2f}, linear layers {slopes['linear layers']:.2f}; "
    f"doubling T multiplied them by {2 ** slopes['attention (T x T)']:.2f} and {2 ** slopes['linear layers']:.2f}"
)
print(
    f"2. at T = {largest} the attention matrices took {at_largest['attention (T x T)'] / at_largest['linear layers']:.1f}x the linear layers' bytes; "
    f"the fits cross at T = {crossover:.0f}"
)
print(
    f"3. the layer kept {matrices_kept[largest]:.0f} (B, nh, T, T) arrays ({', '.join(square_holders)}); "
    f"{zero_share:.0%} of the probe's weights are masked zeros"
)

# %% [markdown]
# **1. Why does attention's memory grow as T², and the linear layers' as T?** A `Linear` treats
# each position on its own: it keeps its `(T, C)` input, one row per position, so twice the
# positions is twice the bytes (the linear layers' slope on line 1 above). Attention compares every
# query with every key: the scores and the softmax weights hold one number per *pair* of positions,
# `T · T` per head, and backward needs them (the softmax's gradient uses its output, the product
# `weights @ v` uses the weights). Twice the positions is four times the bytes: the attention slope
# on line 1, and the whole layer's slope climbs towards it as the `T x T` part takes over.
#
# **2. When does the attention matrix dominate?** Line 2: below the crossover the projections'
# inputs (`T x C`, growing with the width `C`) are the larger part; above it the `T x T` part wins
# and keeps winning by a factor that grows linearly with `T`. A context ten times longer costs the
# linear layers ten times the memory and attention a hundred times: that is why long contexts are
# expensive, and why the width `C` and the number of heads set where the crossover falls.
#
# **3. Does the causal mask save memory?** No (line 3): the masked scores are stored as `-inf` and
# the masked weights as exact zeros, so the dense arrays are as big as without a mask; about half
# of each is zeros. The layer keeps more than one `T x T` array per head: the scaled scores (the
# multiply by `1 / sqrt(d)` keeps its input), the exponentials and the weights. Memory-efficient
# attention (FlashAttention) never stores them: it computes the softmax block by block and
# recomputes the weights during backward, trading arithmetic for memory.
