"""The Design page's editor grid and global controls <-> a Design (the grid's adapter).

The app's grid hands back rows with pandas quirks (NaN in empty cells, whole columns turned float when one
cell is empty); they are normalised here so validation speaks about what the user typed.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict
from typing import Any

from ..design.spec import STAGE_KEYS, Design, parse_design
from ..errors import DesignError

DEFAULT_LAST_CONV = 1280
NAME_MISSING = "name: must not be empty (it names the design on every page and its exported files)"


def design_to_rows(design: Design) -> list[dict]:
    return [asdict(s) for s in design.stages]


def design_to_globals(design: Design) -> dict:
    return {
        "name": design.name,
        "num_classes": design.num_classes,
        "input_size": design.input_size,
        "stem_channels": design.stem_channels,
        "dropout": design.dropout,
        "last_conv_on": design.last_conv > 0,
        "last_conv_width": design.last_conv or DEFAULT_LAST_CONV,
        # The switch shows what the design does: on when any stage asks for skips (x2nr has none).
        "skips_on": any(s.skip for s in design.stages),
    }


def _clean(v: Any) -> Any:
    """Empty cells become missing; 6.0 or "6" becomes 6; anything else stays as typed, for the validator to name."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or str(v) in ("<NA>", "NaT"):
        return None
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, numbers.Real) and not isinstance(v, bool) and float(v).is_integer():
        return int(v)
    if hasattr(v, "item"):  # numpy bool_ and friends
        return v.item()
    if isinstance(v, str):  # the grid's number cells are text cells, so that every typo reaches the validator
        return _number_or_text(v)
    return v


def _number_or_text(text: str) -> Any:
    """'3' -> 3, '2.5' -> 2.5, '' -> None (missing); anything else stays text and is named by the validator."""
    text = text.strip()
    if not text:
        return None
    for kind in (int, float):
        try:
            number = kind(text)
        except ValueError:
            continue
        return _clean(number) if math.isfinite(number) else text
    return text


def design_from_table(rows: list[dict], g: dict, meta: dict | None = None) -> Design:
    """Validate table + controls; raises DesignError naming `stages[i].field` for a bad cell."""
    stages = []
    for row in rows:
        cells = {k: _clean(row.get(k)) for k in STAGE_KEYS}
        stages.append({k: v for k, v in cells.items() if v is not None})
    raw = {
        "name": g["name"],
        "num_classes": _clean(g["num_classes"]),
        "input_size": _clean(g["input_size"]),
        "stem_channels": _clean(g["stem_channels"]),
        "dropout": g["dropout"],
        "last_conv": _clean(g["last_conv_width"]) if g["last_conv_on"] else 0,
        "stages": stages,
        **(meta or {}),
    }
    if not str(g["name"] or "").strip():
        # The parser takes "" (an old file may have it); the editor does not: the name heads the page, the pins,
        # the comparisons and every exported file.
        try:
            parse_design({**raw, "name": "unnamed"})
        except DesignError as e:
            raise DesignError([NAME_MISSING, *e.problems]) from None
        raise DesignError([NAME_MISSING])
    design = parse_design(raw)
    return design if g.get("skips_on", True) else design.with_skips(False)
