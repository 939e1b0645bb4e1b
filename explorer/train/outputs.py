"""Where a training run writes: its folder, chosen and tried before the first step, and the results store.

Every output is checked up front because a late PermissionError would throw a whole run away; the finished
result is stored last, and a store that fails then only adds a note: what was learned is already saved.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..design.spec import Design
from ..errors import UserError
from ..paths import user_path
from ..safeio import CHECKPOINT_KIND, check_output_path, check_writable_folder, make_folder
from .checkpoint import CHECKPOINT_NAME, latest_run_dir, new_run_dir, remove_stale_temps_in
from .config import TrainConfig, TrainSummary, accuracy_record


def run_folder(cfg: TrainConfig, design: Design) -> Path:
    """The folder the run writes to: --out, the latest run of the design when resuming, else a new one."""
    if cfg.out_dir:
        out = user_path(cfg.out_dir, "run folder")
    elif cfg.resume:
        out = latest_run_dir(design)
        if out is None:
            raise UserError(f"nothing to resume: no earlier run of {design.name} (pass --out to name one)")
    else:
        out = new_run_dir(design)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    if cfg.resume and not (out / CHECKPOINT_NAME).exists():  # refused before the folder is created
        raise UserError(f"nothing to resume: no checkpoint at {out / CHECKPOINT_NAME} (drop --resume to start a run)")
    if not cfg.resume and (out / CHECKPOINT_NAME).exists():
        raise UserError(f"{out} already holds a checkpoint; resume it (--resume) or choose another --out")
    return out


def check_outputs(out: Path, checkpoint_path: Path, cfg: TrainConfig) -> None:
    """Every place the run will write, tried before the first step: the run folder (a temporary file is
    created and removed there), the checkpoint path and the results store."""
    make_folder(out, "run folder")
    remove_stale_temps_in(out)  # left by a run killed while writing its checkpoint
    check_output_path(checkpoint_path, "checkpoint", kind=CHECKPOINT_KIND, rewrites_input=True)
    check_writable_folder(out, "run folder")
    check_free_space(out, checkpoint_bytes(cfg))
    if cfg.store_result:
        from ..store.results import ResultStore

        store = ResultStore(cfg.results_path)  # refuses a damaged or foreign store now
        if not _writable(store.path):
            raise UserError(f"{store.path}: the results store is not writable (use --no-store or --store FILE)")


def _writable(path: Path) -> bool:
    """Whether `path` can be written: the file when it exists, else the nearest folder that exists (the store
    is created by its first write, with its missing folders)."""
    if path.exists():
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK)


# A checkpoint holds the weights and the optimizer state (up to 2 more copies for AdamW) in float32, and is
# written beside the previous one before the rename: room for two, plus the logs, is asked before training.
CHECKPOINT_COPIES = {"sgd": 2, "adamw": 3}
CHECKPOINT_SLACK_BYTES = 16 << 20


def checkpoint_bytes(cfg: TrainConfig) -> int:
    from ..design.cost import compute_cost

    params = compute_cost(cfg.design).params
    return CHECKPOINT_COPIES.get(cfg.optimizer, 3) * 4 * params + CHECKPOINT_SLACK_BYTES


def check_free_space(folder: Path, checkpoint: int) -> None:
    """Refuse a run whose checkpoint cannot be written, before the first step (a full disk found after an hour
    of training loses the hour)."""
    from ..fmt import size

    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # cannot be read here: the write itself will say
    if free < 2 * checkpoint:
        raise UserError(
            f"{folder}: only {size(free)} free; a checkpoint of this run takes about {size(checkpoint)} and is "
            f"written beside the previous one (room for {size(2 * checkpoint)} needed); free some space or "
            "choose another --out"
        )


def store_result(summary: TrainSummary, cfg: TrainConfig, design: Design) -> None:
    """Record the run's accuracy in the results store (summary.record); a failure becomes a note."""
    summary.record = accuracy_record(summary, cfg)
    try:
        from ..store.results import ResultStore

        ResultStore(cfg.results_path).add_accuracy(design, summary.record)
    except (UserError, ValueError) as e:  # a bad store or a refused record must not throw away a finished run
        summary.notes.append(f"result not stored: {e}")
