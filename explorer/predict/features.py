"""Per-layer features of a design for the latency model, taken from the exact cost model (nothing recounted).

Each layer belongs to one group (stem, pointwise conv, depthwise conv by kernel size, residual add, head)
and contributes features of three kinds, each with its own coefficient per group in the model
(explorer.predict.model):

- compute: GFLOP; for pointwise convs also GFLOP x 16 / min(cin, cout), because a 1x1 conv with few channels
  is a skinny matrix product that runs far below the peak; for pointwise and depthwise convs also the GFLOP
  spent on channels padded up to a multiple of 16 (the vector width the kernels block channels by);
- memory: MB read (input, the residual's second input, weights) and MB written, separately: in eager PyTorch
  BN and ReLU6 run as their own operators over the output, so writes cost more than reads there;
- overhead: one operator launch per layer (its cost per group covers the conv, BN and activation calls).

On a CPU a depthwise 7x7 and a 1x1 conv of equal FLOPs run at very different speeds, hence one coefficient
per group and not one per network.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..design.cost import compute_cost
from ..design.plan import Layer
from ..design.spec import Design

TERMS = ("compute", "memory", "overhead")
NARROW_CHANNELS = 16  # the pointwise "narrow" feature is GFLOP x NARROW_CHANNELS / min(cin, cout)
# oneDNN (eager torch) and MLAS (ONNX Runtime) lay channels out in blocks of 16 float32 on AVX-512 (one
# vector), so a conv over 24 channels computes 32: the "pad" features are the GFLOP spent on that padding.
# On this project's host they took the torch model from 87 to 91 % of held-out designs within ±10 %.
CHANNEL_BLOCK = 16
# (parameter name, term): one coefficient each, in ms per unit of its feature (GFLOP, MB or launch).
PARAMETERS = (
    ("stem.gflop", "compute"),
    ("pw.gflop", "compute"),
    ("pw.gflop_narrow", "compute"),
    ("dw3.gflop", "compute"),
    ("dw5.gflop", "compute"),
    ("dw7.gflop", "compute"),
    ("pw.gflop_pad", "compute"),
    ("dw.gflop_pad", "compute"),
    ("head.gflop", "compute"),
    ("stem.mb", "memory"),
    ("pw.mb_read", "memory"),
    ("pw.mb_write", "memory"),
    ("dw.mb_read", "memory"),
    ("dw.mb_write", "memory"),
    ("add.mb", "memory"),
    ("head.mb", "memory"),
    ("stem.launch", "overhead"),
    ("pw.launch", "overhead"),
    ("dw.launch", "overhead"),
    ("add.launch", "overhead"),
    ("head.launch", "overhead"),
)
# The pool and the classifier are two small launches fitted as one "head" cost: each layer carries half of it.
HEAD_LAUNCH_SHARE = 0.5
PARAMETER_NAMES = tuple(p[0] for p in PARAMETERS)
PARAMETER_TERM = dict(PARAMETERS)
PARAMETER_INDEX = {name: i for i, name in enumerate(PARAMETER_NAMES)}


def group_of(layer: Layer) -> str:
    """The layer's coefficient group: stem, pw, dw3/dw5/dw7, add or head."""
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
    flops: int  # 2 x MACs x batch
    bytes: int  # activations x batch + weights once
    values: tuple[tuple[str, float], ...]  # (parameter name, feature value)


def _padded(channels: int) -> int:
    """Channels rounded up to a whole number of CHANNEL_BLOCKs, as the kernels compute them."""
    return -(-channels // CHANNEL_BLOCK) * CHANNEL_BLOCK


def _values(layer: Layer, group: str, gflop: float, mb_read: float, mb_write: float) -> dict[str, float]:
    if group == "stem":
        return {"stem.gflop": gflop, "stem.mb": mb_read + mb_write, "stem.launch": 1.0}
    if group == "pw":
        narrow = gflop * NARROW_CHANNELS / max(1, min(layer.cin, layer.cout))
        padded = gflop * (_padded(layer.cin) * _padded(layer.cout) / (layer.cin * layer.cout) - 1)
        return {
            "pw.gflop": gflop,
            "pw.gflop_narrow": narrow,
            "pw.gflop_pad": padded,
            "pw.mb_read": mb_read,
            "pw.mb_write": mb_write,
            "pw.launch": 1.0,
        }
    if group.startswith("dw"):
        return {
            f"{group}.gflop": gflop,
            "dw.gflop_pad": gflop * (_padded(layer.cin) / layer.cin - 1),
            "dw.mb_read": mb_read,
            "dw.mb_write": mb_write,
            "dw.launch": 1.0,
        }
    if group == "add":
        return {"add.mb": mb_read + mb_write, "add.launch": 1.0}
    return {"head.gflop": gflop, "head.mb": mb_read + mb_write, "head.launch": HEAD_LAUNCH_SHARE}


def layer_features(design: Design, batch: int = 1) -> list[LayerFeatures]:
    out = []
    for lc in compute_cost(design).layers:
        reads = (lc.read_bytes - lc.weight_bytes) * batch + lc.weight_bytes
        writes = lc.write_bytes * batch
        flops = 2 * lc.macs * batch
        group = group_of(lc.layer)
        vals = _values(lc.layer, group, flops / 1e9, reads / 1e6, writes / 1e6)
        out.append(LayerFeatures(lc.layer.name, lc.layer.kind, group, flops, reads + writes, tuple(vals.items())))
    return out


def feature_matrix_row(features: list[LayerFeatures]) -> list[float]:
    """The design's features summed per parameter: one row of the calibration fit."""
    row = [0.0] * len(PARAMETER_NAMES)
    for f in features:
        for name, value in f.values:
            row[PARAMETER_INDEX[name]] += value
    return row
