"""What a training run takes (TrainConfig) and gives back (TrainSummary), and the record it stores.

The torch side of these choices lives in explorer.train.optimization (schedule, optimizer, mixed precision)
and explorer.train.loaders (data-loading workers): this module imports no torch, so `explorer --help` is fast.

TrainConfig's fields are options (explorer.options): each default, range and help is written here once; `validate`
checks them and `python -m explorer train` generates its flags from them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from ..design.spec import Design
from ..errors import Problems
from ..options import check_values, option, options_of
from ..paths import user_path

QUICK_MINUTES = 5.0  # the budget when none is given: the app's "quick fine-tune"
OPTIMIZERS = ("sgd", "adamw")
AMP_MODES = ("auto", "off", "bf16", "fp16")
MAX_WORKERS = 64  # loader processes per training process; more only exhausts the host
MAX_MINUTES = 525_600
MAX_COUNT = 10**9  # steps or epochs
MAX_BATCH = 4096  # images per step per process; the memory estimate refuses what this host cannot hold
MAX_LR = 10.0  # far above any peak that trains (SGD 0.2 x batch/256 at batch 4096 is 3.2); beyond, only overflow
MAX_WEIGHT_DECAY = 1.0  # a decay of 1 per step already erases the weights; larger values overflow
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig:
    design: Design
    data: str = option(metavar="DIR", help="dataset folder: ImageNet, Kaggle or ImageNet-1k layout")
    # Budget: whichever ends first. None of the three given => QUICK_MINUTES.
    minutes: float | None = option(
        None,
        lo=0,
        lo_open=True,
        hi=MAX_MINUTES,
        name_the_bound=True,
        why_hi="a year",
        metavar="M",
        help="train M minutes",
        default_help=f"{QUICK_MINUTES:g} when no budget is given",
    )
    max_steps: int | None = option(
        None, lo=0, lo_open=True, hi=MAX_COUNT, name_the_bound=True, metavar="N", help="train N optimizer steps"
    )
    epochs: int | None = option(
        None, lo=0, lo_open=True, hi=MAX_COUNT, name_the_bound=True, metavar="N", help="train N epochs"
    )
    # The network is resolution-agnostic: training and validation at this resolution.
    img_size: int = option(128, lo=16, hi=1024, metavar="N", help="training resolution")
    batch: int = option(
        64, lo=2, hi=MAX_BATCH, name_the_bound=True, why="batch norm needs it", metavar="N", help="batch per process"
    )
    workers: int | None = option(
        None,
        lo=0,
        hi=MAX_WORKERS,
        metavar="N",
        help="data-loading processes per training process",
        default_help="auto",
    )
    optimizer: str = option("sgd", choices=OPTIMIZERS, help="sgd (momentum, nesterov) or adamw")
    lr: float | None = option(
        None,
        lo=0,
        lo_open=True,
        hi=MAX_LR,
        name_the_bound=True,
        metavar="X",
        help="peak learning rate",
        default_help="sgd 0.2 x global batch/256, adamw 1e-3",
    )
    momentum: float = option(0.9, flag=None)
    nesterov: bool = option(True, flag=None)
    # Never on BN weights or biases.
    weight_decay: float | None = option(
        None,
        lo=0,
        hi=MAX_WEIGHT_DECAY,
        name_the_bound=True,
        metavar="X",
        help="weight decay",
        default_help="sgd 4e-5, adamw 0.05",
    )
    label_smoothing: float = option(0.1, lo=0, hi=1, hi_open=True, metavar="X", help="label smoothing")
    warmup: float = option(0.05, lo=0, hi=1, hi_open=True, metavar="F", help="warm-up share of the budget")
    # auto: bf16 on CUDA (fp16 + scaler where bf16 is missing), off on the CPU
    amp: str = option("auto", choices=AMP_MODES, help="mixed precision")
    per_class: int | None = option(
        None, lo=1, hi=MAX_COUNT, name_the_bound=True, metavar="N", help="at most N training images per class"
    )
    val_per_class: int | None = option(
        None, lo=1, hi=MAX_COUNT, name_the_bound=True, metavar="N", help="at most N validation images per class"
    )
    crop_scale: float = option(
        0.25, lo=0, lo_open=True, hi=1, metavar="F", help="smallest random crop area, 0.08 for long runs"
    )
    out_dir: str | None = option(
        None, flag="--out", metavar="DIR", help="run folder for last.pt", default_help="under the explorer data folder"
    )
    resume: bool = option(False, help="continue the run in --out (or this design's newest run)")
    init: str | None = option(
        None, metavar="CHECKPOINT", help="warm start from the tensors that match by name and shape"
    )
    seed: int = option(0, lo=0, hi=2**32 - 1, help="random seed")
    device: str = option("auto", choices=DEVICES, help="where to train (auto: CUDA when present)")
    eval_every_epoch: bool = option(
        True, flag="--no-epoch-eval", help="validate only at the end, not after every epoch"
    )
    store_result: bool = option(True, flag="--no-store", help="do not add the accuracy to the results store")
    results_path: str | None = option(
        None, flag="--store", metavar="FILE", help="results store file", default_help="the explorer's"
    )

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "design"}


@dataclass
class TrainSummary:
    top1: float  # percent, on the validation split
    top5: float  # top-k with k = top_k: min(5, number of classes)
    val_loss: float
    steps: int
    epochs: float
    images_seen: int  # training images processed, all epochs and ranks together
    train_images: int  # size of the training split used (after the per-class cap)
    val_images: int
    images_per_s: float  # training throughput of this session, all ranks together
    minutes: float  # training wall time, all sessions of a resumed run; the final validation is extra
    img_size: int
    checkpoint: str
    out_dir: str
    stopped: bool  # True when ended by the stop event rather than the budget
    skipped_images: int  # unreadable files skipped (train and val)
    skipped_examples: list[str]
    dataset: str  # the layout summary line
    layout: str
    design_hash: str
    design_name: str
    num_classes: int
    warm_start: dict | None
    resumed_from_step: int | None
    history: list[dict]
    world_size: int
    device: str
    notes: list[str] = field(default_factory=list)
    global_batch: int = 0
    record: dict | None = None  # what went into the results store
    top_k: int = 5  # the k of `top5`: fewer than 5 classes make top-5 meaningless (always 100 %)

    def to_dict(self) -> dict:
        return asdict(self)


BUDGET_OPTIONS = ("epochs", "minutes", "max_steps")  # exclusive on the command line: whichever ends first


def validate(cfg: TrainConfig) -> None:
    """Every option's type and range (one line per problem), then the rules between options."""
    problems = check_values(vars(cfg), options_of(TrainConfig))
    if cfg.resume and cfg.init:
        problems.append("resume and init exclude each other: a resumed run already has its weights")
    if problems:
        raise Problems(problems)


def accuracy_record(s: TrainSummary, cfg: TrainConfig) -> dict:
    """The results-store row: `images` is the size of the training split used (after the per-class cap)."""
    minutes = f"{s.minutes:.1f}".removesuffix(".0") if s.minutes < 10 else f"{s.minutes:.0f}"
    kind = "quick fine-tune" if s.minutes <= 60 else "training run"
    return {
        "top1": round(s.top1, 3),
        "top5": round(s.top5, 3) if s.top_k == 5 else None,
        "top_k": s.top_k,
        "top_k_accuracy": round(s.top5, 3),
        "images": s.train_images,
        "images_seen": s.images_seen,
        "minutes": round(s.minutes, 3),
        "img_size": s.img_size,
        "steps": s.steps,
        "epochs": round(s.epochs, 3),
        "checkpoint": s.checkpoint,
        "label": f"{kind} ({s.train_images:,} images, {minutes} min, res {s.img_size})",
        "val_images": s.val_images,
        "dataset": s.dataset,
        # Provenance for the charts: accuracies on different datasets are never drawn as one series.
        "dataset_name": user_path(cfg.data, "dataset folder").resolve().name,
        "num_classes": s.num_classes,
        "optimizer": cfg.optimizer,
        "global_batch": s.global_batch,
        "warm_start": s.warm_start["source"] if s.warm_start else None,
        "world_size": s.world_size,
        "device": s.device,
        "stopped": s.stopped,
    }
