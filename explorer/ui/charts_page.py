"""The paper's charts with the user's own measurements and fine-tunes on them."""

from __future__ import annotations

import streamlit as st

from ..chartdata import gather
from ..charts import (
    accuracy_latency_figure,
    flops_latency_figure,
    paper_points_from_presets,
    reference_points_from_paper,
)
from ..presets import all_presets
from .measure_panel import _host
from .results_view import store


def render() -> None:
    st.title("Charts")
    st.caption(
        "The paper's numbers beside yours. Every point says where it comes from: the paper's GTX 1060 / 3.4 GHz CPU, or this host."
    )
    s = store()
    host = _host()["cpu"]
    pts = gather(s, host) if s else {"measured": [], "flops": [], "finetune": []}
    c1, c2 = st.columns(2)
    device = c1.radio(
        "Paper's timings",
        ["CPU (3.4 GHz)", "GPU (GTX 1060)"],
        horizontal=True,
        help="Compare like with like: CPU measurements with the paper's CPU times",
        key="chart_dev",
    )
    dev = "gpu" if device.startswith("GPU") else "cpu"
    show_ref = c2.toggle("Show Table 2 reference CNNs (ImageNet-1k)", key="chart_ref")
    fig = accuracy_latency_figure(paper_points_from_presets(all_presets(), dev), pts["measured"], pts["finetune"],
                                  reference_points_from_paper(dev), show_reference=show_ref)  # fmt: skip
    st.plotly_chart(fig, width="stretch", theme=None, key="acc_lat")
    st.plotly_chart(
        flops_latency_figure(pts["flops"], paper_points_from_presets(all_presets(), dev)),
        width="stretch",
        theme=None,
        key="flops_lat",
    )
    if not pts["measured"]:
        st.info(
            "No measurements on this host yet: use **Latency on this host** on the Design page, or the Classroom page."
        )
    if s:
        c1, c2 = st.columns(2)
        c1.download_button("Latency results (CSV)", s.to_csv("latency"), file_name="latency.csv", mime="text/csv")
        c2.download_button("Accuracy results (CSV)", s.to_csv("accuracy"), file_name="accuracy.csv", mime="text/csv")
        st.caption(f"Stored in {s.path} — set EXPLORER_DATA_DIR to keep results elsewhere.")
