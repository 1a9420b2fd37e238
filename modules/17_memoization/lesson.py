# %% [markdown]
# # Lesson 17 · Memoization: the KV cache
#
# A language model writes one token at a time, and each new token needs the keys and values of
# every earlier position in every layer. Those never change once computed (the mask stops a
# position from seeing later ones), so computing them again at every step is pure waste.
# *Memoization*: keep them. That is the KV cache, and it is why generation is fast.
#
# - **Build**: a KV cache (`MyKVCache`) that plugs into tinytorch's GPT; causal self-attention on
#   the new positions only, reading the earlier ones from the cache; greedy decoding with and
#   without the cache, checked to give the same logits as the full forward pass at every position.
# - **Use**: a small GPT trained on tiny Shakespeare generates text with your decoder, with and
#   without your cache, then with tinytorch's `GPT.generate(use_cache=...)`: the same tokens.
# - **Understand**: the speed-up for generating N tokens, measured (`tinytorch.perf.compare`); the
#   cache's memory growing linearly with the sequence; the FLOPs saved, counted by the profiler.
# - **Reflect**: what the cache saves, what it costs, and why the time saved is less than the work.
#
# Prerequisites: lessons 12 (attention, the causal mask aligned to the end) and 13 (GPT). Fill in
# every `raise NotImplementedError()`, run the cell and the check under it; `tinytorch check 17`
# runs every check and more tests on your notebook.

# %%
import os
import time

import numpy as np
import plotly.graph_objects as go

import tinytorch as tt
from tinytorch import nn
from tinytorch.models import GPT, GPTConfig
from tinytorch.nn import functional as F

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: a smaller model and fewer tokens, so the notebook runs in seconds
rng = np.random.default_rng(0)


def small_gpt(seed=0, **overrides):
    """A small randomly initialised GPT in eval mode, for the checks."""
    tt.manual_seed(seed)
    settings = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=8) | overrides
    return GPT(GPTConfig(**settings)).eval()


# %% [markdown]
# ## Build
#
# ### 1. The cache
#
# In every layer, causal self-attention turns each position into a query, a key and a value,
# `(B, nh, T, hs)` each. Generation adds positions at the end, and the keys and values of the old
# positions stay what they were. So keep them: per layer, the keys and the values of every
# position seen so far. `extend(layer, k, v)` appends this call's new positions (along the
# sequence axis, 2) and returns the keys and values of *all* positions, as tensors; `advance()`,
# called once the forward pass has gone through every layer, makes the new positions count:
# `length` is the number of positions stored. (The model reads `length` before the layers run, to
# number the new positions, so it must not move during the pass.) This is the interface of
# tinytorch's `KVCache`, so your cache plugs into `GPT.forward(idx, cache=...)`.


# %%
class MyKVCache:
    """Per layer, the keys and values of every position so far: arrays (B, nh, length, hs)."""

    def __init__(self, n_layer):
        self.n_layer, self.length = n_layer, 0
        self.keys = [None] * n_layer  # per layer: None, or an array (B, nh, positions, hs)
        self.values = [None] * n_layer

    def extend(self, layer, k, v):
        """Append k, v (B, nh, T_new, hs) to `layer`'s; return all its keys and values as tensors (B, nh, S, hs)."""
        ### BEGIN SOLUTION
        if self.keys[layer] is None:
            self.keys[layer], self.values[layer] = k.data, v.data
        else:
            self.keys[layer] = np.concatenate([self.keys[layer], k.data], axis=2)  # (B, nh, S, hs)
            self.values[layer] = np.concatenate([self.values[layer], v.data], axis=2)
        return tt.Tensor(self.keys[layer]), tt.Tensor(self.values[layer])
        ### END SOLUTION

    def advance(self):
        """After a forward pass through every layer: the positions it added count as seen."""
        ### BEGIN SOLUTION
        self.length = self.keys[0].shape[2]
        ### END SOLUTION


# %% tags=["check"]
# Check: MyKVCache returns what tinytorch's KVCache returns, and in GPT gives the full forward's logits
ours, theirs = MyKVCache(2), nn.KVCache(2)
for new in (3, 1, 2):  # three forward passes adding 3, 1 and 2 positions
    for layer in range(2):
        k, v = tt.tensor(rng.standard_normal((1, 2, new, 4))), tt.tensor(rng.standard_normal((1, 2, new, 4)))
        (k_ours, v_ours), (k_theirs, v_theirs) = ours.extend(layer, k, v), theirs.extend(layer, k, v)
        assert k_ours.shape == k_theirs.shape, (
            f"extend should return keys of shape {k_theirs.shape}, but they have {k_ours.shape}"
        )
        assert np.array_equal(k_ours.data, k_theirs.data) and np.array_equal(v_ours.data, v_theirs.data), (
            f"layer {layer}: extend should return the keys and values of every position so far"
        )
    assert ours.length == theirs.length, f"length should stay {theirs.length} until advance(), but is {ours.length}"
    ours.advance()
    theirs.advance()
    assert ours.length == theirs.length, f"after advance() length should be {theirs.length}, but is {ours.length}"
model = small_gpt()
idx = tt.randint(0, 11, (1, 7))
full = model(idx)[0].data  # (1, 7, vocab): every position at once
cache = MyKVCache(2)
pieces = [model(idx[:, a:b], cache=cache)[0].data for a, b in ((0, 4), (4, 5), (5, 6), (6, 7))]  # a prompt of 4, then 1 at a time
gap = np.abs(np.concatenate(pieces, axis=1) - full).max()
assert gap < 1e-4, f"GPT with your cache should give the full forward's logits at every position; largest difference {gap:.2e}"
print(f"ok: cache length {cache.length}; the cached logits differ from the full forward's by at most {gap:.1e}")

# %% [markdown]
# ### 2. Attention on the new positions only
#
# Inside each layer the cache changes one thing: the queries, keys and values are computed for
# the **new** positions `x (B, T_new, C)` only (`T_new` is 1 once the prompt is in); the keys and
# values go into the cache, which returns those of all `S` positions; the new queries attend to
# all of them. The causal mask must be aligned to the end: new query `i` sits at position
# `S - T_new + i` (lesson 12's `causal_mask(length, keys)`; tinytorch's
# `F.scaled_dot_product_attention(..., is_causal=True)` does the same). Write it for tinytorch's
# `CausalSelfAttention` layer `attn`: its `c_attn`, `c_proj` and `n_head`.


# %%
def cached_self_attention(attn, x, cache, layer):
    """attn (tinytorch's CausalSelfAttention) on the new positions x (B, T_new, C); earlier keys and values come from cache."""
    ### BEGIN SOLUTION
    b, t, c = x.shape
    hs = c // attn.n_head
    q, k, v = (
        part.reshape(b, t, attn.n_head, hs).transpose(1, 2) for part in attn.c_attn(x).split(c, dim=-1)
    )  # 3 x (B, nh, T_new, hs)
    k, v = cache.extend(layer, k, v)  # (B, nh, S, hs): every position so far
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T_new, hs), queries aligned to the end
    return attn.c_proj(out.transpose(1, 2).reshape(b, t, c))  # (B, nh, T_new, hs) -> (B, T_new, C)
    ### END SOLUTION


# %% tags=["check"]
# Check: feeding a sequence in pieces through cached_self_attention gives the layer's full output
tt.manual_seed(0)
attn = nn.CausalSelfAttention(8, 2)
x = tt.randn(2, 6, 8)
with tt.no_grad():
    full = attn(x).data  # (2, 6, 8)
    cache = nn.KVCache(1)  # tinytorch's cache, so this checks your attention alone
    pieces = []
    for a, b in ((0, 3), (3, 4), (4, 5), (5, 6)):
        pieces.append(cached_self_attention(attn, x[:, a:b], cache, 0).data)
        cache.advance()
got = np.concatenate(pieces, axis=1)
assert got.shape == full.shape, f"the pieces should join to shape {full.shape}, but join to {got.shape}"
gap = np.abs(got - full).max()
assert gap < 1e-5, f"cached attention should give the full output at every position; largest difference {gap:.2e}"
print(f"ok: positions fed 3, 1, 1, 1 at a time; largest difference from the full layer {gap:.1e}")

# %% [markdown]
# ### 3. Decoding, with and without the cache
#
# Greedy decoding appends, `max_new_tokens` times, the most likely next token (the argmax of the
# last position's logits). Without a cache (`cache=None`), every step runs the model on the whole
# sequence so far. With one, the first step runs the prompt and fills the cache, and every later
# step feeds only the tokens the cache has not seen (`tokens[:, cache.length:]`: the newest one).
# Return the tokens `(B, T + n)` as a tensor and the logits each step chose from, stacked
# `(n, B, vocab)`. Decoding needs no gradients: `tt.no_grad()` is on.


# %%
@tt.no_grad()
def generate_greedy(model, idx, max_new_tokens, cache=None):
    """Greedy decoding of max_new_tokens after idx (B, T); returns tokens (B, T + n) and each step's logits (n, B, vocab)."""
    ### BEGIN SOLUTION
    tokens, chosen_from = idx.data, []
    for _ in range(max_new_tokens):
        if cache is None:
            logits, _ = model(tt.tensor(tokens))  # the whole sequence, every step
        else:
            logits, _ = model(tt.tensor(tokens[:, cache.length :]), cache=cache)  # only what the cache lacks
        last = logits.data[:, -1, :]  # (B, vocab): the scores of the next token
        chosen_from.append(last)
        tokens = np.concatenate([tokens, last.argmax(axis=-1)[:, None]], axis=1)
    return tt.tensor(tokens), np.stack(chosen_from)
    ### END SOLUTION


# %% tags=["check"]
# Check: decoding with tinytorch's KVCache gives the tokens and logits of decoding without, and of one full forward
model = small_gpt()
for prompt_length in (1, 4):
    prompt = tt.randint(0, 11, (2, prompt_length))
    tokens, logits = generate_greedy(model, prompt, 6, cache=nn.KVCache(2))
    plain_tokens, plain_logits = generate_greedy(model, prompt, 6)
    assert tokens.shape == (2, prompt_length + 6), f"tokens should have shape (2, {prompt_length + 6}), but have {tokens.shape}"
    assert np.shape(logits) == (6, 2, 11), f"the logits should be stacked to (6, 2, 11), but have shape {np.shape(logits)}"
    assert np.array_equal(tokens.data, plain_tokens.data), (
        f"with and without the cache the tokens should agree:\n{tokens}\n{plain_tokens}"
    )
    full = model(tt.tensor(tokens.data[:, :-1]))[0].data[:, prompt_length - 1 :]  # (2, 6, vocab): the positions that chose
    for name, got in (("with the cache", logits), ("without", plain_logits)):
        gap = np.abs(np.transpose(got, (1, 0, 2)) - full).max()
        assert gap < 1e-4, (
            f"prompt of {prompt_length}: the logits {name} should be the full forward's; largest difference {gap:.2e}"
        )
print("ok: the same tokens with and without the cache, and the full forward's logits at every position")

# %% [markdown]
# ## Use
#
# A small GPT trained for a short while on tiny Shakespeare (looked for under `$TINYTORCH_DATA`,
# else `~/.cache/tinytorch/datasets`; without it the lesson uses Sonnet 18 and says so), then
# asked to continue a prompt: with your decoder and cache, without the cache, and with tinytorch's
# `GPT.generate`.

# %%
from tinytorch.datasets import DatasetError
from tinytorch.text import CharTokenizer, TinyShakespeare

try:
    corpus = TinyShakespeare()
    tokenizer, train_data, source, prompt_text = corpus.tokenizer, corpus.train_data, "tiny Shakespeare", "ROMEO:\n"
except DatasetError as e:
    from inspector.demo import TEXT

    print(f"tiny Shakespeare is not on this machine, so this lesson uses Sonnet 18 instead.\n  ({e})")
    tokenizer = CharTokenizer(TEXT)
    train_data, source, prompt_text = tokenizer.encode(TEXT, as_array=True), "Sonnet 18 (tiny Shakespeare not found)", "Shall I"

if FAST:
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=48, n_layer=2, n_head=4, n_embd=48)
    batch_size, steps = 4, 6
else:
    config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=128, n_layer=2, n_head=4, n_embd=64)
    batch_size, steps = 8, 200
tt.manual_seed(0)
model = GPT(config)
optimizer = tt.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=0.0)
gen, start = np.random.default_rng(1), time.perf_counter()
for step in range(steps):
    starts = gen.integers(0, len(train_data) - config.block_size, batch_size)
    windows = train_data[starts[:, None] + np.arange(config.block_size + 1)]  # (B, T + 1)
    _, loss = model(tt.tensor(windows[:, :-1]), tt.tensor(windows[:, 1:]))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step in (0, steps - 1):
        print(f"step {step}: loss {loss.item():.3f}")
model.eval()
print(f"{source}: trained {config} for {steps} steps in {time.perf_counter() - start:.1f} s")

# %% [markdown]
# Your decoder: once with your cache, once without. Same model, same prompt, so the same tokens,
# and the logits at every step agree to float32 rounding.

# %%
prompt = tt.tensor([tokenizer.encode(prompt_text)])  # (1, T)
n_new = 24 if FAST else config.block_size - prompt.shape[1]  # at most the context: the cache never has to slide
timings, results = {}, {}
for name, make_cache in (("your cache", lambda: MyKVCache(config.n_layer)), ("no cache", lambda: None)):
    start = time.perf_counter()
    results[name] = generate_greedy(model, prompt, n_new, cache=make_cache())
    timings[name] = time.perf_counter() - start
(tokens, logits), (plain_tokens, plain_logits) = results["your cache"], results["no cache"]
assert np.array_equal(tokens.data, plain_tokens.data), "your decoder should give the same tokens with and without the cache"
print(f"{n_new} tokens, greedy: with your cache {timings['your cache']:.2f} s, without {timings['no cache']:.2f} s")
print(f"largest difference between the logits with and without the cache: {np.abs(logits - plain_logits).max():.1e}")
print(repr(tokenizer.decode(tokens[0].tolist())))

# %% [markdown]
# tinytorch's `GPT.generate` samples (temperature, top-k) instead of taking the argmax; with the
# same random generator, the cache must not change a single token. (Its cache, `KVCache`,
# preallocates room and doubles it when full, instead of concatenating at every step; the
# Understand part shows what that does to memory.)

# %%
sampled = {}
for use_cache in (True, False):
    start = time.perf_counter()
    out = model.generate(prompt, n_new, temperature=0.8, top_k=10, use_cache=use_cache, generator=np.random.default_rng(0))
    sampled[use_cache] = (out.data, time.perf_counter() - start)
assert np.array_equal(sampled[True][0], sampled[False][0]), "GPT.generate should give the same tokens with and without its cache"
print(f"GPT.generate, {n_new} tokens: use_cache=True {sampled[True][1]:.2f} s, use_cache=False {sampled[False][1]:.2f} s")
print(tokenizer.decode(sampled[True][0][0].tolist()))

# %% [markdown]
# ## Understand
#
# ### The speed-up, measured
#
# `tinytorch.perf.compare` times variants in alternating rounds (so a busy machine slows them
# alike) and reports medians and the throughput ratio against a baseline. Generating `N` tokens
# from a one-token prompt, with and without the cache, for growing `N`:

# %%
from tinytorch.perf import compare

start_token = prompt[:, :1]  # (1, 1)
token_counts = (8, 16, 47) if FAST else (16, 32, 64, 127)
speed = {}
for n in token_counts:
    report = compare(
        {
            "no cache": lambda n=n: model.generate(start_token, n, use_cache=False, generator=np.random.default_rng(0)),
            "KV cache": lambda n=n: model.generate(start_token, n, use_cache=True, generator=np.random.default_rng(0)),
        },
        baseline="no cache", rounds=2 if FAST else 3, warmup=0 if FAST else 1,
    )  # fmt: skip
    speed[n] = (report["no cache"].time.median, report["KV cache"].time.median, report["KV cache"].ratio.median)
    print(f"N = {n:>3}: " + report.text().replace("\n", "\n         "))

fig = go.Figure()
fig.add_trace(go.Scatter(x=list(speed), y=[s[0] for s in speed.values()], mode="lines+markers", name="no cache"))
fig.add_trace(go.Scatter(x=list(speed), y=[s[1] for s in speed.values()], mode="lines+markers", name="KV cache"))
fig.add_trace(go.Scatter(x=list(speed), y=[s[2] for s in speed.values()], mode="lines+markers", name="speed-up", yaxis="y2",
                         line=dict(dash="dot", color="black")))  # fmt: skip
fig.update_layout(width=700, height=380, title="generating N tokens: median seconds, and the speed-up", xaxis_title="N new tokens",
                  yaxis=dict(title="seconds"), yaxis2=dict(title="speed-up (x)", overlaying="y", side="right"))  # fmt: skip
fig.show()

# %% [markdown]
# ### The cache's memory
#
# The cache holds, per layer, a key and a value of `C` numbers (`nh` heads of `hs`) for every
# position: `2 · n_layer · C` numbers per token and sequence, whatever the position. Measured
# below after each generated token: the bytes your cache holds, and the bytes tinytorch's
# preallocated cache holds (its capacity) beside the bytes it uses.


# %%
def cache_bytes(cache):
    return sum(a.nbytes for a in (*cache.keys, *cache.values) if a is not None)


caches = {"yours": MyKVCache(config.n_layer), "tinytorch": nn.KVCache(config.n_layer)}
memory = {name: [] for name in (*caches, "tinytorch, used")}
with tt.no_grad():
    tokens = start_token.data
    for _ in range(config.block_size - 1):
        for cache in caches.values():
            logits, _ = model(tt.tensor(tokens[:, cache.length :]), cache=cache)
        tokens = np.concatenate([tokens, logits.data[:, -1].argmax(-1)[:, None]], axis=1)
        ours_cache, tt_cache = caches["yours"], caches["tinytorch"]
        memory["yours"].append(cache_bytes(ours_cache))
        memory["tinytorch"].append(cache_bytes(tt_cache))  # its capacity
        memory["tinytorch, used"].append(cache_bytes(tt_cache) * tt_cache.length // tt_cache.keys[0].shape[2])
positions = np.arange(1, config.block_size)
per_token = np.polyfit(positions, memory["yours"], 1)[0]
formula = 2 * config.n_layer * config.n_embd * 4  # keys and values, every layer, float32
print(f"your cache grows by {per_token:.1f} bytes per token; 2 x n_layer x C x 4 bytes = {formula}")
print(f"at {positions[-1]} positions: yours {memory['yours'][-1]:,} bytes, tinytorch's {memory['tinytorch'][-1]:,} allocated")
params_bytes = sum(p.data.nbytes for p in model.parameters())
print(f"the model's parameters: {params_bytes:,} bytes")

fig = go.Figure()
for name, dash in (("yours", None), ("tinytorch", "dot"), ("tinytorch, used", "dash")):
    fig.add_trace(go.Scatter(x=positions, y=memory[name], name=name, line=dict(dash=dash, shape="hv")))
fig.update_layout(width=700, height=360, title="KV-cache bytes against the number of positions", xaxis_title="positions in the cache",
                  yaxis_title="bytes")  # fmt: skip
fig.show()

# %% [markdown]
# ### The work saved, counted
#
# The profiler (`tinytorch.perf.Profile`) counts every op's floating-point operations from the
# formula declared beside it. Profiling each decoding step apart shows where the work goes: without
# the cache, step `t` runs the whole model over `t` positions; with it, over one.

# %%
from tinytorch.perf import Profile


def flops_per_step(use_cache, n):
    """FLOPs and seconds of each of n greedy steps from the one-token start."""
    cache, tokens, flops, seconds = nn.KVCache(config.n_layer) if use_cache else None, start_token.data, [], []
    with tt.no_grad():
        for _ in range(n):
            feed = tokens[:, cache.length :] if use_cache else tokens
            with Profile() as prof:
                logits, _ = model(tt.tensor(feed), cache=cache)
            flops.append(sum(e.flops for e in prof.events))
            seconds.append(prof.wall)
            tokens = np.concatenate([tokens, logits.data[:, -1].argmax(-1)[:, None]], axis=1)
    return np.array(flops), np.array(seconds), prof


n_profiled = token_counts[-1]
flops_cached, seconds_cached, prof_cached = flops_per_step(True, n_profiled)
flops_plain, seconds_plain, prof_plain = flops_per_step(False, n_profiled)
flop_ratio = flops_plain.sum() / flops_cached.sum()
time_ratio = seconds_plain.sum() / seconds_cached.sum()
print(f"{n_profiled} tokens: {flops_plain.sum() / 1e6:.1f} MFLOP without the cache, {flops_cached.sum() / 1e6:.2f} MFLOP with it")
print(f"without the cache / with it: {flop_ratio:.1f}x the FLOPs, {time_ratio:.1f}x the time inside the profiled steps")
print("\nthe last step without the cache:\n" + prof_plain.text(top=5))
print("\nthe last step with the cache:\n" + prof_cached.text(top=5))

fig = go.Figure()
fig.add_trace(go.Scatter(x=np.arange(1, n_profiled + 1), y=flops_plain, name="no cache"))
fig.add_trace(go.Scatter(x=np.arange(1, n_profiled + 1), y=flops_cached, name="KV cache"))
fig.update_layout(width=700, height=360, title="FLOPs of each decoding step", xaxis_title="step (positions so far)",
                  yaxis_title="FLOPs")  # fmt: skip
fig.show()

# %% [markdown]
# ## Reflect

# %%
n_max = token_counts[-1]
print(
    f"1. generating {n_max} tokens: {speed[n_max][0]:.2f} s without the cache, {speed[n_max][1]:.2f} s with it, "
    f"a {speed[n_max][2]:.1f}x speed-up (it was {speed[token_counts[0]][2]:.1f}x for {token_counts[0]} tokens)"
)
print(
    f"2. the cache grows by {per_token:.0f} bytes per token (formula {formula}); full context: {memory['yours'][-1]:,} bytes, "
    f"{memory['yours'][-1] / params_bytes:.2f}x the parameters; tinytorch's allocated {memory['tinytorch'][-1] / memory['yours'][-1]:.2f}x that"
)
print(f"3. for {n_max} tokens the cache cut the FLOPs {flop_ratio:.1f}-fold and the time {speed[n_max][2]:.1f}-fold")

# %% [markdown]
# **1. Why does the cache speed generation up, and more for longer outputs?** Without it, step `t`
# recomputes the keys and values of all `t` positions in every layer, so `N` tokens cost work
# growing as `N²` (plus the attention's own `N³` over all steps); with it, each step computes one
# position and reads the rest, so the work grows as `N` (plus `N²` for attention). The ratio of
# the two grows with `N`: line 1 above shows the speed-up widening from the shortest output to the
# longest.
#
# **2. What does it cost?** Memory, linear in the sequence (line 2): a key and a value per layer
# per position per sequence, exactly the formula. For this small model at this context that is
# a fraction of the parameters' bytes; but it multiplies with the context and with the number of
# sequences decoded at once, so a large model serving long contexts to many users keeps more
# cache than weights. Concatenating at every step (yours) copies the whole cache each token;
# tinytorch preallocates and doubles the room when it runs out, so an append is cheap on average,
# at the price of up to twice the bytes (the steps in the plot).
#
# **3. Why is the time saved smaller than the arithmetic saved?** Line 3: a one-token step still
# runs every op of the model (as many calls as a full step, each on tiny arrays), so Python's and
# NumPy's fixed cost per op, not arithmetic, sets its time; and its matrix products are
# matrix-vector products that read every weight to use it once, bound by memory bandwidth. The
# cache removes FLOPs; it cannot remove the per-op overhead or the weight reads.
