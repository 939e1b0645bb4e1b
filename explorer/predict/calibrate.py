"""Calibrate the latency model on this host: measure small random networks in fresh worker processes, fit.

Why whole networks, in fresh processes: on this project's 2-core host, layers timed alone summed to ~30 %
less than the network they came from, and one long calibration process drifted 10-20 % slower than `bench`
(which measures in a fresh process). So every sample here is a whole network of the design space, timed in
a short-lived worker of the measurement service (explorer.measure.service) with the same protocol and
verdict as `bench` (without the wait for the host's fast state: a sample timed in the slow state is set
aside instead), and the networks are chosen so that
each layer kind the designs are made of (stem conv, pointwise convs, depthwise 3/5/7 at stride 1 and 2,
residual adds, pool + classifier) appears across many shapes. The first worker also measures the host's
roofs (a large GEMM and a large add) for the roofline prior and chart.

Each worker holds the host lock while it measures; progress is reported, and setting `cancel` ends the
running worker at once (the service's cancel policy). Noisy samples are re-run once by the worker and set
aside if still noisy; with fewer than MIN_CLEAN_SAMPLES clean networks the calibration refuses, saying why,
rather than fit noise.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from ..errors import UserError
from ..measure.hostlock import DEFAULT_TIMEOUT_S
from ..measure.job import PAST_DEADLINE, MeasureJob
from ..measure.probe import SLOW_STATE_RATIO, slow_state
from ..measure.quality import is_trusted
from ..measure.service import MeasureRun, WorkerFailed
from ..measure.target import Target
from ..measure.timing import median
from ..options import Option
from .model import design_row, fit, fit_trimmed, network_ms, prior_coefficients
from .profile import PROFILE_FORMAT, key_hash, profile_key
from .sampling import calibration_designs

DEFAULT_SECONDS = 60.0
MIN_SECONDS = 10.0  # a fresh worker starts in 2-3 s; a fit needs several clean networks after that
SECONDS = Option(
    "seconds",
    float,
    DEFAULT_SECONDS,
    lo=MIN_SECONDS,
    hi=600.0,
    metavar="S",
    help="calibration budget",
    why="a fresh worker and enough networks for a fit need it",
)
SEED = Option("seed", int, 0, lo=0, hi=2**32 - 1, metavar="N", help="which random calibration networks")
DESIGNS_PER_WORKER = {"torch": 10, "onnxruntime": 6}  # short-lived workers: no long-process drift
SAMPLE_BUDGET_S = 0.15  # timed seconds per network (extended to MIN_RUNS runs)
MIN_RUNS = 5
WORKER_START_S = 3.0  # importing torch in a fresh process: no new worker when less than this is left
MIN_CLEAN_SAMPLES = 3  # fewer clean samples than this: refuse to fit, and say why
CV_FOLDS = 5
# `bench` times for 1-2 s per design; calibration samples for 0.15 s. On this project's host eager torch ran
# ~3 % slower over the longer window (sustained load), so a few calibration networks are timed again with the
# longer budget and the ratio scales the fitted model. Skipped for budgets too small to afford it.
ASSUMED_ROOFS = {"peak_gflops": 100.0, "bandwidth_gbs": 10.0, "note": "not measured: assumed"}
PROTOCOL_CHECK_DESIGNS = 3
PROTOCOL_CHECK_BUDGET_S = 1.0
PROTOCOL_CHECK_MIN_SECONDS = 20.0
PROTOCOL_CHECK_RESERVE_S = 8.0
PROTOCOL_SCALE_RANGE = (0.9, 1.1)
PROTOCOL_AGREEMENT = 0.05  # the re-timed networks' ratios must agree within 5 % for the scale to apply
FINISH_MARGIN_S = 3.0  # a 60 s calibration measured 61 s with 1.5: the probes and the fit need the margin

Progress = Callable[[float, str], None]


def calibrate(
    backend: str = "torch",
    device: str = "cpu",
    threads: int | None = None,
    batch: int = 1,
    seconds: float = DEFAULT_SECONDS,
    seed: int = 0,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
) -> dict:
    """Measure and fit; returns the profile (a JSON-able dict). The caller stores it (ResultStore.add_profile).
    Raises UserError (naming the reason) when too few clean networks were measured for a fit."""
    target = Target(backend, device, threads, batch).resolved()
    key = profile_key(backend, device, target.threads, batch)
    SECONDS.check(seconds)
    SEED.check(seed)
    check_calibration_memory(target, seconds, seed)
    report = progress or (lambda f, m: None)
    started = time.monotonic()
    check = seconds >= PROTOCOL_CHECK_MIN_SECONDS
    # the design in flight when time is up still finishes, and the fit follows: stop starting new ones early
    main_s = max(0.5, seconds - FINISH_MARGIN_S - (PROTOCOL_CHECK_RESERVE_S if check else 0.0))
    measured, roofs, workers, errors = _measure(target, main_s, seed, report, cancel, lock_timeout)
    refuse_if_too_few_clean(measured, errors)
    protocol = _protocol_check(target, measured, report, cancel, lock_timeout) if check else None
    report(0.97, f"fitting the model on the clean ones of {len(measured)} networks")
    profile = build_profile(key, measured, roofs, backend, protocol)
    profile["calibration"] = {
        "seconds_asked": seconds,
        "wall_s": round(time.monotonic() - started, 2),
        "workers": workers,
        "designs_per_worker": DESIGNS_PER_WORKER[backend],
        "sample_budget_s": SAMPLE_BUDGET_S,
        "min_runs": MIN_RUNS,
        "seed": seed,
        "sampler": "explorer.predict.sampling.calibration_designs",
        "errors": errors,  # designs or workers that failed: said, never dropped
    }
    report(1.0, "calibrated")
    return profile


def calibration_job(target: Target, designs: list, budget_s: float, min_runs: int, **options) -> MeasureJob:
    """Calibration's request to the measurement service: no fast-state wait (a slow sample is set aside
    instead), no history check (random networks have none), one retry of a noisy sample."""
    return MeasureJob(
        designs,
        target,
        budget_s=budget_s,
        min_runs=min_runs,
        retries=1,
        wait_for_fast_state=False,
        history=False,
        purpose="calibration",
        **options,
    )


def check_calibration_memory(target: Target, seconds: float, seed: int) -> None:
    """The largest calibration network at this batch must fit (explorer.measure.memory), before any work."""
    from ..measure.memory import check_memory, estimate_bytes

    designs = calibration_designs(_design_count(seconds, target.backend), seed)
    largest = max(designs, key=lambda d: estimate_bytes(d, target.batch, target.backend))
    check_memory(largest, target.batch, target.backend)


def _design_count(seconds: float, backend: str) -> int:
    return int(seconds * 8) + DESIGNS_PER_WORKER[backend]


def _measure(target: Target, seconds: float, seed: int, report, cancel, lock_timeout: float):
    deadline = time.monotonic() + seconds
    per_worker = DESIGNS_PER_WORKER[target.backend]
    designs = {d.network_hash(): d for d in calibration_designs(_design_count(seconds, target.backend), seed)}
    queue_ = list(designs.values())
    measured, roofs, workers, errors = [], None, 0, []
    while queue_ and (workers == 0 or deadline - time.monotonic() > WORKER_START_S):
        chunk, queue_ = queue_[:per_worker], queue_[per_worker:]
        job = calibration_job(
            target,
            chunk,
            SAMPLE_BUDGET_S,
            MIN_RUNS,
            roofs=roofs is None,
            stop_at=time.time() + max(0.0, deadline - time.monotonic()),
            lock_timeout_s=lock_timeout,
        )
        workers += 1
        run = MeasureRun(job, cancel=cancel, progress=lambda f, m: report(0.0, m) if f == 0.0 else None)
        try:
            for m in run:
                if m.error:
                    if m.error != PAST_DEADLINE:  # the seconds ran out: expected, not a failure to report
                        errors.append(f"{m.design.name}: {m.error}")
                    continue
                measured.append(sample(m))
                noisy = sum(1 for x in measured if not is_trusted(x))
                frac = min(0.88, 1 - (deadline - time.monotonic()) / seconds)
                report(frac, f"measured {len(measured)} networks ({noisy} noisy) in {workers} fresh processes")
        except WorkerFailed as e:  # said in the profile and, with no network at all, in the refusal
            errors.append(str(e))
        roofs = roofs or run.roofs
    if not measured:
        why = f" ({errors[0]})" if errors else ""
        raise UserError(f"calibration measured no network{why}")
    return measured, roofs, workers, errors


def sample(m) -> dict:
    """One calibration sample from the service's Measured: the figures the fit and the profile use."""
    r = m.result
    q = r["quality"]
    return {
        "design_hash": m.design.network_hash(),
        "name": m.design.name,
        "median_ms": r["median_ms"],
        "iqr_ms": r["iqr_ms"],
        "runs": r["runs"],
        "quality": q,
        "tries": m.tries,
        # the host's state around the timing (explorer.measure.probe): the slower of the two probes
        "probe_ms": max(q["probe_before_ms"], q["probe_after_ms"]) if "probe_ratio" in q else None,
        "design": m.design,
    }


def refuse_if_too_few_clean(measured: list[dict], errors: list[str]) -> None:
    """Never fit noise: with fewer than MIN_CLEAN_SAMPLES clean networks, refuse and say why."""
    clean = [m for m in measured if is_trusted(m)]
    if len(clean) >= MIN_CLEAN_SAMPLES:
        return
    reasons = Counter(r.split(":")[0].split(" (")[0] for m in measured for r in m["quality"].get("reasons", []))
    common = f"; most often: {reasons.most_common(1)[0][0]}" if reasons else ""
    failed = f"; {len(errors)} failed ({errors[0]})" if errors else ""
    raise UserError(
        f"calibration refused: only {len(clean)} of {len(measured)} measured networks were clean "
        f"(at least {MIN_CLEAN_SAMPLES} are needed for a fit){common}{failed}; close busy programs, "
        "give it more --seconds, and calibrate again"
    )


def _protocol_check(target: Target, measured: list[dict], report, cancel, lock_timeout: float) -> dict:
    """Time a few clean calibration networks again with `bench`'s longer budget; the median ratio long/short."""
    clean = sorted((m for m in measured if is_trusted(m)), key=lambda m: m["median_ms"])
    if not clean:
        return {"scale": 1.0, "pairs": [], "note": "no clean sample to check"}
    step = max(1, len(clean) // PROTOCOL_CHECK_DESIGNS)
    picked = clean[step // 2 :: step][:PROTOCOL_CHECK_DESIGNS]
    report(0.9, f"timing {len(picked)} networks again with a {PROTOCOL_CHECK_BUDGET_S:.0f} s budget, as bench does")
    job = calibration_job(
        target, [m["design"] for m in picked], PROTOCOL_CHECK_BUDGET_S, 10, lock_timeout_s=lock_timeout
    )
    short = {m["design_hash"]: m["median_ms"] for m in picked}
    pairs = []
    try:
        outcomes = list(MeasureRun(job, cancel=cancel))
    except WorkerFailed as e:
        return {"scale": 1.0, "pairs": [], "note": f"not checked: {e}"}
    for m in outcomes:
        h = m.design.network_hash()
        if m.trusted and h in short:
            pairs.append({"design_hash": h, "short_ms": short[h], "long_ms": m.result["median_ms"]})
    if not pairs:
        return {"scale": 1.0, "pairs": [], "note": "the longer timings were noisy: no correction"}
    ratios = sorted(p["long_ms"] / p["short_ms"] for p in pairs)
    mid = median(ratios)
    lo, hi = PROTOCOL_SCALE_RANGE
    # A shared VM can slow down for seconds with no load visible inside it (an ONNX Runtime network measured
    # 1.6x slower for one window here, judged clean): scale only on a consistent, modest correction.
    if len(pairs) < 2 or ratios[-1] - ratios[0] > PROTOCOL_AGREEMENT * mid or not lo <= mid <= hi:
        return {"scale": 1.0, "pairs": pairs, "budget_s": PROTOCOL_CHECK_BUDGET_S, "note": "inconsistent: not applied"}
    return {"scale": mid, "pairs": pairs, "budget_s": PROTOCOL_CHECK_BUDGET_S}


def build_profile(
    key: dict, measured: list[dict], roofs: dict | None, backend: str, protocol: dict | None = None
) -> dict:
    refuse_if_too_few_clean(measured, [])
    clean = [m for m in measured if is_trusted(m)]
    # Samples timed while the host was in its slow state (explorer.measure.probe) say little about the design.
    probes = [m["probe_ms"] for m in measured if m.get("probe_ms")]
    fastest_probe = min(probes) if probes else None
    steady = [m for m in clean if not slow_state(m.get("probe_ms"), fastest_probe)]
    used = steady if len(steady) >= MIN_CLEAN_SAMPLES else clean
    roofs = roofs or ASSUMED_ROOFS
    prior = prior_coefficients(roofs["peak_gflops"], roofs["bandwidth_gbs"], backend)
    rows = [design_row(m["design"], key["batch"]) for m in used]
    times = [m["median_ms"] for m in used]
    scale = (protocol or {}).get("scale", 1.0)
    fitted, set_aside = fit_trimmed(rows, times, prior)
    slow = {used[i]["design_hash"] for i in set_aside}  # likely timed in a slow window
    coefficients = {name: v * scale for name, v in fitted.items()}
    cv = cross_validate(rows, times, prior)
    used_hashes = {m["design_hash"] for m in used}
    return {
        "format": PROFILE_FORMAT,
        "key": key,
        "key_hash": key_hash(key),
        "created": _now(),
        "model": {"coefficients": coefficients, "prior": prior, "prior_weight": _prior_weight()},
        "roofs": roofs,
        "protocol_check": protocol,
        "band_pct": cv["p90_error_pct"],
        "cv": cv,
        "quality": _quality(len(measured), len(clean)),
        "fitted_on": sorted(used_hashes),
        "set_aside": set_aside_summary(measured, used_hashes, slow, len(clean) - len(steady) if used is steady else 0),
        "set_aside_slow": sorted(slow),  # measured > 12 % slower than the first fit: left out of the final fit
        "host_state": {
            "fastest_probe_ms": fastest_probe,
            "slow_state_ratio": SLOW_STATE_RATIO,
            "slow_state_samples": len(clean) - len(steady),
            "used_slow_state_samples": used is not steady and len(clean) > len(steady),
        },
        "samples": [  # every measured network, used or set aside, with its verdict
            {
                "design_hash": m["design_hash"],
                "name": m["name"],
                "median_ms": m["median_ms"],
                "verdict": m["quality"]["verdict"],
                "reasons": m["quality"].get("reasons", []),
                "probe_ms": m.get("probe_ms"),
                "used": m["design_hash"] in used_hashes,
                "set_aside_slow": m["design_hash"] in slow,
                "design": m["design"].to_dict(),
            }
            for m in measured
        ],
    }


def _quality(measured: int, clean: int) -> str:
    """ "ok" (refuse_if_too_few_clean has already refused a calibration with too few clean networks)."""
    return "ok" if clean >= MIN_CLEAN_SAMPLES else f"only {clean} of {measured} samples were clean"


def set_aside_summary(measured: list[dict], used: set[str], outliers: set[str], slow_state: int) -> dict:
    """How many networks were measured, how many the fit used, and why the others were set aside."""
    noisy = [m for m in measured if not is_trusted(m)]
    why = Counter(r.split(" (")[0].split(":")[0] for m in noisy for r in m["quality"].get("reasons", [])[:1])
    groups = [{"count": n, "why": f"noisy: {reason}"} for reason, n in why.most_common()]
    if slow_state:
        groups.append({"count": slow_state, "why": "timed while the host was in its slow state"})
    if outliers:
        groups.append({"count": len(outliers), "why": "far slower than the first fit predicted (a slow window)"})
    return {"measured": len(measured), "fitted": len(used - outliers), "groups": groups}


def set_aside_line(profile: dict) -> str:
    """One sentence for the CLI and the app: "measured 36 networks, fitted on 19; set aside: 12 noisy ..."."""
    s = profile.get("set_aside") or {}
    groups = "; ".join(f"{g['count']} {g['why']}" for g in s.get("groups", []))
    head = f"measured {s.get('measured', len(profile.get('samples', [])))} networks, fitted on {s.get('fitted', 0)}"
    return head + (f"; set aside: {groups}" if groups else "")


def cross_validate(rows: list[list[float]], times: list[float], prior: dict) -> dict:
    """K-fold error of the fit on networks it did not see: the band the prediction is shown with."""
    n = len(rows)
    if n < CV_FOLDS:
        return {"folds": 0, "n": n, "p90_error_pct": None, "median_error_pct": None, "within_10_pct": None}
    errors = []
    for k in range(CV_FOLDS):
        train = [i for i in range(n) if i % CV_FOLDS != k]
        coef = fit([rows[i] for i in train], [times[i] for i in train], prior)
        for i in range(k, n, CV_FOLDS):
            pred = network_ms(coef, rows[i])
            errors.append(abs(pred - times[i]) / times[i] * 100)
    errors.sort()
    return {
        "folds": CV_FOLDS,
        "n": n,
        "p90_error_pct": round(errors[min(n - 1, int(0.9 * n))], 1),
        "median_error_pct": round(median(errors), 1),
        "within_10_pct": round(sum(e <= 10 for e in errors) / n * 100, 1),
    }


def _prior_weight() -> float:
    from .model import PRIOR_WEIGHT

    return PRIOR_WEIGHT


def _now() -> str:
    from ..paths import now_iso

    return now_iso()
