"""How the network is optimised: the learning-rate schedule, the optimizer and mixed precision.

Split from explorer.train.config, which says what a run takes; this module turns those choices into torch
objects (torch loads only here and in the loop, so `explorer --help` stays fast).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..errors import UserError
from .config import TrainConfig

if TYPE_CHECKING:
    import torch

# The peak learning rate when none is given. SGD: the linear-scaling rule (Goyal et al., 2017) from MobileNet
# V2's 0.045 at batch 96 rounded to 0.2 per 256 images; AdamW: its usual 1e-3, which does not scale with batch.
SGD_LR_PER_256 = 0.2
LR_REFERENCE_BATCH = 256
ADAMW_LR = 1e-3
# Weight decay when none is given (never on batch-norm weights or biases): MobileNet V2's 4e-5 for SGD,
# AdamW's customary 0.05 (its decay is decoupled from the gradient, so it is larger).
SGD_WEIGHT_DECAY = 4e-5
ADAMW_WEIGHT_DECAY = 0.05
WARMUP_FLOOR = 0.01  # the first step's share of the peak: 0 would waste the step


def default_lr(optimizer: str, global_batch: int) -> float:
    """The peak learning rate for `optimizer` at `global_batch` images per step (all processes together)."""
    return SGD_LR_PER_256 * global_batch / LR_REFERENCE_BATCH if optimizer == "sgd" else ADAMW_LR


def lr_at(frac: float, base: float, warmup: float) -> float:
    """Linear warm-up over the first `warmup` of the budget, then cosine to zero at frac = 1."""
    if frac < warmup:
        return base * max(frac / warmup, WARMUP_FLOOR)
    p = min(1.0, (frac - warmup) / max(1e-9, 1 - warmup))
    return base * 0.5 * (1 + math.cos(math.pi * p))


def amp_setup(mode: str, device: torch.device):
    """(autocast dtype or None, GradScaler or None). On the CPU, auto means float32: bf16 autocast measured
    no faster for SM_V2 training on this project's 2-core AVX-512 Xeon (both 90-100 images/s at res 128;
    docs/training.md), and CPUs without AVX-512 emulate bf16 slowly. Ask for bf16 explicitly to try it."""
    import torch

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
    import torch

    default_wd = SGD_WEIGHT_DECAY if cfg.optimizer == "sgd" else ADAMW_WEIGHT_DECAY
    wd = cfg.weight_decay if cfg.weight_decay is not None else default_wd
    decay = [p for p in net.parameters() if p.ndim > 1]
    no_decay = [p for p in net.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    return torch.optim.AdamW(groups, lr=lr)
