"""'Measure on this host': latency of the current design, with the host always named beside the number."""

from __future__ import annotations

import streamlit as st

from ..charts import layer_split_figure, split_rows
from ..cost import compute_cost
from ..latency import available_devices, host_info, measure, physical_cores
from ..layer_latency import layer_breakdown
from ..spec import Design
from .results_view import store

BACKENDS = {"PyTorch (eager)": "torch", "ONNX Runtime": "onnxruntime"}


@st.cache_resource
def _host() -> dict:
    return host_info()  # read once per server: the CPU does not change while the app runs


def host_line(threads: int | None = None) -> str:
    h = _host()
    gpu = f" · GPU: {h['gpu']}" if h.get("gpu") else " · no GPU"
    thr = f" · {threads} threads" if threads else ""
    return f"Host: {h['cpu']} ({h['physical_cores']} cores){gpu}{thr}"


def _progress_bar():
    bar = st.progress(0.0, text="starting…")
    return lambda frac, msg: bar.progress(min(max(frac, 0.0), 1.0), text=msg)


def run_measurement(
    design: Design, backend: str, device: str, batch: int, threads: int, budget: float, per_layer: bool
) -> dict:
    """Measures (and stores) one design; used by this panel and the classroom page. Returns the result dict."""
    st.button(
        "Cancel measurement",
        key=f"cancel::{design.network_hash()}",
        help="Stops the run; measurements already finished are kept",
    )
    result = measure(
        design, backend=backend, device=device, batch=batch, threads=threads, budget_s=budget, progress=_progress_bar()
    )
    out = result.to_dict()
    s = store()
    if s:
        s.add_latency(design, result)
    st.session_state.setdefault("last_latency", {})[design.network_hash()] = out
    if per_layer:
        bd = layer_breakdown(
            design, device=device, threads=threads, batch=batch, budget_s=max(budget, 2.0), progress=_progress_bar()
        )
        st.session_state.setdefault("breakdowns", {})[design.network_hash()] = bd.to_dict()
        st.session_state.setdefault("time_shares", {})[design.network_hash()] = {
            ly["name"]: ly["time_share"] for ly in bd.layers
        }
    return out


def _show_result(design: Design) -> None:
    h = design.network_hash()
    r = st.session_state.get("last_latency", {}).get(h)
    if r is None:
        s = store()
        r = s.latest_latency(h) if s else None
    if r is None:
        st.info("Not measured yet on this host. Press **Measure** — it takes a few seconds.")
        return
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Median latency", f"{r['median_ms']:.2f} ms", help="Median of the timed runs; warm-up excluded")
    c2.metric("IQR", f"{r['iqr_ms']:.2f} ms", help="Interquartile range (p75 − p25) of the runs")
    c3.metric("Per image", f"{r['per_image_ms']:.2f} ms", help=f"batch {r['batch']}")
    c4.metric("Runs", f"{r['runs']}")
    st.caption(
        f"{r['backend']} on {r['device']} ({r['device_name']}), {r['threads']} threads, batch {r['batch']}, {r['input_size']}×{r['input_size']} · measured {r['timestamp']}"
    )
    with st.expander("How this was measured"):
        st.write(r["protocol"])
        for n in r.get("notes") or []:
            st.warning(n)
    bd = st.session_state.get("breakdowns", {}).get(h)
    if bd:
        st.subheader("Where the time goes")
        fig = layer_split_figure(
            split_rows(compute_cost(design), {ly["name"]: ly["time_ms"] for ly in bd["layers"]}),
            time_label=f"measured on {_host()['cpu']} (torch, {bd['device']}, {bd['threads']} threads)",
        )
        st.plotly_chart(fig, width="stretch", theme=None, key="layer_split")
        check = "within" if bd["within_tolerance"] else "OUTSIDE"
        st.caption(
            f"Layers sum to {bd['layers_total_ms']:.2f} ms vs {bd['whole_ms']:.2f} ms for plain runs of the whole network ({bd['difference_pct']:+.1f} %, {check} the ±{bd['tolerance_pct']:.0f} % tolerance)."
        )


def render(design: Design, disabled: bool = False) -> None:
    st.caption(host_line())
    c1, c2, c3, c4, c5 = st.columns(5)
    backend = BACKENDS[c1.selectbox("Backend", list(BACKENDS), key="m_backend")]
    device = c2.selectbox("Device", available_devices(), key="m_device", help="CUDA appears when torch sees a GPU")
    batch = c3.number_input("Batch", min_value=1, max_value=256, value=1, key="m_batch")
    threads = c4.number_input(
        "Threads",
        min_value=1,
        max_value=max(64, physical_cores()),
        value=physical_cores(),
        key="m_threads",
        help="Set explicitly and reported; default = physical cores",
    )
    budget = c5.slider(
        "Seconds", 1.0, 10.0, 2.0, 0.5, key="m_budget", help="Time spent on timed runs (warm-up comes on top)"
    )
    per_layer = st.checkbox(
        "Also split the time per layer (PyTorch only)", key="m_layers", value=False, disabled=backend != "torch"
    )
    if st.button("Measure on this host", type="primary", disabled=disabled, key="m_go"):
        run_measurement(
            design, backend, device, int(batch), int(threads), float(budget), per_layer and backend == "torch"
        )
    if disabled:
        st.caption("Fix the table first: only a valid design can be measured.")
    _show_result(design)
