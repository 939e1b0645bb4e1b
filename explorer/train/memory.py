"""How much memory a training step takes, checked before anything is allocated.

The app trains inside its server process: a resolution of 224 with a batch of 1024 (~56 GB for SM_V2) would
get the server killed by the kernel for every user at once. So `fine_tune` estimates the step's memory from
the exact cost model and refuses, naming the estimate and the limit, when it cannot fit.
"""

from __future__ import annotations

import os

from ..design.spec import Design
from ..errors import UserError
from ..fmt import size

# Training keeps every conv's, batch norm's and activation's output for the backward pass, and the backward
# pass adds gradients of the same shapes: measured 3.2x (SM_V2, 224 px: 55 MB per image) to 3.7x (128 px:
# 21 MB per image, CPU, torch 2.13) the bytes the forward pass writes (explorer.design.cost). 4 covers both.
ACTIVATION_FACTOR = 4.0
# Per parameter: the weights, their gradient, and the optimizer's state (SGD momentum 1 tensor, AdamW 2).
PARAMETER_COPIES = {"sgd": 3, "adamw": 4}
# Share of the memory available now that a run may plan to use: the rest is for the loader workers, the
# Python heap and whatever else the host (the app's server, other users) needs meanwhile.
USABLE_SHARE = 0.75
BYTES_PER_FLOAT = 4


def bytes_per_image(design: Design, img_size: int) -> int:
    """Activation memory of one training image at `img_size`, forward and backward."""
    from ..design.cost import compute_cost

    cost = compute_cost(design.with_changes(input_size=img_size))
    written = sum(int(row["write_bytes"]) for row in cost.rows())
    return int(ACTIVATION_FACTOR * written)


def step_bytes(design: Design, img_size: int, batch: int, optimizer: str) -> int:
    """The estimate for one training process: a batch of activations, the weights and the optimizer state."""
    from ..design.cost import compute_cost

    params = compute_cost(design).params
    return batch * bytes_per_image(design, img_size) + PARAMETER_COPIES.get(optimizer, 4) * BYTES_PER_FLOAT * params


def available_bytes(device) -> int | None:
    """Memory a run may use on `device` now (None when it cannot be read: nothing is refused then)."""
    if getattr(device, "type", str(device)) == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_training_memory(design: Design, img_size: int, batch: int, optimizer: str, device) -> int:
    """The estimate in bytes, or UserError (one line: estimate, per image, limit, what to lower) when it does
    not fit in USABLE_SHARE of the memory available now."""
    need = step_bytes(design, img_size, batch, optimizer)
    available = available_bytes(device)
    if available is None:
        return need
    limit = int(USABLE_SHARE * available)
    if need > limit:
        where = "GPU memory free" if getattr(device, "type", "") == "cuda" else "memory available"
        raise UserError(
            f"training {design.name} at {img_size} px with a batch of {batch} needs about {size(need)} "
            f"({size(bytes_per_image(design, img_size))} per image); the limit is {size(limit)} "
            f"({USABLE_SHARE:.0%} of the {size(available)} {where} now); lower the batch or the resolution"
        )
    return need
