"""Lesson 17's tests of the learner's Build code: MyKVCache against tinytorch's KVCache and, inside
tinytorch's GPT, against the full forward pass at every position (float64 and float32, prompts of
one token and more, batches); cached_self_attention against the full layer for several ways of
cutting the sequence; greedy decoding with and without a cache. `build` is the learner's notebook
executed up to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch import nn
from tinytorch.models import GPT, GPTConfig


def gpt(dtype=np.float32, seed=0, **overrides):
    tt.manual_seed(seed)
    settings = dict(vocab_size=13, block_size=16, n_layer=3, n_head=2, n_embd=8) | overrides
    model = GPT(GPTConfig(**settings)).eval()
    return model.double() if dtype == np.float64 else model


def cached_logits(model, idx, cuts, cache):
    """The logits of idx fed in pieces [0, cuts[0]), [cuts[0], cuts[1]), ... through the cache, joined."""
    bounds = [0, *cuts, idx.shape[1]]
    with tt.no_grad():
        return np.concatenate([model(idx[:, a:b], cache=cache)[0].data for a, b in zip(bounds, bounds[1:])], axis=1)


def test_cache_returns_what_tinytorchs_returns(build):
    gen = np.random.default_rng(1)
    ours, theirs = build.MyKVCache(3), nn.KVCache(3)
    for new in (1, 4, 1, 1, 7, 2):
        for layer in range(3):
            k, v = (tt.tensor(gen.standard_normal((2, 2, new, 5)).astype(np.float32)) for _ in range(2))
            got, want = ours.extend(layer, k, v), theirs.extend(layer, k, v)
            for name, g, w in zip(("keys", "values"), got, want):
                assert isinstance(g, tt.Tensor), f"extend should return tensors, but returned a {type(g).__name__}"
                np.testing.assert_array_equal(g.data, w.data, err_msg=f"layer {layer}: all {name} so far")
        before = ours.length
        ours.advance()
        theirs.advance()
        assert before == theirs.length - new, "length should not change before advance()"
        assert ours.length == theirs.length, f"after advance() length should be {theirs.length}, but is {ours.length}"


def test_cache_in_gpt_gives_the_full_forward_at_every_position(build):
    for dtype, tolerance in ((np.float64, 1e-5), (np.float32, 1e-4)):
        model = gpt(dtype)
        idx = tt.tensor(np.random.default_rng(2).integers(0, 13, (2, 12)))
        with tt.no_grad():
            full = model(idx)[0].data
        for cuts in ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [5, 6, 7], [11]):  # a prompt of 1, of 5, of 11, then one at a time
            got = cached_logits(model, idx, cuts, build.MyKVCache(3))
            gap = np.abs(got - full).max()
            assert gap <= tolerance, f"{np.dtype(dtype).name}, prompt of {cuts[0]}: largest difference {gap:.2e} > {tolerance}"


def test_cached_attention_matches_the_full_layer(build):
    for n_embd, n_head in ((8, 2), (12, 3), (6, 1)):
        tt.manual_seed(3)
        attn = nn.CausalSelfAttention(n_embd, n_head)
        x = tt.tensor(np.random.default_rng(4).standard_normal((2, 9, n_embd)).astype(np.float32))
        with tt.no_grad():
            full = attn(x).data
            for bounds in ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 4, 5, 9], [0, 9]):
                for cache in (nn.KVCache(1), build.MyKVCache(1)):
                    pieces = []
                    for a, b in zip(bounds, bounds[1:]):
                        pieces.append(build.cached_self_attention(attn, x[:, a:b], cache, 0).data)
                        cache.advance()
                    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, rtol=1e-4, atol=1e-5,
                                               err_msg=f"n_embd {n_embd}, {n_head} heads, pieces {bounds}, {type(cache).__name__}")  # fmt: skip


def test_cached_attention_uses_the_given_layer(build):
    tt.manual_seed(5)
    attn = nn.CausalSelfAttention(8, 2)
    x = tt.tensor(np.random.default_rng(6).standard_normal((1, 3, 8)).astype(np.float32))
    with tt.no_grad():
        before = build.cached_self_attention(attn, x, nn.KVCache(1), 0).data
        nn.init.zeros_(attn.c_proj.weight)
        nn.init.zeros_(attn.c_proj.bias)
        after = build.cached_self_attention(attn, x, nn.KVCache(1), 0).data
    assert np.abs(before).max() > 0 and np.abs(after).max() == 0, "the output should go through attn.c_proj"


def test_greedy_decoding_with_and_without_a_cache(build):
    model = gpt(n_layer=2)
    for prompt_length, batch in ((1, 1), (3, 2), (6, 1)):
        prompt = tt.tensor(np.random.default_rng(prompt_length).integers(0, 13, (batch, prompt_length)))
        n = 16 - prompt_length
        tokens, logits = build.generate_greedy(model, prompt, n, cache=build.MyKVCache(2))
        plain_tokens, plain_logits = build.generate_greedy(model, prompt, n)
        assert tokens.shape == (batch, 16), f"tokens should have shape ({batch}, 16), but have {tokens.shape}"
        np.testing.assert_array_equal(
            tokens.data[:, :prompt_length], prompt.data, err_msg="the tokens should start with the prompt"
        )
        np.testing.assert_array_equal(tokens.data, plain_tokens.data, err_msg="the same tokens with and without the cache")
        np.testing.assert_array_equal(
            tokens.data[:, prompt_length:], np.argmax(logits, axis=-1).T, err_msg="each token is the argmax"
        )
        with tt.no_grad():
            full = model(tt.tensor(tokens.data[:, :-1]))[0].data[:, prompt_length - 1 :]  # (B, n, vocab)
        for name, got in (("with the cache", logits), ("without", plain_logits)):
            np.testing.assert_allclose(np.transpose(got, (1, 0, 2)), full, rtol=1e-4, atol=1e-4,
                                       err_msg=f"prompt of {prompt_length}: the logits {name} against the full forward")  # fmt: skip


def test_greedy_decoding_feeds_only_new_tokens_to_the_cache(build):
    model = gpt(n_layer=1)
    fed = []

    class Counting(nn.KVCache):
        def extend(self, layer, k, v):
            fed.append(k.shape[2])
            return super().extend(layer, k, v)

    build.generate_greedy(model, tt.tensor([[1, 2, 3, 4]]), 5, cache=Counting(1))
    assert fed == [4, 1, 1, 1, 1], f"the prompt once, then one new position per step: expected [4, 1, 1, 1, 1], got {fed}"
