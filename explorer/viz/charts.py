"""The app's charts, one module per chart family; this module names them all in one place.

- explorer.viz.style: palette, projector-sized layout, empty-chart message
- explorer.viz.labels: point labels that never overlap
- explorer.viz.scatter: accuracy vs latency and FLOPs vs latency, drawn by explorer.viz.scatter_series
- explorer.viz.provenance: the paper's points, and the label, spread and quality verdict of every point
- explorer.viz.fits: Pareto fronts and correlation
- explorer.viz.layer_split: where the work and the time go, by layer type

Pure functions over plain data (lists of dicts), no I/O, no streamlit: the app passes the figures to
st.plotly_chart.
"""

from .fits import pareto_front, pearson
from .layer_split import GROUPS, layer_group, layer_split_figure, split_rows
from .provenance import (
    PAPER_CPU,
    PAPER_DATASET,
    PAPER_GPU,
    measured_label,
    paper_points_from_presets,
    reference_points_from_paper,
    with_quality,
)
from .scatter import accuracy_latency_figure, flops_latency_figure
from .style import BLACK, BLUE, GREEN, GREY, ORANGE, PURPLE, SKY, VERMILLION, base_layout, show_empty

__all__ = [
    "BLACK",
    "BLUE",
    "GREEN",
    "GREY",
    "GROUPS",
    "ORANGE",
    "PAPER_CPU",
    "PAPER_DATASET",
    "PAPER_GPU",
    "PURPLE",
    "SKY",
    "VERMILLION",
    "accuracy_latency_figure",
    "base_layout",
    "flops_latency_figure",
    "layer_group",
    "layer_split_figure",
    "measured_label",
    "paper_points_from_presets",
    "pareto_front",
    "pearson",
    "reference_points_from_paper",
    "show_empty",
    "split_rows",
    "with_quality",
]
