"""Can a latency measurement be trusted? A verdict, its reasons, and the figures behind them.

A busy host does not make timings a little noisy, it makes them meaningless (eager torch with 2 threads ran
~260x slower beside two busy loops on a 2-core host). So every result carries a verdict:

- other load: CPU time used by *other* processes during the timed window (the whole machine's busy time from
  /proc/stat minus this process's own), plus steal time on a VM, judged against the cores the requested
  threads need;
- dispersion: IQR / median of the samples (block means; torch.utils.benchmark's adaptive_autorange aims
  for 0.1, quiet runs here show 3-8 %), and the width of a bootstrap 95 % interval of the median;
- enough samples to judge at all;
- and, where the results store holds earlier clean measurements of the same network under the same settings,
  agreement with them (`consistency`): a shared VM can run a whole second 1.7x slower with a clean spread and
  no load visible inside it, which only a comparison with this host's own history reveals.

A noisy result is still kept, but marked: pages draw it hollow and leave it out of fronts, ratios and verdicts.
Pure Python + numpy; reads /proc only (Linux). Where /proc/stat is missing, other load is "not observed".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from statistics import median as stats_median

from .probe import SLOW_STATE_RATIO

DISPERSION_LIMIT = 0.15  # IQR / median of block means (quiet here: 3-8 %)
CI_LIMIT_PCT = 3.0  # half-width of the median's bootstrap 95 % interval, in % of the median
SPARE_LOAD_CORES = 0.1  # other load tolerated beyond the cores our threads leave free (0.13 cost 10-70 % here)
MIN_SAMPLES = 5
BOOTSTRAP_RESAMPLES = 300
HISTORY_LIMIT = 0.15  # a median this far from the median of this host's earlier clean measurements: noisy
HISTORY_MIN = 2  # earlier clean measurements needed before history can judge
HISTORY_USED = 5  # the newest ones
VERDICTS = ("ok", "noisy", "unchecked")


def median(values) -> float:
    """The one median of the measuring code (the statistics module's: the mean of the middle two when even)."""
    return float(stats_median(values))


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds at one instant: the whole machine's busy and steal time, and this process's own."""

    busy_s: float | None  # all CPUs, user + nice + system + irq + softirq (None: /proc/stat unreadable)
    steal_s: float | None
    own_s: float  # this process, all threads, user + system


def cpu_snapshot() -> CpuSnapshot:
    t = os.times()
    own = t.user + t.system
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return CpuSnapshot(None, None, own)
    if not fields or fields[0] != "cpu":
        return CpuSnapshot(None, None, own)
    ticks = [int(v) for v in fields[1:]]
    ticks += [0] * (8 - len(ticks))
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]
    busy = user + nice + system + irq + softirq
    return CpuSnapshot(busy / _CLOCK_TICKS, steal / _CLOCK_TICKS, own)


def load_between(before: CpuSnapshot, after: CpuSnapshot, window_s: float) -> dict:
    """Average cores used by other processes, by steal and by us over a window of window_s seconds."""
    own = max(0.0, after.own_s - before.own_s) / window_s if window_s > 0 else 0.0
    if before.busy_s is None or after.busy_s is None or window_s <= 0:
        return {"window_s": window_s, "own_cpu_cores": own, "other_cpu_cores": None, "steal_cores": None}
    busy = max(0.0, after.busy_s - before.busy_s) / window_s
    steal = max(0.0, after.steal_s - before.steal_s) / window_s
    # Counters tick at 1/SC_CLK_TCK: allow two ticks per window of rounding before calling it load.
    slack = 2.0 / _CLOCK_TICKS / window_s
    other = max(0.0, busy - own - slack)
    return {"window_s": window_s, "own_cpu_cores": own, "other_cpu_cores": other, "steal_cores": steal}


def median_interval(samples_ms, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Bootstrap 95 % interval of the median (seeded: the same samples give the same interval)."""
    import numpy as np

    a = np.asarray(samples_ms, dtype=float)
    if a.size < 2:
        v = float(a[0]) if a.size else float("nan")
        return v, v
    rng = np.random.default_rng(seed)
    medians = np.median(a[rng.integers(0, a.size, size=(resamples, a.size))], axis=1)
    lo, hi = np.percentile(medians, [2.5, 97.5])
    return float(lo), float(hi)


def judge(samples_ms, *, threads: int, cores: int, load: dict | None, state: dict | None = None) -> dict:
    """The verdict on one set of timed samples: {"verdict", "reasons", and every figure it was judged by}."""
    import numpy as np

    a = np.asarray(samples_ms, dtype=float)
    reasons: list[str] = []
    figures: dict = {"samples": int(a.size), "threads": threads, "cores": cores}
    if a.size:
        p25, median, p75 = (float(v) for v in np.percentile(a, [25, 50, 75]))
        dispersion = (p75 - p25) / median if median > 0 else float("inf")
        lo, hi = median_interval(a)
        ci_pct = 100.0 * (hi - lo) / 2 / median if median > 0 else float("inf")
        figures.update(dispersion=dispersion, median_ci95_ms=[lo, hi], median_ci95_pct=ci_pct)
        if dispersion > DISPERSION_LIMIT:
            reasons.append(
                f"samples spread widely: IQR is {dispersion * 100:.0f} % of the median "
                f"(limit {DISPERSION_LIMIT * 100:.0f} %)"
            )
        if ci_pct > CI_LIMIT_PCT:
            reasons.append(f"the median is uncertain by ±{ci_pct:.1f} % (limit ±{CI_LIMIT_PCT:.0f} %)")
    if a.size < MIN_SAMPLES:
        reasons.append(f"only {a.size} timed samples (at least {MIN_SAMPLES} are needed to judge); raise the budget")
    if threads > cores:
        reasons.append(f"{threads} threads requested on {cores} cores: oversubscribed threads wait on each other")
    if load is not None:
        figures.update({k: load.get(k) for k in ("window_s", "own_cpu_cores", "other_cpu_cores", "steal_cores")})
        other, steal = load.get("other_cpu_cores"), load.get("steal_cores")
        if other is not None:
            spare = max(0.0, cores - threads)
            taken = other + (steal or 0.0)
            figures["tolerated_other_cores"] = spare + SPARE_LOAD_CORES
            if taken > spare + SPARE_LOAD_CORES:
                steal_part = f" (of which VM steal {steal:.2f})" if steal and steal >= 0.05 else ""
                reasons.append(
                    f"other processes used {taken:.2f} of {cores} cores while timing{steal_part}; "
                    f"{threads} threads needed {min(threads, cores)} free"
                )
        else:
            figures["load_note"] = "other load not observed (no /proc/stat on this system)"
    if state is not None:  # explorer.measure.probe: the shared host's slow state, invisible in /proc/stat
        figures.update(state)
        ratio = state.get("probe_ratio")
        if ratio is not None and ratio > SLOW_STATE_RATIO:
            against = "this host's best" if state.get("probe_reference") == "this host's record" else "the other"
            waited = state.get("waited_for_fast_state_s") or 0.0
            reasons.append(
                f"the host was in its slow state: a reference workload ran {ratio:.1f}x {against} "
                f"(its virtual CPUs were shared with other machines"
                + (f"; waited {waited:.0f} s for the fast state" if waited >= 1 else "")
                + "); measure again later"
            )
    return {"verdict": "noisy" if reasons else "ok", "reasons": reasons, **figures}


def consistency(result: dict, earlier: list[dict]) -> dict:
    """Judge `result` (a latency result dict with "quality") against earlier results of the same network and
    settings, newest first; returns the result with the history figures added and, if it disagrees, the
    verdict turned noisy. Only earlier results judged ok count."""
    trusted = [r["median_ms"] for r in earlier if is_trusted(r)][:HISTORY_USED]
    q = dict(result.get("quality") or {})
    if len(trusted) < HISTORY_MIN:
        q["history"] = {"earlier": len(trusted), "note": "too few earlier clean measurements to compare"}
        return {**result, "quality": q}
    reference = median(trusted)
    off = result["median_ms"] / reference - 1
    q["history"] = {"earlier": len(trusted), "reference_ms": reference, "off": off}
    if abs(off) > HISTORY_LIMIT:
        q["verdict"] = "noisy"
        q["reasons"] = [
            *q.get("reasons", []),
            f"{off * 100:+.0f} % against this host's last {len(trusted)} clean measurements of this network "
            f"(median {reference:.3f} ms): the machine may have been slowed from outside; measure again",
        ]
    return {**result, "quality": q}


def verdict(result: dict | None) -> str:
    """ "ok", "noisy", or "unchecked" for results stored before quality was judged."""
    q = (result or {}).get("quality") or {}
    v = q.get("verdict") if isinstance(q, dict) else None
    return v if v in ("ok", "noisy") else "unchecked"


def is_trusted(result: dict | None) -> bool:
    """Only results judged ok go into fronts, ratios and verdicts."""
    return verdict(result) == "ok"


def reasons(result: dict | None) -> list[str]:
    q = (result or {}).get("quality") or {}
    if verdict(result) == "unchecked":
        return ["measured before quality checks existed: not judged"]
    return [str(r) for r in q.get("reasons") or []]


def warning_line(result: dict) -> str:
    """One line for stderr or a UI warning; empty when the result is ok."""
    if is_trusted(result):
        return ""
    why = "; ".join(reasons(result)) or "not judged"
    return f"noisy measurement, do not trust it: {why}"
