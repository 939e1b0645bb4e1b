"""The paper's two scatter charts with this host's numbers on them: accuracy vs latency, FLOPs vs latency.

Every point says where each of its coordinates comes from: the paper's table and hardware, this host's
measurement (backend, device, threads), the paper's top-1 borrowed for a measured network, or a fine-tune
with its dataset and class count. Colour = provenance (one series per source); the model is named on the
point and in the hover. A measurement whose quality verdict is not "ok" is drawn hollow with its reason in
the hover, and is left out of Pareto fronts and fits unless asked for.
"""

from __future__ import annotations

import math
from collections import defaultdict

import plotly.graph_objects as go

from ..measure import quality
from .labels import ASSUMED_PLOT_WIDTH_PX, place_labels, to_pixels
from .style import (
    BLUE,
    GREY,
    SERIES_CYCLE,
    VERMILLION,
    base_layout,
    finite,
    legend_line,
    log_ticks,
    ms,
    show_empty,
)

PAPER_GPU, PAPER_CPU = "paper, GTX 1060", "paper, 3.4 GHz CPU"
PAPER_FLOPS = " (paper's own FLOPs count)"
PAPER_DATASET = "ImageNet100, 100 classes"  # what the paper's (and so the presets') top-1 was measured on
STYLE = {"paper": ("circle", 14), "measured": ("diamond", 15), "finetune": ("star", 17), "reference": ("square", 11)}


def pearson(xs: list[float], ys: list[float]) -> float | None:
    """Pearson correlation; None when undefined (fewer than 2 points or a constant series)."""
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else None


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (latency, accuracy) points no other point beats (lower latency, higher accuracy is better).

    Sorted by latency; exact duplicates are all kept (neither dominates the other); points with a missing or
    non-finite value are ignored.
    """
    order = sorted((i for i, p in enumerate(points) if finite(*p)), key=lambda i: (points[i][0], -points[i][1], i))
    front: list[int] = []
    for i in order:
        if not front or points[i][1] > points[front[-1]][1] or tuple(points[i]) == tuple(points[front[-1]]):
            front.append(i)
    return front


def measured_label(p: dict, split_runs: bool = False) -> str:
    label = f"measured on {p.get('host') or 'unknown host'} ({p.get('backend', '?')}, {p.get('device', '?')})"
    return label + f", batch {p.get('batch', '?')}, {p.get('threads', '?')} threads" if split_runs else label


def _measured_labels(points: list[dict]) -> list[str]:
    """One series per host/backend/device; split by batch and threads only when they differ within it."""
    runs = defaultdict(set)
    for p in points:
        runs[measured_label(p)].add((p.get("batch"), p.get("threads")))
    return [measured_label(p, len(runs[measured_label(p)]) > 1) for p in points]


def _series_key(label: str) -> str:
    """The part of a series label that names its source: the same source keeps its colour in both charts."""
    return label.removesuffix(PAPER_FLOPS).split(" · ")[0]


def _colors(labels) -> dict[str, str]:
    """Paper series keep fixed colours; the others take the cycle in sorted order (distinct within a figure)."""
    fixed = {PAPER_GPU: BLUE, PAPER_CPU: VERMILLION}
    keys = {_series_key(lab) for lab in labels}
    out = {k: SERIES_CYCLE[i % len(SERIES_CYCLE)] for i, k in enumerate(sorted(keys - fixed.keys()))}
    return out | {k: c for k, c in fixed.items() if k in keys}


def spread(p: dict) -> tuple[float, float] | None:
    """(p25, p75) of a measured point, per image; None for results stored without them."""
    lo, hi = p.get("p25_ms"), p.get("p75_ms")
    if finite(lo, hi) and 0 < lo <= p["latency_ms"] <= hi:
        return lo, hi
    return None


def _quality_hover(p: dict) -> str:
    if p.get("trusted", True):
        return ""
    why = "; ".join(p.get("reasons") or []) or "not judged"
    return f"<br><b>not trusted ({p.get('verdict', 'unchecked')}): {why}</b> (hollow; left out of fronts and fits)"


def with_quality(point: dict, result: dict | None) -> dict:
    """A chart point with the verdict of the latency result it came from (see explorer.measure.quality)."""
    return {
        **point,
        "verdict": quality.verdict(result),
        "trusted": quality.is_trusted(result),
        "reasons": quality.reasons(result),
    }


def _add(series: dict, label: str, kind: str, x: float, y: float, name: str, hover: str, **extra) -> None:
    s = series.setdefault(label, dict(kind=kind, pts=[]))
    point = dict(x=x, y=y, name=name, hover=f"{hover}<br><i>{label}</i>", lo=None, hi=None, trusted=True)
    s["pts"].append(point | extra)


def _axis_points(series: dict, include_untrusted: bool) -> list[dict]:
    """The points the axes are fitted to: a noisy measurement (hundreds of ms on a busy host) must not squash
    every trusted point into a corner, so untrusted points set the axes only when asked or when alone."""
    pts = [p for s in series.values() for p in s["pts"]]
    trusted = [p for p in pts if p.get("trusted", True)]
    return pts if include_untrusted or not trusted else trusted


def _ranges(series: dict, log_x: bool, zero: bool, include_untrusted: bool = False) -> tuple[list[float], list[float]]:
    """Explicit axis ranges (so labels can be placed in pixels); latency never below zero."""
    pts = _axis_points(series, include_untrusted)
    xs = [v for p in pts for v in (p["x"], p.get("xlo") or p["x"], p.get("xhi") or p["x"])]
    ys = [v for p in pts for v in (p["y"], p.get("ylo") or p["y"], p.get("yhi") or p["y"])]
    if log_x:
        lo, hi = math.log10(min(xs) / 1.2), math.log10(max(xs) * 1.2)
        xr = [lo, hi]
    else:
        lo, hi = (0.0 if zero else min(xs)), max(xs)
        pad = (hi - lo) * 0.08 or max(abs(hi) * 0.1, 1.0)
        xr = [0.0 if zero else max(0.0, lo - pad), hi + pad]
    lo, hi = (0.0 if zero else min(ys)), max(ys)
    pad = (hi - lo) * 0.1 or max(abs(hi) * 0.1, 1.0)
    yr = [0.0 if zero else lo - pad, hi + pad]
    return xr, yr


def _point_traces(series: dict, layout: dict, log_x: bool, err_axis: str, legend_suffix=None) -> list[dict]:
    """One marker trace per series (hollow markers for untrusted points), labels placed over all series
    (references last: they yield space)."""
    ordered = sorted(series.items(), key=lambda kv: kv[1]["kind"] == "reference")
    flat = [p for _, s in ordered for p in s["pts"]]
    (x0, x1), (y0, y1) = layout["xaxis"]["range"], layout["yaxis"]["range"]
    m = layout["margin"]
    plot_px = (ASSUMED_PLOT_WIDTH_PX, layout["height"] - m["t"] - m["b"])
    xs_px = to_pixels([p["x"] for p in flat], x0, x1, plot_px[0], log_x)
    ys_px = to_pixels([p["y"] for p in flat], y0, y1, plot_px[1])
    positions = iter(place_labels(xs_px, ys_px, [p["name"] for p in flat], plot_px))
    colors = _colors(lab for lab, s in series.items() if s["kind"] != "reference")
    traces = []
    for label, s in ordered:
        pts, (symbol, size) = s["pts"], STYLE[s["kind"]]
        pos = [next(positions) for _ in pts]
        color = s["color"] = GREY if s["kind"] == "reference" else colors[_series_key(label)]
        hollow = [s["kind"] == "reference" or not p["trusted"] for p in pts]
        marker = dict(
            color=color,
            symbol=[symbol + "-open" if h else symbol for h in hollow],
            size=size,
            opacity=0.8 if s["kind"] == "reference" else 1,
            line=dict(width=[2.5 if h else 1 for h in hollow], color=[color if h else "white" for h in hollow]),
        )
        trace = dict(
            type="scatter",
            mode="markers+text",
            legendgroup=label,
            name=label + (legend_suffix(s) if legend_suffix else ""),
            x=[p["x"] for p in pts],
            y=[p["y"] for p in pts],
            text=[p["name"] if ps else "" for p, ps in zip(pts, pos, strict=True)],
            textposition=[ps or "top center" for ps in pos],
            textfont=dict(size=14, color="#222222"),
            hovertext=[p["hover"] for p in pts],
            hovertemplate="%{hovertext}<extra></extra>",
            marker=marker,
        )
        lo_key, hi_key = f"{err_axis}lo", f"{err_axis}hi"
        if any(p.get(lo_key) is not None for p in pts):  # p25-p75 around the median, not median ± IQR / 2
            up = [p[hi_key] - p[err_axis] if p.get(hi_key) is not None else 0.0 for p in pts]
            down = [p[err_axis] - p[lo_key] if p.get(lo_key) is not None else 0.0 for p in pts]
            trace[f"error_{err_axis}"] = dict(
                type="data", symmetric=False, array=up, arrayminus=down, thickness=1.5, width=4
            )
        traces.append(trace)
    return traces


def paper_points_from_presets(presets: list, device: str = "gpu") -> list[dict]:
    """Tables 3/4 of the paper as chart points: every preset with paper numbers, plus Table 3's ShuffleNet V2."""
    from ..design.presets import paper_reference

    if device not in ("gpu", "cpu"):
        raise ValueError(f"device must be 'gpu' or 'cpu', not {device!r}")
    ref = paper_reference()
    rows = [(d.name, d.meta.get("paper") or {}) for d in presets]
    rows += [(r["name"], {**r, "hardware": ref["hardware"], "table": "Table 3"}) for r in ref["table3"]]
    return [
        dict(
            name=name,
            accuracy=p["accuracy_top1"],
            latency_ms=p[f"{device}_ms"],
            flops_m=p.get("flops_m"),
            params_m=p.get("params_m"),
            hardware=p.get("hardware", ""),
            table=p.get("table", ""),
            series=PAPER_GPU if device == "gpu" else PAPER_CPU,
        )
        for name, p in rows
        if p.get("accuracy_top1") is not None and p.get(f"{device}_ms") is not None
    ]


def reference_points_from_paper(device: str = "gpu") -> list[dict]:
    """Table 2's ImageNet-1k CNNs (one-card GPU or CPU time, per image during training)."""
    from ..design.presets import paper_reference

    key, hw = ("gpu1_ms", "GTX 1060") if device == "gpu" else ("cpu_ms", "3.4 GHz CPU")
    return [
        dict(
            name=r["name"],
            accuracy=r["accuracy_top1"],
            latency_ms=r[key],
            flops_m=r["flops_m"],
            params_m=r["params_m"],
            series=f"paper Table 2, ImageNet-1k accuracy ({hw})",
        )
        for r in paper_reference()["table2"]
    ]


def _latency_hover(p: dict) -> tuple[str, dict]:
    """'latency: … per image, median (p25–p75 …)' and the x extents of its error bar."""
    sp = spread(p)
    text = f"latency: {ms(p['latency_ms'])} per image, median of runs measured here"
    if sp:
        return text + f" (p25–p75 {ms(sp[0])}–{ms(sp[1])})", dict(xlo=sp[0], xhi=sp[1])
    return text + " (spread not stored)", {}


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
    paper_data = dataset == PAPER_DATASET
    for p in (paper_points or []) if paper_data else []:
        if finite(p.get("latency_ms"), p.get("accuracy")):
            src = ", ".join(s for s in (p.get("table"), p.get("hardware")) if s) or "paper"
            hover = (
                f"<b>{p['name']}</b><br>top-1: {p['accuracy']:.1f} % (ImageNet100, paper)<br>latency: "
                f"{ms(p['latency_ms'])} per image (paper)<br>FLOPs (paper): {p.get('flops_m')} M · params (paper): "
                f"{p.get('params_m')} M<br>source: {src}"
            )
            label = p.get("series") or f"paper, {p.get('hardware', '')}"
            _add(series, label, "paper", p["latency_ms"], p["accuracy"], p["name"], hover)
    measured_all = (measured_points or []) if paper_data else []
    no_acc = [p.get("name", "?") for p in measured_all if not finite(p.get("accuracy"))]
    if no_acc:
        notes.append("measured, but no ImageNet100 top-1 known (not drawn): " + ", ".join(no_acc))
    measured = [p for p in measured_all if finite(p.get("latency_ms"), p.get("accuracy"))]
    for p, label in zip(measured, _measured_labels(measured), strict=True):
        lat, extents = _latency_hover(p)
        hover = (
            f"<b>{p['name']}</b><br>top-1: {p['accuracy']:.1f} %, the paper's (ImageNet100), not measured here<br>"
            f"{lat}<br>batch {p.get('batch', '?')}, {p.get('threads', '?')} threads" + _quality_hover(p)
        )
        label += " · top-1 from the paper"
        _add(
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
    for p in (q for q in finetune_points or [] if finite(q.get("accuracy"))):
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
        lat, extents = _latency_hover(p)
        hover = (
            f"<b>{p['name']}</b><br>top-1: {p['accuracy']:.1f} % after a fine-tune here on {dataset}"
            f"<br>{lat}" + _quality_hover(p)
        )
        label = f"fine-tuned here on {dataset} ({budget}, res {p.get('img_size', '?')}) · latency measured here"
        _add(
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
    if show_reference and paper_data and not reference_points:
        notes.append("no reference points given")
    for p in (reference_points or []) if show_reference and paper_data else []:
        if finite(p.get("latency_ms"), p.get("accuracy")):
            hover = (
                f"<b>{p['name']}</b><br>top-1: {p['accuracy']:.1f} % on ImageNet-1k (literature; not comparable "
                f"with ImageNet100)<br>latency: {ms(p['latency_ms'])} per image during training (paper)"
            )
            label = p.get("series") or "paper Table 2, ImageNet-1k accuracy"
            _add(series, label, "reference", p["latency_ms"], p["accuracy"], p["name"], hover)

    xs = [p["x"] for p in _axis_points(series, include_untrusted)]
    log_x = bool(xs) and min(xs) > 0 and max(xs) / min(xs) > 15
    layout = base_layout(
        f"Accuracy vs latency · top-1 on {dataset}",
        "Up and to the left is better. Legend and hover say where each coordinate comes from.",
        "latency [ms per image]" + (" (log scale)" if log_x else ""),
        "top-1 accuracy [%]",
    )
    if notes:  # under the subtitle: the reader sees what is missing and why
        layout["title"]["subtitle"]["text"] += "".join(f"<br>{n if len(n) < 110 else n[:108] + '…'}" for n in notes)
        layout["margin"]["t"] += 20 * len(notes)
    if not xs:
        show_empty(layout, "No points yet: paper numbers, measurements or fine-tunes appear here.")
        return go.Figure(data=[], layout=layout)
    xr, yr = _ranges(series, log_x, zero=False, include_untrusted=include_untrusted)
    layout["xaxis"].update(range=xr)
    layout["yaxis"].update(range=yr)
    if log_x:
        ticks = log_ticks(xs)
        layout["xaxis"].update(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    data = _point_traces(series, layout, log_x, "x")
    for label, s in series.items():
        usable = [p for p in s["pts"] if include_untrusted or p["trusted"]]
        front = [usable[i] for i in pareto_front([(p["x"], p["y"]) for p in usable])]
        if s["kind"] != "reference" and len(front) >= 2:
            data.append(
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
    if len(data) > len(series):
        data.append(legend_line("Pareto front (dashed, per series)", "dash"))
    if any(not p["trusted"] for s in series.values() for p in s["pts"]):
        data.append(_hollow_legend(include_untrusted))
    return go.Figure(data=data, layout=layout)


def _hollow_legend(included: bool) -> dict:
    where = "included in fronts and fits" if included else "left out of fronts and fits"
    return dict(
        type="scatter",
        mode="markers",
        x=[None],
        y=[None],
        name=f"hollow: noisy or unchecked measurement, {where}",
        marker=dict(symbol="diamond-open", size=13, color=GREY, line=dict(width=2.5, color=GREY)),
    )


def flops_latency_figure(
    points: list[dict], paper_points: list[dict] | None = None, include_untrusted: bool = False
) -> go.Figure:
    """Latency against FLOPs (2 x MACs), one series per host/backend/device, r per series, fit through the origin.

    FLOPs of measured points are counted by this tool from the design; the paper's are its own count."""
    pts = [p for p in points or [] if finite(p.get("macs"), p.get("latency_ms"))]
    paper = [p for p in paper_points or [] if finite(p.get("flops_m"), p.get("latency_ms"))]
    flops = [2 * p["macs"] for p in pts] + [p["flops_m"] * 1e6 for p in paper]
    scale, unit = (1e9, "G") if flops and max(flops) >= 1e10 else (1e6, "M")  # the presets stay in M
    series: dict[str, dict] = {}
    for p, label in zip(pts, _measured_labels(pts), strict=True):
        sp = spread(p)
        hover = (
            f"<b>{p['name']}</b><br>FLOPs: {2 * p['macs'] / scale:.4g} {unit} (MACs {p['macs'] / scale:.4g} {unit}), "
            "counted by this tool"
            + (f"<br>params: {p['params'] / 1e6:.3g} M" if finite(p.get("params")) else "")
            + f"<br>latency: {ms(p['latency_ms'])} per image, median of runs measured here"
            + (f" (p25–p75 {ms(sp[0])}–{ms(sp[1])})" if sp else " (spread not stored)")
            + _quality_hover(p)
        )
        extents = dict(ylo=sp[0], yhi=sp[1]) if sp else {}
        _add(
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
    for p in paper:
        hover = (
            f"<b>{p['name']}</b><br>FLOPs as the paper reports them: {p['flops_m']:g} M (convention unstated)"
            f"<br>latency: {ms(p['latency_ms'])} per image (paper)"
        )
        label = (p.get("series") or "paper") + PAPER_FLOPS
        _add(series, label, "paper", p["flops_m"] * 1e6 / scale, p["latency_ms"], p["name"], hover)

    layout = base_layout(
        "FLOPs vs latency",
        "If FLOPs predicted time, every series would be a straight line through the origin.",
        f"FLOPs (2 × MACs) [{unit}]",
        "latency [ms per image]",
    )
    if not series:
        show_empty(layout, "No measurements yet: use “Measure on this host” to add points.")
        return go.Figure(data=[], layout=layout)
    xr, yr = _ranges(series, False, zero=True, include_untrusted=include_untrusted)
    layout["xaxis"].update(range=xr)
    layout["yaxis"].update(range=yr)

    def usable(s: dict) -> list[dict]:
        return [p for p in s["pts"] if include_untrusted or p["trusted"]]

    def r_suffix(s: dict) -> str:
        use = usable(s)
        r = pearson([p["x"] for p in use], [p["y"] for p in use]) if len(use) >= 3 else None
        return f" · r = {r:.2f}" if r is not None else ""

    data = _point_traces(series, layout, False, "y", r_suffix)
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
        data.append(_hollow_legend(include_untrusted))
    return go.Figure(data=data, layout=layout)
