"""Language: training tokens per second of the tiny-Shakespeare GPT (4 layers, 4 heads, 128 wide,
block 64, batch 12, no biases, AdamW) in tinytorch against the same model in PyTorch CPU, one
process, same threads; and the KV cache's speed-up for generating 200 tokens.

    python benchmarks/bench_gpt.py [--threads 2] [--rounds 5] [--steps 5]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import common  # noqa: E402

args = common.parser(__doc__).parse_args()
common.pin_threads(args.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import tinytorch as tt  # noqa: E402
from benchmarks.torch_reference import TorchGPT  # noqa: E402
from tinytorch.models import GPT, GPTConfig  # noqa: E402

torch.set_num_threads(args.threads)
CONFIG = GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=False)
BATCH = 12


def step_fns():
    tt.manual_seed(0)
    ours = GPT(CONFIG)
    theirs = TorchGPT(CONFIG)
    theirs.load_state_dict({k: torch.tensor(v.data) for k, v in ours.state_dict().items()})
    opt = tt.optim.AdamW(ours.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    topt = torch.optim.AdamW(theirs.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 65, (BATCH, CONFIG.block_size))
    y = rng.integers(0, 65, (BATCH, CONFIG.block_size))
    xt, yt, xr, yr = tt.tensor(x), tt.tensor(y), torch.tensor(x), torch.tensor(y)

    def ours_step():
        _, loss = ours(xt, yt)
        opt.zero_grad()
        loss.backward()
        tt.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
        opt.step()

    def theirs_step():
        logits = theirs(xr)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 65), yr.reshape(-1))
        topt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        topt.step()

    return {"tinytorch": ours_step, "torch": theirs_step}


def kv_cache_speedup(new_tokens: int = 200) -> dict:
    """Generation time of 200 tokens with and without the cache (a block of 256 holds them all)."""
    tt.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=65, block_size=256, n_layer=4, n_head=4, n_embd=128))
    prompt = tt.tensor([[0]])
    out = {}
    for use_cache in (True, False, True, False):
        start = time.perf_counter()
        model.generate(prompt, new_tokens, use_cache=use_cache, generator=np.random.default_rng(0))
        out.setdefault("cached" if use_cache else "uncached", []).append(time.perf_counter() - start)
    cached, uncached = min(out["cached"]), min(out["uncached"])
    return {"tokens": new_tokens, "cached_s": cached, "uncached_s": uncached, "speedup": uncached / cached}


def main() -> None:
    times = common.alternate(step_fns(), args.rounds, args.steps)
    r = common.ratio_summary(times, "tinytorch", "torch")
    tokens = BATCH * CONFIG.block_size
    print(f"GPT 4x128 block 64 batch 12: tinytorch {tokens / r['tinytorch_ms_median'] * 1e3:,.0f} tokens/s "
          f"({r['tinytorch_ms_median']:.1f} ms/step), torch {tokens / r['torch_ms_median'] * 1e3:,.0f} tokens/s "
          f"({r['torch_ms_median']:.1f} ms/step): ratio {r['ratio_median']:.2f}x (rounds {r['ratio_min']:.2f}-{r['ratio_max']:.2f}; goal >= 0.6)")  # fmt: skip
    kv = kv_cache_speedup()
    print(
        f"generate {kv['tokens']} tokens: with KV cache {kv['cached_s']:.2f} s, without {kv['uncached_s']:.2f} s: {kv['speedup']:.1f}x faster"
    )
    common.write_json(args.json, {"train": r, "kv_cache": kv})


if __name__ == "__main__":
    main()
