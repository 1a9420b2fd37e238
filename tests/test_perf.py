"""The systems toolkit: FLOP counts against closed forms, the profiler's sums, the benchmark
harness, the roofline, line profiling, memory over time."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch as tt
from tinytorch import nn
from tinytorch.perf import compare, line_profile, machine_peaks, measure, memory_timeline, profile, roofline_points


def test_flop_counts_match_the_closed_forms():
    linear = nn.Linear(30, 20)
    conv = nn.Conv2d(3, 8, 5, padding=2)
    x2, x4 = tt.randn(16, 30), tt.randn(2, 3, 12, 12)
    a, b = tt.randn(4, 7, 9), tt.randn(9, 5)
    with profile() as prof:
        linear(x2)
        conv(x4)
        a @ b
    flops = {e.op: e.flops for e in prof.events}
    assert flops["Linear"] == 2 * 16 * 30 * 20 + 16 * 20  # 2 N in out, plus the bias adds
    assert flops["Conv2d"] == 2 * (2 * 8 * 12 * 12) * (3 * 5 * 5) + 2 * 8 * 12 * 12
    assert flops["MatMul"] == 2 * 4 * 7 * 5 * 9


def test_backward_flops_are_counted_per_gradient_needed():
    w = tt.randn(9, 5, requires_grad=True)
    x = tt.randn(4, 9)
    with profile() as prof:
        (x @ w).sum().backward()
    backward = {e.op: e.flops for e in prof.events if e.phase == "backward"}
    assert backward["MatMul"] == 2 * 4 * 5 * 9  # only dW: x needs none


def test_profile_times_add_up_and_tables_agree():
    model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    prof = profile(model, tt.randn(256, 256))
    assert 0.5 * prof.wall < prof.op_seconds <= prof.wall  # heavy ops: the Python between them is small
    by_op = prof.table("op")
    by_module = prof.table("module")
    assert sum(r["total_ms"] for r in by_op) == pytest.approx(1e3 * prof.op_seconds)
    top = {r["name"]: r for r in by_module if r["phase"] == "forward"}
    assert sum(r["self_ms"] for r in by_module) == pytest.approx(1e3 * prof.op_seconds)
    assert top["0"]["calls"] == 1 and top["0"]["flops"] == 2 * 256 * 256 * 512 + 256 * 512
    phases = {r["phase"] for r in by_op}
    assert phases == {"forward", "backward"}
    text = prof.text()
    assert "Linear" in text and "ops:" in text and "GFLOP/s" in text


def test_module_totals_include_submodules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(nn.Linear(8, 8), nn.Tanh())

        def forward(self, x):
            return self.block(x) * 2

    prof = profile(Net(), tt.randn(4, 8))
    rows = {(r["name"], r["phase"]): r for r in prof.table("module")}
    block, inner = rows[("block", "forward")], [r for (n, p), r in rows.items() if n.startswith("block.") and p == "forward"]
    assert block["total_ms"] == pytest.approx(block["self_ms"] + sum(r["total_ms"] for r in inner))


def test_profile_runs_under_a_recorder_without_stopping_it(tmp_path):
    model = nn.Linear(4, 2)
    with tt.record(tmp_path / "run", model=model) as run:
        with profile() as prof:
            model(tt.randn(3, 4)).sum().backward()
        run.step()
        prof.save(run, 0)
    reader = tt.runs.RunReader(run.path)
    assert [o["op"] for o in reader.ops(0, "forward")] == ["Linear", "Sum"]  # the recorder still saw them
    rows = reader.profile(0)
    assert {(r["kind"], r["name"]) for r in rows} >= {("op", "Linear"), ("module", "(top level)")}
    assert tt.function._hook is None


def test_benchmark_harness_reports_medians_ratios_and_only_measured_metrics():
    slow = lambda: sum(range(20000))  # noqa: E731
    fast = lambda: sum(range(2000))  # noqa: E731
    report = compare(
        {"slow": slow, "fast": fast}, baseline="slow", rounds=5, number=3, ci=0.95, evaluate={"fast": lambda: {"accuracy": 0.5}}
    )
    assert report["fast"].ratio.median > 2  # fast has more than twice the throughput
    assert report["slow"].ratio is None
    t = report["slow"].time
    assert len(t.samples) == 5 and t.q1 <= t.median <= t.q3 and t.ci[0] <= t.median <= t.ci[1]
    assert report["fast"].metrics == {"accuracy": 0.5} and report["slow"].metrics == {}
    assert '"baseline": "slow"' in __import__("json").dumps(report.to_dict())
    assert "x slow's throughput" in report.text()
    with pytest.raises(KeyError, match="baseline 'medium'"):
        compare({"a": fast}, baseline="medium")
    assert measure(fast, rounds=3).median > 0


def test_roofline_classifies_ops():
    peaks = machine_peaks(n=256, megabytes=16, repeats=2)
    assert peaks["gflops"] > 0 and peaks["bandwidth_gbs"] > 0
    x = tt.randn(256, 256)
    with profile() as prof:
        x @ x  # 2 n^3 FLOPs on 3 n^2 floats: high intensity
        x + x  # one FLOP per 12 bytes: memory-bound
    fixed = {"gflops": 100.0, "bandwidth_gbs": 10.0, "ridge_flops_per_byte": 10.0}  # measured peaks vary with load
    points = {p["name"]: p for p in roofline_points(prof, fixed)}
    assert points["Add"]["bound"] == "memory" and points["MatMul"]["bound"] == "compute"
    assert points["Add"]["attainable_gflops"] == pytest.approx(points["Add"]["intensity"] * 10.0)
    assert points["MatMul"]["intensity"] == pytest.approx(2 * 256**3 / (3 * 256 * 256 * 4))
    assert points["MatMul"]["intensity"] > points["Add"]["intensity"]


def test_line_profile_times_the_forward_and_the_ops():
    model = nn.Sequential(nn.Linear(16, 16), nn.ReLU())
    rows = line_profile(model, tt.randn(8, 16, requires_grad=True))
    functions = {r["function"] for r in rows}
    assert {"Linear.forward", "Linear.backward", "Sequential.forward"} <= functions  # qualified names
    assert any("x2 @ weight.T" in r["source"] for r in rows)  # Linear.forward's matmul line
    assert all(r["hits"] >= 0 and r["time_ms"] >= 0 for r in rows)


def test_memory_timeline_sees_numpy_and_the_process():
    def allocate():
        blocks = [np.ones(2_000_000, np.float32) for _ in range(3)]  # 24 MB
        import time

        time.sleep(0.1)
        return len(blocks)

    timeline = memory_timeline(allocate, interval=0.01)
    assert timeline["result"] == 3
    assert timeline["peak_numpy"] - timeline["numpy"][0] >= 24_000_000
    assert timeline["peak_rss"] >= timeline["rss"][0] and len(timeline["t"]) >= 3
