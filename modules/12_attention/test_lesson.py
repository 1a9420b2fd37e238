"""Lesson 12's tests of the learner's Build code: softmax against tinytorch's and finite differences
(stable for large inputs, zeros for -inf); the causal mask against tinytorch's rule; attention's
output, weights and gradients against tinytorch.nn.functional.attention; head splitting; and the
causal self-attention layer against tinytorch's CausalSelfAttention, including the attention maps
a recorder probes. `build` is the learner's notebook executed up to `## Use`."""

from __future__ import annotations

import tempfile

import numpy as np

import tinytorch as tt
from tinytorch import nn
from tinytorch.autograd import gradcheck
from tinytorch.nn import functional as F


def f64(*shape, seed=0):
    return tt.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_softmax_matches_tinytorch_on_every_dim(build):
    x = f64(2, 3, 4, seed=1)
    for dim in (0, 1, 2, -1):
        np.testing.assert_allclose(build.softmax(x, dim).data, x.softmax(dim).data, rtol=1e-12, err_msg=f"softmax(x, dim={dim})")
        assert gradcheck(lambda t, d=dim: build.softmax(t, d), [x]), f"softmax(x, dim={dim}) fails gradcheck"


def test_softmax_is_stable_keeps_float32_and_zeroes_minus_infinity(build):
    x = tt.tensor(np.array([[1e4, 1e4 + 1, -1e4], [0.0, float("-inf"), 0.0]], np.float32), requires_grad=True)
    out = build.softmax(x)
    assert out.dtype == np.float32, f"softmax of float32 should be float32, but is {out.dtype}"
    assert np.isfinite(out.data).all(), f"softmax of large inputs should be finite, but is {out.data}"
    np.testing.assert_allclose(out.data.sum(-1), 1, rtol=1e-6, err_msg="every row of softmax should sum to 1")
    assert out.data[1, 1] == 0, "a -inf score should get a weight of exactly 0"
    (out * tt.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])).sum().backward()
    assert np.isfinite(x.grad.data).all(), f"the gradient through a masked softmax should be finite, but is {x.grad.data}"


def test_causal_mask_matches_tinytorchs_rule(build):
    for length, keys in [(1, 1), (4, 4), (1, 6), (3, 7), (5, 5)]:
        want = np.tril(np.ones((length, keys), bool), keys - length)  # F.attention's rule for is_causal
        got = np.asarray(build.causal_mask(length, keys))
        assert got.shape == (length, keys) and got.dtype == bool, (
            f"causal_mask({length}, {keys}) should be ({length}, {keys}) booleans"
        )
        assert np.array_equal(got, want), (
            f"causal_mask({length}, {keys}) should be\n{want.astype(int)}\nbut is\n{got.astype(int)}"
        )


def test_attention_matches_tinytorch_with_batches_heads_and_fewer_queries(build):
    for shape_q, shape_kv in [((3, 4), (3, 4)), ((2, 2, 5, 3), (2, 2, 5, 3)), ((1, 2, 2, 4), (1, 2, 6, 4))]:
        q, k, v = f64(*shape_q, seed=2), f64(*shape_kv, seed=3), f64(*shape_kv, seed=4)
        for is_causal in (False, True):
            out, weights = build.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
            want_out, want_weights = F.attention(q, k, v, is_causal=is_causal)
            where = f"q {shape_q}, k and v {shape_kv}, is_causal={is_causal}"
            np.testing.assert_allclose(weights.data, want_weights.data, rtol=1e-10, atol=1e-12, err_msg=f"weights, {where}")
            np.testing.assert_allclose(out.data, want_out.data, rtol=1e-10, atol=1e-12, err_msg=f"output, {where}")


def test_attention_gradients_match_tinytorch(build):
    q, k, v = f64(2, 6, 4, seed=5), f64(2, 6, 4, seed=6), f64(2, 6, 4, seed=7)
    assert gradcheck(lambda q, k, v: build.scaled_dot_product_attention(q, k, v, is_causal=True)[0], [q, k, v])
    up = np.random.default_rng(8).standard_normal((2, 6, 4))
    grads = []
    for fn in (
        lambda: build.scaled_dot_product_attention(q, k, v, is_causal=True)[0],
        lambda: F.attention(q, k, v, is_causal=True)[0],
    ):
        q.grad = k.grad = v.grad = None
        (fn() * tt.tensor(up)).sum().backward()
        grads.append([t.grad.data.copy() for t in (q, k, v)])
    for name, ours, theirs in zip("qkv", *grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=f"d loss / d {name}")


def test_attention_scales_by_the_square_root_of_the_head_size(build):
    q = tt.tensor(np.ones((1, 2, 16)), dtype=tt.float64)
    k = tt.tensor(np.array([[[1.0] * 16, [0.0] * 16]]))
    v = tt.tensor(np.eye(2)[None])
    _, weights = build.scaled_dot_product_attention(q, k, v)
    want = np.exp(4) / (np.exp(4) + 1)  # scores 16 / sqrt(16) = 4 and 0
    np.testing.assert_allclose(weights.data[0, 0, 0], want, rtol=1e-10, err_msg="scores should be divided by sqrt(16) = 4")


def test_split_and_merge_heads(build):
    x = f64(3, 5, 12, seed=9)
    for n_head in (1, 2, 3, 4, 6, 12):
        heads = build.split_heads(x, n_head)
        want = x.data.reshape(3, 5, n_head, 12 // n_head).transpose(0, 2, 1, 3)
        assert heads.shape == want.shape, f"split_heads into {n_head} heads should have shape {want.shape}, but has {heads.shape}"
        np.testing.assert_array_equal(heads.data, want, err_msg=f"split_heads(x, {n_head})")
        np.testing.assert_array_equal(build.merge_heads(heads).data, x.data, err_msg=f"merge_heads(split_heads(x, {n_head}))")
    assert gradcheck(lambda t: build.merge_heads(build.split_heads(t, 4) * 2.0), [x])
    try:
        build.split_heads(x, 5)
    except ValueError:
        pass
    else:
        raise AssertionError("split_heads of 12 channels into 5 heads should raise ValueError")


def test_layer_matches_tinytorchs_causal_self_attention(build):
    for n_embd, n_head, bias in [(12, 3, True), (16, 4, False), (8, 1, True)]:
        tt.manual_seed(1)
        theirs = nn.CausalSelfAttention(n_embd, n_head, bias=bias)
        ours = build.MyCausalSelfAttention(n_embd, n_head, bias=bias)
        ours.load_state_dict(theirs.state_dict())
        x = tt.tensor(np.random.default_rng(10).standard_normal((2, 7, n_embd)).astype(np.float32), requires_grad=True)
        up = tt.tensor(np.random.default_rng(11).standard_normal((2, 7, n_embd)).astype(np.float32))
        results = []
        for layer in (ours, theirs):
            x.grad = None
            layer.zero_grad()
            out = layer(x)
            (out * up).sum().backward()
            results.append((out.data.copy(), x.grad.data.copy(), {n: p.grad.data.copy() for n, p in layer.named_parameters()}))
        (out_o, gx_o, gp_o), (out_t, gx_t, gp_t) = results
        where = f"n_embd {n_embd}, n_head {n_head}, bias {bias}"
        np.testing.assert_allclose(out_o, out_t, rtol=1e-4, atol=1e-5, err_msg=f"output, {where}")
        np.testing.assert_allclose(gx_o, gx_t, rtol=1e-4, atol=1e-5, err_msg=f"gradient of the input, {where}")
        for name in gp_t:
            np.testing.assert_allclose(gp_o[name], gp_t[name], rtol=1e-4, atol=1e-5, err_msg=f"{name}.grad, {where}")


def test_layer_is_causal(build):
    tt.manual_seed(2)
    layer = build.MyCausalSelfAttention(8, 2)
    x = np.random.default_rng(12).standard_normal((1, 6, 8)).astype(np.float32)
    changed = x.copy()
    changed[0, 4:] += 10  # change the future of position 3
    a, b = layer(tt.tensor(x)).data, layer(tt.tensor(changed)).data
    np.testing.assert_allclose(a[0, :4], b[0, :4], rtol=1e-5, err_msg="positions 0..3 should not see positions 4 and 5")


def test_layer_hands_its_maps_to_the_recorder(build):
    class Model(nn.Module):
        def __init__(self, attention):
            super().__init__()
            self.emb, self.attn = nn.Embedding(10, 8), attention

        def forward(self, idx):
            return self.attn(self.emb(idx))

    tt.manual_seed(3)
    ours = Model(build.MyCausalSelfAttention(8, 2))
    theirs = Model(nn.CausalSelfAttention(8, 2))
    theirs.load_state_dict(ours.state_dict())
    probe = tt.tensor([[1, 2, 3, 4, 5]])
    maps = []
    with tempfile.TemporaryDirectory() as logdir:
        for name, model in (("ours", ours), ("theirs", theirs)):
            with tt.record(f"{logdir}/{name}", model=model, probe=probe, probe_every=1, trace_steps=()) as run:
                run.step()
            maps.append(run.reader().probe(0))
    assert list(maps[0]) == ["attn"], f"the recorder should see one attention layer named 'attn', but saw {list(maps[0])}"
    np.testing.assert_allclose(maps[0]["attn"]["weights"], maps[1]["attn"]["weights"], rtol=1e-5, atol=1e-6)
