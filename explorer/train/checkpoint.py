"""Training checkpoints: atomic writes, warm starts and run folders (reading: explorer.model.checkpoint).

A checkpoint is `{"design": design.to_dict(), "model": state_dict, "optimizer", "scheduler", "step", "epoch",
"epoch_offset", "config", "history", "rng", ...}` saved with torch.save. It is written to a temporary file
in the same folder and renamed over the old one, so a crash mid-write never leaves a torn file.
Readers use weights_only=True: a checkpoint from elsewhere cannot run code on load.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..design.spec import Design
from ..errors import UserError
from ..model.checkpoint import MAX_CHECKPOINT_BYTES, check_finite, load_checkpoint
from ..safeio import CHECKPOINT_KIND, TEMP_PREFIX, TEMP_SUFFIX, atomic_write, make_folder, remove_stale_temps

__all__ = ["MAX_CHECKPOINT_BYTES", "load_checkpoint", "save_checkpoint", "warm_start"]

CHECKPOINT_NAME = "last.pt"


STALE_TEMP_PATTERNS = (f"{TEMP_PREFIX}*{TEMP_SUFFIX}", f".{CHECKPOINT_NAME}.*.tmp")  # the second: older versions


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write atomically (safeio.atomic_write: temporary file, fsync, rename; never through a symbolic link)."""
    path = Path(path)
    make_folder(path.parent, "run folder")
    # A run rewrites its own checkpoint: the one it resumed from is an input it may replace.
    with atomic_write(path, "checkpoint", kind=CHECKPOINT_KIND, rewrites_input=True) as sink:
        torch.save(payload, sink.file)
    return path


def remove_stale_temps_in(folder: str | Path) -> list[Path]:
    """Temporary checkpoints a killed run left behind (kill -9 during the fsync): removed on start and resume."""
    return [p for pattern in STALE_TEMP_PATTERNS for p in remove_stale_temps(folder, pattern)]


@dataclass
class WarmStart:
    source: str
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "name: why", for checkpoint tensors not used
    missing: list[str] = field(default_factory=list)  # tensors of the model the checkpoint did not provide

    def summary(self) -> str:
        total = len(self.loaded) + len(self.missing)
        return (
            f"warm start from {self.source}: loaded {len(self.loaded)} of the model's {total} tensors, "
            f"skipped {len(self.skipped)} checkpoint tensor(s)" + (f" (e.g. {self.skipped[0]})" if self.skipped else "")
        )

    def to_dict(self) -> dict:
        return {"source": self.source, "loaded": self.loaded, "skipped": self.skipped, "missing": self.missing}


def warm_start(model: torch.nn.Module, path: str | Path) -> WarmStart:
    """Copy every checkpoint tensor whose name and shape match the model; report the rest."""
    state = load_checkpoint(path)["model"]
    own = model.state_dict()
    report = WarmStart(str(path))
    matched = {}
    for name, tensor in state.items():
        key = name.removeprefix("module.")  # saved from a DDP-wrapped model
        if not isinstance(tensor, torch.Tensor):
            report.skipped.append(f"{name}: not a tensor")
        elif key not in own:
            report.skipped.append(f"{name}: not in this design")
        elif tuple(tensor.shape) != tuple(own[key].shape):
            report.skipped.append(f"{name}: shape {tuple(tensor.shape)} there, {tuple(own[key].shape)} here")
        else:
            matched[key] = tensor
    if not matched:
        raise UserError(
            f"{path}: no tensor matches this design by name and shape; is it a checkpoint of this explorer?"
        )
    check_finite(matched, path)
    model.load_state_dict(matched, strict=False)
    report.loaded = list(matched)
    report.missing = [k for k in own if k not in matched]
    return report


def rng_state() -> dict:
    version, internal, gauss = random.getstate()
    state = {"torch": torch.get_rng_state(), "python": [version, list(internal), gauss]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def runs_dir() -> Path:
    from ..paths import default_data_dir

    return default_data_dir() / "runs"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:40] or "design"


def new_run_dir(design: Design) -> Path:
    return runs_dir() / f"{_slug(design.name)}-{design.network_hash()}-{time.strftime('%Y%m%d-%H%M%S')}"


def latest_run_dir(design: Design) -> Path | None:
    """The newest run folder of this network that holds a checkpoint (what --resume without --out continues)."""
    found = sorted(runs_dir().glob(f"*-{design.network_hash()}-*/{CHECKPOINT_NAME}"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None
