# %% [markdown]
# # Lesson 10 · Tokenization
#
# A language model reads integers, not text. A **tokenizer** turns text into a sequence of ids
# from a fixed vocabulary and back. The simplest gives every character its own id; byte-pair
# encoding (**BPE**, as in GPT-2) starts from the 256 bytes and learns to merge frequent pairs
# into new tokens, so common words become one token each. The choice sets how long sequences are,
# how big the model's first and last layers are, and how often each token is seen in training.
#
# - **Build**: a character tokenizer; byte-level BPE: counting adjacent pairs, merging a pair,
#   training the merges, encoding and decoding; each checked against `tinytorch.text`.
# - **Use**: both on tiny Shakespeare, yours and then tinytorch's: the same ids and merges, and
#   what each costs in time.
# - **Understand**: compression (characters per token) against vocabulary size, measured on text
#   the merges never saw; sequence lengths and what they mean for attention; which tokens are
#   actually used; what a vocabulary costs in parameters.
# - **Reflect**: the systems questions of the lesson, answered from those measurements.
#
# Prerequisites: Python strings and bytes (`str.encode("utf-8")`), dictionaries and `Counter`.
# Fill in every `raise NotImplementedError()`, run the cell and the check under it;
# `tinytorch check 10` runs every check and more tests on your notebook.

# %%
import os
import re
import tempfile
import time
from collections import Counter

import numpy as np
import plotly.graph_objects as go

from inspector.demo import TEXT as SONNET  # Shakespeare's Sonnet 18: a text every install has
from tinytorch import nn
from tinytorch.text import SPLIT_PATTERN, BPETokenizer, CharTokenizer

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: small slices of the corpus, so the notebook runs in seconds
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### 1. One id per character
#
# The vocabulary is the set of characters that occur in a text, **sorted** (by code point), so
# the same text always gives the same ids; `stoi` maps a character to its id, `itos` an id back.
# `encode` turns a string into a list of ids, `decode` a list of ids into a string. This is what
# nanoGPT's `shakespeare_char` does, and `tinytorch.text.CharTokenizer`.


# %%
class MyCharTokenizer:
    """One id per distinct character of `text`, in code point order."""

    def __init__(self, text):
        ### BEGIN SOLUTION
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.itos = dict(enumerate(self.chars))
        ### END SOLUTION

    @property
    def vocab_size(self):
        return len(self.chars)

    def encode(self, text):
        """A list of ids, one per character."""
        ### BEGIN SOLUTION
        return [self.stoi[c] for c in text]
        ### END SOLUTION

    def decode(self, ids):
        """The string the ids stand for."""
        ### BEGIN SOLUTION
        return "".join(self.itos[int(i)] for i in ids)
        ### END SOLUTION


# %% tags=["check"]
# Check: MyCharTokenizer has tinytorch's vocabulary and ids, and decode(encode(text)) is the text
ours, theirs = MyCharTokenizer(SONNET), CharTokenizer(SONNET)
assert ours.chars == theirs.chars, f"the vocabulary should be tinytorch's sorted characters\n{theirs.chars}\nbut is\n{ours.chars}"
line = SONNET.splitlines()[0]
assert ours.encode(line) == theirs.encode(line), f"encode({line!r}) should be {theirs.encode(line)}, but is {ours.encode(line)}"
assert ours.decode(ours.encode(SONNET)) == SONNET, "decode(encode(text)) should give the text back"
print(f"ok: {ours.vocab_size} characters; {line[:20]!r} ->", ours.encode(line[:20]))

# %% [markdown]
# ### 2. Counting adjacent pairs
#
# BPE works on **bytes**: `"é".encode("utf-8")` is two bytes, so any text, in any script, is a
# sequence of ids 0 to 255 and nothing is ever unknown. Training repeatedly finds the most frequent
# pair of neighbouring ids and gives it a new id.
#
# Like GPT-2, tinytorch first splits the text into chunks (words with their leading space,
# numbers, punctuation, whitespace; the regular expression `SPLIT_PATTERN`), so a token never spans
# two words. A word such as `" the"` occurs thousands of times: `words_of` (given) keeps each
# distinct chunk once, as its list of byte ids, with how often it occurs. Count the pairs inside
# each word, weighted by that count. Then pick the most frequent pair; on a tie, the smallest pair
# (`(97, 98)` before `(97, 99)` before `(98, 0)`), as tinytorch does, so both make the same merges.

# %%
SPLIT = re.compile(SPLIT_PATTERN)


def words_of(text):
    """Each distinct chunk of text as (its UTF-8 bytes as a list of ids, how many times it occurs)."""
    return [(list(chunk.encode("utf-8")), n) for chunk, n in Counter(SPLIT.findall(text)).items()]


def pair_counts(words):
    """Counter {(a, b): occurrences of id a followed by id b}, over (ids, count) words."""
    ### BEGIN SOLUTION
    counts = Counter()
    for ids, n in words:
        for pair in zip(ids, ids[1:]):
            counts[pair] += n
    return counts
    ### END SOLUTION


def most_frequent_pair(counts):
    """The pair with the largest count; the smallest such pair on a tie."""
    ### BEGIN SOLUTION
    return min(counts, key=lambda pair: (-counts[pair], pair))
    ### END SOLUTION


# %% tags=["check"]
# Check: pair_counts weights each word by its count, and most_frequent_pair breaks ties by the smallest pair
counts = pair_counts([([1, 2, 3, 1, 2], 1), ([1, 2], 5), ([7], 9)])
want = {(1, 2): 7, (2, 3): 1, (3, 1): 1}
assert dict(counts) == want, f"pair_counts should be {want}, but is {dict(counts)}"
assert most_frequent_pair(counts) == (1, 2), f"the most frequent pair is (1, 2), not {most_frequent_pair(counts)}"
tie = Counter({(5, 3): 4, (1, 9): 4, (2, 2): 1, (1, 10): 4})
assert most_frequent_pair(tie) == (1, 9), f"on a tie the smallest pair, (1, 9), wins, not {most_frequent_pair(tie)}"
sonnet_counts = pair_counts(words_of(SONNET))
print("ok: the sonnet's most frequent pair:", most_frequent_pair(sonnet_counts), "=", bytes(most_frequent_pair(sonnet_counts)))

# %% [markdown]
# ### 3. Merging a pair
#
# `merge(ids, pair, new)` replaces every occurrence of `pair` by the single id `new`, left to right,
# without overlaps: in `a a a`, merging `(a, a)` gives `new a`, not `new new`.


# %%
def merge(ids, pair, new):
    """ids with each non-overlapping occurrence of pair, taken left to right, replaced by new."""
    ### BEGIN SOLUTION
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    ### END SOLUTION


# %% tags=["check"]
# Check: merge replaces the pair left to right without overlaps, as tinytorch's merge
from tinytorch.text.tokenizers import _merge as tinytorch_merge

for ids, pair in [([1, 2, 3, 1, 2], (1, 2)), ([97, 97, 97], (97, 97)), ([97, 97, 97, 97], (97, 97)), ([5], (5, 5)), ([], (1, 2))]:
    want = tinytorch_merge(ids, pair, 256)
    assert merge(ids, pair, 256) == want, f"merge({ids}, {pair}, 256) should be {want}, but is {merge(ids, pair, 256)}"
ids = list(rng.integers(0, 3, 200))
assert merge(ids, (1, 1), 256) == tinytorch_merge(ids, (1, 1), 256), "merge differs from tinytorch's on random ids"
print("ok: merge([1, 2, 3, 1, 2], (1, 2), 256) =", merge([1, 2, 3, 1, 2], (1, 2), 256))

# %% [markdown]
# ### 4. Training: the merges
#
# Start from the words' bytes. For each new id `256, 257, ... vocab_size - 1`: count the pairs,
# take the most frequent, merge it in every word, and append it to the list of merges. Stop early
# when no word has two ids left. The merges (in order) *are* the tokenizer: token `256 + k` is
# merge `k`.


# %%
def train_bpe(text, vocab_size):
    """The list of merges [(a, b), ...] that byte-level BPE learns from text, up to vocab_size ids."""
    ### BEGIN SOLUTION
    words = words_of(text)
    merges = []
    for new in range(256, vocab_size):
        counts = pair_counts(words)
        if not counts:
            break  # every word is one token
        pair = most_frequent_pair(counts)
        words = [(merge(ids, pair, new), n) for ids, n in words]
        merges.append(pair)
    return merges
    ### END SOLUTION


# %% tags=["check"]
# Check: train_bpe learns tinytorch's merges, in the same order, and stops when no pair is left
merges = train_bpe(SONNET, 300)
want = BPETokenizer.train(SONNET, 300).merges
assert len(merges) == len(want), f"training to 300 ids should make {len(want)} merges, but made {len(merges)}"
for k, (got, pair) in enumerate(zip(merges, want)):
    assert tuple(got) == pair, f"merge {k} should be {pair} (as tinytorch), but is {tuple(got)}"
assert train_bpe("ab ab", 1000) == [(97, 98), (32, 256)], f"'ab ab' has two merges, then none left: {train_bpe('ab ab', 1000)}"
print("ok: the sonnet's first merges:", [bytes(p) if max(p) < 256 else p for p in merges[:6]])

# %% [markdown]
# ### 5. Encoding and decoding
#
# **Encode** new text chunk by chunk: start from the chunk's bytes and apply merges in the order
# they were learned: among the pairs present, merge the one learned earliest (lowest index in
# `merges`) everywhere, and repeat until no present pair was ever learned. (Applying them in
# training order is what makes encoding give the tokens training saw.) **Decode**: build each
# token's bytes (`vocab[256 + k] = vocab[a] + vocab[b]` for merge `k = (a, b)`), join them and
# decode the UTF-8; a sequence a model sampled may cut a character in two, so use
# `errors="replace"`.


# %%
def bpe_encode(text, merges):
    """The token ids of text under the merges."""
    ### BEGIN SOLUTION
    rank = {tuple(pair): k for k, pair in enumerate(merges)}
    out = []
    for chunk in SPLIT.findall(text):
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, len(merges)))
            if pair not in rank:
                break  # no pair left that training merged
            ids = merge(ids, pair, 256 + rank[pair])
        out.extend(ids)
    return out
    ### END SOLUTION


def bpe_decode(ids, merges):
    """The text the token ids stand for."""
    ### BEGIN SOLUTION
    vocab = [bytes([b]) for b in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
    ### END SOLUTION


# %% tags=["check"]
# Check: bpe_encode gives tinytorch's ids, and decode(encode(text)) is the text, in any script
merges = BPETokenizer.train(SONNET, 320).merges  # tinytorch's merges: this checks encoding alone
reference = BPETokenizer(merges)
for text in (SONNET, "Shall I compare thee to a winter's night?", "naïve café, 東京 — ok"):
    ids = bpe_encode(text, merges)
    want = reference.encode(text)
    assert ids == want, f"bpe_encode({text[:30]!r}...) should be tinytorch's\n{want}\nbut is\n{ids}"
    assert bpe_decode(ids, merges) == text, f"bpe_decode(bpe_encode(text)) should be {text!r}, but is {bpe_decode(ids, merges)!r}"
assert bpe_decode([228, 184], merges) == "\ufffd", "half a UTF-8 character should decode to the replacement character"
print(f"ok: the sonnet is {len(SONNET)} characters, {len(bpe_encode(SONNET, merges))} tokens with {len(merges)} merges")

# %% [markdown]
# ## Use
#
# Tiny Shakespeare: a million characters of plays, the corpus of char-rnn and nanoGPT. tinytorch
# looks for it under `$TINYTORCH_DATA` (then `~/.cache/tinytorch/datasets`) as
# `tinyshakespeare/input.txt` or `tinyshakespeare.txt`; `TinyShakespeare(download=True)` fetches
# it. Without it the lesson uses the sonnet instead (through the same class: `path=` reads any text
# file), and says so; the numbers are then small, and say little. The first part of the text trains
# tokenizers; the last tenth is held out to measure them on text they never saw.

# %%
from tinytorch.datasets import DatasetError
from tinytorch.text import TinyShakespeare

try:
    corpus = TinyShakespeare()
    source = "tiny Shakespeare"
except DatasetError as e:
    print(f"tiny Shakespeare is not on this machine, so this lesson uses Sonnet 18 instead.\n  ({e})")
    path = os.path.join(tempfile.mkdtemp(prefix="lesson10-"), "sonnet.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(SONNET)
    corpus, source = TinyShakespeare(path=path), "Sonnet 18 (tiny Shakespeare not found)"
text = corpus.text
split = int(0.9 * len(text))
train_text, val_text = text[:split], text[split:]
print(f"{source}: {len(text):,} characters, {len(set(text))} distinct; train {len(train_text):,}, held out {len(val_text):,}")

# %% [markdown]
# Characters first: your tokenizer and tinytorch's on the whole text. Same vocabulary, same ids.

# %%
start = time.perf_counter()
my_chars = MyCharTokenizer(text)
my_ids = my_chars.encode(text)
ours_seconds = time.perf_counter() - start
start = time.perf_counter()
tt_chars = CharTokenizer(text)
tt_ids = tt_chars.encode(text, as_array=True)
tt_seconds = time.perf_counter() - start
assert my_chars.chars == tt_chars.chars and np.array_equal(my_ids, tt_ids), "the same text should give the same ids"
print(f"{my_chars.vocab_size} characters: {''.join(my_chars.chars)!r}")
print(f"encoding {len(text):,} characters: yours {1e3 * ours_seconds:.0f} ms, tinytorch's {1e3 * tt_seconds:.0f} ms")

# %% [markdown]
# Then BPE. Your `train_bpe` and tinytorch's `BPETokenizer.train` learn merges from the same slice
# of the training text; they must learn the same ones, in the same order. tinytorch's is
# vectorised: all the words sit in one NumPy array, and each merge is a few whole-array operations.

# %%
bpe_chars = 20_000 if FAST else 100_000
bpe_vocab = 320 if FAST else 512
sample = train_text[:bpe_chars]
start = time.perf_counter()
my_merges = train_bpe(sample, bpe_vocab)
my_train_seconds = time.perf_counter() - start
start = time.perf_counter()
tt_bpe = BPETokenizer.train(sample, bpe_vocab)
tt_train_seconds = time.perf_counter() - start
assert [tuple(p) for p in my_merges] == tt_bpe.merges, "the same text and vocabulary size should give the same merges"
print(f"{len(my_merges)} merges learned from {len(sample):,} characters")
print(f"training: yours {my_train_seconds:.2f} s, tinytorch's {tt_train_seconds:.2f} s")
print("the first merges:", ", ".join(repr(tt_bpe.vocab[256 + k].decode("utf-8", "replace")) for k in range(12)))
print("the last merges: ", ", ".join(repr(tt_bpe.vocab[-k].decode("utf-8", "replace")) for k in range(8, 0, -1)))

# %% [markdown]
# Encoding the held-out text with the learned merges: the same ids again. A line cut into its
# tokens (`|` between them):

# %%
start = time.perf_counter()
my_val_ids = bpe_encode(val_text, my_merges)
my_encode_seconds = time.perf_counter() - start
start = time.perf_counter()
tt_val_ids = tt_bpe.encode(val_text)
tt_encode_seconds = time.perf_counter() - start
assert my_val_ids == tt_val_ids and bpe_decode(my_val_ids, my_merges) == val_text, "the same merges should give the same ids"
print(
    f"held-out text: {len(val_text):,} characters -> {len(my_val_ids):,} tokens ({len(val_text) / len(my_val_ids):.2f} characters per token)"
)
print(f"encoding it: yours {1e3 * my_encode_seconds:.0f} ms, tinytorch's {1e3 * tt_encode_seconds:.0f} ms")
example = next((ln for ln in val_text.splitlines() if len(ln) > 30), val_text[:60])
print(example)
print("|".join(tt_bpe.decode([i]) for i in tt_bpe.encode(example)))

# %% [markdown]
# ## Understand
#
# ### Compression against vocabulary size
#
# Training is greedy: the first `k` merges of a long training run are exactly the merges of a
# run that stops after `k`. So one run to the largest vocabulary gives every smaller one (the
# first cell checks that). Each vocabulary then encodes the held-out text and an equally long
# slice of the training text: characters per token is the compression.

# %%
max_vocab = 768 if FAST else 2048
train_slice = train_text[: 60_000 if FAST else 1_000_000]
start = time.perf_counter()
big = BPETokenizer.train(train_slice, max_vocab)
big_seconds = time.perf_counter() - start
assert BPETokenizer.train(train_slice[:20_000], 300).merges == BPETokenizer.train(train_slice[:20_000], 400).merges[:44], (
    "the merges of a smaller vocabulary are the first merges of a larger one"
)
sizes = [v for v in (256, 272, 288, 320, 384, 512, 768, 1024, 1536, 2048) if v <= big.vocab_size]
held_out = val_text[: 20_000 if FAST else len(val_text)]
seen = train_slice[: len(held_out)]
compression = {}
for v in sizes:
    tok = BPETokenizer(big.merges[: v - 256])
    compression[v] = (len(held_out) / len(tok.encode(held_out)), len(seen) / len(tok.encode(seen)))
print(f"{len(big.merges)} merges learned from {len(train_slice):,} characters in {big_seconds:.1f} s")
print(f"{'vocabulary':>10}  {'chars/token (held out)':>23}  {'(training text)':>16}")
for v, (val_ratio, train_ratio) in compression.items():
    print(f"{v:>10}  {val_ratio:>23.3f}  {train_ratio:>16.3f}")

fig = go.Figure()
fig.add_trace(go.Scatter(x=sizes, y=[compression[v][0] for v in sizes], name="held-out text", mode="lines+markers"))
fig.add_trace(
    go.Scatter(x=sizes, y=[compression[v][1] for v in sizes], name="training text", mode="lines+markers", line=dict(dash="dot"))
)
fig.add_trace(go.Scatter(x=[tt_chars.vocab_size], y=[1.0], name="characters", mode="markers+text", text=["CharTokenizer"],
                         textposition="top right", marker=dict(size=10, color="black")))  # fmt: skip
fig.update_layout(title="Characters per token against vocabulary size", xaxis_title="vocabulary size", yaxis_title="characters per token",
                  xaxis_type="log", width=700, height=380, margin=dict(l=10, r=10, t=40, b=10))  # fmt: skip
fig.show()

# %% [markdown]
# ### Sequence lengths
#
# A model sees a fixed number of tokens at a time (its context, `block_size`). Fewer tokens per
# line means more text per context, and attention compares every token with every other one: its
# work and memory grow with the square of the number of tokens (lesson 12). Below, the tokens per
# line of the held-out text under three tokenizers.

# %%
mid_vocab = sizes[len(sizes) // 2]
tokenizers = {"characters": tt_chars, f"BPE {mid_vocab}": BPETokenizer(big.merges[: mid_vocab - 256]), f"BPE {sizes[-1]}": big}
lines = [ln for ln in held_out.splitlines() if ln.strip()]
lengths = {name: np.array([len(tok.encode(ln)) for ln in lines]) for name, tok in tokenizers.items()}
total = {name: len(tok.encode(held_out)) for name, tok in tokenizers.items()}
fig = go.Figure()
for name, n in lengths.items():
    fig.add_trace(go.Histogram(x=n, name=name, opacity=0.6, xbins=dict(size=2)))
fig.update_layout(barmode="overlay", title="Tokens per line of held-out text", xaxis_title="tokens in the line", yaxis_title="lines",
                  width=700, height=340, margin=dict(l=10, r=10, t=40, b=10))  # fmt: skip
fig.show()
block = 256
for name, n in lengths.items():
    print(
        f"{name:>12}: {total[name]:>7,} tokens for the held-out text; median line {np.median(n):.0f} tokens; "
        f"a context of {block} tokens holds {block * len(held_out) / total[name]:,.0f} characters; "
        f"attention over the text costs {(total[name] / total['characters']) ** 2:.3f}x the characters'"
    )

# %% [markdown]
# ### Which tokens are used
#
# A vocabulary entry is a row of the model's embedding table (lesson 11) and a column of its
# output layer. How often does the held-out text use each one? Tokens sorted by frequency, from
# the most common down (log-log axes: a straight line is Zipf's law).

# %%
counts = np.bincount(big.encode(held_out, as_array=True), minlength=big.vocab_size)
by_rank = np.sort(counts[counts > 0])[::-1]  # the tokens that occur
unused, rare = int((counts == 0).sum()), int(((counts > 0) & (counts < 5)).sum())
longest = sorted(range(256, big.vocab_size), key=lambda i: -len(big.vocab[i]))[:8]
fig = go.Figure(go.Scatter(x=np.arange(1, len(by_rank) + 1), y=by_rank, mode="lines"))
fig.update_layout(title=f"Held-out occurrences of the {len(by_rank)} tokens used (of {big.vocab_size})", xaxis_title="rank",
                  yaxis_title="occurrences", xaxis_type="log", yaxis_type="log", width=700, height=340,
                  margin=dict(l=10, r=10, t=40, b=10))  # fmt: skip
fig.show()
print(f"{big.vocab_size} tokens: {unused} never occur in the held-out text, {rare} occur fewer than 5 times")
print("the most frequent:", ", ".join(repr(big.decode([int(i)])) for i in np.argsort(-counts)[:10]))
print("the longest learned:", ", ".join(repr(big.decode([i])) for i in longest))

# %% [markdown]
# ### What a vocabulary costs the model
#
# A language model begins with an embedding table, one row of `d` numbers per token, and ends
# with a linear layer scoring every token: about `2 * V * d` parameters that grow with the
# vocabulary while the rest of the model does not. Counted from the layers themselves, with
# `d = 128` as in the small GPT of lesson 13:

# %%
d = 128
vocab_cost = {}
for name, v in [("characters", tt_chars.vocab_size), *[(f"BPE {v}", v) for v in (sizes[-1], 50257)]]:
    embedding, head = nn.Embedding(v, d), nn.Linear(d, v)
    vocab_cost[name] = sum(p.numel() for p in (*embedding.parameters(), *head.parameters()))
    print(
        f"{name:>12} (V = {v:>6,}): embedding + output layer {vocab_cost[name]:>12,} parameters, {4 * vocab_cost[name] / 2**20:7.2f} MiB"
    )
print("(50257 is GPT-2's vocabulary)")

# %% [markdown]
# ### What each tokenizer costs in time
#
# Encoding speed in characters per second, on the held-out text: characters are one dictionary
# lookup each; BPE merges inside every chunk (tinytorch caches each distinct chunk's tokens, so a
# word seen before costs one lookup).

# %%
speed = {}
for name, fn in [
    ("characters (tinytorch)", lambda: tt_chars.encode(held_out)),
    (f"BPE {sizes[-1]} (tinytorch, fresh cache)", lambda: BPETokenizer(big.merges).encode(held_out)),
    (f"BPE {sizes[-1]} (yours)", lambda: bpe_encode(held_out, big.merges)),
]:
    start = time.perf_counter()
    fn()
    speed[name] = len(held_out) / (time.perf_counter() - start)
    print(f"{name:>38}: {speed[name]:>12,.0f} characters/s")

# %% [markdown]
# ## Reflect

# %%
small = sizes[min(1, len(sizes) - 1)]  # the smallest vocabulary with merges
per_merge_first = (compression[small][0] - 1) / max(small - 256, 1)  # 256 ids: one byte, one character per token
per_merge_last = (compression[sizes[-1]][0] - compression[sizes[-2]][0]) / (sizes[-1] - sizes[-2]) if len(sizes) > 2 else 0.0
print(
    f"1. held out: {compression[small][0]:.2f} characters/token at V = {small}, {compression[sizes[-1]][0]:.2f} at V = {sizes[-1]}; "
    f"characters per token gained per merge: {per_merge_first:.4f} over the first {small - 256} merges, "
    f"{per_merge_last:.4f} over the last {sizes[-1] - sizes[-2] if len(sizes) > 2 else 0}"
)
print(f"   on training text at V = {sizes[-1]}: {compression[sizes[-1]][1]:.2f} characters/token")
print(
    f"2. V = {sizes[-1]}: {unused} tokens never used in the held-out text, {rare} fewer than 5 times; "
    f"embedding + output layer at d = {d}: {vocab_cost['characters']:,} parameters for characters, "
    f"{vocab_cost[f'BPE {sizes[-1]}']:,} for BPE {sizes[-1]}, {vocab_cost['BPE 50257']:,} for GPT-2's vocabulary"
)
print(
    f"3. tokens for the held-out text: characters {total['characters']:,}, BPE {sizes[-1]} {total[f'BPE {sizes[-1]}']:,}; "
    f"attention {(total[f'BPE {sizes[-1]}'] / total['characters']) ** 2:.3f}x the characters'"
)
print(
    f"4. training {len(my_merges)} merges: yours {my_train_seconds / tt_train_seconds:.1f}x tinytorch's time; "
    f"encoding: yours {speed[f'BPE {sizes[-1]} (tinytorch, fresh cache)'] / speed[f'BPE {sizes[-1]} (yours)']:.1f}x tinytorch's time"
)

# %% [markdown]
# **1. Why does a bigger vocabulary compress less and less?** Each merge is the most frequent pair
# *left*, so the first merges (common letter pairs, `" t"`, `"he"`, `" the"`) shorten almost every
# word, while late merges build whole rare words that the text seldom uses: the characters per
# token gained by each merge shrink (line 1). The merges were chosen on the training text, and
# they compress it better than held-out text (the second row of line 1 against the first row's
# value at the same size): a large vocabulary partly memorises its training corpus (names, whole
# phrases) rather than the language.
#
# **2. What does a bigger vocabulary cost?** Every token is a row of the embedding table and a
# column of the output layer: their parameters grow in proportion to `V` (line 2), and with them
# the gradients, Adam's two moments and the softmax over `V` scores at every position. And a token
# is only learned from the positions where it occurs: many tokens of a large vocabulary are rare
# or absent in any given text (line 2), so their rows get few gradient updates and stay poorly
# trained. Lesson 11 measures how few rows one batch touches.
#
# **3. What does compression buy?** Shorter sequences (line 3): the same text in fewer tokens, so
# more text fits in a fixed context, and fewer positions to run the model over. Attention's cost
# grows with the square of the length, so it falls with the square of the compression. This is
# the trade: a larger vocabulary makes the first and last layers bigger and every sequence
# shorter; GPT-2 chose about fifty thousand tokens, character models under a hundred.
#
# **4. Why is tinytorch's training faster than yours?** Same merges, same counts (line 4): yours
# walks every word in Python for every merge, while tinytorch keeps all words in one NumPy array
# (with separators, so pairs never cross words) and counts pairs with `np.unique` and `np.bincount`,
# a few whole-array operations per merge. Encoding differs less: both merge inside each chunk in
# Python, but tinytorch remembers each distinct chunk's tokens, so a word seen before costs one
# dictionary lookup; text repeats its words, so most chunks are seen before.
