"""`python -m explorer train`: fine-tune or fully train a design on an ImageNet100 folder.

Runs unchanged under `torchrun --nproc_per_node N` (and multi-node): every process trains its share, rank 0
alone shows the progress bar, writes the checkpoint and prints the summary. Ctrl-C (or SIGTERM) stops
gracefully: the checkpoint is written, the validation split evaluated and the summary printed; a second
Ctrl-C aborts. torch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time

from ..errors import UserError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .main import add_design_args, finite_float

    add_design_args(p)
    p.add_argument(
        "--data", required=True, metavar="DIR", help="dataset folder: ImageNet, Kaggle or ImageNet-1k layout"
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, metavar="N", help="train N epochs")
    budget.add_argument("--minutes", type=finite_float, metavar="M", help="train M minutes (default when no budget: 5)")
    budget.add_argument("--max-steps", type=int, metavar="N", help="train N optimizer steps")
    p.add_argument("--img-size", type=int, default=128, metavar="N", help="training resolution (default 128)")
    p.add_argument("--batch", type=int, default=64, metavar="N", help="batch per process (default 64)")
    p.add_argument("--workers", type=int, metavar="N", help="data-loading processes per training process")
    p.add_argument(
        "--lr", type=finite_float, metavar="X", help="peak learning rate (default: sgd 0.2 x batch/256, adamw 1e-3)"
    )
    p.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd", help="sgd (nesterov) or adamw")
    p.add_argument("--weight-decay", type=finite_float, metavar="X", help="default: sgd 4e-5, adamw 0.05")
    p.add_argument("--label-smoothing", type=finite_float, default=0.1, metavar="X")
    p.add_argument("--warmup", type=finite_float, default=0.05, metavar="F", help="warm-up share of the budget")
    p.add_argument("--amp", choices=["auto", "off", "bf16", "fp16"], default="auto", help="mixed precision")
    p.add_argument("--per-class", type=int, metavar="N", help="at most N training images per class")
    p.add_argument("--val-per-class", type=int, metavar="N", help="at most N validation images per class")
    p.add_argument(
        "--crop-scale", type=finite_float, default=0.25, metavar="F", help="smallest random crop area (0.08: long runs)"
    )
    p.add_argument("--out", metavar="DIR", help="run folder for last.pt (default: under the explorer data folder)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (or this design's newest run)")
    p.add_argument("--init", metavar="CHECKPOINT", help="warm start from the tensors that match by name and shape")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--no-epoch-eval", action="store_true", help="validate only at the end, not after every epoch")
    p.add_argument("--no-store", action="store_true", help="do not add the accuracy to the results store")
    p.add_argument("--store", metavar="FILE", help="results store file (default: the explorer's)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")


class _ConsoleProgress:
    """tqdm bar on stderr (rank 0 only; fine_tune reports only there). Steps when the budget is in steps or
    epochs, else permille of the time budget. Without a terminal (logs of cluster jobs) a plain line every
    LOG_EVERY_S seconds instead, so log files stay readable."""

    LOG_EVERY_S = 30.0

    def __init__(self):
        self.bar = None
        self.tty = sys.stderr.isatty()
        self.last_line = 0.0

    def __call__(self, e: dict) -> None:
        from tqdm import tqdm

        kind = e["event"]
        if kind == "start":
            self.by_steps = bool(e["total_steps"])
            total = e["total_steps"] if self.by_steps else 1000
            for line in [e["dataset"], *e["notes"], e["warm_start"]]:
                if line:
                    tqdm.write(line, file=sys.stderr)
            if e["resumed_from_step"] is not None:
                tqdm.write(f"resuming from step {e['resumed_from_step']} in {e['out_dir']}", file=sys.stderr)
            where = f"{e['world_size']} processes on {e['device']}" if e["world_size"] > 1 else e["device"]
            tqdm.write(f"training on {where}, {e['workers']} loader worker(s) each", file=sys.stderr)
            if self.tty:
                self.bar = tqdm(total=total, file=sys.stderr, unit="step" if self.by_steps else "‰", dynamic_ncols=True)
        elif kind == "step" and self.bar is None:
            now = time.monotonic()
            if now - self.last_line >= self.LOG_EVERY_S or e["fraction"] >= 1:
                self.last_line = now
                eta = f", eta {e['eta_s'] / 60:.1f} min" if e["eta_s"] is not None else ""
                print(
                    f"step {e['step']:,}{'/' + format(e['total_steps'], ',') if e['total_steps'] else ''} "
                    f"({100 * e['fraction']:.0f} %): loss {e['loss']:.3f}, lr {e['lr']:.3g}, "
                    f"{e['images_per_s']:.0f} images/s{eta}",
                    file=sys.stderr,
                    flush=True,
                )
        elif kind == "step":
            done = e["step"] if self.by_steps else int(1000 * e["fraction"])
            self.bar.update(max(0, done - self.bar.n))
            self.bar.set_postfix(loss=f"{e['loss']:.3f}", lr=f"{e['lr']:.3g}", img_s=f"{e['images_per_s']:.0f}")
        elif kind == "eval":
            v = e["val"]
            k = v.get("k", 5)
            tqdm.write(f"step {v['step']}: val top-1 {v['top1']:.2f} %, top-{k} {v['top5']:.2f} %", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _graceful_stop(stop: threading.Event) -> None:
    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after this step (checkpoint, validation); Ctrl-C again aborts", file=sys.stderr)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _host(design):
    """Training holds the host like a measurement (a `bench` beside it waits, as beside the app's fine-tune).
    Under torchrun only each node's first process takes it: the others on that host are part of the same run."""
    from contextlib import nullcontext

    from ..measure.hostlock import host_lock

    if int(os.environ.get("LOCAL_RANK", "0")) != 0:
        return nullcontext()
    return host_lock(f"training of {design.name}", on_wait=lambda message: print(message, file=sys.stderr))


def run(args: argparse.Namespace) -> int:
    from .main import design_from_args

    design = design_from_args(args)
    for flag in ("data", "init", "out", "store"):
        value = getattr(args, flag)
        if value is not None and not value.strip():
            raise UserError(f"--{flag} must not be empty")
    from ..train.loop import TrainConfig, fine_tune

    cfg = TrainConfig(
        design=design,
        data=args.data,
        minutes=args.minutes,
        max_steps=args.max_steps,
        epochs=args.epochs,
        img_size=args.img_size,
        batch=args.batch,
        workers=args.workers,
        optimizer=args.optimizer,
        lr=args.lr,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        warmup=args.warmup,
        amp=args.amp,
        per_class=args.per_class,
        val_per_class=args.val_per_class,
        crop_scale=args.crop_scale,
        out_dir=args.out,
        resume=args.resume,
        init=args.init,
        seed=args.seed,
        device=args.device,
        eval_every_epoch=not args.no_epoch_eval,
        store_result=not args.no_store,
        results_path=args.store,
    )
    stop = threading.Event()
    _graceful_stop(stop)
    progress = _ConsoleProgress()
    try:
        with _host(design):
            s = fine_tune(cfg, progress, stop)
    finally:
        progress.close()
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    if args.json:
        print(json.dumps(s.to_dict(), indent=2, default=str))
        return 0
    how = "stopped" if s.stopped else "done"
    print(
        f"{how}: top-1 {s.top1:.2f} %, top-{s.top_k} {s.top5:.2f} % on {s.val_images:,} validation images after "
        f"{s.steps:,} steps ({s.epochs:.2f} epochs, {s.minutes:.1f} min, {s.images_per_s:.0f} images/s)"
    )
    print(f"checkpoint: {s.checkpoint}")
    if s.skipped_images:
        print(f"skipped {s.skipped_images} unreadable image(s), e.g. {s.skipped_examples[0]}")
    for note in s.notes:
        print(note)
    if s.record:
        print(f"stored in the results as {s.record['label']!r} (design {s.design_hash})")
    return 0
