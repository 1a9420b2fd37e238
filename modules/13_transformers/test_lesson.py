"""Lesson 13's tests of the learner's Build code: MyMLP, MyBlock and MyGPT against tinytorch's MLP,
TransformerBlock and models.GPT with the same weights (outputs, gradients, biases or not, several
sizes), the residual stream, weight tying and the errors. `build` is the learner's notebook
executed up to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch import nn
from tinytorch.models import GPT, GPTConfig


def data(*shape, seed=0):
    return tt.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), requires_grad=True)


def outputs_and_grads(model, x, up):
    """model(x), the gradient of sum(model(x) * up) for x and every parameter (by name)."""
    x.grad = None
    model.zero_grad()
    out = model(x)
    (out * up).sum().backward()
    return out.data.copy(), x.grad.data.copy(), {n: p.grad.data.copy() for n, p in model.named_parameters()}


def assert_same(ours, theirs, where):
    (o_out, o_x, o_p), (t_out, t_x, t_p) = ours, theirs
    np.testing.assert_allclose(o_out, t_out, rtol=1e-4, atol=1e-5, err_msg=f"output, {where}")
    np.testing.assert_allclose(o_x, t_x, rtol=1e-4, atol=1e-5, err_msg=f"gradient of the input, {where}")
    assert set(o_p) == set(t_p), f"parameter names should be tinytorch's {sorted(t_p)}, but are {sorted(o_p)}"
    for name in t_p:
        np.testing.assert_allclose(o_p[name], t_p[name], rtol=1e-4, atol=1e-5, err_msg=f"{name}.grad, {where}")


def test_mlp_matches_tinytorch(build):
    for n_embd, bias in [(8, True), (12, False)]:
        tt.manual_seed(1)
        theirs, ours = nn.MLP(n_embd, bias=bias), build.MyMLP(n_embd, bias=bias)
        ours.load_state_dict(theirs.state_dict())
        x, up = data(2, 5, n_embd, seed=1), tt.tensor(np.random.default_rng(2).standard_normal((2, 5, n_embd)).astype(np.float32))
        assert_same(outputs_and_grads(ours, x, up), outputs_and_grads(theirs, x, up), f"MLP({n_embd}, bias={bias})")


def test_mlp_dropout_only_in_training(build):
    tt.manual_seed(2)
    mlp = build.MyMLP(8, dropout=0.5)
    x = data(4, 6, 8, seed=3)
    mlp.eval()
    np.testing.assert_allclose(mlp(x).data, mlp(x).data, err_msg="in eval mode the MLP should be deterministic (no dropout)")
    mlp.train()
    assert not np.allclose(mlp(x).data, mlp(x).data), "in training mode, dropout(0.5) should make two calls differ"


def test_block_matches_tinytorch_with_your_mlp(build):
    for n_embd, n_head, bias in [(8, 2, True), (16, 4, False), (12, 1, True)]:
        tt.manual_seed(3)
        theirs, ours = nn.TransformerBlock(n_embd, n_head, bias=bias), build.MyBlock(n_embd, n_head, bias=bias)
        ours.load_state_dict(theirs.state_dict())
        x, up = data(2, 7, n_embd, seed=4), tt.tensor(np.random.default_rng(5).standard_normal((2, 7, n_embd)).astype(np.float32))
        where = f"block({n_embd}, {n_head} heads, bias={bias})"
        assert_same(outputs_and_grads(ours, x, up), outputs_and_grads(theirs, x, up), where)


def test_block_is_residual_and_pre_norm(build):
    tt.manual_seed(4)
    block = build.MyBlock(8, 2, bias=False)
    with tt.no_grad():
        nn.init.zeros_(block.attn.c_proj.weight)
        nn.init.zeros_(block.mlp.c_proj.weight)
    x = data(1, 5, 8, seed=6) * 100  # a large residual stream: a post-norm block would normalise it
    np.testing.assert_allclose(
        block(x).data, x.data, rtol=1e-6, err_msg="with both output projections zero, block(x) should be x"
    )


def test_block_is_causal(build):
    tt.manual_seed(5)
    block = build.MyBlock(8, 2)
    x = np.random.default_rng(7).standard_normal((1, 6, 8)).astype(np.float32)
    changed = x.copy()
    changed[0, 3:] -= 5
    np.testing.assert_allclose(block(tt.tensor(x)).data[0, :3], block(tt.tensor(changed)).data[0, :3], rtol=1e-5,
                               err_msg="positions 0..2 should not depend on positions 3..5")  # fmt: skip


def test_gpt_matches_tinytorch(build):
    for config in [
        GPTConfig(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=8),
        GPTConfig(vocab_size=7, block_size=6, n_layer=3, n_head=4, n_embd=16, bias=True),
        GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4),
    ]:
        tt.manual_seed(6)
        theirs, ours = GPT(config), build.MyGPT(config)
        ours.load_state_dict(theirs.state_dict())
        idx = tt.tensor(np.random.default_rng(8).integers(0, config.vocab_size, (3, config.block_size)))
        targets = tt.tensor(np.random.default_rng(9).integers(0, config.vocab_size, (3, config.block_size)))
        (logits, loss), (want_logits, want_loss) = ours(idx, targets), theirs(idx, targets)
        np.testing.assert_allclose(logits.data, want_logits.data, rtol=1e-4, atol=1e-5, err_msg=f"logits, {config}")
        np.testing.assert_allclose(loss.item(), want_loss.item(), rtol=1e-5, err_msg=f"loss, {config}")
        loss.backward()
        want_loss.backward()
        theirs_grads = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            np.testing.assert_allclose(
                p.grad.data, theirs_grads[name].grad.data, rtol=1e-4, atol=1e-5, err_msg=f"{name}.grad, {config}"
            )
        short = idx[:, :2]
        np.testing.assert_allclose(ours(short)[0].data, theirs(short)[0].data, rtol=1e-4, atol=1e-5,
                                   err_msg="logits of a sequence shorter than block_size")  # fmt: skip


def test_gpt_ties_the_read_out_to_the_token_embedding(build):
    config = GPTConfig(vocab_size=10, block_size=4, n_layer=1, n_head=2, n_embd=8)
    model = build.MyGPT(config)
    assert model.lm_head.weight is model.wte.weight, "lm_head.weight should be the very Parameter wte.weight"
    names = [name for name, _ in model.named_parameters()]
    assert "lm_head.weight" not in names, "the tied matrix should be listed once, as wte.weight"
    assert model.lm_head.bias is None, "the read-out has no bias"
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in GPT(config).parameters())


def test_gpt_errors_and_no_targets(build):
    config = GPTConfig(vocab_size=10, block_size=4, n_layer=1, n_head=2, n_embd=8)
    model = build.MyGPT(config)
    logits, loss = model(tt.tensor([[1, 2, 3]]))
    assert logits.shape == (1, 3, 10) and loss is None, "forward(idx) should return logits (1, 3, 10) and None"
    try:
        model(tt.tensor([[1, 2, 3, 4, 5]]))
    except ValueError:
        pass
    else:
        raise AssertionError("a sequence of 5 with block_size 4 should raise ValueError")
