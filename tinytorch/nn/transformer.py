"""Attention and the transformer block, built from the same Linear, LayerNorm, Dropout and
GELU as everything else."""

from __future__ import annotations

import math

import numpy as np

from ..record import attention as record_attention
from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear
from .module import Module, Parameter


class MultiheadAttention(Module):
    """torch.nn.MultiheadAttention's layout and semantics: in_proj_weight (3E, E), out_proj; a
    boolean attn_mask or key_padding_mask marks with True the positions NOT to attend to.

    Returns (output, weights); weights are averaged over heads unless average_attn_weights=False.
    An active recorder probing attention receives every head's weights."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True, batch_first: bool = True) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), np.float32))
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, np.float32)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        init.xavier_uniform_(self.in_proj_weight)  # PyTorch's init for the packed projection
        if bias:
            init.zeros_(self.out_proj.bias)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True, is_causal: bool = False) -> tuple[Tensor, Tensor | None]:  # fmt: skip
        if not self.batch_first:  # (T, B, E) -> (B, T, E)
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        if query.ndim != 3 or query.shape[-1] != self.embed_dim:
            raise ValueError(
                f"MultiheadAttention({self.embed_dim}) expects (batch, length, {self.embed_dim}) inputs, got {query.shape}"
            )
        b, length, e = query.shape
        w, bias = self.in_proj_weight, self.in_proj_bias
        wq, wk, wv = w[:e], w[e : 2 * e], w[2 * e :]
        bq, bk, bv = (None, None, None) if bias is None else (bias[:e], bias[e : 2 * e], bias[2 * e :])
        q, k, v = (self._heads(F.linear(x, wx, bx)) for x, wx, bx in ((query, wq, bq), (key, wk, bk), (value, wv, bv)))
        mask = self._allowed(attn_mask, key_padding_mask, b, length, key.shape[1])
        out, weights = F.attention(
            q, k, v, mask, is_causal, self.dropout, training=self.training
        )  # (B, nh, L, hs), (B, nh, L, S)
        record_attention(weights)
        out = self.out_proj(out.transpose(1, 2).reshape(b, length, e))  # (B, nh, L, hs) -> (B, L, E)
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        return out, weights.mean(1) if average_attn_weights else weights

    def _heads(self, x: Tensor) -> Tensor:
        b, t, _ = x.shape
        return x.reshape(b, t, self.num_heads, self.head_dim).transpose(1, 2)  # (B, T, E) -> (B, nh, T, hs)

    @staticmethod
    def _allowed(attn_mask: Tensor | None, key_padding_mask: Tensor | None, b: int, length: int, keys: int) -> Tensor | None:
        """PyTorch MHA's masks (True = blocked, or added floats) as one mask for F.attention."""
        mask = None
        if attn_mask is not None:
            mask = ~attn_mask if attn_mask.dtype == np.bool_ else attn_mask
        if key_padding_mask is not None:  # (B, S), True = padding: no query attends to it
            keep = (~key_padding_mask).reshape(b, 1, 1, keys)
            mask = keep if mask is None else (mask & keep if mask.dtype == np.bool_ else mask.masked_fill(~keep, float("-inf")))
        return mask

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"


class CausalSelfAttention(Module):
    """nanoGPT's attention: one (C, 3C) projection to q, k, v, causal softmax, an output
    projection; a KV cache lets generation compute only the new positions."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd {n_embd} is not divisible by n_head {n_head}")
        self.n_head, self.dropout = n_head, dropout
        self.c_attn = Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = Linear(n_embd, n_embd, bias=bias)
        self.resid_dropout = Dropout(dropout)

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        b, t, c = x.shape
        hs = c // self.n_head
        q, k, v = self.c_attn(x).reshape(b, t, 3, self.n_head, hs).permute(2, 0, 3, 1, 4)  # 3 x (B, nh, T, hs)
        if cache is not None:  # keys and values of earlier positions come from the cache
            k, v = cache.extend(layer, k, v)  # (B, nh, S, hs) with S = positions so far
        out, weights = F.attention(q, k, v, is_causal=True, dropout_p=self.dropout, training=self.training)  # (B, nh, T, hs)
        record_attention(weights)
        y = out.transpose(1, 2).reshape(b, t, c)  # (B, nh, T, hs) -> (B, T, C)
        return self.resid_dropout(self.c_proj(y))


class KVCache:
    """Per layer, the keys and values of every position seen so far, in preallocated arrays
    (B, nh, capacity, hs), so a new token costs one row instead of the whole sequence."""

    def __init__(self, n_layer: int) -> None:
        self.n_layer, self.length = n_layer, 0
        self.keys: list[np.ndarray | None] = [None] * n_layer
        self.values: list[np.ndarray | None] = [None] * n_layer
        self._added = 0

    def extend(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append this call's positions for `layer`; return all positions' keys and values."""
        b, nh, t, hs = k.shape
        if self.keys[layer] is None or self.keys[layer].shape[2] < self.length + t:
            grown = max(2 * (self.length + t), 16)
            for store in (self.keys, self.values):
                old = store[layer]
                store[layer] = np.zeros((b, nh, grown, hs), k.dtype)
                if old is not None:
                    store[layer][:, :, : self.length] = old[:, :, : self.length]
        end = self.length + t
        self.keys[layer][:, :, self.length : end] = k.data
        self.values[layer][:, :, self.length : end] = v.data
        if layer == self.n_layer - 1:
            self._added = t
        return Tensor(self.keys[layer][:, :, :end]), Tensor(self.values[layer][:, :, :end])

    def advance(self) -> None:
        """After a forward through every layer: the new positions now count as seen."""
        self.length += self._added
        self._added = 0


class MLP(Module):
    """Linear -> GELU -> Linear -> Dropout, widening by 4 (the transformer's feed-forward)."""

    def __init__(self, n_embd: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.c_fc, self.gelu, self.c_proj = Linear(n_embd, 4 * n_embd, bias=bias), GELU(), Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class TransformerBlock(Module):
    """Pre-norm block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.ln_1, self.attn = LayerNorm(n_embd, bias=bias), CausalSelfAttention(n_embd, n_head, dropout, bias)
        self.ln_2, self.mlp = LayerNorm(n_embd, bias=bias), MLP(n_embd, dropout, bias)

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class PositionalEmbedding(Module):
    """Learned positions: a table of max_len vectors; forward(x) adds rows 0..T-1 to x (B, T, C)."""

    def __init__(self, max_len: int, dim: int) -> None:
        super().__init__()
        self.table = Embedding(max_len, dim)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        t = x.shape[1]
        if start + t > self.table.num_embeddings:
            raise ValueError(f"position {start + t - 1} is beyond the {self.table.num_embeddings} learned positions")
        return x + self.table(Tensor(np.arange(start, start + t)))


class SinusoidalPositionalEncoding(Module):
    """Fixed positions (Vaswani et al.): PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)."""

    def __init__(self, dim: int, max_len: int = 5000, dropout: float = 0.0) -> None:
        super().__init__()
        position = np.arange(max_len)[:, None]
        rate = np.exp(np.arange(0, dim, 2) * (-math.log(10000.0) / dim))
        pe = np.zeros((max_len, dim), np.float32)
        pe[:, 0::2] = np.sin(position * rate)
        pe[:, 1::2] = np.cos(position * rate)[:, : dim // 2]
        self.register_buffer("pe", Tensor(pe), persistent=False)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        t = x.shape[1]
        if start + t > self.pe.shape[0]:
            raise ValueError(f"position {start + t - 1} is beyond max_len {self.pe.shape[0]}")
        return self.dropout(x + self.pe[start : start + t])
