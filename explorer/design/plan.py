"""Expand a design into one record per layer, shapes resolved. Pure Python, no torch.

The plan is the hinge of the project: the cost model, the per-layer timing and the diagram walk these records,
which name each layer's module and say where it sits (stage, block). The builder and the .py export build the
network from `network_data` with explorer.model.network, one definition; tests/test_plan.py checks block by block
that it is the network these records describe.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .spec import STAGE_KEYS, Design


class LayerKind(StrEnum):
    """What a layer computes. A str enum: it compares, prints and serialises as its plain name ("conv")."""

    CONV = "conv"
    DWCONV = "dwconv"
    ADD = "add"  # a residual add: done inside its block's forward, not a module of its own
    POOL = "pool"
    LINEAR = "linear"


@dataclass(frozen=True)
class Layer:
    name: str  # module path in the built model, e.g. "stages.2.1.depthwise"
    kind: LayerKind
    cin: int
    cout: int
    h_in: int
    h_out: int
    k: int = 1
    stride: int = 1
    act: str = "linear"  # activation after BN: "relu6" or "linear"
    block: str = ""  # "stages.i.j" for layers inside a bottleneck block
    in_residual: bool = False  # a skip is open around this layer: the block input is held in memory
    stage: int | None = None  # index i of the stage, for layers inside a bottleneck block
    index_in_stage: int | None = None  # index j of the block within its stage

    @property
    def groups(self) -> int:
        return self.cin if self.kind == LayerKind.DWCONV else 1

    @property
    def is_module(self) -> bool:
        """Whether `name` is a module of the built model (a residual add is not: its block's forward does it)."""
        return self.kind != LayerKind.ADD

    # Square maps only: every design has a square input.
    @property
    def w_in(self) -> int:
        return self.h_in

    @property
    def w_out(self) -> int:
        return self.h_out


@dataclass(frozen=True)
class BlockPlan:
    name: str  # "stages.i.j", the block's module path
    stage: int  # i
    index_in_stage: int  # j
    cin: int
    hidden: int
    cout: int
    stride: int
    kernel: int
    expand: bool  # False when t == 1: no expansion conv
    skip: bool  # the residual add actually happens (skip asked, stride 1, cin == cout)
    out_act: str


# The stem of every MobileNet-style network here: a 3x3 stride-2 conv over an RGB image (model/network.py).
IMAGE_CHANNELS = 3
STEM_KERNEL = 3
STEM_STRIDE = 2

# The order of a stage table row in the data explorer.model.network.ExplorerNet is built from: the spec's own.
STAGE_FIELDS = STAGE_KEYS


def network_data(design: Design) -> dict:
    """The keyword arguments of explorer.model.network.ExplorerNet for `design`: plain ints, bools and strings, so
    the builder passes them and the .py export writes them as literals."""
    types = {"t": int, "c": int, "n": int, "s": int, "skip": bool, "out_act": str, "kernel": int}
    return {
        "stages": tuple(tuple(types[f](getattr(stage, f)) for f in STAGE_FIELDS) for stage in design.stages),
        "num_classes": int(design.num_classes),
        "stem_channels": int(design.stem_channels),
        "last_conv": int(design.last_conv),
        "dropout": float(design.dropout),
    }


def conv_out(h: int, k: int, stride: int) -> int:
    """Output size of a k x k conv with "same" padding (k // 2) and the given stride."""
    pad = k // 2
    return (h + 2 * pad - k) // stride + 1


def blocks(design: Design) -> list[BlockPlan]:
    """The bottleneck blocks in order; the torchvision loop `stride = s if i == 0 else 1`."""
    out = []
    cin = design.stem_channels
    for i, stage in enumerate(design.stages):
        for j in range(stage.n):
            stride = stage.s if j == 0 else 1
            out.append(
                BlockPlan(
                    name=f"stages.{i}.{j}",
                    stage=i,
                    index_in_stage=j,
                    cin=cin,
                    hidden=cin * stage.t,
                    cout=stage.c,
                    stride=stride,
                    kernel=stage.kernel,
                    expand=stage.t != 1,
                    skip=stage.skip and stride == 1 and cin == stage.c,
                    out_act=stage.out_act,
                )
            )
            cin = stage.c
    return out


def residual_adds(design: Design) -> int:
    """Blocks whose residual add actually happens (skip asked, stride 1, same width), not skip flags set."""
    return sum(1 for b in blocks(design) if b.skip)


def expand(design: Design) -> list[Layer]:
    """Every layer of the network in execution order, with input and output sizes."""
    h = conv_out(design.input_size, STEM_KERNEL, STEM_STRIDE)
    conv, dwconv = LayerKind.CONV, LayerKind.DWCONV
    layers = [
        Layer(
            "stem",
            conv,
            IMAGE_CHANNELS,
            design.stem_channels,
            design.input_size,
            h,
            k=STEM_KERNEL,
            stride=STEM_STRIDE,
            act="relu6",
        )
    ]
    for b in blocks(design):
        where = dict(block=b.name, stage=b.stage, index_in_stage=b.index_in_stage)
        if b.expand:
            layers.append(Layer(f"{b.name}.expand", conv, b.cin, b.hidden, h, h, act="relu6", **where))
        h_dw = conv_out(h, b.kernel, b.stride)
        inside = dict(where, in_residual=b.skip)
        layers.append(
            Layer(f"{b.name}.depthwise", dwconv, b.hidden, b.hidden, h, h_dw, b.kernel, b.stride, "relu6", **inside)
        )
        layers.append(Layer(f"{b.name}.project", conv, b.hidden, b.cout, h_dw, h_dw, act=b.out_act, **inside))
        if b.skip:
            layers.append(
                Layer(f"{b.name}.add", LayerKind.ADD, b.cout, b.cout, h_dw, h_dw, **dict(where, in_residual=True))
            )
        h = h_dw
    c = design.stages[-1].c
    if design.last_conv:
        layers.append(Layer("last_conv", conv, c, design.last_conv, h, h, act="relu6"))
        c = design.last_conv
    layers.append(Layer("pool", LayerKind.POOL, c, c, h, 1))
    layers.append(Layer("classifier", LayerKind.LINEAR, c, design.num_classes, 1, 1))
    return layers
