"""Tiny generated image folders in each dataset layout, for the data and training tests (nothing downloaded).

Each class has its own colour and stripe direction, so a small network learns it in a few steps.
One training file per folder is corrupt on purpose (JPEG name, garbage bytes).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

WNIDS = ["n01440764", "n01443537", "n01484850", "n01491361"]  # four ImageNet wnids (not needed in the 100)
NAMES = {"n01440764": "tench", "n01443537": "goldfish", "n01484850": "great white shark", "n01491361": "tiger shark"}
COLORS = [(220, 40, 40), (40, 200, 60), (40, 70, 220), (230, 210, 40)]
CORRUPT = "zz_corrupt.JPEG"


def draw_image(label: int, rng: random.Random, size: tuple[int, int] = (40, 36)) -> Image.Image:
    base = tuple(max(0, min(255, c + rng.randint(-30, 30))) for c in COLORS[label % len(COLORS)])
    img = Image.new("RGB", size, base)
    d = ImageDraw.Draw(img)
    step = 6 + rng.randint(0, 3)
    for k in range(0, max(size) * 2, step * 2):
        if label % 2:
            d.line([(k, 0), (k, size[1])], fill=(255, 255, 255), width=2)
        else:
            d.line([(0, k), (size[0], k)], fill=(0, 0, 0), width=2)
    return img


def write_class(folder: Path, label: int, count: int, rng: random.Random, prefix: str, size=(40, 36)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        draw_image(label, rng, size).save(folder / f"{prefix}_{i:04d}.JPEG", quality=90)


def write_corrupt(folder: Path) -> Path:
    path = folder / CORRUPT
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" * 3)
    return path


def imagenet_layout(root: Path, classes: int = 4, train: int = 12, val: int = 4, seed: int = 0, size=(40, 36)) -> Path:
    """train/<wnid>/*.JPEG and val/<wnid>/*.JPEG, plus one corrupt training file."""
    rng = random.Random(seed)
    for c, wnid in enumerate(WNIDS[:classes]):
        write_class(root / "train" / wnid, c, train, rng, wnid, size)
        write_class(root / "val" / wnid, c, val, rng, f"val_{wnid}", size)
    write_corrupt(root / "train" / WNIDS[0])
    return root


def kaggle_layout(root: Path, classes: int = 4, train: int = 12, val: int = 4, seed: int = 0) -> Path:
    """train.X1 ... train.X4 (classes spread over them), val.X and Labels.json, plus one corrupt file."""
    rng = random.Random(seed)
    for c, wnid in enumerate(WNIDS[:classes]):
        write_class(root / f"train.X{c % 4 + 1}" / wnid, c, train, rng, wnid)
        write_class(root / "val.X" / wnid, c, val, rng, f"val_{wnid}")
    write_corrupt(root / "train.X1" / WNIDS[0])
    (root / "Labels.json").write_text(json.dumps({w: NAMES[w] for w in WNIDS[:classes]}))
    return root


def imagenet1k_layout(root: Path, wnids: list[str], extra: int = 3, seed: int = 0) -> Path:
    """An ImageNet-style folder with the 100 ImageNet100 classes plus `extra` others, one image each."""
    rng = random.Random(seed)
    others = [f"n0999{i:04d}" for i in range(extra)]
    for c, wnid in enumerate(wnids + others):
        write_class(root / "train" / wnid, c, 1, rng, wnid, (12, 12))
        write_class(root / "val" / wnid, c, 1, rng, f"val_{wnid}", (12, 12))
    return root


def tiny_design_dict(num_classes: int = 4, name: str = "tiny") -> dict:
    """A design small enough to train in a fraction of a second per step at 32x32."""
    return {
        "name": name,
        "num_classes": num_classes,
        "input_size": 32,
        "stem_channels": 8,
        "last_conv": 0,
        "dropout": 0.0,
        "stages": [{"t": 1, "c": 8, "n": 1, "s": 1}, {"t": 2, "c": 12, "n": 2, "s": 2}],
    }
