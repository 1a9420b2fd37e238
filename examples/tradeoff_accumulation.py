"""Gradient accumulation against one big batch, measured on the Fashion-MNIST MLP (784-256-128-10).

The same effective batch two ways: one step on a batch of 256, or 4 micro-batches of 64 whose
gradients add up in .grad (each micro-batch loss divided by 4, one optimizer step). Both start
from the same weights and see the same images. Measured:

- memory of the step, from the recorder's traced step: the step's buffer events replayed, the
  event with the most live bytes, its bytes by category, and the activation category's own peak;
- step time, the two variants timed in alternating rounds (tinytorch.perf.compare), with the
  spread of the rounds;
- the update: the largest difference between the two models' parameters after the first step
  (the MLP has no batch-dependent layer, so only float rounding may separate them).

Two runs go to --logdir (accumulation-batch256, accumulation-4x64) for the inspector's Memory and
Compare pages.

    python examples/tradeoff_accumulation.py [--data ROOT] [--batch-size 256] [--accumulate 4] [--logdir runs]
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from common import arg, channel_stats, parse_config
from fashion_mnist import mlp  # the milestone's 784-256-128-10

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.runs import RunReader
from tinytorch.runs.schema import CATEGORIES

Batches = Callable[[int, int], tuple[tt.Tensor, tt.Tensor]]


@dataclass
class Config:
    data: str | None = arg(None, "Fashion-MNIST root; None: $TINYTORCH_DATA, else the known local copies", type=str)
    batch_size: int = arg(256, "the effective batch (one step of this size)")
    accumulate: int = arg(4, "micro-batches per optimizer step (batch_size / accumulate images each)")
    steps: int = arg(20, "optimizer steps per recorded run (step 0 is traced; all run on the same batches)")
    lr: float = arg(0.1, "SGD learning rate")
    rounds: int = arg(7, "timing rounds, the two variants alternating")
    number: int = arg(10, "steps per variant per round (the round's mean is one sample)")
    logdir: str = arg("runs", "folder of the runs")
    seed: int = arg(0, "seed of the initial weights and of the batch order")


def fashion_batches(root: str | None, seed: int = 0) -> Batches:
    """batches(start, stop): training images [start, stop) of a seeded shuffle, as a new float32
    (N, 1, 28, 28) array normalised with the training set's mean and std (as a loader makes it)."""
    from tinytorch.datasets import FashionMNIST

    train = FashionMNIST(root, train=True)
    (mean,), (std,) = channel_stats(train.data)
    order = np.random.default_rng(seed).permutation(len(train.data))

    def batches(start: int, stop: int) -> tuple[tt.Tensor, tt.Tensor]:
        rows = order[np.arange(start, stop) % len(order)]
        x = ((train.data[rows].astype(np.float32) / 255 - mean) / std)[:, None]  # (N, 1, 28, 28)
        return tt.Tensor(x.astype(np.float32)), tt.Tensor(train.targets[rows].astype(np.int64))

    return batches


# ---------------------------------------------------------------------- the two steps


def big_step(model: nn.Module, opt: tt.optim.Optimizer, batches: Batches, start: int, size: int) -> float:
    """One forward and backward on `size` images, one optimizer step."""
    opt.zero_grad()
    x, y = batches(start, start + size)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return float(loss.item())


def accumulated_step(model: nn.Module, opt: tt.optim.Optimizer, batches: Batches, start: int, size: int, k: int) -> float:
    """k forwards and backwards on size/k images each, gradients summed in .grad, one optimizer step.

    Each micro-batch loss is its mean over size/k images divided by k, so the summed gradient is
    the mean over all `size` images: the big batch's gradient."""
    if size % k:
        raise ValueError(f"batch size {size} is not a multiple of accumulate={k}")
    opt.zero_grad()
    m, total = size // k, 0.0
    for i in range(k):
        x, y = batches(start + i * m, start + (i + 1) * m)
        loss = F.cross_entropy(model(x), y) / k
        loss.backward()
        total += float(loss.item())
        del x, y, loss  # this micro-batch and its graph go before the next one is made
    opt.step()
    return total


# ---------------------------------------------------------------------- measuring


def step_memory(run_path: str | Path, step: int = 0) -> dict[str, Any]:
    """Memory of a traced step, replayed from its buffer events: the peak of live bytes
    (`peak`, its `phase`, and `at_peak` by category), each category's own peak (`max`), and
    what is live at the step's end (`end`, by category)."""
    from inspector.figures.memory import peak, replay

    reader = RunReader(run_path)
    try:
        events = reader.memory_events(step)
        totals = reader.memory_totals(step - 1)
    finally:
        reader.close()
    at = peak(events, top=0)
    column_max = replay(events)["totals"].max(axis=0) if len(events.get("kind", ())) else np.zeros(len(CATEGORIES), int)
    return dict(peak=at["peak_bytes"], phase=at["phase"], at_peak=at["by_category"],
                max={c: int(v) for c, v in zip(CATEGORIES, column_max)},
                end=totals[0]["by_category"] if totals else {})  # fmt: skip


def recorded_run(path: Path, model: nn.Module, opt: tt.optim.Optimizer, step: Callable[[int], float], steps: int,
                 config: dict[str, Any], after_first: Callable[[], None] | None = None) -> Path:  # fmt: skip
    """`steps` calls of step(i) recorded into path, step 0 traced; after_first() runs after step 0."""
    with tt.record(path, model=model, optimizer=opt, trace_steps=(0,), config=config) as run:
        for i in range(steps):
            run.step(step(i))
            if i == 0 and after_first is not None:
                after_first()
    return run.path


def measure(cfg: Config, batches: Batches | None = None) -> dict[str, Any]:
    """Both variants from the same weights on the same batches: memory, parameters, step time."""
    batches = batches or fashion_batches(cfg.data, cfg.seed)
    n, k = cfg.batch_size, cfg.accumulate
    tt.manual_seed(cfg.seed)
    models = {"big": mlp(), "acc": mlp()}
    models["acc"].load_state_dict(models["big"].state_dict())  # the same starting weights
    opts = {name: tt.optim.SGD(m.parameters(), lr=cfg.lr) for name, m in models.items()}
    steps = {
        "big": lambda i: big_step(models["big"], opts["big"], batches, i * n, n),
        "acc": lambda i: accumulated_step(models["acc"], opts["acc"], batches, i * n, n, k),
    }
    after_one: dict[str, list[np.ndarray]] = {}  # each model's parameters after its first step

    def snapshot(key: str) -> Callable[[], None]:
        return lambda: after_one.update({key: [p.data.copy() for p in models[key].parameters()]})

    names = {"big": f"batch {n}", "acc": f"{k} x {n // k} accumulated"}
    runs, memory = {}, {}
    for key, run_name in (("big", f"accumulation-batch{n}"), ("acc", f"accumulation-{k}x{n // k}")):
        config = dict(
            variant=names[key], batch_size=n, accumulate=k if key == "acc" else 1, lr=cfg.lr, model="MLP 784-256-128-10"
        )
        runs[key] = recorded_run(
            Path(cfg.logdir) / run_name, models[key], opts[key], steps[key], cfg.steps, config, snapshot(key)
        )
        memory[key] = step_memory(runs[key], 0)
    first = max(float(np.abs(a - b).max()) for a, b in zip(after_one["big"], after_one["acc"]))
    last = max(float(np.abs(a.data - b.data).max()) for a, b in zip(models["big"].parameters(), models["acc"].parameters()))
    report = tt.perf.compare(
        {names["big"]: lambda: steps["big"](0), names["acc"]: lambda: steps["acc"](0)},
        baseline=names["big"], rounds=cfg.rounds, number=cfg.number, warmup=1,
    )  # fmt: skip
    return dict(names=names, memory=memory, runs=runs, max_param_diff_first=first, max_param_diff_last=last,
                timing=report, steps=cfg.steps)  # fmt: skip


# ---------------------------------------------------------------------- the table


def threads_note() -> str:
    """Timings depend on the BLAS threads: say which were asked for (set before Python starts)."""
    asked = {v: os.environ[v] for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS") if v in os.environ}
    return "BLAS threads: " + (
        ", ".join(f"{k}={v}" for k, v in asked.items()) or f"the library's default ({os.cpu_count()} CPUs)"
    )


def kb(n: int | float) -> str:
    return f"{n / 1024:,.0f} KB" if n >= 1024 or n == 0 else f"{n:.0f} B"


def table(result: dict[str, Any]) -> str:
    """A Markdown table: the peak and its make-up, the activation peak, and the step time."""
    rows = ["| variant | peak live | at the peak: parameter | gradient | activation | temporary | input | activation peak | step time (median, IQR) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    t = result["timing"]
    for key in ("big", "acc"):
        m, time = result["memory"][key], t[result["names"][key]].time
        at = m["at_peak"]
        cells = [kb(at.get(c, 0)) for c in ("parameter", "gradient", "activation", "temporary", "input")]
        rows.append(f"| {result['names'][key]} | {kb(m['peak'])} | " + " | ".join(cells) +
                    f" | {kb(m['max']['activation'])} | {1e3 * time.median:.1f} ms ({1e3 * time.iqr:.1f}) |")  # fmt: skip
    big, acc = result["memory"]["big"], result["memory"]["acc"]
    ratio = t[result["names"]["acc"]].ratio
    lines = [
        "\n".join(rows),
        "",
        f"accumulation / big batch: peak {acc['peak'] / big['peak']:.2f}x, activation peak "
        f"{acc['max']['activation'] / max(1, big['max']['activation']):.2f}x, throughput {ratio.median:.2f}x "
        f"(per round {min(ratio.samples):.2f}-{max(ratio.samples):.2f}; {t.rounds} alternating rounds of {t.number} steps)",
        "at the peak, 'temporary' holds a gradient just computed (before it lands in .grad) and other op outputs",
        f"largest parameter difference after the first step: {result['max_param_diff_first']:.3g} "
        f"(after {result['steps']} steps: {result['max_param_diff_last']:.3g})",
        threads_note(),
        f"runs: {result['runs']['big']} and {result['runs']['acc']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    cfg = parse_config(Config, __doc__, argv)
    result = measure(cfg)
    print(table(result), flush=True)
    return result


if __name__ == "__main__":
    main()
