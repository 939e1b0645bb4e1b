"""A short fixed workload that tells which state the host is in, because a shared VM has two.

On this project's 2-core VM, eager torch with 2 threads ran the same network at 3.75 ms for 5-20 s, then at
6.1 ms for a while, then fast again, within one process, with no load or steal visible inside the VM (with 1
thread: a steady 5.1 ms). The slow state is the hypervisor's doing (our two vCPUs sharing one physical core,
or one of them waiting), and it scales every parallel workload alike. A probe of a few milliseconds, timed
right before and after a measurement, sees it: its time in the slow state is ~1.6x its best.
"""

from __future__ import annotations

import statistics
import time

PROBE_RUNS = 15
PROBE_WARMUP = 3
SLOW_STATE_RATIO = 1.2  # a probe this much slower than the fastest one seen: the host was in its slow state


def probe_ms(threads: int) -> float:
    """Median time of a depthwise 3x3 + pointwise conv pair at 56x56 (MobileNet's own kind of work), in ms."""
    import torch

    prior = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(1, 96, 56, 56, generator=g)
        depthwise = torch.nn.Conv2d(96, 96, 3, padding=1, groups=96, bias=False).eval()
        pointwise = torch.nn.Conv2d(96, 24, 1, bias=False).eval()
        times = []
        with torch.inference_mode():
            for i in range(PROBE_WARMUP + PROBE_RUNS):
                start = time.perf_counter()
                pointwise(depthwise(x))
                if i >= PROBE_WARMUP:
                    times.append((time.perf_counter() - start) * 1000.0)
        return statistics.median(times)
    finally:
        torch.set_num_threads(prior)


def slow_state(probe: float | None, fastest: float | None) -> bool:
    """Whether a measurement bracketed by `probe` ran in the host's slow state, against the fastest probe seen."""
    return probe is not None and fastest is not None and probe > SLOW_STATE_RATIO * fastest


# -- the host's record of its probes: what "fast" means here ------------------------------------------------
LOG_NAME = "host_probes.json"
LOG_KEEP = 200  # probes kept per thread count
LOG_LIMIT_BYTES = 1_000_000
REFERENCE_PERCENTILE = 0.1  # the reference is the 10th percentile of the kept probes: robust to one lucky run
STATE_WAIT_S = 15.0  # `bench` waits at most this long for the fast state (the slow state lasted 5-20 s here)
WAIT_STEP_S = 0.5


def _log_path():
    from ..paths import default_data_dir

    return default_data_dir() / LOG_NAME


def _read_log() -> dict:
    import json

    from ..errors import UserError
    from ..safeio import read_file

    try:
        value = json.loads(read_file(_log_path(), "host probe log", LOG_LIMIT_BYTES))
    except (UserError, OSError, ValueError, RecursionError):
        return {}  # missing or damaged: measuring goes on without a reference, and the log starts again
    return value if isinstance(value, dict) else {}


PLAUSIBLE_MS = (0.005, 5000.0)  # the probe's ~1 MFLOP workload: faster or slower than this never happened
OUTLIER_SHARE = 0.5  # a recorded probe under half the record's median was not a fast state: a damaged entry


def plausible(values) -> list[float]:
    """The record's entries that can be real probe times: numbers in PLAUSIBLE_MS, and none far below the
    rest (one absurd entry must not become the reference every later measurement waits for)."""
    lo, hi = PLAUSIBLE_MS
    kept = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi]
    if len(kept) >= 3:
        mid = statistics.median(kept)
        kept = [v for v in kept if v >= OUTLIER_SHARE * mid]
    return kept


def reference_ms(threads: int) -> float | None:
    """The probe time this host reaches in its fast state at `threads` threads, from its own record."""
    values = _read_log().get(str(threads), [])
    kept = sorted(plausible(values if isinstance(values, list) else []))
    if not kept:
        return None
    return float(kept[int(REFERENCE_PERCENTILE * (len(kept) - 1))])


def record(threads: int, probes: list[float]) -> None:
    """Add probes to the host's record (the newest LOG_KEEP per thread count); never fails a measurement."""
    import json

    from ..errors import UserError
    from ..safeio import atomic_write

    log = _read_log()
    earlier = log.get(str(threads), [])
    kept = plausible(earlier if isinstance(earlier, list) else []) + [round(p, 5) for p in probes]
    log[str(threads)] = kept[-LOG_KEEP:]
    try:
        with atomic_write(_log_path(), "host probe log", rewrites_input=True) as sink:
            sink.write(json.dumps(log).encode())
    except (UserError, OSError):
        pass


def wait_for_fast_state(threads, reference, wait_s, report, check_cancel, probe=None) -> tuple[float, float, int]:
    """Probe until the host is in its fast state or `wait_s` has passed: (last probe, seconds waited, probes)."""
    probe = probe or probe_ms
    start = time.monotonic()
    current, count = probe(threads), 1
    while slow_state(current, reference) and time.monotonic() - start < wait_s:
        check_cancel()
        report(0.0, f"waiting for the host's fast state (a probe ran {current / reference:.1f}x its best)")
        time.sleep(WAIT_STEP_S)
        current, count = probe(threads), count + 1
    return current, time.monotonic() - start, count


def state_figures(before: float, after: float, reference: float | None, waited_s: float, probes: int) -> dict:
    """What the verdict is judged by: the probes around the timing against the reference (or each other)."""
    ref = reference if reference is not None else min(before, after)
    return {
        "probe_before_ms": before,
        "probe_after_ms": after,
        "probe_reference_ms": ref,
        "probe_reference": "this host's record" if reference is not None else "the faster of the two probes",
        "probe_ratio": max(before, after) / ref if ref else None,
        "waited_for_fast_state_s": round(waited_s, 2),
        "probes": probes,
    }
