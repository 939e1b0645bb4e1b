"""Batches for training and validation: the dataset of decoded images, the samplers and the DataLoader.

An unreadable file is dropped from its batch and reported by index, never fatal. The training sampler can
start an epoch part-way (for --resume); the validation sampler shares the samples out without padding.
"""

from __future__ import annotations

import os

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from .images import UNREADABLE, load_image


class ImageDataset(Dataset):
    """(uint8 image, label, index); an unreadable file gives (None, -1, index) for the collate to drop."""

    def __init__(self, samples: list[tuple[str, int]], size: int, train: bool, scale=(0.25, 1.0)):
        self.samples, self.size, self.train, self.scale = samples, size, train, scale

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        try:
            return load_image(path, self.size, self.train, self.scale), label, i
        except UNREADABLE:
            return None, -1, i


def collate_skip_bad(batch):
    """Stack the readable samples; returns (images, labels, indices of unreadable samples)."""
    good = [b for b in batch if b[0] is not None]
    bad = [b[2] for b in batch if b[0] is None]
    if not good:
        return torch.empty(0, dtype=torch.uint8), torch.empty(0, dtype=torch.long), bad
    return torch.stack([b[0] for b in good]), torch.tensor([b[1] for b in good]), bad


class ResumableSampler(DistributedSampler):
    """DistributedSampler that can start an epoch part-way, so a resumed run sees exactly the samples the
    interrupted one had not. `start` counts samples of the epoch's global order already consumed; ranks
    take interleaved shares of the rest, equal in size so every rank runs the same number of steps."""

    def __init__(self, n: int, num_replicas: int, rank: int, seed: int):
        super().__init__(range(n), num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.n, self.start = n, 0

    def set_start(self, start: int) -> None:
        self.start = start

    def __iter__(self):
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()[self.start :]
        return iter(order[self.rank : len(self) * self.num_replicas : self.num_replicas])

    def __len__(self) -> int:
        return max(0, self.n - self.start) // self.num_replicas


class ShardSampler(Sampler):
    """Every sample once across all ranks, no padding, so reduced validation counts are exact."""

    def __init__(self, n: int, num_replicas: int = 1, rank: int = 0):
        self.indices = list(range(rank, n, num_replicas))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def make_loader(
    samples: list[tuple[str, int]],
    *,
    train: bool,
    size: int,
    batch: int,
    workers: int,
    sampler: Sampler,
    scale=(0.25, 1.0),
    pin_memory: bool = False,
    seed: int = 0,
) -> DataLoader:
    """Worker processes decode while the model computes; persistent workers skip the restart each epoch."""
    extra = {"persistent_workers": True, "prefetch_factor": 4} if workers > 0 else {}
    return DataLoader(
        ImageDataset(samples, size, train, scale),
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate_skip_bad,
        pin_memory=pin_memory,
        drop_last=train,
        generator=torch.Generator().manual_seed(seed),  # worker seeds come from here, not the global RNG
        **extra,
    )


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), as torch's DataLoader counts them."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def capped_workers(requested: int) -> tuple[int, str | None]:
    """At most one loader worker per usable core (more only contend, and torch warns on stderr about them),
    with a note saying so when the request was lowered."""
    cores = usable_cores()
    if requested <= cores:
        return requested, None
    return cores, f"--workers {requested} lowered to {cores}, the cores this process may use"


def auto_workers(device: torch.device, world: int) -> int:
    """Enough decoders to keep the model busy without starving it of cores."""
    cores = usable_cores()
    per_proc = max(1, cores // max(1, world))
    if device.type == "cuda":
        return min(8, max(1, per_proc - 1))
    # On the CPU the decoders compete with the model's own threads. Measured on 2 cores (SM_V2, res 128):
    # 2 workers beat 1 by a few percent (benchmarks/train_throughput.py, docs/training.md).
    return min(4, max(2, per_proc // 4))
