"""`python -m explorer bench`: measure a design's inference latency on this host, and store it.

Imports nothing heavy at module level: torch and onnxruntime load only when a measurement runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from ..errors import UserError
from ..options import BACKEND, BATCH, BUDGET, DEVICE, THREADS, check_args

if TYPE_CHECKING:
    from ..measure.job import MeasureJob

OPTIONS = (BACKEND, DEVICE, BATCH, THREADS, BUDGET)  # declared once in explorer.options, checked by the library too


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .main import add_design_args

    add_design_args(p)
    for option in OPTIONS:
        option.add_to(p)
    p.add_argument("--input-size", type=int, metavar="N", help="input height = width (default: the design's)")
    p.add_argument("--channels-last", action="store_true", help="torch channels-last memory format")
    p.add_argument("--layers", action="store_true", help="also time each layer (torch only) vs its MAC share")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-store", action="store_true", help="do not save the result in the results store")
    p.add_argument("--store", metavar="FILE", help="results store file (default: the user data folder)")
    # For the app's worker process: progress as JSON lines on stderr instead of a bar.
    p.add_argument("--progress-json", action="store_true", help=argparse.SUPPRESS)


def _check(args: argparse.Namespace) -> None:
    """The options' ranges (naming the flags), then the combinations of flags only the command line has."""
    check_args(args, OPTIONS)  # --input-size is the design's field: the design parser checks it
    if args.layers and args.backend != "torch":
        raise UserError("--layers times torch eager layers; use it with --backend torch")
    if args.layers and args.input_size is not None:
        raise UserError("--layers measures at the design's own input size; drop --input-size or edit the design")
    if args.channels_last and args.backend != "torch":
        raise UserError("--channels-last is a torch memory format; use it with --backend torch")


class ProgressBar:
    """A tqdm bar on stderr (0-100 %, the step in its description), or JSON lines for the app's worker."""

    def __init__(self, mode: str):
        self.mode = mode  # "bar", "json" or "off"
        self.bar = None

    def __call__(self, frac: float, msg: str) -> None:
        if self.mode == "json":
            sys.stderr.write(json.dumps({"progress": round(frac, 4), "message": msg}) + "\n")
            sys.stderr.flush()
        elif self.mode == "bar":
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=100, file=sys.stderr, bar_format="{percentage:3.0f}% |{bar:20}| {desc}")
            self.bar.set_description_str(msg[:70], refresh=False)
            self.bar.update(max(0, round(frac * 100) - self.bar.n))

    def waiting(self, message: str) -> None:
        """The host is busy: said once on stderr even without a terminal (the bar shows it as progress)."""
        if self.mode == "off":
            print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def job_from_args(args: argparse.Namespace, design) -> MeasureJob:
    """bench's request to the measurement service: its flags are the job's declared options."""
    from ..measure.job import MeasureJob
    from ..measure.target import Target

    return MeasureJob(
        [design],
        Target(args.backend, args.device, args.threads, args.batch),
        budget_s=args.budget,
        input_size=args.input_size,
        channels_last=args.channels_last,
        per_layer=args.layers,
        history=not args.no_store,
        purpose="bench",
    )


def run(args: argparse.Namespace) -> int:
    from ..measure.quality import warning_line
    from ..measure.service import measure_one
    from .main import design_from_args

    _check(args)
    design = design_from_args(args)
    job = job_from_args(args, design).check()
    store = None
    if not args.no_store:
        from ..store.preflight import check_store_writable
        from ..store.results import ResultStore

        store = ResultStore(args.store)  # a damaged store fails now, not after the measurement
        check_store_writable(store.path)  # and so does a read-only, full or locked one
    mode = "json" if args.progress_json else "bar" if sys.stderr.isatty() and not args.json else "off"
    progress = ProgressBar(mode)
    try:
        measured = measure_one(design, job, store=store, progress=progress, on_wait=progress.waiting)
    finally:
        progress.close()
    result = measured.result
    warning = warning_line(result)
    if warning:  # still kept and stored, but never silently
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        out = dict(result)
        out["stored"] = str(store.path) if measured.stored_id is not None else None
        out["stored_id"] = measured.stored_id
        if measured.layers:
            out["layers"] = measured.layers
        print(json.dumps(out, indent=2))
    else:
        _print_result(design, result, measured.layers)
        if measured.stored_id is not None:
            print(f"stored as #{measured.stored_id} in {store.path}")
    if measured.store_error:  # the result above is kept on screen; the store said no at the end
        raise UserError(measured.store_error)
    return 0


def _print_result(design, result: dict, layers: dict | None) -> None:
    from ..measure.latency import LatencyResult

    r = LatencyResult(**{k: v for k, v in result.items() if k in LatencyResult.__dataclass_fields__})
    print(f"{design.name}: {r.summary_line()}")
    print(f"protocol: {r.protocol}")
    for note in r.notes:
        print(f"note: {note}")
    if layers:
        from ..measure.layer_latency import LayerBreakdown

        _print_breakdown(LayerBreakdown(**layers))


def _print_breakdown(bd) -> None:
    from ..fmt import text_table

    def pct(v):
        return None if v is None else f"{v * 100:.1f}%"

    rows = [
        {
            **r,
            "time": f"{r['time_ms']:.3f}",
            "t%": pct(r["time_share"]),
            "m%": pct(r["macs_share"]),
            "b%": pct(r["bytes_share"]),
            "x": None if r["time_per_mac_share"] is None else f"{r['time_per_mac_share']:.2f}",
        }
        for r in bd.layers
    ]
    heads = ["layer", "kind", "ms", "time share", "MAC share", "bytes share", "time/MAC share"]
    print()
    print(text_table(rows, ["name", "kind", "time", "t%", "m%", "b%", "x"], heads))
    kinds = [
        {
            "kind": k["kind"],
            "n": k["layers"],
            "t%": pct(k["time_share"]),
            "m%": pct(k["macs_share"]),
            "b%": pct(k["bytes_share"]),
        }
        for k in bd.by_kind()
    ]
    print()
    print(
        text_table(kinds, ["kind", "n", "t%", "m%", "b%"], ["kind", "layers", "time share", "MAC share", "bytes share"])
    )
    ok = "within" if bd.within_tolerance else "OUTSIDE"
    print(
        f"\nlayers total {bd.layers_total_ms:.3f} ms vs {bd.whole_ms:.3f} ms for plain runs of the whole network: "
        f"{bd.difference_pct:+.1f}% ({ok} the {bd.tolerance_pct:.0f}% tolerance)"
    )
    print(f"protocol: {bd.protocol}")
