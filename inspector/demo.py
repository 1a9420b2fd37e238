"""The demo: four small trainings that make every page of the inspector meaningful, each in a
background process writing a run (no download needed).

    spirals-sgd, spirals-adam   an MLP on two spirals with SGD and with Adam (Compare: Adam's
                                optimizer state is 2x the parameters, SGD's none)
    exploding                   the same MLP initialised twice too large, trained by SGD with a
                                learning rate far too large (Gradients: the exploding and NaN
                                alerts; Graph: the op where the first NaN appeared)
    tiny-transformer            a character-level transformer on a short built-in text (Attention)

    python -m inspector.demo NAME LOGDIR [--steps N] [--pace SECONDS]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn
from tinytorch.datasets import spirals

RUNS = ("spirals-sgd", "spirals-adam", "exploding", "tiny-transformer")

# Shakespeare's Sonnet 18 (public domain): a corpus small enough to ship and learn from quickly.
TEXT = """Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance or nature's changing course untrimm'd;
But thy eternal summer shall not fade,
Nor lose possession of that fair thou ow'st;
Nor shall death brag thou wander'st in his shade,
When in eternal lines to time thou grow'st:
So long as men can breathe or eyes can see,
So long lives this, and this gives life to thee.
"""


def start(logdir: str | Path, steps: int | None = None, pace: float | None = None) -> list[subprocess.Popen]:
    """Start every demo training in its own process, writing runs under logdir."""
    procs = []
    for name in RUNS:
        cmd = [sys.executable, "-m", "inspector.demo", name, str(logdir)]
        if steps is not None:
            cmd += ["--steps", str(steps)]
        if pace is not None:
            cmd += ["--pace", str(pace)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    return procs


def spirals_mlp(logdir: Path, name: str, steps: int, pace: float) -> None:
    """An MLP 2-64-64-2 on two spirals. `exploding`: weights twice PyTorch's init, a squared-error
    loss on one-hot targets and SGD with lr 0.5: the gradients grow for a few steps, then NaN."""
    tt.manual_seed(0)
    data = spirals(n=1024, noise=0.1, seed=0)
    x, y = tt.tensor(data.data), tt.tensor(data.targets)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    exploding = name == "exploding"
    if exploding:
        with tt.no_grad():
            for p in model.parameters():
                p.mul_(2.0)
    if name == "spirals-adam":
        opt = tt.optim.Adam(model.parameters(), lr=0.01)
    else:
        opt = tt.optim.SGD(model.parameters(), lr=0.5 if exploding else 0.1)
    config = {"model": "MLP 2-64-64-2", "optimizer": repr(opt).split(" ")[0], "data": "two spirals (1024 points)", "batch": 64}
    rng = np.random.default_rng(0)
    # every=1: all gradient statistics at every step (the default takes them every 20th; for a model this small they cost nothing)
    with tt.record(logdir / name, model=model, optimizer=opt, every=1, trace_steps=(0, 1, 2),
                   anomaly="warn" if exploding else None, config=config) as run:  # fmt: skip
        for step in range(steps):
            idx = rng.integers(0, len(y), 64)
            if exploding:
                loss = F.mse_loss(model(x[idx]), F.one_hot(y[idx], 2).float() * 10)
            else:
                loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.step(loss)
            if step % 50 == 49:
                with tt.no_grad(), run.paused():  # evaluation is no part of the next step
                    run.log("val/accuracy", float((model(x).argmax(1) == y).data.mean()), step=step)
            time.sleep(pace)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention from primitives; it hands its weights to the recorder."""

    def __init__(self, dim: int, heads: int, block: int) -> None:
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.register_buffer("mask", tt.tensor(np.tril(np.ones((block, block), bool))), persistent=False)

    def forward(self, x: tt.Tensor) -> tt.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # 3 x (B, nh, T, hs)
        att = (q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5  # (B, nh, T, T)
        att = att.masked_fill(~self.mask[:t, :t], float("-inf")).softmax(-1)
        tt.record.attention(att)
        return self.proj((att @ v).transpose(1, 2).reshape(b, t, d))  # (B, nh, T, hs) -> (B, T, C)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, block: int) -> None:
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(dim), CausalSelfAttention(dim, heads, block)
        self.ln2, self.mlp = nn.LayerNorm(dim), nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: tt.Tensor) -> tt.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyTransformer(nn.Module):
    def __init__(self, vocab: int, dim: int = 48, heads: int = 4, layers: int = 2, block: int = 32) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, dim), nn.Embedding(block, dim)
        self.blocks = nn.ModuleList([Block(dim, heads, block) for _ in range(layers)])
        self.ln, self.head = nn.LayerNorm(dim), nn.Linear(dim, vocab)

    def forward(self, idx: tt.Tensor) -> tt.Tensor:
        x = self.tok(idx) + self.pos(tt.arange(idx.shape[1]))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))  # (B, T, vocab)


def tiny_transformer(logdir: Path, steps: int, pace: float) -> None:
    tt.manual_seed(0)
    chars = sorted(set(TEXT))
    data = np.array([chars.index(c) for c in TEXT], np.int64)
    block, batch = 32, 16
    model = TinyTransformer(len(chars), block=block)
    opt = tt.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    prompt = TEXT[:block]
    probe = tt.tensor(data[None, :block])
    config = {
        "model": "2-layer transformer, 4 heads, d=48",
        "optimizer": "AdamW",
        "data": "Sonnet 18, characters",
        "block": block,
    }
    rng = np.random.default_rng(0)
    with tt.record(logdir / "tiny-transformer", model=model, optimizer=opt, every=1, trace_steps=(0, 1), probe=probe, probe_every=25,
                   probe_tokens=list(prompt), config=config) as run:  # fmt: skip
        for _ in range(steps):
            starts = rng.integers(0, len(data) - block - 1, batch)
            x = tt.tensor(np.stack([data[s : s + block] for s in starts]))
            y = tt.tensor(np.stack([data[s + 1 : s + block + 1] for s in starts]))
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))  # (B*T, vocab) vs (B*T,)
            opt.zero_grad()
            loss.backward()
            tt.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            run.step(loss)
            time.sleep(pace)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=RUNS)
    p.add_argument("logdir", type=Path)
    p.add_argument("--steps", type=int, default=None, help="training steps (default: 1500 for the MLPs, 600 for the transformer)")
    p.add_argument("--pace", type=float, default=0.03, help="seconds to wait after each step, so the training can be watched")
    args = p.parse_args(argv)
    if args.name == "tiny-transformer":
        tiny_transformer(args.logdir, args.steps or 600, args.pace)
    else:
        spirals_mlp(args.logdir, args.name, args.steps or (60 if args.name == "exploding" else 1500), args.pace)


if __name__ == "__main__":
    main()
