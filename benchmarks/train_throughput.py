"""Training images/s with the real JPEG pipeline against in-memory tensors, on the same model.

Run: python benchmarks/train_throughput.py [--res 128] [--batch 64] [--steps 20] [--rounds 3] [--amp auto|off|bf16]
Generates photo-like JPEGs at ImageNet's typical size (400x350, quality 90) in a temporary folder, then:
  1. decode speed of one process: with PIL draft() (libjpeg's reduced-scale decoding) and without;
  2. compute only: SM_V2 train steps on a uint8 batch already in memory (same normalisation and optimizer);
  3. pipeline: explorer.train.loop.fine_tune on the JPEG folder, with 1 and 2 loader workers.
Rounds interleave the measurements (compute, pipeline, pipeline, compute), so a noisy shared machine
affects all alike; the medians over all rounds are compared.
The target: pipeline >= 0.8 x compute-only at the quick-run resolution. Output: docs/train_throughput.md.
"""

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image, JpegImagePlugin
from run_header import footer, header

from explorer.design.presets import get_preset
from explorer.model.build import build_model
from explorer.train.data import load_image, normalize_batch
from explorer.train.loop import TrainConfig, fine_tune
from explorer.train.optimization import amp_setup

CLASSES = 10
JPEG_SIZE = (400, 350)  # ImageNet's typical photo
JPEG_QUALITY = 90
VAL_PER_CLASS = 2
DECODE_SAMPLE = 200  # images decoded to time one process's decode rate
WARMUP_STEPS = 3  # excluded: the first steps allocate and, in the pipeline, wait for the loaders to start
LR = 0.05
MOMENTUM = 0.9


def photo_like(rng: random.Random, size=JPEG_SIZE) -> Image.Image:
    """Colour blobs plus per-channel grain: about 60 KiB at quality 90, decoding like a photo, not flat colour."""
    small = Image.effect_noise((size[0] // 4, size[1] // 4), 90).convert("RGB")
    tint = Image.new("RGB", small.size, tuple(rng.randrange(256) for _ in range(3)))
    base = Image.blend(small, tint, 0.4).resize(size, Image.Resampling.BICUBIC)
    grain = Image.merge("RGB", [Image.effect_noise(size, 40) for _ in range(3)])
    return Image.blend(base, grain, 0.3)


def make_folder(root: Path, per_class: int) -> Path:
    rng = random.Random(0)
    for split, n in (("train", per_class), ("val", VAL_PER_CLASS)):
        for c in range(CLASSES):
            d = root / split / f"n{c:08d}"
            d.mkdir(parents=True)
            for i in range(n):
                photo_like(rng).save(d / f"{i:05d}.JPEG", quality=JPEG_QUALITY)
    return root


def decode_rate(paths: list[str], res: int, draft: bool, train: bool = True) -> float:
    real = JpegImagePlugin.JpegImageFile.draft
    if not draft:
        JpegImagePlugin.JpegImageFile.draft = lambda self, mode, size: None
    try:
        t0 = time.perf_counter()
        for p in paths:
            load_image(p, res, train=train)
        return len(paths) / (time.perf_counter() - t0)
    finally:
        JpegImagePlugin.JpegImageFile.draft = real


def compute_rate(res: int, batch: int, steps: int, amp: str) -> float:
    dtype, _ = amp_setup(amp, torch.device("cpu"))
    torch.manual_seed(0)
    model = build_model(get_preset("SM_V2").with_changes(num_classes=CLASSES))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, nesterov=True)
    x = torch.randint(0, 256, (batch, 3, res, res), dtype=torch.uint8)
    y = torch.randint(0, CLASSES, (batch,))
    for i in range(WARMUP_STEPS + steps):
        if i == WARMUP_STEPS:
            t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(model(normalize_batch(x)), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return batch * steps / (time.perf_counter() - t0)


def pipeline_rate(data: Path, out: Path, res: int, batch: int, steps: int, workers: int, amp: str) -> float:
    stamps = []

    def on_progress(e):
        if e["event"] == "step":
            stamps.append(time.perf_counter())

    cfg = TrainConfig(
        design=get_preset("SM_V2"),
        data=str(data),
        max_steps=WARMUP_STEPS + steps,
        img_size=res,
        batch=batch,
        workers=workers,
        lr=LR,
        amp=amp,
        device="cpu",
        out_dir=str(out),
        store_result=False,
        eval_every_epoch=False,
        val_per_class=1,
    )
    fine_tune(cfg, on_progress)
    return batch * steps / (stamps[-1] - stamps[WARMUP_STEPS - 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--amp", choices=["auto", "off", "bf16"], default="auto", help="as TrainConfig.amp (CPU)")
    args = ap.parse_args()
    # One epoch covers the run (warm-up steps and one spare batch included): no epoch-end pause is timed.
    per_class = (args.steps + WARMUP_STEPS + 1) * args.batch // CLASSES + 1
    started = time.time()
    print(header("# Training throughput: the JPEG pipeline against tensors in memory"))
    print(f"{torch.get_num_threads()} torch threads")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        data = make_folder(Path(tmp) / "data", per_class)
        paths = sorted(str(p) for p in (data / "train").rglob("*.JPEG"))
        mean_kb = statistics.mean(os.path.getsize(p) for p in paths) / 1024
        w, h = JPEG_SIZE
        print(f"{len(paths)} train JPEGs, {w}x{h}, {mean_kb:.0f} KiB mean, made in {time.perf_counter() - t0:.0f} s")
        sample = paths[:DECODE_SAMPLE]
        for train, what in ((True, "random-resized crop"), (False, "validation resize + center crop")):
            on, off = decode_rate(sample, args.res, True, train), decode_rate(sample, args.res, False, train)
            print(
                f"decode + {what} to {args.res}, one process: {on:.0f} images/s with draft(), "
                f"{off:.0f} without ({on / off:.2f}x)"
            )
        rows = []
        for r in range(args.rounds):
            c = compute_rate(args.res, args.batch, args.steps, args.amp)
            p1 = pipeline_rate(data, Path(tmp) / f"run{r}w1", args.res, args.batch, args.steps, 1, args.amp)
            p2 = pipeline_rate(data, Path(tmp) / f"run{r}w2", args.res, args.batch, args.steps, 2, args.amp)
            c2 = compute_rate(args.res, args.batch, args.steps, args.amp)
            rows.append((c, p1, p2, c2))
            print(
                f"round {r + 1}: compute only {c:.1f}, pipeline 1 worker {p1:.1f}, 2 workers {p2:.1f}, "
                f"compute only {c2:.1f} images/s"
            )
    # Medians over all rounds: one round disturbed by a neighbour's job then moves no figure much.
    compute = statistics.median(v for row in rows for v in (row[0], row[3]))
    dtype, _ = amp_setup(args.amp, torch.device("cpu"))
    precision = "bf16 autocast" if dtype else "float32"
    print(f"\nSM_V2, res {args.res}, batch {args.batch}, SGD, {precision}, median of {args.rounds} interleaved rounds:")
    print(f"  compute only (uint8 batch in memory): {compute:7.1f} images/s")
    for w in (1, 2):
        rate = statistics.median(row[w] for row in rows)
        print(f"  JPEG pipeline, {w} worker(s):          {rate:7.1f} images/s  = {rate / compute:.2f}x compute only")
    print(footer(started))


if __name__ == "__main__":
    main()
