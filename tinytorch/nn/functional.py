"""The functional forms of the layers and losses (tinytorch.nn.functional, as torch's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..creation import default_generator
from ..ops.compare import OneHot
from ..ops.conv import AvgPool2d, Conv2d, MaxPool2d
from ..ops.nn import CrossEntropy
from ..ops.nn import Linear as _Linear
from ..ops.norm import BatchNorm
from ..ops.shape import Pad
from ..tensor import Tensor

# ---------------------------------------------------------------------------- activations


def relu(x: Tensor) -> Tensor:
    return x.relu()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return x.leaky_relu(negative_slope)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return x.gelu(approximate)


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.log_softmax(dim)


# ---------------------------------------------------------------------------- layers


def _same_dtype(name: str, x: Tensor, weight: Tensor) -> None:
    """As PyTorch: a layer does not silently compute in another dtype than its weights."""
    if x.dtype != weight.dtype:
        raise TypeError(f"{name}: input is {x.dtype} but the weight is {weight.dtype}; convert one (x.float(), model.double())")


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, over the last dim of x."""
    _same_dtype("linear", x, weight)
    return _Linear.apply(x, weight) if bias is None else _Linear.apply(x, weight, bias)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p), so E[out] = x."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability must lie in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    keep = default_generator().random(x.shape, dtype=np.float32) >= p
    return x * Tensor(keep.astype(x.dtype) * (1 / (1 - p)))


def embedding(index: Tensor, weight: Tensor) -> Tensor:
    """Rows of weight picked by integer ids: (...) -> (..., dim)."""
    ids = index.data if isinstance(index, Tensor) else np.asarray(index)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding ids must be integers, got {ids.dtype}")
    rows = weight.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= rows):
        bad = ids[(ids < 0) | (ids >= rows)].flat[0]
        raise IndexError(f"embedding id {bad} is out of range for an embedding of {rows} rows (ids must lie in [0, {rows}))")
    return weight[ids]


def layer_norm(
    x: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """(x - mean) / sqrt(var + eps) over the last len(normalized_shape) dims, then * weight + bias."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[-len(normalized_shape) :]) != normalized_shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in normalized_shape {normalized_shape}")
    dims = tuple(range(-len(normalized_shape), 0))
    centered = x - x.mean(dims, keepdim=True)
    out = centered / ((centered * centered).mean(dims, keepdim=True) + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel (dim 1) over the batch and spatial dims (one fused op).

    In training the batch statistics are used and the running ones, when given, move toward
    them in place; in eval the running ones are used."""
    if not training and running_mean is None:
        raise ValueError("batch_norm in eval mode needs running statistics")
    if x.ndim < 2:
        raise ValueError(f"batch_norm needs input of shape (N, C, ...), got {x.shape}")
    params = () if weight is None else (weight, bias if bias is not None else Tensor(np.zeros(x.shape[1], x.dtype)))
    running = {} if running_mean is None else {"running_mean": running_mean.data, "running_var": running_var.data}
    return BatchNorm.apply(x, *params, training=training, momentum=momentum, eps=eps, **running)


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def conv2d(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1
) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) of (N, C, H, W) by (Co, C/groups, kh, kw)."""
    if x.ndim != 4:
        raise ValueError(f"conv2d expects input of shape (N, C, H, W), got {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d expects a weight of shape (out_channels, in_channels/groups, kh, kw), got {weight.shape}")
    _same_dtype("conv2d", x, weight)
    padding = conv_padding(padding, weight.shape[2:], _pair(dilation))
    geometry = dict(stride=_pair(stride), padding=_pair(padding), dilation=_pair(dilation), groups=groups)
    return Conv2d.apply(x, weight, **geometry) if bias is None else Conv2d.apply(x, weight, bias, **geometry)


def conv_padding(padding: Any, kernel: tuple, dilation: tuple) -> tuple[int, int]:
    """A convolution's padding as a pair: an int or a pair, "valid" (none) or "same" (half the
    effective kernel, so the output keeps the input's size at stride 1)."""
    if isinstance(padding, str):
        return _same_padding(kernel, dilation) if padding == "same" else _check_valid(padding)
    return _pair(padding)


def _same_padding(kernel: tuple, dilation: tuple) -> tuple[int, int]:
    pads = [d * (k - 1) for k, d in zip(kernel, dilation)]
    if any(p % 2 for p in pads):
        raise ValueError(f"padding='same' needs an odd effective kernel size, got kernel {tuple(kernel)} dilation {dilation}")
    return (pads[0] // 2, pads[1] // 2)


def _check_valid(padding: str) -> tuple[int, int]:
    if padding != "valid":
        raise ValueError(f"padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    return (0, 0)


def max_pool2d(
    x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False
) -> Tensor:
    """Max over each window; stride defaults to the kernel size."""
    k = _pair(kernel_size)
    _check_pool(x, k, _pair(padding), "max_pool2d")
    return MaxPool2d.apply(
        x, kernel_size=k, stride=_pair(stride or k), padding=_pair(padding), dilation=_pair(dilation), ceil_mode=ceil_mode
    )


def avg_pool2d(
    x: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False, count_include_pad: bool = True
) -> Tensor:
    """Mean over each window; stride defaults to the kernel size."""
    k = _pair(kernel_size)
    _check_pool(x, k, _pair(padding), "avg_pool2d")
    return AvgPool2d.apply(
        x,
        kernel_size=k,
        stride=_pair(stride or k),
        padding=_pair(padding),
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
    )


def _check_pool(x: Tensor, k: tuple, p: tuple, name: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name} expects input of shape (N, C, H, W), got {x.shape}")
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(f"{name}: padding {p} must be at most half the kernel size {k}")


def adaptive_avg_pool2d(x: Tensor, output_size: Any) -> Tensor:
    """Average over windows that tile (N, C, H, W) into output_size, as PyTorch chooses them.

    Written as two matrix products with fixed averaging matrices: A_h (oh, H) @ x @ A_w^T (W, ow)."""
    if x.ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d expects input of shape (N, C, H, W), got {x.shape}")
    oh, ow = (x.shape[2] if o is None else o for o in _pair(output_size))
    h, w = x.shape[2:]
    if (h, w) == (oh, ow):
        return x
    if h % oh == 0 and w % ow == 0:  # the common case (e.g. global pooling) is a plain avg pool
        return avg_pool2d(x, (h // oh, w // ow))
    a_h, a_w = Tensor(_averaging(h, oh, x.dtype)), Tensor(_averaging(w, ow, x.dtype))
    return a_h @ (x @ a_w.T)  # (oh, H) @ (N, C, H, W) @ (W, ow) = (N, C, oh, ow)


def _averaging(size: int, out: int, dtype: Any) -> np.ndarray:
    """Row i averages [floor(i size / out), ceil((i + 1) size / out)), PyTorch's windows."""
    m = np.zeros((out, size), dtype)
    for i in range(out):
        start, end = (i * size) // out, -(-(i + 1) * size // out)
        m[i, start:end] = 1 / (end - start)
    return m


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero whole channels with probability p (one draw per sample and channel), scale by 1/(1-p)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability must lie in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d expects (N, C, H, W) or (C, H, W) input, got {x.shape}")
    shape = x.shape[:-2] + (1, 1)  # one draw per channel: (N, C, 1, 1)
    keep = default_generator().random(shape, dtype=np.float32) >= p
    return x * Tensor(keep.astype(x.dtype) * (1 / (1 - p) if p < 1 else 0.0))


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad with a constant; `pad` lists (before, after) pairs from the last dim backwards."""
    if mode != "constant":
        raise ValueError(f"pad: mode {mode!r} is not supported; tinytorch pads with mode='constant'")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {tuple(pad)} must hold (before, after) pairs for at most {x.ndim} dims")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {tuple(pad)} is not supported")
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]  # last dim first
    widths = tuple([(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1])
    return Pad.apply(x, widths=widths, value=value)


def one_hot(index: Tensor, num_classes: int = -1) -> Tensor:
    """Integer classes (...) -> int64 one-hot vectors (..., num_classes)."""
    if num_classes == -1:
        num_classes = int(index.data.max()) + 1
    return OneHot.apply(index, num_classes=num_classes)


# ---------------------------------------------------------------------------- losses


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_same_shape(name: str, input: Tensor, target: Tensor) -> None:
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: input of shape {input.shape} and target of shape {target.shape} must have the same shape")


def _classes_last(input: Tensor, target: Tensor, name: str, ignore_index: int) -> tuple[Tensor, Tensor]:
    """(N, C, d1, ...) scores and (N, d1, ...) targets as (N*d1*..., C) and (N*d1*...), checked."""
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: targets must be integer class indices, got {target.dtype}")
    fits = target.ndim == 0 if input.ndim == 1 else target.shape == input.shape[:1] + input.shape[2:]
    if input.ndim < 1 or not fits:
        raise ValueError(f"{name}: input of shape {input.shape} (N, C, ...) does not fit target of shape {target.shape} (N, ...)")
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    y = target.data
    bad = (y != ignore_index) & ((y < 0) | (y >= classes))
    if bad.any():
        raise IndexError(
            f"{name}: target {y[bad].flat[0]} is out of range for {classes} classes "
            f"(targets must lie in [0, {classes}) or equal ignore_index={ignore_index})"
        )
    if input.ndim == 1:  # one sample: (C,) -> (1, C)
        return input.reshape(1, -1), target.reshape(1)
    if input.ndim > 2:  # (N, C, d1, ...) -> (N, d1, ..., C) -> (N*d1*..., C)
        input = input.permute(0, *range(2, input.ndim), 1).reshape(-1, input.shape[1])
    return input, target.reshape(-1)


def cross_entropy(
    input: Tensor, target: Tensor, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:
    """-log softmax(input)[target], averaged over the targets that are not ignore_index."""
    shape = target.shape
    logits, flat = _classes_last(input, target, "cross_entropy", ignore_index)
    loss = CrossEntropy.apply(logits, flat, ignore_index=ignore_index, label_smoothing=label_smoothing)
    if reduction == "mean":
        return loss.sum() / int((flat.data != ignore_index).sum())
    return loss.reshape(shape) if reduction == "none" else _reduce(loss, reduction)


def nll_loss(input: Tensor, target: Tensor, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """-input[target] (input holds log-probabilities), averaged over non-ignored targets."""
    shape = target.shape
    logp, flat = _classes_last(input, target, "nll_loss", ignore_index)
    valid = flat.data != ignore_index
    picked = logp[np.arange(len(valid)), np.where(valid, flat.data, 0)]
    loss = -picked * Tensor(valid.astype(logp.dtype))
    if reduction == "mean":
        return loss.sum() / int(valid.sum())
    return loss.reshape(shape) if reduction == "none" else _reduce(loss, reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    _check_same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    _check_same_shape("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)), each log clamped at -100 as PyTorch does."""
    _check_same_shape("binary_cross_entropy", input, target)
    if input.data.size and (input.data.min() < 0 or input.data.max() > 1):
        raise ValueError(
            "binary_cross_entropy: input must hold probabilities in [0, 1] (use binary_cross_entropy_with_logits for scores)"
        )
    log_p = input.log().clamp(min=-100)
    log_not_p = (1 - input).log().clamp(min=-100)
    return _reduce(-(target * log_p + (1 - target) * log_not_p), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """BCE on sigmoid(x), computed stably: max(x, 0) - x y + log(1 + exp(-|x|))."""
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    softplus_neg_abs = (1 + (-input.abs()).exp()).log()  # log(1 + e^-|x|)
    if pos_weight is None:
        return _reduce(input.relu() - input * target + softplus_neg_abs, reduction)
    # with pos_weight w: (1 - y) x + (1 + (w - 1) y) log(1 + e^-x), log(1 + e^-x) = relu(-x) + log(1 + e^-|x|)
    weight = 1 + (pos_weight - 1) * target
    return _reduce((1 - target) * input + weight * ((-input).relu() + softplus_neg_abs), reduction)


# ---------------------------------------------------------------------------- attention


def attention(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None = None, is_causal: bool = False, dropout_p: float = 0.0,
              scale: float | None = None, training: bool = True) -> tuple[Tensor, Tensor]:  # fmt: skip
    """softmax(q k^T * scale + mask) v, and the attention weights. q (..., L, E), k and v (..., S, E).

    A boolean attn_mask says who may attend (True takes part); a float one is added to the
    scores. is_causal lets position i see keys 0..i only (aligned to the end when L < S,
    as for a KV cache)."""
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"attention: q {q.shape}, k {k.shape}, v {v.shape} do not fit: q and k need the same last dim, k and v the same length"
        )
    length, keys = q.shape[-2], k.shape[-2]
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., L, S)
    if is_causal:  # query i sits at position S - L + i: it sees keys up to there
        allowed = np.tril(np.ones((length, keys), bool), keys - length)
        scores = scores.masked_fill(Tensor(~allowed), float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == np.bool_:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    weights = scores.softmax(-1)
    out_weights = dropout(weights, dropout_p, training) if dropout_p else weights
    return out_weights @ v, weights  # (..., L, E), (..., L, S)


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None) -> Tensor:  # fmt: skip
    """PyTorch's F.scaled_dot_product_attention: softmax(q k^T / sqrt(E) + mask) v."""
    return attention(q, k, v, attn_mask, is_causal, dropout_p, scale)[0]
