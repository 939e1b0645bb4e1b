"""The paper's models as design files (presets/*.json), and its reference CNNs that the table cannot express."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from ..errors import UserError
from ..safeio import read_file
from .spec import MAX_FILE_BYTES, Design, load_design_file


def _preset_dir() -> Path:
    # A checkout (installed editable or not) keeps the design files in the top-level presets/ folder users see;
    # an installed wheel carries the same files as package data in explorer/presets_data (see setup.py).
    package = Path(__file__).resolve().parents[1]  # explorer/
    packaged = package / "presets_data"
    return packaged if packaged.is_dir() else package.parent / "presets"


PRESET_DIR = _preset_dir()
REFERENCE_FILE = PRESET_DIR / "reference" / "paper_reference.json"
DEFAULT_PRESET = "SM_V2"
BASELINE_PRESET = "MobileNet V2"
# The presets in the paper's story: the two MobileNets, then SM_V2 and its variants; any other file after them.
STORY_ORDER = ("mobilenet_v1", "mobilenet_v2", "sm_v2", "sm_v2_2_2", "sm_v2_3_2", "sm_v2_2_1.5", "sm_v2_x2nr")


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum() or ch == ".")


@lru_cache(maxsize=1)
def _load_all() -> tuple[tuple[str, Design], ...]:
    def place(path: Path) -> tuple[int, str]:
        rank = STORY_ORDER.index(path.stem) if path.stem in STORY_ORDER else len(STORY_ORDER)
        return rank, path.stem

    files = sorted(PRESET_DIR.glob("*.json"), key=place)
    return tuple((p.stem, load_design_file(p)) for p in files)


def all_presets() -> list[Design]:
    return [d for _, d in _load_all()]


def preset_names() -> list[str]:
    return [d.name for d in all_presets()]


def get_preset(name: str) -> Design:
    """Find a preset by its name ('SM_V2') or file name ('sm_v2'), ignoring case, spaces and underscores."""
    want = _key(name)
    for stem, d in _load_all():
        if want in (_key(stem), _key(d.name)):
            return d
    raise UserError(f"unknown preset {name!r}; available: {', '.join(preset_names())}")


@lru_cache(maxsize=1)
def paper_reference() -> dict:
    """Table 2's ImageNet-1k CNNs and Table 3's ShuffleNet V2 row, as the paper reports them."""
    return json.loads(read_file(REFERENCE_FILE, "paper reference file", MAX_FILE_BYTES))


def preset_rows() -> list[dict]:
    """One row per preset: our computed counts beside the paper's reported numbers."""
    from .cost import compute_cost

    rows = []
    for d in all_presets():
        c = compute_cost(d)
        p = d.meta.get("paper", {})
        rows.append(
            {
                "name": d.name,
                "params": c.params,
                "paper_params_m": p.get("params_m"),
                "macs": c.macs,
                "paper_flops_m": p.get("flops_m"),
                "paper_top1": p.get("accuracy_top1"),
                "paper_cpu_ms": p.get("cpu_ms"),
                "paper_gpu_ms": p.get("gpu_ms"),
                "paper_table": p.get("table"),
            }
        )
    return rows
