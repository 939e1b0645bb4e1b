"""ImageNet100 from a local folder: where a folder may point, which layout it has, and its samples.

Nothing is downloaded: the user points at a folder and `detect_dataset` says which layout it found, or why
none fits. Decoding the images is explorer.train.images's job, batching them explorer.train.loaders's; their
names are re-exported here for the scripts that import them from this module.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError, first_line
from ..fmt import shown
from ..paths import user_path
from ..safeio import read_file
from .images import MEAN, STD, UNREADABLE, VAL_CROP, load_image, normalize_batch
from .loaders import ImageDataset, ResumableSampler, ShardSampler, collate_skip_bad, make_loader

__all__ = [
    "DATASET_ROOT_ENV",
    "EXPECTED",
    "IMAGE_EXTS",
    "LAYOUT_TITLES",
    "MEAN",
    "STD",
    "UNREADABLE",
    "VAL_CROP",
    "DatasetInfo",
    "ImageDataset",
    "ResumableSampler",
    "ShardSampler",
    "check_dataset_location",
    "check_readable",
    "collate_skip_bad",
    "detect_dataset",
    "imagenet100_wnids",
    "load_image",
    "make_loader",
    "normalize_batch",
]

MAX_LABEL_FILE_BYTES = 16 << 20  # Labels.json of ImageNet-21k is ~1 MB
IMAGE_EXTS = {".jpeg", ".jpg", ".png", ".bmp", ".webp"}
WNIDS_FILE = Path(__file__).with_name("imagenet100_wnids.txt")
KAGGLE_TRAIN = ("train.X1", "train.X2", "train.X3", "train.X4")
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


DATASET_ROOT_ENV = "EXPLORER_DATASET_ROOT"
MIN_CLASSES = 2  # one class cannot be classified: its accuracy says nothing
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_dataset_location(path: str | Path, listen_address: str | None, root: str | None = None) -> Path:
    """Where a folder typed into the app may point (docs/security.md).

    `root` (default: $EXPLORER_DATASET_ROOT), when set, confines every folder to it, links resolved. Without
    one, an app listening on loopback only accepts any folder (its only user already owns this file system),
    and an app listening on the network accepts none: it would let anyone who reaches it probe the server's
    files. The answer never says whether a path outside the root exists, nor whether a `~user` account
    exists, and never names the server's folders."""
    return _confined(path, listen_address, root, "dataset folders")


def check_checkpoint_location(path: str | Path, listen_address: str | None) -> Path:
    """Where a warm-start checkpoint typed into the app may point: under the dataset root, or in the explorer's
    own run folders. A refusal is one answer for every path outside both, naming the setting, not a folder."""
    from .checkpoint import runs_dir

    what = f"warm-start checkpoints (under {DATASET_ROOT_ENV} or the explorer's own training runs)"
    for root in (None, str(runs_dir())):
        try:
            return _confined(path, listen_address, root, what)
        except UserError:
            continue
    raise UserError(f"only {what} are accepted here")


def _confined(path: str | Path, listen_address: str | None, root: str | None, what: str) -> Path:
    root = root if root is not None else os.environ.get(DATASET_ROOT_ENV) or None
    if root is None:
        if (listen_address or "").strip() in LOOPBACK:
            return user_path(path, "folder")
        raise UserError(
            f"this app is open to the network, so {what} must lie under a configured root; "
            f"set {DATASET_ROOT_ENV} before starting it (see docs/security.md)"
        )
    refused = UserError(f"only {what} under the configured root ({DATASET_ROOT_ENV}) are accepted here")
    try:  # `~someone` expands only when the account exists: refuse it like any path outside the root
        p = user_path(path)
    except UserError:
        raise refused from None
    base = user_path(root).resolve()
    resolved = (Path.cwd() / p).resolve() if not p.is_absolute() else p.resolve()
    if resolved != base and base not in resolved.parents:
        raise refused
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
    skipped_entries: list[str] = field(default_factory=list)  # image-named entries that are no readable file

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
    root = user_path(root, "dataset folder")
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


READABLE_PROBES = 50  # images tried before a split is called unreadable: one decode when the data is sound


def check_readable(info: DatasetInfo, seed: int = 0) -> None:
    """UserError unless each split has a decodable image among up to READABLE_PROBES picked at random: a
    folder of damaged files must be refused before training, not train on nothing and fail at validation."""
    import random

    for split, samples in (("training", info.train), ("validation", info.val)):
        picked = random.Random(seed).sample(samples, min(len(samples), READABLE_PROBES))
        last = None
        for path, _ in picked:
            try:
                load_image(path, 8, train=False)
                break
            except UNREADABLE as e:
                last = e
        else:
            if picked:
                raise UserError(
                    f"{shown(info.root)}: none of {len(picked)} {split} images tried could be read as an image "
                    f"(e.g. {shown(picked[-1][0], 80)}: {first_line(last, 80)})"
                )


def _subdirs(d: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(d) if e.is_dir() and not e.name.startswith("."))
    except OSError as e:
        raise UserError(f"{d}: cannot list folder ({e.strerror or e})") from None


def _images(d: Path, skipped: list[str] | None = None) -> list[str]:
    """Image files of a class folder: regular files only (a FIFO named x.jpg would hang a loader worker).

    An entry with an image name that is not a readable regular file (a link looping on itself, a dangling link,
    a FIFO, a folder) is skipped and added to `skipped`: one bad entry never makes the whole dataset unusable."""
    found = []
    try:
        with os.scandir(d) as it:
            for e in it:
                if os.path.splitext(e.name)[1].lower() not in IMAGE_EXTS:
                    continue
                try:
                    regular = e.is_file()  # follows links: a self-looping one raises ELOOP here
                except OSError:
                    regular = False
                if regular:
                    found.append(e.path)
                elif skipped is not None:
                    skipped.append(e.path)
    except OSError as e:
        raise UserError(f"{d}: cannot list the class folder ({e.strerror or e})") from None
    return sorted(found)


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
    skipped: list[str] = []
    train_lists = {w: _images(d, skipped) for w, d in sorted(train_dirs.items())}
    classes = [w for w, files in train_lists.items() if files]  # an empty folder is no class
    if not classes:
        raise UserError(f"{root}: no class folder with images in the training split; {EXPECTED}")
    if len(classes) < MIN_CLASSES:
        raise UserError(
            f"{root}: only one class with images ({classes[0]}); a classifier needs at least {MIN_CLASSES} "
            "classes (its top-1 on one class is always 100 %)"
        )
    index = {w: i for i, w in enumerate(classes)}
    extra = sorted(w for w, d in val_dirs.items() if w not in index and _images(d))
    if extra:
        shown = ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else "")
        raise UserError(f"{root / val_name}: {len(extra)} validation class(es) missing from training: {shown}")
    train = [(p, index[w]) for w in classes for p in train_lists[w]]
    val = [(p, index[w]) for w, d in sorted(val_dirs.items()) for p in _images(d, skipped)]
    info = DatasetInfo(layout=layout, root=root, classes=classes, train=train, val=val, skipped_entries=skipped)
    if skipped:
        info.notes.append(
            f"skipped {len(skipped):,} entr{'y' if len(skipped) == 1 else 'ies'} that are not readable image "
            f"files (a looping or dangling link, a FIFO...), e.g. {skipped[0]}"
        )
    return info


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
