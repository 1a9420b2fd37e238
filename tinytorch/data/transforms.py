"""Image transforms with torchvision's names that work on a whole batch of NumPy arrays at
once (N, C, H, W), or on one image (C, H, W); random ones draw per image, vectorised.

ToTensor turns uint8 pixels into float32 in [0, 1], channels first. Which axis holds the
channels, by `layout`:

    "auto" (default)  4-D: (N, H, W, C) if the last axis has 1, 3 or 4 entries, else (N, C, H, W)
                      3-D: (H, W, C) if the last axis has 1, 3 or 4 entries, else (N, H, W) grayscale
                      2-D: (H, W) grayscale
    "hwc"             (..., H, W, C): channels last, as torchvision's datasets keep CIFAR-10
    "chw"             (..., C, H, W): already channels first, only scaled
    "hw"              (..., H, W): grayscale without a channel axis (MNIST), one is added

The others (Normalize, RandomCrop, RandomHorizontalFlip) expect channels first, so they
come after ToTensor in a Compose, as in torchvision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..creation import default_generator

_CHANNELS = (1, 3, 4)


class Compose:
    """Apply transforms one after the other."""

    def __init__(self, transforms: Sequence[Callable[[np.ndarray], np.ndarray]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


def _layout(shape: tuple[int, ...], layout: str) -> str:
    """The layout "auto" resolves to for this shape (see the module docstring)."""
    if layout != "auto":
        return layout
    if len(shape) == 2:
        return "hw"
    if len(shape) in (3, 4) and shape[-1] in _CHANNELS:
        return "hwc"
    if len(shape) in (3, 4):
        return "chw" if len(shape) == 4 else "hw"  # (N, C, H, W) stays; (N, H, W) is a grayscale batch
    raise ValueError(
        f"ToTensor: expected an image (H, W), (H, W, C) or a batch (N, H, W), (N, H, W, C), (N, C, H, W); got shape {shape}"
    )


class ToTensor:
    """uint8 pixels -> float32 in [0, 1], channels first; other dtypes are cast to float32 unscaled."""

    def __init__(self, layout: str = "auto") -> None:
        if layout not in ("auto", "hwc", "chw", "hw"):
            raise ValueError(f"ToTensor: layout must be 'auto', 'hwc', 'chw' or 'hw', got {layout!r}")
        self.layout = layout

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        layout = _layout(x.shape, self.layout)
        if layout == "hwc":
            x = np.moveaxis(x, -1, -3)  # (..., H, W, C) -> (..., C, H, W), a view
        elif layout == "hw":
            x = x[..., None, :, :]  # (..., H, W) -> (..., 1, H, W)
        out = np.empty(x.shape, np.float32)  # C order: the copy also makes the layout contiguous
        if x.dtype == np.uint8:
            np.divide(x, np.float32(255), out=out, dtype=np.float32)
        else:
            out[...] = x
        return out

    def __repr__(self) -> str:
        return f"ToTensor(layout={self.layout!r})"


def _channel_stats(values: Any, channels: int, what: str, shape: tuple[int, ...]) -> np.ndarray:
    v = np.asarray(values, np.float32).reshape(-1)
    if v.size not in (1, channels):
        raise ValueError(f"Normalize: {what} has {v.size} values but the input {shape} has {channels} channels (axis -3)")
    return v.reshape(-1, 1, 1)  # (C, 1, 1): broadcasts over (..., C, H, W)


class Normalize:
    """(x - mean[c]) / std[c] for each channel c of (..., C, H, W), in float32."""

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float) -> None:
        if np.any(np.asarray(std) == 0):
            raise ValueError(f"Normalize: std {std} has a zero, which would divide by zero")
        self.mean, self.std = mean, std

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 3:
            raise ValueError(f"Normalize expects (..., C, H, W), got shape {x.shape}")
        mean = _channel_stats(self.mean, x.shape[-3], "mean", x.shape)
        std = _channel_stats(self.std, x.shape[-3], "std", x.shape)
        return ((x.astype(np.float32, copy=False) - mean) / std).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


def _as_batch(x: np.ndarray, what: str) -> np.ndarray:
    """(N, C, H, W) as is; one image (C, H, W) or (H, W) as a batch of one."""
    if x.ndim in (3, 4) and x.shape[-1] in _CHANNELS and x.shape[-3] not in _CHANNELS:
        # Cropping or flipping the wrong axes would go unnoticed (a flip would swap R and B), so refuse.
        raise ValueError(
            f"{what} expects channels first (N, C, H, W); shape {x.shape} looks channels-last: apply ToTensor() first"
        )
    if x.ndim == 4:
        return x
    if x.ndim in (2, 3):
        return x.reshape((1,) * (4 - x.ndim) + x.shape)  # (C, H, W) -> (1, C, H, W); (H, W) -> (1, 1, H, W)
    raise ValueError(f"{what} expects (N, C, H, W), (C, H, W) or (H, W), got shape {x.shape}")


class RandomCrop:
    """A random size window of each image, padded first by `padding` zeros on every side."""

    def __init__(self, size: int | Sequence[int], padding: int = 0, generator: np.random.Generator | None = None) -> None:
        self.size = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
        self.padding, self.generator = int(padding), generator

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        batch = _as_batch(x, "RandomCrop")
        p, (h, w) = self.padding, self.size
        if p:
            batch = np.pad(batch, ((0, 0), (0, 0), (p, p), (p, p)))  # (N, C, H + 2p, W + 2p)
        n, _, hp, wp = batch.shape
        if h > hp or w > wp:
            raise ValueError(
                f"RandomCrop: size {self.size} is larger than the padded image {(hp, wp)} (input {x.shape}, padding {p})"
            )
        gen = self.generator or default_generator()
        top, left = gen.integers(0, hp - h + 1, n), gen.integers(0, wp - w + 1, n)
        windows = np.lib.stride_tricks.sliding_window_view(batch, (h, w), axis=(2, 3))  # (N, C, hp-h+1, wp-w+1, h, w), a view
        # Advanced indices split by a slice put the batch axis first: (N, C, h, w).
        out = windows[np.arange(n), :, top, left]
        return out.reshape(x.shape[:-2] + (h, w))

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability p."""

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None) -> None:
        self.p, self.generator = p, generator

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        batch = _as_batch(x, "RandomHorizontalFlip")
        flip = (self.generator or default_generator()).random(len(batch)) < self.p
        out = batch.copy()
        out[flip] = batch[flip][..., ::-1]
        return out.reshape(x.shape)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"
