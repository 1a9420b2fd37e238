"""Framework core: an MLP 3072-512-256-10 training step (batch 128, cross-entropy) in tinytorch
and in PyTorch CPU, same threads, one process, as a throughput ratio; and the cost of one
Function.apply on tiny tensors with nothing recording.

    python benchmarks/bench_core.py [--threads 2] [--rounds 7] [--steps 10]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

args = common.parser(__doc__).parse_args()
common.pin_threads(args.threads)

import timeit  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tinytorch as tt  # noqa: E402
import tinytorch.nn.functional as F  # noqa: E402
from tinytorch import nn  # noqa: E402

torch.set_num_threads(args.threads)
SIZES, BATCH = (3072, 512, 256, 10), 128


def mlp_pair():
    torch_model = torch.nn.Sequential(
        torch.nn.Linear(3072, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
    )
    model = nn.Sequential(nn.Linear(3072, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    model.load_state_dict({k: v.detach().numpy().copy() for k, v in torch_model.state_dict().items()})
    return model, torch_model


def step_fns(make_opt, make_torch_opt):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    model, torch_model = mlp_pair()
    opt, topt = make_opt(model.parameters()), make_torch_opt(torch_model.parameters())
    xt, yt = tt.tensor(x), tt.tensor(y)
    xtorch, ytorch = torch.from_numpy(x), torch.from_numpy(y)

    def ours():
        loss = F.cross_entropy(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def theirs():
        loss = torch.nn.functional.cross_entropy(torch_model(xtorch), ytorch)
        topt.zero_grad()
        loss.backward()
        topt.step()

    return {"tinytorch": ours, "torch": theirs}


def apply_cost_ns() -> dict[str, float]:
    """Median over 5 repeats of one Add on two 1-element tensors (no grad, and with grad)."""
    a, b = tt.ones(1), tt.ones(1)
    ag = tt.ones(1, requires_grad=True)
    out = {}
    for name, stmt in [("add_no_grad", lambda: a + b), ("add_with_grad", lambda: ag + b),
                       ("apply_direct", lambda: tt.ops.elementwise.Add.apply(a, b))]:  # fmt: skip
        n = 100_000
        out[name] = 1e9 * min(timeit.repeat(stmt, number=n, repeat=5)) / n
    return out


def main() -> None:
    results = {
        "threads": args.threads,
        "rounds": args.rounds,
        "steps": args.steps,
        "numpy": np.__version__,
        "torch": torch.__version__,
    }
    configs = {
        "sgd_momentum": (lambda p: tt.optim.SGD(p, lr=0.01, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
        "adam": (lambda p: tt.optim.Adam(p, lr=1e-3), lambda p: torch.optim.Adam(p, lr=1e-3)),
    }
    for name, (ours, theirs) in configs.items():
        times = common.alternate(step_fns(ours, theirs), args.rounds, args.steps)
        results[name] = common.ratio_summary(times, "tinytorch", "torch")
        r = results[name]
        print(f"MLP 3072-512-256-10 b{BATCH} {name:13s}: tinytorch {r['tinytorch_ms_median']:.2f} ms/step, "
              f"torch {r['torch_ms_median']:.2f} ms/step, throughput ratio {r['ratio_median']:.2f}x "
              f"(rounds {r['ratio_min']:.2f}-{r['ratio_max']:.2f})")  # fmt: skip
    results["apply_ns"] = apply_cost_ns()
    for k, v in results["apply_ns"].items():
        print(f"Function.apply cost, {k}: {v:.0f} ns")
    common.write_json(args.json, results)


if __name__ == "__main__":
    main()
