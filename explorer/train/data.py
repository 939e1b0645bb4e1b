"""ImageNet100 from a local folder: layout detection, Pillow transforms and the data loaders.

Nothing is downloaded: the user points at a folder and `detect_dataset` says which layout it found.
torchvision is not used on purpose: its wheels do not import beside the CPU-only torch build pinned here,
so the few transforms training needs are written with Pillow and torch.
Images travel from the workers as uint8 tensors (4x less copying than float) and are normalised on the
device by `normalize_batch`.
"""

from __future__ import annotations

import json
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from ..errors import UserError
from ..safeio import read_file

MAX_LABEL_FILE_BYTES = 16 << 20  # Labels.json of ImageNet-21k is ~1 MB
IMAGE_EXTS = {".jpeg", ".jpg", ".png", ".bmp", ".webp"}
WNIDS_FILE = Path(__file__).with_name("imagenet100_wnids.txt")
KAGGLE_TRAIN = ("train.X1", "train.X2", "train.X3", "train.X4")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
VAL_CROP = 0.875  # resize to size / 0.875, then center crop `size`: the usual ImageNet evaluation
EXPECTED = (
    "expected an ImageNet-style folder (train/<wnid>/*.JPEG and val/<wnid>/*.JPEG), "
    "a Kaggle ImageNet100 folder (train.X1 ... train.X4 and val.X, optional Labels.json), "
    "or a full ImageNet-1k folder in the ImageNet style"
)
LAYOUT_TITLES = {
    "imagenet": "ImageNet layout",
    "kaggle": "Kaggle ImageNet100 layout",
    "imagenet1k-cut": "ImageNet-1k layout cut to ImageNet100",
}
# What a broken or odd file raises inside Pillow; such a sample is skipped and counted, never fatal.
UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


DATASET_ROOT_ENV = "EXPLORER_DATASET_ROOT"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_dataset_location(path: str | Path, listen_address: str | None, root: str | None = None) -> Path:
    """Where a folder typed into the app may point (docs/security.md).

    `root` (default: $EXPLORER_DATASET_ROOT), when set, confines every folder to it, links resolved. Without
    one, an app listening on loopback only accepts any folder (its only user already owns this file system),
    and an app listening on the network accepts none: it would let anyone who reaches it probe the server's
    files. The answer never says whether a path outside the root exists."""
    root = root if root is not None else os.environ.get(DATASET_ROOT_ENV) or None
    p = Path(path).expanduser()
    if root is None:
        if (listen_address or "").strip() in LOOPBACK:
            return p
        raise UserError(
            f"this app is open to the network, so dataset folders must lie under a configured root; "
            f"set {DATASET_ROOT_ENV} before starting it (see docs/security.md)"
        )
    base = Path(root).expanduser().resolve()
    resolved = (Path.cwd() / p).resolve() if not p.is_absolute() else p.resolve()
    if resolved != base and base not in resolved.parents:
        raise UserError(f"only folders under {base} are accepted here ({DATASET_ROOT_ENV})")
    return resolved


def imagenet100_wnids() -> list[str]:
    """The standard ImageNet100 class list (Tian et al., CMC 2019), shipped with the package."""
    return WNIDS_FILE.read_text().split()


@dataclass
class DatasetInfo:
    layout: str  # a key of LAYOUT_TITLES
    root: Path
    classes: list[str]  # folder names (wnids); the label of a sample is its index here
    train: list[tuple[str, int]]
    val: list[tuple[str, int]]
    class_names: dict[str, str] = field(default_factory=dict)  # wnid -> readable name, where known
    per_class: int | None = None
    val_per_class: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def name_of(self, label: int) -> str:
        wnid = self.classes[label]
        return self.class_names.get(wnid, wnid)

    def summary(self) -> str:
        cap = f", capped at {self.per_class:,} per class" if self.per_class else ""
        line = (
            f"{LAYOUT_TITLES[self.layout]}: {self.num_classes:,} classes, "
            f"{len(self.train):,} train / {len(self.val):,} val images{cap}"
        )
        return "; ".join([line, *self.notes])


def detect_dataset(root: str | Path, per_class: int | None = None, val_per_class: int | None = None) -> DatasetInfo:
    """Find the layout of `root` (or of its only subfolder) and list its samples; UserError if none fits."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"{root}: not a folder; {EXPECTED}")
    for cap_name, cap in (("per-class cap", per_class), ("validation per-class cap", val_per_class)):
        if cap is not None and cap < 1:
            raise UserError(f"{cap_name} must be at least 1, got {cap}")
    info = _detect(root)
    if info is None:
        subdirs = _subdirs(root)
        if len(subdirs) == 1:  # an archive unpacked into its own folder
            info = _detect(subdirs[0])
    if info is None:
        raise UserError(f"{root}: no known layout found; {EXPECTED}")
    info.per_class, info.val_per_class = per_class, val_per_class
    info.train = _cap(info.train, per_class)
    info.val = _cap(info.val, val_per_class)
    if not info.train:
        raise UserError(f"{info.root}: no training images found (extensions {', '.join(sorted(IMAGE_EXTS))})")
    if not info.val:
        raise UserError(f"{info.root}: no validation images found; {EXPECTED}")
    return info


def _subdirs(d: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(d) if e.is_dir() and not e.name.startswith("."))
    except OSError as e:
        raise UserError(f"{d}: cannot list folder ({e.strerror or e})") from None


def _images(d: Path) -> list[str]:
    """Image files of a class folder: regular files only (a FIFO named x.jpg would hang a loader worker)."""
    try:
        with os.scandir(d) as it:
            return sorted(e.path for e in it if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_EXTS)
    except OSError as e:
        raise UserError(f"{d}: cannot list the class folder ({e.strerror or e})") from None


def _class_dirs(split: Path) -> dict[str, Path]:
    return {d.name: d for d in _subdirs(split)}


def _flat_images(d: Path) -> bool:
    return bool(_images(d))


def _detect(root: Path) -> DatasetInfo | None:
    kaggle_train = [root / n for n in KAGGLE_TRAIN if (root / n).is_dir()]
    if kaggle_train:
        if not (root / "val.X").is_dir():
            raise UserError(f"{root}: found {kaggle_train[0].name} but no val.X folder (Kaggle ImageNet100 layout)")
        train_dirs: dict[str, Path] = {}
        for part in kaggle_train:
            train_dirs.update(_class_dirs(part))
        info = _build("kaggle", root, train_dirs, _class_dirs(root / "val.X"), "val.X")
        info.class_names = _read_names(root, info)
        return info
    if (root / "train").is_dir():
        val = root / "val"
        if not val.is_dir():
            raise UserError(f"{root}: found train/ but no val/ folder (ImageNet layout needs val/<wnid>/*.JPEG)")
        val_dirs = _class_dirs(val)
        if not val_dirs and _flat_images(val):
            raise UserError(
                f"{val}: validation images lie directly in val/; sort them into one folder per class "
                "(val/<wnid>/*.JPEG, e.g. with ImageNet's valprep.sh) first"
            )
        train_dirs = _class_dirs(root / "train")
        wanted = imagenet100_wnids()
        if len(train_dirs) > len(wanted) and set(wanted) <= set(train_dirs):
            total = len(train_dirs)
            train_dirs = {w: train_dirs[w] for w in wanted}
            val_dirs = {w: d for w, d in val_dirs.items() if w in train_dirs}
            info = _build("imagenet1k-cut", root, train_dirs, val_dirs, "val")
            info.notes.append(f"cut from {total:,} classes with the ImageNet100 list")
        else:
            info = _build("imagenet", root, train_dirs, val_dirs, "val")
        info.class_names = _read_names(root, info)
        return info
    return None


def _build(layout: str, root: Path, train_dirs: dict, val_dirs: dict, val_name: str) -> DatasetInfo:
    train_lists = {w: _images(d) for w, d in sorted(train_dirs.items())}
    classes = [w for w, files in train_lists.items() if files]  # an empty folder is no class
    if not classes:
        raise UserError(f"{root}: no class folder with images in the training split; {EXPECTED}")
    index = {w: i for i, w in enumerate(classes)}
    extra = sorted(w for w, d in val_dirs.items() if w not in index and _images(d))
    if extra:
        shown = ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else "")
        raise UserError(f"{root / val_name}: {len(extra)} validation class(es) missing from training: {shown}")
    train = [(p, index[w]) for w in classes for p in train_lists[w]]
    val = [(p, index[w]) for w, d in sorted(val_dirs.items()) for p in _images(d)]
    return DatasetInfo(layout=layout, root=root, classes=classes, train=train, val=val)


def _read_names(root: Path, info: DatasetInfo) -> dict[str, str]:
    """Readable class names from Labels.json (Kaggle) or LOC_synset_mapping.txt (ImageNet on Kaggle)."""
    names: dict[str, str] = {}
    try:
        if (root / "Labels.json").is_file():
            raw = json.loads(read_file(root / "Labels.json", "class-name file", MAX_LABEL_FILE_BYTES).decode("utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("not an object")
            names = {str(k): str(v) for k, v in raw.items()}
        elif (root / "LOC_synset_mapping.txt").is_file():
            text = read_file(root / "LOC_synset_mapping.txt", "class-name file", MAX_LABEL_FILE_BYTES).decode("utf-8")
            for line in text.splitlines():
                wnid, _, name = line.strip().partition(" ")
                if name:
                    names[wnid] = name
    except (OSError, ValueError, RecursionError, UserError) as e:
        info.notes.append(f"class names not shown: label file unreadable ({e})")
        return {}
    return {w: names[w] for w in info.classes if w in names}


def _cap(samples: list[tuple[str, int]], per_class: int | None) -> list[tuple[str, int]]:
    if not per_class:
        return samples
    seen: dict[int, int] = {}
    out = []
    for path, label in samples:  # sorted by file name: the same cap picks the same images every time
        if seen.get(label, 0) < per_class:
            seen[label] = seen.get(label, 0) + 1
            out.append((path, label))
    return out


# -- transforms (Pillow) ---------------------------------------------------------------------------------
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
    with Image.open(path) as img:
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
