"""Lesson 19's tests of the learner's Build code: percentile and summarize against NumPy and
tinytorch.perf.Timing; benchmark, compare_rounds and ratios on the notebook's FakeMachine (a clock
that moves only when work runs), exactly, and against tinytorch.perf.compare run on the same fake
machine. Nothing here is timed for real beyond checking that real samples are non-negative.
`build` is the learner's notebook executed up to `## Use`."""

from __future__ import annotations

import numpy as np

import tinytorch as tt
import tinytorch.perf.bench as bench


def fake_perf_counter(clock):
    """Run tinytorch.perf.compare on a fake clock: it reads time.perf_counter through its module."""
    return type("FakeTime", (), {"perf_counter": staticmethod(clock)})


def tinytorch_compare(machine, variants, **kwargs):
    real = bench.time
    bench.time = fake_perf_counter(machine.clock)
    try:
        return tt.perf.compare(variants, **kwargs)
    finally:
        bench.time = real


def test_percentile_matches_numpy(build):
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 4, 7, 10, 31):
        samples = list(rng.lognormal(0, 1, n))
        before = list(samples)
        for q in (0, 1, 12.5, 25, 33, 50, 66.6, 75, 90, 99, 100):
            got, want = build.percentile(samples, q), float(np.percentile(samples, q))
            assert np.isclose(got, want, rtol=1e-12), f"percentile of {n} samples at q={q}: {got}, NumPy says {want}"
        assert samples == before, "percentile must not reorder the caller's list (sort a copy)"


def test_percentile_accepts_tuples_and_arrays(build):
    for samples in ((3.0, 1.0, 2.0), np.array([3.0, 1.0, 2.0])):
        assert np.isclose(build.percentile(samples, 50), 2.0), f"percentile({samples!r}, 50) should be 2.0"


def test_summarize_matches_tinytorch_timing(build):
    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 8, 40):
        samples = list(rng.exponential(1e-3, n))
        got, want = build.summarize(samples), tt.perf.Timing(list(samples))
        assert set(got) >= {"median", "q1", "q3", "iqr"}, f"summarize should give median, q1, q3 and iqr, not {sorted(got)}"
        for key in ("median", "q1", "q3", "iqr"):
            assert np.isclose(got[key], getattr(want, key), rtol=1e-12), (
                f"summarize of {n} samples: {key} {got[key]}, tinytorch {getattr(want, key)}"
            )


def test_benchmark_on_a_fake_machine(build):
    for warmup, rounds, number in [(0, 1, 1), (2, 3, 2), (1, 4, 5), (3, 2, 1)]:
        machine = build.FakeMachine()
        costs = [10.0 + k for k in range(warmup)] + [0.1 * (k + 1) for k in range(rounds * number)]
        got = build.benchmark(machine.task("f", costs), rounds=rounds, number=number, warmup=warmup, clock=machine.clock)
        timed = np.asarray(costs[warmup:]).reshape(rounds, number).mean(axis=1)
        assert len(machine.log) == warmup + rounds * number, (
            f"warmup={warmup}, rounds={rounds}, number={number}: {len(machine.log)} calls"
        )
        np.testing.assert_allclose(got, timed, rtol=1e-9, err_msg=f"warmup={warmup}, rounds={rounds}, number={number}")


def test_benchmark_defaults_and_the_real_clock(build):
    machine = build.FakeMachine()
    got = build.benchmark(machine.task("f", 1.0), clock=machine.clock)
    assert len(got) == 7 and len(machine.log) == 2 + 7, "the defaults are rounds=7, number=1, warmup=2"
    calls = []
    real = build.benchmark(lambda: calls.append(1), rounds=3, number=4, warmup=1)
    assert len(real) == 3 and len(calls) == 1 + 3 * 4 and all(s >= 0 for s in real), (
        f"real clock: 3 samples, 13 calls; got {real}, {len(calls)}"
    )


def test_compare_rounds_order_and_samples(build):
    machine = build.FakeMachine()
    variants = {"x": machine.task("x", 1.0), "y": machine.task("y", 2.0), "z": machine.task("z", [5.0, 0.5])}
    got = build.compare_rounds(variants, rounds=2, number=3, warmup=1, clock=machine.clock)
    want_log = ["x", "y", "z"] + ["x"] * 3 + ["y"] * 3 + ["z"] * 3 + ["z"] * 3 + ["y"] * 3 + ["x"] * 3  # reversed in round 2
    assert machine.log == want_log, f"call order should be {want_log}, was {machine.log}"
    assert list(got) == ["x", "y", "z"], f"the result keeps the variants' order: {list(got)}"
    np.testing.assert_allclose(got["x"], [1.0, 1.0], err_msg="x's samples")
    np.testing.assert_allclose(got["y"], [2.0, 2.0], err_msg="y's samples")
    np.testing.assert_allclose(got["z"], [0.5, 0.5], err_msg="z's samples (its costly first call was the warm-up)")


def test_compare_rounds_is_tinytorchs_compare(build):
    costs = {"a": [2.0, 1.0, 1.3, 0.8], "b": [1.0, 0.4, 0.6, 0.5, 0.45], "c": 0.7}
    for drift, rounds, number, warmup in [(0.0, 3, 1, 2), (0.03, 5, 2, 1), (0.1, 4, 3, 0)]:
        mine, theirs = build.FakeMachine(drift), build.FakeMachine(drift)
        got = build.compare_rounds(
            {n: mine.task(n, c) for n, c in costs.items()}, rounds=rounds, number=number, warmup=warmup, clock=mine.clock
        )
        report = tinytorch_compare(
            theirs, {n: theirs.task(n, c) for n, c in costs.items()}, rounds=rounds, number=number, warmup=warmup
        )
        assert mine.log == theirs.log, f"drift {drift}: your call order differs from tinytorch.perf.compare's"
        for name in costs:
            np.testing.assert_allclose(
                got[name], report[name].time.samples, rtol=1e-12, err_msg=f"drift {drift}: {name}'s samples"
            )


def test_ratios_are_tinytorchs(build):
    costs = {"base": [1.0, 1.1, 0.9, 1.2], "other": [2.0, 1.5, 2.5, 1.8], "third": 0.5}
    mine, theirs = build.FakeMachine(0.05), build.FakeMachine(0.05)
    samples = build.compare_rounds({n: mine.task(n, c) for n, c in costs.items()}, rounds=4, number=1, warmup=0, clock=mine.clock)
    report = tinytorch_compare(
        theirs, {n: theirs.task(n, c) for n, c in costs.items()}, baseline="base", rounds=4, number=1, warmup=0
    )
    got = build.ratios(samples, "base")
    assert set(got) == {"other", "third"}, f"ratios for every variant but the baseline, got {sorted(got)}"
    for name in ("other", "third"):
        np.testing.assert_allclose(
            got[name], report[name].ratio.samples, rtol=1e-12, err_msg=f"{name}'s ratios against tinytorch's"
        )


def test_ratios_direction_and_unknown_baseline(build):
    got = build.ratios({"slow": [4.0, 2.0], "fast": [1.0, 1.0]}, "slow")
    np.testing.assert_allclose(got["fast"], [4.0, 2.0], err_msg="fast against slow: baseline time / variant time")
    got = build.ratios({"slow": [4.0, 2.0], "fast": [1.0, 1.0]}, "fast")
    np.testing.assert_allclose(got["slow"], [0.25, 0.5], err_msg="slow against fast")
    try:
        build.ratios({"a": [1.0]}, "missing")
    except KeyError:
        return
    raise AssertionError("ratios with an unknown baseline should raise KeyError")
