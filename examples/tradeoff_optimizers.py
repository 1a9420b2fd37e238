"""What an optimizer costs in memory, measured: SGD, SGD with momentum, Adam and AdamW on the same
model (the Fashion-MNIST MLP, 784-256-128-10), the same starting weights and the same batches.

Each optimizer trains --steps steps in its own run under --logdir (optimizers-sgd,
optimizers-sgd-momentum, optimizers-adam, optimizers-adamw), the first step traced. The memory by
category at the end of that first step comes from the recorder: parameters P, gradients P, and the
optimizer's state, allocated at its first step (PyTorch's rule): none for plain SGD, one
parameter-sized buffer for momentum, two (first and second moments) for Adam and AdamW. The
script prints the measured ratios; the inspector's Compare page puts any two of the runs side by
side against those predictions, with their loss curves.

    python examples/tradeoff_optimizers.py [--data ROOT] [--steps 100] [--logdir runs]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import arg, parse_config
from fashion_mnist import mlp
from tradeoff_accumulation import Batches, big_step, fashion_batches, kb, step_memory

import tinytorch as tt
from tinytorch import nn

OPTIMIZERS: dict[str, Callable[[nn.Module], tt.optim.Optimizer]] = {
    "sgd": lambda m: tt.optim.SGD(m.parameters(), lr=0.05),
    "sgd-momentum": lambda m: tt.optim.SGD(m.parameters(), lr=0.05, momentum=0.9),
    "adam": lambda m: tt.optim.Adam(m.parameters(), lr=1e-3),
    "adamw": lambda m: tt.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01),
}
EXPECTED = {"sgd": 0, "sgd-momentum": 1, "adam": 2, "adamw": 2}  # parameter-sized state buffers


@dataclass
class Config:
    data: str | None = arg(None, "Fashion-MNIST root; None: $TINYTORCH_DATA, else the known local copies", type=str)
    optimizers: str = arg(",".join(OPTIMIZERS), f"which, comma-separated, from {', '.join(OPTIMIZERS)}")
    batch_size: int = arg(128, "batch size")
    steps: int = arg(100, "training steps per run (the first traced)")
    logdir: str = arg("runs", "folder of the runs")
    seed: int = arg(0, "seed of the weights and of the batch order")


def run_one(name: str, init: dict[str, Any], batches: Batches, cfg: Config) -> dict[str, Any]:
    """Train from `init` with optimizer `name`, recorded; memory at the end of the traced first step."""
    model = mlp()
    model.load_state_dict(init)
    opt = OPTIMIZERS[name](model)
    config = dict(optimizer=name, batch_size=cfg.batch_size, model="MLP 784-256-128-10")
    losses = []
    with tt.record(Path(cfg.logdir) / f"optimizers-{name}", model=model, optimizer=opt, trace_steps=(0,), config=config) as run:
        for i in range(cfg.steps):
            losses.append(big_step(model, opt, batches, i * cfg.batch_size, cfg.batch_size))
            run.step(losses[-1])
    return dict(run=run.path, memory=step_memory(run.path, 0), state_nbytes=opt.state_nbytes(), loss=losses)


def measure(cfg: Config, batches: Batches | None = None) -> dict[str, dict[str, Any]]:
    names = [n.strip() for n in cfg.optimizers.split(",") if n.strip()]
    if unknown := set(names) - set(OPTIMIZERS):
        raise ValueError(f"unknown optimizer(s) {sorted(unknown)}; choose from {', '.join(OPTIMIZERS)}")
    batches = batches or fashion_batches(cfg.data, cfg.seed)
    tt.manual_seed(cfg.seed)
    init = {k: v.data.copy() for k, v in mlp().state_dict().items()}  # every run starts here
    return {name: run_one(name, init, batches, cfg) for name in names}


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = ["| optimizer | parameters P | gradients | optimizer state | state / P | expected | total after step 1 | loss: first, last |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, r in results.items():
        end = r["memory"]["end"]
        p, state = end.get("parameter", 0), end.get("optimizer_state", 0)
        total = sum(end.values())
        rows.append(f"| {name} | {kb(p)} | {kb(end.get('gradient', 0))} | {kb(state)} | {state / p:.3f} | {EXPECTED[name]} | "
                    f"{kb(total)} | {r['loss'][0]:.3f}, {r['loss'][-1]:.3f} |")  # fmt: skip
    runs = ", ".join(str(r["run"]) for r in results.values())
    note = "memory live at the end of the traced first step, by category (recorder); expected: state buffers per parameter"
    return "\n".join(rows) + f"\n\n{note}\nruns: {runs}"


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    cfg = parse_config(Config, __doc__, argv)
    results = measure(cfg)
    print(table(results), flush=True)
    return results


if __name__ == "__main__":
    main()
