"""Cost of recording on a training step: a plain step against the same step recorded with the
default statistics (gradient norms and NaN/Inf flags every step, the full set every `every`
steps), with the full set every step (every=1), and traced (every op and buffer), in alternating rounds in one
process, as ratios of step time. --model mlp (the default, the issue's benchmark): 3072-512-256-10,
batch 128, Adam: 1.7 M parameters for a 10 ms step, the statistics' worst case, as they cost
per parameter element. --model gpt: the tiny-Shakespeare GPT (0.8 M parameters), batch 12 x 64,
AdamW, gradients clipped.

    python benchmarks/bench_record.py [--model mlp|gpt] [--threads 2] [--rounds 7] [--steps 10]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

parser = common.parser(__doc__)
parser.add_argument("--model", choices=["mlp", "gpt"], default="mlp")
args = parser.parse_args()
common.pin_threads(args.threads)

import inspect  # noqa: E402
import statistics  # noqa: E402

import numpy as np  # noqa: E402

import tinytorch as tt  # noqa: E402
import tinytorch.nn.functional as F  # noqa: E402
from tinytorch import function, nn  # noqa: E402


def mlp_step():
    rng = np.random.default_rng(0)
    x, y = tt.tensor(rng.standard_normal((128, 3072)).astype(np.float32)), tt.tensor(rng.integers(0, 10, 128))
    model = nn.Sequential(nn.Linear(3072, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = tt.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return model, opt, step


def gpt_step():
    from tinytorch.models import GPT, GPTConfig

    tt.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=False))
    opt = tt.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    rng = np.random.default_rng(0)
    x, y = tt.tensor(rng.integers(0, 65, (12, 64))), tt.tensor(rng.integers(0, 65, (12, 64)))

    def step():
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        tt.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    return model, opt, step


def main() -> None:
    model, opt, step = (mlp_step if args.model == "mlp" else gpt_step)()
    logdir = tempfile.mkdtemp()
    print(f"{args.model}: {sum(p.numel() for p in model.parameters()):,} parameters")

    def recorded(name, **options):
        """The step with its own recorder switched on around it (and off for the other variants)."""
        run = tt.record(f"{logdir}/{name}", model=model, optimizer=opt, **options)
        function._hook = None

        def variant():
            function._hook = run.recorder
            run.step(step())
            function._hook = None

        return run, variant

    runs = {
        "stats": recorded("stats", trace_steps=()),  # the default: norms every step, the full set every `every` steps
        "stats_every_step": recorded("every-step", every=1, trace_steps=()),
        "traced": recorded("trace", trace_steps=lambda s: True),
    }
    variants = {"plain": step, **{name: variant for name, (_, variant) in runs.items()}}
    report = common.alternate(variants, args.rounds, args.steps, baseline="plain")
    results = {}
    for name in runs:
        costs = [1 / r for r in report[name].ratio.samples]  # time with recording / time without, per round
        results[name] = {"ratio_median": statistics.median(costs), "ratio_min": min(costs), "ratio_max": max(costs),
                         "ms_median": 1e3 * report[name].time.median}  # fmt: skip
    plain_ms = 1e3 * report["plain"].time.median
    print(f"plain step {plain_ms:.2f} ms")

    def cost(name):
        r = results[name]
        return (f"{r['ms_median']:.2f} ms, {100 * (r['ratio_median'] - 1):+.1f}% "
                f"(rounds {100 * (r['ratio_min'] - 1):+.1f}% to {100 * (r['ratio_max'] - 1):+.1f}%)")  # fmt: skip

    every = inspect.signature(tt.record).parameters["every"].default
    print(
        f"every-step statistics (norms and NaN/Inf every step, the full set every {every}th: the default): {cost('stats')}; goal <= +5%"
    )
    print(f"the full set every step (every=1): {cost('stats_every_step')}")
    t = results["traced"]
    print(f"traced step: {t['ms_median']:.2f} ms, {t['ratio_median']:.2f}x a plain step "
          f"(rounds {t['ratio_min']:.2f}-{t['ratio_max']:.2f}; goal <= 3x)")  # fmt: skip
    common.write_json(args.json, {"plain_ms": plain_ms, **results})
    for run, _ in runs.values():
        run.close()


if __name__ == "__main__":
    main()
