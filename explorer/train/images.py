"""Decoding one training image: Pillow crops and resizes, then the batch is normalised on the device.

torchvision is not used on purpose: its wheels do not import beside the CPU-only torch build pinned here,
so the few transforms training needs are written with Pillow and torch. Images leave the loader workers as
uint8 tensors (4x less copying than float) and are normalised on the device by `normalize_batch`.
"""

from __future__ import annotations

import math
import random

import torch
from PIL import Image

from ..safeio import MAX_IMAGE_PIXELS, ImageTooLarge, open_image

__all__ = [
    "MAX_IMAGE_PIXELS",
    "MEAN",
    "STD",
    "UNREADABLE",
    "VAL_CROP",
    "ImageTooLarge",
    "load_image",
    "normalize_batch",
]

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
VAL_CROP = 0.875  # resize to size / 0.875, then center crop `size`: the usual ImageNet evaluation
# What a broken or odd file raises inside Pillow; such a sample is skipped and counted, never fatal.
UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError, Image.DecompressionBombWarning)


def _random_box(w: int, h: int, scale: tuple[float, float], rng: random.Random) -> tuple[float, float, float, float]:
    """RandomResizedCrop's box: area fraction in `scale`, aspect ratio log-uniform in [3/4, 4/3]."""
    area = w * h
    for _ in range(10):
        target = area * rng.uniform(*scale)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = math.sqrt(target * ratio), math.sqrt(target / ratio)
        if cw <= w and ch <= h:
            x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
            return x0, y0, x0 + cw, y0 + ch
    side = min(w, h)  # fallback as torchvision: the central square
    return (w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2


def _center_box(w: int, h: int) -> tuple[float, float, float, float]:
    side = min(w, h) * VAL_CROP
    return (w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2


def _crop_resize(img: Image.Image, box: tuple[float, float, float, float], size: int) -> Image.Image:
    w, h = img.size
    bw, bh = box[2] - box[0], box[3] - box[1]
    # JPEG draft: let libjpeg decode at 1/2, 1/4 or 1/8 scale while the crop still has >= `size` pixels.
    # On real ImageNet photos (~400x350 and up) this skips most of the decoding work.
    img.draft("RGB", (math.ceil(w * size / bw), math.ceil(h * size / bh)))
    sx, sy = img.size[0] / w, img.size[1] / h
    if img.mode != "RGB":
        img = img.convert("RGB")  # grayscale, CMYK and palette files exist in ImageNet
    return img.resize((size, size), Image.Resampling.BILINEAR, box=(box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy))


def load_image(path: str, size: int, train: bool, scale=(0.25, 1.0), rng: random.Random | None = None) -> torch.Tensor:
    """Decode, crop and resize one image to a (3, size, size) uint8 tensor. Raises one of UNREADABLE."""
    rng = rng or random
    with open_image(path) as img:
        w, h = img.size
        box = _random_box(w, h, scale, rng) if train else _center_box(w, h)
        out = _crop_resize(img, box, size)
    if train and rng.random() < 0.5:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return torch.frombuffer(bytearray(out.tobytes()), dtype=torch.uint8).view(size, size, 3).permute(2, 0, 1)


def normalize_batch(x: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) on any device -> float, normalised with the ImageNet mean and std."""
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1) * 255
    return (x.float() - mean) / std
