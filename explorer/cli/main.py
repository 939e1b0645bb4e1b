"""`python -m explorer ...`: presets, summary, and the commands of the other modules.

Every user mistake ends as exit status 2 and one short line per problem on stderr, never a traceback.
Heavy libraries (torch, onnx, streamlit) are imported only by the commands that need them, so `summary`
starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys

from ..design.spec import Design
from ..errors import UserError

# Commands that live in their own modules; each module has add_arguments(parser) and run(args) -> int,
# and imports nothing heavy at module level.
PLUGIN_COMMANDS = {
    "bench": ("explorer.cli.bench", "measure inference latency on this host"),
    "export": ("explorer.cli.export", "export a design to .py, ONNX or JSON"),
    "train": ("explorer.cli.train", "fine-tune a design on an ImageNet100 folder"),
    "calibrate": ("explorer.cli.calibrate", "fit the latency model on this host (seconds), store the profile"),
    "predict": ("explorer.cli.predict", "predicted latency on this host, per layer, from the calibrated profile"),
    "search": ("explorer.cli.search", "find designs that beat a start design on this host under a latency budget"),
}


def add_design_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--preset", metavar="NAME", help="a preset name, e.g. SM_V2 (see `presets`)")
    g.add_argument("--spec", metavar="FILE", help="a design JSON file")


def design_from_args(args: argparse.Namespace) -> Design:
    from ..design.presets import get_preset
    from ..design.spec import load_design_file

    if args.preset is not None:
        if not args.preset.strip():
            raise UserError("--preset must name a preset (see `python -m explorer presets`), got an empty name")
        return get_preset(args.preset)
    if not args.spec.strip():
        raise UserError("--spec must name a design JSON file, got an empty path")
    return load_design_file(args.spec)


def cmd_presets(args: argparse.Namespace) -> int:
    from ..design.presets import preset_rows
    from ..fmt import text_table

    rows = preset_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    cols = ["name", "params", "paper_params_m", "macs", "paper_flops_m", "paper_top1", "paper_cpu_ms", "paper_gpu_ms"]
    heads = ["preset", "params", "paper [M]", "MACs", "paper FLOPs [M]", "top-1 %", "CPU ms", "GPU ms"]
    print(text_table(rows, cols, heads))
    print(
        "\nparams, MACs: computed here (k = 100, 224x224). paper: as reported in Tables 3-4 (GTX 1060 / 3.4 GHz CPU)."
    )
    print("MACs count conv and linear multiply-accumulates only; FLOPs = 2 x MACs. The paper's FLOPs column")
    print("follows no single convention; see each preset's notes (`summary --preset NAME`).")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from ..design.cost import compute_cost
    from ..design.limits import DEFAULT_CAP
    from ..fmt import si, size, text_table

    design = design_from_args(args)
    cost = DEFAULT_CAP.check(design, compute_cost(design))
    if args.json:
        out = {"name": design.name, "design_hash": design.network_hash(), **cost.summary(), "layers": cost.rows()}
        print(json.dumps(out, indent=2))
        return 0
    cols = ["name", "kind", "input", "output", "params", "macs", "read_bytes", "write_bytes", "intensity"]
    heads = ["layer", "kind", "input", "output", "params", "MACs", "read B", "written B", "FLOP/B"]
    print(f"{design.name}  ({design.num_classes} classes, {design.input_size}x{design.input_size} input)\n")
    print(text_table(cost.rows(), cols, heads))
    print(
        f"\nparams {cost.params:,} ({si(cost.params)})   MACs {cost.macs:,} ({si(cost.macs)})   "
        f"FLOPs {si(cost.flops)} (= 2 x MACs)\nbytes moved {size(cost.bytes)}   "
        f"peak activations {size(cost.peak_activation_bytes)} (float32, batch 1)"
    )
    print("MACs: conv + linear multiply-accumulates only (BN, ReLU6, adds and pooling are not counted).")
    notes = design.meta.get("notes")
    if notes:
        print(f"\nhow the paper was read: {notes}")
    return 0


def program_name() -> str:
    """`explorer` when run as the installed command, `python -m explorer` otherwise: usage lines say what was typed."""
    return "explorer" if os.path.basename(sys.argv[0] or "") == "explorer" else "python -m explorer"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=program_name(), description="CNN architecture explorer (SM_V2 paper).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("presets", help="the paper's models: computed params/MACs beside the reported numbers")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_presets)
    p = sub.add_parser("summary", help="per-layer params, MACs and bytes of a design, and totals")
    add_design_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_summary)
    for name, (module, help_text) in PLUGIN_COMMANDS.items():
        if importlib.util.find_spec(module) is None:
            continue
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)
    return parser


def printable(line: str) -> str:
    """A line safe for any terminal: control characters (an escape sequence in a key) shown escaped."""
    return "".join(ch if ch.isprintable() or ch == "\t" else ascii(ch)[1:-1] for ch in line)


def _never_crash_on_encoding() -> None:
    # Under LC_ALL=C stdout is ASCII: a non-ASCII design name must print as \u escapes, not end the command.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def main(argv: list[str] | None = None) -> int:
    _never_crash_on_encoding()
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 with a one-line usage error
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        for line in str(e).splitlines() or ["invalid input"]:
            print(f"error: {printable(line)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `explorer presets | head`: the reader left, which is not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error while Python flushes
        return 0  # the same status whether or not the output outgrew the pipe before the reader left
    except Exception as e:  # a bug, not a user mistake: still one line, the traceback only on request
        if os.environ.get("EXPLORER_DEBUG"):
            raise
        message = printable(f"{type(e).__name__}: {e}")
        print(f"internal error: {message} (set EXPLORER_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
