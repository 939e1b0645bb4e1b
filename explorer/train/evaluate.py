"""Validation: loss, top-1 and top-k over the validation split, summed over every rank.

The loader gives each rank its own share (ShardSampler, no padding), so the reduced counts are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
from torch import nn

from ..errors import UserError
from . import ddp
from .data import DatasetInfo
from .images import normalize_batch


@torch.inference_mode()
def evaluate(
    net: nn.Module,
    loader,
    info: DatasetInfo,
    device: torch.device,
    env: ddp.DistEnv,
    autocast: Callable[[], AbstractContextManager],
    skipped: set[str],
) -> dict:
    """{"top1", "top5", "val_loss", "val_images", "k"} of `net` (top5 is top-k, k = min(5, classes)); the
    unreadable validation files are added to `skipped`. The net is left in training mode."""
    net.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss, top-1, top-5, images
    k = min(5, info.num_classes)
    for x, y, bad in loader:
        skipped.update(info.val[i][0] for i in bad)
        if not len(y):
            continue
        x, y = normalize_batch(x.to(device, non_blocking=True)), y.to(device, non_blocking=True)
        with autocast():
            out = net(x).float()
        hits = out.topk(k, dim=1).indices == y[:, None]
        sums += torch.stack(
            [
                nn.functional.cross_entropy(out, y, reduction="sum"),
                hits[:, 0].sum(),
                hits.any(1).sum(),
                torch.tensor(len(y), device=device),
            ]
        ).double()
    net.train()
    ddp.all_sum(sums, env)
    n = float(sums[3])
    if n == 0:
        raise UserError(f"{info.root}: no readable validation image")
    return {
        "top1": 100 * float(sums[1]) / n,
        "top5": 100 * float(sums[2]) / n,
        "val_loss": float(sums[0]) / n,
        "val_images": int(n),
        "k": k,
    }
