"""`python -m explorer calibrate`: fit the latency model on this host and store the profile.

Imports nothing heavy at module level; the measurements run in fresh worker processes.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from ..options import BACKEND, BATCH, THREADS, check_args
from ..predict.calibrate import SECONDS
from ..predict.profile import PROFILE_DEVICE

# The run options of explorer.options; a latency profile is made on the CPU or a CUDA GPU only.
TARGET_OPTIONS = (BACKEND, PROFILE_DEVICE, THREADS, BATCH)


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    """--backend/--device/--threads/--batch/--store, shared with `predict` and `search`."""
    for option in TARGET_OPTIONS:
        option.add_to(p)
    p.add_argument("--store", metavar="FILE", help="results store file (default: the user data folder)")


def resolve_target(args: argparse.Namespace) -> tuple[str, str, int, int]:
    """The checked target; threads not given = all physical cores."""
    from ..measure.hostinfo import physical_cores
    from ..predict.profile import check_target

    check_args(args, TARGET_OPTIONS)
    threads = physical_cores() if args.threads is None else args.threads
    check_target(args.backend, args.device, threads, args.batch)  # the device must be present here
    return args.backend, args.device, threads, args.batch


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_target_arguments(p)
    SECONDS.add_to(p)
    p.add_argument("--seed", type=int, default=0, help="which random calibration networks (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object; progress as JSON lines on stderr")


def _progress(as_json: bool, tty: bool):
    def show(frac: float, msg: str) -> None:
        if as_json:
            sys.stderr.write(json.dumps({"progress": round(frac, 3), "message": msg}) + "\n")
        elif tty:
            sys.stderr.write(f"\r{frac * 100:3.0f}%  {msg}"[:100].ljust(100))
        sys.stderr.flush()

    return show


def run(args: argparse.Namespace) -> int:
    from ..predict.calibrate import calibrate
    from ..store.results import ResultStore

    backend, device, threads, batch = resolve_target(args)
    check_args(args, [SECONDS])
    store = ResultStore(args.store)  # a damaged store fails now, not after the calibration
    cancel = threading.Event()
    prior = signal.signal(signal.SIGTERM, lambda *_: cancel.set())  # the app's Cancel: stop the workers cleanly
    try:
        tty = sys.stderr.isatty() and not args.json
        profile = calibrate(
            backend,
            device,
            threads,
            batch,
            seconds=args.seconds,
            seed=args.seed,
            progress=_progress(args.json, tty),
            cancel=cancel,
        )
        if tty:
            sys.stderr.write("\r" + " " * 100 + "\r")
    finally:
        signal.signal(signal.SIGTERM, prior)
    row_id = store.add_profile(profile["key"], profile)
    from ..predict import profile_summary

    summary = profile_summary(profile)
    if args.json:
        print(json.dumps({**summary, "stored": str(store.path), "stored_id": row_id}, indent=2))
        return 0
    cv, cal = profile["cv"], profile["calibration"]
    roofs = profile["roofs"]
    print(
        f"calibrated {backend} on {device}, {threads} thread{'s' if threads > 1 else ''}, batch {batch}: "
        f"{len(profile['fitted_on'])} networks "
        f"fitted ({len(profile['samples'])} measured in {cal['workers']} fresh processes, {cal['wall_s']:.0f} s)"
    )
    print(f"roofs: {roofs['peak_gflops']:.0f} GFLOP/s (GEMM), {roofs['bandwidth_gbs']:.1f} GB/s (add)")
    if cv["folds"]:
        print(
            f"cross-validated on unseen calibration networks: {cv['within_10_pct']:.0f} % within ±10 %, "
            f"median error {cv['median_error_pct']:.1f} %, band ±{cv['p90_error_pct']:.1f} % (90th percentile)"
        )
    else:
        print("too few networks for a cross-validated error band; give it more --seconds")
    if profile["quality"] != "ok":
        print(f"warning: {profile['quality']}")
    print(f"stored as profile #{row_id} in {store.path}")
    return 0
