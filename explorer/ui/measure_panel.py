"""'Measure on this host': latency of the current design, with the host always named beside the number.

Every measurement runs through the measurement service (explorer.measure.process polls it: a fresh worker
process, the same protocol and verdict as `bench`), so the app's server never shares the timed window with
the measurement and the app and the CLI give the same number. Each result shows its quality verdict; a
noisy one says why and offers to measure again. The widgets' bounds come from the option layer
(explorer.options), the same ranges the CLI checks.
"""

from __future__ import annotations

import time

import streamlit as st

from ..design.cost import compute_cost
from ..design.spec import Design
from ..errors import UserError
from ..measure.hostinfo import available_devices, host_info, physical_cores
from ..measure.process import MeasureProcess
from ..measure.quality import is_trusted, reasons, verdict
from ..options import BATCH, BUDGET, THREADS
from ..viz.charts import layer_split_figure, split_rows
from . import predict_panel
from .results_view import store
from .widgets import PROGRESS_POLL_S, coarse_progress

BACKENDS = {"PyTorch (eager)": "torch", "ONNX Runtime": "onnxruntime"}
BACKEND_NAMES = {v: k for k, v in BACKENDS.items()}
SPLIT_CONSISTENCY_PCT = 10.0


@st.cache_resource
def cached_host_info() -> dict:
    return host_info()  # read once per server: the CPU does not change while the app runs


def host_line(threads: int | None = None) -> str:
    h = cached_host_info()
    gpu = f" · GPU: {h['gpu']}" if h.get("gpu") else " · no GPU"
    thr = f" · {threads} threads" if threads else ""
    return f"Host: {h['cpu']} ({h['physical_cores']} cores){gpu}{thr}"


def run_measurement(
    design: Design,
    backend: str,
    device: str,
    batch: int,
    threads: int,
    budget: float,
    per_layer: bool,
    purpose: str = "app",
) -> dict | None:
    """Measure (and store) one design through the measurement service; used by this panel and the classroom.

    Returns bench's result dict, or None after showing a one-line error. Clicking Cancel (or anything else)
    re-runs the page, which interrupts this loop: leaving the `with` block terminates the worker.
    """
    h = design.network_hash()
    cancel_slot, bar_slot = st.empty(), st.empty()
    cancel_slot.button(
        "Cancel measurement",
        key=f"cancel::{h}",
        help="Stops the worker; measurements already finished are kept",
    )
    bar = bar_slot.progress(0.0, text="starting a fresh worker process…")
    s = store()
    try:
        with MeasureProcess(
            design,
            backend=backend,
            device=device,
            batch=batch,
            threads=threads,
            budget_s=budget,
            per_layer=per_layer,
            store_path=s.path if s else None,
            purpose=purpose,
        ) as worker:
            shown = (0.0, "starting a fresh worker process…")
            while worker.running():
                events = worker.progress_events()
                if events:
                    shown = coarse_progress(*events[-1])
                bar.progress(shown[0], text=shown[1])  # also where a Cancel click lands
                time.sleep(PROGRESS_POLL_S)
            out = worker.wait()
    except UserError as e:
        st.session_state.setdefault("measure_errors", {})[h] = str(e).splitlines()[0]
        return None
    finally:
        cancel_slot.empty()
        bar_slot.empty()
    errors = st.session_state.setdefault("measure_errors", {})
    errors.pop(h, None)
    if out.get("store_error"):  # measured, shown below, but the store said no: say why
        errors[h] = out["store_error"]
    st.session_state.setdefault("last_latency", {})[h] = out
    breakdown = out.get("layers")
    if breakdown:
        st.session_state.setdefault("breakdowns", {})[h] = breakdown
        st.session_state.setdefault("time_shares", {})[h] = {ly["name"]: ly["time_share"] for ly in breakdown["layers"]}
    return out


def _quality_notice(design: Design, r: dict, key: str) -> None:
    v = verdict(r)
    if v == "ok":
        q = r["quality"]
        other = q.get("other_cpu_cores")
        load = f", other processes used {other:.2f} cores" if other is not None else ""
        st.caption(
            f"Quality: ok — spread {q.get('dispersion', 0) * 100:.0f} % of the median, median known to "
            f"±{q.get('median_ci95_pct', 0):.1f} %{load}."
        )
        return
    why = "; ".join(reasons(r))
    st.warning(f"**Noisy measurement — do not trust this number.** {why}", icon=":material/warning:")
    if st.button("Measure again", key=f"again::{key}", help="Close other busy programs first"):
        st.session_state["measure_again"] = True
        st.rerun()


def _backend_ratio(design: Design, r: dict) -> None:
    """When both backends were measured for this design under the same conditions, say which is faster."""
    s = store()
    if not s:
        return
    key = dict(device=r["device"], batch=r["batch"], threads=r["threads"], input_size=r["input_size"])
    latest = {b: s.latest_latency(design.network_hash(), backend=b, **key) for b in BACKENDS.values()}
    if not all(latest.values()):
        return
    if not all(is_trusted(x) for x in latest.values()):  # never a ratio drawn from noisy numbers
        st.caption("Both backends were measured, but not both cleanly: no ratio drawn from noisy numbers.")
        return
    torch_ms, ort_ms = latest["torch"]["median_ms"], latest["onnxruntime"]["median_ms"]
    fast, slow = ("onnxruntime", "torch") if ort_ms < torch_ms else ("torch", "onnxruntime")
    ratio = max(torch_ms, ort_ms) / min(torch_ms, ort_ms)
    st.info(
        f"**{BACKEND_NAMES[fast]} is {ratio:.1f}× faster than {BACKEND_NAMES[slow]} for this design on this host** "
        f"({min(torch_ms, ort_ms):.2f} vs {max(torch_ms, ort_ms):.2f} ms, {r['threads']} threads, batch {r['batch']})."
    )


def _short_ms(ms: float) -> str:
    """Three significant figures at most: 4.37, 43.7, 437."""
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def _show_result(design: Design) -> None:
    h = design.network_hash()
    err = st.session_state.get("measure_errors", {}).get(h)
    if err:
        st.error(f"Measurement failed: {err}")
    r = st.session_state.get("last_latency", {}).get(h)
    if r is None:
        s = store()
        r = s.latest_latency(h) if s else None
    if r is None:
        st.info("Not measured yet on this host. Press **Measure** — it takes a few seconds.")
        return
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        "Median latency",
        f"{r['median_ms']:.2f} ms",
        delta=None if is_trusted(r) else "noisy",
        delta_color="off",
        delta_arrow="off",  # a verdict, not a direction
        help="Median of the timed runs, measured in a fresh worker process; warm-up excluded",
    )
    c2.metric(
        "p25–p75",
        f"{_short_ms(r.get('p25_ms', 0))}–{_short_ms(r.get('p75_ms', 0))} ms",  # fits its quarter of the row
        help="Middle half of the timed runs",
    )
    c3.metric("Per image", f"{r['per_image_ms']:.2f} ms", help=f"batch {r['batch']}")
    c4.metric("Runs", f"{r['runs']}")
    st.caption(
        f"{r['backend']} on {r['device']} ({r['device_name']}), {r['threads']} threads, batch {r['batch']}, "
        f"{r['input_size']}×{r['input_size']} · measured {r['timestamp']}"
    )
    _quality_notice(design, r, h)
    _backend_ratio(design, r)
    with st.expander("How this was measured"):
        st.text(r["protocol"])
        for n in r.get("notes") or []:
            st.warning(n)
    bd = st.session_state.get("breakdowns", {}).get(h)
    if bd:
        _show_split(design, r, bd)


def _show_split(design: Design, r: dict, bd: dict) -> None:
    """One network, one story: the headline is the whole-network median; layer times are for shares."""
    st.subheader("Where the time goes")
    fig = layer_split_figure(
        split_rows(compute_cost(design), {ly["name"]: ly["time_ms"] for ly in bd["layers"]}),
        time_label=f"measured on {cached_host_info()['cpu']} (torch, {bd['device']}, {bd['threads']} threads)",
    )
    st.plotly_chart(fig, width="stretch", theme=None, key="layer_split")
    headline, plain = r["median_ms"], bd["whole_ms"]
    drift = abs(plain - headline) / headline * 100 if headline else 0.0
    story = (
        f"The headline, **{headline:.2f} ms**, is the whole network timed alone: trust it for the total. "
        f"Layer times come from runs with a timing hook on every layer, alternated with plain runs of the "
        f"whole network ({plain:.2f} ms in the same window). Hooked layers add up to {bd['layers_total_ms']:.2f} ms "
        f"({bd['difference_pct']:+.0f} % vs those plain runs): read the bars as **shares** of the time."
    )
    if drift > SPLIT_CONSISTENCY_PCT or not bd["within_tolerance"]:
        st.warning(
            story + f" The split is approximate here (plain runs {drift:.0f} % off the headline, or layers "
            f"{bd['difference_pct']:+.0f} % off the whole): measure again on a quiet host for exact shares.",
            icon=":material/info:",
        )
    else:
        st.caption(story)


def render(design: Design, blocked: str | None = None) -> None:
    """The panel; `blocked` is why this design cannot be measured (an invalid table, over the cost cap)."""
    disabled = bool(blocked)
    st.caption(host_line())
    c1, c2, c3, c4, c5 = st.columns(5)
    backend = BACKENDS[c1.selectbox("Backend", list(BACKENDS), key="m_backend")]
    device = c2.selectbox("Device", available_devices(), key="m_device", help="CUDA appears when torch sees a GPU")
    batch = c3.number_input(
        "Batch", min_value=int(BATCH.lo), max_value=int(BATCH.hi), value=BATCH.default, key="m_batch", help=BATCH.help
    )
    threads = c4.number_input(
        "Threads",
        min_value=int(THREADS.lo),
        max_value=int(THREADS.hi),
        value=physical_cores(),
        key="m_threads",
        help=f"{THREADS.help}: set explicitly and reported; default = physical cores",
    )
    budget = c5.slider(
        "Seconds",
        max(1.0, BUDGET.lo),
        min(10.0, BUDGET.hi),  # the CLI allows up to 60 s; a page waits for at most 10
        BUDGET.default,
        0.5,
        key="m_budget",
        help="Time spent on timed runs; a fresh worker's start-up and the warm-up (20 % of this) come on top",
    )
    per_layer = st.checkbox(
        "Also split the time per layer (PyTorch only)", key="m_layers", value=False, disabled=backend != "torch"
    )
    again = st.session_state.pop("measure_again", False)
    if (st.button("Measure on this host", type="primary", disabled=disabled, key="m_go") or again) and not disabled:
        run_measurement(
            design, backend, device, int(batch), int(threads), float(budget), per_layer and backend == "torch"
        )
    if blocked:
        st.caption(blocked)
    _show_result(design)
    if not disabled:
        _show_prediction(design, backend, device, int(batch), int(threads))


def _show_prediction(design: Design, backend: str, device: str, batch: int, threads: int) -> None:
    """The latency model beside the measurement: why each layer takes its time, and the paper's hardware."""
    st.subheader("Predicted on this host, and why")
    profile = predict_panel.current_profile(backend, device, threads, batch)
    h = design.network_hash()
    measured = st.session_state.get("last_latency", {}).get(h)
    same_target = measured and (measured["backend"], measured["threads"], measured["batch"]) == (
        backend,
        threads,
        batch,
    )
    prediction = predict_panel.render_predicted_metric(
        design, None, profile, measured_ms=measured["median_ms"] if same_target else None
    )
    bd = st.session_state.get("breakdowns", {}).get(h)
    layer_ms = {ly["name"]: ly["time_ms"] for ly in bd["layers"]} if bd and backend == "torch" else None
    predict_panel.render_roofline(prediction, profile, layer_ms)
    predict_panel.render_paper_hardware(design)
    predict_panel.render_calibrate(backend, device, threads, batch)
