"""`python -m explorer calibrate`: fit the latency model on this host and store the profile.

Imports nothing heavy at module level; the measurements run in fresh worker processes.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from ..errors import UserError


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    """--backend/--device/--threads/--batch/--store, shared with `predict`."""
    p.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch", help="default: torch (eager)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default: cpu")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: all physical cores)")
    p.add_argument("--batch", type=int, default=1, metavar="B", help="images per forward pass (default 1)")
    p.add_argument("--store", metavar="FILE", help="results store file (default: the user data folder)")


def resolve_target(args: argparse.Namespace) -> tuple[str, str, int, int]:
    from ..measure.hostinfo import physical_cores
    from ..predict.profile import check_target

    threads = physical_cores() if args.threads is None else args.threads
    if threads < 1:
        raise UserError(f"--threads must be at least 1, got {threads}")
    if args.batch < 1:
        raise UserError(f"--batch must be at least 1, got {args.batch}")
    check_target(args.backend, args.device, threads, args.batch)
    return args.backend, args.device, threads, args.batch


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_target_arguments(p)
    p.add_argument("--seconds", type=float, default=60.0, metavar="S", help="calibration budget (default 60)")
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
    from ..predict.calibrate import SECONDS_RANGE, calibrate
    from ..store.results import ResultStore

    backend, device, threads, batch = resolve_target(args)
    lo, hi = SECONDS_RANGE
    if not lo <= args.seconds <= hi:
        raise UserError(f"--seconds must be from {lo:.0f} to {hi:.0f}, got {args.seconds:g}")
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
