"""A run's training state in its checkpoint: what is saved after each epoch, and how --resume takes it back.

Both directions live here so the keys written and the keys read cannot drift apart. The file mechanics
(atomic writes, safe reads) are explorer.train.checkpoint's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..design.spec import Design, parse_design
from ..errors import UserError
from .checkpoint import load_checkpoint, rng_state, set_rng_state
from .config import TrainConfig
from .data import DatasetInfo


@dataclass
class ResumedState:
    """The counters and logs a checkpoint carries, to continue a run where it stopped."""

    step: int
    epoch: int
    epoch_offset: int  # samples of the current epoch's order already consumed
    images_seen: int
    elapsed_s: float  # seconds trained by earlier sessions
    history: list[dict]
    loss_log: list[list[float]]
    skipped: set[str]
    last_eval: dict | None


def training_state(
    *,
    design: Design,
    net: nn.Module,
    opt: torch.optim.Optimizer,
    scaler,
    schedule: dict,
    step: int,
    epoch: int,
    epoch_offset: int,
    images_seen: int,
    cfg: TrainConfig,
    history: list[dict],
    loss_log: list[list[float]],
    last_eval: dict | None,
    info: DatasetInfo,
    skipped: list[str],
    world_size: int,
) -> dict:
    """The checkpoint payload: weights, optimizer, schedule, counters and logs, and the RNG state."""
    return {
        "format": 1,
        "design": design.to_dict(),
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "scaler": scaler.state_dict() if scaler else None,
        "scheduler": schedule,
        "step": step,
        "epoch": epoch,
        "epoch_offset": epoch_offset,
        "images_seen": images_seen,
        "config": cfg.to_dict(),
        "history": history,
        "loss_log": loss_log,
        "metrics": last_eval,
        "classes": info.classes,
        "train_size": len(info.train),
        "img_size": cfg.img_size,
        "skipped": skipped[:10_000],
        "rng": rng_state(),
        "world_size": world_size,
    }


def restore_training_state(
    path: Path,
    design: Design,
    info: DatasetInfo,
    net: nn.Module,
    opt: torch.optim.Optimizer,
    scaler,
    optimizer_name: str,
) -> ResumedState:
    """Check that the checkpoint at `path` continues this very run (design, data, optimizer), load its
    weights, optimizer and scaler state in place and restore the RNGs; UserError says what differs."""
    if not path.exists():
        raise UserError(f"nothing to resume: no checkpoint at {path}")
    ck = load_checkpoint(path)
    if "step" not in ck or "optimizer" not in ck:
        raise UserError(f"{path}: holds weights only, not a training state; use it with --init")
    if parse_design(ck["design"]).network_hash() != design.network_hash():
        raise UserError(f"{path}: was trained for another design than {design.name}")
    if ck.get("classes") != info.classes or ck.get("train_size") != len(info.train):
        raise UserError(
            f"{path}: trained on {ck.get('train_size')} images "
            f"of {len(ck.get('classes') or [])} classes, "
            f"the folder now gives {len(info.train)} of {info.num_classes}; resume with the same "
            "--data and --per-class"
        )
    net.load_state_dict(ck["model"])
    try:
        opt.load_state_dict(ck["optimizer"])
    except (ValueError, KeyError):
        raise UserError(f"{path}: saved with another optimizer than {optimizer_name}") from None
    if scaler is not None and ck.get("scaler"):
        scaler.load_state_dict(ck["scaler"])
    state = ResumedState(
        step=ck["step"],
        epoch=ck["epoch"],
        epoch_offset=ck["epoch_offset"],
        images_seen=ck["images_seen"],
        elapsed_s=ck["scheduler"]["elapsed_s"],
        history=list(ck["history"]),
        loss_log=list(ck.get("loss_log", [])),
        skipped=set(ck.get("skipped", [])),
        last_eval=ck.get("metrics"),
    )
    set_rng_state(ck["rng"])
    return state
