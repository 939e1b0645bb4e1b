"""`python -m explorer export`: write a design as a standalone .py file, a verified ONNX file, or its JSON.

Every file is written atomically (a failed export leaves nothing behind, and never half a file), and the
output path is tried before any slow work, so a typo in --out costs no export time.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from ..errors import UserError
from ..export.onnx_file import OPSET
from ..fmt import shown
from ..options import check_args
from .design_args import add_design_args, design_from_args

FORMATS = ("py", "onnx", "json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_design_args(p)
    p.add_argument("--format", required=True, choices=FORMATS, help="py: standalone PyTorch; onnx; json: the design")
    p.add_argument("--out", required=True, metavar="PATH", help="the file to write (replaced if it exists)")
    p.add_argument("--weights", metavar="CHECKPOINT", help="ONNX only: trained weights (default: fresh init)")
    OPSET.add_to(p)
    p.add_argument("--json", action="store_true", help="print one JSON object describing what was written")


def run(args: argparse.Namespace) -> int:
    from ..design.limits import DEFAULT_CAP
    from ..export import FailedVerification, atomic_output, class_name, load_weights, onnx_bytes, to_json, to_python
    from ..fmt import size

    check_args(args, [OPSET])
    if args.weights is not None and not args.weights.strip():  # a slip, not "no weights"
        raise UserError("--weights must name a checkpoint file, got an empty path")
    design = design_from_args(args)
    DEFAULT_CAP.check(design)  # every format: a .py file of a network nobody can build helps no one
    if args.weights and args.format != "onnx":
        raise UserError(
            "--weights is only for --format onnx (the .py file loads checkpoints itself: see its docstring)"
        )
    summary = {"format": args.format, "path": args.out, "design": design.name, "design_hash": design.network_hash()}

    if args.format == "onnx":
        try:
            with atomic_output(args.out) as sink:  # an unwritable path fails here, before the slow part
                state_dict = load_weights(design, args.weights) if args.weights else None
                data, report = onnx_bytes(design, state_dict, opset=args.opset)
                if not report.verified:
                    raise FailedVerification(report)  # leaves the temporary file, never the target
                sink.write(data)
        except FailedVerification as failed:
            print(
                f"error: {shown(args.out)} not written: the export failed verification: {failed.report.message}",
                file=sys.stderr,
            )
            return 2 if failed.report.weights_broken else 1  # weights that overflow are the user's input
        report = replace(report, path=args.out)
        summary.update(bytes=report.size_bytes, weights=args.weights, onnx=report.to_dict())
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            weights = f"weights from {shown(args.weights)}" if args.weights else "freshly initialised weights"
            print(f"wrote {shown(args.out)} ({size(report.size_bytes)}): ONNX opset {report.opset}, {weights}")
            print(
                f"  input 'input' [batch, 3, {design.input_size}, {design.input_size}] "
                f"-> 'logits' [batch, {design.num_classes}]"
            )
            print(f"  exported in {report.seconds:.1f} s, verified in {report.verify_seconds:.1f} s: {report.message}")
            print("  open it in Netron (https://netron.app) to see the graph")
        return 0

    with atomic_output(args.out) as sink:
        text = to_python(design) if args.format == "py" else to_json(design)
        sink.write(text.encode("utf-8"))
    summary["bytes"] = sink.written
    if args.json:
        print(json.dumps(summary, indent=2))
    elif args.format == "py":
        cls = class_name(design.name)
        print(f"wrote {shown(args.out)} ({size(sink.written)}): class {cls}, build_model(); needs only torch")
    else:
        print(f"wrote {shown(args.out)} ({size(sink.written)}): design {design.name!r}")
    return 0
