"""Training: the app's quick fine-tune and the CLI's full runs share this one loop.

`fine_tune(config, on_progress, stop)` runs alone (the app calls it from a background thread) or once per
process under `torchrun` (DDP: rank 0 alone reports, checkpoints and stores the result). The budget is
minutes, steps or epochs, whichever ends first; the learning rate follows linear warm-up then cosine over
the fraction of the budget used, so a time budget gets a full schedule too. Setting `stop` ends the run
early but keeps what was learned: checkpoint, validation, result, summary.

This module is the loop itself (setup, epochs, optimisation steps, the cross-rank sync); what happens around
it has its own module: evaluate (validation), resume (the state a checkpoint carries), outputs (the run
folder and the results store), progress (images/s and the time left).
"""

from __future__ import annotations

import math
import random
import threading
import time

import torch
from torch import nn

from ..errors import UserError
from ..model.build import build_model
from . import ddp
from .checkpoint import CHECKPOINT_NAME, save_checkpoint, warm_start
from .config import QUICK_MINUTES, TrainConfig, TrainSummary, amp_setup, auto_workers, lr_at, make_optimizer, validate
from .data import detect_dataset
from .evaluate import evaluate
from .images import normalize_batch
from .loaders import ResumableSampler, ShardSampler, make_loader
from .memory import check_training_memory
from .outputs import check_outputs, run_folder, store_result
from .progress import Progress, Throughput, eta_s
from .resume import restore_training_state, training_state

__all__ = ["TrainConfig", "TrainSummary", "fine_tune", "lr_at"]

SYNC_EVERY_GPU = 10


def fine_tune(config: TrainConfig, on_progress: Progress | None = None, stop: threading.Event | None = None):
    """Train `config.design` on `config.data`; returns a TrainSummary (on every rank; rank 0 reports)."""
    validate(config)
    env = ddp.setup(config.device)
    try:
        return _Run(config, env, on_progress, stop or threading.Event()).run()
    finally:
        ddp.teardown(env)


class _Run:
    def __init__(self, cfg: TrainConfig, env: ddp.DistEnv, on_progress: Progress | None, stop: threading.Event):
        self.cfg, self.env, self.stop = cfg, env, stop
        self.emit = on_progress if (on_progress and env.is_main) else (lambda event: None)
        self.dev = env.device
        # before any image is listed or any tensor allocated: a step that cannot fit is refused in one line
        check_training_memory(cfg.design, cfg.img_size, cfg.batch, cfg.optimizer, self.dev)
        self.info = detect_dataset(cfg.data, cfg.per_class, cfg.val_per_class)
        design = cfg.design
        self.notes = []
        if design.num_classes != self.info.num_classes:
            self.notes.append(
                f"classifier set to the data's {self.info.num_classes} classes (design has {design.num_classes})"
            )
            design = design.with_changes(num_classes=self.info.num_classes)
        self.design = design
        self.global_batch = cfg.batch * env.world
        if len(self.info.train) < self.global_batch:
            raise UserError(
                f"only {len(self.info.train)} training images; a batch of {cfg.batch} x {env.world} process(es) "
                "needs at least that many (lower --batch or raise --per-class)"
            )
        self.base_lr = (
            cfg.lr if cfg.lr is not None else (0.2 * self.global_batch / 256 if cfg.optimizer == "sgd" else 1e-3)
        )
        self.amp_dtype, self.scaler = amp_setup(cfg.amp, self.dev)
        # state that a checkpoint carries
        self.step = self.epoch = self.epoch_offset = self.images_seen = 0
        self.elapsed_before = 0.0  # seconds trained by earlier sessions of a resumed run
        self.history: list[dict] = []
        self.loss_log: list[list[float]] = []
        self.bad: set[str] = set()
        self.last_eval: dict | None = None
        self.resumed_from: int | None = None
        self.warm = None
        self.save_error: str | None = None  # why the newest checkpoint could not be written (None: it was)

    # -- setup -------------------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg, env = self.cfg, self.env
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed + env.rank)
        self.net = build_model(self.design).to(self.dev)
        if self.dev.type == "cuda":
            self.net = self.net.to(memory_format=torch.channels_last)
            torch.backends.cudnn.benchmark = True
        self.opt = make_optimizer(self.net, cfg, self.base_lr)
        self.out = run_folder(cfg, self.design)
        self.ckpt_path = self.out / CHECKPOINT_NAME
        if env.is_main:
            check_outputs(self.out, self.ckpt_path, cfg)  # a late PermissionError would throw the whole run away
        if cfg.resume:
            self._restore()
        elif cfg.init:
            self.warm = warm_start(self.net, cfg.init)
        self.model = self.net
        if env.distributed:
            ids = [self.dev.index] if self.dev.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(self.net, device_ids=ids)
        workers = cfg.workers if cfg.workers is not None else auto_workers(self.dev, env.world)
        pin = self.dev.type == "cuda"
        self.sampler = ResumableSampler(len(self.info.train), env.world, env.rank, cfg.seed)
        self.train_loader = make_loader(
            self.info.train,
            train=True,
            size=cfg.img_size,
            batch=cfg.batch,
            workers=workers,
            sampler=self.sampler,
            scale=(cfg.crop_scale, 1.0),
            pin_memory=pin,
            seed=cfg.seed * 1000 + env.rank * 7919 + self.step,
        )
        val_sampler = ShardSampler(len(self.info.val), env.world, env.rank)
        self.val_loader = make_loader(
            self.info.val,
            train=False,
            size=cfg.img_size,
            batch=cfg.batch,
            workers=workers,
            sampler=val_sampler,
            pin_memory=pin,
        )
        self.steps_per_epoch = len(self.info.train) // self.global_batch
        self.total_steps = cfg.max_steps
        if cfg.epochs:
            by_epochs = cfg.epochs * self.steps_per_epoch
            self.total_steps = min(self.total_steps or by_epochs, by_epochs)
        no_budget = cfg.minutes is None and cfg.max_steps is None and cfg.epochs is None
        minutes = QUICK_MINUTES if no_budget else cfg.minutes
        self.budget_s = minutes * 60 if minutes else None
        self.workers = workers

    def _restore(self) -> None:
        state = restore_training_state(
            self.ckpt_path, self.design, self.info, self.net, self.opt, self.scaler, self.cfg.optimizer
        )
        self.step, self.epoch, self.epoch_offset = state.step, state.epoch, state.epoch_offset
        self.images_seen, self.elapsed_before = state.images_seen, state.elapsed_s
        self.history, self.loss_log = state.history, state.loss_log
        self.bad, self.last_eval = state.skipped, state.last_eval
        if self.env.rank:
            random.seed(self.cfg.seed + self.env.rank + self.step)
        self.resumed_from = self.step

    # -- the loop ----------------------------------------------------------------------------------------
    def run(self) -> TrainSummary:
        self._setup()
        self.emit(
            {
                "event": "start",
                "dataset": self.info.summary(),
                "num_classes": self.info.num_classes,
                "steps_per_epoch": self.steps_per_epoch,
                "total_steps": self.total_steps,
                "budget_s": self.budget_s,
                "resumed_from_step": self.resumed_from,
                "warm_start": self.warm.summary() if self.warm else None,
                "device": str(self.dev),
                "world_size": self.env.world,
                "workers": self.workers,
                "out_dir": str(self.out),
                "notes": self.notes,
                "design_hash": self.design.network_hash(),
            }
        )
        self.t0 = time.perf_counter()
        self.frac = self._fraction(self.elapsed_before)
        self.throughput = Throughput(self.t0)
        self.session_train_s = 0.0
        self.win_loss, self.win_n, self.stopped, self.prev_batch, self.saved_step = 0.0, 0, False, None, None
        self.train_elapsed = None
        self.lr = lr_at(self.frac, self.base_lr, self.cfg.warmup)
        done = self.frac >= 1
        while not done:
            done = self._epoch()
        self.train_elapsed = self._elapsed()  # the final evaluation is extra
        if self.saved_step != self.step:
            self._save()  # first make what was learned safe, then spend time on validation
        if self.last_eval and self.last_eval["step"] == self.step:
            final = self.last_eval
        else:
            final = self._evaluate()
            self._save()  # again, now with the final metrics in it
        return self._finish(final)

    def _epoch(self) -> bool:
        self.sampler.set_epoch(self.epoch)
        self.sampler.set_start(self.epoch_offset)
        steps_here, taken, done = len(self.train_loader), 0, False
        batches = iter(self.train_loader)
        while taken < steps_here and not done:
            t_step = time.perf_counter()
            x, y, bad = next(batches)
            self.bad.update(self.info.train[i][0] for i in bad)
            taken += 1
            self.epoch_offset += self.global_batch
            if not len(y) and self.env.distributed:
                # A whole batch of unreadable files: every rank must still take part in the gradient all-reduce.
                if self.prev_batch is None:
                    raise UserError(f"{self.info.root}: a whole first batch of unreadable images")
                x, y = self.prev_batch
            if len(y):
                self._train_step(x, y)
                self.prev_batch = (x, y)
            self.step += 1
            if self.total_steps:
                self.frac = max(self.frac, self.step / self.total_steps)
            self.session_train_s += time.perf_counter() - t_step
            done = self._sync(force=taken == steps_here)
        if taken == steps_here:  # epoch complete, even when the budget ends on its last batch
            self.epoch += 1
            self.epoch_offset = 0
            if self.cfg.eval_every_epoch:
                self._evaluate()
            self._save()
        return done

    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        x = normalize_batch(x.to(self.dev, non_blocking=True))
        if self.dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        y = y.to(self.dev, non_blocking=True)
        lr = lr_at(self.frac, self.base_lr, self.cfg.warmup)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.lr = lr
        with self._autocast():
            loss = nn.functional.cross_entropy(self.model(x), y, label_smoothing=self.cfg.label_smoothing)
        self.opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            loss.backward()
            self.opt.step()
        self.win_loss = self.win_loss + loss.detach().float() * len(y)
        self.win_n += len(y)

    def _elapsed(self) -> float:
        return time.perf_counter() - self.t0 + self.elapsed_before

    def _autocast(self):
        return torch.autocast(self.dev.type, dtype=self.amp_dtype or torch.bfloat16, enabled=self.amp_dtype is not None)

    def _fraction(self, elapsed: float) -> float:
        by_steps = self.step / self.total_steps if self.total_steps else 0.0
        by_time = elapsed / self.budget_s if self.budget_s else 0.0
        return max(by_steps, by_time)

    def _sync(self, force: bool = False) -> bool:
        """Reduce loss, images, clock and the stop flag over ranks, so every rank takes the same decisions.
        On a GPU only every SYNC_EVERY_GPU steps (and at epoch or budget ends): reading the loss waits for the
        GPU, which would stop the CPU from queueing the next steps."""
        sync_every = SYNC_EVERY_GPU if self.dev.type == "cuda" else 1
        if not force and self.step % sync_every and self.frac < 1:
            return False
        now = time.perf_counter()
        ctl = torch.tensor(
            [float(self.win_loss), self.win_n, now - self.t0 + self.elapsed_before, float(self.stop.is_set())],
            dtype=torch.float64,
            device=self.dev,
        )
        ddp.all_sum(ctl, self.env)
        self.win_loss, self.win_n = 0.0, 0
        if not math.isfinite(float(ctl[0])):
            raise UserError(
                f"training stopped at step {self.step}: the loss became {float(ctl[0])} (learning rate {self.lr:.3g}); "
                "nothing was stored; lower the learning rate (--lr) and try again"
            )
        images = int(ctl[1])
        elapsed = float(ctl[2]) / self.env.world
        self.images_seen += images
        self.frac = self._fraction(elapsed)
        stopped = bool(ctl[3] > 0)
        self.stopped = self.stopped or stopped
        loss = float(ctl[0]) / max(1, images)
        if self.step % 10 == 0 or self.step == 1:
            self.loss_log.append([self.step, round(loss, 5)])
        ips = self.throughput.add(now, images)
        self.emit(
            {
                "event": "step",
                "step": self.step,
                "total_steps": self.total_steps,
                "fraction": min(1.0, self.frac),
                "epoch": self.step / self.steps_per_epoch,
                "loss": loss,
                "lr": self.lr,
                "images_per_s": ips,
                "elapsed_s": elapsed,
                "eta_s": eta_s(self.step, self.total_steps, self.global_batch, ips, self.budget_s, elapsed),
                "skipped_images": len(self.bad),
            }
        )
        return stopped or self.frac >= 1

    # -- evaluation, checkpoints, result -----------------------------------------------------------------
    def _evaluate(self) -> dict:
        self.emit({"event": "evaluating", "step": self.step, "images": len(self.info.val)})
        val = evaluate(self.net, self.val_loader, self.info, self.dev, self.env, self._autocast, self.bad)
        m = {
            "step": self.step,
            "epoch": round(self.step / self.steps_per_epoch, 3),
            "top1": val["top1"],
            "top5": val["top5"],
            "val_loss": val["val_loss"],
            "val_images": val["val_images"],
            "elapsed_s": round(self._elapsed(), 2),
            "k": val["k"],
        }
        if self.loss_log:
            m["train_loss"] = self.loss_log[-1][1]
        self.last_eval = m
        self.history.append(m)
        self.emit({"event": "eval", "step": self.step, "val": m})
        return m

    def _save(self) -> None:
        bad = sorted(set().union(*ddp.gather_objects(self.bad, self.env)))
        self.bad = set(bad)
        self.saved_step = self.step
        if not self.env.is_main:
            return
        schedule = {
            "kind": "warmup-cosine",
            "base_lr": self.base_lr,
            "warmup": self.cfg.warmup,
            "fraction": self.frac,
            "elapsed_s": self.train_elapsed or self._elapsed(),
            "total_steps": self.total_steps,
            "budget_s": self.budget_s,
        }
        payload = training_state(
            design=self.design,
            net=self.net,
            opt=self.opt,
            scaler=self.scaler,
            schedule=schedule,
            step=self.step,
            epoch=self.epoch,
            epoch_offset=self.epoch_offset,
            images_seen=self.images_seen,
            cfg=self.cfg,
            history=self.history,
            loss_log=self.loss_log,
            last_eval=self.last_eval,
            info=self.info,
            skipped=bad,
            world_size=self.env.world,
        )
        try:
            save_checkpoint(self.ckpt_path, payload)
        except UserError as e:  # a full disk: keep training and report; what was computed is never lost
            self.save_error = str(e)
            self.emit({"event": "checkpoint_failed", "step": self.step, "error": self.save_error})
            return
        self.save_error = None
        self.emit({"event": "checkpoint", "step": self.step, "path": str(self.ckpt_path)})

    def _finish(self, final: dict) -> TrainSummary:
        cfg = self.cfg
        summary = TrainSummary(
            top1=final["top1"],
            top5=final["top5"],
            val_loss=final["val_loss"],
            steps=self.step,
            epochs=self.step / self.steps_per_epoch,
            images_seen=self.images_seen,
            train_images=len(self.info.train),
            val_images=final["val_images"],
            images_per_s=self.throughput.session_images / max(1e-9, self.session_train_s),
            minutes=self.train_elapsed / 60,
            img_size=cfg.img_size,
            checkpoint="" if self.save_error else str(self.ckpt_path),
            out_dir=str(self.out),
            stopped=self.stopped,
            skipped_images=len(self.bad),
            skipped_examples=sorted(self.bad)[:5],
            dataset=self.info.summary(),
            layout=self.info.layout,
            design_hash=self.design.network_hash(),
            design_name=self.design.name,
            num_classes=self.info.num_classes,
            warm_start=self.warm.to_dict() if self.warm else None,
            resumed_from_step=self.resumed_from,
            history=self.history,
            world_size=self.env.world,
            device=str(self.dev),
            notes=self.notes + ([f"checkpoint not saved: {self.save_error}"] if self.save_error else []),
            global_batch=self.global_batch,
            top_k=min(5, self.info.num_classes),
        )
        if self.env.is_main and cfg.store_result:
            store_result(summary, cfg, self.design)
        self.emit({"event": "done", "summary": summary.to_dict()})
        return summary
