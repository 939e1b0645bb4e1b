"""Option specs: every value a user sets (a flag, a keyword, a design field) declared once, with its type,
default, allowed range or choices, unit and help. One declaration

- checks a value and says what is wrong in one line ("batch must be at least 1, got 0"),
- generates the argparse argument (type, default, help stating the range and the default), and
- builds a dataclass from parsed arguments (`option()` declares a dataclass field as an option).

Why not pydantic v2: its messages ("Input should be greater than or equal to 1") would all have to be
rewritten to keep today's wording, its locations (`stages.1.s`) are already given by the design parser,
which also keeps going after the first problem, and it generates no argparse arguments. This module is a
few small functions over a frozen dataclass, with no new dependency.

Foundation layer: imports only explorer.errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import numbers
import types
import typing
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import Problems, UserError

OPTION_KEY = "explorer.option"  # where `option()` keeps an option's declaration in a dataclass field's metadata


def show(value: Any) -> str:
    """A short, printable form of a value for an error line."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(value) >= 10**15:
        return f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1} digits"
    if isinstance(value, str) and len(value) > 60:
        return repr(value[:60])[:-1] + "...'"
    return repr(value)


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters that show nothing or change how the text around them reads: format characters (zero-width space
# and joiners, bidirectional marks, tag characters), line and paragraph separators. In a name they make
# "SM_V2\u200b" look like SM_V2, or a name read differently than it is stored.
INVISIBLE_CATEGORIES = ("Cf", "Zl", "Zp")
# Letters and symbols to Unicode that draw nothing (Hangul fillers, the blank Braille pattern): a name of them
# looks blank, or like the same name without them.
BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800")
VARIATION_SELECTORS = frozenset([*map(chr, range(0xFE00, 0xFE10)), *map(chr, range(0xE0100, 0xE01F0))])


def _invisible(text: str, i: int) -> bool:
    """Whether text[i] hides in a name. A zero-width joiner between two pictographs is the one exception: it
    draws an emoji sequence (🧑‍💻), visible as one symbol."""
    ch = text[i]
    if ch in BLANK_LOOKING or (unicodedata.category(ch) == "Zs" and ch != " "):  # NBSP looks like a space
        return True
    if ch in VARIATION_SELECTORS:  # styles the symbol before it (the emoji form of ❤); alone it shows nothing
        return i == 0 or unicodedata.category(text[i - 1])[0] in "ZC" or text[i - 1] in VARIATION_SELECTORS
    if unicodedata.category(ch) not in INVISIBLE_CATEGORIES:
        return False
    if text[i] != "\u200d" or i == 0 or i == len(text) - 1:
        return True
    return not (unicodedata.category(text[i - 1]) == "So" and unicodedata.category(text[i + 1]) == "So")


def text_problem(text: str, multiline: bool = False) -> str | None:
    """Why `text` cannot be shown or stored as UTF-8 text (None when it can). One line (a name) also refuses
    invisible and format characters; several lines (notes) allow newlines and tabs."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate)"
    allowed = "\n\t" if multiline else ""
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text):
        return "must not hold control characters"
    if any(ch in BIDI_CONTROLS for ch in text):  # in notes too: they reorder what is shown around them
        return "must not hold bidirectional control characters (they make text read differently than it is)"
    if not multiline:
        hidden = next((ch for i, ch in enumerate(text) if _invisible(text, i)), None)
        if hidden is not None:
            return (
                f"must not hold invisible or format characters (U+{ord(hidden):04X} "
                f"{unicodedata.name(hidden, 'unnamed')}): it would look like another name"
            )
    return None


def _number(x: float) -> str:
    """A bound as people write it: 60, 0.05, 4294967295."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 10**15:
        return str(int(x))
    return format(x, "g") if isinstance(x, float) else str(x)


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def finite_float(text: str) -> float:
    """argparse type for numeric options: nan and inf are refused (nan trains to nan, inf never ends)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


@dataclass(frozen=True)
class Option:
    """One user-settable value. `lo`/`hi` bound numbers (inclusive unless `lo_open`/`hi_open`).

    Messages state the whole range ("must be from 1 to 32") unless `name_the_bound` is set: then only the bound
    crossed is named ("must be at least 1", "must be at most 1024"), for a natural floor with a sanity cap.
    """

    name: str
    kind: type = int  # int, float, str or bool
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple = ()
    optional: bool = False  # None is allowed: "choose for me" (default_help says how)
    name_the_bound: bool = False
    why: str = ""  # why the lower bound (or the whole range), appended to the message: "(batch norm needs it)"
    why_hi: str = ""  # why the upper bound, when it has its own reason: "(a year)"
    unit: str = ""  # "seconds": shown in messages and help
    help: str = ""
    default_help: str = ""  # how the default is shown in --help when the value itself says little (None)
    flag: str | None = ""  # the command-line flag; "" = --name-with-dashes, None = not a command-line option
    metavar: str | None = None
    required: bool = False  # a command-line option without a default
    label: str = ""  # how messages name the value when its name reads badly ("the search time"); default: name
    max_chars: int | None = None  # text: at most this many characters, on one line, nothing invisible

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    # -- checking ------------------------------------------------------------------------------------------
    def _positive_floor(self) -> bool:
        """Only "more than zero" is asked: said as "a positive number" rather than "above 0"."""
        return self.lo == 0 and self.lo_open and self.hi is None

    def _unit(self) -> str:
        return f" {self.unit}" if self.unit else ""

    def _bounds(self) -> tuple[float | None, float | None, bool, bool]:
        """lo, hi and whether each is open; an integer's open bound is the closed one next to it."""
        lo, hi, lo_open, hi_open = self.lo, self.hi, self.lo_open, self.hi_open
        if self.kind is int:
            lo = lo + 1 if lo is not None and lo_open else lo
            hi = hi - 1 if hi is not None and hi_open else hi
            lo_open = hi_open = False
        return lo, hi, lo_open, hi_open

    def _range(self) -> str:
        """The allowed range: "from 1 to 32", "in [0, 1)", "at least 2", "positive" ("" when unbounded)."""
        lo, hi, lo_open, hi_open = self._bounds()
        if self._positive_floor():
            return "positive"
        if lo is not None and hi is not None:
            if lo_open or hi_open:
                return f"in {'(' if lo_open else '['}{_number(lo)}, {_number(hi)}{')' if hi_open else ']'}"
            return f"from {_number(lo)} to {_number(hi)}{self._unit()}"
        if lo is not None:
            return f"{'above' if lo_open else 'at least'} {_number(lo)}{self._unit()}"
        if hi is not None:
            return f"{'below' if hi_open else 'at most'} {_number(hi)}{self._unit()}"
        return ""

    def allowed(self, describe: Callable[[Any], str] = str) -> str:
        """What is allowed, as the end of "X must be ...": "an integer from 1 to 32", "one of 1, 2"."""
        if self.choices:
            return "one of " + ", ".join(describe(c) for c in self.choices)
        if self.kind is bool:
            return "true or false"
        if self.kind is str:
            return "text"
        noun = "integer" if self.kind is int else "number"
        if self._positive_floor():
            return f"a positive {noun}" + (f" of {self.unit}" if self.unit else "")
        rng = self._range()
        return ("an integer" if self.kind is int else "a number") + (f" {rng}" if rng else "")

    def problem(self, value: Any, describe: Callable[[Any], str] = str) -> str | None:
        """What is wrong with `value`, as "must be ..." (None when it is allowed)."""
        if value is None and self.optional:
            return None
        if self.choices:
            ok = value in self.choices and type(value) is type(self.choices[0])  # True == 1, but no kernel size
            return None if ok else "must be " + self.allowed(describe)
        if self.kind is bool:
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind is str:
            if not isinstance(value, str):
                return (
                    "must be text" if self.max_chars is None else f"must be text of at most {self.max_chars} characters"
                )
            if self.max_chars is None:
                return None
            if not value.strip():
                return "must not be empty"
            if len(value) > self.max_chars:
                return f"must be text of at most {self.max_chars} characters"
            if value != value.strip(" "):
                return "must not start or end with a space (it would look like another name)"
            return text_problem(value)
        if not (_is_int(value) if self.kind is int else _is_number(value)):
            return "must be " + self.allowed(describe)
        if isinstance(value, float) and not math.isfinite(value):  # an int, however long, is finite
            return "must be a finite number"  # nan trains to nan, inf never ends
        lo, hi, lo_open, hi_open = self._bounds()
        below = lo is not None and (value <= lo if lo_open else value < lo)
        above = hi is not None and (value >= hi if hi_open else value > hi)
        if not (below or above):
            return None
        why = f" ({self.why})" if self.why else ""
        why_hi = f" ({self.why_hi})" if self.why_hi else ""
        if not self.name_the_bound and lo is not None and hi is not None:
            whole = self.allowed() if lo_open or hi_open else self._range()  # "a number in [0, 1)"
            return f"must be {whole}{why or why_hi}"
        if above:  # each bound with its own reason: "at most 525600 (a year)", never "positive (a year)"
            return f"must be {'below' if hi_open else 'at most'} {_number(hi)}{self._unit()}{why_hi}"
        zero_refused = self.lo > 0 or (self.lo == 0 and self.lo_open)
        if value <= 0 and zero_refused and (self.kind is float or self.lo_open):
            # zero or less where only positive values make sense: that is the mistake to name
            noun = "a positive integer" if self.kind is int else "a positive number"
            return f"must be {noun}{f' of {self.unit}' if self.unit else ''}{why}"
        return f"must be {'above' if lo_open else 'at least'} {_number(lo)}{self._unit()}{why}"

    def message(self, value: Any, label: str | None = None) -> str | None:
        """The whole error line for `value` under `label` (the name, or a flag such as --batch); None if allowed."""
        label = label or self.label or self.name
        if self.choices and isinstance(value, str) and isinstance(self.choices[0], str):
            if value in self.choices:
                return None
            return f"unknown {label.lstrip('-')} {show(value)}; choose one of: {', '.join(self.choices)}"
        wrong = self.problem(value)
        return None if wrong is None else f"{label} {wrong}, got {show(value)}"

    def check(self, value: Any, label: str | None = None) -> Any:
        """`value` itself (an int as int, a number as float) or UserError with one line."""
        line = self.message(value, label)
        if line:
            raise UserError(line)
        if value is None or self.choices or self.kind in (str, bool):
            return value
        return int(value) if self.kind is int else float(value)

    # -- argparse ------------------------------------------------------------------------------------------
    def help_text(self) -> str:
        parts = []
        if self.kind in (int, float) and not self.choices:
            parts.append(self._range())
        if self.kind is not bool:
            if self.default_help:
                parts.append(f"default: {self.default_help}")
            elif self.default is not None:
                parts.append(f"default {_number(self.default) if _is_number(self.default) else self.default}")
        extra = "; ".join(p for p in parts if p)
        text = f"{self.help} ({extra})" if self.help and extra else self.help or extra
        return text.replace("%", "%%")  # argparse formats help with %

    def add_to(self, parser: argparse.ArgumentParser | argparse._ActionsContainer, **overrides: Any) -> None:
        """Add this option to an argparse parser or group; range checks come after parsing (check_args), so
        that a mistake is one `error: ...` line rather than argparse's usage block."""
        kw: dict[str, Any] = {"dest": self.name, "help": self.help_text()}
        if self.kind is bool:
            kw["action"] = "store_false" if self.default else "store_true"
        else:
            kw["default"] = self.default
            kw["type"] = finite_float if self.kind is float else self.kind
            if self.choices:
                kw["choices"] = self.choices
            if self.metavar:
                kw["metavar"] = self.metavar
            if self.required:
                kw["required"] = True
        kw.update(overrides)
        parser.add_argument(self.cli_flag, **kw)


def check_args(args: argparse.Namespace, options: Iterable[Option]) -> None:
    """Check parsed arguments against their options; one line per problem, each naming the flag."""
    problems = [line for o in options if (line := o.message(getattr(args, o.name), o.cli_flag))]
    if problems:
        raise Problems(problems)


def check_values(values: dict[str, Any], options: Iterable[Option]) -> list[str]:
    """The problems of keyword values (by option name), one line each; options not in `values` are skipped."""
    return [line for o in options if o.name in values and (line := o.message(values[o.name]))]


# -- dataclasses whose fields are options -------------------------------------------------------------------
def option(default: Any = dataclasses.MISSING, **spec: Any) -> Any:
    """A dataclass field declared as an option: its default, range and help written once (see options_of)."""
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata={OPTION_KEY: spec})
    return dataclasses.field(default=default, metadata={OPTION_KEY: spec})


def _kind_of(hint: Any) -> tuple[type, bool]:
    """(the value's type, whether None is allowed) from an annotation such as `int | None`."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else ()
    if args:
        kinds = [a for a in args if a is not type(None)]
        return kinds[0], type(None) in args
    return hint, False


@functools.cache
def options_of(cls: type) -> tuple[Option, ...]:
    """The options a dataclass declares with `option()`, in field order; type and None-ness from the annotation."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if OPTION_KEY not in f.metadata:
            continue
        kind, optional = _kind_of(hints[f.name])
        has_default = f.default is not dataclasses.MISSING
        out.append(
            Option(
                name=f.name,
                kind=kind,
                default=f.default if has_default else None,
                optional=optional,
                required=not has_default,
                **f.metadata[OPTION_KEY],
            )
        )
    return tuple(out)


def add_options(parser: argparse.ArgumentParser | argparse._ActionsContainer, options: Iterable[Option]) -> None:
    """Every option that is a command-line option (flag not None), in order."""
    for o in options:
        if o.flag is not None:
            o.add_to(parser)


def from_args(cls: type, args: argparse.Namespace, **fixed: Any) -> Any:
    """The dataclass built from parsed arguments (its command-line options) and `fixed` values; the other
    fields keep their declared defaults."""
    values = {o.name: getattr(args, o.name) for o in options_of(cls) if o.flag is not None and o.name not in fixed}
    return cls(**values, **fixed)


# -- the run options shared by bench, calibrate, predict, search and the measuring library --------------------
BACKEND = Option("backend", str, "torch", choices=("torch", "onnxruntime"), help="torch (eager) or onnxruntime")
DEVICE = Option("device", str, "cpu", choices=("cpu", "cuda", "mps"), help="where the network runs")
BATCH = Option("batch", int, 1, lo=1, hi=1024, name_the_bound=True, metavar="N", help="images per forward pass")
THREADS = Option(
    "threads",
    int,
    None,
    lo=1,
    hi=256,
    optional=True,
    name_the_bound=True,
    metavar="N",
    help="CPU threads",
    default_help="all physical cores",
)
BUDGET = Option(
    "budget",
    float,
    2.0,
    lo=0.05,
    hi=60.0,
    name_the_bound=True,
    unit="seconds",
    metavar="S",
    help="timed runs",
)
MIN_RUNS = Option("min_runs", int, 10, lo=1, hi=100_000, name_the_bound=True, help="timed runs at the least")
WARMUP_RUNS = Option(
    "warmup", int, None, lo=0, hi=10_000, optional=True, name_the_bound=True, help="untimed runs first"
)
RUN_OPTIONS = (BACKEND, DEVICE, BATCH, THREADS, BUDGET, MIN_RUNS, WARMUP_RUNS)
