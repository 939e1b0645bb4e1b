"""Design -> a standalone, readable PyTorch file that imports only torch.

The file mirrors explorer.build (a block class plus the stage table in a loop, same module names), so a
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

from .cost import compute_cost
from .fmt import si, text_table
from .spec import Design

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
    cols = ["stage", "t", "c", "n", "s", "skip", "out_act", "kernel"]
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
        "Parameter names match the explorer's model, so its checkpoints load with strict=True:",
        "",
        "    model = build_model()",
        '    checkpoint = torch.load("checkpoint.pt", map_location="cpu", weights_only=True)',
        '    model.load_state_dict(checkpoint["model"])',
        "    model.eval()",
    ]
    return "\n".join(line.rstrip() for line in lines)


_TEMPLATE = '''\
"""{docstring}
"""

from collections import OrderedDict

import torch
from torch import nn

NUM_CLASSES = {num_classes}
INPUT_SIZE = {input_size}  # params and MACs above are for this size; others work too
STEM_CHANNELS = {stem_channels}
LAST_CONV = {last_conv}  # channels of the 1x1 conv before pooling; 0: none
DROPOUT = {dropout}

# The bottleneck table, one row per stage: expansion t, output channels c, blocks n, stride s of
# the first block, residual skip (where shapes allow), activation after the 1x1 projection
# ("linear" is MobileNetV2's linear bottleneck), depthwise kernel size.
STAGES = (
    # t, c, n, s, skip, out_act, kernel
{stage_rows}
)


class ConvBNAct(nn.Sequential):
    """Bias-free conv -> BatchNorm -> ReLU6 (or nothing); padding k // 2 keeps the size."""

    def __init__(self, cin, cout, k=1, stride=1, groups=1, relu6=True):
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                bn=nn.BatchNorm2d(cout),
                act=nn.ReLU6(inplace=True) if relu6 else nn.Identity(),
            )
        )


class Bottleneck(nn.Module):
    """MobileNetV2's inverted residual: 1x1 expand (none when t == 1), depthwise, 1x1 project."""

    def __init__(self, cin, cout, t, stride, kernel, skip, out_act):
        super().__init__()
        hidden = cin * t
        self.expand = ConvBNAct(cin, hidden) if t != 1 else None
        self.depthwise = ConvBNAct(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBNAct(hidden, cout, relu6=out_act == "relu6")
        self.skip = skip and stride == 1 and cin == cout  # an add needs equal shapes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.skip else y


class {cls}(nn.Module):
    """Stem conv, the bottleneck stages of STAGES, optional 1x1 conv, pooling, classifier."""

    def __init__(self, num_classes=NUM_CLASSES, stages=STAGES):
        super().__init__()
        self.stem = ConvBNAct(3, STEM_CHANNELS, 3, 2)
        cin = STEM_CHANNELS
        layers = []
        for t, c, n, s, skip, out_act, kernel in stages:
            blocks = []
            for i in range(n):
                stride = s if i == 0 else 1
                blocks.append(Bottleneck(cin, c, t, stride, kernel, skip, out_act))
                cin = c
            layers.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*layers)
        self.last_conv = ConvBNAct(cin, LAST_CONV) if LAST_CONV else None
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(DROPOUT)
        self.classifier = nn.Linear(LAST_CONV or cin, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images -> (B, num_classes) logits."""
        x = self.stages(self.stem(x))
        if self.last_conv is not None:
            x = self.last_conv(x)
        x = self.pool(x).flatten(1)
        return self.classifier(self.dropout(x))


def init_weights(model: nn.Module) -> None:
    """torchvision's MobileNetV2 initialisation, as the explorer uses."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def build_model(num_classes: int = NUM_CLASSES) -> {cls}:
    """A freshly initialised {cls}; load trained weights with load_state_dict."""
    return {cls}(num_classes)
'''

# The only statements the generated module may hold at top level.
_ALLOWED_TOP = (ast.Expr, ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef, ast.Assign)


def to_python(design: Design) -> str:
    """The standalone .py source for `design` (UTF-8 text, formatted as ruff would)."""
    cls = class_name(design.name)
    rows = "\n".join(
        # json.dumps gives a valid Python string literal, even for an unvalidated out_act.
        f"    ({int(st.t)}, {int(st.c)}, {int(st.n)}, {int(st.s)}, {bool(st.skip)}, {json.dumps(st.out_act)}, {int(st.kernel)}),"
        for st in design.stages
    )
    code = _TEMPLATE.format(
        docstring=_docstring(design, cls),
        num_classes=int(design.num_classes),
        input_size=int(design.input_size),
        stem_channels=int(design.stem_channels),
        last_conv=int(design.last_conv),
        dropout=repr(float(design.dropout)),
        stage_rows=rows,
        cls=cls,
    )
    _check_only_definitions(code)
    return code


def _check_only_definitions(code: str) -> None:
    tree = ast.parse(code)
    for i, node in enumerate(tree.body):
        is_docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if isinstance(node, ast.Expr) and not is_docstring:
            raise RuntimeError("generated code holds a top-level expression")
        if not isinstance(node, _ALLOWED_TOP):
            raise RuntimeError(f"generated code holds a top-level {type(node).__name__}")
        if isinstance(node, ast.Assign):
            ast.literal_eval(node.value)  # constants and the stage table only
