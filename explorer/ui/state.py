"""Per-session state: the designs being edited (one draft per source), pinned designs, the baseline.

Streamlit forgets a widget's state when the widget is not drawn in a run (another page, another preset),
so every run copies the editor's output into the draft. The editor's *input* is set only when the editor is
created afresh (new key), never from its own output: writing the output back would lose every second edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from ..design.limits import DEFAULT_CAP
from ..design.presets import BASELINE_PRESET, DEFAULT_PRESET, all_presets, get_preset
from ..design.spec import Design
from ..errors import DesignError
from .table import design_from_table, design_to_globals, design_to_rows

BLANK = "Blank table"
BLANK_DESIGN = Design(name="my design", stages=(get_preset(DEFAULT_PRESET).stages[0],), num_classes=100)


@dataclass
class Draft:
    key: str  # the source's label in the "Start from" list
    origin: Design  # what "reset" returns to
    rows: list[dict]
    globals: dict
    gen: int = 0  # bumped to give the editor a fresh key (reset, row moves, uploads)
    editor_input: pd.DataFrame | None = None
    editor_columns: dict | None = None  # the grid's column config, built with its input (part of its identity)
    last_valid: Design | None = None
    problems: list[str] = field(default_factory=list)  # the table does not describe a network (numbers: last valid)
    over_cap: list[str] = field(default_factory=list)  # a valid network too big to build, measure or export

    @classmethod
    def from_design(cls, key: str, design: Design) -> Draft:
        return cls(
            key=key, origin=design, rows=design_to_rows(design), globals=design_to_globals(design), last_valid=design
        )

    def reset(self) -> None:
        self.rows, self.globals = design_to_rows(self.origin), design_to_globals(self.origin)
        self.gen += 1

    def replace_rows(self, rows: list[dict]) -> None:
        self.rows = rows
        self.gen += 1

    @property
    def blocked(self) -> str | None:
        """Why this design cannot be pinned, measured or exported now; None when it can."""
        if self.problems:
            return "Fix the table first: the numbers shown are of the last valid design."
        if self.over_cap:
            return "Over the cost cap: make the design smaller to pin, measure or export it."
        return None

    @property
    def editor_key(self) -> str:
        return f"editor::{self.key}::{self.gen}"

    def evaluate(self) -> Design:
        """The design the table describes now, or the last valid one (and `problems` says why)."""
        try:
            design = design_from_table(self.rows, self.globals)
        except DesignError as e:
            self.problems, self.over_cap = e.problems, []
            return self.last_valid
        self.problems = []
        try:  # analytic and instant, so checked on every edit rather than when Measure is pressed
            DEFAULT_CAP.check(design)
            self.over_cap = []
        except DesignError as e:
            self.over_cap = e.problems
        # Paper numbers belong to the paper's network only: an edited preset loses them and says where it came from.
        if design.network_hash() == self.origin.network_hash():
            design = design.with_changes(meta=self.origin.meta)
        else:
            if design.name == self.origin.name:
                design = design.with_changes(name=f"{design.name} (edited)")
            design = design.with_changes(meta={"source": f"edited from {self.origin.name}"})
        self.last_valid = design
        return design


def _ss():
    s = st.session_state
    if "drafts" not in s:
        s.drafts = {}
        s.pinned = {}  # label -> Design
        s.sources = [d.name for d in all_presets()] + [BLANK]
    return s


def sources() -> list[str]:
    return _ss().sources


def draft(source: str) -> Draft:
    s = _ss()
    if source not in s.drafts:
        s.drafts[source] = Draft.from_design(source, BLANK_DESIGN if source == BLANK else get_preset(source))
    return s.drafts[source]


def add_source(design: Design, label: str) -> str:
    """An uploaded design becomes a new source of its own; nothing being edited is overwritten."""
    s = _ss()
    key, i = label, 2
    while key in s.sources:
        key, i = f"{label} ({i})", i + 1
    s.sources.append(key)
    s.drafts[key] = Draft.from_design(key, design)
    return key


def current_source() -> str:
    # Kept apart from the selectbox's own key: a widget drawn on another page is another widget, and would
    # start again from its first option.
    s = _ss()
    if s.get("current_source") not in s.sources:
        s.current_source = DEFAULT_PRESET
    return s.current_source


def set_source(source: str) -> None:
    _ss().current_source = source


def current_design() -> Design:
    return draft(current_source()).evaluate()


def pinned() -> dict[str, Design]:
    return _ss().pinned


def pin(design: Design) -> str:
    p = _ss().pinned
    label, i = design.name, 2
    while label in p and p[label].network_hash() != design.network_hash():
        label, i = f"{design.name} #{i}", i + 1
    p[label] = design
    return label


def baseline_options() -> dict[str, Design]:
    opts = {d.name: d for d in all_presets()}
    opts.update({f"pinned: {k}": v for k, v in pinned().items()})
    return opts


def baseline_label() -> str:
    s, opts = _ss(), baseline_options()
    if s.get("current_baseline") not in opts:
        s.current_baseline = BASELINE_PRESET
    return s.current_baseline


def set_baseline(label: str) -> None:
    _ss().current_baseline = label


def baseline() -> Design:
    return baseline_options()[baseline_label()]


def keep_widgets(keys: tuple[str, ...]) -> None:
    """Widgets keep their values while they are not drawn (another page, a closed tab).

    Streamlit drops a widget's state at the end of a run that does not draw it, so a setting would return to its
    default when the user comes back. Called before the widgets would be drawn: a value still held is copied
    aside, and a dropped one is given back from that copy.
    """
    s = st.session_state
    for key in keys:
        kept = f"kept::{key}"
        if key in s:
            s[kept] = s[key]
        elif kept in s:
            s[key] = s[kept]
