"""Vision: training-step throughput of LeNet-5 and of the modern CNN (batch 128, 3x32x32,
cross-entropy, SGD momentum) in tinytorch against PyTorch CPU, same threads, one process.

    python benchmarks/bench_vision.py [--threads 2] [--rounds 5] [--steps 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

args = common.parser(__doc__).parse_args()
common.pin_threads(args.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tinytorch as tt  # noqa: E402
import tinytorch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
BATCH = 128


def lenet5(nn):
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def modern_cnn(nn):
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(
        *block(3, 32), *block(32, 64), *block(64, 128), nn.Flatten(), nn.Linear(2048, 256), nn.ReLU(), nn.Linear(256, 10)
    )


def step_fns(build):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, BATCH)
    theirs_model, ours_model = build(torch.nn), build(tt.nn)
    ours_model.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs_model.state_dict().items()})
    opt = tt.optim.SGD(ours_model.parameters(), lr=0.01, momentum=0.9)
    topt = torch.optim.SGD(theirs_model.parameters(), lr=0.01, momentum=0.9)
    xt, yt, xtorch, ytorch = tt.tensor(x), tt.tensor(y), torch.from_numpy(x), torch.from_numpy(y)

    def ours():
        loss = F.cross_entropy(ours_model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def theirs():
        loss = torch.nn.functional.cross_entropy(theirs_model(xtorch), ytorch)
        topt.zero_grad()
        loss.backward()
        topt.step()

    return {"tinytorch": ours, "torch": theirs}


def main() -> None:
    results = {"threads": args.threads, "rounds": args.rounds, "steps": args.steps, "batch": BATCH}
    goals = {"lenet5": 0.35, "modern_cnn": 0.5}
    for name, build in (("lenet5", lenet5), ("modern_cnn", modern_cnn)):
        r = common.ratio_summary(common.alternate(step_fns(build), args.rounds, args.steps), "tinytorch", "torch")
        results[name] = r
        print(f"{name:10s} b{BATCH}: tinytorch {r['tinytorch_ms_median']:.1f} ms/step, torch {r['torch_ms_median']:.1f} ms/step, "
              f"throughput ratio {r['ratio_median']:.2f}x (rounds {r['ratio_min']:.2f}-{r['ratio_max']:.2f}; goal >= {goals[name]})")  # fmt: skip
    common.write_json(args.json, results)


if __name__ == "__main__":
    main()
