"""Plotly charts over plain data (lists of dicts): accuracy vs latency, FLOPs vs latency, where the time goes.

Pure functions, no I/O, no streamlit: the app passes the figures to st.plotly_chart. Every point carries its
provenance (paper table, host and backend, fine-tune budget) in the legend and in the hover text, because a
number without its source is the thing this tool exists to prevent. Colour = provenance (one series per
source); the model is named on the point and in the hover.
"""

from __future__ import annotations

import math
from collections import defaultdict

import plotly.graph_objects as go

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, BLACK = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#000000",
)  # fmt: skip
GREY = "#6E6E6E"
SERIES_CYCLE = (GREEN, ORANGE, PURPLE, SKY, BLACK)  # blue and vermillion are the paper's
PAPER_GPU, PAPER_CPU = "paper, GTX 1060", "paper, 3.4 GHz CPU"
PAPER_FLOPS = " (paper's own FLOPs count)"
STYLE = {"paper": ("circle", 14), "measured": ("diamond", 15), "finetune": ("star", 17), "reference": ("square-open", 11)}  # fmt: skip
# Label positions in order of preference, with the side of the marker the text goes to (x, y).
LABEL_SIDES = (("top center", 0, 1), ("bottom center", 0, -1), ("middle right", 1, 0), ("middle left", -1, 0),
               ("top right", 1, 1), ("bottom right", 1, -1), ("top left", -1, 1), ("bottom left", -1, -1))  # fmt: skip


def base_layout(title: str, subtitle: str = "", xtitle: str = "", ytitle: str = "", height: int = 600) -> dict:
    """Large, projector-friendly type; the subtitle carries the one sentence a reader needs. No named template:
    copying one costs more than building the rest of the figure (and streamlit's default would replace ours)."""
    axis = dict(showgrid=True, gridcolor="#E3E3E3", showline=True, linecolor="#8C8C8C", ticks="outside",
                zeroline=False, automargin=True)  # fmt: skip
    return dict(
        template="none", paper_bgcolor="white", plot_bgcolor="white", height=height,
        font=dict(size=16, family="Arial, Helvetica, sans-serif", color="#222222"),
        title=dict(text=title, x=0.01, font=dict(size=22), subtitle=dict(text=subtitle, font=dict(size=15, color=GREY))),
        xaxis=axis | dict(title=dict(text=xtitle)), yaxis=axis | dict(title=dict(text=ytitle)),
        # Below the plot, full width: a legend at the side would take a third of a laptop-wide chart.
        legend=dict(orientation="h", yref="container", y=0.01, yanchor="bottom", x=0, font=dict(size=14)),
        hoverlabel=dict(font=dict(size=15)), margin=dict(t=120, l=80, r=30, b=120), annotations=[],
    )  # fmt: skip


def show_empty(layout: dict, text: str) -> None:
    """An empty chart says why it is empty instead of showing meaningless axes."""
    layout["annotations"].append(dict(text=text, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                                      font=dict(size=18, color=GREY)))  # fmt: skip
    for ax in ("xaxis", "yaxis"):
        layout[ax].update(showticklabels=False, showgrid=False, ticks="")


def _finite(*vals) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in vals)


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
    order = sorted((i for i, p in enumerate(points) if _finite(*p)), key=lambda i: (points[i][0], -points[i][1], i))
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


def _colors(labels) -> dict[str, str]:
    """Paper series keep fixed colours; the others take the cycle in sorted order (distinct within a figure)."""
    fixed = {PAPER_GPU: BLUE, PAPER_CPU: VERMILLION}
    labels = set(labels)
    out = {lab: SERIES_CYCLE[i % len(SERIES_CYCLE)] for i, lab in enumerate(sorted(labels - fixed.keys()))}
    return out | {lab: c for lab, c in fixed.items() if lab in labels}


def _ms(v: float) -> str:
    return f"{v:.3g} ms"


def _place_labels(pts: list[tuple[float, float, str]], xlog: bool, zero: bool, plot_px=(820.0, 360.0)) -> list:
    """Greedy label placement on an assumed plot size: for each point the first of eight positions whose
    estimated text box stays inside the plot and hits no other label or marker; None (no label, the name stays
    in the hover) when all are taken."""
    if not pts:
        return []
    w_px, h_px = plot_px

    def scale(vs: list[float], px: float) -> list[float]:  # autorange leaves ~5 % on each side, none at a 0 start
        lo, hi, pad = (min(vs + [0.0]), max(vs), 0.0) if zero else (min(vs), max(vs), 0.05)
        return [px * (pad + (0.95 - pad) * (v - lo) / (hi - lo)) if hi > lo else px / 2 for v in vs]

    X = scale([math.log10(x) if xlog and x > 0 else x for x, _, _ in pts], w_px)
    Y = scale([y for _, y, _ in pts], h_px)
    r, th = 8.0, 18.0  # marker radius, text height in px at 14 px font
    markers = [(x - r, y - r, x + r, y + r) for x, y in zip(X, Y, strict=True)]
    labels, out = [], []
    for i, (x, y) in enumerate(zip(X, Y, strict=True)):
        w = 8.0 * len(pts[i][2])
        # Box centre: beside the marker on the axis it leaves from; diagonal labels start at the marker.
        cands = [(pos, x + hx * (w / 2 + (r if not hy else 0)), y + hy * (th / 2 + (r if not hx else r / 2)))
                 for pos, hx, hy in LABEL_SIDES]  # fmt: skip
        others = labels + markers[:i] + markers[i + 1 :]
        boxes = ((pos, (cx - w / 2, cy - th / 2, cx + w / 2, cy + th / 2)) for pos, cx, cy in cands)
        pos, box = next(((pos, b) for pos, b in boxes if b[0] >= 0 and b[2] <= w_px and b[1] >= 0 and b[3] <= h_px
                         and all(b[2] <= o[0] or b[0] >= o[2] or b[3] <= o[1] or b[1] >= o[3] for o in others)),
                        (None, None))  # fmt: skip
        labels += [box] if box else []
        out.append(pos)
    return out


def _log_ticks(values: list[float]) -> list[float]:
    """1-2-5 ticks: plotly's own log ticks label every minor step, unreadable on a projector."""
    lo, hi = min(values) / 1.3, max(values) * 1.3
    return [m * 10**e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1) for m in (1, 2, 5)
            if lo <= m * 10**e <= hi]  # fmt: skip


def _add(series: dict, label: str, kind: str, x: float, y: float, name: str, hover: str, err=None) -> None:
    s = series.setdefault(label, dict(kind=kind, pts=[]))
    s["pts"].append(dict(x=x, y=y, name=name, hover=f"{hover}<br><i>{label}</i>", err=err or 0.0))


def _point_traces(series: dict, xlog: bool, err_axis: str, legend_suffix=None, zero_based=False) -> list[dict]:
    """One marker trace per series, labels placed over all series (references last: they yield space)."""
    ordered = sorted(series.items(), key=lambda kv: kv[1]["kind"] == "reference")
    flat = [(p["x"], p["y"], p["name"]) for _, s in ordered for p in s["pts"]]
    positions = iter(_place_labels(flat, xlog, zero_based))
    colors = _colors(lab.removesuffix(PAPER_FLOPS) for lab, s in series.items() if s["kind"] != "reference")
    traces = []
    for label, s in ordered:
        pts, (symbol, size) = s["pts"], STYLE[s["kind"]]
        pos = [next(positions) for _ in pts]
        color = s["color"] = GREY if s["kind"] == "reference" else colors[label.removesuffix(PAPER_FLOPS)]
        err = [p["err"] for p in pts]
        traces.append(dict(
            type="scatter", mode="markers+text", legendgroup=label,
            name=label + (legend_suffix(s) if legend_suffix else ""),
            x=[p["x"] for p in pts], y=[p["y"] for p in pts],
            text=[p["name"] if ps else "" for p, ps in zip(pts, pos, strict=True)],
            textposition=[ps or "top center" for ps in pos], textfont=dict(size=14, color="#222222"),
            hovertext=[p["hover"] for p in pts], hovertemplate="%{hovertext}<extra></extra>",
            marker=dict(color=color, symbol=symbol, size=size, opacity=0.8 if s["kind"] == "reference" else 1,
                        line=dict(width=1, color="white")),
            **({f"error_{err_axis}": dict(type="data", array=err, thickness=1.5, width=4)} if any(err) else {}),
        ))  # fmt: skip
    return traces


def _legend_line(name: str, dash: str) -> dict:
    """A legend entry explaining a line style shared by several series."""
    return dict(type="scatter", mode="lines", x=[None], y=[None], name=name, line=dict(dash=dash, width=2, color=GREY))


def paper_points_from_presets(presets: list, device: str = "gpu") -> list[dict]:
    """Tables 3/4 of the paper as chart points: every preset with paper numbers, plus Table 3's ShuffleNet V2."""
    from .presets import paper_reference

    if device not in ("gpu", "cpu"):
        raise ValueError(f"device must be 'gpu' or 'cpu', not {device!r}")
    ref = paper_reference()
    rows = [(d.name, d.meta.get("paper") or {}) for d in presets]
    rows += [(r["name"], {**r, "hardware": ref["hardware"], "table": "Table 3"}) for r in ref["table3"]]
    return [
        dict(name=name, accuracy=p["accuracy_top1"], latency_ms=p[f"{device}_ms"], flops_m=p.get("flops_m"),
             params_m=p.get("params_m"), hardware=p.get("hardware", ""), table=p.get("table", ""),
             series=PAPER_GPU if device == "gpu" else PAPER_CPU)
        for name, p in rows if p.get("accuracy_top1") is not None and p.get(f"{device}_ms") is not None
    ]  # fmt: skip


def reference_points_from_paper(device: str = "gpu") -> list[dict]:
    """Table 2's ImageNet-1k CNNs (one-card GPU or CPU time, per image during training)."""
    from .presets import paper_reference

    key, hw = ("gpu1_ms", "GTX 1060") if device == "gpu" else ("cpu_ms", "3.4 GHz CPU")
    return [
        dict(name=r["name"], accuracy=r["accuracy_top1"], latency_ms=r[key], flops_m=r["flops_m"],
             params_m=r["params_m"], series=f"paper Table 2, ImageNet-1k accuracy ({hw})")
        for r in paper_reference()["table2"]
    ]  # fmt: skip


def accuracy_latency_figure(
    paper_points: list[dict],
    measured_points: list[dict],
    finetune_points: list[dict],
    reference_points: list[dict] | None = None,
    show_reference: bool = False,
) -> go.Figure:
    """Top-1 accuracy [%] against latency [ms per image], one series per provenance, Pareto fronts as steps."""
    series: dict[str, dict] = {}
    notes: list[str] = []
    for p in paper_points or []:
        if _finite(p.get("latency_ms"), p.get("accuracy")):
            src = ", ".join(s for s in (p.get("table"), p.get("hardware")) if s) or "paper"
            hover = (f"<b>{p['name']}</b><br>top-1: {p['accuracy']:.1f} % (ImageNet100, paper)<br>latency: "
                     f"{_ms(p['latency_ms'])} per image<br>FLOPs (paper): {p.get('flops_m')} M · params (paper): "
                     f"{p.get('params_m')} M<br>source: {src}")  # fmt: skip
            label = p.get("series") or f"paper, {p.get('hardware', '')}"
            _add(series, label, "paper", p["latency_ms"], p["accuracy"], p["name"], hover)
    no_acc = [p.get("name", "?") for p in measured_points or [] if not _finite(p.get("accuracy"))]
    if no_acc:
        notes.append("measured, but no accuracy known yet (not drawn): " + ", ".join(no_acc))
    measured = [p for p in measured_points or [] if _finite(p.get("latency_ms"), p.get("accuracy"))]
    for p, label in zip(measured, _measured_labels(measured), strict=True):
        iqr = p["iqr_ms"] if _finite(p.get("iqr_ms")) else None
        hover = (f"<b>{p['name']}</b><br>top-1: {p['accuracy']:.1f} % ({p.get('accuracy_source', 'paper')})<br>"
                 f"latency: {_ms(p['latency_ms'])} per image, median" + (f", IQR {_ms(iqr)}" if iqr else "")
                 + f"<br>batch {p.get('batch', '?')}, {p.get('threads', '?')} threads")  # fmt: skip
        _add(series, label, "measured", p["latency_ms"], p["accuracy"], p["name"], hover, iqr / 2 if iqr else None)
    for p in (q for q in finetune_points or [] if _finite(q.get("accuracy"))):
        if not _finite(p.get("latency_ms")):
            notes.append(f"quick fine-tune without a latency (measure it to place it): {p['name']} ({p['accuracy']:.1f} %)")  # fmt: skip
            continue
        images, minutes = p.get("images"), p.get("minutes")
        budget = (f"{images:,} images" if isinstance(images, int) else "? images") + (
            f", {minutes:.3g} min" if _finite(minutes) else "")  # fmt: skip
        hover = f"<b>{p['name']}</b><br>top-1: {p['accuracy']:.1f} % after a quick fine-tune<br>latency: {_ms(p['latency_ms'])}"
        label = f"quick fine-tune ({budget}, res {p.get('img_size', '?')})"
        _add(series, label, "finetune", p["latency_ms"], p["accuracy"], p["name"], hover)
    if show_reference and not reference_points:
        notes.append("no reference points given")
    for p in (reference_points or []) if show_reference else []:
        if _finite(p.get("latency_ms"), p.get("accuracy")):
            hover = (f"<b>{p['name']}</b><br>top-1: {p['accuracy']:.1f} % on ImageNet-1k (literature; not comparable "
                     f"with ImageNet100)<br>latency: {_ms(p['latency_ms'])} per image during training (paper)")  # fmt: skip
            label = p.get("series") or "paper Table 2, ImageNet-1k accuracy"
            _add(series, label, "reference", p["latency_ms"], p["accuracy"], p["name"], hover)

    xs = [p["x"] for s in series.values() for p in s["pts"]]
    xlog = bool(xs) and min(xs) > 0 and max(xs) / min(xs) > 15
    layout = base_layout(
        "Accuracy vs latency", "Up and to the left is better. Colour and legend say where each number comes from.",
        "latency [ms per image]" + (" (log scale)" if xlog else ""), "top-1 accuracy [%]",
    )  # fmt: skip
    if xlog:
        ticks = _log_ticks(xs)
        layout["xaxis"].update(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    data = _point_traces(series, xlog, "x")
    for label, s in series.items():
        front = [s["pts"][i] for i in pareto_front([(p["x"], p["y"]) for p in s["pts"]])]
        if s["kind"] != "reference" and len(front) >= 2:
            data.append(dict(type="scatter", mode="lines", x=[p["x"] for p in front], y=[p["y"] for p in front],
                             line=dict(shape="hv", dash="dash", width=2, color=s["color"]), legendgroup=label,
                             showlegend=False, hoverinfo="skip"))  # fmt: skip
    if len(data) > len(series):
        data.append(_legend_line("Pareto front (dashed, per series)", "dash"))
    if not xs:
        show_empty(layout, "No points yet: paper numbers, measurements or fine-tunes appear here.")
    if notes:  # under the subtitle: the reader sees what is missing and why
        layout["title"]["subtitle"]["text"] += "".join(f"<br>{n if len(n) < 110 else n[:108] + '…'}" for n in notes)
        layout["margin"]["t"] += 20 * len(notes)
    return go.Figure(data=data, layout=layout)


def flops_latency_figure(points: list[dict], paper_points: list[dict] | None = None) -> go.Figure:
    """Latency against FLOPs (2 x MACs), one series per host/backend/device, r per series, fit through the origin."""
    pts = [p for p in points or [] if _finite(p.get("macs"), p.get("latency_ms"))]
    paper = [p for p in paper_points or [] if _finite(p.get("flops_m"), p.get("latency_ms"))]
    flops = [2 * p["macs"] for p in pts] + [p["flops_m"] * 1e6 for p in paper]
    scale, unit = (1e9, "G") if flops and max(flops) >= 1e10 else (1e6, "M")  # the presets stay in M
    series: dict[str, dict] = {}
    for p, label in zip(pts, _measured_labels(pts), strict=True):
        iqr = p["iqr_ms"] if _finite(p.get("iqr_ms")) else None
        hover = (f"<b>{p['name']}</b><br>FLOPs: {2 * p['macs'] / scale:.4g} {unit} (MACs {p['macs'] / scale:.4g} {unit})"
                 + (f"<br>params: {p['params'] / 1e6:.3g} M" if _finite(p.get("params")) else "")
                 + f"<br>latency: {_ms(p['latency_ms'])} per image" + (f", IQR {_ms(iqr)}" if iqr else ""))  # fmt: skip
        x, err = 2 * p["macs"] / scale, iqr / 2 if iqr else None
        _add(series, label, "measured", x, p["latency_ms"], p["name"], hover, err)
    for p in paper:
        hover = (f"<b>{p['name']}</b><br>FLOPs as the paper reports them: {p['flops_m']:g} M (convention unstated)"
                 f"<br>latency: {_ms(p['latency_ms'])} per image")  # fmt: skip
        label = (p.get("series") or "paper") + PAPER_FLOPS
        _add(series, label, "paper", p["flops_m"] * 1e6 / scale, p["latency_ms"], p["name"], hover)

    layout = base_layout(
        "FLOPs vs latency", "If FLOPs predicted time, every series would be a straight line through the origin.",
        f"FLOPs (2 × MACs) [{unit}]", "latency [ms per image]",
    )  # fmt: skip
    layout["xaxis"]["rangemode"] = layout["yaxis"]["rangemode"] = "tozero"

    def r_suffix(s: dict) -> str:
        r = pearson([p["x"] for p in s["pts"]], [p["y"] for p in s["pts"]]) if len(s["pts"]) >= 3 else None
        return f" · r = {r:.2f}" if r is not None else ""

    data = _point_traces(series, False, "y", r_suffix, zero_based=True)
    for label, s in series.items():
        xs, ys = [p["x"] for p in s["pts"]], [p["y"] for p in s["pts"]]
        sxx = sum(x * x for x in xs)
        if len(xs) >= 2 and sxx > 0:  # least squares through the origin: time = k * FLOPs
            slope, xmax = sum(x * y for x, y in zip(xs, ys, strict=True)) / sxx, max(xs) * 1.08
            data.append(dict(type="scatter", mode="lines", x=[0, xmax], y=[0, slope * xmax], legendgroup=label,
                             showlegend=False, hoverinfo="skip", line=dict(dash="dot", width=1.5, color=s["color"])))  # fmt: skip
    if len(data) > len(series):
        data.append(_legend_line("dotted: best line through the origin (time ∝ FLOPs)", "dot"))
    if not series:
        show_empty(layout, "No measurements yet: use “Measure on this host” to add points.")
    return go.Figure(data=data, layout=layout)


GROUPS = ("stem 3×3 conv", "pointwise 1×1 conv", "depthwise conv", "residual add", "pool + classifier")
GROUP_OF_KIND = {"dwconv": GROUPS[2], "add": GROUPS[3], "pool": GROUPS[4], "linear": GROUPS[4]}


def layer_group(row: dict) -> str:
    if row.get("kind") == "conv":
        return GROUPS[0] if row.get("name") == "stem" else GROUPS[1]
    return GROUP_OF_KIND.get(row.get("kind"), f"other ({row.get('kind')})")


def split_rows(cost, layer_ms: dict[str, float] | None = None) -> list[dict]:
    """Rows for layer_split_figure from an explorer.cost.Cost, with time shares when per-layer ms are given."""
    layer_ms = layer_ms or {}
    total_ms = sum(v for v in layer_ms.values() if _finite(v))
    return [
        dict(name=lc.layer.name, kind=lc.layer.kind, macs_share=lc.macs / cost.macs if cost.macs else 0.0,
             bytes_share=lc.bytes / cost.bytes if cost.bytes else 0.0,
             time_share=layer_ms[lc.layer.name] / total_ms if _finite(layer_ms.get(lc.layer.name)) and total_ms > 0 else None)
        for lc in cost.layers
    ]  # fmt: skip


def layer_split_figure(rows: list[dict], time_label: str | None = None) -> go.Figure:
    """Share of MACs, bytes moved and time per layer type, as grouped horizontal bars (shares renormalised)."""
    sums = {m: defaultdict(float) for m in ("macs_share", "bytes_share", "time_share")}
    missing_time = 0
    for r in rows or []:
        for m in sums:
            if _finite(r.get(m)):
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
        dict(type="bar", orientation="h", name=name, y=order, x=vals[m], marker=dict(color=color),
             text=[f"{v:.1f} %" for v in vals[m]], textposition="outside", textfont=dict(size=14),
             hovertemplate="%{y}: %{x:.1f} % — " + name + "<extra></extra>")
        for m, name, color in bars
    ]  # fmt: skip
    sub = "Red bar longer than blue: that layer type costs more time than its MACs suggest (memory-bound)."
    if not has_time:
        sub = "No time measured yet: measure on this host to add the time share beside the MAC share."
    elif missing_time:
        sub += f" ({missing_time} layers without a time.)"
    layout = base_layout("Where the work and the time go, by layer type", sub, "share of the whole network [%]", "",
                         height=120 + 95 * max(len(order), 2))  # fmt: skip
    layout.update(barmode="group", bargap=0.25, bargroupgap=0.05)
    top = max([v for vs in vals.values() for v in vs] + [1.0])
    right = top * 1.45 + 8 if has_time else top * 1.1 + 8  # room for the value labels and the ratio notes
    layout["xaxis"].update(range=[0, right], tickvals=[v for v in range(0, 101, 20) if v <= right])
    layout["yaxis"].update(autorange="reversed", tickfont=dict(size=16), showgrid=False)
    for g, t, mac in zip(order, vals.get("time_share", []), vals["macs_share"], strict=False):
        if t >= 2 and t >= 1.5 * mac:  # say the ratio out loud where time outruns MACs
            ratio = f"{t:.1f} % of time with no MACs" if mac < 0.05 else f"time {t / mac:.1f}× its MAC share"
            layout["annotations"].append(dict(x=right, y=g, xanchor="right", text=f"<b>{ratio}</b>", showarrow=False,
                                              font=dict(size=15, color=VERMILLION)))  # fmt: skip
    if not order:
        show_empty(layout, "No layers to show.")
    return go.Figure(data=data, layout=layout)
