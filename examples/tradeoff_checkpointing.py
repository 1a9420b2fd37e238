"""Gradient checkpointing, measured: activation memory given back for compute spent again.

tinytorch.utils.checkpoint(fn, x) runs fn without keeping its activations (only x is saved) and
runs it again in backward. Two models, each with and without a checkpoint around every block:

- the modern CNN of examples/cnn_cifar10.py on a CIFAR-10 batch: each conv-BN-ReLU-pool block;
- the GPT of examples/shakespeare_gpt.py on a tiny-Shakespeare batch: each TransformerBlock
  (its forward takes (x, cache, layer), so the segment is `lambda x: block(x)`).

Measured for each: the gradients (checkpointing must not change them), the activation peak and
the peak of all live bytes of one traced training step (recorder), the step time (both variants
timed in alternating rounds, tinytorch.perf.compare), and the FLOPs of forward + backward from
tinytorch.perf.profile, whose difference is the forward run again. BatchNorm's running
statistics are updated twice per checkpointed step (as in PyTorch); the gradients are not
affected. Runs go to --logdir (checkpointing-{cnn,gpt}-{plain,checkpointed}).

    python examples/tradeoff_checkpointing.py --data /work/data --text /work/shared/data/tinyshakespeare.txt
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cnn_cifar10 import block
from common import arg, parse_config
from tradeoff_accumulation import kb, step_memory, threads_note

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.models import GPT, GPTConfig
from tinytorch.utils import checkpoint

Loss = Callable[[bool], tt.Tensor]  # loss(segments) on a fixed batch: with checkpoints or without


@dataclass
class Config:
    models: str = arg("cnn,gpt", "which models, comma-separated: cnn, gpt")
    data: str | None = arg(None, "CIFAR-10 root (cifar-10-batches-py); None: $TINYTORCH_DATA, else the cache", type=str)
    text: str = arg("", "tiny Shakespeare file; '': looked up under $TINYTORCH_DATA")
    cnn_batch: int = arg(128, "CNN batch size (CIFAR-10 test images)")
    width: int = arg(32, "channels of the CNN's first block (the milestone: 32, then 2x and 4x)")
    gpt_batch: int = arg(12, "GPT sequences per batch")
    block_size: int = arg(64, "GPT context length")
    n_layer: int = arg(4, "GPT blocks")
    n_embd: int = arg(128, "GPT width (4 heads)")
    steps: int = arg(3, "training steps per recorded run (step 0 is traced)")
    rounds: int = arg(9, "timing rounds, the two variants alternating")
    logdir: str = arg("runs", "folder of the runs")
    seed: int = arg(0, "seed")


# ---------------------------------------------------------------------- the models, both ways


def cnn(width: int = 32) -> nn.Module:
    """examples/cnn_cifar10.py's model (width 32 is it): three of its blocks, then the same head."""
    w = width
    return nn.Sequential(block(3, w), block(w, 2 * w), block(2 * w, 4 * w), nn.Flatten(),  # (N, 4w * 4 * 4)
                         nn.Linear(4 * w * 16, 256), nn.ReLU(), nn.Linear(256, 10))  # fmt: skip


def cnn_loss(model: nn.Module, x: tt.Tensor, y: tt.Tensor) -> Loss:
    """The CNN's cross-entropy; with segments, each conv-BN-ReLU-pool block is one checkpoint."""

    def loss(segments: bool) -> tt.Tensor:
        h = x
        for layer in model:
            h = checkpoint(layer, h) if segments and isinstance(layer, nn.Sequential) else layer(h)
        return F.cross_entropy(h, y)

    return loss


def gpt_loss(model: GPT, idx: tt.Tensor, targets: tt.Tensor) -> Loss:
    """The GPT's loss; with segments, GPT.forward's steps with each TransformerBlock one checkpoint."""

    def loss(segments: bool) -> tt.Tensor:
        if not segments:
            return model(idx, targets)[1]
        b, t = idx.shape
        x = model.drop(model.wte(idx) + model.wpe(tt.Tensor(np.arange(t))))  # (B, T, C)
        for layer in model.h:  # TransformerBlock.forward(x, cache, layer): no KV cache in training
            x = checkpoint(lambda h, layer=layer: layer(h), x)  # (B, T, C)
        logits = model.lm_head(model.ln_f(x))  # (B, T, vocab)
        return F.cross_entropy(logits.reshape(b * t, -1), targets.reshape(b * t), ignore_index=-1)

    return loss


def cifar_batch(root: str | None, n: int, seed: int) -> tuple[tt.Tensor, tt.Tensor]:
    """n CIFAR-10 test images (a seeded choice), scaled to [0, 1] and standardised per channel."""
    from tinytorch.datasets import CIFAR10

    test = CIFAR10(root, train=False)
    rows = np.random.default_rng(seed).choice(len(test.data), size=min(n, len(test.data)), replace=False)
    x = test.data[rows].astype(np.float32).transpose(0, 3, 1, 2) / 255  # (N, H, W, C) -> (N, C, H, W)
    x = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / x.std(axis=(0, 2, 3), keepdims=True)
    return tt.Tensor(x.astype(np.float32)), tt.Tensor(np.asarray(test.targets)[rows].astype(np.int64))


def setups(cfg: Config) -> dict[str, tuple[nn.Module, Loss, Callable[[nn.Module], tt.optim.Optimizer]]]:
    """Per model: the model, its loss(segments) on one fixed batch, and its milestone's optimizer."""
    out = {}
    wanted = [m.strip() for m in cfg.models.split(",") if m.strip()]
    if unknown := set(wanted) - {"cnn", "gpt"}:
        raise ValueError(f"unknown model(s) {sorted(unknown)}; choose from cnn, gpt")
    if "cnn" in wanted:
        tt.manual_seed(cfg.seed)
        model = cnn(cfg.width)
        sgd = lambda m: tt.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
        out["cnn"] = (model, cnn_loss(model, *cifar_batch(cfg.data, cfg.cnn_batch, cfg.seed)), sgd)
    if "gpt" in wanted:
        from tinytorch.text import TinyShakespeare

        corpus = TinyShakespeare(path=cfg.text or None)
        tt.manual_seed(cfg.seed)
        model = GPT(GPTConfig(corpus.vocab_size, cfg.block_size, cfg.n_layer, 4, cfg.n_embd, dropout=0.0, bias=False))
        idx, targets = corpus.get_batch("train", cfg.gpt_batch, cfg.block_size, np.random.default_rng(cfg.seed))
        adamw = lambda m: tt.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
        out["gpt"] = (model, gpt_loss(model, idx, targets), adamw)
    return out


# ---------------------------------------------------------------------- measuring


def gradients(model: nn.Module, loss: Loss, segments: bool) -> dict[str, np.ndarray]:
    model.zero_grad()
    loss(segments).backward()
    return {n: p.grad.data.copy() for n, p in model.named_parameters()}


def flops(loss: Loss, segments: bool) -> dict[str, int]:
    """FLOPs of one forward + backward by the profiler's per-op formulas: forward, and the total."""
    with tt.perf.profile() as prof:
        out = loss(segments)
        out.backward()
    return {"forward": sum(e.flops for e in prof.events if e.phase == "forward"), "total": sum(e.flops for e in prof.events)}


def measure_model(name: str, model: nn.Module, loss: Loss, make_opt: Callable, cfg: Config) -> dict[str, Any]:
    """Gradients, memory (recorded runs), FLOPs and step time of one model, without and with checkpoints."""
    state = {k: v.data.copy() for k, v in model.state_dict().items()}
    plain, ckpt = gradients(model, loss, False), gradients(model, loss, True)
    grad_diff = max(float(np.abs(plain[n] - ckpt[n]).max() / (np.abs(plain[n]).max() or 1.0)) for n in plain)
    out: dict[str, Any] = dict(grad_rel_diff=grad_diff, flops={}, memory={}, runs={})
    variants = {"plain": False, "checkpointed": True}
    for variant, segments in variants.items():
        out["flops"][variant] = flops(loss, segments)
        model.load_state_dict(state)  # each run from the same weights
        opt = make_opt(model)

        def step(segments: bool = segments, opt: tt.optim.Optimizer = opt) -> float:
            opt.zero_grad()
            value = loss(segments)
            value.backward()
            opt.step()
            return float(value.item())

        config = dict(model=name, checkpointed=segments)
        with tt.record(
            Path(cfg.logdir) / f"checkpointing-{name}-{variant}", model=model, optimizer=opt, trace_steps=(0,), config=config
        ) as run:
            for _ in range(cfg.steps):
                run.step(step())
        out["runs"][variant], out["memory"][variant] = run.path, step_memory(run.path, 0)
    opt = tt.optim.SGD(model.parameters(), lr=0.0)  # timing: the same work, the weights left as they are

    def timed(segments: bool) -> Callable[[], None]:
        def step() -> None:
            opt.zero_grad()
            loss(segments).backward()
            opt.step()

        return step

    out["timing"] = tt.perf.compare({v: timed(s) for v, s in variants.items()}, baseline="plain", rounds=cfg.rounds, warmup=1)
    return out


def measure(cfg: Config) -> dict[str, dict[str, Any]]:
    return {name: measure_model(name, *setup, cfg) for name, setup in setups(cfg).items()}


# ---------------------------------------------------------------------- the table


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = ["| model | variant | activation peak | peak live | step time (median, IQR) | FLOPs fwd+bwd | max grad diff (rel.) |",
            "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    notes = []
    for name, r in results.items():
        t = r["timing"]
        for variant in ("plain", "checkpointed"):
            m, time = r["memory"][variant], t[variant].time
            diff = "-" if variant == "plain" else f"{r['grad_rel_diff']:.1e}"
            rows.append(f"| {name.upper()} | {variant} | {kb(m['max']['activation'])} | {kb(m['peak'])} | "
                        f"{1e3 * time.median:,.0f} ms ({1e3 * time.iqr:,.0f}) | {r['flops'][variant]['total'] / 1e9:.3f} G | {diff} |")  # fmt: skip
        plain, ckpt = r["memory"]["plain"], r["memory"]["checkpointed"]
        ratio = t["checkpointed"].ratio  # plain time / checkpointed time, per round
        slow = [1 / v for v in ratio.samples]
        extra = r["flops"]["checkpointed"]["total"] - r["flops"]["plain"]["total"]
        notes.append(
            f"{name.upper()}: checkpointing keeps {ckpt['max']['activation'] / plain['max']['activation']:.2f}x the activation "
            f"peak ({ckpt['peak'] / plain['peak']:.2f}x the peak of all live bytes) for {1 / ratio.median:.2f}x the step time "
            f"(per round {min(slow):.2f}-{max(slow):.2f}, {t.rounds} alternating rounds) and {extra / 1e9:.3f} GFLOP more "
            f"(+{100 * extra / r['flops']['plain']['total']:.0f}% of the step's FLOPs, "
            f"{100 * extra / r['flops']['plain']['forward']:.0f}% of its forward)"
        )
    runs = ", ".join(str(p) for r in results.values() for p in r["runs"].values())
    return "\n".join(rows) + "\n\n" + "\n".join(notes) + f"\n{threads_note()}\nruns: {runs}"


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    cfg = parse_config(Config, __doc__, argv)
    results = measure(cfg)
    print(table(results), flush=True)
    return results


if __name__ == "__main__":
    main()
