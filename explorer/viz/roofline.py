"""The roofline of this host as the latency model sees it, with every layer of a design placed on it.

x: arithmetic intensity (FLOPs per byte moved, from the cost model); y: the FLOP/s the layer attains by the
model (its FLOPs over its predicted time). The model adds three terms per layer, compute + memory + overhead,
so a layer can never attain more than its FLOPs over its compute term, nor more than its bytes over its memory
term times its intensity. The roofs drawn are the model's fastest compute rate and fastest memory rate over the
layers of the design, so every layer sits on or below them: a teaching chart must not contradict itself. A dot's
colour is its bound: the largest of its three predicted terms. The host's own measured roofs (a large GEMM, a
large add) are named in the subtitle, for comparison. Residual adds and pooling count no FLOPs, so they cannot
be placed on these axes: the subtitle gives their time instead.
"""

from __future__ import annotations

import plotly.graph_objects as go

from .style import BLUE, GREY, ORANGE, SKY, VERMILLION, base_layout, show_empty

BOUND_COLOURS = {"compute": BLUE, "memory": VERMILLION, "overhead": ORANGE}


def roofline_points(prediction: dict, measured_ms: dict[str, float] | None = None) -> list[dict]:
    """One point per layer that does FLOPs, at its predicted time (its measured time, when known, is kept for
    the hover): name, kind, bound, intensity, attained GFLOP/s."""
    measured_ms = measured_ms or {}
    out = []
    for ly in prediction["layers"]:
        t = ly["predicted_ms"]
        if not ly["flops"] or not ly["bytes"] or not t or t <= 0:
            continue
        out.append(
            {
                "name": ly["name"],
                "kind": str(getattr(ly["kind"], "value", ly["kind"])),
                "bound": ly["bound"],
                "ms": t,
                "measured_ms": measured_ms.get(ly["name"]),
                "intensity": ly["flops"] / ly["bytes"],
                "gflops": ly["flops"] / t / 1e6,
            }
        )
    return out


def model_roofs(prediction: dict) -> dict | None:
    """The model's fastest compute rate (GFLOP/s) and memory rate (GB/s) over the design's layers, or None when
    the model has no compute or no memory term for any of them."""
    compute = [ly["flops"] / ly["compute_ms"] / 1e6 for ly in prediction["layers"] if ly.get("compute_ms", 0) > 0]
    memory = [ly["bytes"] / ly["memory_ms"] / 1e6 for ly in prediction["layers"] if ly.get("memory_ms", 0) > 0]
    compute = [c for c in compute if c > 0]
    memory = [m for m in memory if m > 0]
    if not compute or not memory:
        return None
    return {"peak_gflops": max(compute), "bandwidth_gbs": max(memory)}


def _subtitle(prediction: dict, measured_roofs: dict | None) -> str:
    flopless = [ly for ly in prediction["layers"] if not ly["flops"]]
    flopless_ms = sum(ly["predicted_ms"] for ly in flopless)
    line = (
        f"Each dot is a layer at its predicted time, coloured by its largest term. {len(flopless)} adds and pools "
        f"count no FLOPs ({flopless_ms:.2f} ms, memory traffic only) and are not drawn."
    )
    if measured_roofs and measured_roofs.get("peak_gflops") and measured_roofs.get("bandwidth_gbs"):
        line += (
            f"<br>Measured on this host: {measured_roofs['peak_gflops']:.0f} GFLOP/s (large GEMM), "
            f"{measured_roofs['bandwidth_gbs']:.1f} GB/s (large add)."
        )
    return line


def _roof_trace(points: list[dict], roofs: dict) -> dict:
    peak, bw = roofs["peak_gflops"], roofs["bandwidth_gbs"]
    ridge = peak / bw
    lo = min(min(p["intensity"] for p in points) / 2, ridge / 2)
    hi = max(max(p["intensity"] for p in points) * 2, 2 * ridge)
    return dict(
        type="scatter",
        x=[lo, ridge, hi],
        y=[bw * lo, peak, peak],
        mode="lines",
        line=dict(color=GREY, width=3),
        name=f"the model's roofs: {peak:.0f} GFLOP/s, {bw:.1f} GB/s (ridge at {ridge:.1f} FLOP/B)",
        hoverinfo="skip",
    )


def _bound_traces(points: list[dict]) -> list[dict]:
    traces = []
    for bound, colour in BOUND_COLOURS.items():
        sel = [p for p in points if p["bound"] == bound]
        if not sel:
            continue
        text = [
            f"{p['name']} ({p['kind']})<br>{p['ms']:.3f} ms predicted"
            + (f", {p['measured_ms']:.3f} ms measured" if p["measured_ms"] else "")
            for p in sel
        ]
        traces.append(
            dict(
                type="scatter",
                x=[p["intensity"] for p in sel],
                y=[p["gflops"] for p in sel],
                mode="markers",
                name=f"{bound}-bound layers",
                marker=dict(size=11, color=colour, line=dict(width=1, color=SKY)),
                text=text,
                hovertemplate="%{text}<br>%{x:.2f} FLOP/B, %{y:.1f} GFLOP/s<extra></extra>",
            )
        )
    return traces


def roofline_figure(prediction: dict, roofs: dict | None, measured_ms: dict[str, float] | None = None) -> go.Figure:
    """`roofs`: the host's measured roofs from calibration (named in the subtitle); the lines drawn are the
    model's own (model_roofs), which every predicted point respects."""
    points = roofline_points(prediction, measured_ms)
    layout = base_layout(
        f"Roofline of this host: {prediction.get('name', 'design')}",
        _subtitle(prediction, roofs),
        "arithmetic intensity (FLOP per byte moved)",
        "attained GFLOP/s (predicted)",
    )
    layout["xaxis"]["type"] = "log"
    layout["yaxis"]["type"] = "log"
    if not points:
        show_empty(layout, "no layer with FLOPs to place")
        return go.Figure(layout=layout)
    model = model_roofs(prediction)
    traces = ([_roof_trace(points, model)] if model else []) + _bound_traces(points)
    return go.Figure(data=traces, layout=layout)
