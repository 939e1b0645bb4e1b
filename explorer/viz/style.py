"""The look every figure shares: palette, projector-sized layout, empty-chart message, small number helpers."""

from __future__ import annotations

import math

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, BLACK = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#56B4E9",
    "#CC79A7",
    "#000000",
)
GREY = "#6E6E6E"
SERIES_CYCLE = (GREEN, ORANGE, PURPLE, SKY, BLACK)  # blue and vermillion are the paper's


def base_layout(title: str, subtitle: str = "", xtitle: str = "", ytitle: str = "", height: int = 600) -> dict:
    """Large, projector-friendly type; the subtitle carries the one sentence a reader needs. No named template:
    copying one costs more than building the rest of the figure (and streamlit's default would replace ours)."""
    axis = dict(showgrid=True, gridcolor="#E3E3E3", showline=True, linecolor="#8C8C8C", ticks="outside", zeroline=False)
    axis["automargin"] = True
    return dict(
        template="none",
        paper_bgcolor="white",
        plot_bgcolor="white",
        height=height,
        font=dict(size=16, family="Arial, Helvetica, sans-serif", color="#222222"),
        title=dict(
            text=title, x=0.01, font=dict(size=22), subtitle=dict(text=subtitle, font=dict(size=15, color=GREY))
        ),
        xaxis=axis | dict(title=dict(text=xtitle)),
        yaxis=axis | dict(title=dict(text=ytitle)),
        # Below the plot, full width: a legend at the side would take a third of a laptop-wide chart.
        legend=dict(orientation="h", yref="container", y=0.01, yanchor="bottom", x=0, font=dict(size=14)),
        hoverlabel=dict(font=dict(size=15)),
        margin=dict(t=120, l=80, r=30, b=120),
        annotations=[],
    )


def show_empty(layout: dict, text: str) -> None:
    """An empty chart says why it is empty instead of showing meaningless axes."""
    note = dict(text=text, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, font=dict(size=18, color=GREY))
    layout["annotations"].append(note)
    for ax in ("xaxis", "yaxis"):
        layout[ax].update(showticklabels=False, showgrid=False, ticks="")


def legend_line(name: str, dash: str) -> dict:
    """A legend entry explaining a line style shared by several series."""
    return dict(type="scatter", mode="lines", x=[None], y=[None], name=name, line=dict(dash=dash, width=2, color=GREY))


def finite(*vals) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in vals)


def ms(v: float) -> str:
    return f"{v:.3g} ms"


def log_ticks(values: list[float]) -> list[float]:
    """1-2-5 ticks: plotly's own log ticks label every minor step, unreadable on a projector."""
    lo, hi = min(values) / 1.3, max(values) * 1.3
    return [
        m * 10**e
        for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
        for m in (1, 2, 5)
        if lo <= m * 10**e <= hi
    ]
