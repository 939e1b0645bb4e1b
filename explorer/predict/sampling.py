"""Random MobileNet-style designs: one stream for calibration, a disjoint one for held-out evaluation.

Both streams draw from the design space the accuracy benchmark names (4-8 stages, rising widths 16-320,
t 1-8, n 1-4, kernels 3/5/7, skips mixed, last_conv 0 or 1280), but they can never produce the same network:
calibration inputs are 8 px off the multiples of 16 (88, 104, ..., 232) and held-out inputs are multiples of
16 (96, 112, ..., 224). The input size is part of the network hash, so no held-out design can have been used
to fit a profile; profiles also record the hashes they were fitted on, so the benchmark checks it anyway.
"""

from __future__ import annotations

import random

from ..spec import Design, parse_design

CALIBRATION_INPUTS = tuple(range(88, 233, 16))  # 88, 104, ..., 232
HELDOUT_INPUTS = tuple(range(96, 225, 16))  # 96, 112, ..., 224
WIDTHS = tuple(range(16, 321, 8))


MAX_MACS = 3_000_000_000  # MobileNet-like scale: bigger draws are drawn again


def random_design(
    rng: random.Random, input_sizes: tuple[int, ...], name: str, vary_head: bool = False, max_macs: int = MAX_MACS
) -> Design:
    """One design of the benchmark's space. vary_head also varies the stem and class count (calibration only:
    a profile should not be blind to them)."""
    from ..cost import compute_cost

    while True:
        design = _draw(rng, input_sizes, name, vary_head)
        if compute_cost(design).macs <= max_macs:
            return design


def _draw(rng: random.Random, input_sizes: tuple[int, ...], name: str, vary_head: bool) -> Design:
    n_stages = rng.randint(4, 8)
    widths = sorted(rng.choice(WIDTHS) for _ in range(n_stages))
    n_down = rng.randint(3, min(4, n_stages - 1))  # stride-2 stages after the stem; total stride <= 32
    down = set(rng.sample(range(n_stages - 1), n_down))  # as in MobileNets, the last stage keeps its stride
    stages = []
    for i, c in enumerate(widths):
        stages.append(
            {
                "t": 1 if i == 0 and rng.random() < 0.5 else rng.randint(1, 8),
                "c": c,
                "n": rng.randint(1, 4),
                "s": 2 if i in down else 1,
                "skip": rng.random() < 0.6,
                "out_act": "relu6" if rng.random() < 0.15 else "linear",
                "kernel": rng.choice((3, 5, 7)),
            }
        )
    raw = {
        "name": name,
        "num_classes": rng.choice((100, 1000)) if vary_head else 100,
        "input_size": rng.choice(input_sizes),
        "stem_channels": rng.choice((16, 24, 32, 48)) if vary_head else 32,
        "last_conv": rng.choice((0, 1280)),
        "dropout": 0.2,
        "stages": stages,
    }
    return parse_design(raw)


CALIBRATION_MAX_MACS = 1_200_000_000  # smaller networks time faster: more of them fit in the budget


def calibration_designs(n: int, seed: int = 0) -> list[Design]:
    rng = random.Random(f"calibration-{seed}")
    return [
        random_design(rng, CALIBRATION_INPUTS, f"cal-{seed}-{i}", vary_head=True, max_macs=CALIBRATION_MAX_MACS)
        for i in range(n)
    ]


def heldout_designs(n: int, seed: int = 0) -> list[Design]:
    rng = random.Random(f"heldout-{seed}")
    return [random_design(rng, HELDOUT_INPUTS, f"heldout-{seed}-{i}") for i in range(n)]
