"""The network picture on the Design page."""

import streamlit as st

from ..design.spec import Design, load_design_text
from ..viz.diagram import network_figure


@st.cache_resource(max_entries=64, show_spinner=False)
def _figure(design_json: str, baseline_json: str | None):
    """Built once per design and baseline: plotly validates every part of a new figure, the largest share of an
    edit's time on the server, and designs come back (an undo, a switch turned off and on again)."""
    design = load_design_text(design_json, origin="session")
    baseline = load_design_text(baseline_json, origin="session") if baseline_json else None
    return network_figure(design, baseline)


def render_diagram(design: Design, baseline: Design | None = None) -> None:
    fig = _figure(design.to_json(), baseline.to_json() if baseline is not None else None)
    st.plotly_chart(fig, width="stretch", theme=None, key="diagram")
    st.caption(
        "One box per block, height ∝ √channels; arcs are residual adds that actually happen (stride 1, same width); "
        "↓2 marks each stride-2 step."
    )
