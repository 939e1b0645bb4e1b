"""Distributed data parallel plumbing, so training runs unchanged alone or under `torchrun`.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; with WORLD_SIZE > 1 the process
group is created from them (gloo on CPU, nccl on GPU). Alone (the app, plain `python -m explorer train`)
nothing distributed is touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import UserError


@dataclass
class DistEnv:
    device: torch.device
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # we created the process group, so we also destroy it

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def pick_device(pref: str = "auto", local_rank: int = 0) -> torch.device:
    """'auto': the GPU of this local rank if CUDA works, else the CPU; 'cpu' or 'cuda[:i]' on request."""
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        dev = torch.device(pref)
    except RuntimeError:
        raise UserError(f"unknown device {pref!r}; use auto, cpu or cuda") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError("device cuda requested, but this PyTorch build or host has no usable CUDA GPU")
        if dev.index is None:
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
        elif dev.index >= torch.cuda.device_count():
            raise UserError(f"device {pref!r}: this host has {torch.cuda.device_count()} CUDA GPU(s), numbered from 0")
    elif dev.type != "cpu":
        raise UserError(f"unsupported device {pref!r}; use auto, cpu or cuda")
    return dev


def setup(device_pref: str = "auto") -> DistEnv:
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise UserError("WORLD_SIZE and LOCAL_RANK must be integers (torchrun sets them)") from None
    device = pick_device(device_pref, local_rank)
    owns = False
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")  # env:// rendezvous
        owns = True
    if dist.is_initialized():
        return DistEnv(device, dist.get_rank(), dist.get_world_size(), local_rank, owns)
    return DistEnv(device)


def all_sum(t: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Sum a tensor over ranks in place (a no-op alone)."""
    if env.distributed:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def gather_objects(obj, env: DistEnv) -> list:
    if not env.distributed:
        return [obj]
    out = [None] * env.world
    dist.all_gather_object(out, obj)
    return out


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()


def teardown(env: DistEnv) -> None:
    if env.owns_group and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
