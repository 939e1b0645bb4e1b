"""Exact, instant cost model: params, MACs and bytes moved per layer, from the plan alone (no torch).

Convention (the paper's and torch.utils.flop_counter's): MACs are the multiply-accumulates of convolutions
and linear layers only; FLOPs = 2 x MACs. Params are conv and linear weights, BatchNorm's affine weight and
bias, and the classifier bias (convs have no bias). BN running statistics are buffers, not params.
Bytes assume float32 tensors at batch 1, with BN and the activation fused into the conv, as at inference.
"""

from __future__ import annotations

from dataclasses import dataclass

from .plan import Layer, LayerKind, expand
from .spec import Design

BYTES_PER_VALUE = 4  # float32
BN_PARAMS_PER_CHANNEL = 2  # BatchNorm's affine weight and bias (its running mean and variance are buffers)


@dataclass(frozen=True)
class LayerCost:
    layer: Layer
    params: int
    macs: int
    read_bytes: int  # activations read (incl. the residual re-read of an add) + weights
    write_bytes: int  # activations written
    weight_bytes: int

    @property
    def bytes(self) -> int:
        return self.read_bytes + self.write_bytes

    @property
    def intensity(self) -> float:
        """Arithmetic intensity, FLOPs per byte moved: low means memory-bound (depthwise convs, adds)."""
        return 2 * self.macs / self.bytes if self.bytes else 0.0

    def as_row(self) -> dict:
        ly = self.layer
        return {
            "name": ly.name,
            "kind": ly.kind,
            "input": f"{ly.cin}x{ly.h_in}x{ly.w_in}",
            "output": f"{ly.cout}x{ly.h_out}x{ly.w_out}",
            "k": ly.k,
            "stride": ly.stride,
            "params": self.params,
            "macs": self.macs,
            "read_bytes": self.read_bytes,
            "write_bytes": self.write_bytes,
            "intensity": round(self.intensity, 3),
        }


@dataclass(frozen=True)
class Cost:
    layers: tuple[LayerCost, ...]
    params: int
    macs: int
    bytes: int
    activation_bytes: int  # every activation written once: what training would have to keep
    peak_activation_bytes: int  # largest set of tensors alive at one step of inference, batch 1

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def rows(self) -> list[dict]:
        return [lc.as_row() for lc in self.layers]

    def summary(self) -> dict:
        return {
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "bytes": self.bytes,
            "activation_bytes": self.activation_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
        }


def _layer_cost(ly: Layer) -> LayerCost:
    in_vals = ly.cin * ly.h_in * ly.w_in
    out_vals = ly.cout * ly.h_out * ly.w_out
    if ly.kind in (LayerKind.CONV, LayerKind.DWCONV):
        weights = ly.cout * (ly.cin // ly.groups) * ly.k * ly.k
        params = weights + BN_PARAMS_PER_CHANNEL * ly.cout
        macs = weights * ly.h_out * ly.w_out
        reads = in_vals
    elif ly.kind == LayerKind.LINEAR:
        params = ly.cin * ly.cout + ly.cout  # weights and bias
        macs = ly.cin * ly.cout
        reads = in_vals
    elif ly.kind == LayerKind.ADD:
        params, macs = 0, 0
        reads = 2 * in_vals  # the block output and the block input, re-read from memory
    elif ly.kind == LayerKind.POOL:
        params, macs, reads = 0, 0, in_vals
    else:
        raise ValueError(f"unknown layer kind {ly.kind!r}")
    wb = params * BYTES_PER_VALUE
    return LayerCost(ly, params, macs, reads * BYTES_PER_VALUE + wb, out_vals * BYTES_PER_VALUE, wb)


def _peak_activation(layers: list[LayerCost], residual_vals: dict[str, int]) -> int:
    """The most values alive at once: a layer's input and output, plus its block's input while a skip holds it."""
    peak = 0
    for lc in layers:
        ly = lc.layer
        live = ly.cin * ly.h_in * ly.w_in + ly.cout * ly.h_out * ly.w_out
        if ly.in_residual:
            live += residual_vals[ly.block]
        peak = max(peak, live)
    return peak * BYTES_PER_VALUE


def compute_cost(design: Design) -> Cost:
    """Params, MACs and bytes of every layer of the plan, and the network's totals."""
    layers = expand(design)
    costs = [_layer_cost(ly) for ly in layers]
    residual_vals = {}
    for ly in layers:  # the first layer of a block reads the block input: that is what a skip holds
        if ly.block and ly.block not in residual_vals:
            residual_vals[ly.block] = ly.cin * ly.h_in * ly.w_in
    return Cost(
        layers=tuple(costs),
        params=sum(c.params for c in costs),
        macs=sum(c.macs for c in costs),
        bytes=sum(c.bytes for c in costs),
        activation_bytes=sum(c.write_bytes for c in costs),
        peak_activation_bytes=_peak_activation(costs, residual_vals),
    )
