"""`python -m explorer bench`: measure a design's inference latency on this host, and store it.

Imports nothing heavy at module level: torch and onnxruntime load only when a measurement runs.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import UserError
from ..options import BACKEND, BATCH, BUDGET, DEVICE, THREADS, check_args

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

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run(args: argparse.Namespace) -> int:
    from ..measure.latency import measure
    from ..measure.layer_latency import layer_breakdown
    from ..measure.quality import consistency, warning_line
    from .main import design_from_args

    _check(args)
    design = design_from_args(args)
    store = None
    if not args.no_store:
        from ..store.results import ResultStore

        store = ResultStore(args.store)  # a damaged store fails now, not after the measurement
    mode = "json" if args.progress_json else "bar" if sys.stderr.isatty() and not args.json else "off"
    progress = ProgressBar(mode)
    try:
        result = measure(
            design,
            backend=args.backend,
            device=args.device,
            batch=args.batch,
            threads=args.threads,
            input_size=args.input_size,
            channels_last=args.channels_last,
            budget_s=args.budget,
            progress=progress,
        )
        progress.close()
        breakdown = None
        if args.layers:
            breakdown = layer_breakdown(
                design,
                device=args.device,
                threads=args.threads,
                batch=args.batch,
                budget_s=max(args.budget, 1.0),
                progress=progress,
            )
    finally:
        progress.close()
    if store:  # this host's own earlier clean measurements of the network are a reference too
        judged = consistency(result.to_dict(), _earlier(store, design, result))
        result.quality = judged["quality"]
    row_id = store.add_latency(design, result) if store else None
    warning = warning_line(result.to_dict())
    if warning:  # still kept and stored, but never silently
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        out = result.to_dict()
        out["stored"] = str(store.path) if store else None
        out["stored_id"] = row_id
        if breakdown:
            out["layers"] = breakdown.to_dict()
        print(json.dumps(out, indent=2))
        return 0
    print(f"{design.name}: {result.summary_line()}")
    print(f"protocol: {result.protocol}")
    for note in result.notes:
        print(f"note: {note}")
    if breakdown:
        _print_breakdown(breakdown)
    if store:
        print(f"stored as #{row_id} in {store.path}")
    return 0


def _earlier(store, design, result) -> list[dict]:
    """Earlier results of this network under exactly these settings, on this device, newest first."""
    rows = store.latencies(
        design.network_hash(),
        backend=result.backend,
        device=result.device,
        batch=result.batch,
        threads=result.threads,
        input_size=result.input_size,
        channels_last=result.channels_last,
    )
    return [r for r in rows if r.get("device_name") == result.device_name]


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
