"""Timing one callable the way the latency protocol says, within a time budget that holds.

Warm-up first (excluded); then the callable runs in blocks of equal size, each block timed with
time.perf_counter and, on a GPU, the device synchronized at both ends, so no un-synchronized launch is ever
timed. Timing is adaptive, in the spirit of torch.utils.benchmark's adaptive_autorange: it stops early once
the median is pinned down (a tight bootstrap interval) and otherwise when the budget is spent. The CPU load
of other processes is sampled around the timed window, and explorer.measure.quality judges the samples.

Shared by whole-network measurements (explorer.measure.latency, explorer.measure.latency_ort) and the latency model's
calibration.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from . import probe, quality
from .hostlock import Cancelled
from .quality import median

WARMUP_MIN_RUNS = 3
WARMUP_SHARE = 0.2  # automatic warm-up lasts this share of the budget (at least WARMUP_MIN_RUNS runs)
WARMUP_MAX_RUNS = 200
BLOCK_TARGET_S = 0.02  # a timed block lasts about this long: per-run jitter of eager ops averages out
EARLY_STOP_SHARE = 0.3  # no early stop before this share of the budget is spent ...
EARLY_STOP_SAMPLES = 20  # ... nor before this many samples
EARLY_STOP_CI_PCT = 1.0  # stop early once the median's 95 % interval is within ±1 %
CHECK_EVERY_S = 0.25  # how often the early-stop rule is evaluated

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
    cores: int | None = None,
    state_wait_s: float | None = None,
) -> dict:
    """Warm up, then time `fn` until the budget is spent or the median is tight. The caller sets the grad mode;
    torch's thread count is set here and restored.

    min_runs: no early stop before this many runs. The budget is never extended: runs that did not fit are
    reported by the quality verdict instead. state_wait_s (CPU only; None: no probe): a short probe before and
    after the timing shows whether the shared host was in its slow state (explorer.measure.probe); before
    timing, wait up to this long for the fast state. `deadline` (time.monotonic) caps everything, warm-up included.
    Returns the samples (ms per run, one per block), runs, block size, warm-up runs and seconds, timed seconds,
    why timing stopped, and the quality verdict (explorer.measure.quality.judge)."""
    import torch

    from .hostinfo import usable_logical_cores

    sync = synchronizer(device)
    report = _Forward(progress)
    check_cancel = _canceller(cancel)

    def run_once() -> float:
        t0 = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - t0

    probing = state_wait_s is not None and device == "cpu"
    state = None
    prior_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        if probing:
            reference = probe.reference_ms(threads)
            before, waited, probes = probe.wait_for_fast_state(threads, reference, state_wait_s, report, check_cancel)
        warm_times = _warm_up(run_once, budget_s, warmup, deadline, report, check_cancel)
        block = _block_size(warm_times, budget_s)
        window = _timed_blocks(fn, sync, block, budget_s, min_runs, deadline, report, check_cancel)
        if probing:
            state = _state_after(threads, reference, before, waited, probes)
    finally:
        torch.set_num_threads(prior_threads)
    samples = window["samples_ms"]
    verdict = quality.judge(
        samples, threads=threads, cores=cores or usable_logical_cores(), load=window.pop("load"), state=state
    )
    return {
        **window,
        "block_size": block,
        "warmup_runs": len(warm_times),
        "warmup_s": sum(warm_times),
        "quality": verdict,
    }


class _Forward:
    """Progress that never goes backwards."""

    def __init__(self, progress: Progress | None):
        self.progress, self.shown = progress, 0.0

    def __call__(self, frac: float, msg: str) -> None:
        self.shown = max(self.shown, frac)
        if self.progress is not None:
            self.progress(self.shown, msg)


def _canceller(cancel: threading.Event | None) -> Callable[[], None]:
    def check_cancel() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("measurement cancelled")

    return check_cancel


def _block_size(warm_times: list[float], budget_s: float) -> int:
    """Runs per timed block: a block lasts about BLOCK_TARGET_S (and at most a 20th of the budget)."""
    per_run = median(warm_times[-5:]) if warm_times else 0.0
    return max(1, math.ceil(min(BLOCK_TARGET_S, budget_s / 20) / per_run)) if per_run > 0 else 1


def _timed_blocks(fn, sync, block: int, budget_s: float, min_runs: int, deadline: float, report, check_cancel):
    """Blocks of `block` runs until the budget is spent, the median is tight or the deadline passes; the CPU
    load of other processes is sampled around the whole window."""
    samples: list[float] = []
    runs, stopped = 0, "budget"
    cpu_before = quality.cpu_snapshot()
    start = time.perf_counter()
    next_check = start + CHECK_EVERY_S
    while True:
        check_cancel()
        sync()
        t0 = time.perf_counter()
        for _ in range(block):
            fn()
        sync()
        t1 = time.perf_counter()
        samples.append((t1 - t0) * 1000.0 / block)
        runs += block
        spent = t1 - start
        report(0.2 + 0.8 * min(1.0, spent / budget_s), f"timing ({runs} runs, {spent:.1f} of {budget_s:.1f} s)")
        if spent >= budget_s:
            break
        if time.monotonic() >= deadline:
            stopped = "time cap"
            break
        if t1 >= next_check:
            next_check = t1 + CHECK_EVERY_S
            if _tight(samples, runs, min_runs, spent, budget_s):
                stopped = "median tight"
                break
    timed_s = time.perf_counter() - start
    load = quality.load_between(cpu_before, quality.cpu_snapshot(), timed_s)
    return {"samples_ms": samples, "runs": runs, "timed_s": timed_s, "stopped": stopped, "load": load}


def _state_after(threads: int, reference, before: float, waited: float, probes: int) -> dict:
    """The probe after the timing (looked at twice when slow: one slow probe is not yet a state), recorded."""
    after = probe.probe_ms(threads)
    probes += 1
    if probe.slow_state(after, reference or before):
        after = min(after, probe.probe_ms(threads))
        probes += 1
    probe.record(threads, [before, after])
    return probe.state_figures(before, after, reference, waited, probes)


def _warm_up(run_once, budget_s, warmup, deadline, report, check_cancel) -> list[float]:
    """Run until warm: `warmup` runs when given, else at least WARMUP_MIN_RUNS and WARMUP_SHARE of the budget."""
    warm_times: list[float] = []
    warm_for = WARMUP_SHARE * budget_s
    while True:
        n = len(warm_times)
        if warmup is not None and n >= warmup:
            break
        if warmup is None and n >= WARMUP_MIN_RUNS and (sum(warm_times) >= warm_for or n >= WARMUP_MAX_RUNS):
            break
        if n and time.monotonic() > deadline:
            break
        check_cancel()
        warm_times.append(run_once())
        report(0.2 * min(1.0, (n + 1) / max(WARMUP_MIN_RUNS, 1)), f"warming up ({n + 1} runs, not counted)")
    return warm_times


def _tight(samples: list[float], runs: int, min_runs: int, spent: float, budget_s: float) -> bool:
    """The adaptive stop: enough samples and time for a fair median, and its 95 % interval within ±1 %."""
    if runs < min_runs or len(samples) < EARLY_STOP_SAMPLES or spent < EARLY_STOP_SHARE * budget_s:
        return False
    lo, hi = quality.median_interval(samples, resamples=100)
    mid = median(samples)
    return mid > 0 and (hi - lo) / 2 / mid * 100 <= EARLY_STOP_CI_PCT


def statistics(samples_ms: list[float]) -> dict:
    import numpy as np

    a = np.asarray(samples_ms, dtype=float)
    p10, p25, p50, p75, p90 = (float(v) for v in np.percentile(a, [10, 25, 50, 75, 90]))
    return {
        "median_ms": p50,
        "iqr_ms": p75 - p25,
        "p10_ms": p10,
        "p90_ms": p90,
        "p25_ms": p25,
        "p75_ms": p75,
        "mean_ms": float(a.mean()),
        "min_ms": float(a.min()),
    }
