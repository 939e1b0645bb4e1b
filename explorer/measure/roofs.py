"""The roofline's two roofs on this host: a large GEMM (peak FLOP/s) and a large add (memory bandwidth).

Timed by the measurement worker (explorer.measure.worker) for the latency model's calibration, with the same
timing and verdict as every other measurement.
"""

from __future__ import annotations

import time

from .target import Target

GEMM_N = 1024  # a 1024^3 GEMM: 2.1 GFLOP, big enough to reach the attainable peak
COPY_VALUES = 16 * 2**20  # 64 MiB float32 per tensor: far beyond the caches
ROOF_BUDGET_CAP_S = 0.3  # timed seconds per roof, at most
ROOF_CAP_S = 10.0  # the whole of one roof, warm-up included


def measure_roofs(target: Target, budget_s: float) -> dict:
    import torch

    from .timing import statistics, time_callable

    device, threads = target.device, target.resolved().threads
    budget = min(ROOF_BUDGET_CAP_S, budget_s * 2)
    a = torch.randn(GEMM_N, GEMM_N, device=device)
    b = torch.randn(GEMM_N, GEMM_N, device=device)
    x = torch.randn(COPY_VALUES, device=device)
    y = torch.randn(COPY_VALUES, device=device)
    out = torch.empty(COPY_VALUES, device=device)
    common = dict(device=device, threads=threads, budget_s=budget, min_runs=5, warmup=None)
    gemm = time_callable(lambda: torch.mm(a, b), deadline=time.monotonic() + ROOF_CAP_S, **common)
    add = time_callable(lambda: torch.add(x, y, out=out), deadline=time.monotonic() + ROOF_CAP_S, **common)
    gemm_ms = statistics(gemm["samples_ms"])["median_ms"]
    add_ms = statistics(add["samples_ms"])["median_ms"]
    return {
        "peak_gflops": 2 * GEMM_N**3 / gemm_ms / 1e6,
        "bandwidth_gbs": 3 * 4 * COPY_VALUES / add_ms / 1e6,
        "gemm_ms": gemm_ms,
        "add_ms": add_ms,
        "quality": {"gemm": gemm["quality"].get("verdict"), "add": add["quality"].get("verdict")},
    }
