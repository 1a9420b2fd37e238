"""Keep freed memory for the next op (Linux with glibc): what a caching allocator does, in three mallopt calls.

Every NumPy op returns a new array. glibc serves a block larger than its mmap threshold with a
fresh mapping and unmaps it when the array dies, and it hands free memory at the top of its heap
back to the system; either way the next op's array of the same size is faulted in again, one
4 KiB page at a time. The Shakespeare GPT's training step, which makes the same few-MB
activations every iteration, spent more than a tenth of its time there (benchmarks/bench_gpt.py
with and without these settings: the README's "Measured" gives the runs).

`keep_freed_memory()` (called when tinytorch is imported) asks malloc to serve blocks up to
32 MiB from its heap and to keep up to 1 GiB of freed memory for reuse, as PyTorch's caching
allocators keep theirs. The price: the process's resident memory stays near its peak. Set
TINYTORCH_SYSTEM_MALLOC=1 to leave malloc alone; any MALLOC_* setting of your own also wins.
"""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt parameters (glibc's malloc.h). Setting any of them turns off glibc's own adjustment of
# the mmap threshold, so all three are set.
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
SETTINGS = {
    M_MMAP_THRESHOLD: 32 << 20,  # blocks up to 32 MiB (glibc's largest allowed threshold) from the heap
    M_TRIM_THRESHOLD: 1 << 30,  # give memory back only when 1 GiB at the top of the heap is free
    M_TOP_PAD: 64 << 20,  # and grow the heap 64 MiB at a time
}

applied = False  # whether keep_freed_memory() changed malloc in this process


def keep_freed_memory() -> bool:
    """Apply SETTINGS with mallopt; True if malloc took them. A no-op (False) off Linux, on a C
    library that is not glibc, with TINYTORCH_SYSTEM_MALLOC set, or when the user set MALLOC_*."""
    global applied
    if applied:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("TINYTORCH_SYSTEM_MALLOC"):
        return False
    if any(name.startswith("MALLOC_") for name in os.environ):
        return False  # the user tuned malloc already
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on
        mallopt = libc.mallopt if hasattr(libc, "gnu_get_libc_version") else None  # glibc's (musl's takes nothing)
        if mallopt is None:
            return False
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    applied = all([mallopt(param, value) == 1 for param, value in SETTINGS.items()])
    return applied
