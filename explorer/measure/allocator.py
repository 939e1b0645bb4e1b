"""Steady memory allocation for CPU measurements (glibc's malloc).

PyTorch's CPU tensors come from the C library's malloc. By default glibc hands out large blocks (activations
of a few MB) with mmap and unmaps them on free, and trims the top of its heap: a forward pass then
page-faults its activations in again on every run. How often that happens depends on the process's history
(glibc raises its thresholds after freeing larger blocks), so one network measured in a fresh process and
in a long-running one differed by 35 % on this project's test host. Measurements therefore fix both
thresholds once per process: activations are reused from the heap, as a caching allocator would do
(TensorFlow's BFC allocator, ONNX Runtime's arena, PyTorch's own CUDA allocator). The cost: the process keeps
up to TRIM_THRESHOLD of freed memory instead of returning it. Set EXPLORER_SYSTEM_MALLOC=1 to measure with
the library's defaults instead; the protocol line says which applied.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading

MMAP_THRESHOLD = 256 * 2**20  # blocks below this come from the heap, not from fresh mappings
TRIM_THRESHOLD = 2**30  # free heap memory kept before any is returned to the OS
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers from glibc's malloc.h

_lock = threading.Lock()
_note: str | None = None


def steady_allocator() -> str:
    """Apply the thresholds once (glibc only) and return the line for the protocol."""
    global _note
    with _lock:
        if _note is None:
            _note = _apply()
        return _note


def _apply() -> str:
    if os.environ.get("EXPLORER_SYSTEM_MALLOC"):
        return "system malloc defaults (EXPLORER_SYSTEM_MALLOC set)"
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "system allocator"
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return "glibc malloc defaults (mallopt unavailable)"
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1 or mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) != 1:
        return "glibc malloc defaults (mallopt refused the thresholds)"
    return (
        f"glibc malloc with mmap_threshold {MMAP_THRESHOLD >> 20} MiB and trim_threshold {TRIM_THRESHOLD >> 20} MiB, "
        "so activations are reused rather than page-faulted in on every run"
    )
