"""Where a training run writes: its folder, chosen and tried before the first step, and the results store.

Every output is checked up front because a late PermissionError would throw a whole run away; the finished
result is stored last, and a store that fails then only adds a note: what was learned is already saved.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..design.spec import Design
from ..errors import UserError
from ..paths import user_path
from ..safeio import check_output_path, check_writable_folder
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
    if not cfg.resume and (out / CHECKPOINT_NAME).exists():
        raise UserError(f"{out} already holds a checkpoint; resume it (--resume) or choose another --out")
    return out


def check_outputs(out: Path, checkpoint_path: Path, cfg: TrainConfig) -> None:
    """Every place the run will write, tried before the first step: the run folder (a temporary file is
    created and removed there), the checkpoint path and the results store."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{out}: cannot create the run folder ({e.strerror or e})") from None
    remove_stale_temps_in(out)  # left by a run killed while writing its checkpoint
    check_output_path(checkpoint_path, "checkpoint")
    check_writable_folder(out, "run folder")
    if cfg.store_result:
        from ..store.results import ResultStore

        store = ResultStore(cfg.results_path)  # refuses a damaged or foreign store now
        if not os.access(store.path, os.W_OK) or not os.access(store.path.parent, os.W_OK):
            raise UserError(f"{store.path}: the results store is not writable (use --no-store or --store FILE)")


def store_result(summary: TrainSummary, cfg: TrainConfig, design: Design) -> None:
    """Record the run's accuracy in the results store (summary.record); a failure becomes a note."""
    summary.record = accuracy_record(summary, cfg)
    try:
        from ..store.results import ResultStore

        ResultStore(cfg.results_path).add_accuracy(design, summary.record)
    except UserError as e:  # a bad store must not throw away a finished run
        summary.notes.append(f"result not stored: {e}")
