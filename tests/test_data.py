"""Dataset layouts, transforms, unreadable files and the resumable sampler (generated images only)."""

import re

import pytest
import torch
from _imagedata import CORRUPT, NAMES, WNIDS, draw_image, imagenet1k_layout, imagenet_layout, kaggle_layout
from PIL import Image, JpegImagePlugin

from explorer.errors import UserError
from explorer.train.data import detect_dataset, imagenet100_wnids
from explorer.train.images import load_image, normalize_batch
from explorer.train.loaders import ImageDataset, ResumableSampler, ShardSampler, collate_skip_bad, make_loader


def test_imagenet_layout_is_detected_with_counts(tmp_path):
    info = detect_dataset(imagenet_layout(tmp_path))
    assert info.layout == "imagenet" and info.classes == WNIDS
    assert len(info.train) == 4 * 12 + 1 and len(info.val) == 4 * 4  # the corrupt file is listed, skipped later
    assert info.summary() == "ImageNet layout: 4 classes, 49 train / 16 val images"
    assert {label for _, label in info.val} == {0, 1, 2, 3}


def test_kaggle_layout_with_labels_json(tmp_path):
    info = detect_dataset(kaggle_layout(tmp_path))
    assert info.layout == "kaggle" and info.classes == WNIDS
    assert info.summary().startswith("Kaggle ImageNet100 layout: 4 classes, 49 train / 16 val images")
    assert info.name_of(1) == NAMES[WNIDS[1]]
    # a label in train.X3 keeps its class index
    assert all(label == 2 for path, label in info.train if "/train.X3/" in path)


def test_kaggle_layout_with_broken_labels_file_still_loads(tmp_path):
    kaggle_layout(tmp_path)
    (tmp_path / "Labels.json").write_text("{not json")
    info = detect_dataset(tmp_path)
    assert info.class_names == {} and "class names not shown" in info.summary()


def test_full_imagenet_is_cut_to_the_shipped_imagenet100_list(tmp_path):
    wnids = imagenet100_wnids()
    assert len(wnids) == 100 == len(set(wnids))
    info = detect_dataset(imagenet1k_layout(tmp_path, wnids, extra=3))
    assert info.layout == "imagenet1k-cut" and info.classes == sorted(wnids)
    assert len(info.train) == 100 and len(info.val) == 100
    assert "cut from 103 classes" in info.summary()


def test_a_wrapping_folder_is_looked_into(tmp_path):
    imagenet_layout(tmp_path / "imagenet100")
    assert detect_dataset(tmp_path).layout == "imagenet"


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p / "missing", "not a folder"),
        (lambda p: p, "no known layout"),
        (lambda p: (p / "train" / "n1").mkdir(parents=True) or p, "no val/ folder"),
        (lambda p: (p / "train.X1").mkdir() or p, "no val.X folder"),
    ],
)
def test_bad_folders_say_what_was_expected(tmp_path, make, words):
    with pytest.raises(UserError) as e:
        detect_dataset(make(tmp_path))
    assert words in str(e.value)
    assert "\n" not in str(e.value)


def test_flat_val_folder_and_unknown_val_class_are_explained(tmp_path):
    imagenet_layout(tmp_path)
    (tmp_path / "val" / "n09999999").mkdir()
    draw_image(0, __import__("random").Random(0)).save(tmp_path / "val" / "n09999999" / "x.JPEG")
    with pytest.raises(UserError, match="missing from training: n09999999"):
        detect_dataset(tmp_path)
    flat = tmp_path / "flat"
    (flat / "train" / WNIDS[0]).mkdir(parents=True)
    (flat / "val").mkdir()
    draw_image(0, __import__("random").Random(0)).save(flat / "val" / "ILSVRC2012_val_00000001.JPEG")
    with pytest.raises(UserError, match="one folder per class"):
        detect_dataset(flat)


def test_per_class_caps(tmp_path):
    info = detect_dataset(imagenet_layout(tmp_path), per_class=5, val_per_class=2)
    assert len(info.train) == 20 and len(info.val) == 8
    assert "capped at 5 per class" in info.summary()
    with pytest.raises(UserError, match="at least 1"):
        detect_dataset(tmp_path, per_class=0)


def test_corrupt_file_is_skipped_and_counted_through_worker_processes(tmp_path):
    info = detect_dataset(imagenet_layout(tmp_path))
    ds = ImageDataset(info.train, 24, train=True)
    bad_index = next(i for i, (p, _) in enumerate(info.train) if p.endswith(CORRUPT))
    assert ds[bad_index][0] is None and ds[bad_index][1] == -1
    loader = make_loader(info.train, train=False, size=24, batch=10, workers=1, sampler=ShardSampler(len(info.train)))
    seen, bad = 0, []
    for x, y, skipped in loader:
        assert x.dtype == torch.uint8 and x.shape[1:] == (3, 24, 24) and len(x) == len(y)
        seen += len(y)
        bad += skipped
    assert seen == len(info.train) - 1 and bad == [bad_index]


def test_collate_of_an_all_bad_batch_is_empty():
    x, y, bad = collate_skip_bad([(None, -1, 3), (None, -1, 4)])
    assert len(x) == len(y) == 0 and bad == [3, 4]


def test_transforms_shapes_draft_and_normalisation(tmp_path, monkeypatch):
    path = tmp_path / "big.jpg"
    img = Image.new("RGB", (800, 700), (200, 30, 30))
    img.paste((30, 30, 200), (400, 0, 800, 700))  # left red, right blue
    img.save(path, quality=92)
    val = load_image(str(path), 64, train=False)
    assert val.shape == (3, 64, 64) and val.dtype == torch.uint8
    assert val[0, :, :8].float().mean() > 150 and val[2, :, -8:].float().mean() > 150  # center crop keeps both halves
    assert torch.equal(val, load_image(str(path), 64, train=False))  # validation is deterministic
    decoded = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        out = real_draft(self, mode, size)
        decoded.append(self.size)
        return out

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    assert torch.equal(load_image(str(path), 64, train=False), val)  # same result through the spy
    assert decoded == [(100, 88)]  # libjpeg decoded at 1/8 scale: the 612 px crop is still 76 px >= 64
    flips = {
        bool(load_image(str(path), 32, train=True, scale=(1.0, 1.0))[0, :, :4].float().mean() > 150) for _ in range(20)
    }
    assert flips == {True, False}  # horizontal flips happen, both ways
    gray = tmp_path / "gray.png"
    Image.new("L", (50, 40), 128).save(gray)
    assert load_image(str(gray), 16, train=True).shape == (3, 16, 16)
    x = normalize_batch(torch.full((2, 3, 4, 4), 124, dtype=torch.uint8))
    assert x.dtype == torch.float32 and abs(float(x[0, 0, 0, 0])) < 0.01


def test_resumable_sampler_continues_where_an_epoch_stopped():
    full = list(ResumableSampler(50, 1, 0, seed=3).__iter__())
    assert sorted(full) == list(range(50))
    part = ResumableSampler(50, 1, 0, seed=3)
    part.set_start(20)
    assert list(part) == full[20:]
    two = [ResumableSampler(50, 2, r, seed=3) for r in (0, 1)]
    for s in two:
        s.set_start(20)
    assert len(two[0]) == len(two[1]) == 15
    assert sorted(list(two[0]) + list(two[1])) == sorted(full[20:])
    nxt = ResumableSampler(50, 1, 0, seed=3)
    nxt.set_epoch(1)
    assert list(nxt) != full


def test_shard_sampler_covers_every_sample_once():
    shards = [list(ShardSampler(11, 3, r)) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(11))


def test_shipped_class_list_matches_the_reference_copy():
    # tests/data/ keeps the reference list (copied from the project's shared data) so no test reads outside the repo.
    reference = __import__("pathlib").Path(__file__).resolve().parent / "data" / "imagenet100_wnids.txt"
    assert len(reference.read_text().split()) == 100
    assert imagenet100_wnids() == reference.read_text().split()
    assert all(re.fullmatch(r"n\d{8}", w) for w in imagenet100_wnids())  # WordNet ids, nothing else
