"""A projector-friendly picture of a design: one box per block, skip connections as arcs, stride-2 steps marked.

Boxes are plotly bars (so hovering anywhere on a box shows its numbers) with height ∝ √channels: a linear
scale would flatten 16 channels next to 1280, a log scale would make 1280 look barely taller than 320.
Arcs (one per residual add that actually happens) and stride markers are layout shapes named "skip ..." and
"stride ..." so callers and tests can find them.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go

from ..design.cost import compute_cost
from ..design.plan import blocks, conv_out
from ..design.spec import Design
from ..fmt import si, size
from .style import BLACK, BLUE, GREEN, GREY, ORANGE, PURPLE, SKY, VERMILLION, base_layout

# Ten distinct colours (Okabe-Ito, then Tol's muted wine, teal, olive and yellow): MobileNet V2's seven stages
# and every preset never share one; longer tables repeat only after ten.
STAGE_COLORS = (BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, "#882255", "#44AA99", "#999933", "#DDCC77")
FIXED_COLOR = "#4D4D4D"  # stem, last conv, classifier: not part of the editable table
BAR_WIDTH = 0.72
MAX_LABELLED_BLOCKS = 30  # beyond this, only the first block of each stage gets a tick label
# The diagram always spans the page's main column: about 800 px of plot on a 1280 px laptop screen.
PLOT_WIDTH_PX = 800.0
TICK_CHAR_PX = 7.3  # Arial's digits and most lower-case letters are 0.56 em wide; tick labels are 13 px
STEP_CHAR_PX = 8.0  # the stride-step labels at 14 px
LABEL_GAP_PX = 4.0


def text_width(text: str, char_px: float) -> float:
    return max(len(line) for line in text.replace("<b>", "").replace("</b>", "").split("<br>")) * char_px


def fitting_labels(items: list[tuple[float, str, int]], x_range: tuple[float, float], char_px: float) -> list[bool]:
    """Which labels (x, text, rank) to draw so that none touches another on a narrow plot: rank 0 first (left
    to right), then rank 1, and so on, each where it still fits."""
    lo, hi = x_range
    spans = [
        ((x - lo) / (hi - lo) * PLOT_WIDTH_PX, text_width(text, char_px) / 2 + LABEL_GAP_PX / 2) for x, text, _ in items
    ]
    keep = [False] * len(items)
    for wanted in sorted({rank for _, _, rank in items}):
        for i, (_, text, rank) in enumerate(items):
            if rank != wanted or not text:
                continue
            c, half = spans[i]
            if all(abs(c - spans[j][0]) >= half + spans[j][1] for j in range(len(items)) if keep[j]):
                keep[i] = True
    return keep


def _pct(new: float, old: float) -> str:
    return f"{(new - old) / old * 100:+.1f} %".replace("-", "−") if old else "n/a"


def _hover(title: str, lines: list[str]) -> str:
    return f"<b>{title}</b><br>" + "<br>".join(lines)


class _Figure:
    """What the drawing steps of network_figure collect: boxes, tick labels, shapes and annotations."""

    def __init__(self, design: Design):
        self.design = design
        self.cost = compute_cost(design)
        self.by_name = {lc.layer.name: lc for lc in self.cost.layers}
        self.per_block: dict[str, list] = {}
        for lc in self.cost.layers:
            if lc.layer.block:
                self.per_block.setdefault(lc.layer.block, []).append(lc)
        self.ticks: list[
            tuple[int, str, int]
        ] = []  # (x, label, rank: 0 stem and head, 1 a stage's first block, 2 others)
        self.heights: list[float] = []
        self.shapes: list[dict] = []
        self.annotations: list[dict] = []
        # Few traces keep the build fast: one for the fixed layers, one for all the light "after expansion" boxes,
        # and one solid trace per stage (that one carries the stage's legend entry).
        self.fixed = dict(x=[], y=[], hovertext=[], names=[])
        self.light = dict(x=[], y=[], color=[], hovertext=[])
        self.stage_traces: list[dict] = []
        self.arcs: list[tuple] = []  # (x, top of the box, block, add layer)
        self.strides: list[tuple[float, int, int]] = []  # (x, size in, size out)

    def fixed_bar(self, x: int, channels: int, name: str, hover: str, tick: str) -> None:
        self.heights.append(math.sqrt(channels))
        self.ticks.append((x, tick, 0))
        for key, v in zip(("x", "y", "hovertext", "names"), (x, math.sqrt(channels), hover, name), strict=True):
            self.fixed[key].append(v)


def stage_color(index: int) -> str:
    return STAGE_COLORS[index % len(STAGE_COLORS)]


def network_figure(design: Design, baseline: Design | None = None) -> go.Figure:
    """The network as boxes left to right: stem, every bottleneck block, last 1×1 conv, pool + classifier."""
    f = _Figure(design)
    _stem(f)
    last_x = _blocks(f)
    last_x = _head(f, last_x + 1)
    data = _traces(f)
    top = max(f.heights)
    _skip_arcs(f, data, top)
    x_range = (-0.9, last_x + 0.6)
    _stride_marks(f, top, x_range)
    return go.Figure(data=data, layout=_layout(f, baseline, top, x_range))


def _stem(f: _Figure) -> None:
    design, stem = f.design, f.by_name["stem"]
    h_stem = conv_out(design.input_size, 3, 2)
    f.strides.append((-0.5, design.input_size, h_stem))
    f.fixed_bar(
        0,
        design.stem_channels,
        "stem",
        _hover(
            "stem",
            [
                f"3×3 conv, stride 2: 3 → {design.stem_channels} channels",
                f"output {h_stem}×{h_stem}",
                f"params {si(stem.params)} · MACs {si(stem.macs)}",
            ],
        ),
        f"stem<br>c{design.stem_channels}<br>s2",
    )


def _block_hover(b, lcs, dw) -> str:
    act = "ReLU6" if b.out_act == "relu6" else "linear"
    return _hover(
        b.name,
        [
            f"channels {b.cin} → {b.hidden} → {b.cout} (in → expanded → out)"
            if b.expand
            else f"channels {b.cin} → {b.cout} (t = 1: no expansion conv)",
            f"depthwise {b.kernel}×{b.kernel}, stride {b.stride} · output {dw.h_out}×{dw.h_out}",
            f"skip: {'residual add' if b.skip else 'none'} · output activation: {act}",
            f"params {si(sum(lc.params for lc in lcs))} · MACs {si(sum(lc.macs for lc in lcs))}",
        ],
    )


def _blocks(f: _Figure) -> int:
    """Solid = block output (one trace per stage), light = channels inside the block (the shared trace).
    Returns the x of the last block."""
    plan = blocks(f.design)
    members_of: dict[int, list] = {}
    for x, b in enumerate(plan, start=1):
        members_of.setdefault(b.stage, []).append((x, b))
    many = len(plan) > MAX_LABELLED_BLOCKS
    for index, members in members_of.items():
        stage = f.design.stages[index]
        color = stage_color(index)
        xs, hidden_h, out_h, hovers = [], [], [], []
        for j, (x, b) in enumerate(members):
            lcs = f.per_block[b.name]
            dw = next(lc.layer for lc in lcs if lc.layer.kind == "dwconv")
            if b.stride == 2:
                f.strides.append((x - 0.5, dw.h_in, dw.h_out))
            hovers.append(_block_hover(b, lcs, dw))
            xs.append(x)
            hidden_h.append(math.sqrt(b.hidden))
            out_h.append(math.sqrt(b.cout))
            f.heights.append(max(hidden_h[-1], out_h[-1]))
            label = f"t{stage.t}<br>c{b.cout}<br>s{b.stride}" + (f" k{b.kernel}" if b.kernel != 3 else "")
            f.ticks.append((x, label if (j == 0 or not many) else "", 1 if j == 0 else 2))
            if b.skip:
                f.arcs.append((x, f.heights[-1], b, next(lc for lc in lcs if lc.layer.kind == "add")))
        f.light["x"] += xs
        f.light["y"] += hidden_h
        f.light["color"] += [color] * len(xs)
        f.light["hovertext"] += hovers
        f.stage_traces.append(
            dict(
                type="bar",
                x=xs,
                y=out_h,
                width=BAR_WIDTH,
                marker=dict(color=color),
                hovertext=hovers,
                hovertemplate="%{hovertext}<extra></extra>",
                # Stages count from 1 here, as in the editor's problem lines.
                name=f"stage {index + 1}: t{stage.t} c{stage.c} n{stage.n} s{stage.s}"
                + ("" if stage.skip else ", no skip"),
            )
        )
    return len(plan)


def _head(f: _Figure, x: int) -> int:
    """The last 1×1 conv (when there is one) and pool + classifier; returns the x of the last box."""
    design = f.design
    c = design.stages[-1].c
    h = f.by_name["pool"].layer.h_in
    if design.last_conv:
        lc = f.by_name["last_conv"]
        f.fixed_bar(
            x,
            design.last_conv,
            f"last 1×1 conv ({design.last_conv})",
            _hover(
                "last_conv",
                [
                    f"1×1 conv {c} → {design.last_conv} channels, output {h}×{h}",
                    f"params {si(lc.params)} · MACs {si(lc.macs)}",
                ],
            ),
            f"1×1<br>c{design.last_conv}<br>s1",
        )
        c, x = design.last_conv, x + 1
    fc = f.by_name["classifier"]
    f.fixed_bar(
        x,
        design.num_classes,
        "pool + classifier",
        _hover(
            "pool + classifier",
            [
                f"global average pool {h}×{h} → 1×1",
                f"linear {c} → {design.num_classes}",
                f"params {si(fc.params)} · MACs {si(fc.macs)}",
            ],
        ),
        f"pool<br>FC<br>{design.num_classes}",
    )
    return x


def _traces(f: _Figure) -> list[dict]:
    hover = "%{hovertext}<extra></extra>"
    return [  # light boxes first: in overlay mode the later traces are drawn on top
        dict(
            type="bar",
            x=f.light["x"],
            y=f.light["y"],
            width=BAR_WIDTH,
            showlegend=False,
            hovertext=f.light["hovertext"],
            hovertemplate=hover,
            marker=dict(color=f.light["color"], opacity=0.3),
        ),
        *f.stage_traces,
        dict(
            type="bar",
            x=f.fixed["x"],
            y=f.fixed["y"],
            width=BAR_WIDTH,
            name=", ".join(f.fixed["names"]),
            hovertext=f.fixed["hovertext"],
            hovertemplate=hover,
            marker=dict(color=FIXED_COLOR),
        ),
    ]


ARC_RISE = 0.24  # of the tallest box: arcs clear the boxes without reaching the stride labels
LABEL_Y = 1.42  # the stride labels' height, of the tallest box
STRIDE_LINE_TOP = 1.32
Y_TOP = 1.55  # the y axis' top, room for the labels


def _skip_arcs(f: _Figure, data: list[dict], top: float) -> None:
    """One arc per residual add that happens, and a marker at each apex (hover target and legend entry)."""
    rise = ARC_RISE * top
    for bx, box_top, b, _ in f.arcs:
        base = box_top + 0.03 * top
        f.shapes.append(
            dict(
                type="path",
                name=f"skip {b.name}",
                layer="above",
                line=dict(color=BLACK, width=2.5),
                path=f"M {bx - BAR_WIDTH / 2},{base} Q {bx},{base + rise} {bx + BAR_WIDTH / 2},{base}",
            )
        )
    if not f.arcs:
        return
    data.append(
        dict(
            type="scatter",
            mode="markers",
            name="skip connection (residual add)",
            x=[a[0] for a in f.arcs],
            y=[a[1] + 0.03 * top + rise / 2 for a in f.arcs],
            marker=dict(color=BLACK, size=7),
            hovertext=[
                _hover(
                    f"{b.name}.add",
                    [
                        f"residual add: re-reads the block input, {b.cout}×{add.layer.h_out}×{add.layer.h_out} "
                        f"({size(add.read_bytes / 2)}), from memory",
                        "0 MACs, but time: it is memory-bound",
                    ],
                )
                for _, _, b, add in f.arcs
            ],
            hovertemplate="%{hovertext}<extra></extra>",
        )
    )


def _stride_marks(f: _Figure, top: float, x_range: tuple[float, float]) -> None:
    """A dashed line at each stride-2 step, labelled ↓2 with the sizes where they fit (else in the hover)."""
    steps = [(sx, f"<b>↓2</b><br>{h_in}→{h_out}", 0) for sx, h_in, h_out in f.strides]
    roomy = fitting_labels(steps, x_range, STEP_CHAR_PX)
    for (sx, h_in, h_out), (_, text, _), fits in zip(f.strides, steps, roomy, strict=True):
        f.shapes.append(
            dict(
                type="line",
                name=f"stride {h_in}->{h_out}",
                x0=sx,
                x1=sx,
                y0=0,
                y1=STRIDE_LINE_TOP * top,
                line=dict(color=GREY, width=2, dash="dash"),
            )
        )
        f.annotations.append(
            dict(
                x=sx,
                y=LABEL_Y * top,
                text=text if fits else "<b>↓2</b>",
                hovertext=f"{h_in}→{h_out}",
                showarrow=False,
                font=dict(size=14, color=BLACK),
                yanchor="middle",
            )
        )


def _layout(f: _Figure, baseline: Design | None, top: float, x_range: tuple[float, float]) -> dict:
    design, cost = f.design, f.cost
    sub = (
        "height ∝ √channels (solid: block output, light: after expansion)<br>"
        "arcs: skip connections · ↓2: stride 2 · hover a box for its numbers"
    )
    if baseline is not None:
        bc = compute_cost(baseline)
        sub += f"<br>vs {baseline.name}: params {_pct(cost.params, bc.params)}, MACs {_pct(cost.macs, bc.macs)}"
    layout = base_layout(
        f"{design.name}: {si(cost.params)} params · {si(cost.macs)} MACs ({si(cost.flops)} FLOPs) · "
        f"input {design.input_size}×{design.input_size}",
        sub,
        "",
        "channels (√ scale)",
        height=560,
    )
    # Powers of 4 (evenly spaced on a √ axis), dropping those crammed at the bottom.
    tickvals = [v for v in (1, 4, 16, 64, 256, 1024, 4096, 16384) if 0.09 * top <= math.sqrt(v) <= 1.1 * top] or [1]
    layout["yaxis"].update(
        range=[0, Y_TOP * top],
        tickvals=[math.sqrt(v) for v in tickvals],
        ticktext=[str(v) for v in tickvals],
        showgrid=True,
    )
    shown = fitting_labels(f.ticks, x_range, TICK_CHAR_PX)
    layout["xaxis"].update(
        tickvals=[t[0] for t in f.ticks],
        ticktext=[t[1] if keep else "" for t, keep in zip(f.ticks, shown, strict=True)],
        tickfont=dict(size=13),
        tickangle=0,
        range=list(x_range),
        showgrid=False,
        ticks="",
    )
    layout.update(barmode="overlay", shapes=f.shapes, annotations=f.annotations, bargap=0)
    layout["margin"].update(t=150 if baseline is not None else 125)
    return layout
