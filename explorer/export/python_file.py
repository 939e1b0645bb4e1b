"""Design -> a standalone, readable PyTorch file that imports only torch.

The file holds explorer/model/network.py verbatim (the modules explorer.model.build builds) and the design as data, so a
state dict saved from either model loads strict=True into the other. User text (the design name, notes)
never becomes code: the name is reduced to an ASCII identifier for the class, and free text appears only
inside the module docstring with every quote, backslash and unprintable character escaped. The result is
parsed before it is returned, as a guard against a bug here ever emitting anything but definitions.
"""

from __future__ import annotations

import ast
import builtins
import json
import keyword
import re
import textwrap
import unicodedata
from functools import lru_cache
from pathlib import Path

from ..design.cost import compute_cost
from ..design.plan import STAGE_FIELDS, network_data
from ..design.spec import STAGE_KEYS, Design
from ..fmt import si, text_table

# Names the generated module defines or imports: a class named like one of them would shadow it.
_MODULE_NAMES = {
    "OrderedDict",
    "torch",
    "nn",
    "NUM_CLASSES",
    "INPUT_SIZE",
    "STEM_CHANNELS",
    "LAST_CONV",
    "DROPOUT",
    "STAGES",
    "ConvBNAct",
    "Bottleneck",
    "ExplorerNet",
    "init_weights",
    "build_model",
}
_BUILTINS = set(dir(builtins))
_MAX_CLASS_NAME = 60
_WRAP = 88  # ruff's default line length: the file is meant for other projects


def class_name(design_name: str) -> str:
    """'SM_V2_2_1.5' -> 'SmV2_2_1_5', 'MobileNet V2' -> 'MobileNetV2'; always a safe ASCII identifier."""
    # Accents are dropped rather than the letters ('réseau' -> 'Reseau'); other non-ASCII text disappears.
    ascii_name = unicodedata.normalize("NFKD", design_name).encode("ascii", "ignore").decode()
    out = ""
    for part in re.findall(r"[A-Za-z0-9]+", ascii_name):
        part = part.capitalize() if part.isupper() else part[0].upper() + part[1:]
        if out and out[-1].isdigit() and part[0].isdigit():
            out += "_"  # keep '2_1_5' from collapsing into '215'
        out += part
    out = out[:_MAX_CLASS_NAME] or "Net"
    if out[0].isdigit():
        out = "Net" + out
    if keyword.iskeyword(out) or out in _MODULE_NAMES or out in _BUILTINS:
        out += "Net"
    return out


def _escape(text: str) -> str:
    """Text that is safe inside a non-raw triple-quoted string and reads back as exactly `text`."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')  # no quote survives, so nothing can close the docstring
        elif ch.isprintable():
            out.append(ch)
        else:  # newlines, tabs, line separators, lone surrogates: written as escapes
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(out)


def _paragraph(label: str, text: str) -> list[str]:
    lines = []
    for i, para in enumerate(text.splitlines() or [""]):
        head = f"{label}: " if i == 0 else ""
        lines += textwrap.wrap(head + para, _WRAP, break_long_words=False, break_on_hyphens=False) or [""]
    return [_escape(line) for line in lines]


def _docstring(design: Design, cls: str) -> str:
    cost = compute_cost(design)
    # Plain str cells: text_table would print 1024 channels as '1,024', unlike STAGES below.
    rows = [{"stage": str(i), **{k: str(v) for k, v in vars(st).items()}} for i, st in enumerate(design.stages)]
    cols = ["stage", *STAGE_KEYS]
    table = textwrap.indent(text_table(rows, cols), "    ")
    lines = [
        "A MobileNet-style CNN in plain PyTorch, exported by the CNN architecture explorer.",
        "",
        "Design: " + (_escape(design.name) or "(unnamed)"),
        f"Class: {cls}. Needs only torch; build it with build_model().",
        "",
        f"Input 3x{design.input_size}x{design.input_size}, {design.num_classes} classes, "
        f"stem {design.stem_channels} channels, last 1x1 conv {design.last_conv or 'none'}, "
        f"dropout {design.dropout:g}.",
        "",
        table,
        "",
        f"Params: {cost.params:,} ({si(cost.params)}).",
        f"MACs: {cost.macs:,} ({si(cost.macs)}) at {design.input_size}x{design.input_size}, batch 1",
        "(conv and linear multiply-accumulates; FLOPs = 2 x MACs).",
    ]
    for key in ("description", "source", "notes"):
        if design.meta.get(key):
            lines += [""] + _paragraph(key.capitalize(), str(design.meta[key]))
    lines += [
        "",
        "Parameter names match the explorer's model, so its weights load with strict=True.",
        'The app\'s "Fine-tuned weights" download is a plain state dict:',
        "",
        "    model = build_model()",
        '    state = torch.load("weights.pt", map_location="cpu", weights_only=True)',
        "    model.load_state_dict(state)",
        "    model.eval()",
        "",
        'A training checkpoint (python -m explorer train) keeps the state dict under "model".',
        "Run it as a script to build the model, print its params and MACs and run one forward",
        "pass: `python <this file> [weights.pt]` loads either kind of weights file first (`--help`",
        "says how); weights trained for another class count replace the classifier.",
    ]
    return "\n".join(line.rstrip() for line in lines)


# The design part of the file; the network part is explorer/model/network.py, shipped verbatim above it.
_DESIGN_TEMPLATE = """\
# The design, as data. Params and MACs in the docstring are for INPUT_SIZE; others work too.
NUM_CLASSES = {num_classes}
INPUT_SIZE = {input_size}
STEM_CHANNELS = {stem_channels}
LAST_CONV = {last_conv}  # channels of the 1x1 conv before pooling; 0: none
DROPOUT = {dropout}

# The bottleneck table, one row per stage (the columns are explained in ExplorerNet).
STAGES = (
    # {fields}
{stage_rows}
)


class {cls}(ExplorerNet):
    \"\"\"ExplorerNet with the design above; `stages` replaces the table.\"\"\"

    def __init__(self, num_classes=NUM_CLASSES, stages=STAGES):
        super().__init__(stages, num_classes, STEM_CHANNELS, LAST_CONV, DROPOUT)


def build_model(num_classes: int = NUM_CLASSES) -> {cls}:
    \"\"\"A freshly initialised {cls}; load trained weights with load_state_dict.\"\"\"
    return {cls}(num_classes)
"""


def _literal(value: object) -> str:
    """A Python literal as ruff formats it; json.dumps gives a valid, double-quoted string literal."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


@lru_cache(maxsize=1)
def network_source() -> str:
    """explorer/model/network.py below its docstring: the model's torch modules, exactly as the explorer builds them."""
    source = (Path(__file__).resolve().parents[1] / "model" / "network.py").read_text(encoding="utf-8")
    docstring = ast.parse(source).body[0]
    return "\n".join(source.splitlines()[docstring.end_lineno :]).strip("\n") + "\n"


def design_source(design: Design, cls: str) -> str:
    """The design as data and the class named after it, over explorer.model.network's ExplorerNet."""
    data = network_data(design)
    return _DESIGN_TEMPLATE.format(
        num_classes=_literal(data["num_classes"]),
        input_size=_literal(int(design.input_size)),
        stem_channels=_literal(data["stem_channels"]),
        last_conv=_literal(data["last_conv"]),
        dropout=_literal(data["dropout"]),
        fields=", ".join(STAGE_FIELDS),
        stage_rows="\n".join(f"    {_literal(row)}," for row in data["stages"]),
        cls=cls,
    )


# Running the file: build, count, one forward pass, weights loaded when a path is given. MACs are counted
# from the module shapes of a real forward pass (conv and linear multiply-accumulates, as the explorer counts).
_MAIN_TEMPLATE = """\
def count_macs(model: nn.Module, input_size: int = INPUT_SIZE) -> int:
    \"\"\"Multiply-accumulates of every conv and linear layer for one image.\"\"\"
    macs = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            macs.append(output.numel() * module.in_channels // module.groups * k)
        elif isinstance(module, nn.Linear):
            macs.append(module.in_features * module.out_features)

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size))
    finally:
        for h in handles:
            h.remove()
    return sum(macs)


def load_weights(path: str):
    \"\"\"(state dict, its number of classes) from a weights file or a training checkpoint.\"\"\"
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # a training checkpoint, not a plain state dict
    tensors = isinstance(state, dict) and state
    if not tensors or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("not a state dict, nor a checkpoint with one under 'model'")
    classifier = state.get("classifier.weight")
    if classifier is None or classifier.ndim != 2:
        return state, NUM_CLASSES
    return state, int(classifier.shape[0])


def parse_args(argv: list):
    import argparse

    class OneLine(argparse.ArgumentParser):
        def error(self, message):
            self.exit(2, f"error: {{message}}\\n")

    parser = OneLine(
        description="Build the network, load weights when given, print its params "
        "and MACs, run one forward pass."
    )
    parser.add_argument(
        "weights",
        nargs="?",
        help="a state dict (.pt) or a training checkpoint; weights trained for "
        "another class count replace the classifier",
    )
    return parser.parse_args(argv)


def main(argv: list) -> int:
    \"\"\"Build, load weights when a path is given, count, run one forward pass.\"\"\"
    import pickle
    import sys

    # what torch.load and load_state_dict raise for a file that is not weights of this network
    unloadable = (OSError, EOFError, ValueError, RuntimeError, IndexError, KeyError)
    unloadable += (TypeError, AttributeError, pickle.UnpicklingError)
    args = parse_args(argv)
    model = build_model()
    if args.weights:
        try:
            state, classes = load_weights(args.weights)
            if classes != NUM_CLASSES:  # a fine-tune on another dataset
                model = build_model(classes)
                print(f"classifier set to the {{classes}} classes of the weights")
            model.load_state_dict(state)
        except unloadable as e:  # any file may be given: one line, never a traceback
            lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
            lines = [ln for ln in lines if not ln.startswith("Error(s) in loading")]
            first = (lines or [type(e).__name__])[0][:200]
            print(f"error: {{args.weights}}: cannot load it ({{first}})", file=sys.stderr)
            return 2
        print(f"loaded weights from {{args.weights}}")
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    name, macs = type(model).__name__, count_macs(model)
    size = f"{{INPUT_SIZE}}x{{INPUT_SIZE}}"
    print(f"{{name}}: {{params:,}} params, {{macs:,}} MACs at {{size}}, batch 1")
    with torch.no_grad():
        logits = model(torch.randn(1, 3, INPUT_SIZE, INPUT_SIZE))
    shape, top = tuple(logits.shape), int(logits.argmax())
    print(f"forward pass on a random image: output {{shape}}, top class {{top}}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
"""


def main_source(cls: str) -> str:
    """The runnable part of the file: count_macs, main and the `if __name__ == "__main__":` block."""
    return _MAIN_TEMPLATE.format(cls=cls)


# The only statements the generated module may hold at top level (and the one `if __name__ == "__main__":`).
_ALLOWED_TOP = (ast.Expr, ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef, ast.Assign)


def _is_main_guard(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
        and [type(c) for c in node.test.comparators] == [ast.Constant]
        and node.test.comparators[0].value == "__main__"
    )


def to_python(design: Design) -> str:
    """The standalone .py source for `design` (UTF-8 text, formatted as ruff would): a docstring, the network's
    modules (explorer/model/network.py, verbatim), then the design as data."""
    cls = class_name(design.name)
    header = f'"""{_docstring(design, cls)}\n"""\n'
    code = header + "\n" + "\n\n".join([network_source(), design_source(design, cls), main_source(cls)])
    _check_only_definitions(code)
    return code


def _check_only_definitions(code: str) -> None:
    tree = ast.parse(code)
    for i, node in enumerate(tree.body):
        is_docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if _is_main_guard(node) and i == len(tree.body) - 1:
            continue
        if isinstance(node, ast.Expr) and not is_docstring:
            raise RuntimeError("generated code holds a top-level expression")
        if not isinstance(node, _ALLOWED_TOP):
            raise RuntimeError(f"generated code holds a top-level {type(node).__name__}")
        if isinstance(node, ast.Assign):
            ast.literal_eval(node.value)  # constants and the stage table only
