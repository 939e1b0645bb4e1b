"""Files for the exporters: reading a checkpoint for a design, and writing an output atomically.

A checkpoint (written by training) is `{"design": ..., "model": state_dict, ...}`; a bare state dict is
accepted too. Both are read with torch.load(weights_only=True), which cannot run code from the file.
"""

from __future__ import annotations

import os

from ..design.spec import Design, parse_design
from ..errors import DesignError, UserError
from ..paths import user_path
from ..safeio import atomic_write

_LISTED = 3  # tensors named per kind of mismatch before "and N more"


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def _shape(shape) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def check_state_dict(design: Design, state_dict: dict, origin: str = "weights") -> None:
    """Raise UserError (one line, naming tensors) unless `state_dict` loads strict=True into the design's model."""
    import torch

    from ..model.build import build_model

    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        expected = {k: tuple(v.shape) for k, v in build_model(design).state_dict().items()}
    bad_values = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad_values:
        raise UserError(f"{origin}: not a state dict: {_listing(bad_values)} are not tensors")
    shapes = [
        f"{k} {_shape(v.shape)} vs {_shape(expected[k])}"
        for k, v in state_dict.items()
        if k in expected and tuple(v.shape) != expected[k]
    ]
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    parts = []
    if shapes:
        parts.append(f"{len(shapes)} tensors differ in shape (checkpoint vs design): {_listing(shapes)}")
    if missing:
        parts.append(f"missing {_listing(missing)}")
    if unexpected:
        parts.append(f"unexpected {_listing(unexpected)}")
    if parts:
        raise UserError(f"{origin} does not fit design {design.name!r}: " + "; ".join(parts))


def _check_trained_design(design: Design, raw: object, origin: str) -> None:
    """Same shapes can still be another network (a skip, a stride, an activation): compare the designs."""
    try:
        trained = parse_design(raw)
    except DesignError:
        return  # a checkpoint from another version: the shape check is all we can do
    # Dropout and input size change neither the weights nor what they compute at inference.
    same = trained.with_changes(name=design.name, dropout=design.dropout, input_size=design.input_size)
    if same != design:
        diff = [f"stages[{i}]" for i, (a, b) in enumerate(zip(trained.stages, design.stages, strict=False)) if a != b]
        for key in ("num_classes", "stem_channels", "last_conv"):
            if getattr(trained, key) != getattr(design, key):
                diff.append(key)
        raise UserError(
            f"{origin} was trained for design {trained.name!r}, which differs from {design.name!r} in "
            f"{_listing(diff or ['stages'])}; export the design it was trained for"
        )


def load_weights(design: Design, checkpoint_path: str | os.PathLike) -> dict:
    """The state dict of a checkpoint file, checked to load strict=True into the design's model."""
    from ..model.checkpoint import check_finite, load_checkpoint

    origin = str(user_path(checkpoint_path, "checkpoint"))
    obj = load_checkpoint(checkpoint_path)
    check_state_dict(design, obj["model"], origin)  # names the tensors: the most precise message first
    check_finite(obj["model"], origin)
    if "design" in obj:
        _check_trained_design(design, obj["design"], origin)
    return obj["model"]


def atomic_output(path: str | os.PathLike):
    """Write `path` all at once or not at all: explorer.safeio.atomic_write, whose rules every output follows
    (a new path or an existing regular file; devices, FIFOs, folders and symbolic links are refused)."""
    return atomic_write(path, "output")
