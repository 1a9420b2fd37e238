"""GPT (nanoGPT's model, read top to bottom): token and position embeddings, n_layer pre-norm
transformer blocks, a final LayerNorm, and an output head tied to the token embedding."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..creation import default_generator
from ..nn import functional as F
from ..nn.transformer import KVCache, TransformerBlock
from ..tensor import Tensor


@dataclass
class GPTConfig:
    vocab_size: int = 65
    block_size: int = 64  # the longest sequence the model sees
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False  # biases in Linear and LayerNorm


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if config.n_embd % config.n_head:
            raise ValueError(f"n_embd {config.n_embd} is not divisible by n_head {config.n_head}")
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embeddings
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # learned positions
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(
            [TransformerBlock(config.n_embd, config.n_head, config.dropout, config.bias) for _ in range(config.n_layer)]
        )
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: one matrix reads and writes tokens
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # residual projections: std 0.02 / sqrt(2 n_layer)
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, 0.02)

    def num_params(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n - self.wpe.weight.numel() if non_embedding else n

    def forward(self, idx: Tensor, targets: Tensor | None = None, cache: KVCache | None = None) -> tuple[Tensor, Tensor | None]:
        """idx (B, T) token ids -> logits (B, T, vocab), and the cross-entropy loss if targets are given.

        With a cache, idx holds only the new positions; earlier ones come from the cache."""
        b, t = idx.shape
        start = cache.length if cache is not None else 0
        if start + t > self.config.block_size:
            raise ValueError(f"sequence of length {start + t} is longer than block_size {self.config.block_size}")
        pos = Tensor(np.arange(start, start + t))
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C) + (T, C)
        for layer, block in enumerate(self.h):
            x = block(x, cache, layer)
        if cache is not None:
            cache.advance()
        logits = self.lm_head(self.ln_f(x))  # (B, T, vocab)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(b * t, -1), targets.reshape(b * t), ignore_index=-1)  # (B*T, vocab) vs (B*T,)
        return logits, loss

    @no_grad()
    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 use_cache: bool = True, generator: np.random.Generator | None = None) -> Tensor:  # fmt: skip
        """Sample max_new_tokens tokens after idx (B, T). With use_cache the keys and values of
        earlier positions are kept, so each new token runs the model on one position; once the
        sequence outgrows block_size the window slides and the cache is rebuilt each step."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        rng = generator or default_generator()
        was_training = self.training
        self.eval()
        tokens = idx.data
        cache, fed = None, 0  # fed: how many tokens of `tokens` the cache holds
        try:
            for _ in range(max_new_tokens):
                window = tokens[:, -self.config.block_size :]
                if use_cache and tokens.shape[1] <= self.config.block_size:
                    if cache is None:
                        cache, fed = KVCache(self.config.n_layer), 0
                    logits, _ = self(Tensor(tokens[:, fed:]), cache=cache)
                    fed = tokens.shape[1]
                else:
                    logits, _ = self(Tensor(window))
                logits = logits.data[:, -1, :].astype(np.float64) / temperature  # (B, vocab) at the last position
                if top_k is not None:
                    kth = np.sort(logits, axis=-1)[:, -min(top_k, logits.shape[-1])][:, None]
                    logits = np.where(logits < kth, -np.inf, logits)
                probs = np.exp(logits - logits.max(-1, keepdims=True))
                probs /= probs.sum(-1, keepdims=True)
                nxt = np.array([[rng.choice(probs.shape[-1], p=p)] for p in probs])  # (B, 1)
                tokens = np.concatenate([tokens, nxt], axis=1)
        finally:
            self.train(was_training)
        return Tensor(tokens)
