"""Side-by-side comparison of designs: what changed in the stage table, and what it cost or saved.

Stages are paired by a sequence alignment on what makes a stage that stage: its stride (where the feature map
halves) and its width. Pairing by position would read "MobileNet V2 → SM_V2_x2nr" as "stage 4: c 96→256,
s 1→2 … stage 6 removed" when the 96-channel stage is the one removed.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from .cost import Cost, compute_cost
from .spec import STAGE_KEYS, Design, Stage

GAP_COST = 1.0  # adding or removing a stage
STRIDE_MISMATCH_COST = 2.0  # pairing a stride-2 stage with a stride-1 one: worse than a removal plus an addition
WIDTH_COST = 0.5  # per doubling (or halving) of the channels


def stage_totals(cost: Cost) -> dict[int, dict[str, int]]:
    """Params and MACs per stage index, summed over the stage's blocks."""
    out: dict[int, dict[str, int]] = {}
    for lc in cost.layers:
        if lc.layer.stage is not None:
            tot = out.setdefault(lc.layer.stage, {"params": 0, "macs": 0})
            tot["params"] += lc.params
            tot["macs"] += lc.macs
    return out


def _pair_cost(a: Stage, b: Stage) -> float:
    stride = 0.0 if a.s == b.s else STRIDE_MISMATCH_COST
    return stride + WIDTH_COST * abs(math.log2(b.c / a.c))


def align_stages(a: tuple[Stage, ...], b: tuple[Stage, ...]) -> list[tuple[int | None, int | None]]:
    """Needleman-Wunsch over the two stage lists: (i, j) pairs in order, None on the side without the stage.

    Ties prefer a pairing over a removal, and a removal before an addition, so identical tables pair one to one.
    """
    n, m = len(a), len(b)
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i * GAP_COST
    for j in range(1, m + 1):
        cost[0][j] = j * GAP_COST
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(
                cost[i - 1][j - 1] + _pair_cost(a[i - 1], b[j - 1]),
                cost[i - 1][j] + GAP_COST,
                cost[i][j - 1] + GAP_COST,
            )
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i or j:
        if i and j and math.isclose(cost[i][j], cost[i - 1][j - 1] + _pair_cost(a[i - 1], b[j - 1])):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif j and (not i or math.isclose(cost[i][j], cost[i][j - 1] + GAP_COST)):
            pairs.append((None, j - 1))
            j -= 1
        else:
            pairs.append((i - 1, None))
            i -= 1
    return pairs[::-1]


def stage_diff(a: Design, b: Design) -> list[dict]:
    """One row per aligned stage pair: same / changed (which fields) / added / removed, cost deltas b - a.

    `from_stage` and `to_stage` are the stage's index in a and in b (None where the stage does not exist).
    """
    ta, tb = stage_totals(compute_cost(a)), stage_totals(compute_cost(b))
    zero = {"params": 0, "macs": 0}
    rows = []
    for i, j in align_stages(a.stages, b.stages):
        sa = asdict(a.stages[i]) if i is not None else None
        sb = asdict(b.stages[j]) if j is not None else None
        if sa is None:
            status, changes = "added", ", ".join(f"{k}={sb[k]}" for k in STAGE_KEYS)
        elif sb is None:
            status, changes = "removed", ", ".join(f"{k}={sa[k]}" for k in STAGE_KEYS)
        else:
            diffs = [f"{k}: {sa[k]} → {sb[k]}" for k in STAGE_KEYS if sa[k] != sb[k]]
            status, changes = ("changed" if diffs else "same"), ", ".join(diffs)
        ca = ta.get(i, zero) if i is not None else zero
        cb = tb.get(j, zero) if j is not None else zero
        rows.append(
            {
                "from_stage": i,
                "to_stage": j,
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
