# %% [markdown]
# # Lesson 19 · Benchmarking
#
# "Framework X is 3x slower than framework Y" is a claim about a measurement, and most such claims are
# wrong in the same few ways: one run, no warm-up, an average spoiled by one hiccup, or two
# programs timed minutes apart on a machine whose speed changed in between. This lesson builds the
# harness that avoids those mistakes and uses it on the question of the course: how fast is
# tinytorch against PyTorch on the same work?
#
# - **Build**: percentiles, median and interquartile range by hand; a timer with warm-up, rounds
#   and repeats; variants timed in alternating rounds; per-round throughput ratios. Each is checked
#   on a *fake machine* (a clock that moves only when work runs), exactly, and then against
#   `tinytorch.perf.compare` on the same fake machine.
# - **Use**: one training step of the same small MLP on Fashion-MNIST, tinytorch against PyTorch
#   CPU (same weights, same batch, same process), timed with your harness and with tinytorch's.
#   Without PyTorch, two tinytorch variants (float32 and float64) instead.
# - **Understand**: the noise of this machine measured (the spread of many rounds, how the
#   confidence interval narrows with more rounds), an A/A test under a background load that shows
#   why rounds must alternate, and what the first calls cost.
# - **Reflect**: how to report a speed, and how much to trust it.
#
# Fill in every `raise NotImplementedError()` in the Build part, run the cell, then the check under
# it; `tinytorch check 19` runs every check and more tests.

# %%
import os
import sys

if "numpy" not in sys.modules:  # BLAS fixes its thread count when NumPy loads: one thread, unless you set another
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
THREADS = int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count()))  # NumPy's BLAS threads; PyTorch gets the same

import subprocess
import time

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: fewer rounds and a smaller batch, so the notebook runs in seconds
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### 1. Percentiles, the median and the IQR
#
# Timings are not bell-shaped: a round can only be *slowed* (by another program, an interrupt, a
# page fault), so their distribution has a long tail to the right, and one outlier drags the mean.
# Report the **median** (the middle value) and the **interquartile range** (IQR = Q3 - Q1, the
# width of the middle half) instead.
#
# The `q`-th percentile of `n` samples, as NumPy computes it by default: sort them, go to position
# `(n - 1) * q / 100` (counting from 0), and if it falls between two samples, interpolate linearly
# between them. Write `percentile` by hand (no `np.percentile`, `np.median` or `np.quantile`), then
# `summarize` with it.


# %%
def percentile(samples, q):
    """The q-th percentile (0 <= q <= 100) of the samples, by linear interpolation between ranks."""
    ### BEGIN SOLUTION
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100
    low = int(position)  # position >= 0, so int() rounds down
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    ### END SOLUTION


def summarize(samples):
    """{"median", "q1", "q3", "iqr"} of the samples (seconds per call, one per round)."""
    ### BEGIN SOLUTION
    q1, median, q3 = (percentile(samples, q) for q in (25, 50, 75))
    return {"median": median, "q1": q1, "q3": q3, "iqr": q3 - q1}
    ### END SOLUTION


# %% tags=["check"]
# Check: percentile and summarize agree with NumPy and with tinytorch.perf's Timing
for samples in ([3.0], [2.0, 1.0], [5.0, 1.0, 4.0, 2.0, 3.0], list(rng.exponential(1.0, 10)), list(rng.uniform(0, 1, 7))):
    for q in (0, 10, 25, 50, 75, 90, 100):
        got, want = percentile(samples, q), float(np.percentile(samples, q))
        assert np.isclose(got, want), f"percentile({[round(s, 3) for s in samples]}, {q}) should be {want:.6g}, but is {got}"
    summary, timing = summarize(samples), tt.perf.Timing(list(samples))
    for key, want in (("median", timing.median), ("q1", timing.q1), ("q3", timing.q3), ("iqr", timing.iqr)):
        assert np.isclose(summary[key], want), (
            f"summarize(...)[{key!r}] should be {want:.6g} (as tinytorch's Timing), but is {summary[key]}"
        )
samples = [1.0, 1.1, 0.9, 1.0, 9.0]  # one hiccup
print(
    f"ok: {samples}: mean {np.mean(samples):.2f}, but median {summarize(samples)['median']:.2f} and IQR {summarize(samples)['iqr']:.2f}"
)

# %% [markdown]
# ### 2. Timing one function
#
# `benchmark(fn, rounds, number, warmup, clock)`:
#
# - **warm-up**: call `fn` `warmup` times untimed first: the first calls pay for allocating
#   buffers, filling caches, starting threads, which later calls do not;
# - **rounds**: then `rounds` times, read the clock, call `fn` `number` times, read the clock
#   again, and keep the elapsed time divided by `number` (seconds per call). Repeating within a
#   round makes a round long enough for the clock to measure; the rounds show the noise.
#
# Take the clock as an argument (`time.perf_counter` by default): the checks pass a **fake
# machine** whose clock advances only when its work runs, by amounts they choose, so your timer is
# tested exactly, without timing anything real. (It is given below.)


# %%
class FakeMachine:
    """A pretend computer for testing timers: its clock moves only when one of its tasks runs.

    task(name, cost) makes a function that, when called, logs its name and advances the clock
    by its cost (a number, or a list: one per call, the last repeating), times (1 + drift * now):
    with drift > 0 the machine slows down as time goes on."""

    def __init__(self, drift=0.0):
        self.now, self.drift, self.log = 0.0, drift, []

    def clock(self):
        return self.now

    def task(self, name, cost):
        costs, calls = list(np.atleast_1d(cost)), [0]

        def run():
            self.log.append(name)
            self.now += costs[min(calls[0], len(costs) - 1)] * (1 + self.drift * self.now)
            calls[0] += 1

        return run


# %%
def benchmark(fn, rounds=7, number=1, warmup=2, clock=time.perf_counter):
    """Seconds per call of fn, one value per round, after `warmup` untimed calls."""
    ### BEGIN SOLUTION
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(rounds):
        start = clock()
        for _ in range(number):
            fn()
        samples.append((clock() - start) / number)
    return samples
    ### END SOLUTION


# %% tags=["check"]
# Check: benchmark skips the warm-up calls and gives seconds per call, one per round (on a fake machine)
machine = FakeMachine()
work = machine.task("work", [5.0, 3.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])  # two slow first calls, then faster ones
got = benchmark(work, rounds=3, number=2, warmup=2, clock=machine.clock)
assert len(machine.log) == 8, f"warmup=2, rounds=3, number=2 should call fn 2 + 3 * 2 = 8 times, not {len(machine.log)}"
assert np.allclose(got, [0.15, 0.35, 0.55]), (
    f"the rounds take (0.1 + 0.2) / 2, (0.3 + 0.4) / 2, (0.5 + 0.6) / 2 per call: want [0.15, 0.35, 0.55], got {got}"
)
real = benchmark(lambda: sum(range(100)), rounds=4)
assert len(real) == 4 and all(s >= 0 for s in real), f"with the real clock: 4 non-negative samples, got {real}"
print("ok: warm-up excluded, seconds per call per round:", got)

# %% [markdown]
# ### 3. Variants in alternating rounds
#
# To compare variants, do not time all of A and then all of B: if the machine slows down in
# between (another program starts, the CPU heats up and lowers its clock), B pays for it. Instead,
# warm each variant up (each its `warmup` calls, variant by variant), then in every round time each
# variant once, in order: A, B, A, B, ... Whatever happens to the machine, it happens to both within
# a round.


# %%
def compare_rounds(variants, rounds=7, number=1, warmup=2, clock=time.perf_counter):
    """{name: seconds per call, one per round} for a {name: fn} dict, the variants alternating
    round by round, and the order reversed every other round (going first is no advantage)."""
    ### BEGIN SOLUTION
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in variants}
    order = list(variants.items())
    for r in range(rounds):
        for name, fn in order if r % 2 == 0 else order[::-1]:
            start = clock()
            for _ in range(number):
                fn()
            samples[name].append((clock() - start) / number)
    return samples
    ### END SOLUTION


# %% tags=["check"]
# Check: compare_rounds warms up, then alternates the variants round by round, reversing the order every other round (on a fake machine)
machine = FakeMachine()
got = compare_rounds(
    {"a": machine.task("a", 1.0), "b": machine.task("b", 2.0)}, rounds=3, number=2, warmup=1, clock=machine.clock
)
want_log = ["a", "b"] + ["a", "a", "b", "b"] + ["b", "b", "a", "a"] + ["a", "a", "b", "b"]
assert machine.log == want_log, f"the calls should be made in the order {want_log}, but were {machine.log}"
assert set(got) == {"a", "b"} and np.allclose(got["a"], [1, 1, 1]) and np.allclose(got["b"], [2, 2, 2]), (
    f"want a: [1, 1, 1], b: [2, 2, 2], got {got}"
)
slowing = FakeMachine(drift=0.05)  # B truly costs 2x A; the machine slows as it runs
alternating = compare_rounds({"a": slowing.task("a", 1.0), "b": slowing.task("b", 2.0)}, rounds=5, warmup=0, clock=slowing.clock)
slowing = FakeMachine(drift=0.05)
a_first = benchmark(slowing.task("a", 1.0), rounds=5, warmup=0, clock=slowing.clock)
b_after = benchmark(slowing.task("b", 2.0), rounds=5, warmup=0, clock=slowing.clock)
print(
    f"ok: on a slowing machine, B/A per round alternating: {np.round(np.divide(alternating['b'], alternating['a']), 2)}, one after the other: {np.round(np.divide(b_after, a_first), 2)}"
)

# %% [markdown]
# ### 4. Ratios
#
# The number to report between two variants is a **ratio**, computed *per round* (both times of a
# round saw the same machine) and then summarised like any sample. As a throughput ratio: the
# baseline's time divided by the variant's, so `2` means "twice as fast as the baseline" and `0.5`
# "half as fast". Return one list per variant other than the baseline; raise `KeyError` for a
# baseline that is not a variant. The check then runs tinytorch's harness, `tinytorch.perf.compare`,
# on the same fake machine: your samples, ratios and summaries must be its.


# %%
def ratios(samples, baseline):
    """{name: [baseline's time / name's time, per round]} for every variant but the baseline."""
    ### BEGIN SOLUTION
    if baseline not in samples:
        raise KeyError(f"baseline {baseline!r} is not one of the variants {list(samples)}")
    return {name: [b / t for b, t in zip(samples[baseline], times)] for name, times in samples.items() if name != baseline}
    ### END SOLUTION


# %% tags=["check"]
# Check: ratios are per round, baseline / variant; the harness gives what tinytorch.perf.compare gives
got = ratios({"base": [2.0, 4.0], "fast": [1.0, 1.0], "slow": [4.0, 8.0]}, "base")
assert set(got) == {"fast", "slow"}, f"ratios for every variant but the baseline: want fast and slow, got {sorted(got)}"
assert np.allclose(got["fast"], [2, 4]) and np.allclose(got["slow"], [0.5, 0.5]), (
    f"want fast [2, 4] and slow [0.5, 0.5], got {got}"
)
try:
    ratios({"a": [1.0]}, "b")
except KeyError:
    pass
else:
    raise AssertionError("ratios(samples, 'b') should raise KeyError when there is no variant 'b'")
import tinytorch.perf.bench as bench

mine, theirs = FakeMachine(drift=0.02), FakeMachine(drift=0.02)  # the same machine twice
costs = {"a": [3.0, 1.0, 1.2, 0.9, 1.1], "b": [2.0, 0.5, 0.7, 0.4, 0.6, 0.5]}
samples = compare_rounds({n: mine.task(n, c) for n, c in costs.items()}, rounds=4, number=2, warmup=1, clock=mine.clock)
real_time = bench.time
try:
    bench.time = type("FakeTime", (), {"perf_counter": staticmethod(theirs.clock)})  # tinytorch's harness reads the fake clock
    report = tt.perf.compare({n: theirs.task(n, c) for n, c in costs.items()}, baseline="a", rounds=4, number=2, warmup=1)
finally:
    bench.time = real_time
assert mine.log == theirs.log, f"your calls {mine.log} should be tinytorch's {theirs.log}"
for name in costs:
    assert np.allclose(samples[name], report[name].time.samples), (
        f"{name}: your samples {samples[name]}, tinytorch's {report[name].time.samples}"
    )
    assert np.isclose(summarize(samples[name])["median"], report[name].time.median), (
        f"{name}: your median differs from tinytorch's"
    )
assert np.allclose(ratios(samples, "a")["b"], report["b"].ratio.samples), (
    f"b's ratios: yours {ratios(samples, 'a')['b']}, tinytorch's {report['b'].ratio.samples}"
)
print(
    f"ok: your harness and tinytorch's agree on the fake machine: b/a throughput per round {np.round(report['b'].ratio.samples, 3)}"
)

# %% [markdown]
# ## Use
#
# The question of the course: how fast is a tinytorch training step against PyTorch's, on the same
# work? The work: one SGD step (forward, cross-entropy, backward, update) of a small MLP
# (784 → 128 → 64 → 10) on a batch of Fashion-MNIST images. A fair comparison keeps everything
# else equal: the same weights (copied from PyTorch's model into tinytorch's), the same batch, the
# same process, the same threads, and the variants alternating.

# %%
from tinytorch.datasets import DatasetError, FashionMNIST

try:
    test_set = FashionMNIST(train=False)
    pixels, labels, source = test_set.data[:2048], test_set.targets[:2048], "Fashion-MNIST test images"
except DatasetError as e:
    print(f"Fashion-MNIST is not on this machine, so this lesson uses random images instead.\n  ({e})")
    pixels, labels = rng.integers(0, 256, (2048, 28, 28), dtype=np.uint8), rng.integers(0, 10, 2048)
    source = "random images (Fashion-MNIST not found)"
batch_size = 64 if FAST else 256
x_np = (pixels[:batch_size].reshape(batch_size, -1) / 255).astype(np.float32)  # (B, 784)
y_np = np.asarray(labels[:batch_size], dtype=np.int64)  # (B,)
print(f"{source}: a batch of {batch_size}, x {x_np.shape} {x_np.dtype}, y {y_np.shape}")

try:
    import torch
except ImportError:
    torch = None


def tinytorch_mlp(dtype=tt.float32):
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    return model.to(dtype)


def tinytorch_step(model, dtype=np.float32):
    """One training step of model on the batch, as a function of nothing: what the harness calls."""
    opt = tt.optim.SGD(model.parameters(), lr=0.01)
    x, y = tt.tensor(x_np.astype(dtype)), tt.tensor(y_np)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


if torch is not None:

    def torch_mlp():
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)
        )

    def torch_step(model):
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)

        def step():
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()

        return step

    def same_weights_as_torch():
        model = tinytorch_mlp()
        model.load_state_dict({k: v.detach().numpy().copy() for k, v in torch_mlp().state_dict().items()})
        return model

    make = {"tinytorch": lambda: tinytorch_step(same_weights_as_torch()), "PyTorch": lambda: torch_step(torch_mlp())}
    baseline = "PyTorch"
    torch.set_num_threads(THREADS)  # the same threads as NumPy's BLAS
    print(f"PyTorch {torch.__version__} and NumPy's BLAS, both on {THREADS} thread(s) of {os.cpu_count()} cores")
else:
    print("PyTorch is not installed, so this lesson compares two tinytorch variants instead: float32 against float64.")
    make = {
        "tinytorch float32": lambda: tinytorch_step(tinytorch_mlp()),
        "tinytorch float64": lambda: tinytorch_step(tinytorch_mlp(tt.float64), np.float64),
    }
    baseline = "tinytorch float32"
variants = {name: fn() for name, fn in make.items()}  # {name: a step function}

losses = {name: [step() for _ in range(3)] for name, step in variants.items()}  # also the first warm-up calls
first, second = losses.values()
print("the first three losses:", {name: np.round(v, 6).tolist() for name, v in losses.items()})
assert np.allclose(first, second, rtol=1e-4), "the same weights on the same batch must give the same losses: the work is the same"

# %% [markdown]
# The same work, so now the clock. First your harness, then tinytorch's: each round times a few
# steps of each variant, alternating.

# %%
rounds, number = (7, 3) if FAST else (15, 10)
samples = compare_rounds(variants, rounds=rounds, number=number, warmup=2)
per_round = ratios(samples, baseline)
for name, times in samples.items():
    s = summarize(times)
    line = f"{name:>18}: {1e3 * s['median']:8.3f} ms per step (IQR {1e3 * s['iqr']:.3f} ms)"
    if name in per_round:
        r = per_round[name]
        line += f", {summarize(r)['median']:.2f}x {baseline}'s throughput (rounds {min(r):.2f} to {max(r):.2f})"
    print(line)

report = tt.perf.compare(variants, baseline=baseline, rounds=rounds, number=number, warmup=2, ci=0.95)
print("\ntinytorch.perf.compare, the same variants again:")
print(report.text())
use_ratio = report[next(n for n in variants if n != baseline)].ratio

# %% [markdown]
# ## Understand
#
# ### The noise of this machine
#
# The same step, timed over many rounds of one call each: how much do identical rounds differ? The
# histogram shows each round; the shaded band is the middle half (Q1 to Q3), the lines the median
# and the mean. The spread is the noise
# floor: a difference between two variants smaller than it is not a difference you have measured.

# %%
name = next(iter(variants))  # tinytorch's step
step = variants[name]
many = benchmark(step, rounds=40 if FAST else 200, number=1, warmup=3)
s = summarize(many)
spread = s["iqr"] / s["median"]
print(
    f"{len(many)} rounds of one step: median {1e3 * s['median']:.3f} ms, IQR {1e3 * s['iqr']:.3f} ms ({spread:.1%} of the median)"
)
print(
    f"fastest {1e3 * min(many):.3f} ms, slowest {1e3 * max(many):.3f} ms ({max(many) / min(many):.2f}x), mean {1e3 * np.mean(many):.3f} ms"
)
fig = go.Figure(go.Histogram(x=1e3 * np.asarray(many), nbinsx=40, name="rounds", marker_color="#6baed6"))
fig.add_vrect(x0=1e3 * s["q1"], x1=1e3 * s["q3"], fillcolor="#222", opacity=0.15, line_width=0,
              annotation_text="IQR", annotation_position="top left")  # fmt: skip
fig.add_vline(x=1e3 * s["median"], line_color="#222", annotation_text="median", annotation_position="bottom right")
fig.add_vline(
    x=1e3 * np.mean(many), line_dash="dash", line_color="#d62728", annotation_text="mean", annotation_position="top right"
)
fig.update_layout(title=f"{name}: seconds per step over {len(many)} rounds", xaxis_title="ms per step", yaxis_title="rounds",
                  width=760, height=360, template="plotly_white")  # fmt: skip
fig.show()

# %% [markdown]
# How many rounds are enough? A bootstrap confidence interval for the median
# (`tinytorch.perf.bootstrap_ci`: resample the rounds with replacement, take each resample's
# median) says how far the median could move if you measured again. It narrows as rounds are added;
# here it is computed from the first 5, 10, 20, ... of the rounds above.

# %%
ci_by_rounds = {}
for k in (5, 10, 20, 40, 100, 200):
    if k <= len(many):
        lo, hi = tt.perf.bootstrap_ci(many[:k])
        ci_by_rounds[k] = (lo, hi)
        print(
            f"{k:>4} rounds: median {1e3 * summarize(many[:k])['median']:.3f} ms, 95% interval {1e3 * lo:.3f} to {1e3 * hi:.3f} ms (width {(hi - lo) / s['median']:.1%} of the median)"
        )

# %% [markdown]
# ### Why the rounds alternate: an A/A test under load
#
# Compare a step *with itself*: the true ratio is exactly 1. Time it twice, as "A" and "A again",
# first one after the other (all rounds of A, then all of A again, with your `benchmark`), then
# alternating (your `compare_rounds`). Halfway through each, other programs start and compete for
# the cores: two per core, each a process spinning in a loop. Whatever the load does to the
# machine, the alternating rounds share it; the sequential ones do not.


# %%
class BackgroundLoad:
    """Other programs on the machine: two per core, each a Python process spinning in a loop."""

    def __enter__(self):
        spin = [sys.executable, "-c", "while True: pass"]
        self.programs = [subprocess.Popen(spin) for _ in range(2 * (os.cpu_count() or 1))]
        time.sleep(0.05)  # let them start
        return self

    def __exit__(self, *exc):
        for program in self.programs:  # the processes this block started, and only those
            program.kill()
            program.wait()


half, aa_number = (
    (6, 5) if FAST else (15, 5)
)  # rounds per half, steps per round (a round long enough to average the scheduler's slices)
a_again = {"A": step, "A again": step}
sequential = {"A": benchmark(step, rounds=2 * half, number=aa_number, warmup=2)}  # A, all rounds quiet
with BackgroundLoad():
    sequential["A again"] = benchmark(step, rounds=2 * half, number=aa_number, warmup=2)  # then A again, all rounds loaded
alternating = compare_rounds(a_again, rounds=half, number=aa_number, warmup=2)  # alternating: the first half quiet ...
with BackgroundLoad():
    loaded = compare_rounds(a_again, rounds=half, number=aa_number, warmup=2)  # ... and the second half loaded
alternating = {name: alternating[name] + loaded[name] for name in a_again}
aa_sequential, aa_alternating = ratios(sequential, "A")["A again"], ratios(alternating, "A")["A again"]
load_slowdown = summarize(alternating["A"][half:])["median"] / summarize(alternating["A"][:half])["median"]
print(f"the load slowed a step by {load_slowdown:.2f}x (median of loaded rounds over quiet ones)")
print(
    f"A/A throughput ratio, one after the other: median {summarize(aa_sequential)['median']:.3f} (rounds {min(aa_sequential):.2f} to {max(aa_sequential):.2f})"
)
print(
    f"A/A throughput ratio, alternating:         median {summarize(aa_alternating)['median']:.3f} (rounds {min(aa_alternating):.2f} to {max(aa_alternating):.2f})"
)

fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("one after the other", "alternating"))
fig.add_trace(go.Scatter(y=1e3 * np.asarray(sequential["A"]), name="A", line=dict(color="#1f77b4")), 1, 1)
fig.add_trace(
    go.Scatter(
        x=np.arange(2 * half, 4 * half), y=1e3 * np.asarray(sequential["A again"]), name="A again", line=dict(color="#ff7f0e")
    ),
    1,
    1,
)
fig.add_trace(go.Scatter(y=1e3 * np.asarray(alternating["A"]), name="A", line=dict(color="#1f77b4"), showlegend=False), 1, 2)
fig.add_trace(
    go.Scatter(y=1e3 * np.asarray(alternating["A again"]), name="A again", line=dict(color="#ff7f0e"), showlegend=False), 1, 2
)
fig.add_vrect(x0=2 * half - 0.5, x1=4 * half - 0.5, fillcolor="#fdae6b", opacity=0.3, line_width=0, row=1, col=1)
fig.add_vrect(x0=half - 0.5, x1=2 * half - 0.5, fillcolor="#fdae6b", opacity=0.3, line_width=0, row=1, col=2)
fig.update_xaxes(title_text="round (shaded: the background load runs)")
fig.update_yaxes(title_text="ms per step", row=1, col=1)
fig.update_layout(title="The same step twice (A/A), per-round times", width=880, height=380, template="plotly_white")
fig.show()

# %% [markdown]
# ### What the first calls cost
#
# Warm-up is skipped because the first calls are different. A fresh model and optimizer, its
# first ten steps timed one by one with no warm-up at all:

# %%
first_calls = {}
for name, fresh in make.items():
    times = first_calls[name] = benchmark(fresh(), rounds=10, number=1, warmup=0)
    print(
        f"{name:>18}: first step {1e3 * times[0]:.3f} ms, median of the ten {1e3 * summarize(times)['median']:.3f} ms ({times[0] / summarize(times)['median']:.1f}x)"
    )
fig = go.Figure([go.Scatter(y=1e3 * np.asarray(t), mode="lines+markers", name=name) for name, t in first_calls.items()])
fig.update_layout(title="The first ten steps of a fresh model, no warm-up", xaxis_title="call", yaxis_title="ms", yaxis_type="log",
                  width=700, height=340, template="plotly_white")  # fmt: skip
fig.show()

# %% [markdown]
# ## Reflect
#
# The answers below lean on the lines this cell prints; run the notebook and they are your
# machine's.

# %%
print(
    f"1. {len(many)} identical rounds: IQR {spread:.1%} of the median; slowest/fastest {max(many) / min(many):.2f}x; mean/median {np.mean(many) / s['median']:.3f}"
)
k_small, k_big = min(ci_by_rounds), max(ci_by_rounds)
width = {k: (hi - lo) / s["median"] for k, (lo, hi) in ci_by_rounds.items()}
print(f"   95% interval of the median: {width[k_small]:.1%} of it with {k_small} rounds, {width[k_big]:.1%} with {k_big}")
print(
    f"2. A/A under a load that slowed steps {load_slowdown:.2f}x: sequential ratio {summarize(aa_sequential)['median']:.3f}, alternating {summarize(aa_alternating)['median']:.3f}"
)
other = next(n for n in variants if n != baseline)
print(
    f"3. {other} against {baseline}: {use_ratio.median:.2f}x its throughput, rounds {min(use_ratio.samples):.2f} to {max(use_ratio.samples):.2f}"
)
print(
    "4. first step over the median of the first ten: "
    + ", ".join(f"{n} {t[0] / summarize(t)['median']:.1f}x" for n, t in first_calls.items())
)

# %% [markdown]
# **1. Why report the median and the IQR, and of how many rounds?** Line 1: identical rounds are
# not identical. Interruptions only ever add time, so the slowest round sits far above the
# fastest, and the mean is pulled towards the slow tail (mean over median above one). The median
# ignores a few hiccups; the IQR says how wide the middle half is, which is the resolution of the
# measurement. The minimum is tempting but optimistic: it reports the luckiest round, not what a
# run will see. More rounds buy precision slowly (the interval narrows roughly as one over the
# square root of the count), so report the count with the number.
#
# **2. Why alternate the rounds?** Line 2: the same step against itself should give one. One after
# the other, "A again" ran while the background programs were competing for the cores, so the ratio
# reports the load, not the code: a made-up difference between two identical programs. Alternating,
# every round of A has a round of "A again" right beside it under the same conditions, and the
# per-round ratio cancels what they share. Alternating does not remove the noise (the rounds'
# ratios still spread under load); it removes the bias, and the median of many rounds does the
# rest. The machine's speed drifts in real runs too (other programs, the CPU's clock lowering when
# it is hot), so a fair comparison interleaves its variants and reports ratios per round.
#
# **3. What does the tinytorch / PyTorch ratio mean?** Line 3: the throughput of the same training
# step, same weights, same batch, same process, same threads, as a median over rounds with its
# range. The range is part of the answer: a ratio whose rounds spread widely is known only that
# well. Where the time goes the profiler (lesson 14) can show: both frameworks hand the matrix
# products to a BLAS, so what differs is the fixed cost around them, per op: tinytorch runs each op
# through Python (`Function.apply`, a new NumPy array per result), PyTorch through its C++
# dispatcher and autograd engine, which has a fixed cost of its own. For a small MLP those fixed
# costs are much of the step, so the ratio says more about overhead than about arithmetic; as the
# matrices grow, the BLAS work dominates both and the ratio moves towards one. Without PyTorch the
# same line compares float64 with float32: twice the bytes to move per number.
#
# **4. Why warm up?** Line 4: the first steps of a fresh model pay one-off costs (allocating the
# gradient and optimizer buffers, the memory allocator growing, caches filling, libraries
# initialising lazily). A benchmark of steady-state speed must not average them in; a benchmark of
# start-up time must measure exactly them. Know which question you are asking, and since one first
# call is a single noisy sample, repeat the fresh start before trusting the factor.
