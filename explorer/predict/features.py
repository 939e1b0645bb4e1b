"""Per-layer features of a design for the latency model, taken from the exact cost model (nothing recounted).

Each layer belongs to one group (stem, pointwise conv, depthwise conv by kernel size, residual add, head)
and contributes three kinds of feature: work (GFLOP), traffic (MB moved) and operator launches. The model
(explorer.predict.model) gives each group its own time per GFLOP, per MB and per launch, because on a CPU a
depthwise 7x7 and a 1x1 conv of equal FLOPs run at very different speeds.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..cost import compute_cost
from ..plan import Layer
from ..spec import Design

GROUPS = ("stem", "pw", "dw3", "dw5", "dw7", "add", "head")
TERMS = ("compute", "memory", "overhead")
# (parameter name, term, feature): one coefficient per name; its feature's unit sets the coefficient's unit.
PARAMETERS = tuple(
    [(f"{g}.gflop", "compute", "gflop") for g in ("stem", "pw", "dw3", "dw5", "dw7", "head")]
    + [(f"{g}.mb", "memory", "mb") for g in ("stem", "pw", "dw", "add", "head")]
    + [(f"{g}.launch", "overhead", "launch") for g in ("stem", "pw", "dw", "add", "head")]
)
PARAMETER_NAMES = tuple(p[0] for p in PARAMETERS)
PARAMETER_INDEX = {name: i for i, name in enumerate(PARAMETER_NAMES)}


def group_of(layer: Layer) -> str:
    if layer.name == "stem":
        return "stem"
    if layer.kind == "conv":
        return "pw"
    if layer.kind == "dwconv":
        return f"dw{layer.k}"
    if layer.kind == "add":
        return "add"
    return "head"  # pool and classifier


@dataclass(frozen=True)
class LayerFeatures:
    name: str
    kind: str
    group: str
    gflop: float  # 2 x MACs x batch, in GFLOP
    mb: float  # bytes read and written (activations x batch + weights once), in MB
    launch: float  # operators launched for this layer (one per layer; the group's coefficient sets its cost)
    flops: int
    bytes: int

    def coefficients(self) -> dict[str, int]:
        """Which parameter multiplies which feature, as {parameter name: index}."""
        memory_group = "dw" if self.group.startswith("dw") else self.group
        return {
            "gflop": PARAMETER_INDEX.get(f"{self.group}.gflop", -1),
            "mb": PARAMETER_INDEX[f"{memory_group}.mb"],
            "launch": PARAMETER_INDEX[f"{memory_group}.launch"],
        }


def layer_features(design: Design, batch: int = 1) -> list[LayerFeatures]:
    out = []
    for lc in compute_cost(design).layers:
        activation_bytes = lc.bytes - lc.weight_bytes
        nbytes = activation_bytes * batch + lc.weight_bytes
        flops = 2 * lc.macs * batch
        group = group_of(lc.layer)
        out.append(LayerFeatures(lc.layer.name, lc.layer.kind, group, flops / 1e9, nbytes / 1e6, 1.0, flops, nbytes))
    return out


def feature_matrix_row(features: list[LayerFeatures]) -> list[float]:
    """The design's features summed per parameter: one row of the calibration fit."""
    row = [0.0] * len(PARAMETER_NAMES)
    for f in features:
        for feat, idx in f.coefficients().items():
            if idx >= 0:
                row[idx] += getattr(f, feat)
    return row
