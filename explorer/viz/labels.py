"""Where a point's name goes: beside its marker, never over another name or marker.

The figures set their axis ranges explicitly, so data maps to pixels exactly here; only the plot's width is
unknown (the page stretches it), so placement assumes a narrow plot: on a wider one, points spread apart
while the text keeps its size, so nothing placed here can collide there.
"""

from __future__ import annotations

import math

# Positions in order of preference, with the side of the marker the text goes to (x, y).
LABEL_SIDES = (
    ("top center", 0, 1),
    ("bottom center", 0, -1),
    ("middle right", 1, 0),
    ("middle left", -1, 0),
    ("top right", 1, 1),
    ("bottom right", 1, -1),
    ("top left", -1, 1),
    ("bottom left", -1, -1),
)
ASSUMED_PLOT_WIDTH_PX = 700.0  # the narrowest plot a laptop shows these charts at
CHAR_PX = 8.5  # average width of a character at the 14 px label font, a little generous
TEXT_PX = 19.0  # height of one label line
MARKER_PX = 9.0  # marker radius, with a margin


def to_pixels(values: list[float], lo: float, hi: float, px: float, log: bool = False) -> list[float]:
    if log:
        values = [math.log10(v) for v in values]
    return [px * (v - lo) / (hi - lo) if hi > lo else px / 2 for v in values]


def label_box(x: float, y: float, name: str, side: str) -> tuple[float, float, float, float]:
    """The text box (x0, y0, x1, y1) in pixels, y upwards, of a label at `side` of a marker at (x, y)."""
    hx, hy = next((hx, hy) for s, hx, hy in LABEL_SIDES if s == side)
    w = CHAR_PX * len(name)
    cx = x + hx * (w / 2 + (MARKER_PX if not hy else 0))
    cy = y + hy * (TEXT_PX / 2 + (MARKER_PX if not hx else MARKER_PX / 2))
    return (cx - w / 2, cy - TEXT_PX / 2, cx + w / 2, cy + TEXT_PX / 2)


def boxes_overlap(a: tuple, b: tuple) -> bool:
    return not (a[2] <= b[0] or a[0] >= b[2] or a[3] <= b[1] or a[1] >= b[3])


def place_labels(
    xs_px: list[float],
    ys_px: list[float],
    names: list[str],
    plot_px: tuple[float, float],
    obstacles: list[tuple[float, float, float, float]] = (),
) -> list:
    """Greedy: for each point the first of eight positions whose text box stays inside the plot and hits no
    label, marker or obstacle (an error bar) placed so far; None (no label, the name stays in the hover) when all
    are taken. Repeated names close together (one model measured twice) get one label."""
    w_px, h_px = plot_px
    markers = [(x - MARKER_PX, y - MARKER_PX, x + MARKER_PX, y + MARKER_PX) for x, y in zip(xs_px, ys_px, strict=True)]
    taken: list[tuple[float, float, float, float]] = []
    placed: list[tuple[str, float, float]] = []
    out: list[str | None] = []
    for i, (x, y, name) in enumerate(zip(xs_px, ys_px, names, strict=True)):
        if any(n == name and abs(px - x) < 60 and abs(py - y) < 30 for n, px, py in placed):
            out.append(None)
            continue
        others = taken + markers[:i] + markers[i + 1 :] + list(obstacles)
        pos = None
        for side, _, _ in LABEL_SIDES:
            box = label_box(x, y, name, side)
            inside = box[0] >= 0 and box[2] <= w_px and box[1] >= 0 and box[3] <= h_px
            if inside and not any(boxes_overlap(box, o) for o in others):
                pos = side
                taken.append(box)
                placed.append((name, x, y))
                break
        out.append(pos)
    return out
