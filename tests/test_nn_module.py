"""tinytorch.nn.Module: bookkeeping, hooks, module scopes and state_dict."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn
from tinytorch.nn import init
from tinytorch.nn.module import current_scope

from .helpers import assert_close, needs_torch, randn, torch

# ============================================================================ Module API


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class AutoEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.norm = nn.BatchNorm1d(4)
        self.decoder = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 4))

    def forward(self, x):
        return self.decoder(self.norm(self.encoder(x)))


PARAM_NAMES = [
    "encoder.fc1.weight",
    "encoder.fc1.bias",
    "encoder.fc2.weight",
    "encoder.fc2.bias",
    "norm.weight",
    "norm.bias",
    "decoder.0.weight",
    "decoder.0.bias",
    "decoder.2.weight",
    "decoder.2.bias",
]
MODULE_NAMES = [
    "",
    "encoder",
    "encoder.fc1",
    "encoder.act",
    "encoder.fc2",
    "norm",
    "decoder",
    "decoder.0",
    "decoder.1",
    "decoder.2",
]


def test_named_parameters_use_dotted_names():
    model = AutoEncoder()
    named = list(model.named_parameters())
    assert [n for n, _ in named] == PARAM_NAMES
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for _, p in named)
    assert [id(p) for p in model.parameters()] == [id(p) for _, p in named]
    assert named[0][1] is model.encoder.fc1.weight
    assert named[0][1].shape == (8, 4)
    # recurse=False: only the module's own parameters
    assert list(model.parameters(recurse=False)) == []
    assert [n for n, _ in model.encoder.fc1.named_parameters(recurse=False)] == ["weight", "bias"]


def test_buffers_children_and_modules():
    model = AutoEncoder()
    names = [n for n, _ in model.named_buffers()]
    assert names == ["norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]
    assert len(list(model.buffers())) == 3
    assert list(model.children()) == [model.encoder, model.norm, model.decoder]
    assert [n for n, _ in model.named_children()] == ["encoder", "norm", "decoder"]
    assert [n for n, _ in model.named_modules()] == MODULE_NAMES
    assert list(model.modules())[0] is model
    assert len(list(model.modules())) == len(MODULE_NAMES)
    # a non-persistent buffer is a buffer but stays out of state_dict
    model.register_buffer("scratch", tt.zeros(2), persistent=False)
    assert "scratch" in dict(model.named_buffers())
    assert "scratch" not in model.state_dict()


def test_train_eval_propagate_to_every_module():
    model = AutoEncoder()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not model.decoder[1].training


def test_zero_grad_set_to_none_both_ways():
    model = AutoEncoder()
    model(tt.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    grad = model.encoder.fc1.weight.grad
    assert np.abs(grad.data).sum() > 0
    model.zero_grad(set_to_none=False)
    assert model.encoder.fc1.weight.grad is grad  # zeroed in place, the same tensor
    assert all(p.grad is not None and not p.grad.data.any() for p in model.parameters())
    model.zero_grad()  # set_to_none=True is the default, as PyTorch
    assert all(p.grad is None for p in model.parameters())


def test_apply_visits_children_first_then_self():
    model = AutoEncoder()
    seen = []
    assert model.apply(lambda m: seen.append(m)) is model
    assert len(seen) == len(MODULE_NAMES)
    assert seen[-1] is model  # post-order, as PyTorch
    assert seen.index(model.encoder.fc1) < seen.index(model.encoder)
    model.apply(lambda m: init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 4 and all(not m.bias.data.any() for m in linears)
    assert all(m.weight.data.any() for m in linears)


def test_forward_pre_hook_can_replace_args_and_be_removed():
    lin = nn.Linear(3, 2)
    x = tt.randn(4, 3)
    plain = lin(x).data.copy()
    calls = []

    def double(module, args):
        calls.append((module, len(args)))
        return args[0] * 2  # a single value becomes the one argument

    handle = lin.register_forward_pre_hook(double)
    assert_close(lin(x), lin.forward(x * 2))
    assert calls == [(lin, 1)]
    handle.remove()
    assert_close(lin(x), plain)
    handle.remove()  # removing twice is harmless
    # a tuple return replaces all the args; None keeps them
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] + 1,))
    h2 = lin.register_forward_pre_hook(lambda m, args: None)
    assert_close(lin(x), lin.forward(x + 1))
    h1.remove()
    h2.remove()
    assert_close(lin(x), plain)


def test_forward_hook_sees_output_and_can_replace_it():
    lin = nn.Linear(3, 2)
    x = tt.randn(4, 3)
    plain = lin(x).data.copy()
    seen = {}

    def record(module, args, output):
        seen["args"], seen["out"] = args, output.data.copy()

    h_record = lin.register_forward_hook(record)
    lin(x)
    assert seen["args"][0] is x
    np.testing.assert_array_equal(seen["out"], plain)
    h_add = lin.register_forward_hook(lambda m, args, out: out + 1)
    assert_close(lin(x), plain + 1)
    h_add.remove()
    h_record.remove()
    seen.clear()
    assert_close(lin(x), plain)
    assert seen == {}


def test_sequential_indexing_len_iteration_append():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b)
    assert len(seq) == 2 and seq[0] is a and seq[-1] is b
    assert list(seq) == [a, b]
    seq.append(c)
    assert len(seq) == 3 and seq[2] is c
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    x = tt.randn(5, 2)
    assert_close(seq(x), c(b(a(x))))
    named = nn.Sequential({"fc": nn.Linear(2, 2), "act": nn.Tanh()})
    assert [n for n, _ in named.named_children()] == ["fc", "act"]


def test_modulelist_and_moduledict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    layers.append(nn.Linear(2, 3))
    assert len(layers) == 3 and layers[-1].out_features == 3
    assert [m.out_features for m in layers] == [2, 2, 3]
    assert len(layers[:2]) == 2
    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 4)})
    heads["c"] = nn.Identity()
    assert len(heads) == 3 and list(heads) == ["a", "b", "c"] and "b" in heads and "z" not in heads
    assert heads["b"].out_features == 4
    assert [k for k, _ in heads.items()] == ["a", "b", "c"]

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers, self.heads = layers, heads

    names = [n for n, _ in Net().named_parameters()]
    assert names[:2] == ["layers.0.weight", "layers.0.bias"]
    assert "layers.2.weight" in names and "heads.b.bias" in names and len(names) == 10


def test_tied_weight_appears_once():
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.head = nn.Linear(4, 10, bias=False)
            self.head.weight = self.emb.weight  # (10, 4) both

        def forward(self, ids):
            return self.head(self.emb(ids))

    model = Tied()
    assert [n for n, _ in model.named_parameters()] == ["emb.weight"]
    assert len(list(model.parameters())) == 1
    assert list(model.state_dict()) == ["emb.weight", "head.weight"]  # both names, as PyTorch
    # the gradient from both uses lands in the one tensor
    model(tt.tensor([1, 2])).sum().backward()
    grad = model.emb.weight.grad.data
    assert grad[1].any() and grad[5].any()  # row 1: embedding + head; row 5: head only


def test_assigning_plain_tensor_to_parameter_raises():
    lin = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="weight"):
        lin.weight = tt.zeros(2, 3)
    assert isinstance(lin.weight, nn.Parameter)
    lin.bias = None  # None is allowed: no bias
    assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]
    lin.weight = nn.Parameter(np.ones((2, 3), np.float32))
    assert lin.weight.data.sum() == 6


def test_repr_of_small_model_matches_pytorch_format():
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 3)), nn.ReLU(), nn.Linear(3, 1, bias=False))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  )\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=3, out_features=1, bias=False)\n"
        ")"
    )


# ============================================================================ module scope


class Probe(nn.Module):
    """Records the module scope its forward runs in."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def forward(self, x):
        self.seen.append(current_scope())
        return x


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.probe = Probe()
        self.seen: list[str] = []

    def forward(self, x):
        self.seen.append(current_scope())
        return self.probe(x)


class Scoped(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(Block(), nn.Linear(2, 2), Probe())
        self.head = Probe()
        self.seen: list[str] = []

    def forward(self, x):
        self.seen.append(current_scope())
        return self.head(self.encoder(x))


def test_current_scope_gives_dotted_names():
    model = Scoped()
    assert current_scope() == ""
    model(tt.randn(3, 2))
    assert model.seen == [""]
    assert model.encoder[0].seen == ["encoder.0"]
    assert model.encoder[0].probe.seen == ["encoder.0.probe"]
    assert model.encoder[2].seen == ["encoder.2"]
    assert model.head.seen == ["head"]
    assert current_scope() == ""
    # the scope of each probe is its name in named_modules()
    for name, m in model.named_modules():
        if isinstance(m, (Probe, Block)):
            assert m.seen == [name]


def test_current_scope_inside_hooks_and_after_errors():
    model = Scoped()
    seen = []
    model.encoder[1].register_forward_pre_hook(lambda m, args: seen.append(("pre", current_scope())))
    model.encoder[1].register_forward_hook(lambda m, args, out: seen.append(("post", current_scope())))
    model(tt.randn(3, 2))
    assert seen == [("pre", "encoder"), ("post", "encoder")]  # hooks run around the scope

    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    model.encoder.append(Boom())
    with pytest.raises(RuntimeError, match="boom"):
        model(tt.randn(3, 2))
    assert current_scope() == ""  # popped even when forward raises


# ============================================================================ state_dict


@needs_torch
def test_state_dict_keys_match_torch():
    def build(m):
        return m.Sequential(
            m.Sequential(m.Linear(3, 4), m.LayerNorm(4)),
            m.BatchNorm1d(4),
            m.Linear(4, 2, bias=False),
            m.Sequential(m.Embedding(5, 2)),
        )

    ours, theirs = build(nn), build(torch.nn)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    assert "1.num_batches_tracked" in ours_sd and "1.running_var" in ours_sd
    for key in theirs_sd:
        assert tuple(ours_sd[key].shape) == tuple(theirs_sd[key].shape), key
        assert str(ours_sd[key].dtype) == str(theirs_sd[key].dtype).replace("torch.", ""), key


@needs_torch
def test_loading_torch_state_dict_gives_torch_outputs():
    def build(m):
        return m.Sequential(m.Linear(3, 8), m.LayerNorm(8), m.ReLU(), m.Linear(8, 4), m.BatchNorm1d(4))

    theirs = build(torch.nn)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn_like(p))
        for _ in range(3):  # move the running statistics away from 0 and 1
            theirs(torch.randn(16, 3))
    ours = build(nn)
    missing, unexpected = ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert missing == [] and unexpected == []
    assert int(ours[4].num_batches_tracked.item()) == 3
    x = randn(6, 3)
    theirs.eval()
    ours.eval()
    assert_close(ours(tt.tensor(x)), theirs(torch.tensor(x)), what="eval output")
    # torch tensors load as they are, too
    direct = build(nn).eval()
    direct.load_state_dict(theirs.state_dict())
    assert_close(direct(tt.tensor(x)), theirs(torch.tensor(x)), what="eval output, loaded from torch tensors")


def _model_and_copy():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    return model, {k: v.data.copy() for k, v in model.state_dict().items()}


def _fresh_values(state):
    return {k: (v + 1 if v.dtype.kind == "f" else v + 5) for k, v in state.items()}


def _assert_unchanged(model, before):
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.data, before[key], err_msg=key)


def test_load_state_dict_missing_key_names_it_and_changes_nothing():
    model, before = _model_and_copy()
    state = _fresh_values(before)
    del state["0.bias"]
    with pytest.raises(RuntimeError, match=r"missing.*0\.bias"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)


def test_load_state_dict_unexpected_key_names_it_and_changes_nothing():
    model, before = _model_and_copy()
    state = _fresh_values(before)
    state["2.weight"] = np.zeros((4, 4), np.float32)
    with pytest.raises(RuntimeError, match=r"unexpected.*2\.weight"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)


def test_load_state_dict_mis_shaped_key_names_both_shapes_and_changes_nothing():
    model, before = _model_and_copy()
    state = _fresh_values(before)
    state["1.running_mean"] = np.zeros(5, np.float32)
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(state)
    message = str(err.value)
    assert "1.running_mean" in message and "(5,)" in message and "(4,)" in message
    _assert_unchanged(model, before)  # the keys before the bad one were not copied either


def test_load_state_dict_non_strict_returns_missing_and_unexpected():
    model, before = _model_and_copy()
    state = _fresh_values(before)
    del state["0.weight"]
    state["extra"] = np.zeros(1, np.float32)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["0.weight"] and unexpected == ["extra"]
    np.testing.assert_array_equal(model[0].weight.data, before["0.weight"])  # untouched
    np.testing.assert_array_equal(model[0].bias.data, before["0.bias"] + 1)  # loaded
    assert model[1].num_batches_tracked.item() == 5
    # a mis-shaped key is an error even when not strict
    state["0.bias"] = np.zeros(7, np.float32)
    with pytest.raises(RuntimeError, match=r"0\.bias"):
        model.load_state_dict(state, strict=False)


def test_state_dict_round_trip_restores_outputs():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = tt.randn(5, 3)
    saved = {k: v.data.copy() for k, v in model.state_dict().items()}
    expected = model(x).data.copy()
    other = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    assert not np.allclose(other(x).data, expected)
    other.load_state_dict(saved)
    np.testing.assert_array_equal(other(x).data, expected)
    # the loaded values are copies: changing the dict afterwards does not reach the model
    saved["0.weight"][...] = 0
    assert other[0].weight.data.any()


def test_scopes_follow_parents_through_containers_that_are_only_iterated():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(current_scope())
            return x

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Sequential(Probe()) for _ in range(2)])

        def forward(self, x):
            for block in self.blocks:  # the ModuleList itself is never called
                x = block(x)
            return x

    net = Net()
    net.blocks[1](tt.ones(1))  # a part called on its own first is its own root
    net(tt.ones(1))
    assert seen == ["0", "blocks.0.0", "blocks.1.0"]
