"""`python -m explorer ...`: presets, summary, and the commands of the other modules.

Every user mistake ends as exit status 2 and one short line per problem on stderr, never a traceback.
Heavy libraries (torch, onnx, streamlit) are imported only by the commands that need them, so `summary`
starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import typing

from ..errors import UserError
from ..fmt import printable, shown
from ..safeio import command_inputs
from . import bench, calibrate, export, predict, search, train
from .design_args import add_design_args, design_from_args

__all__ = ["add_design_args", "build_parser", "design_from_args", "main"]

# Commands that live in their own modules; each module has add_arguments(parser) and run(args) -> int,
# and imports nothing heavy at module level.
COMMAND_MODULES = {
    "bench": (bench, "measure inference latency on this host"),
    "export": (export, "export a design to .py, ONNX or JSON"),
    "train": (train, "fine-tune a design on an ImageNet100 folder"),
    "calibrate": (calibrate, "fit the latency model on this host (seconds), store the profile"),
    "predict": (predict, "predicted latency on this host, per layer, from the calibrated profile"),
    "search": (search, "find designs that beat a start design on this host under a latency budget"),
}
PRESETS_HELP = "the paper's models: computed params/MACs beside the reported numbers"
SUMMARY_HELP = "per-layer params, MACs and bytes of a design, and totals"


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


class OneLineParser(argparse.ArgumentParser):
    """argparse with one short line per mistake (`error: --lr must be a finite number, got 'nan'`), exit 2,
    and no usage block: the README promises one line, and `--help` shows the usage to whoever wants it.
    Subcommand parsers are of this class too (argparse creates them with the parent's class)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"error: {printable(argparse_line(message, self.prog))}\n")


def argparse_line(message: str, prog: str) -> str:
    """argparse's message in the explorer's words: the flag first, then what is wrong."""
    m = re.match(r"argument ([^:]+?): (.*)$", message, re.S)
    if m:
        flag = m.group(1).split("/")[-1]  # "-h/--help" -> "--help"
        rest = m.group(2)
        rest = re.sub(r"^invalid int value: (.*)$", r"must be an integer, got \1", rest)
        rest = re.sub(r"^invalid float value: (.*)$", r"must be a number, got \1", rest)
        rest = re.sub(r"^invalid choice: (.*) \(choose from (.*)\)$", r"must be one of \2, got \1", rest)
        rest = re.sub(r"^expected one argument$", "needs a value", rest)
        if flag == "COMMAND":  # the one positional: said as the option layer says an unknown choice
            rest = re.sub(r"^must be one of (.*), got (.*)$", r"unknown command \2; choose one of: \1", rest)
            return rest.replace("'", "") if rest.startswith("unknown") else f"{flag}: {rest}"
        return f"{flag} {rest}" if rest.startswith(("must", "needs")) else f"{flag}: {rest}"
    if message.startswith(("unrecognized arguments", "the following arguments are required")):
        return f"{message} (see `{prog} --help`)"
    return " ".join(message.split())


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=program_name(), description="CNN architecture explorer (SM_V2 paper).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("presets", help=PRESETS_HELP, description=PRESETS_HELP)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_presets)
    p = sub.add_parser("summary", help=SUMMARY_HELP, description=SUMMARY_HELP)
    add_design_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_summary)
    for name, (module, help_text) in COMMAND_MODULES.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parsed arguments; an argument no command knows is blamed on the command it was given to."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        command_parser = subcommand_parser(parser, args.command)
        (command_parser or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def subcommand_parser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser | None:
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(command)
    return None


class PrintableStream:
    """stdout as the commands see it: every line they print is made safe for a terminal (a path with an escape
    sequence or a carriage return in it is shown escaped, on success lines as on error lines). JSON output is
    unchanged: json.dumps already escapes control characters."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            self._stream.write("\n".join(printable(line) for line in text.split("\n")))
        except BrokenPipeError:
            raise
        except OSError as e:
            raise StdoutError(e.errno, e.strerror) from None
        return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise StdoutError(e.errno, e.strerror) from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class StdoutError(OSError):
    """Printing failed (`> /dev/full`): the command's work is done, only its report could not be shown."""


def _never_crash_on_encoding() -> None:
    # Under LC_ALL=C stdout is ASCII: a non-ASCII design name must print as \u escapes, not end the command.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def missing_dependency(module: str) -> str:
    """What to do when the Python that runs the explorer lacks one of its libraries (a system python3)."""
    return (
        f"this Python ({sys.executable}) lacks the module {module.split('.')[0]!r} that the explorer needs; "
        "run it with the project's environment instead: .venv/bin/python -m explorer ... "
        "(set up as the README says: python3 -m venv .venv && .venv/bin/pip install -r requirements.txt -e .)"
    )


def main(argv: list[str] | None = None) -> int:
    _never_crash_on_encoding()
    parser = build_parser()
    args = parse(parser, argv)  # a mistake in the arguments: one line, exit 2
    real_stdout, sys.stdout = sys.stdout, PrintableStream(sys.stdout)
    try:
        with command_inputs():  # no output of the command may replace a file it read
            status = int(args.func(args) or 0)
        sys.stdout.flush()  # a full stdout is found here, not as a traceback while Python shuts down
        return status
    except StdoutError as e:
        _drop_stdout()
        print(f"error: cannot print to standard output ({e.strerror or e}); the work itself is done", file=sys.stderr)
        return 1
    except ModuleNotFoundError as e:
        if not e.name or e.name.split(".")[0] == "explorer":
            raise
        print(f"error: {missing_dependency(e.name)}", file=sys.stderr)
        return 2
    except UserError as e:
        for line in e.lines() or ["invalid input"]:
            print(f"error: {printable(line.strip()) or 'invalid input'}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `explorer presets | head`: the reader left, which is not an error of ours
        _drop_stdout()
        return 0  # the same status whether or not the output outgrew the pipe before the reader left
    except Exception as e:  # a bug, not a user mistake: still one line, the traceback only on request
        if os.environ.get("EXPLORER_DEBUG"):
            raise
        if isinstance(e, OSError) and e.filename is not None:
            # A path the file system refuses (a name too long, no permission): the path and the cause, one line.
            print(f"error: {shown(e.filename)}: {printable(e.strerror or str(e))}", file=sys.stderr)
            return 2
        message = printable(f"{type(e).__name__}: {e}")
        print(f"internal error: {message} (set EXPLORER_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    finally:
        sys.stdout = real_stdout


def _drop_stdout() -> None:
    """Send what is left of stdout to /dev/null: no second error while Python flushes at exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
