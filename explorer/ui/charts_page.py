"""The paper's charts with the user's own measurements and fine-tunes on them."""

from __future__ import annotations

import streamlit as st

from ..design.presets import all_presets, get_preset
from ..viz.chartdata import datasets, gather
from ..viz.charts import (
    PAPER_DATASET,
    accuracy_latency_figure,
    flops_latency_figure,
    paper_points_from_presets,
    reference_points_from_paper,
)
from .measure_panel import cached_host_info
from .predict_panel import render_flops_gap
from .results_view import open_store, store, store_version

EMPTY = {"measured": [], "flops": [], "finetune": []}


# cache_resource, not cache_data: the same objects are handed out, never unpickled copies (with thousands of
# points, copying them cost more than drawing them). The page only reads them.
@st.cache_resource(max_entries=4, show_spinner=False)
def _points(path: str, version: tuple[int, int], host: str) -> dict:
    """The chart points of the store at `path`, read once per version of the file: reading decodes every stored
    measurement, which grows with the store, while a rerun (a toggle, another page and back) changes nothing."""
    s = open_store(path)
    before = s.skipped_rows
    points = gather(s, host)
    return {"points": points, "skipped": s.skipped_rows - before}


@st.cache_resource(max_entries=16, show_spinner=False)
def _figures(key: tuple | None, dev: str, dataset: str, show_ref: bool, noisy: bool) -> tuple:
    """Both figures, built once per store version and choice of toggles: with thousands of points, placing their
    labels is the page's largest cost, and a click elsewhere on the page changes none of their inputs."""
    pts = _points(*key)["points"] if key else EMPTY
    paper = paper_points_from_presets(all_presets(), dev)
    acc = accuracy_latency_figure(
        paper,
        pts["measured"],
        pts["finetune"],
        reference_points_from_paper(dev),
        show_reference=show_ref,
        include_untrusted=noisy,
        dataset=dataset,
    )
    return acc, flops_latency_figure(pts["flops"], paper, noisy)


def render() -> None:
    st.title("Charts")
    st.caption(
        "The paper's numbers beside yours. Every point says where each coordinate comes from: the paper's "
        "GTX 1060 / 3.4 GHz CPU and its ImageNet100 top-1, or this host's measurement, or a fine-tune here."
    )
    s = store()
    host = cached_host_info()["cpu"]
    read = _points(str(s.path), store_version(s), host) if s else {"points": EMPTY, "skipped": 0}
    pts = read["points"]
    c1, c2, c3 = st.columns(3)
    device = c1.radio(
        "Paper's timings",
        ["CPU (3.4 GHz)", "GPU (GTX 1060)"],
        horizontal=True,
        help="Compare like with like: CPU measurements with the paper's CPU times",
        key="chart_dev",
    )
    dev = "gpu" if device.startswith("GPU") else "cpu"
    dataset = c2.selectbox(
        "Top-1 on",
        datasets(pts),
        key="chart_dataset",
        help="Accuracies on different data (another dataset, another class count) never share an axis",
    )
    show_ref = c3.toggle(
        "Show Table 2 reference CNNs (ImageNet-1k)", key="chart_ref", disabled=dataset != PAPER_DATASET
    )
    noisy = c3.toggle(
        "Count noisy points in fronts",
        key="chart_noisy",
        help="Measurements whose quality verdict is not ok are drawn hollow and left out of Pareto fronts and "
        "fits by default",
    )
    key = (str(s.path), store_version(s), host) if s else None
    acc, flops = _figures(key, dev, dataset, show_ref, noisy)
    st.plotly_chart(acc, width="stretch", theme=None, key="acc_lat")
    st.plotly_chart(flops, width="stretch", theme=None, key="flops_lat")
    with st.expander("Why FLOPs miss the time: SM_V2 against SM_V2_x2nr, explained by the latency model"):
        render_flops_gap(get_preset("SM_V2"), get_preset("SM_V2_x2nr"))
    if not pts["measured"]:
        st.info(
            "No measurements on this host yet: use **Latency on this host** on the Design page, or the Classroom page."
        )
    if read["skipped"]:
        st.warning(f"{read['skipped']} damaged rows of the results store were skipped.")
    if s:
        c1, c2 = st.columns(2)
        # Written when clicked, not on every run: a CSV of thousands of rows decodes every stored result.
        c1.download_button(
            "Latency results (CSV)", lambda: s.to_csv("latency"), file_name="latency.csv", mime="text/csv"
        )
        c2.download_button(
            "Accuracy results (CSV)", lambda: s.to_csv("accuracy"), file_name="accuracy.csv", mime="text/csv"
        )
        st.caption(f"Stored in {s.path} — set EXPLORER_DATA_DIR to keep results elsewhere.")
