"""The recorder's truth checks: bytes against tracemalloc, optimizer state ratios, the graph
against autograd's, NaN origin, probes, alerts, and fit(record=...)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.record import AnomalyError, numpy_traced_bytes
from tinytorch.runs import RunReader


def mlp():
    return nn.Sequential(nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 4))


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8, 4),
    )  # fmt: skip


def batches(shape, n=3, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        # tensors sharing the arrays, as a DataLoader gives: no second copy stays alive
        yield tt.from_numpy(rng.standard_normal((8, *shape)).astype(np.float32)), tt.from_numpy(rng.integers(0, 4, 8))


def assert_matches_numpy(run, what):
    recorded, numpy_bytes = run.recorder.memory.total(), numpy_traced_bytes()
    assert abs(recorded - numpy_bytes) <= 0.01 * numpy_bytes, f"{what}: recorded {recorded} B, NumPy {numpy_bytes} B"


@pytest.mark.parametrize("build, shape", [(mlp, (48,)), (small_cnn, (3, 10, 10))], ids=["mlp", "cnn"])
def test_recorded_bytes_match_tracemalloc_at_every_boundary(tmp_path, build, shape):
    tracemalloc.start()
    try:
        model = build()
        opt = tt.optim.Adam(model.parameters(), lr=1e-3)
        with tt.record(tmp_path / "run", model=model, optimizer=opt, trace_steps=(0, 1, 2)) as run:
            assert_matches_numpy(run, "start of step 0")
            for i, (x, y) in enumerate(batches(shape)):
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                assert_matches_numpy(run, f"end of step {i}")
                run.step(loss)
                del x, y, loss
                if i + 1 < 3:  # the next step is traced too
                    assert_matches_numpy(run, f"start of step {i + 1}")
        totals = RunReader(run.path).memory_totals()
        assert [t["step"] for t in totals] == [0, 1, 2]
        for t in totals:
            assert abs(t["recorded"] - t["tracemalloc"]) <= 0.01 * t["tracemalloc"], t
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "make_opt, state_ratio",
    [
        (lambda p: tt.optim.SGD(p, lr=0.1), 0.0),
        (lambda p: tt.optim.SGD(p, lr=0.1, momentum=0.9), 1.0),
        (lambda p: tt.optim.Adam(p, lr=1e-3), 2.0),
    ],
    ids=["sgd", "sgd_momentum", "adam"],
)
def test_optimizer_state_and_gradient_bytes_after_first_step(tmp_path, make_opt, state_ratio):
    model = mlp()
    opt = make_opt(model.parameters())
    with tt.record(tmp_path / "run", model=model, optimizer=opt, trace_steps=(0,)) as run:
        x, y = next(batches((48,)))
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.step(loss)
    (totals,) = RunReader(run.path).memory_totals()
    cats = totals["by_category"]
    param_bytes = sum(p.data.nbytes for p in model.parameters())
    assert cats["parameter"] == param_bytes
    assert cats["gradient"] == param_bytes
    assert cats.get("optimizer_state", 0) == state_ratio * param_bytes


def test_views_own_no_bytes(tmp_path):
    x = tt.randn(4, 6, requires_grad=True)
    with tt.record(tmp_path / "run") as run:
        y = x.reshape(6, 4).transpose(0, 1)  # two views of x
        (y * 2).sum().backward()
        run.step()
    ops = {o["op"]: o for o in RunReader(run.path).ops(0, "forward")}
    assert ops["Reshape"]["out_bytes"] == 0 and ops["Permute"]["out_bytes"] == 0
    assert ops["Mul"]["out_bytes"] == 4 * 6 * 4


def test_recorded_graph_is_the_autograd_graph(tmp_path):
    model = small_cnn()
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    with tt.record(tmp_path / "run", model=model, optimizer=opt) as run:
        x, y = next(batches((3, 10, 10)))
        loss = F.cross_entropy(model(x), y)
        graph = [n for n in tt.autograd.graph(loss) if n.op != "AccumulateGrad"]
        seq_of = {id(n.node): run.recorder._node_of[id(n.node)] for n in graph}
        loss.backward()
        opt.step()
        run.step(loss)
    reader = RunReader(run.path)
    recorded = [o for o in reader.ops(0, "forward") if o["grad"]]
    # the same ops, and in an order that autograd's graph allows (inputs before their users)
    assert sorted(o["op"] for o in recorded) == sorted(n.op for n in graph)
    assert [o["seq"] for o in recorded] == sorted(seq_of.values())
    by_seq = {o["seq"]: o["op"] for o in recorded}
    for n in graph:
        assert by_seq[seq_of[id(n.node)]] == n.op
        for parent in n.inputs:
            if parent is not None and graph_node_is_op(parent, graph):
                assert seq_of[id(op_at(parent, graph).node)] < seq_of[id(n.node)]
    backward = reader.ops(0, "backward")
    assert sorted(o["node"] for o in backward) == sorted(seq_of.values())  # each node's backward ran once
    assert all(o["op"] == by_seq[o["node"]] + "Backward" for o in backward)
    assert [o["op"] for o in reader.ops(0, "optimizer")] == ["SGDStep"] * len(list(model.parameters()))


def graph_node_is_op(index, graph):
    return any(n.index == index for n in graph)


def op_at(index, graph):
    return next(n for n in graph if n.index == index)


def test_edges_and_module_scopes(tmp_path):
    model = mlp()
    with tt.record(tmp_path / "run", model=model) as run:
        model(tt.randn(2, 48)).sum().backward()
        run.step()
    g = RunReader(run.path).graph(0)
    ops = {n["seq"]: n for n in g["nodes"]}
    assert [ops[s]["module"] for s in sorted(ops)][:5] == ["0", "1", "2", "3", "4"]
    assert {(e["src"], e["dst"]) for e in g["edges"]} >= {(1, 2), (2, 3), (3, 4), (4, 5)}
    first = ops[1]
    assert first["inputs"] == [{"const": [2, 48]}, {"param": "0.weight"}, {"param": "0.bias"}]


@pytest.mark.parametrize("mode", ["warn", "raise"])
def test_nan_origin_names_the_log_op_in_forward(tmp_path, mode):
    x = tt.tensor([[1.0, -1.0, 2.0]], requires_grad=True)
    with tt.record(tmp_path / "run", anomaly=mode) as run:
        for step in range(3):
            shift = 0.0 if step < 2 else 5.0  # at step 2, relu gives zeros and log(0) = -inf
            if mode == "raise" and step == 2:
                with pytest.raises(AnomalyError, match=r"Log \(forward, step 2"):
                    (x - shift).relu().log().sum()
                break
            if step == 2:
                with pytest.warns(RuntimeWarning, match=r"Log \(forward, step 2"):
                    (x - shift).relu().log().sum()
            else:
                (x - shift).abs().log().sum()
            run.step()
    (alert,) = [a for a in RunReader(run.path).alerts() if a["kind"] == "anomaly"]
    assert (alert["op"], alert["phase"], alert["step"]) == ("Log", "forward", 2)
    assert "-Inf" in alert["message"] and "min 0" in alert["message"]


def test_nan_origin_in_backward(tmp_path):
    x = tt.tensor([0.0, 1.0], requires_grad=True)
    with tt.record(tmp_path / "run", anomaly="warn") as run:
        with pytest.warns(RuntimeWarning, match="SqrtBackward"):
            x.sqrt().sum().backward()  # d sqrt(x)/dx at 0 is inf
        run.step()
    (alert,) = RunReader(run.path).alerts()
    assert (alert["op"], alert["phase"]) == ("SqrtBackward", "backward")


class TinyAttention(nn.Module):
    """Self-attention from primitives, handing its weights to the recorder's probe."""

    def __init__(self, dim=8, heads=2):
        super().__init__()
        self.heads, self.qkv = heads, nn.Linear(dim, 3 * dim)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # (3, B, nh, T, hs)
        w = (q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5).softmax(-1)  # (B, nh, T, T)
        tt.record.attention(w)
        return (w @ v).transpose(1, 2).reshape(b, t, d)


def test_attention_probes(tmp_path):
    model = nn.Sequential(TinyAttention(), TinyAttention())
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    probe = tt.randn(1, 5, 8)
    with tt.record(tmp_path / "run", model=model, optimizer=opt, probe=probe, probe_every=2, probe_tokens=list("hello")) as run:
        for _ in range(5):
            loss = (model(tt.randn(3, 5, 8)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.step(loss)
    reader = RunReader(run.path)
    assert reader.probe_steps() == [0, 2, 4]
    maps = reader.probe(2)
    assert list(maps) == ["0", "1"]
    w = maps["0"]["weights"]
    assert w.shape == (2, 5, 5) and np.allclose(w.sum(-1), 1, atol=1e-5)
    assert maps["1"]["tokens"] == list("hello")
    assert reader.steps()["step"].tolist() == [0, 1, 2, 3, 4]  # probing adds no steps


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the divergence overflows on purpose
def test_alerts_for_vanishing_and_exploding_gradients(tmp_path):
    class Damped(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second = nn.Linear(4, 4), nn.Linear(4, 1)

        def forward(self, x):
            return self.second(self.first(x * 1e-6))  # first.weight's gradient all but vanishes

    model = Damped()
    opt = tt.optim.SGD(model.parameters(), lr=0.01)
    x, y = tt.randn(16, 4), tt.randn(16, 1) * 10
    with tt.record(tmp_path / "run", model=model, optimizer=opt) as run:
        for step in range(12):
            opt.param_groups[0]["lr"] = 0.01 if step < 4 else 3.0  # then far too large: the layers explode
            loss = F.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.step(loss)
    alerts = RunReader(run.path).alerts()
    kinds = {(a["kind"], a["param"]) for a in alerts}
    assert ("vanishing", "first.weight") in kinds
    assert any(k == "exploding" and p.startswith("second") for k, p in kinds)
    first_explosion = next(a for a in alerts if a["kind"] == "exploding")
    assert "grew more than 10x" in first_explosion["rule"] or "exceeds" in first_explosion["message"]
    # each alert fires once per episode, not every step
    assert len([a for a in alerts if (a["kind"], a["param"]) == ("vanishing", "first.weight")]) == 1


def test_vanishing_takes_three_low_steps_in_a_row_not_one_dip():
    from tinytorch.record import GradientHealth

    health, normal = GradientHealth(), {"a": 1.0, "b": 1.0, "c": 1.0}
    dip = {**normal, "c": 1e-6}  # an output bias's gradient cancels when a batch's classes balance
    assert health.check(0, dip, {}) == [] and health.check(1, normal, {}) == []
    alerts = [a for step in (2, 3, 4, 5) for a in health.check(step, dip, {})]
    assert [(a["kind"], a["param"], a["step"]) for a in alerts] == [("vanishing", "c", 4)]  # once per episode
    assert "since step 2" in alerts[0]["message"] and "3 steps in a row" in alerts[0]["rule"]


def test_gradient_statistics_are_exact(tmp_path):
    model = nn.Linear(10, 3)
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    norms = []
    with tt.record(tmp_path / "run", model=model, optimizer=opt, every=2) as run:
        for step in range(4):
            loss = (model(tt.randn(5, 10)) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            g = model.weight.grad.data.copy()
            w_before = model.weight.data.copy()
            opt.step()
            run.step(loss)
            norms.append(np.linalg.norm(g))
            if step == 2:
                expected = dict(max_abs=np.abs(g).max(), mean=g.mean(), std=g.std(),
                                update=np.linalg.norm(model.weight.data - w_before) / np.linalg.norm(model.weight.data))  # fmt: skip
    reader = RunReader(run.path)
    steps, names, recorded = reader.grad_stats("norm")  # every step
    assert steps.tolist() == [0, 1, 2, 3] and names == ["weight", "bias"]
    np.testing.assert_allclose(recorded[0], norms, rtol=1e-5)
    for field in ("max_abs", "mean", "std", "zero_frac", "weight_norm", "update_ratio"):  # every 2nd step
        assert reader.grad_stats(field)[0].tolist() == [0, 2], field
    assert [h["step"] for h in reader.histograms("weight")] == [0, 2]
    col = 1
    assert reader.grad_stats("max_abs")[2][0, col] == pytest.approx(expected["max_abs"], rel=1e-6)
    assert reader.grad_stats("mean")[2][0, col] == pytest.approx(expected["mean"], rel=1e-4, abs=1e-6)
    assert reader.grad_stats("std")[2][0, col] == pytest.approx(expected["std"], rel=1e-4)
    assert reader.grad_stats("update_ratio")[2][0, col] == pytest.approx(expected["update"], rel=1e-4)
    (hist,) = [h for h in reader.histograms("weight") if h["step"] == 2]
    assert hist["counts"].sum() == 30 and len(hist["counts"]) == 32


def test_by_default_norms_every_step_and_the_full_statistics_every_20th(tmp_path):
    model = nn.Linear(4, 2)
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    with tt.record(tmp_path / "run", model=model, optimizer=opt, trace_steps=()) as run:
        for _ in range(41):
            loss = (model(tt.randn(3, 4)) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.step(loss)
    reader = RunReader(run.path)
    assert reader.grad_stats("norm")[0].tolist() == list(range(41))
    assert reader.grad_stats("nonfinite")[0].tolist() == list(range(41))
    assert reader.grad_stats("update_ratio")[0].tolist() == [0, 20, 40]
    assert [h["step"] for h in reader.histograms("weight")] == [0, 20, 40]


def test_a_nan_gradient_between_full_statistics_steps_is_flagged_at_its_step(tmp_path):
    model = nn.Linear(4, 2)
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    with tt.record(tmp_path / "run", model=model, optimizer=opt, trace_steps=()) as run:
        for step in range(5):
            x = tt.randn(3, 4)
            if step == 3:
                x.data[0, 0] = np.nan
            loss = (model(x) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.step(loss)
    reader = RunReader(run.path)
    steps, names, flags = reader.grad_stats("nonfinite")
    assert flags[names.index("weight")].tolist() == [0, 0, 0, 1, 1]  # NaN weights after step 3 keep it NaN
    first = [a for a in reader.alerts() if a["kind"] == "nonfinite"]
    assert first and min(a["step"] for a in first) == 3


def test_fit_records_the_run(tmp_path):
    from tinytorch.data import DataLoader, TensorDataset

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = tt.optim.Adam(model.parameters(), lr=0.05)
    tt.train.fit(model, loader, nn.CrossEntropyLoss(), opt, 2, val_loader=loader, progress=False, record=tmp_path / "fit")
    reader = RunReader(tmp_path / "fit")
    assert reader.status == "finished"
    assert reader.steps()["step"].tolist() == list(range(8))
    steps, values = reader.scalars("val/accuracy")
    assert steps.tolist() == [3, 7] and 0 <= values[-1] <= 1
    assert reader.traced_steps() == [0, 1]
    assert tt.function._hook is None  # the recorder is gone after fit


def test_one_recorder_at_a_time(tmp_path):
    with tt.record(tmp_path / "a"):
        with pytest.raises(RuntimeError, match="another recorder"):
            tt.record(tmp_path / "b")
    assert tt.function._hook is None


def test_huge_but_finite_gradients_are_not_called_nonfinite():
    from tinytorch.record import grad_stats

    g = np.full(10, 1e20, np.float32)  # squares overflow float32, the values do not
    stats = grad_stats(g)
    assert not stats["nonfinite"]
    assert stats["norm"] == pytest.approx(1e20 * np.sqrt(10), rel=1e-6)
    assert grad_stats(np.array([1.0, np.inf], np.float32))["nonfinite"]
    assert grad_stats(np.array([np.nan, 1.0], np.float32))["nonfinite"]
    partial = grad_stats(g, full=False)  # a norms-only step: the rest is not taken, even for an empty tensor
    assert partial["norm"] == stats["norm"] and partial["zero_frac"] is None and partial["hist"] is None
    assert grad_stats(np.zeros(0, np.float32), full=False)["zero_frac"] is None


def test_a_healthy_run_raises_no_gradient_alerts(tmp_path):
    from inspector.demo import spirals_mlp

    spirals_mlp(tmp_path, "spirals-sgd", steps=120, pace=0)  # the demo's healthy SGD run
    alerts = RunReader(tmp_path / "spirals-sgd").alerts()
    assert alerts == [], [a["message"] for a in alerts]


def test_accumulation_micro_batches_are_recorded_as_forward(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    with tt.record(tmp_path / "acc", model=model, optimizer=opt, trace_steps=(0,)) as run:
        opt.zero_grad()
        for _ in range(3):  # three micro-batches, one optimizer step
            (F.cross_entropy(model(tt.randn(3, 4)), tt.randint(0, 2, (3,))) / 3).backward()
        opt.step()
        run.step()
    ops = RunReader(run.path).ops(0)
    linear = [o for o in ops if o["op"] == "Linear"]
    assert len(linear) == 6 and {o["phase"] for o in linear} == {"forward"} and all(o["node"] for o in linear)
    assert [o["op"] for o in ops if o["phase"] == "optimizer"] == ["SGDStep"] * 4


def test_paused_keeps_evaluation_out_of_the_steps_and_the_run_goes_on(tmp_path):
    model = mlp()
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    x, y = next(batches((48,)))
    with tt.record(tmp_path / "run", model=model, optimizer=opt, trace_steps=(0, 1)) as run:
        for _ in range(2):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.step(loss)
            with tt.no_grad(), run.paused():  # 5 evaluation forwards between the traced steps
                for _ in range(5):
                    model(x)
        reader = run.reader()
        assert len(reader.ops(0, "forward")) == len(reader.ops(1, "forward"))  # step 1 has no evaluation in it
        assert tt.record.active() is run.recorder
    with tt.perf.profile() as prof, tt.record.paused():  # a profiler is no recorder: it keeps seeing
        model(x)
    assert prof.table()


@pytest.mark.parametrize(
    "values",
    [np.random.default_rng(0).standard_normal(4096), np.arange(-16.0, 17.0), np.full(7, 3.0), np.array([1e300, -1e300, 0.0])],
    ids=["normal", "edges-on-bin-boundaries", "constant", "huge"],
)
def test_gradient_histogram_bins_as_numpy_does(values):
    from tinytorch.record.stats import BINS, _histogram

    counts, lo, hi = _histogram(values, float(values.min()), float(values.max()))
    scale = np.abs(values).max()
    lo_s, hi_s = (
        (values.min() / scale, values.max() / scale) if np.ptp(values) else (values[0] / scale - 0.5, values[0] / scale + 0.5)
    )
    expected, expected_edges = np.histogram(values / scale, BINS, range=(lo_s, hi_s))
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_allclose([lo, hi], expected_edges[[0, -1]] * scale, rtol=1e-12)


def test_gradient_histogram_of_a_sample_spans_the_whole_gradients_range():
    from tinytorch.record import grad_stats
    from tinytorch.record.stats import SAMPLE
    from tinytorch.runs.schema import from_npy

    g = np.random.default_rng(0).standard_normal(50 * SAMPLE).astype(np.float32)
    g[7] = 100.0  # an outlier the evenly spaced sample skips
    stats = grad_stats(g)
    assert stats["hi"] == pytest.approx(100.0) and stats["lo"] == pytest.approx(float(g.min()))
    assert stats["max_abs"] == pytest.approx(100.0)
    counts = from_npy(stats["hist"])
    assert counts.sum() == len(g[:: len(g) // SAMPLE]) and counts[-1] == 0  # the sample's values, none near 100


def test_npy_bytes_round_trip_with_the_cached_header():
    from tinytorch.runs.schema import from_npy, npy_bytes

    for a in (np.arange(32, dtype=np.int32), np.arange(32, dtype=np.int32)[::-1], np.zeros((2, 3)), np.array([], np.float32)):
        for _ in range(2):  # the second time through the cache
            b = from_npy(npy_bytes(a))
            assert b.dtype == a.dtype and b.shape == a.shape
            np.testing.assert_array_equal(b, a)
