"""What a training run takes (TrainConfig) and gives back (TrainSummary), and the small policies around them."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from ..design.spec import Design
from ..errors import UserError

QUICK_MINUTES = 5.0  # the budget when none is given: the app's "quick fine-tune"
OPTIMIZERS = ("sgd", "adamw")
AMP_MODES = ("auto", "off", "bf16", "fp16")
MAX_WORKERS = 64  # loader processes per training process; more only exhausts the host
MAX_MINUTES = 525_600
MAX_COUNT = 10**9  # steps or epochs


@dataclass
class TrainConfig:
    design: Design
    data: str  # the dataset folder (any layout explorer.train.data.detect_dataset knows)
    # Budget: whichever ends first. None of the three given => QUICK_MINUTES.
    minutes: float | None = None
    max_steps: int | None = None
    epochs: int | None = None
    img_size: int = 128  # training and validation resolution (the network is resolution-agnostic)
    batch: int = 64  # per process; the global batch is batch x processes
    workers: int | None = None  # data-loading processes per training process; None = auto_workers()
    optimizer: str = "sgd"  # sgd (momentum, nesterov) or adamw
    lr: float | None = None  # None: sgd 0.2 x global batch / 256, adamw 1e-3
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float | None = None  # None: sgd 4e-5 (MobileNetV2's), adamw 0.05; never on BN or biases
    label_smoothing: float = 0.1
    warmup: float = 0.05  # fraction of the budget spent on linear warm-up
    amp: str = "auto"  # auto: bf16 on CUDA (fp16 + scaler where bf16 is missing), off on the CPU; or off|bf16|fp16
    per_class: int | None = None  # training images per class (quick runs)
    val_per_class: int | None = None
    crop_scale: float = 0.25  # smallest random-resized-crop area; 0.08 is the long-schedule ImageNet value
    out_dir: str | None = None  # None: <data dir>/runs/<name>-<hash>-<time>
    resume: bool = False  # continue from out_dir/last.pt (or this design's newest run)
    init: str | None = None  # warm start: copy the tensors of this checkpoint that match by name and shape
    seed: int = 0
    device: str = "auto"
    eval_every_epoch: bool = True
    store_result: bool = True  # add the final accuracy to the results store (rank 0)
    results_path: str | None = None  # None: the default store

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "design"}


@dataclass
class TrainSummary:
    top1: float  # percent, on the validation split
    top5: float  # top-k with k = top_k: min(5, number of classes)
    val_loss: float
    steps: int
    epochs: float
    images_seen: int  # training images processed, all epochs and ranks together
    train_images: int  # size of the training split used (after the per-class cap)
    val_images: int
    images_per_s: float  # training throughput of this session, all ranks together
    minutes: float  # training wall time, all sessions of a resumed run; the final validation is extra
    img_size: int
    checkpoint: str
    out_dir: str
    stopped: bool  # True when ended by the stop event rather than the budget
    skipped_images: int  # unreadable files skipped (train and val)
    skipped_examples: list[str]
    dataset: str  # the layout summary line
    layout: str
    design_hash: str
    design_name: str
    num_classes: int
    warm_start: dict | None
    resumed_from_step: int | None
    history: list[dict]
    world_size: int
    device: str
    notes: list[str] = field(default_factory=list)
    global_batch: int = 0
    record: dict | None = None  # what went into the results store
    top_k: int = 5  # the k of `top5`: fewer than 5 classes make top-5 meaningless (always 100 %)

    def to_dict(self) -> dict:
        return asdict(self)


def lr_at(frac: float, base: float, warmup: float) -> float:
    """Linear warm-up over the first `warmup` of the budget, then cosine to zero at frac = 1."""
    if frac < warmup:
        return base * max(frac / warmup, 0.01)
    p = min(1.0, (frac - warmup) / max(1e-9, 1 - warmup))
    return base * 0.5 * (1 + math.cos(math.pi * p))


def validate(cfg: TrainConfig) -> None:
    problems = []

    for name in ("minutes", "lr", "weight_decay", "label_smoothing", "warmup", "crop_scale", "momentum"):
        v = getattr(cfg, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            problems.append(f"{name} must be a finite number, got {v}")  # nan trains to nan, inf never ends
    if problems:
        raise UserError("\n".join(problems))
    if cfg.weight_decay is not None and cfg.weight_decay < 0:
        problems.append(f"weight_decay must be 0 or more, got {cfg.weight_decay}")

    def positive(name, v, integer):
        if v is not None and (v <= 0 or (integer and int(v) != v)):
            problems.append(f"{name} must be a positive {'integer' if integer else 'number'}, got {v}")

    for name, integer in (("minutes", False), ("max_steps", True), ("epochs", True), ("lr", False)):
        positive(name, getattr(cfg, name), integer)
    if not 16 <= cfg.img_size <= 1024:
        problems.append(f"img_size must be from 16 to 1024, got {cfg.img_size}")
    if cfg.batch < 2:
        problems.append(f"batch must be at least 2 (batch norm needs it), got {cfg.batch}")
    if cfg.workers is not None and not 0 <= cfg.workers <= MAX_WORKERS:
        problems.append(f"workers must be from 0 to {MAX_WORKERS}, got {cfg.workers}")
    if not 0 <= cfg.seed < 2**32:
        problems.append(f"seed must be from 0 to {2**32 - 1}, got {cfg.seed}")
    if cfg.minutes is not None and cfg.minutes > MAX_MINUTES:
        problems.append(f"minutes must be at most {MAX_MINUTES:,} (a year), got {cfg.minutes:g}")
    for name in ("max_steps", "epochs"):
        if (getattr(cfg, name) or 0) > MAX_COUNT:
            problems.append(f"{name} must be at most {MAX_COUNT:,}, got {getattr(cfg, name):,}")
    if cfg.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {cfg.optimizer!r}")
    if cfg.amp not in AMP_MODES:
        problems.append(f"amp must be one of {', '.join(AMP_MODES)}, got {cfg.amp!r}")
    for name in ("label_smoothing", "warmup"):
        if not 0 <= getattr(cfg, name) < 1:
            problems.append(f"{name} must be in [0, 1), got {getattr(cfg, name)}")
    if not 0 < cfg.crop_scale <= 1:
        problems.append(f"crop_scale must be in (0, 1], got {cfg.crop_scale}")
    if cfg.resume and cfg.init:
        problems.append("resume and init exclude each other: a resumed run already has its weights")
    if problems:
        raise UserError("\n".join(problems))


def amp_setup(mode: str, device: torch.device):
    """(autocast dtype or None, GradScaler or None). On the CPU, auto means float32: bf16 autocast measured
    no faster for SM_V2 training on this project's 2-core AVX-512 Xeon (both 90-100 images/s at res 128;
    docs/training.md), and CPUs without AVX-512 emulate bf16 slowly. Ask for bf16 explicitly to try it."""
    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return None, None
    if device.type != "cuda":
        if mode == "fp16":
            raise UserError("fp16 mixed precision needs a CUDA GPU; use bf16 (or off) on the CPU")
        return torch.bfloat16, None
    if mode == "bf16" or (mode == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


def make_optimizer(net: torch.nn.Module, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    """SGD (momentum, nesterov) or AdamW; no weight decay on BN weights and biases (1-d tensors)."""
    wd = cfg.weight_decay if cfg.weight_decay is not None else (4e-5 if cfg.optimizer == "sgd" else 0.05)
    decay = [p for p in net.parameters() if p.ndim > 1]
    no_decay = [p for p in net.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    return torch.optim.AdamW(groups, lr=lr)


def auto_workers(device: torch.device, world: int) -> int:
    """Enough decoders to keep the model busy without starving it of cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    per_proc = max(1, cores // max(1, world))
    if device.type == "cuda":
        return min(8, max(1, per_proc - 1))
    # On the CPU the decoders compete with the model's own threads. Measured on 2 cores (SM_V2, res 128):
    # 2 workers beat 1 by a few percent (benchmarks/train_throughput.py, docs/training.md).
    return min(4, max(2, per_proc // 4))


def accuracy_record(s: TrainSummary, cfg: TrainConfig) -> dict:
    """The results-store row: `images` is the size of the training split used (after the per-class cap)."""
    minutes = f"{s.minutes:.1f}".removesuffix(".0") if s.minutes < 10 else f"{s.minutes:.0f}"
    kind = "quick fine-tune" if s.minutes <= 60 else "training run"
    return {
        "top1": round(s.top1, 3),
        "top5": round(s.top5, 3) if s.top_k == 5 else None,
        "top_k": s.top_k,
        "top_k_accuracy": round(s.top5, 3),
        "images": s.train_images,
        "images_seen": s.images_seen,
        "minutes": round(s.minutes, 3),
        "img_size": s.img_size,
        "steps": s.steps,
        "epochs": round(s.epochs, 3),
        "checkpoint": s.checkpoint,
        "label": f"{kind} ({s.train_images:,} images, {minutes} min, res {s.img_size})",
        "val_images": s.val_images,
        "dataset": s.dataset,
        # Provenance for the charts: accuracies on different datasets are never drawn as one series.
        "dataset_name": Path(cfg.data).expanduser().resolve().name,
        "num_classes": s.num_classes,
        "optimizer": cfg.optimizer,
        "global_batch": s.global_batch,
        "warm_start": s.warm_start["source"] if s.warm_start else None,
        "world_size": s.world_size,
        "device": s.device,
        "stopped": s.stopped,
    }
