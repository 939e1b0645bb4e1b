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
from ..options import BACKEND, BATCH, THREADS, check_args
from ..predict.calibrate import SECONDS, SEED
from ..predict.profile import PROFILE_DEVICE

# The run options of explorer.options; a latency profile is made on the CPU or a CUDA GPU only.
TARGET_OPTIONS = (BACKEND, PROFILE_DEVICE, THREADS, BATCH)


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    """--backend/--device/--threads/--batch/--store, shared with `predict` and `search`."""
    for option in TARGET_OPTIONS:
        option.add_to(p)
    p.add_argument("--store", metavar="FILE", help="results store file (default: the user data folder)")


def target_from_args(args: argparse.Namespace):
    """The checked Target (explorer.measure.target); threads not given = all physical cores."""
    from ..measure.target import Target
    from ..predict.profile import check_target

    check_args(args, TARGET_OPTIONS)
    target = Target(args.backend, args.device, args.threads, args.batch).resolved()
    check_target(target.backend, target.device, target.threads, target.batch)  # the device must be present here
    return target


def resolve_target(args: argparse.Namespace) -> tuple[str, str, int, int]:
    """The checked target as (backend, device, threads, batch), for callers that still take the four."""
    t = target_from_args(args)
    return t.backend, t.device, t.threads, t.batch


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_target_arguments(p)
    SECONDS.add_to(p)
    SEED.add_to(p)
    p.add_argument("--json", action="store_true", help="print one JSON object; progress as JSON lines on stderr")


def _progress(as_json: bool, tty: bool):
    from ..measure.hostlock import WAIT_MESSAGE

    told = []

    def show(frac: float, msg: str) -> None:
        if as_json:
            sys.stderr.write(json.dumps({"progress": round(frac, 3), "message": msg}) + "\n")
        elif tty:
            sys.stderr.write(f"\r{frac * 100:3.0f}%  {msg}"[:100].ljust(100))
        elif msg.startswith(WAIT_MESSAGE) and not told:  # without a terminal, a long wait is still said once
            told.append(msg)
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    return show


def run(args: argparse.Namespace) -> int:
    from ..predict.calibrate import calibrate, set_aside_line
    from ..store.preflight import check_store_writable
    from ..store.results import ResultStore

    backend, device, threads, batch = resolve_target(args)
    check_args(args, [SECONDS, SEED])
    store = ResultStore(args.store)  # a damaged store fails now, not after the calibration
    check_store_writable(store.path)  # and so does a read-only, full or locked one
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
    from ..predict import profile_summary

    summary = {**profile_summary(profile), "set_aside": profile["set_aside"], "set_aside_line": set_aside_line(profile)}
    row_id, store_error = _store(store, profile)
    if args.json:
        print(json.dumps({**summary, "stored": str(store.path) if row_id else None, "stored_id": row_id}, indent=2))
        if store_error:
            raise UserError(store_error)
        return 0
    cv, cal = profile["cv"], profile["calibration"]
    roofs = profile["roofs"]
    print(
        f"calibrated {backend} on {device}, {threads} thread{'s' if threads > 1 else ''}, batch {batch}: "
        f"{set_aside_line(profile)} ({cal['workers']} fresh processes, {cal['wall_s']:.0f} s)"
    )
    print(f"roofs: {roofs['peak_gflops']:.0f} GFLOP/s (GEMM), {roofs['bandwidth_gbs']:.1f} GB/s (add)")
    if cv["folds"]:
        print(
            f"cross-validated on unseen calibration networks: {cv['within_10_pct']:.0f} % within ±10 %, "
            f"median error {cv['median_error_pct']:.1f} %, band ±{cv['p90_error_pct']:.1f} % (90th percentile)"
        )
    else:
        print("too few networks for a cross-validated error band; give it more --seconds")
    for error in cal.get("errors") or []:
        print(f"warning: {error}", file=sys.stderr)
    if store_error:
        raise UserError(store_error)
    print(f"stored as profile #{row_id} in {store.path}")
    return 0


def _store(store, profile: dict) -> tuple[int | None, str | None]:
    """(row id, None), or (None, the real cause): the profile above is printed either way."""
    from ..store.preflight import explain_store_failure

    try:
        return store.add_profile(profile["key"], profile), None
    except (UserError, OSError) as e:
        return None, explain_store_failure(store.path, e)
