"""Timing one callable the way the latency protocol says: warm-up excluded, threads set explicitly and
restored, torch.utils.benchmark blocks synchronized at both ends on a GPU, every raw sample kept.

Shared by whole-network measurements (explorer.latency, explorer.latency_ort) and the per-layer split.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .hostlock import Cancelled

WARMUP_MIN_RUNS = 3
WARMUP_SHARE = 0.2  # automatic warm-up lasts at least this share of the budget
WARMUP_MAX_RUNS = 200

Progress = Callable[[float, str], None]


def synchronizer(device: str) -> Callable[[], None]:
    import torch

    if device == "cuda":
        return torch.cuda.synchronize
    if device == "mps":
        return torch.mps.synchronize
    return lambda: None


def time_callable(
    fn: Callable[[], object],
    *,
    device: str,
    threads: int,
    budget_s: float,
    min_runs: int,
    warmup: int | None,
    deadline: float,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> dict:
    """Warm up, then time `fn` with torch.utils.benchmark. The caller sets the grad mode; threads are set here
    and restored. Returns per-run samples (ms), block size, warm-up runs and the time spent timing."""
    import torch
    from torch.utils.benchmark import Timer

    sync = synchronizer(device)
    shown = [0.0]

    def report(frac: float, msg: str) -> None:  # never backwards, even when a second round is needed
        shown[0] = max(shown[0], frac)
        if progress is not None:
            progress(shown[0], msg)

    def check_cancel() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("measurement cancelled")

    prior_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        warm_times, t_start = [], time.perf_counter()
        warm_for = WARMUP_SHARE * budget_s if warmup is None else 0.0
        while True:  # warm-up: excluded from the samples
            n = len(warm_times)
            if warmup is not None and n >= warmup:
                break
            if (
                warmup is None
                and n >= WARMUP_MIN_RUNS
                and (time.perf_counter() - t_start >= warm_for or n >= WARMUP_MAX_RUNS)
            ):
                break
            if n and time.monotonic() > deadline:
                break
            check_cancel()
            t0 = time.perf_counter()
            fn()
            sync()
            warm_times.append(time.perf_counter() - t0)
            report(0.2 * min(1.0, n / max(WARMUP_MIN_RUNS, 1)), f"warming up ({n + 1} runs, not counted)")
        # Enough time for min_runs runs at the warmed-up speed, within the cap.
        est = sorted(warm_times[-5:])[len(warm_times[-5:]) // 2] if warm_times else 0.0
        run_time = max(budget_s, 1.1 * min_runs * est)
        run_time = max(0.0, min(run_time, deadline - time.monotonic()))
        spent, timed = [0.0], [0.0]  # this round / all rounds

        def on_block(number: int, seconds: float) -> None:
            spent[0] += seconds
            timed[0] += seconds
            frac = 0.2 + 0.8 * min(1.0, spent[0] / run_time) if run_time else 1.0
            report(frac, f"timing ({number} runs per sample, {spent[0]:.1f} of {run_time:.1f} s)")
            check_cancel()

        def timer() -> float:
            sync()
            return time.perf_counter()

        # The timer synchronizes the device at both ends of each block: launches are never timed alone.
        t = Timer(stmt="fn()", globals={"fn": fn}, timer=timer, num_threads=threads)
        samples, runs, block = [], 0, 1
        while True:
            m = t.blocked_autorange(callback=on_block, min_run_time=run_time)
            samples += [s * 1000.0 / m.number_per_run for s in m.raw_times]
            runs += len(m.raw_times) * m.number_per_run
            block = max(block, m.number_per_run)
            left = deadline - time.monotonic()
            if runs >= min_runs or left <= 0:
                break
            # Slower than the warm-up promised (a busy host): time the missing runs, within the cap.
            per_run = sorted(samples)[len(samples) // 2] / 1000.0
            run_time = min(1.1 * (min_runs - runs) * per_run, left)
            spent[0] = 0.0
    finally:
        torch.set_num_threads(prior_threads)
    return {"samples_ms": samples, "runs": runs, "block_size": block, "warmup_runs": len(warm_times),
            "timed_s": timed[0]}  # fmt: skip


def statistics(samples_ms: list[float]) -> dict:
    import numpy as np

    a = np.asarray(samples_ms, dtype=float)
    p10, p25, p50, p75, p90 = (float(v) for v in np.percentile(a, [10, 25, 50, 75, 90]))
    return {"median_ms": p50, "iqr_ms": p75 - p25, "p10_ms": p10, "p90_ms": p90, "p25_ms": p25, "p75_ms": p75,
            "mean_ms": float(a.mean()), "min_ms": float(a.min())}  # fmt: skip
