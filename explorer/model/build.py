"""Design -> torch.nn.Module, with legible module names (stem, stages.2.1.depthwise, classifier).

The modules are explorer.model.network's, the same text the .py export ships; the design reaches them as plain data
(explorer.design.plan.network_data). Tests check the built model against the plan's blocks and the cost model.
"""

from __future__ import annotations

from ..design.limits import DEFAULT_CAP, CostCap
from ..design.plan import network_data
from ..design.spec import Design
from .network import Bottleneck, ConvBNAct, ExplorerNet, init_weights

__all__ = ["Bottleneck", "ConvBNAct", "ExplorerNet", "build_model", "init_weights"]


def build_model(design: Design, cap: CostCap = DEFAULT_CAP) -> ExplorerNet:
    """Build the network; refuses a design over the cost cap before allocating any tensor."""
    cap.check(design)
    return ExplorerNet(**network_data(design))
