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
from ..errors import DesignError, UserError, first_line
from ..fmt import shell_word
from ..model.checkpoint import check_finite
from ..options import Option
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
    problems = state_problems(ck)
    if problems:
        raise UserError(f"{path}: damaged training state: {'; '.join(problems)}; start a new run (another --out)")
    trained = parse_design(ck["design"])
    if trained.with_changes(num_classes=design.num_classes).network_hash() != design.network_hash():
        raise UserError(f"{path}: was trained for another design than {design.name}")
    if ck.get("classes") != info.classes or ck.get("train_size") != len(info.train):
        classes = ck.get("classes") or []
        if len(classes) != info.num_classes:
            raise UserError(
                f"{path}: trained on a dataset of {len(classes)} classes, the folder now gives "
                f"{info.num_classes}; resume with the same --data (or start a new run with --init {shell_word(path)})"
            )
        raise UserError(
            f"{path}: trained on {ck.get('train_size')} images "
            f"of {len(classes)} classes, "
            f"the folder now gives {len(info.train)} of {info.num_classes}; resume with the same "
            "--data and --per-class"
        )
    check_finite(ck["model"], path)  # a diverged run's state: said of the file, not blamed on the learning rate
    try:
        net.load_state_dict(ck["model"])
    except (RuntimeError, TypeError, KeyError, AttributeError) as e:
        raise UserError(
            f"{path}: damaged training state: its weights do not fit {design.name} ({first_line(e)})"
        ) from None
    try:
        opt.load_state_dict(ck["optimizer"])
    except (ValueError, KeyError, TypeError, RuntimeError, AttributeError):
        raise UserError(
            f"{path}: saved with another optimizer than {optimizer_name}, or its state is damaged"
        ) from None
    if wrong := optimizer_state_problem(opt):
        raise UserError(f"{path}: damaged training state: {wrong}")
    if scaler is not None and ck.get("scaler"):
        try:
            scaler.load_state_dict(ck["scaler"])
        except (ValueError, KeyError, TypeError, RuntimeError, AttributeError):
            raise UserError(f"{path}: damaged training state: its mixed-precision scaler state") from None
    state = ResumedState(
        step=ck["step"],
        epoch=ck["epoch"],
        epoch_offset=ck["epoch_offset"],
        images_seen=ck["images_seen"],
        elapsed_s=float(ck["scheduler"]["elapsed_s"]),
        history=list(ck["history"]),
        loss_log=list(ck.get("loss_log", [])),
        skipped=set(ck.get("skipped", [])),
        last_eval=ck.get("metrics"),
    )
    try:
        set_rng_state(ck["rng"])
    except (RuntimeError, TypeError, ValueError, KeyError, IndexError, AttributeError):
        raise UserError(f"{path}: damaged training state: its random-number state (rng) cannot be restored") from None
    return state


# A counter past 2**53 was never written by a run (a million images a second for 285 years); torch keeps steps
# in 64-bit integers, so a larger one would end as an overflow deep inside the optimizer.
MAX_COUNTER = 2**53
COUNTERS = tuple(
    Option(name, int, lo=0, hi=MAX_COUNTER) for name in ("step", "epoch", "epoch_offset", "images_seen", "train_size")
)
ELAPSED = Option("scheduler.elapsed_s", float, lo=0)


def state_problems(ck: dict) -> list[str]:
    """What is missing or malformed in a checkpoint's training state, one short phrase each (empty: usable)."""
    out = []
    for key in ("design", "model", "optimizer", "scheduler", "rng", "history"):
        if key not in ck:
            out.append(f"no {key}")
    if "design" in ck:
        try:
            parse_design(ck["design"])
        except DesignError as e:
            out.append(f"design: {e.problems[0]}")
    for o in COUNTERS:
        if o.name in ck and (line := o.message(ck[o.name])):
            out.append(line)
        elif o.name not in ck and o.name != "train_size":  # a missing train_size reads as another dataset below
            out.append(f"no {o.name}")
    if line := _classes_problem(ck.get("classes")):
        out.append(line)
    scheduler = ck.get("scheduler")
    if "scheduler" in ck:
        if not isinstance(scheduler, dict) or "elapsed_s" not in scheduler:
            out.append("no scheduler.elapsed_s")
        elif line := ELAPSED.message(scheduler["elapsed_s"]):
            out.append(line)
    if "model" in ck and not isinstance(ck["model"], dict):
        out.append("model must be a state dict")
    if "optimizer" in ck and not isinstance(ck["optimizer"], dict):
        out.append("optimizer must be a state dict")
    for key in ("history", "loss_log", "skipped"):
        if key in ck and not isinstance(ck[key], list):
            out.append(f"{key} must be a list")
    if isinstance(ck.get("history"), list) and not all(isinstance(h, dict) for h in ck["history"]):
        out.append("history must be a list of objects")
    if isinstance(ck.get("loss_log"), list) and not all(_is_point(p) for p in ck["loss_log"]):
        out.append("loss_log must be a list of [step, loss] pairs")
    if isinstance(ck.get("skipped"), list) and not all(isinstance(p, str) for p in ck["skipped"]):
        out.append("skipped must be a list of file paths")
    metrics = ck.get("metrics")
    if metrics is not None and not (isinstance(metrics, dict) and all(k in metrics for k in METRIC_KEYS)):
        out.append(f"metrics must be an object with {', '.join(METRIC_KEYS)}")
    return out


METRIC_KEYS = ("step", "top1", "top5", "val_loss", "val_images")


def _classes_problem(classes) -> str | None:
    """The class list a run was trained on: distinct names (absent from the oldest checkpoints)."""
    if classes is None:
        return None
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        return "classes must be a list of class names"
    if len(set(classes)) != len(classes):
        return "classes lists a class twice"
    return None


def _is_point(p) -> bool:
    return (
        isinstance(p, (list, tuple))
        and len(p) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
    )


def optimizer_state_problem(opt: torch.optim.Optimizer) -> str | None:
    """A loaded optimizer state whose buffers do not have their parameters' shapes (a damaged or edited file):
    found now, not as a shape error in the first step."""
    for group in opt.param_groups:
        for p in group["params"]:
            for name, value in opt.state.get(p, {}).items():
                if isinstance(value, torch.Tensor) and value.ndim and value.shape != p.shape:
                    return f"optimizer {name} of shape {list(value.shape)} for a parameter of shape {list(p.shape)}"
    return None
