"""Where the work and the time go, by layer type: shares of MACs, bytes moved and measured time."""

from __future__ import annotations

from collections import defaultdict

import plotly.graph_objects as go

from .style import BLUE, SKY, VERMILLION, base_layout, finite, show_empty

GROUPS = ("stem 3×3 conv", "pointwise 1×1 conv", "depthwise conv", "residual add", "pool + classifier")
GROUP_OF_KIND = {"dwconv": GROUPS[2], "add": GROUPS[3], "pool": GROUPS[4], "linear": GROUPS[4]}


def layer_group(row: dict) -> str:
    if row.get("kind") == "conv":
        return GROUPS[0] if row.get("name") == "stem" else GROUPS[1]
    return GROUP_OF_KIND.get(row.get("kind"), f"other ({row.get('kind')})")


def split_rows(cost, layer_ms: dict[str, float] | None = None) -> list[dict]:
    """Rows for layer_split_figure from an explorer.design.cost.Cost, with time shares when per-layer ms are given."""
    layer_ms = layer_ms or {}
    total_ms = sum(v for v in layer_ms.values() if finite(v))
    return [
        dict(
            name=lc.layer.name,
            kind=lc.layer.kind,
            macs_share=lc.macs / cost.macs if cost.macs else 0.0,
            bytes_share=lc.bytes / cost.bytes if cost.bytes else 0.0,
            time_share=layer_ms[lc.layer.name] / total_ms
            if finite(layer_ms.get(lc.layer.name)) and total_ms > 0
            else None,
        )
        for lc in cost.layers
    ]


def layer_split_figure(rows: list[dict], time_label: str | None = None) -> go.Figure:
    """Share of MACs, bytes moved and time per layer type, as grouped horizontal bars (shares renormalised)."""
    sums = {m: defaultdict(float) for m in ("macs_share", "bytes_share", "time_share")}
    missing_time = 0
    for r in rows or []:
        for m in sums:
            if finite(r.get(m)):
                sums[m][layer_group(r)] += r[m]
            elif m == "time_share":
                missing_time += 1
    seen = {g for s in sums.values() for g in s}
    order = [g for g in GROUPS if g in seen] + sorted(seen - set(GROUPS))
    has_time = bool(sums["time_share"])
    bars = [
        ("macs_share", "share of MACs (FLOPs)", BLUE),
        ("bytes_share", "share of bytes moved (float32, batch 1)", SKY),
    ]
    if has_time:
        bars.append(("time_share", "share of time" + (f", {time_label}" if time_label else ", measured"), VERMILLION))
    vals = {m: [100 * sums[m][g] / (sum(sums[m].values()) or 1.0) for g in order] for m, _, _ in bars}
    data = [
        dict(
            type="bar",
            orientation="h",
            name=name,
            y=order,
            x=vals[m],
            marker=dict(color=color),
            text=[f"{v:.1f} %" for v in vals[m]],
            textposition="outside",
            textfont=dict(size=14),
            hovertemplate="%{y}: %{x:.1f} % — " + name + "<extra></extra>",
        )
        for m, name, color in bars
    ]
    sub = "Red bar longer than blue: that layer type costs more time than its MACs suggest (memory-bound)."
    if not has_time:
        sub = "No time measured yet: measure on this host to add the time share beside the MAC share."
    elif missing_time:
        sub += f" ({missing_time} layers without a time.)"
    layout = base_layout(
        "Where the work and the time go, by layer type",
        sub,
        "share of the whole network [%]",
        "",
        height=120 + 95 * max(len(order), 2),
    )
    layout.update(barmode="group", bargap=0.25, bargroupgap=0.05)
    top = max([v for vs in vals.values() for v in vs] + [1.0])
    right = top * 1.45 + 8 if has_time else top * 1.1 + 8  # room for the value labels and the ratio notes
    layout["xaxis"].update(range=[0, right], tickvals=[v for v in range(0, 101, 20) if v <= right])
    layout["yaxis"].update(autorange="reversed", tickfont=dict(size=16), showgrid=False)
    for g, t, mac in zip(order, vals.get("time_share", []), vals["macs_share"], strict=False):
        if t >= 2 and t >= 1.5 * mac:  # say the ratio out loud where time outruns MACs
            ratio = f"{t:.1f} % of time with no MACs" if mac < 0.05 else f"time {t / mac:.1f}× its MAC share"
            layout["annotations"].append(
                dict(
                    x=right,
                    y=g,
                    xanchor="right",
                    text=f"<b>{ratio}</b>",
                    showarrow=False,
                    font=dict(size=15, color=VERMILLION),
                )
            )
    if not order:
        show_empty(layout, "No layers to show.")
    return go.Figure(data=data, layout=layout)
