"""The paper's two scatter charts with this host's numbers on them: accuracy vs latency, FLOPs vs latency.

Every point says where each of its coordinates comes from: the paper's table and hardware, this host's
measurement (backend, device, threads), the paper's top-1 borrowed for a measured network, or a fine-tune
with its dataset and class count. Colour = provenance (one series per source); the model is named on the
point and in the hover. A measurement whose quality verdict is not "ok" is drawn hollow with its reason in
the hover, and is left out of Pareto fronts and fits unless asked for.

This module decides what each chart shows; the labels come from explorer.viz.provenance, the drawing from
explorer.viz.scatter_series, the fronts and fits from explorer.viz.fits.
"""

from __future__ import annotations

import plotly.graph_objects as go

from ..design.cost import compute_cost
from ..design.presets import all_presets
from .fits import pareto_front, pearson
from .provenance import PAPER_DATASET, latency_hover, measured_labels, quality_hover, spread
from .scatter_series import add_point, axis_points, axis_ranges, hollow_legend, point_traces
from .style import base_layout, finite, legend_line, log_ticks, ms, show_empty


def accuracy_latency_figure(
    paper_points: list[dict],
    measured_points: list[dict],
    finetune_points: list[dict],
    reference_points: list[dict] | None = None,
    show_reference: bool = False,
    include_untrusted: bool = False,
    dataset: str = PAPER_DATASET,
) -> go.Figure:
    """Top-1 accuracy [%] against latency [ms per image], one series per provenance, Pareto fronts as steps.

    `dataset` is the one the accuracies are on: the paper's ImageNet100 unless a fine-tune's own dataset is
    asked for (then only fine-tunes on it are drawn: accuracies on different data never share an axis).
    """
    series: dict[str, dict] = {}
    notes: list[str] = []
    if dataset == PAPER_DATASET:
        _paper_series(series, paper_points or [])
        _measured_series(series, notes, measured_points or [])
    _finetune_series(series, notes, finetune_points or [], dataset)
    if show_reference and dataset == PAPER_DATASET:
        if not reference_points:
            notes.append("no reference points given")
        _reference_series(series, reference_points or [])
    xs = [p["x"] for p in axis_points(series, include_untrusted)]
    log_x = bool(xs) and min(xs) > 0 and max(xs) / min(xs) > 15
    layout = _accuracy_layout(dataset, notes, log_x)
    if not xs:
        show_empty(layout, "No points yet: paper numbers, measurements or fine-tunes appear here.")
        return go.Figure(data=[], layout=layout)
    xr, yr = axis_ranges(series, log_x, zero=False, include_untrusted=include_untrusted)
    layout["xaxis"].update(range=xr)
    layout["yaxis"].update(range=yr)
    if log_x:
        ticks = log_ticks(xs)
        layout["xaxis"].update(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    data = point_traces(series, layout, log_x, "x")
    data += _front_lines(series, include_untrusted)
    if len(data) > len(series):
        data.append(legend_line("Pareto front (dashed, per series)", "dash"))
    if any(not p["trusted"] for s in series.values() for p in s["pts"]):
        data.append(hollow_legend(include_untrusted))
    return go.Figure(data=data, layout=layout)


def _paper_series(series: dict, points: list[dict]) -> None:
    for p in points:
        if finite(p.get("latency_ms"), p.get("accuracy")):
            src = ", ".join(s for s in (p.get("table"), p.get("hardware")) if s) or "paper"
            hover = (
                f"<b>{p['name']}</b><br>top-1: {p['accuracy']:.1f} % (ImageNet100, paper)<br>latency: "
                f"{ms(p['latency_ms'])} per image (paper)<br>FLOPs (paper): {p.get('flops_m')} M · params (paper): "
                f"{p.get('params_m')} M<br>source: {src}"
            )
            label = p.get("series") or f"paper, {p.get('hardware', '')}"
            add_point(series, label, "paper", p["latency_ms"], p["accuracy"], p["name"], hover)


def _measured_series(series: dict, notes: list[str], points: list[dict]) -> None:
    """Measured here, at the paper's top-1 of the same network (networks the paper did not train are named)."""
    no_acc = [p.get("name", "?") for p in points if not finite(p.get("accuracy"))]
    if no_acc:
        notes.append("measured, but no ImageNet100 top-1 known (not drawn): " + ", ".join(no_acc))
    measured = [p for p in points if finite(p.get("latency_ms"), p.get("accuracy"))]
    for p, label in zip(measured, measured_labels(measured), strict=True):
        lat, extents = latency_hover(p)
        hover = (
            f"<b>{p['name']}</b><br>top-1: {p['accuracy']:.1f} %, the paper's (ImageNet100), not measured here<br>"
            f"{lat}<br>batch {p.get('batch', '?')}, {p.get('threads', '?')} threads" + quality_hover(p)
        )
        label += " · top-1 from the paper"
        add_point(
            series,
            label,
            "measured",
            p["latency_ms"],
            p["accuracy"],
            p["name"],
            hover,
            **extents,
            trusted=p.get("trusted", True),
        )


def _finetune_series(series: dict, notes: list[str], points: list[dict], dataset: str) -> None:
    for p in (q for q in points if finite(q.get("accuracy"))):
        if p.get("dataset", PAPER_DATASET) != dataset:
            continue
        if not finite(p.get("latency_ms")):
            notes.append(
                f"fine-tuned, no latency measured yet (measure it to place it): {p['name']} ({p['accuracy']:.1f} %)"
            )
            continue
        images, minutes = p.get("images"), p.get("minutes")
        budget = (f"{images:,} images" if isinstance(images, int) else "? images") + (
            f", {minutes:.3g} min" if finite(minutes) else ""
        )
        lat, extents = latency_hover(p)
        hover = (
            f"<b>{p['name']}</b><br>top-1: {p['accuracy']:.1f} % after a fine-tune here on {dataset}"
            f"<br>{lat}" + (f"<br>{p['latency_note']}" if p.get("latency_note") else "") + quality_hover(p)
        )
        label = f"fine-tuned here on {dataset} ({budget}, res {p.get('img_size', '?')}) · latency measured here"
        add_point(
            series,
            label,
            "finetune",
            p["latency_ms"],
            p["accuracy"],
            p["name"],
            hover,
            **extents,
            trusted=p.get("trusted", True),
        )


def _reference_series(series: dict, points: list[dict]) -> None:
    for p in points:
        if finite(p.get("latency_ms"), p.get("accuracy")):
            hover = (
                f"<b>{p['name']}</b><br>top-1: {p['accuracy']:.1f} % on ImageNet-1k (literature; not comparable "
                f"with ImageNet100)<br>latency: {ms(p['latency_ms'])} per image during training (paper)"
            )
            label = p.get("series") or "paper Table 2, ImageNet-1k accuracy"
            add_point(series, label, "reference", p["latency_ms"], p["accuracy"], p["name"], hover)


def _accuracy_layout(dataset: str, notes: list[str], log_x: bool) -> dict:
    layout = base_layout(
        f"Accuracy vs latency · top-1 on {dataset}",
        "Up and to the left is better. Legend and hover say where each coordinate comes from.",
        "latency [ms per image]" + (" (log scale)" if log_x else ""),
        "top-1 accuracy [%]",
    )
    if notes:  # under the subtitle: the reader sees what is missing and why
        layout["title"]["subtitle"]["text"] += "".join(f"<br>{n if len(n) < 110 else n[:108] + '…'}" for n in notes)
        layout["margin"]["t"] += 20 * len(notes)
    return layout


def _front_lines(series: dict, include_untrusted: bool) -> list[dict]:
    """Each series' Pareto front as a dashed step line (references have none)."""
    lines = []
    for label, s in series.items():
        usable = [p for p in s["pts"] if include_untrusted or p["trusted"]]
        front = [usable[i] for i in pareto_front([(p["x"], p["y"]) for p in usable])]
        if s["kind"] != "reference" and len(front) >= 2:
            lines.append(
                dict(
                    type="scatter",
                    mode="lines",
                    x=[p["x"] for p in front],
                    y=[p["y"] for p in front],
                    line=dict(shape="hv", dash="dash", width=2, color=s["color"]),
                    legendgroup=label,
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
    return lines


def _add_measured_flops_point(series: dict, p: dict, label: str, scale: float, unit: str) -> None:
    sp = spread(p)
    hover = (
        f"<b>{p['name']}</b><br>FLOPs: {2 * p['macs'] / scale:.4g} {unit} (MACs {p['macs'] / scale:.4g} {unit}), "
        "counted by this tool"
        + (f"<br>params: {p['params'] / 1e6:.3g} M" if finite(p.get("params")) else "")
        + f"<br>latency: {ms(p['latency_ms'])} per image, median of runs measured here"
        + (f" (p25–p75 {ms(sp[0])}–{ms(sp[1])})" if sp else " (spread not stored)")
        + quality_hover(p)
    )
    extents = dict(ylo=sp[0], yhi=sp[1]) if sp else {}
    add_point(
        series,
        label,
        "measured",
        2 * p["macs"] / scale,
        p["latency_ms"],
        p["name"],
        hover,
        **extents,
        trusted=p.get("trusted", True),
    )


def flops_latency_figure(
    points: list[dict], paper_points: list[dict] | None = None, include_untrusted: bool = False
) -> go.Figure:
    """Latency against FLOPs (2 x MACs), one series per host/backend/device, r per series, fit through the origin.

    One FLOPs definition on one axis: every point, the paper's included, sits at the FLOPs this tool counts from
    the network (the paper's own count, e.g. 155 M for SM_V2 where 2 x MACs is 328 M, is in the hover). A paper
    network without a preset (nothing to count from) is named under the title instead of drawn."""
    counted = {d.name: 2 * compute_cost(d).macs for d in all_presets()}
    pts = [p for p in points or [] if finite(p.get("macs"), p.get("latency_ms"))]
    paper = [p for p in paper_points or [] if finite(p.get("latency_ms"))]
    uncounted = [p["name"] for p in paper if p["name"] not in counted]
    paper = [p for p in paper if p["name"] in counted]
    flops = [2 * p["macs"] for p in pts] + [counted[p["name"]] for p in paper]
    scale, unit = (1e9, "G") if flops and max(flops) >= 1e10 else (1e6, "M")  # the presets stay in M
    series: dict[str, dict] = {}
    for p, label in zip(pts, measured_labels(pts), strict=True):
        _add_measured_flops_point(series, p, label, scale, unit)
    for p in paper:
        own = f"{p['flops_m']:g} M" if finite(p.get("flops_m")) else "not given"
        hover = (
            f"<b>{p['name']}</b><br>FLOPs: {counted[p['name']] / scale:.4g} {unit} (2 × MACs, counted by this tool; "
            f"the paper's own count: {own})<br>latency: {ms(p['latency_ms'])} per image (paper)"
        )
        label = p.get("series") or "paper"
        add_point(series, label, "paper", counted[p["name"]] / scale, p["latency_ms"], p["name"], hover)

    layout = base_layout(
        "FLOPs vs latency",
        "If FLOPs predicted time, every series would be a straight line through the origin.",
        f"FLOPs (2 × MACs) [{unit}]",
        "latency [ms per image]",
    )
    if uncounted:
        layout["title"]["subtitle"]["text"] += "<br>Not drawn (no network to count FLOPs from): " + ", ".join(uncounted)
        layout["margin"]["t"] += 20
    if not series:
        show_empty(layout, "No measurements yet: use “Measure on this host” to add points.")
        return go.Figure(data=[], layout=layout)
    xr, yr = axis_ranges(series, False, zero=True, include_untrusted=include_untrusted)
    layout["xaxis"].update(range=xr)
    layout["yaxis"].update(range=yr)

    def usable(s: dict) -> list[dict]:
        return [p for p in s["pts"] if include_untrusted or p["trusted"]]

    def r_suffix(s: dict) -> str:
        use = usable(s)
        r = pearson([p["x"] for p in use], [p["y"] for p in use]) if len(use) >= 3 else None
        return f" · r = {r:.2f}" if r is not None else ""

    data = point_traces(series, layout, False, "y", r_suffix)
    for label, s in series.items():
        xs, ys = [p["x"] for p in usable(s)], [p["y"] for p in usable(s)]
        sxx = sum(x * x for x in xs)
        if len(xs) >= 2 and sxx > 0:  # least squares through the origin: time = k * FLOPs
            slope, xmax = sum(x * y for x, y in zip(xs, ys, strict=True)) / sxx, xr[1]
            data.append(
                dict(
                    type="scatter",
                    mode="lines",
                    x=[0, xmax],
                    y=[0, slope * xmax],
                    legendgroup=label,
                    showlegend=False,
                    hoverinfo="skip",
                    line=dict(dash="dot", width=1.5, color=s["color"]),
                )
            )
    if len(data) > len(series):
        data.append(legend_line("dotted: best line through the origin (time ∝ FLOPs)", "dot"))
    if any(not p["trusted"] for s in series.values() for p in s["pts"]):
        data.append(hollow_legend(include_untrusted))
    return go.Figure(data=data, layout=layout)
