"""The design file: a JSON description of a MobileNet-style network, parsed and validated.

A design is the single source of truth: the builder, the cost model, the exporters and the app all
derive from it. `parse_design` refuses bad input with one message per problem, each naming the place
(`stages[3].s`), the value and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import DesignError
from ..options import Option, option, options_of, show, text_problem
from ..paths import user_path
from ..safeio import read_file

OUT_ACTS = ("linear", "relu6")
KERNELS = (3, 5, 7)
STRIDES = (1, 2)

MAX_STAGES = 32
MAX_NAME = 200
NETWORK_KEYS = ("name", "num_classes", "input_size", "stem_channels", "last_conv", "dropout", "stages")
META_KEYS = ("paper", "notes", "source", "description")
MAX_FILE_BYTES = 1_000_000
NAME = Option("name", str, "custom", max_chars=MAX_NAME, help="the design's name")
MAX_PROBLEMS = 20  # lines of one error report
MAX_DEPTH = 20  # nesting of lists and objects; a design needs 3 (stages, a stage, a paper value)


@dataclass(frozen=True)
class Stage:
    """One row of the bottleneck table: `n` blocks, expansion `t`, `c` output channels, first stride `s`.

    Each field is an option (explorer.options): its range is declared here once and the parser checks it.
    Upper bounds are generous for research and small enough to catch typos (c=10000 instead of 1000).
    """

    t: int = option(lo=1, hi=32, help="Expansion: hidden width = t × input channels (1 = no expansion conv)")
    c: int = option(lo=1, hi=4096, help="Output channels of each block")
    n: int = option(lo=1, hi=32, help="Blocks in the stage")
    s: int = option(choices=STRIDES, help="Stride of the stage's first block")
    skip: bool = option(True, help="Residual add where stride is 1 and channels match")
    out_act: str = option("linear", choices=OUT_ACTS, help="After the 1×1 projection: linear bottleneck or ReLU6")
    kernel: int = option(3, choices=KERNELS, help="Depthwise kernel size")


@dataclass(frozen=True)
class Design:
    name: str
    stages: tuple[Stage, ...]
    num_classes: int = option(1000, lo=1, hi=100_000, help="Outputs of the classifier")
    input_size: int = option(224, lo=8, hi=1024, help="Image side in pixels")
    stem_channels: int = option(32, lo=1, hi=1024, help="Channels of the stem conv")
    last_conv: int = option(0, lo=0, hi=8192, help="Channels of the final 1×1 conv before pooling (0: none)")
    dropout: float = option(0.2, lo=0, hi=1, hi_open=True, help="Dropout before the classifier")
    # Metadata (paper numbers, notes) never changes the network, so it is not part of equality or the hash.
    meta: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in NETWORK_KEYS if k != "stages"}
        d["stages"] = [asdict(s) for s in self.stages]
        d.update(json.loads(json.dumps(self.meta)))  # a deep copy: callers may mutate the result
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def network_hash(self) -> str:
        """Identifies the network, not its name or notes: equal networks share measurements."""
        net = {k: v for k, v in self.to_dict().items() if k in NETWORK_KEYS and k != "name"}
        blob = json.dumps(net, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def with_changes(self, **changes) -> Design:
        return replace(self, **changes)

    def with_skips(self, on: bool) -> Design:
        """Every stage's skip set to `on`: the paper's x2nr experiment as one switch."""
        return replace(self, stages=tuple(replace(s, skip=on) for s in self.stages))


STAGE_OPTIONS = options_of(Stage)
STAGE_KEYS = tuple(f.name for f in fields(Stage))  # the one definition of a stage's fields and their order
STAGE_REQUIRED = tuple(o.name for o in STAGE_OPTIONS if o.required)  # t, c, n, s
NETWORK_OPTIONS = options_of(Design)  # num_classes, input_size, stem_channels, last_conv, dropout


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _describe(v: Any) -> str:
    """A short, printable description of a JSON value for an error line (JSON's spelling; numbers as
    explorer.options.show writes them)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        shown = json.dumps(v[:60])  # escapes control characters and lone surrogates
        return shown if len(v) <= 60 else shown[:-1] + '..."'
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return show(v)


def _show_key(k: Any) -> str:
    """An object key as it may be printed: escaped when it holds control characters or lone surrogates."""
    k = str(k)
    return k if k.isprintable() and text_problem(k) is None and len(k) <= 60 else _describe(k)


def _depth_problem(raw: Any) -> str | None:
    """Iterative, so a deep value cannot exhaust the stack here."""
    todo = [(raw, 1)]
    while todo:
        v, depth = todo.pop()
        if isinstance(v, (list, dict)):
            if depth > MAX_DEPTH:
                return f"design: nested deeper than {MAX_DEPTH} levels of lists and objects"
            todo.extend((c, depth + 1) for c in (v.values() if isinstance(v, dict) else v))
    return None


def _non_finite_in(value: Any, place: str) -> str | None:
    """The place of the first NaN or infinite number in a (depth-checked) JSON value: not JSON, and never a
    value a design or its paper numbers can hold."""
    todo = [(value, place)]
    while todo:
        v, where = todo.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return where
        if isinstance(v, dict):
            todo.extend((c, f"{where}.{_show_key(k)}") for k, c in v.items())
        elif isinstance(v, list):
            todo.extend((c, f"{where}[{i}]") for i, c in enumerate(v))
    return None


def _text_in(value: Any) -> str | None:
    """The first text problem among the keys and strings of a (depth-checked) JSON value."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, str) and text_problem(v, multiline=True):
            return f"text {_describe(v)} {text_problem(v, multiline=True)}"
        if isinstance(v, dict):
            for k in v:
                if not isinstance(k, str) or text_problem(k):
                    return f"key {_show_key(k)} must be text without control characters"
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
    return None


class _Checker:
    """Collects problems instead of stopping at the first one, so the user fixes everything in one go."""

    def __init__(self):
        self.problems: list[str] = []

    def bad(self, place: str, msg: str, value: Any = ...) -> None:
        got = "" if value is ... else f", got {_describe(value)}"
        self.problems.append(f"{place}: {msg}{got}")

    def value(self, place: str, opt: Option, v: Any) -> Any:
        """`v` when its option allows it (an integer as int, a number as float), else None and a problem."""
        wrong = opt.problem(v, _describe)
        if wrong:
            self.bad(place, wrong, v)
            return None
        if opt.kind is int and not opt.choices:
            return int(v)
        return float(v) if opt.kind is float else v

    def unknown_keys(self, place: str, obj: dict, allowed: tuple) -> None:
        for k in obj:
            if k not in allowed:
                self.bad(f"{place}{_show_key(k)}", "unknown key; allowed keys: " + ", ".join(allowed))


def _parse_stage(chk: _Checker, i: int, raw: Any) -> Stage | None:
    place = f"stages[{i}]"
    if not isinstance(raw, dict):
        chk.bad(place, "must be an object with keys t, c, n, s", raw)
        return None
    chk.unknown_keys(place + ".", raw, STAGE_KEYS)
    for k in STAGE_REQUIRED:
        if k not in raw:
            chk.bad(f"{place}.{k}", "is required")
    vals = {o.name: chk.value(f"{place}.{o.name}", o, raw[o.name]) for o in STAGE_OPTIONS if o.name in raw}
    if any(vals.get(k) is None for k in STAGE_REQUIRED) or None in vals.values():
        return None
    return Stage(**{k: int(v) if _is_int(v) else v for k, v in vals.items()})


def parse_design(raw: Any) -> Design:
    """Validate a decoded JSON object and return a Design, or raise DesignError listing every problem."""
    chk = _Checker()
    if not isinstance(raw, dict):
        raise DesignError([f"design: must be a JSON object with a 'stages' list, got {_describe(raw)}"])
    deep = _depth_problem(raw)
    if deep:
        raise DesignError([deep])
    chk.unknown_keys("", raw, NETWORK_KEYS + META_KEYS)
    kw: dict[str, Any] = {}

    kw["name"] = raw.get("name", NAME.default)
    chk.value("name", NAME, kw["name"])

    for o in NETWORK_OPTIONS:
        kw[o.name] = chk.value(o.name, o, raw[o.name]) if o.name in raw else o.default

    stages_raw = raw.get("stages")
    stages: list[Stage | None] = []
    if "stages" not in raw:
        chk.bad("stages", "is required: a list of {t, c, n, s} objects")
    elif not isinstance(stages_raw, list):
        chk.bad("stages", "must be a list of {t, c, n, s} objects", stages_raw)
    elif not stages_raw:
        chk.bad("stages", "must hold at least one stage")
    elif len(stages_raw) > MAX_STAGES:
        chk.bad("stages", f"must hold at most {MAX_STAGES} stages, got {len(stages_raw)}")
    else:
        stages = [_parse_stage(chk, i, s) for i, s in enumerate(stages_raw)]

    meta = {k: raw[k] for k in META_KEYS if k in raw}
    if "paper" in meta and not isinstance(meta["paper"], dict):
        chk.bad("paper", "must be an object of reported metrics", meta["paper"])
    for k in ("notes", "source", "description"):
        if k in meta and not isinstance(meta[k], str):
            chk.bad(k, "must be a string", meta[k])
        elif k in meta and text_problem(meta[k], multiline=True):
            chk.bad(k, text_problem(meta[k], multiline=True), meta[k])
    if isinstance(meta.get("paper"), dict) and _text_in(meta["paper"]):
        chk.bad("paper", _text_in(meta["paper"]))
    if "paper" in meta and (where := _non_finite_in(meta["paper"], "paper")):
        chk.bad(where, "must be a finite number (NaN and infinity are not JSON)")

    if not chk.problems and stages:
        _check_geometry(chk, kw["input_size"], stages)
    if chk.problems:
        shown = chk.problems[:MAX_PROBLEMS]  # a file of 100,000 unknown keys must not print 100,000 lines
        if len(chk.problems) > MAX_PROBLEMS:
            shown.append(f"design: and {len(chk.problems) - MAX_PROBLEMS} more problems")
        raise DesignError(shown)
    return Design(stages=tuple(stages), meta=meta, **kw)


def _check_geometry(chk: _Checker, input_size: int, stages: list[Stage]) -> None:
    # Padding k//2 never shrinks a map below 1x1, but an input smaller than the total stride makes the
    # later stride-2 steps no-ops: almost certainly a mistake, so say how small the input may be.
    total = 2
    for s in stages:
        total *= s.s
    if input_size < total:
        chk.bad("input_size", f"must be at least the total stride {total} of the stem and stages", input_size)


class _RefusedJson(ValueError):
    """Valid for Python's json module, refused in a design file (the message says why)."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object whose keys are all different: with a duplicate, one of the two values would silently win."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _RefusedJson(f"key {_describe(str(key))} appears twice in one object; keep one of its values")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    """NaN, Infinity and -Infinity: Python reads them, JSON does not have them, and no design value may be one."""
    raise _RefusedJson(f"{name} is not a JSON number; give a finite number")


def load_design_text(text: str | bytes, origin: str = "design") -> Design:
    """Decode JSON text (a file, an upload) and validate it."""
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise DesignError([f"{origin}: file is {len(text):,} bytes; designs are at most {MAX_FILE_BYTES:,}"])
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise DesignError([f"{origin}: not UTF-8 text; a design is a JSON file"]) from None
    if len(text) > MAX_FILE_BYTES:
        raise DesignError([f"{origin}: text is {len(text):,} characters; designs are at most {MAX_FILE_BYTES:,}"])
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except _RefusedJson as e:
        raise DesignError([f"{origin}: {e}"]) from None
    except json.JSONDecodeError as e:
        raise DesignError([f"{origin}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"]) from None
    except RecursionError:
        raise DesignError([f"{origin}: nested deeper than {MAX_DEPTH} levels of lists and objects"]) from None
    except ValueError as e:  # an integer of thousands of digits (Python's int_max_str_digits)
        raise DesignError([f"{origin}: a number in it is too long ({str(e).split(';')[0]})"]) from None
    try:
        return parse_design(raw)
    except DesignError as e:
        if len(e.problems) == 1 and e.problems[0].startswith("design: nested"):
            raise DesignError([f"{origin}: " + e.problems[0].removeprefix("design: ")]) from None
        raise


def load_design_file(path: str | Path) -> Design:
    """Read a design file: a regular file of at most MAX_FILE_BYTES (a FIFO or a device is refused)."""
    p = user_path(path, "design file")
    return load_design_text(read_file(p, "design file", MAX_FILE_BYTES), origin=str(p))
