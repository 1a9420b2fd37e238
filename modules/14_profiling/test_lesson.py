"""Lesson 14's tests of the learner's Build code: the OpTimer hook (forward, backward, phases) against
tinytorch.perf.Profile on several models and optimizers, summarise on known and real events,
conv2d_flops against the op's declared formula, and the arithmetic intensity against the profiler's.
`build` is the learner's notebook executed up to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
from tinytorch import function, nn
from tinytorch.perf import Profile


def events_of(hook_factory, fn):
    with hook_factory() as hook:
        fn()
    return hook


def small_cnn():
    tt.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 5)
    )


def test_optimer_sees_every_forward_op_in_order(build):
    a, b = tt.randn(4, 6), tt.randn(6, 3)

    def work():
        h = (a @ b).tanh().reshape(3, 4).transpose(0, 1)  # views too
        (h * 2 + 1).softmax(dim=1).sum()

    timer = events_of(build.OpTimer, work)
    prof = events_of(Profile, work)
    assert [op for _, op, _ in timer.events] == [e.op for e in prof.events], "OpTimer should see Profile's ops, in order"
    assert all(isinstance(s, float) and s >= 0 for _, _, s in timer.events), "each event's seconds is a float >= 0"


def test_optimer_returns_the_ops_outputs_and_gradients(build):
    tt.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 7), nn.GELU(), nn.Linear(7, 2))
    x = tt.randn(9, 5)
    loss = model(x).pow(2).mean()
    loss.backward()
    want_loss, want_grads = loss.item(), [p.grad.data.copy() for p in model.parameters()]
    model.zero_grad()
    with build.OpTimer():
        loss = model(x).pow(2).mean()
        loss.backward()
    assert loss.item() == want_loss, f"the loss under OpTimer should be {want_loss}, but is {loss.item()}"
    for (name, p), want in zip(model.named_parameters(), want_grads):
        np.testing.assert_allclose(p.grad.data, want, err_msg=f"{name}.grad under OpTimer")


def test_optimer_puts_back_the_hook_it_replaced(build):
    x = tt.randn(3, 3)
    with Profile() as outer:
        x + x
        with build.OpTimer() as timer:
            x * x
        assert function._hook is outer, "after OpTimer, the profiler that was installed before should be back"
        x - x
    assert function._hook is None
    assert [op for _, op, _ in timer.events] == ["Mul"], f"OpTimer should have seen only Mul, saw {timer.events}"
    assert [e.op for e in outer.events] == ["Add", "Sub"]


def test_a_cnn_step_gives_profiles_events_with_sgd_and_adam(build):
    for make in (
        lambda p: tt.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
        lambda p: tt.optim.Adam(p, lr=1e-3),
    ):
        results = []
        for hook in (Profile, build.OpTimer):
            model = small_cnn()
            optimizer = make(model.parameters())
            x, y = tt.randn(4, 3, 8, 8), tt.tensor([0, 1, 2, 3])
            with hook() as h:
                for _ in range(2):
                    loss = nn.functional.cross_entropy(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
            events = [(e.phase, e.op) for e in h.events] if hook is Profile else [(p, op) for p, op, _ in h.events]
            results.append((events, [p.data.copy() for p in model.parameters()]))
        (theirs, want), (ours, got) = results
        assert ours == theirs, (
            f"{type(optimizer).__name__}: the (phase, op) events should be Profile's\n{theirs}\nbut are\n{ours}"
        )
        for w, g in zip(want, got):
            np.testing.assert_allclose(g, w, rtol=1e-6, err_msg="the trained weights should not depend on the profiler")


def test_backward_events_are_named_after_the_forward_op(build):
    w = tt.randn(4, 4, requires_grad=True)
    with build.OpTimer() as timer:
        (w.exp() * w).sum().backward()
    backward = [op for phase, op, _ in timer.events if phase == "backward"]
    assert sorted(backward) == ["Exp", "Mul", "Sum"], f"one backward event per op node, named as the op: {backward}"
    assert timer.events[-1][0] == "backward", "the backward events come after the forward ones"


def test_set_phase_keeps_the_phase(build):
    timer = build.OpTimer()
    for phase in ("backward", "optimizer", "forward"):
        timer.set_phase(phase)
        assert timer.phase == phase, f"set_phase({phase!r}) should set .phase, but .phase is {timer.phase!r}"


def test_summarise_on_known_events(build):
    events = [
        ("forward", "A", 0.001),
        ("forward", "B", 0.004),
        ("backward", "A", 0.002),
        ("forward", "A", 0.0005),
        ("optimizer", "C", 0.0001),
    ]
    rows = build.summarise(events)
    got = [(r["op"], r["phase"], r["calls"], round(r["ms"], 6)) for r in rows]
    assert got == [("B", "forward", 1, 4.0), ("A", "backward", 1, 2.0), ("A", "forward", 2, 1.5), ("C", "optimizer", 1, 0.1)], got
    np.testing.assert_allclose(sum(r["share"] for r in rows), 1.0, err_msg="the shares add up to 1")
    np.testing.assert_allclose(rows[0]["share"], 4.0 / 7.6, err_msg="B's share: 4 of 7.6 ms")
    assert build.summarise([]) == [], "no events, no rows"


def test_summarise_agrees_with_profiles_table(build):
    model = small_cnn()
    with Profile() as prof:
        loss = nn.functional.cross_entropy(model(tt.randn(2, 3, 8, 8)), tt.tensor([1, 4]))
        loss.backward()
    rows = build.summarise([(e.phase, e.op, e.seconds) for e in prof.events])
    table = {(r["name"], r["phase"]): r for r in prof.table("op")}
    assert len(rows) == len(table), f"one row per (op, phase): {len(table)} in Profile's table, {len(rows)} in yours"
    for r in rows:
        want = table[(r["op"], r["phase"])]
        assert r["calls"] == want["calls"], f"{r['op']} {r['phase']}: {want['calls']} calls, yours says {r['calls']}"
        np.testing.assert_allclose(r["ms"], want["total_ms"], rtol=1e-9, err_msg=f"{r['op']} {r['phase']} ms")


def test_conv2d_flops_match_the_ops_formula(build):
    conv = tt.OPS["Conv2d"]
    for n, ci, h, w, co, k, stride, padding, bias in [(1, 1, 5, 5, 1, 1, 1, 0, False), (2, 3, 32, 32, 16, 3, 1, 1, True),
                                                      (4, 8, 15, 9, 6, 5, 2, 2, False), (3, 16, 7, 7, 32, 3, 3, 0, True)]:  # fmt: skip
        ho, wo = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
        shapes = [(n, ci, h, w), (co, ci, k, k)] + ([(co,)] if bias else [])
        want = conv.flops(shapes, (n, co, ho, wo), {})
        got = build.conv2d_flops((n, ci, h, w), (co, ci, k, k), stride, padding, bias)
        assert got == want, (
            f"conv2d_flops of x {(n, ci, h, w)}, w {(co, ci, k, k)}, stride {stride}, padding {padding}, bias {bias}: {want:,}, not {got:,}"
        )


def test_arithmetic_intensity_is_the_profilers(build):
    a, b = tt.randn(64, 128), tt.randn(128, 32)
    with Profile() as prof:
        a @ b
        a + a
    for e, shapes in zip(prof.events, ([(64, 128), (128, 32), (64, 32)], [(64, 128), (64, 128), (64, 128)])):
        got = build.arithmetic_intensity(e.flops, *shapes)
        np.testing.assert_allclose(got, e.flops / e.moved, rtol=1e-12, err_msg=f"{e.op}'s intensity")
    n = 100
    np.testing.assert_allclose(build.arithmetic_intensity(2 * n**3, (n, n), (n, n), (n, n), itemsize=8), 2 * n**3 / (8 * 3 * n * n),
                               err_msg="float64: 8 bytes per element")  # fmt: skip
