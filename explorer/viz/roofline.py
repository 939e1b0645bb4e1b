"""The roofline of this host, with every layer of a design placed on it by the latency model.

x: arithmetic intensity (FLOPs per byte moved, from the cost model); y: the FLOP/s the layer attains
(its FLOPs over its predicted time, or its measured time when one is given). The roofs are the host's own,
measured during calibration: a large GEMM (peak) and a large add (bandwidth). A layer far below the roofs
spends its time on per-operator overhead; one on the slanted roof is memory-bound, which is where depthwise
convs sit, and why they cost more time than their FLOPs say. Residual adds and pooling count no FLOPs, so
they cannot be placed on these axes: the subtitle gives their time instead.
"""

from __future__ import annotations

import plotly.graph_objects as go

from .style import BLUE, GREY, ORANGE, SKY, VERMILLION, base_layout, show_empty

BOUND_COLOURS = {"compute": BLUE, "memory": VERMILLION, "overhead": ORANGE}


def roofline_points(prediction: dict, measured_ms: dict[str, float] | None = None) -> list[dict]:
    """One point per layer that does FLOPs: name, kind, bound, intensity, attained GFLOP/s, time used."""
    measured_ms = measured_ms or {}
    out = []
    for ly in prediction["layers"]:
        t = measured_ms.get(ly["name"], ly["predicted_ms"])
        if not ly["flops"] or not ly["bytes"] or not t or t <= 0:
            continue
        out.append(
            {
                "name": ly["name"],
                "kind": ly["kind"],
                "bound": ly["bound"],
                "ms": t,
                "intensity": ly["flops"] / ly["bytes"],
                "gflops": ly["flops"] / t / 1e6,
            }
        )
    return out


def roofline_figure(prediction: dict, roofs: dict | None, measured_ms: dict[str, float] | None = None) -> go.Figure:
    points = roofline_points(prediction, measured_ms)
    flopless = [ly for ly in prediction["layers"] if not ly["flops"]]
    flopless_ms = sum(ly["predicted_ms"] for ly in flopless)
    source = "measured" if measured_ms else "predicted"
    subtitle = (
        f"Each dot is a layer at its {source} time. {len(flopless)} adds/pooling do no counted FLOPs "
        f"({flopless_ms:.2f} ms, memory traffic only) and are not drawn."
    )
    layout = base_layout(
        f"Roofline of this host: {prediction.get('name', 'design')}",
        subtitle,
        "arithmetic intensity (FLOP per byte moved)",
        "attained GFLOP/s",
    )
    layout["xaxis"]["type"] = "log"
    layout["yaxis"]["type"] = "log"
    fig = go.Figure(layout=layout)
    if not points:
        show_empty(layout, "no layer with FLOPs to place")
        return go.Figure(layout=layout)
    if roofs and roofs.get("peak_gflops") and roofs.get("bandwidth_gbs"):
        peak, bw = roofs["peak_gflops"], roofs["bandwidth_gbs"]
        lo = min(p["intensity"] for p in points) / 2
        hi = max(max(p["intensity"] for p in points) * 2, 2 * peak / bw)
        ridge = peak / bw
        xs = [lo, ridge, hi]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[bw * lo, peak, peak],
                mode="lines",
                line=dict(color=GREY, width=3),
                name=f"roofs: {peak:.0f} GFLOP/s peak (GEMM), {bw:.1f} GB/s (add)",
                hoverinfo="skip",
            )
        )
    for bound, colour in BOUND_COLOURS.items():
        sel = [p for p in points if p["bound"] == bound]
        if not sel:
            continue
        fig.add_trace(
            go.Scatter(
                x=[p["intensity"] for p in sel],
                y=[p["gflops"] for p in sel],
                mode="markers",
                name=f"{bound}-bound layers",
                marker=dict(size=11, color=colour, line=dict(width=1, color=SKY)),
                text=[f"{p['name']} ({p['kind']})<br>{p['ms']:.3f} ms" for p in sel],
                hovertemplate="%{text}<br>%{x:.2f} FLOP/B, %{y:.1f} GFLOP/s<extra></extra>",
            )
        )
    return fig
