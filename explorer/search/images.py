"""A small, seeded minibatch of real images for the NASWOT objective, read from any folder of images.

NASWOT needs no labels, only a few inputs: so this reads image files anywhere under the folder (any dataset
layout works), without the training pipeline. The walk never follows links and stops after MAX_FILES
entries; a file that cannot be read is skipped and counted; an image larger than safeio.MAX_IMAGE_PIXELS
is skipped before its pixels are allocated (a decompression bomb must not grow the process).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from ..errors import UserError
from ..paths import user_path
from ..safeio import open_image

# What a broken or hostile file raises in Pillow (open_image turns a decompression bomb into a ValueError)
UNREADABLE = (OSError, ValueError, SyntaxError, EOFError)

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".webp")
MAX_FILES = 200_000  # entries looked at, at most: a huge folder must not stall the search
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the normalization the networks are trained with
IMAGENET_STD = (0.229, 0.224, 0.225)


def image_files(folder: str | os.PathLike) -> list[Path]:
    """Image files under `folder`, sorted (so a seed picks the same ones), links not followed."""
    root = user_path(folder, "image folder")
    if not root.is_dir():
        raise UserError(f"{root}: not a folder of images (the naswot objective reads its minibatch there)")
    found: list[Path] = []
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            seen += 1
            if seen > MAX_FILES:
                return found
            if name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith("."):
                path = Path(dirpath) / name
                if path.is_file() and not path.is_symlink():
                    found.append(path)
    return found


def read_image(path: Path, size: int):
    """One image as a float tensor (3, size, size): shorter side resized to `size`, centre crop, normalized."""
    import torch

    with open_image(path) as im:  # the size checked from the header, a decompression bomb refused
        im = im.convert("RGB")
        scale = size / min(im.width, im.height)
        im = im.resize((max(size, round(im.width * scale)), max(size, round(im.height * scale))))
        left, top = (im.width - size) // 2, (im.height - size) // 2
        im = im.crop((left, top, left + size, top + size))
        data = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
    x = data.view(size, size, 3).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x - mean) / std


def minibatch(folder: str | os.PathLike, size: int, count: int, seed: int):
    """(images tensor (n, 3, size, size), a note saying where they came from and what was skipped)."""
    import torch

    files = image_files(folder)
    rng = random.Random(seed)
    order = rng.sample(files, len(files))
    images, skipped = [], 0
    for path in order:
        if len(images) >= count:
            break
        try:
            images.append(read_image(path, size))
        except UNREADABLE:  # Pillow's errors for damaged or hostile files, as training counts them
            skipped += 1
    if len(images) < 2:
        raise UserError(
            f"{user_path(folder)}: NASWOT needs at least 2 readable images; found {len(files)} image "
            f"files, {skipped} unreadable"
        )
    note = f"NASWOT on {len(images)} images from {user_path(folder)}"
    return torch.stack(images), note + (f" ({skipped} unreadable skipped)" if skipped else "")
