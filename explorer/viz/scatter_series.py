"""Scatter series drawn as Plotly traces: one marker trace per source, colours that follow the source
across charts, axis ranges fitted to the trusted points, and labels that never overlap.

A series is {"kind": paper | measured | finetune | reference, "pts": [...]}, keyed by its legend label.
"""

from __future__ import annotations

import math

from .labels import ASSUMED_PLOT_WIDTH_PX, place_labels, to_pixels
from .provenance import PAPER_CPU, PAPER_FLOPS, PAPER_GPU
from .style import BLUE, GREY, SERIES_CYCLE, VERMILLION

STYLE = {"paper": ("circle", 14), "measured": ("diamond", 15), "finetune": ("star", 17), "reference": ("square", 11)}


def series_key(label: str) -> str:
    """The part of a series label that names its source: the same source keeps its colour in both charts."""
    return label.removesuffix(PAPER_FLOPS).split(" · ")[0]


def series_colors(labels) -> dict[str, str]:
    """Paper series keep fixed colours; the others take the cycle in sorted order (distinct within a figure)."""
    fixed = {PAPER_GPU: BLUE, PAPER_CPU: VERMILLION}
    keys = {series_key(lab) for lab in labels}
    out = {k: SERIES_CYCLE[i % len(SERIES_CYCLE)] for i, k in enumerate(sorted(keys - fixed.keys()))}
    return out | {k: c for k, c in fixed.items() if k in keys}


def add_point(series: dict, label: str, kind: str, x: float, y: float, name: str, hover: str, **extra) -> None:
    """Add a point to the series `label` (made with `kind` if new); its hover ends with the series label."""
    s = series.setdefault(label, dict(kind=kind, pts=[]))
    point = dict(x=x, y=y, name=name, hover=f"{hover}<br><i>{label}</i>", lo=None, hi=None, trusted=True)
    s["pts"].append(point | extra)


def axis_points(series: dict, include_untrusted: bool) -> list[dict]:
    """The points the axes are fitted to: a noisy measurement (hundreds of ms on a busy host) must not squash
    every trusted point into a corner, so untrusted points set the axes only when asked or when alone."""
    pts = [p for s in series.values() for p in s["pts"]]
    trusted = [p for p in pts if p.get("trusted", True)]
    return pts if include_untrusted or not trusted else trusted


def axis_ranges(
    series: dict, log_x: bool, zero: bool, include_untrusted: bool = False
) -> tuple[list[float], list[float]]:
    """Explicit axis ranges (so labels can be placed in pixels); latency never below zero."""
    pts = axis_points(series, include_untrusted)
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


ERROR_BAR_PX = 3.0  # half the width of an error bar's box, as an obstacle for labels
EDGE = 0.985  # where a point beyond the axis is drawn: just inside the edge


def _plain(v: float) -> str:
    """A value for a label: 3 significant figures, thousands written out (1,120, not 1.12e+03)."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def clamp_to_axes(pts: list[dict], layout: dict, log_x: bool) -> list[dict]:
    """Points beyond the axes (a noisy measurement left out of the axis fit) are drawn at the edge, pointing the
    way to their value, rather than silently off the chart; their hover says so."""
    (x0, x1), (y0, y1) = layout["xaxis"]["range"], layout["yaxis"]["range"]
    x_edge = 10 ** (x0 + EDGE * (x1 - x0)) if log_x else x0 + EDGE * (x1 - x0)
    x_max = 10**x1 if log_x else x1
    y_edge = y0 + EDGE * (y1 - y0)
    out = []
    for p in pts:
        beyond_x, beyond_y = p["x"] > x_max, p["y"] > y1
        if not (beyond_x or beyond_y):
            out.append(p)
            continue
        where = " and ".join(w for w, b in ((f"x = {p['x']:.4g}", beyond_x), (f"y = {p['y']:.4g}", beyond_y)) if b)
        clamped = {**p, "x": x_edge if beyond_x else p["x"], "y": y_edge if beyond_y else p["y"]}
        clamped.update(xlo=None, xhi=None, ylo=None, yhi=None, clipped="right" if beyond_x else "up")
        # its label carries the real value: at the edge, its position no longer says it
        off = f"{_plain(p['x'])} →" if beyond_x else f"{_plain(p['y'])} ↑"
        clamped["name"] = f"{p['name']} ({off})"
        clamped["hover"] = p["hover"] + f"<br><b>beyond the axis ({where}): drawn at its edge</b>"
        out.append(clamped)
    return out


def _error_bar_boxes(pts: list[dict], layout: dict, log_x: bool, plot_px: tuple, err_axis: str) -> list[tuple]:
    """Each p25-p75 bar as a thin box in pixels: labels must not sit on them."""
    (x0, x1), (y0, y1) = layout["xaxis"]["range"], layout["yaxis"]["range"]
    boxes = []
    for p in pts:
        lo, hi = p.get(f"{err_axis}lo"), p.get(f"{err_axis}hi")
        if lo is None or hi is None:
            continue
        (x,) = to_pixels([p["x"]], x0, x1, plot_px[0], log_x)
        (y,) = to_pixels([p["y"]], y0, y1, plot_px[1])
        if err_axis == "y":
            ylo, yhi = to_pixels([lo, hi], y0, y1, plot_px[1])
            boxes.append((x - ERROR_BAR_PX, ylo, x + ERROR_BAR_PX, yhi))
        else:
            xlo, xhi = to_pixels([lo, hi], x0, x1, plot_px[0], log_x)
            boxes.append((xlo, y - ERROR_BAR_PX, xhi, y + ERROR_BAR_PX))
    return boxes


def point_traces(series: dict, layout: dict, log_x: bool, err_axis: str, legend_suffix=None) -> list[dict]:
    """One marker trace per series (hollow markers for untrusted points), labels placed over all series
    (references last: they yield space), clear of every marker and error bar."""
    ordered = sorted(series.items(), key=lambda kv: kv[1]["kind"] == "reference")
    ordered = [(label, {**s, "pts": clamp_to_axes(s["pts"], layout, log_x)}) for label, s in ordered]
    flat = [p for _, s in ordered for p in s["pts"]]
    (x0, x1), (y0, y1) = layout["xaxis"]["range"], layout["yaxis"]["range"]
    m = layout["margin"]
    plot_px = (ASSUMED_PLOT_WIDTH_PX, layout["height"] - m["t"] - m["b"])
    xs_px = to_pixels([p["x"] for p in flat], x0, x1, plot_px[0], log_x)
    ys_px = to_pixels([p["y"] for p in flat], y0, y1, plot_px[1])
    bars = _error_bar_boxes(flat, layout, log_x, plot_px, err_axis)
    positions = iter(place_labels(xs_px, ys_px, [p["name"] for p in flat], plot_px, bars))
    colors = series_colors(lab for lab, s in series.items() if s["kind"] != "reference")
    traces = []
    for label, s in ordered:
        pos = [next(positions) for _ in s["pts"]]
        color = series[label]["color"] = GREY if s["kind"] == "reference" else colors[series_key(label)]
        traces.append(_series_trace(label, s, color, pos, err_axis, legend_suffix))
    return traces


CLIPPED_SYMBOL = {"right": "arrow-right", "up": "arrow-up"}


def _series_trace(label: str, s: dict, color: str, pos: list, err_axis: str, legend_suffix) -> dict:
    pts, (symbol, size) = s["pts"], STYLE[s["kind"]]
    hollow = [s["kind"] == "reference" or not p["trusted"] for p in pts]
    symbols = [
        CLIPPED_SYMBOL.get(p.get("clipped"), symbol) + ("-open" if h else "") for p, h in zip(pts, hollow, strict=True)
    ]
    marker = dict(
        color=color,
        symbol=symbols,
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
    return trace


def hollow_legend(included: bool) -> dict:
    where = "included in fronts and fits" if included else "left out of fronts and fits"
    return dict(
        type="scatter",
        mode="markers",
        x=[None],
        y=[None],
        name=f"hollow: noisy or unchecked measurement, {where}",
        marker=dict(symbol="diamond-open", size=13, color=GREY, line=dict(width=2.5, color=GREY)),
    )
