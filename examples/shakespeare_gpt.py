"""A character-level GPT on tiny Shakespeare: nanoGPT's published CPU configuration.

4 layers, 4 heads, 128 wide, block 64, batch 12, no dropout, no biases; weights N(0, 0.02) with the
residual projections scaled by 1/sqrt(2 n_layer); AdamW (betas 0.9, 0.99; weight decay 0.1 on
matrices and embeddings, none on LayerNorm), lr warmed up over 100 iterations to 1e-3, then cosine
to 1e-4; gradients clipped at 1.0. Prints train and validation loss every 250 iterations (on
--eval-batches batches each), tokens/s and wall time, writes a run with attention probes, and
samples text at the end.

    python examples/shakespeare_gpt.py --data /work/shared/data/tinyshakespeare.txt [--iters 3000]
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np
from common import arg, parse_config  # noqa: E402

import tinytorch as tt
from tinytorch.models import GPT, GPTConfig
from tinytorch.text import TinyShakespeare


@dataclass
class Config:
    data: str = arg("", "the corpus file (default: looked up under $TINYTORCH_DATA or downloaded with --download)")
    download: bool = arg(False, "download the corpus if it is not found")
    iters: int = arg(2000, "training iterations (the cosine decay spans them all)")
    batch_size: int = arg(12, "sequences per batch")
    block_size: int = arg(64, "context length")
    n_layer: int = arg(4, "transformer blocks")
    n_head: int = arg(4, "attention heads")
    n_embd: int = arg(128, "model width")
    lr: float = arg(1e-3, "peak learning rate")
    min_lr: float = arg(1e-4, "learning rate at the end of the cosine")
    warmup: int = arg(100, "warm-up iterations")
    weight_decay: float = arg(0.1, "AdamW weight decay on matrices and embeddings")
    eval_every: int = arg(250, "evaluate every this many iterations")
    eval_batches: int = arg(200, "validation (and train) batches per evaluation")
    seed: int = arg(1337, "seed")
    run: str = arg("runs/shakespeare-gpt", "where the inspector's run goes ('' for none)")
    checkpoint: str = arg("checkpoints/shakespeare_gpt.npz", "checkpoint path ('' for none)")
    sample: int = arg(500, "characters to generate at the end")


def lr_at(it: int, c: Config) -> float:
    """Linear warm-up to lr, then cosine down to min_lr at the last iteration (nanoGPT's schedule)."""
    if it < c.warmup:
        return c.lr * (it + 1) / c.warmup
    progress = min(1.0, (it - c.warmup) / max(1, c.iters - c.warmup))
    return c.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (c.lr - c.min_lr)


@tt.no_grad()
def estimate_loss(model: GPT, corpus: TinyShakespeare, c: Config, rng: np.random.Generator) -> dict[str, float]:
    model.eval()
    out = {}
    for split in ("train", "val"):
        losses = [model(*corpus.get_batch(split, c.batch_size, c.block_size, rng))[1].item() for _ in range(c.eval_batches)]
        out[split] = float(np.mean(losses))
    model.train()
    return out


def train(c: Config) -> dict[str, float]:
    start = time.perf_counter()
    tt.manual_seed(c.seed)
    corpus = TinyShakespeare(path=c.data or None, download=c.download)
    config = GPTConfig(vocab_size=corpus.vocab_size, block_size=c.block_size, n_layer=c.n_layer, n_head=c.n_head, n_embd=c.n_embd,
                       dropout=0.0, bias=False)  # fmt: skip
    model = GPT(config)
    print(
        f"{model.num_params():,} parameters; {len(corpus.train_data):,} training and {len(corpus.val_data):,} validation characters"
    )
    decay = [p for p in model.parameters() if p.ndim >= 2]  # matrices and embeddings
    no_decay = [p for p in model.parameters() if p.ndim < 2]  # LayerNorm weights
    opt = tt.optim.AdamW([{"params": decay, "weight_decay": c.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                         lr=c.lr, betas=(0.9, 0.99))  # fmt: skip
    probe_text = corpus.text[: c.block_size]
    probe = tt.tensor(np.array(corpus.tokenizer.encode(probe_text))[None])
    run = None
    if c.run:
        run = tt.record(c.run, model=model, optimizer=opt, trace_steps=(0, 1), probe=probe, probe_every=100,
                        probe_tokens=list(probe_text), config={"model": str(config), "optimizer": "AdamW", "iters": c.iters})  # fmt: skip
    eval_rng = np.random.default_rng(c.seed + 1)
    tokens, train_time, result = 0, 0.0, {}
    try:
        for it in range(c.iters + 1):
            if it % c.eval_every == 0 or it == c.iters:
                with tt.record.paused():  # the evaluation batches are not part of a training step
                    losses = estimate_loss(model, corpus, c, eval_rng)
                rate = tokens / train_time if train_time else 0.0
                print(
                    f"iter {it:5d}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}, {rate:,.0f} tokens/s",
                    flush=True,
                )
                if run is not None:
                    run.log("val/loss", losses["val"], step=max(0, it - 1))
                    run.log("train/eval_loss", losses["train"], step=max(0, it - 1))
                result = {"train_loss": losses["train"], "val_loss": losses["val"]}
            if it == c.iters:
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(it, c)
            t0 = time.perf_counter()
            x, y = corpus.get_batch("train", c.batch_size, c.block_size)
            _, loss = model(x, y)
            opt.zero_grad()
            loss.backward()
            tt.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            train_time += time.perf_counter() - t0
            tokens += x.numel()
            if run is not None:
                run.step(loss)
    finally:
        if run is not None:
            run.close()
    if c.checkpoint:
        tt.train.save_checkpoint(c.checkpoint, model, opt, step=c.iters, extra={"config": vars(c)})
    sample = model.generate(tt.tensor([corpus.tokenizer.encode("\n")]), c.sample, temperature=0.8, top_k=40)
    print("--- sample ---\n" + corpus.tokenizer.decode(sample.data[0]) + "\n--------------")
    wall = time.perf_counter() - start
    result.update(tokens_per_s=tokens / train_time, train_s=train_time, wall_s=wall)
    print(f"final: val loss {result['val_loss']:.4f} (train {result['train_loss']:.4f}) after {c.iters} iterations, "
          f"{result['tokens_per_s']:,.0f} tokens/s, training {train_time:.0f} s, wall time {wall:.0f} s")  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> dict[str, float]:
    return train(parse_config(Config, __doc__, argv))


if __name__ == "__main__":
    main(sys.argv[1:])
