"""Predicted latency on this host: the metric (with its band and delta), the calibrate button, the roofline.

Small render functions for the pages to place. Prediction is arithmetic over the cost model (well under the
20 ms a table edit may spend); the profile is read from the results store once and kept in the session until
a calibration replaces it. Calibration runs explorer.predict.calibrate in a background job (explorer.ui.jobs):
its networks are timed by the measurement service in fresh worker processes, so the app server stays out of
the timed windows; any click (Cancel included) re-runs the page, which stops the job and its worker (nothing
is stored). A finished calibration replaces the session's profile and re-runs the page, so the prediction
and the button show the calibrated state at once, with how many networks were measured and set aside.
"""

from __future__ import annotations

import time

import streamlit as st

from ..design.spec import Design
from ..predict import predict
from ..predict.explain import explain_gap
from ..predict.features import PARAMETER_NAMES
from ..predict.paper import paper_hardware_prediction
from ..predict.profile import calibrate_command, profile_key
from ..viz.roofline import roofline_figure
from .jobs import Job
from .results_view import store
from .widgets import PROGRESS_POLL_S, coarse_progress, delta_text


@st.cache_resource
def _key(backend: str, device: str, threads: int, batch: int) -> dict:
    return profile_key(backend, device, threads, batch)  # host and versions do not change while the app runs


def current_profile(backend: str, device: str, threads: int, batch: int) -> dict | None:
    """The stored profile for this target, read once per session (and again after a calibration)."""
    cache = st.session_state.setdefault("latency_profiles", {})
    slot = (backend, device, threads, batch)
    if slot not in cache:
        s = store()
        cache[slot] = s.latest_profile(_key(*slot), PARAMETER_NAMES) if s else None  # lacking one: damaged
    return cache[slot]


def prediction_for(design: Design, profile: dict | None) -> dict | None:
    return predict(design, profile) if profile else None


def render_predicted_metric(
    design: Design,
    baseline: Design | None,
    profile: dict | None,
    measured_ms: float | None = None,
    where=None,
    band_in_value: bool = True,
) -> dict | None:
    """The 'predicted latency on this host' metric; returns the prediction (for the layer table and chart).
    band_in_value=False: the caller states the band elsewhere (a narrow column would cut the value short)."""
    where = where or st
    if profile is None:
        where.metric("Predicted latency", "—", help="Calibrate this host first (button below).")
        return None
    pred = predict(design, profile)
    band = pred["band_pct"]
    value = f"{pred['predicted_ms']:.2f} ms" + (f" ±{band:.0f}%" if band is not None and band_in_value else "")
    delta, same = None, False
    if baseline is not None and baseline.network_hash() != design.network_hash():
        base = predict(baseline, profile)["predicted_ms"]
        # As the other metrics of the row: the change and its share; the row's caption names the baseline.
        delta = delta_text(pred["predicted_ms"], base, fmt=lambda ms: f"{ms:.2f} ms")
        same = pred["predicted_ms"] == base
    prof = pred["profile"]
    helptext = (
        "Latency model calibrated on this host "
        f"({prof['backend']}, {prof['threads']} threads, batch {prof['batch']}, "
        f"{prof['created']}). ±band: 90th-percentile error on calibration networks the fit did not see. "
        f"Compute {pred['compute_ms']:.2f} ms, memory {pred['memory_ms']:.2f} ms, "
        f"overhead {pred['overhead_ms']:.2f} ms."
    )
    if measured_ms:
        helptext += (
            f" Measured: {measured_ms:.2f} ms ({(pred['predicted_ms'] - measured_ms) / measured_ms * 100:+.0f} %)."
        )
    arrow, colour = ("off", "off") if same else ("auto", "inverse")  # an unchanged value has no direction
    where.metric("Predicted latency", value, delta, delta_color=colour, delta_arrow=arrow, help=helptext)
    return pred


def layer_columns(prediction: dict | None) -> dict[str, dict]:
    """{layer name: {"predicted ms", "bound"}} for the per-layer table."""
    if not prediction:
        return {}
    return {
        ly["name"]: {"predicted ms": round(ly["predicted_ms"], 4), "bound": ly["bound"]} for ly in prediction["layers"]
    }


def render_paper_hardware(design: Design, where=None) -> None:
    """The paper's CPU and GPU beside this host, labelled with their leave-one-out error (never hidden)."""
    where = where or st
    for machine in paper_hardware_prediction(design).values():
        line = f"**{machine['predicted_ms']:.2f} ms** on {machine['label']}"
        (where.warning if machine["poor_fit"] else where.caption)(line)


def render_roofline(prediction: dict | None, profile: dict | None, measured_ms: dict | None = None) -> None:
    if not prediction or not profile:
        st.info("Calibrate this host to see each layer on its roofline.")
        return
    st.plotly_chart(roofline_figure(prediction, profile.get("roofs"), measured_ms), width="stretch")


def render_calibrate(backend: str, device: str, threads: int, batch: int, seconds: float = 60.0) -> None:
    """'Calibrate this host': progress bar and Cancel; the new profile replaces the session's on success."""
    slot = (backend, device, threads, batch)
    done = st.session_state.setdefault("calibration_done", {}).pop(slot, None)
    if done:
        st.success(done)
    profile = current_profile(backend, device, threads, batch)
    label = "Calibrate this host" if profile is None else "Calibrate again"
    if profile is None:
        st.caption(
            f"No latency profile yet for {backend}, {threads} threads, batch {batch}. "
            f"From a shell: `{calibrate_command(backend, device, threads, batch)}`"
        )
    if not st.button(
        label,
        key=f"calibrate::{backend}:{device}:{threads}:{batch}",
        help=f"About {seconds:.0f} s of measurements in fresh processes; close busy programs first",
    ):
        return
    profile, row_id, problem = _calibrate(backend, device, threads, batch, seconds)
    if profile is None:
        st.error(problem)
        return
    st.session_state.setdefault("latency_profiles", {})[slot] = profile  # the page shows it at once
    st.session_state["calibration_done"][slot] = _done_line(profile, row_id, problem)
    st.rerun()  # the prediction above the button and the button itself now read the new profile


def _calibrate(backend: str, device: str, threads: int, batch: int, seconds: float):
    """(profile, stored row id, store problem) after a calibration in a background job, or (None, None, why)."""
    from ..errors import UserError
    from ..predict.calibrate import calibrate
    from ..store.preflight import check_store_writable, explain_store_failure

    s = store()
    if s is not None:
        try:
            check_store_writable(s.path)  # before a minute of measuring, not after
        except UserError as e:
            return None, None, str(e)

    def work(emit, stop):
        def progress(fraction: float, message: str) -> None:
            emit({"event": "progress", "fraction": fraction, "message": message})

        return calibrate(backend, device, threads, batch, seconds=seconds, progress=progress, cancel=stop)

    cancel_slot, bar_slot = st.empty(), st.empty()
    cancel_slot.button("Cancel calibration", key="calibrate_cancel")
    bar = bar_slot.progress(0.0, text="starting fresh worker processes…")
    job = Job(work, name="calibration")
    try:
        while job.running:
            last = job.last("progress")
            if last:
                bar.progress(*coarse_progress(last["fraction"], last["message"]))
            time.sleep(PROGRESS_POLL_S)  # also where a Cancel click lands: the page re-runs, `finally` stops
    finally:
        if job.running:
            job.stop()  # a click re-ran the page: the worker is ended, nothing is stored
            job.wait(5)
        cancel_slot.empty()
        bar_slot.empty()
    if job.error:
        return None, None, f"Calibration failed: {job.error}"
    profile = job.result
    if s is None:
        return profile, None, "not stored: the results store could not be opened"
    try:
        return profile, s.add_profile(profile["key"], profile), None
    except (UserError, OSError) as e:
        return profile, None, explain_store_failure(s.path, e)


def _done_line(profile: dict, row_id: int | None, problem: str | None) -> str:
    from ..predict.calibrate import set_aside_line

    cv = profile.get("cv") or {}
    line = f"Calibrated in {(profile.get('calibration') or {}).get('wall_s') or 0:.0f} s: {set_aside_line(profile)}"
    if cv.get("p90_error_pct") is not None:
        line += f"; ±{cv['p90_error_pct']:.0f} % on unseen networks"
    line += "." if row_id is not None else f". The profile is used in this session but {problem}."
    return line


def render_flops_gap(base: Design, other: Design, where=None) -> None:
    """Why the FLOP ratio of two designs misses their time ratio, per the model calibrated on this host (torch,
    all physical cores, batch 1): one sentence and the layer types that make the difference."""
    from ..measure.hostinfo import physical_cores

    where = where or st
    profile = current_profile("torch", "cpu", physical_cores(), 1)
    if profile is None:
        where.caption("Calibrate this host (Design page, Latency tab) and the latency model explains this gap.")
        return
    gap = explain_gap(predict(base, profile), predict(other, profile))
    where.markdown(f"**Why, per the latency model calibrated here:** {gap['sentence']}")
    rows = [
        {
            "layer type": r["type"],
            f"{base.name} ms": round(r["base_ms"], 3),
            f"{other.name} ms": round(r["other_ms"], 3),
            "Δ ms": round(r["delta_ms"], 3),
            "mostly": r["main_term"],
        }
        for r in gap["by_type"]
    ]
    where.dataframe(rows, hide_index=True)
