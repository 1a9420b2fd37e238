"""tinytorch.allocator: with tinytorch imported, a loop of big temporaries (a training step's
activations) reuses freed memory instead of page-faulting it in again each iteration."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

import tinytorch as tt


def glibc() -> bool:
    try:
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018
        return sys.platform.startswith("linux")
    except (OSError, AttributeError):
        return False


pytestmark = pytest.mark.skipif(not glibc(), reason="the allocator settings are glibc's")

# Eight 4 MiB arrays made and freed per iteration, as a step makes and frees its activations;
# prints the minor page faults of the last five iterations (1,024 pages per array).
LOOP = """
import resource
import numpy as np
import tinytorch

def iteration():
    arrays = [np.ones(1 << 20, np.float32) for _ in range(8)]
    del arrays

for _ in range(2):
    iteration()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    iteration()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, tinytorch.allocator.applied)
"""


def faults(**env: str) -> tuple[int, bool]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "TINYTORCH_SYSTEM_MALLOC"}
    out = subprocess.run([sys.executable, "-c", LOOP], env={**clean, **env}, capture_output=True, text=True, check=True)
    count, applied = out.stdout.split()
    return int(count), applied == "True"


def test_freed_arrays_are_reused_without_page_faults():
    count, applied = faults()
    assert applied
    assert count < 2000, f"{count} page faults for 40 arrays of 1,024 pages made from freed memory"


def test_the_system_malloc_is_kept_on_request_and_then_faults_again():
    count, applied = faults(TINYTORCH_SYSTEM_MALLOC="1")
    assert not applied
    # glibc's own settings hand the freed top of the heap back (about 20,000 faults here)
    assert count > 10_000, f"expected the system malloc to fault freed arrays in again, got {count} faults"
    assert not faults(MALLOC_ARENA_MAX="2")[1]  # a MALLOC_* setting of the user's own wins


@pytest.mark.skipif(
    any(k.startswith("MALLOC_") or k == "TINYTORCH_SYSTEM_MALLOC" for k in os.environ), reason="malloc left as this shell set it"
)
def test_this_process_runs_with_the_settings():
    assert tt.allocator.applied == tt.allocator.keep_freed_memory() is True
