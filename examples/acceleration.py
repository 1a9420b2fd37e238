"""Acceleration: the same matrix multiply and convolution written three ways, timed on this machine.

1. naive: Python loops over every output element and every term of its sum (Python floats);
2. NumPy loop over one axis: a Python loop over the output rows (matmul) or output channels
   (convolution), the rest one NumPy broadcast-multiply-and-sum per iteration (no BLAS);
3. im2col + BLAS: one call to the BLAS matrix multiply: `a @ b`, and for the convolution
   tinytorch.nn.functional.conv2d (the windows unrolled into a matrix, then one matmul).

The versions are checked to agree (np.allclose) before anything is timed. Each size is timed with
the versions in alternating rounds (tinytorch.perf.compare), a fast version repeated within a
round so a round lasts long enough to time; the table gives the median, the spread of the rounds,
the speed-up over the naive loops (per round, then the median), and GFLOP/s beside this machine's
measured roofline (tinytorch.perf.machine_peaks: float32 matmul peak and copy bandwidth).
The naive loops run only at the small sizes; larger sizes time the two NumPy versions, and no
number is extrapolated. A run under --logdir keeps the GFLOP/s as scalars (x = size) and a
profiled, traced training step of a small convolution for the inspector's Profile page.

    python examples/acceleration.py [--sizes 32,64,128] [--large-sizes 256,512] [--image-sizes 8,16,32]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from common import arg, parse_config
from numpy.lib.stride_tricks import sliding_window_view
from tradeoff_accumulation import threads_note

import tinytorch as tt
import tinytorch.nn.functional as F
from tinytorch import nn


@dataclass
class Config:
    sizes: str = arg("32,64,128", "square matmul sizes n (n x n @ n x n) timed in all three versions")
    large_sizes: str = arg("256,512", "matmul sizes timed in the two NumPy versions only ('' for none)")
    image_sizes: str = arg("8,16,32", "convolution image sizes (H = W) timed in all three versions")
    large_image_sizes: str = arg("64", "image sizes timed in the two NumPy versions only ('' for none)")
    batch: int = arg(2, "convolution batch N")
    in_channels: int = arg(8, "convolution input channels C")
    out_channels: int = arg(16, "convolution output channels O (3x3 kernel, padding 1)")
    rounds: int = arg(5, "timing rounds, the versions alternating")
    min_seconds: float = arg(0.02, "a round of a fast version repeats it until it lasts about this long")
    peak_size: int = arg(1024, "matrix size of the roofline's peak matmul measurement")
    peak_megabytes: int = arg(128, "array size of the roofline's copy-bandwidth measurement")
    logdir: str = arg("runs", "folder of the run")
    seed: int = arg(0, "seed")


# ---------------------------------------------------------------------- matmul, three ways


def matmul_naive(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """out[i][j] = sum_p a[i][p] b[p][j], one multiply-add at a time."""
    x, y = a.tolist(), b.tolist()
    n, k, m = len(x), len(y), len(y[0])
    out = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            s = 0.0
            for p in range(k):
                s += x[i][p] * y[p][j]
            out[i][j] = s
    return np.array(out, dtype=np.float32)


def matmul_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A loop over the rows of the output: row i = sum over p of a[i, p] * b[p, :], in NumPy."""
    out = np.empty((a.shape[0], b.shape[1]), np.float32)
    for i in range(a.shape[0]):
        out[i] = (a[i, :, None] * b).sum(axis=0)  # (k, 1) * (k, m) -> (k, m) -> (m,)
    return out


def matmul_blas(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a @ b  # (n, k) @ (k, m): one BLAS sgemm


# ---------------------------------------------------------------------- convolution, three ways


def conv_naive(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """3x3 (any odd kernel) convolution, stride 1, 'same' padding: seven nested loops."""
    n_, c_, h_, w_ = x.shape
    o_, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2))).tolist()
    wl = w.tolist()
    out = np.zeros((n_, o_, h_, w_), np.float32)
    for n in range(n_):
        for o in range(o_):
            for i in range(h_):
                for j in range(w_):
                    s = 0.0
                    for c in range(c_):
                        for u in range(kh):
                            for v in range(kw):
                                s += xp[n][c][i + u][j + v] * wl[o][c][u][v]
                    out[n, o, i, j] = s
    return out


def conv_channels(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A loop over output channels: each is the windows times that channel's kernel, summed."""
    o_, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (N, C, H, W, kh, kw), a view: no copy
    out = np.empty((x.shape[0], o_, x.shape[2], x.shape[3]), np.float32)
    for o in range(o_):
        out[:, o] = (windows * w[o][None, :, None, None]).sum(axis=(1, 4, 5))  # (N, C, H, W, kh, kw) -> (N, H, W)
    return out


@tt.no_grad()
def conv_im2col(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return F.conv2d(tt.Tensor(x), tt.Tensor(w), padding=w.shape[2] // 2).data  # im2col, then one matmul


MATMUL = {"naive Python loops": matmul_naive, "NumPy, loop over rows": matmul_rows, "BLAS (a @ b)": matmul_blas}
CONV = {"naive Python loops": conv_naive, "NumPy, loop over out channels": conv_channels, "im2col + BLAS (F.conv2d)": conv_im2col}


# ---------------------------------------------------------------------- measuring


def agree(fns: dict[str, Callable[..., np.ndarray]], *args: np.ndarray) -> float:
    """Run every version; raise unless all match the last (BLAS) one; return the largest difference."""
    outs = {name: fn(*args) for name, fn in fns.items()}
    ref = list(outs.values())[-1]
    for name, out in outs.items():
        if out.shape != ref.shape or not np.allclose(out, ref, rtol=1e-4, atol=1e-4):
            raise AssertionError(f"{name} disagrees with {list(outs)[-1]}: max difference {np.abs(out - ref).max()}")
    return max(float(np.abs(out - ref).max()) for out in outs.values())


def time_versions(fns: dict[str, Callable[[], Any]], flops: int, rounds: int, min_seconds: float) -> list[dict[str, Any]]:
    """Alternating rounds; a fast version runs `reps` times per round. Seconds per call, speed-up
    over the first version per round (median and range), GFLOP/s at the median."""
    reps = {}
    for name, fn in fns.items():
        start = time.perf_counter()
        fn()
        reps[name] = max(1, math.ceil(min_seconds / max(time.perf_counter() - start, 1e-9)))
    report = tt.perf.compare({name: (lambda fn=fn, r=reps[name]: [fn() for _ in range(r)]) for name, fn in fns.items()},
                             rounds=rounds, warmup=1)  # fmt: skip
    per_call = {name: np.asarray(report[name].time.samples) / reps[name] for name in fns}
    first = next(iter(fns))
    rows = []
    for name in fns:
        t = per_call[name]
        speedup = per_call[first] / t
        q1, median, q3 = np.percentile(t, [25, 50, 75])
        rows.append(dict(version=name, seconds=float(median), iqr=float(q3 - q1), reps=reps[name], gflops=flops / median / 1e9,
                         speedup=float(np.median(speedup)), speedup_lo=float(speedup.min()), speedup_hi=float(speedup.max())))  # fmt: skip
    return rows


def sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def measure(cfg: Config) -> dict[str, Any]:
    rng = np.random.default_rng(cfg.seed)
    out: dict[str, Any] = dict(peaks=tt.perf.machine_peaks(n=cfg.peak_size, megabytes=cfg.peak_megabytes), matmul=[], conv=[])
    for n, full in [(n, True) for n in sizes(cfg.sizes)] + [(n, False) for n in sizes(cfg.large_sizes)]:
        a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
        fns = {k: f for i, (k, f) in enumerate(MATMUL.items()) if full or i > 0}
        diff = agree(fns, a, b)
        rows = time_versions({k: (lambda f=f, a=a, b=b: f(a, b)) for k, f in fns.items()}, 2 * n**3, cfg.rounds, cfg.min_seconds)
        out["matmul"].append(dict(size=f"{n}x{n} @ {n}x{n}", n=n, flops=2 * n**3, bytes=3 * 4 * n * n, max_diff=diff, rows=rows))
    n_, c_, o_ = cfg.batch, cfg.in_channels, cfg.out_channels
    for hw, full in [(s, True) for s in sizes(cfg.image_sizes)] + [(s, False) for s in sizes(cfg.large_image_sizes)]:
        x = rng.standard_normal((n_, c_, hw, hw), dtype=np.float32)
        w = (rng.standard_normal((o_, c_, 3, 3)) / math.sqrt(9 * c_)).astype(np.float32)
        fns = {k: f for i, (k, f) in enumerate(CONV.items()) if full or i > 0}
        diff = agree(fns, x, w)
        flops = 2 * n_ * o_ * hw * hw * c_ * 9
        rows = time_versions({k: (lambda f=f, x=x, w=w: f(x, w)) for k, f in fns.items()}, flops, cfg.rounds, cfg.min_seconds)
        size = f"({n_}, {c_}, {hw}, {hw}) * ({o_}, {c_}, 3, 3)"
        out["conv"].append(
            dict(size=size, n=hw, flops=flops, bytes=4 * (x.size + w.size + n_ * o_ * hw * hw), max_diff=diff, rows=rows)
        )
    out["run"] = record_run(cfg, out)
    return out


def record_run(cfg: Config, out: dict[str, Any]) -> Path:
    """A run for the inspector: GFLOP/s per version as scalars (x = size), and one traced training
    step of a convolution layer, profiled (its Profile page: forward and backward per op)."""
    tt.manual_seed(cfg.seed)
    model = nn.Sequential(nn.Conv2d(cfg.in_channels, cfg.out_channels, 3, padding=1), nn.ReLU())
    opt = tt.optim.SGD(model.parameters(), lr=0.01)
    x = tt.randn(cfg.batch, cfg.in_channels, 32, 32)
    config = dict(peaks=out["peaks"], rounds=cfg.rounds, threads=threads_note())
    with tt.record(Path(cfg.logdir) / "acceleration", model=model, optimizer=opt, trace_steps=(0,), config=config) as run:
        for kind in ("matmul", "conv"):
            for entry in out[kind]:
                for r in entry["rows"]:
                    run.log(f"{kind}/{r['version']} GFLOP/s", r["gflops"], step=entry["n"])
        with tt.perf.profile() as prof:
            opt.zero_grad()
            loss = (model(x) ** 2).mean()
            loss.backward()
            opt.step()
        prof.save(run, 0)
        run.step(loss)
    return run.path


# ---------------------------------------------------------------------- the tables


def table(out: dict[str, Any]) -> str:
    p = out["peaks"]
    lines = [f"this machine: float32 matmul peak {p['gflops']:.1f} GFLOP/s, copy bandwidth {p['bandwidth_gbs']:.1f} GB/s, "
             f"ridge {p['ridge_flops_per_byte']:.1f} FLOP/byte; {threads_note()}"]  # fmt: skip
    for kind, title in (("matmul", "Matrix multiply (float32)"), ("conv", "Convolution 3x3, padding 1 (float32)")):
        lines += ["", f"{title}", "| size | version | time per call (median, IQR) | speed-up (per round) | GFLOP/s | % of peak |",
                  "|---|---|---:|---:|---:|---:|"]  # fmt: skip
        for entry in out[kind]:
            for i, r in enumerate(entry["rows"]):
                up = "1x (baseline)" if i == 0 else f"{r['speedup']:,.1f}x ({r['speedup_lo']:,.1f}-{r['speedup_hi']:,.1f})"
                lines.append(f"| {entry['size']} | {r['version']} | {_time(r['seconds'])} ({_time(r['iqr'])}) | {up} | "
                             f"{r['gflops']:.3g} | {100 * r['gflops'] / p['gflops']:.2g}% |")  # fmt: skip
        ideal = [f"{e['n']}: {e['flops'] / e['bytes']:.0f}" for e in out[kind]]
        lines.append(
            "speed-up over the first version timed at that size: the naive loops, or at the larger sizes (naive not run) the NumPy loop"
        )
        lines.append(f"arithmetic intensity if each operand moved once (FLOP/byte), by size: {', '.join(ideal)}; "
                     f"the versions agree at every size (largest difference {max(e['max_diff'] for e in out[kind]):.1e})")  # fmt: skip
    lines.append(f"\nrun: {out['run']}")
    return "\n".join(lines)


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    cfg = parse_config(Config, __doc__, argv)
    out = measure(cfg)
    print(table(out), flush=True)
    return out


if __name__ == "__main__":
    main()
