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
from ..fmt import printable, shown
from ..options import check_args, from_args, options_of
from ..train.config import BUDGET_OPTIONS, TrainConfig  # plain data: torch loads only in the training loop

# Every flag is generated from TrainConfig's fields: each default, range and help is written there once.
FLAGS = [o for o in options_of(TrainConfig) if o.flag is not None]


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .main import add_design_args

    add_design_args(p)
    budget = p.add_mutually_exclusive_group()
    for o in FLAGS:
        o.add_to(budget if o.name in BUDGET_OPTIONS else p)
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
                tqdm.write(f"resuming from step {e['resumed_from_step']} in {shown(e['out_dir'])}", file=sys.stderr)
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
    for o in FLAGS:  # paths: an empty one is a slip, not "the current folder"
        value = getattr(args, o.name)
        if o.kind is str and not o.choices and isinstance(value, str) and not value.strip():
            raise UserError(f"{o.cli_flag} must not be empty")
    check_args(args, FLAGS)  # before torch loads, each problem naming its flag
    from ..train.loop import fine_tune

    cfg = from_args(TrainConfig, args, design=design)
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
    print(f"checkpoint: {shown(s.checkpoint)}" if s.checkpoint else "checkpoint: not saved (see the note below)")
    if s.skipped_images:
        print(f"skipped {s.skipped_images} unreadable image(s), e.g. {shown(s.skipped_examples[0])}")
    for note in s.notes:
        print(printable(note))
    if s.record:
        print(f"stored in the results as {s.record['label']!r} (design {s.design_hash})")
    return 0
