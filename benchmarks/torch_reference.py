"""PyTorch versions of the models the benchmarks and tests compare against (test oracles only)."""

from __future__ import annotations

import torch


class TorchGPT(torch.nn.Module):
    """nanoGPT's model in PyTorch, with our module names, to check GPT against."""

    def __init__(self, c):
        super().__init__()
        T = torch.nn
        self.c = c
        self.wte, self.wpe = T.Embedding(c.vocab_size, c.n_embd), T.Embedding(c.block_size, c.n_embd)
        self.h = T.ModuleList()
        for _ in range(c.n_layer):
            b = T.Module()
            b.ln_1, b.ln_2 = T.LayerNorm(c.n_embd, bias=c.bias), T.LayerNorm(c.n_embd, bias=c.bias)
            b.attn = T.Module()
            b.attn.c_attn, b.attn.c_proj = (
                T.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias),
                T.Linear(c.n_embd, c.n_embd, bias=c.bias),
            )
            b.mlp = T.Module()
            b.mlp.c_fc, b.mlp.c_proj = (
                T.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias),
                T.Linear(4 * c.n_embd, c.n_embd, bias=c.bias),
            )
            self.h.append(b)
        self.ln_f = T.LayerNorm(c.n_embd, bias=c.bias)
        self.lm_head = T.Linear(c.n_embd, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        b, t = idx.shape
        nh, c = self.c.n_head, self.c.n_embd
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.h:
            q, k, v = blk.attn.c_attn(blk.ln_1(x)).split(c, dim=2)
            q, k, v = (z.view(b, t, nh, c // nh).transpose(1, 2) for z in (q, k, v))
            y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + blk.attn.c_proj(y.transpose(1, 2).reshape(b, t, c))
            x = x + blk.mlp.c_proj(torch.nn.functional.gelu(blk.mlp.c_fc(blk.ln_2(x))))
        return self.lm_head(self.ln_f(x))
