"""Attention, MultiheadAttention and GPT against PyTorch with the same weights; the KV cache
against the full forward pass; the errors bad input gives."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.models import GPT, GPTConfig
from tinytorch.nn import KVCache

from .helpers import assert_close, needs_torch, to_torch, torch

if torch is not None:
    from benchmarks.torch_reference import TorchGPT

F32 = dict(rtol=1e-4, atol=1e-5)


def qkv(shape=(2, 3, 5, 4), keys=None, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    kshape = shape[:-2] + (keys or shape[-2], shape[-1])
    return [tt.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in (shape, kshape, kshape)]


@needs_torch
@pytest.mark.parametrize(
    "kind",
    ["plain", "causal", "bool_mask", "float_mask", "causal_fewer_queries", "scale"],
)
def test_scaled_dot_product_attention_matches_torch(kind):
    keys = 7 if kind == "causal_fewer_queries" else None
    q, k, v = qkv(keys=keys)
    tq, tk, tv = (to_torch(t) for t in (q, k, v))
    rng = np.random.default_rng(1)
    kwargs, tkwargs = {}, {}
    if kind in ("causal", "causal_fewer_queries"):
        kwargs = tkwargs = {"is_causal": True}
    elif kind == "bool_mask":
        mask = rng.random((5, 5)) < 0.7
        mask[:, 0] = True  # every query keeps at least one key
        kwargs, tkwargs = {"attn_mask": tt.tensor(mask)}, {"attn_mask": torch.tensor(mask)}
    elif kind == "float_mask":
        mask = rng.standard_normal((3, 5, 5)).astype(np.float32)
        kwargs, tkwargs = {"attn_mask": tt.tensor(mask)}, {"attn_mask": torch.tensor(mask)}
    elif kind == "scale":
        kwargs = tkwargs = {"scale": 0.3}
    if kind == "causal_fewer_queries":  # torch aligns a causal mask to the top-left; we align to the end (KV cache)
        allowed = np.tril(np.ones((5, 7), bool), 2)
        tkwargs = {"attn_mask": torch.tensor(allowed)}
    out = F.scaled_dot_product_attention(q, k, v, **kwargs)
    ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **tkwargs)
    assert_close(out, ref, **F32, what="output")
    g = np.random.default_rng(2).standard_normal(out.shape).astype(np.float32)
    out.backward(tt.tensor(g))
    ref.backward(torch.tensor(g))
    for a, b, name in ((q, tq, "q"), (k, tk, "k"), (v, tv, "v")):
        assert_close(a.grad, b.grad, **F32, what=f"grad {name}")


def test_attention_gradcheck():
    q, k, v = qkv((1, 2, 3, 2), dtype=np.float64)
    assert tt.autograd.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True), [q, k, v])


@needs_torch
@pytest.mark.parametrize("masks", ["none", "attn_mask", "key_padding", "causal"])
def test_multihead_attention_matches_torch(masks):
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    ours = nn.MultiheadAttention(8, 2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 8)).astype(np.float32)
    kw, tkw = {}, {}
    if masks == "attn_mask":
        blocked = rng.random((5, 5)) < 0.3
        np.fill_diagonal(blocked, False)
        kw, tkw = {"attn_mask": tt.tensor(blocked)}, {"attn_mask": torch.tensor(blocked)}
    elif masks == "key_padding":
        pad = np.zeros((3, 5), bool)
        pad[0, 3:] = pad[2, 4] = True
        kw, tkw = {"key_padding_mask": tt.tensor(pad)}, {"key_padding_mask": torch.tensor(pad)}
    elif masks == "causal":
        blocked = ~np.tril(np.ones((5, 5), bool))
        kw, tkw = {"attn_mask": tt.tensor(blocked), "is_causal": True}, {"attn_mask": torch.tensor(blocked), "is_causal": True}
    xt = tt.tensor(x, requires_grad=True)
    xr = torch.tensor(x, requires_grad=True)
    out, w = ours(xt, xt, xt, **kw)
    rout, rw = ref(xr, xr, xr, **tkw)
    assert_close(out, rout, **F32, what="output")
    assert_close(w, rw, **F32, what="weights")
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(tt.tensor(g))
    rout.backward(torch.tensor(g))
    assert_close(xt.grad, xr.grad, **F32, what="grad x")
    assert_close(ours.in_proj_weight.grad, ref.in_proj_weight.grad, **F32, what="grad in_proj_weight")
    assert_close(ours.out_proj.weight.grad, ref.out_proj.weight.grad, **F32, what="grad out_proj")


@needs_torch
@pytest.mark.parametrize("bias", [False, True])
def test_two_layer_gpt_matches_torch(bias):
    config = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16, bias=bias)
    tt.manual_seed(0)
    ours = GPT(config)
    ref = TorchGPT(config)
    ref.load_state_dict({k: torch.tensor(v.data) for k, v in ours.state_dict().items()})
    idx = np.random.default_rng(0).integers(0, 11, (3, 8))
    targets = np.random.default_rng(1).integers(0, 11, (3, 8))
    logits, loss = ours(tt.tensor(idx), tt.tensor(targets))
    rlogits = ref(torch.tensor(idx))
    rloss = torch.nn.functional.cross_entropy(rlogits.reshape(-1, 11), torch.tensor(targets).reshape(-1))
    assert_close(logits, rlogits, **F32, what="logits")
    assert loss.item() == pytest.approx(rloss.item(), rel=1e-5)
    loss.backward()
    rloss.backward()
    grads = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, grads[name].grad, rtol=1e-4, atol=2e-5, what=f"grad {name}")


def test_gpt_ties_embedding_and_head_and_scales_residual_init():
    tt.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=8, n_head=2, n_embd=64))
    assert model.lm_head.weight is model.wte.weight
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names  # the tied weight is counted once
    assert "lm_head.weight" in model.state_dict()  # as PyTorch, both names are saved
    assert model.h[0].mlp.c_fc.weight.data.std() == pytest.approx(0.02, rel=0.05)
    assert model.h[0].attn.c_proj.weight.data.std() == pytest.approx(0.02 / 4, rel=0.05)  # 0.02 / sqrt(2 * 8)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-5), (np.float32, 1e-4)])
@pytest.mark.parametrize("prompt", [1, 5])
def test_kv_cache_gives_the_full_forward_logits_at_every_position(dtype, tol, prompt):
    tt.manual_seed(0)
    config = GPTConfig(vocab_size=13, block_size=24, n_layer=2, n_head=2, n_embd=16, bias=True)
    model = GPT(config).to(dtype).eval()
    idx = tt.tensor(np.random.default_rng(0).integers(0, 13, (2, 20)))
    full, _ = model(idx)
    cache = KVCache(config.n_layer)
    first, _ = model(idx[:, :prompt], cache=cache)
    pieces = [first]
    for t in range(prompt, 20):
        logits, _ = model(idx[:, t : t + 1], cache=cache)
        pieces.append(logits)
    incremental = tt.cat(pieces, dim=1)
    assert incremental.dtype == dtype
    assert np.abs(incremental.data - full.data).max() <= tol


def test_generate_with_and_without_cache_agree():
    tt.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=9, block_size=8, n_layer=1, n_head=1, n_embd=8))
    prompt = tt.tensor([[1, 2, 3]])
    a = model.generate(prompt, 12, use_cache=True, generator=np.random.default_rng(5))  # crosses block_size
    b = model.generate(prompt, 12, use_cache=False, generator=np.random.default_rng(5))
    assert a.shape == (1, 15) and np.array_equal(a.data, b.data)
    greedy = model.generate(prompt, 4, top_k=1)
    logits, _ = model(greedy[:, :-1])
    assert greedy.data[0, -1] == logits.data[0, -1].argmax()  # top_k=1 is greedy


def test_bad_input_is_a_clear_error():
    model = GPT(GPTConfig(vocab_size=10, block_size=4, n_layer=1, n_head=2, n_embd=8))
    with pytest.raises(ValueError, match="length 5 is longer than block_size 4"):
        model(tt.tensor([[1, 2, 3, 4, 5]]))
    with pytest.raises(IndexError, match="id 12 is out of range for an embedding of 10 rows"):
        model(tt.tensor([[1, 12]]))
    with pytest.raises(ValueError, match="n_embd 10 is not divisible by n_head 4"):
        GPT(GPTConfig(n_embd=10, n_head=4))
    with pytest.raises(ValueError, match="embed_dim 10 is not divisible by num_heads 4"):
        nn.MultiheadAttention(10, 4)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(tt.tensor([[1]]), 2, temperature=0)


def test_positional_encodings():
    pe = nn.SinusoidalPositionalEncoding(6, max_len=10)
    x = tt.zeros(1, 4, 6)
    out = pe(x).data[0]
    assert out[0, 0] == 0 and out[0, 1] == 1  # sin(0), cos(0)
    assert out[3, 2] == pytest.approx(np.sin(3 / 10000 ** (2 / 6)), rel=1e-6)
    learned = nn.PositionalEmbedding(8, 6)
    y = learned(tt.zeros(2, 3, 6))
    assert np.allclose(y.data[1], learned.table.weight.data[:3])
    with pytest.raises(ValueError, match="beyond"):
        learned(tt.zeros(1, 9, 6))


def test_attention_weights_reach_the_recorder(tmp_path):
    model = GPT(GPTConfig(vocab_size=9, block_size=6, n_layer=2, n_head=3, n_embd=12))
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    probe = tt.tensor([[1, 2, 3, 4]])
    with tt.record(tmp_path / "gpt", model=model, optimizer=opt, probe=probe, probe_every=1, probe_tokens=list("abcd")) as run:
        _, loss = model(tt.tensor([[1, 2, 3]]), tt.tensor([[2, 3, 4]]))
        loss.backward()
        opt.step()
        run.step(loss)
    maps = tt.runs.RunReader(run.path).probe(0)
    assert list(maps) == ["h.0.attn", "h.1.attn"]
    w = maps["h.0.attn"]["weights"]
    assert w.shape == (3, 4, 4) and np.allclose(np.triu(w, 1), 0) and np.allclose(w.sum(-1), 1, atol=1e-6)
