"""Training checkpoints: atomic writes, weights-only reads, warm starts and run folders.

A checkpoint is `{"design": design.to_dict(), "model": state_dict, "optimizer", "scheduler", "step", "epoch",
"epoch_offset", "config", "history", "rng", ...}` saved with torch.save. It is written to a temporary file
in the same folder and renamed over the old one, so a crash mid-write never leaves a torn file.
Readers use weights_only=True: a checkpoint from elsewhere cannot run code on load.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..design.spec import Design
from ..errors import UserError, first_line
from ..paths import user_path
from ..safeio import TEMP_PREFIX, TEMP_SUFFIX, atomic_write, open_regular, remove_stale_temps

CHECKPOINT_NAME = "last.pt"


MAX_CHECKPOINT_BYTES = 8 << 30  # far above any design the bounds allow to train on one host
# torch.save stores its archive entries uncompressed; a few compressed ones are tolerated, a zip bomb is not.
MAX_UNPACK_RATIO = 4
UNPACK_SLACK = 64 << 20
STALE_TEMP_PATTERNS = (f"{TEMP_PREFIX}*{TEMP_SUFFIX}", f".{CHECKPOINT_NAME}.*.tmp")  # the second: older versions


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write atomically (safeio.atomic_write: temporary file, fsync, rename; never through a symbolic link)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{path.parent}: cannot create the run folder ({e.strerror or e})") from None
    with atomic_write(path, "checkpoint") as sink:
        torch.save(payload, sink.file)
    return path


def remove_stale_temps_in(folder: str | Path) -> list[Path]:
    """Temporary checkpoints a killed run left behind (kill -9 during the fsync): removed on start and resume."""
    return [p for pattern in STALE_TEMP_PATTERNS for p in remove_stale_temps(folder, pattern)]


def _check_archive(f, path: Path, file_size: int) -> None:
    """Refuse a zip whose declared unpacked size is out of proportion to the file, before unpacking anything."""
    try:
        entries = zipfile.ZipFile(f).infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise UserError(f"{path}: not a PyTorch checkpoint (damaged archive: {first_line(e)})") from None
    declared = sum(i.file_size for i in entries)
    if declared > min(MAX_CHECKPOINT_BYTES, MAX_UNPACK_RATIO * file_size + UNPACK_SLACK):
        raise UserError(
            f"{path}: refused: its archive declares {declared:,} bytes unpacked from {file_size:,}; "
            "torch.save never compresses like that"
        )
    f.seek(0)


def load_checkpoint(path: str | Path) -> dict:
    """torch.load(weights_only=True) with one-line errors; a bare state dict comes back as {"model": it}.

    Only a regular file (no link, FIFO or device) of at most MAX_CHECKPOINT_BYTES is opened, and a zip
    archive's declared sizes are checked before torch unpacks it."""
    path = user_path(path, "checkpoint")
    with open_regular(path, "checkpoint file", MAX_CHECKPOINT_BYTES, follow_symlinks=False) as f:
        try:
            head = f.read(4)
            f.seek(0)
            # torch.save writes a zip archive (or, before torch 1.6, a pickle): say so plainly for anything else
            if not (head == b"PK\x03\x04" or head[:1] == b"\x80"):
                raise UserError(f"{path}: not a PyTorch checkpoint (not a file written by torch.save)")
            if head == b"PK\x03\x04":
                _check_archive(f, path, os.fstat(f.fileno()).st_size)
            obj = torch.load(f, map_location="cpu", weights_only=True)
        except OSError as e:
            raise UserError(f"{path}: cannot read checkpoint ({e.strerror or e})") from None
        except pickle.UnpicklingError as e:
            if "weights only" not in str(e).lower():
                raise UserError(f"{path}: not a PyTorch checkpoint ({first_line(e)})") from None
            raise UserError(
                f"{path}: refused: it holds objects other than tensors, numbers and containers, "
                "which loading with weights_only=True does not run"
            ) from None
        except (RuntimeError, ValueError, EOFError, AttributeError) as e:  # a truncated or corrupt archive
            raise UserError(f"{path}: not a PyTorch checkpoint ({first_line(e)})") from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        return obj
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {"model": obj}
    raise UserError(f"{path}: not a checkpoint: expected a dict with a 'model' state dict, or a state dict")


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
