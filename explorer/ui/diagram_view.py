"""The network picture on the Design page."""

import streamlit as st

from ..design.spec import Design
from ..viz.diagram import network_figure


def render_diagram(design: Design, baseline: Design | None = None) -> None:
    st.plotly_chart(network_figure(design, baseline), width="stretch", theme=None, key="diagram")
    st.caption(
        "One box per block, height ∝ √channels; arcs are residual adds that actually happen (stride 1, same width); "
        "↓2 marks each stride-2 step."
    )
