"""Random MobileNet-style designs: one stream for calibration, a disjoint one for held-out evaluation.

Both streams draw from the design space the accuracy benchmark names (4-8 stages, rising widths 16-320,
t 1-8, n 1-4, kernels 3/5/7, skips mixed, last_conv 0 or 1280), but they can never produce the same network:
held-out designs have 100 classes and calibration designs never do (10, 200 or 1000). The class count is
part of the network hash and only sizes the classifier, so the calibration still sees every shape the
held-out designs have; its inputs (88-232 px in steps of 8) cover the held-out ones (96-224 in steps of 16)
and the odd feature-map sizes between them. Profiles also record the hashes they were fitted on, and the
benchmark checks that none of its designs is among them.
"""

from __future__ import annotations

import random

from ..design.spec import Design, parse_design

CALIBRATION_INPUTS = tuple(range(88, 233, 8))  # 88, 96, ..., 232
HELDOUT_INPUTS = tuple(range(96, 225, 16))  # 96, 112, ..., 224
WIDTHS = tuple(range(16, 321, 8))
WIDE_LAST = (384, 512, 640, 768, 1024)  # calibration only: the paper's presets end in stages this wide
HELDOUT_CLASSES = 100
CALIBRATION_CLASSES = (10, 200, 1000)  # never HELDOUT_CLASSES: the two streams cannot share a network


MAX_MACS = 3_000_000_000  # MobileNet-like scale: bigger draws are drawn again


def random_design(
    rng: random.Random,
    input_sizes: tuple[int, ...],
    name: str,
    classes: tuple[int, ...] = (HELDOUT_CLASSES,),
    stems: tuple[int, ...] = (32,),
    max_macs: int = MAX_MACS,
    min_down: int = 3,
    wide_last: float = 0.0,
) -> Design:
    """One design of the benchmark's space, with one of `classes` and one of `stems`."""
    from ..design.cost import compute_cost

    while True:
        design = _draw(rng, input_sizes, name, classes, stems, min_down, wide_last)
        if compute_cost(design).macs <= max_macs:
            return design


def _draw(rng: random.Random, input_sizes, name: str, classes, stems, min_down: int, wide_last: float) -> Design:
    n_stages = rng.randint(4, 8)
    widths = sorted(rng.choice(WIDTHS) for _ in range(n_stages))
    if wide_last and rng.random() < wide_last:  # never draws for the held-out stream: it stays as it was
        widths[-1] = rng.choice(WIDE_LAST)
    n_down = rng.randint(min_down, min(4, n_stages - 1))  # stride-2 stages after the stem; total stride <= 32
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
        "num_classes": rng.choice(classes),
        "input_size": rng.choice(input_sizes),
        "stem_channels": rng.choice(stems),
        "last_conv": rng.choice((0, 1280)),
        "dropout": 0.2,
        "stages": stages,
    }
    return parse_design(raw)


CALIBRATION_MAX_MACS = 1_200_000_000  # smaller networks time faster: more of them fit in the budget


def calibration_designs(n: int, seed: int = 0) -> list[Design]:
    rng = random.Random(f"calibration-{seed}")
    return [
        random_design(
            rng,
            CALIBRATION_INPUTS,
            f"cal-{seed}-{i}",
            CALIBRATION_CLASSES,
            (16, 24, 32, 32, 48),
            CALIBRATION_MAX_MACS,
            min_down=2,
            wide_last=0.2,
        )
        for i in range(n)
    ]


def heldout_designs(n: int, seed: int = 0) -> list[Design]:
    rng = random.Random(f"heldout-{seed}")
    return [random_design(rng, HELDOUT_INPUTS, f"heldout-{seed}-{i}") for i in range(n)]
