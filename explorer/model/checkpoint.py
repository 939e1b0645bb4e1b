"""Reading a checkpoint file safely: weights-only, size- and archive-checked, one-line errors.

Below both users: training resumes and warm-starts from checkpoints (explorer.train.checkpoint), and the
exporters load trained weights from them (explorer.export.weights). Readers use torch.load(weights_only=True):
a checkpoint from elsewhere cannot run code on load.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path

import torch

from ..errors import UserError, first_line
from ..paths import user_path
from ..safeio import open_regular

MAX_CHECKPOINT_BYTES = 8 << 30  # far above any design the bounds allow to train on one host
# torch.save stores its archive entries uncompressed; a few compressed ones are tolerated, a zip bomb is not.
MAX_UNPACK_RATIO = 4
UNPACK_SLACK = 64 << 20


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
            with warnings.catch_warnings():  # torch's note on the pickle protocol is not ours to print
                warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
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
        _check_tensor_names(obj["model"], path)
        return obj
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        _check_tensor_names(obj, path)
        return {"model": obj}
    raise UserError(f"{path}: not a checkpoint: expected a dict with a 'model' state dict, or a state dict")


def _check_tensor_names(state_dict: dict, path: Path) -> None:
    """A state dict names its tensors with text ("stem.conv.weight"); any other key is not one torch wrote."""
    odd = next((k for k in state_dict if not isinstance(k, str)), None)
    if odd is not None:
        raise UserError(
            f"{path}: not a checkpoint: its state dict names a tensor by {type(odd).__name__} {str(odd)[:40]!r}, "
            "not by text"
        )


def check_finite(state_dict: dict, path: str | Path) -> None:
    """UserError when a floating-point tensor holds NaN or inf: weights of a run that diverged. Said here, of
    the file, rather than later as a loss that "diverged" under a learning rate that is not to blame."""
    broken = [
        name
        for name, t in state_dict.items()
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]
    if broken:
        more = f" and {len(broken) - 1} more" if len(broken) > 1 else ""
        raise UserError(
            f"{path}: holds NaN or infinite weights ({str(broken[0])[:60]}{more}): the run that wrote it diverged; "
            "use an earlier checkpoint"
        )
