"""Side-by-side comparison of designs: what changed in the stage table, and what it cost or saved."""

from __future__ import annotations

from dataclasses import asdict

from .cost import Cost, compute_cost
from .spec import Design

FIELDS = ("t", "c", "n", "s", "skip", "out_act", "kernel")


def stage_totals(cost: Cost) -> dict[int, dict[str, int]]:
    """Params and MACs per stage index, summed over the stage's blocks."""
    out: dict[int, dict[str, int]] = {}
    for lc in cost.layers:
        if lc.layer.block:
            i = int(lc.layer.block.split(".")[1])
            tot = out.setdefault(i, {"params": 0, "macs": 0})
            tot["params"] += lc.params
            tot["macs"] += lc.macs
    return out


def stage_diff(a: Design, b: Design) -> list[dict]:
    """One row per stage position: unchanged / changed (which fields) / added / removed, with cost deltas b - a."""
    ta, tb = stage_totals(compute_cost(a)), stage_totals(compute_cost(b))
    zero = {"params": 0, "macs": 0}
    rows = []
    for i in range(max(len(a.stages), len(b.stages))):
        sa = asdict(a.stages[i]) if i < len(a.stages) else None
        sb = asdict(b.stages[i]) if i < len(b.stages) else None
        if sa is None:
            status, changes = "added", ", ".join(f"{k}={sb[k]}" for k in FIELDS)
        elif sb is None:
            status, changes = "removed", ", ".join(f"{k}={sa[k]}" for k in FIELDS)
        else:
            diffs = [f"{k}: {sa[k]} → {sb[k]}" for k in FIELDS if sa[k] != sb[k]]
            status, changes = ("changed" if diffs else "same"), ", ".join(diffs)
        ca, cb = ta.get(i, zero), tb.get(i, zero)
        rows.append(
            {
                "stage": i,
                "status": status,
                "changes": changes,
                "params_delta": cb["params"] - ca["params"],
                "macs_delta": cb["macs"] - ca["macs"],
            }
        )
    return rows


def global_diff(a: Design, b: Design) -> list[str]:
    keys = ("num_classes", "input_size", "stem_channels", "last_conv", "dropout")
    return [f"{k}: {getattr(a, k)} → {getattr(b, k)}" for k in keys if getattr(a, k) != getattr(b, k)]
