"""Independent counts of a built model, to check the analytic cost model and explain other tools' numbers.

torch.utils.flop_counter.FlopCounterMode counts conv and matmul FLOPs only, as we do: MACs = FLOPs / 2.
thop (MIT) also counts BatchNorm (4 ops per element: normalise and affine, 2 each) and adaptive average
pooling (H*W + 1 per output value); ReLU6 and dropout count zero. `thop_counts` reproduces its number from
our plan, so the difference is shown and explained, not hidden.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..design.cost import Cost, compute_cost
from ..design.spec import Design
from ..errors import UserError
from .build import build_model

THOP_BN_OPS_PER_VALUE = 4


def _input(design: Design, batch: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, design.input_size, design.input_size)


def flop_counter_macs(design: Design, model: torch.nn.Module | None = None) -> tuple[int, dict[str, int]]:
    """Total MACs and MACs per module path ('stages.1.0.depthwise'), as FlopCounterMode measures them."""
    model = (model or build_model(design)).eval()
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(_input(design))
    prefix = type(model).__name__ + "."
    per_module = {
        name.removeprefix(prefix): sum(ops.values()) // 2
        for name, ops in counter.get_flop_counts().items()
        if name.startswith(prefix)
    }
    return counter.get_total_flops() // 2, per_module


def thop_extra_ops(cost: Cost) -> dict[str, int]:
    """The operations thop counts on top of our MACs, derived from the plan."""
    bn_values = sum(lc.write_bytes // 4 for lc in cost.layers if lc.layer.kind in ("conv", "dwconv"))
    pool = next(lc.layer for lc in cost.layers if lc.layer.kind == "pool")
    return {"batchnorm": THOP_BN_OPS_PER_VALUE * bn_values, "pool": (pool.h_in * pool.w_in + 1) * pool.cin}


def thop_counts(design: Design) -> dict:
    """thop's MACs and params for the built model, beside ours and the explained difference."""
    try:
        import thop  # imported here: only this cross-check needs it, so it is a test requirement
    except ImportError as e:
        raise UserError(
            f"thop is not installed ({e}); install the test requirements: pip install -r requirements-test.txt"
        ) from e

    cost = compute_cost(design)
    macs, params = thop.profile(build_model(design).eval(), inputs=(_input(design),), verbose=False)
    extra = thop_extra_ops(cost)
    return {
        "thop_macs": int(macs),
        "thop_params": int(params),
        "our_macs": cost.macs,
        "our_params": cost.params,
        "difference": int(macs) - cost.macs,
        "explained": extra,
        "explanation": "thop adds BatchNorm (4 ops per value) and pooling (H*W+1 per channel); "
        "it counts no ReLU6, dropout or residual adds",
    }
