"""The limits that keep an interactive tool responsive: a design too big is refused before any tensor exists.

Callers apply the cap (the builder, the measurer, the exporters, the app) through this module, so the cost
model stays a pure calculator and the builder never needs to know how costs are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DesignError
from .cost import Cost, compute_cost
from .spec import Design


@dataclass(frozen=True)
class CostCap:
    """Refuses designs too big for an interactive tool before any tensor is allocated.

    The defaults sit far above every network of the paper (the largest preset, MobileNet V1, is 0.57 G MACs;
    none has over 3.7 M params or 0.03 GiB of activations at batch 1) and below what a laptop builds and times
    in seconds: 20 G MACs is seconds per CPU inference, 200 M params 0.8 GB of float32 weights, 4 GiB of
    activations a laptop's spare memory.
    """

    macs: int = 20_000_000_000
    params: int = 200_000_000
    activation_bytes: int = 4 * 1024**3

    def check(self, design: Design, cost: Cost | None = None) -> Cost:
        cost = cost or compute_cost(design)
        problems = []
        if cost.macs > self.macs:
            problems.append(f"design: {cost.macs / 1e9:.1f} G MACs is over the cap of {self.macs / 1e9:.0f} G MACs")
        if cost.params > self.params:
            problems.append(
                f"design: {cost.params / 1e6:.1f} M params is over the cap of {self.params / 1e6:.0f} M params"
            )
        if cost.activation_bytes > self.activation_bytes:
            problems.append(
                f"design: {cost.activation_bytes / 2**30:.1f} GiB of activations at batch 1 is over the cap of "
                f"{self.activation_bytes / 2**30:.0f} GiB"
            )
        if problems:
            raise DesignError(problems)
        return cost


DEFAULT_CAP = CostCap()
