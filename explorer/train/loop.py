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
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import UserError
from ..model.build import build_model
from . import ddp
from .checkpoint import CHECKPOINT_NAME, save_checkpoint, warm_start
from .config import QUICK_MINUTES, TrainConfig, TrainSummary, validate
from .data import check_readable, detect_dataset
from .evaluate import evaluate
from .images import normalize_batch
from .loaders import ResumableSampler, ShardSampler, auto_workers, capped_workers, make_loader
from .memory import check_training_memory
from .optimization import amp_setup, default_lr, lr_at, make_optimizer
from .outputs import check_outputs, run_folder, store_result
from .progress import Progress, Throughput, eta_s
from .resume import restore_training_state, training_state

__all__ = ["TrainConfig", "TrainSummary", "fine_tune", "lr_at"]

SYNC_EVERY_GPU = 10
LOSS_LOG_EVERY = 10  # steps between the loss curve's points (and step 1)
# Seeds of the loader workers' crops and flips: one stream per epoch start, rank and resumed step, far apart so
# that no two ranks (or a rank and its resumed self) draw the same crops. 7919 is a prime above any rank count.
LOADER_SEED_PER_RUN_SEED = 1000
LOADER_SEED_PER_RANK = 7919


def fine_tune(config: TrainConfig, on_progress: Progress | None = None, stop: threading.Event | None = None):
    """Train `config.design` on `config.data`; returns a TrainSummary (on every rank; rank 0 reports)."""
    validate(config)
    env = ddp.setup(config.device)
    try:
        return _Run(config, env, on_progress, stop or threading.Event()).run()
    finally:
        ddp.teardown(env)


@dataclass
class Carried:
    """What a checkpoint carries from one session of a run to the next."""

    step: int = 0
    epoch: int = 0
    epoch_offset: int = 0  # samples of the current epoch's order already consumed
    images_seen: int = 0
    elapsed_before: float = 0.0  # seconds trained by earlier sessions of a resumed run
    history: list[dict] = field(default_factory=list)
    loss_log: list[list[float]] = field(default_factory=list)
    bad: set[str] = field(default_factory=set)  # unreadable files skipped
    last_eval: dict | None = None


@dataclass
class Session:
    """This session's clock, loss window and outcome (nothing of it is saved)."""

    t0: float = 0.0
    throughput: Throughput | None = None
    frac: float = 0.0  # of the budget used, all sessions together
    lr: float = 0.0
    train_s: float = 0.0  # seconds spent in training steps (loading included, evaluation not)
    win_loss: float | torch.Tensor = 0.0  # summed since the last sync (a tensor: no GPU wait per step)
    win_n: int = 0
    stopped: bool = False
    prev_batch: tuple | None = None  # stands in for a batch of unreadable files under DDP
    saved_step: int | None = None
    train_elapsed: float | None = None  # at the end of training, before the final evaluation
    save_error: str | None = None  # why the newest checkpoint could not be written (None: it was)


@dataclass(frozen=True)
class Budget:
    steps_per_epoch: int
    total_steps: int | None  # from --max-steps and --epochs, the smaller
    seconds: float | None  # from --minutes (or the quick default)


class _Run:
    """One training run: everything is set up here, then `run()` trains, validates, saves and reports.

    `net` is the network itself (saved, validated, warm-started); `ddp_net` is what a training step calls:
    `net`, or its DistributedDataParallel wrapper under torchrun."""

    def __init__(self, cfg: TrainConfig, env: ddp.DistEnv, on_progress: Progress | None, stop: threading.Event):
        self.cfg, self.env, self.stop, self.dev = cfg, env, stop, env.device
        self.emit = on_progress if (on_progress and env.is_main) else (lambda event: None)
        # before any image is listed or any tensor allocated: a step that cannot fit is refused in one line
        check_training_memory(cfg.design, cfg.img_size, cfg.batch, cfg.optimizer, self.dev)
        self.info = detect_dataset(cfg.data, cfg.per_class, cfg.val_per_class)
        check_readable(self.info, cfg.seed)
        self.notes: list[str] = []
        self.design = self._design_for_data(cfg.design)
        self.global_batch = cfg.batch * env.world
        if len(self.info.train) < self.global_batch:
            # the cap let in exactly its share of every class: more images may wait behind it
            capped = bool(cfg.per_class) and len(self.info.train) >= cfg.per_class * self.info.num_classes
            raise UserError(
                f"only {len(self.info.train)} training images; a batch of {cfg.batch} x {env.world} process(es) "
                "needs at least that many: lower the batch size"
                + (" or raise the images-per-class cap" if capped else "")
            )
        self.base_lr = cfg.lr if cfg.lr is not None else default_lr(cfg.optimizer, self.global_batch)
        self.amp_dtype, self.scaler = amp_setup(cfg.amp, self.dev)
        self.carried = Carried()
        self.session = Session()
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed + env.rank)
        self.net = self._build_net()
        self.opt = make_optimizer(self.net, cfg, self.base_lr)
        self.out = run_folder(cfg, self.design)
        self.ckpt_path = self.out / CHECKPOINT_NAME
        if env.is_main:
            check_outputs(self.out, self.ckpt_path, cfg)  # a late PermissionError would throw the whole run away
        self.resumed_from: int | None = self._restore() if cfg.resume else None
        self.warm = warm_start(self.net, cfg.init) if cfg.init and not cfg.resume else None
        self.ddp_net = self._wrapped(self.net)
        self.workers = cfg.workers if cfg.workers is not None else auto_workers(self.dev, env.world)
        self.workers, lowered = capped_workers(self.workers)
        if lowered:
            self.notes.append(lowered)
        self.sampler = ResumableSampler(len(self.info.train), env.world, env.rank, cfg.seed)
        self.train_loader, self.val_loader = self._loaders()
        self.budget = self._budget()

    # -- setup -------------------------------------------------------------------------------------------
    def _design_for_data(self, design):
        if design.num_classes == self.info.num_classes:
            return design
        self.notes.append(
            f"classifier set to the data's {self.info.num_classes} classes (design has {design.num_classes})"
        )
        return design.with_changes(num_classes=self.info.num_classes)

    def _build_net(self) -> nn.Module:
        net = build_model(self.design).to(self.dev)
        if self.dev.type == "cuda":
            net = net.to(memory_format=torch.channels_last)
            torch.backends.cudnn.benchmark = True
        return net

    def _wrapped(self, net: nn.Module) -> nn.Module:
        if not self.env.distributed:
            return net
        ids = [self.dev.index] if self.dev.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(net, device_ids=ids)

    def _loaders(self):
        cfg, env = self.cfg, self.env
        pin = self.dev.type == "cuda"
        seed = cfg.seed * LOADER_SEED_PER_RUN_SEED + env.rank * LOADER_SEED_PER_RANK + self.carried.step
        train = make_loader(
            self.info.train,
            train=True,
            size=cfg.img_size,
            batch=cfg.batch,
            workers=self.workers,
            sampler=self.sampler,
            scale=(cfg.crop_scale, 1.0),
            pin_memory=pin,
            seed=seed,
        )
        val = make_loader(
            self.info.val,
            train=False,
            size=cfg.img_size,
            batch=cfg.batch,
            workers=self.workers,
            sampler=ShardSampler(len(self.info.val), env.world, env.rank),
            pin_memory=pin,
        )
        return train, val

    def _budget(self) -> Budget:
        cfg = self.cfg
        steps_per_epoch = len(self.info.train) // self.global_batch
        total_steps = cfg.max_steps
        if cfg.epochs:
            by_epochs = cfg.epochs * steps_per_epoch
            total_steps = min(total_steps or by_epochs, by_epochs)
        no_budget = cfg.minutes is None and cfg.max_steps is None and cfg.epochs is None
        minutes = QUICK_MINUTES if no_budget else cfg.minutes
        return Budget(steps_per_epoch, total_steps, minutes * 60 if minutes else None)

    def _restore(self) -> int:
        state = restore_training_state(
            self.ckpt_path, self.design, self.info, self.net, self.opt, self.scaler, self.cfg.optimizer
        )
        self.carried = Carried(
            step=state.step,
            epoch=state.epoch,
            epoch_offset=state.epoch_offset,
            images_seen=state.images_seen,
            elapsed_before=state.elapsed_s,
            history=state.history,
            loss_log=state.loss_log,
            bad=state.skipped,
            last_eval=state.last_eval,
        )
        if self.env.rank:
            random.seed(self.cfg.seed + self.env.rank + state.step)
        return state.step

    # -- the loop ----------------------------------------------------------------------------------------
    def run(self) -> TrainSummary:
        c, s = self.carried, self.session
        self.emit(
            {
                "event": "start",
                "dataset": self.info.summary(),
                "num_classes": self.info.num_classes,
                "steps_per_epoch": self.budget.steps_per_epoch,
                "total_steps": self.budget.total_steps,
                "budget_s": self.budget.seconds,
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
        s.t0 = time.perf_counter()
        s.frac = self._fraction(c.elapsed_before)
        s.throughput = Throughput(s.t0)
        s.lr = lr_at(s.frac, self.base_lr, self.cfg.warmup)
        done = s.frac >= 1
        while not done:
            done = self._epoch()
        s.train_elapsed = self._elapsed()  # the final evaluation is extra
        if s.saved_step != c.step:
            self._save()  # first make what was learned safe, then spend time on validation
        if c.last_eval and c.last_eval["step"] == c.step:
            final = c.last_eval
        else:
            final = self._evaluate()
            self._save()  # again, now with the final metrics in it
        return self._finish(final)

    def _epoch(self) -> bool:
        c, s = self.carried, self.session
        self.sampler.set_epoch(c.epoch)
        self.sampler.set_start(c.epoch_offset)
        steps_here, taken, done = len(self.train_loader), 0, False
        batches = iter(self.train_loader)
        while taken < steps_here and not done:
            t_step = time.perf_counter()
            x, y, bad = next(batches)
            c.bad.update(self.info.train[i][0] for i in bad)
            taken += 1
            c.epoch_offset += self.global_batch
            if not len(y) and self.env.distributed:
                # A whole batch of unreadable files: every rank must still take part in the gradient all-reduce.
                if s.prev_batch is None:
                    raise UserError(f"{self.info.root}: a whole first batch of unreadable images")
                x, y = s.prev_batch
            if len(y):
                self._train_step(x, y)
                s.prev_batch = (x, y)
            c.step += 1
            if self.budget.total_steps:
                s.frac = max(s.frac, c.step / self.budget.total_steps)
            s.train_s += time.perf_counter() - t_step
            done = self._sync(force=taken == steps_here)
        if taken == steps_here:  # epoch complete, even when the budget ends on its last batch
            c.epoch += 1
            c.epoch_offset = 0
            if self.cfg.eval_every_epoch:
                self._evaluate()
            self._save()
        return done

    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        s = self.session
        x = normalize_batch(x.to(self.dev, non_blocking=True))
        if self.dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        y = y.to(self.dev, non_blocking=True)
        s.lr = lr_at(s.frac, self.base_lr, self.cfg.warmup)
        for g in self.opt.param_groups:
            g["lr"] = s.lr
        with self._autocast():
            loss = nn.functional.cross_entropy(self.ddp_net(x), y, label_smoothing=self.cfg.label_smoothing)
        self.opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            loss.backward()
            self.opt.step()
        s.win_loss = s.win_loss + loss.detach().float() * len(y)
        s.win_n += len(y)

    def _elapsed(self) -> float:
        return time.perf_counter() - self.session.t0 + self.carried.elapsed_before

    def _autocast(self):
        return torch.autocast(self.dev.type, dtype=self.amp_dtype or torch.bfloat16, enabled=self.amp_dtype is not None)

    def _fraction(self, elapsed: float) -> float:
        total, seconds = self.budget.total_steps, self.budget.seconds
        by_steps = self.carried.step / total if total else 0.0
        by_time = elapsed / seconds if seconds else 0.0
        return max(by_steps, by_time)

    def _sync(self, force: bool = False) -> bool:
        """Reduce loss, images, clock and the stop flag over ranks, so every rank takes the same decisions.
        On a GPU only every SYNC_EVERY_GPU steps (and at epoch or budget ends): reading the loss waits for the
        GPU, which would stop the CPU from queueing the next steps."""
        c, s = self.carried, self.session
        sync_every = SYNC_EVERY_GPU if self.dev.type == "cuda" else 1
        if not force and c.step % sync_every and s.frac < 1:
            return False
        now = time.perf_counter()
        ctl = torch.tensor(
            [float(s.win_loss), s.win_n, now - s.t0 + c.elapsed_before, float(self.stop.is_set())],
            dtype=torch.float64,
            device=self.dev,
        )
        ddp.all_sum(ctl, self.env)
        s.win_loss, s.win_n = 0.0, 0
        if not math.isfinite(float(ctl[0])):
            raise UserError(
                f"training stopped at step {c.step}: the loss became {float(ctl[0])} (learning rate {s.lr:.3g}); "
                "nothing was stored; lower the learning rate (--lr) and try again"
            )
        images = int(ctl[1])
        elapsed = float(ctl[2]) / self.env.world
        c.images_seen += images
        s.frac = self._fraction(elapsed)
        stopped = bool(ctl[3] > 0)
        s.stopped = s.stopped or stopped
        loss = float(ctl[0]) / max(1, images)
        if c.step % LOSS_LOG_EVERY == 0 or c.step == 1:
            c.loss_log.append([c.step, round(loss, 5)])
        ips = s.throughput.add(now, images)
        total = self.budget.total_steps
        self.emit(
            {
                "event": "step",
                "step": c.step,
                "total_steps": total,
                "fraction": min(1.0, s.frac),
                "epoch": c.step / self.budget.steps_per_epoch,
                "loss": loss,
                "lr": s.lr,
                "images_per_s": ips,
                "elapsed_s": elapsed,
                "eta_s": eta_s(c.step, total, self.global_batch, ips, self.budget.seconds, elapsed),
                "skipped_images": len(c.bad),
            }
        )
        return stopped or s.frac >= 1

    # -- evaluation, checkpoints, result -----------------------------------------------------------------
    def _evaluate(self) -> dict:
        c = self.carried
        self.emit({"event": "evaluating", "step": c.step, "images": len(self.info.val)})
        val = evaluate(self.net, self.val_loader, self.info, self.dev, self.env, self._autocast, c.bad)
        m = {
            "step": c.step,
            "epoch": round(c.step / self.budget.steps_per_epoch, 3),
            "top1": val["top1"],
            "top5": val["top5"],
            "val_loss": val["val_loss"],
            "val_images": val["val_images"],
            "elapsed_s": round(self._elapsed(), 2),
            "k": val["k"],
        }
        if c.loss_log:
            m["train_loss"] = c.loss_log[-1][1]
        c.last_eval = m
        c.history.append(m)
        self.emit({"event": "eval", "step": c.step, "val": m})
        return m

    def _save(self) -> None:
        c, s = self.carried, self.session
        bad = sorted(set().union(*ddp.gather_objects(c.bad, self.env)))
        c.bad = set(bad)
        s.saved_step = c.step
        if not self.env.is_main:
            return
        schedule = {
            "kind": "warmup-cosine",
            "base_lr": self.base_lr,
            "warmup": self.cfg.warmup,
            "fraction": s.frac,
            "elapsed_s": s.train_elapsed or self._elapsed(),
            "total_steps": self.budget.total_steps,
            "budget_s": self.budget.seconds,
        }
        payload = training_state(
            design=self.design,
            net=self.net,
            opt=self.opt,
            scaler=self.scaler,
            schedule=schedule,
            step=c.step,
            epoch=c.epoch,
            epoch_offset=c.epoch_offset,
            images_seen=c.images_seen,
            cfg=self.cfg,
            history=c.history,
            loss_log=c.loss_log,
            last_eval=c.last_eval,
            info=self.info,
            skipped=bad,
            world_size=self.env.world,
        )
        try:
            save_checkpoint(self.ckpt_path, payload)
        except UserError as e:  # a full disk: keep training and report; what was computed is never lost
            s.save_error = str(e)
            self.emit({"event": "checkpoint_failed", "step": c.step, "error": s.save_error})
            return
        s.save_error = None
        self.emit({"event": "checkpoint", "step": c.step, "path": str(self.ckpt_path)})

    def _finish(self, final: dict) -> TrainSummary:
        cfg, c, s = self.cfg, self.carried, self.session
        summary = TrainSummary(
            top1=final["top1"],
            top5=final["top5"],
            val_loss=final["val_loss"],
            steps=c.step,
            epochs=c.step / self.budget.steps_per_epoch,
            images_seen=c.images_seen,
            train_images=len(self.info.train),
            val_images=final["val_images"],
            images_per_s=s.throughput.session_images / max(1e-9, s.train_s),
            minutes=s.train_elapsed / 60,
            img_size=cfg.img_size,
            checkpoint="" if s.save_error else str(self.ckpt_path),
            out_dir=str(self.out),
            stopped=s.stopped,
            skipped_images=len(c.bad),
            skipped_examples=sorted(c.bad)[:5],
            dataset=self.info.summary(),
            layout=self.info.layout,
            design_hash=self.design.network_hash(),
            design_name=self.design.name,
            num_classes=self.info.num_classes,
            warm_start=self.warm.to_dict() if self.warm else None,
            resumed_from_step=self.resumed_from,
            history=c.history,
            world_size=self.env.world,
            device=str(self.dev),
            notes=self.notes + ([f"checkpoint not saved: {s.save_error}"] if s.save_error else []),
            global_batch=self.global_batch,
            top_k=min(5, self.info.num_classes),
        )
        if self.env.is_main and cfg.store_result:
            store_result(summary, cfg, self.design)
        self.emit({"event": "done", "summary": summary.to_dict()})
        return summary
