"""Search: designs that beat the current one on this host under a latency budget, screened then measured.

The search runs as a background job (explorer.ui.jobs) so the page stays responsive; its measurements run in
fresh worker processes under the host lock. Every number on the page says where it comes from.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..design.cost import compute_cost
from ..design.presets import all_presets
from ..design.spec import parse_design
from ..export import to_python
from ..fmt import si
from ..measure.hostinfo import available_devices, physical_cores
from ..measure.hostlock import host_lock
from ..measure.quality import is_trusted, reasons
from ..options import BATCH, THREADS, options_of
from ..predict import predict
from ..search import FIELDS, OBJECTIVES, SearchRequest, run_search
from ..train.loop import TrainConfig, fine_tune
from ..viz.search_chart import search_figure
from . import predict_panel, state
from .compare_page import STAGE_HELP, stage_diff_frame
from .jobs import Job
from .results_view import store
from .widgets import PROGRESS_POLL_S

BACKENDS = {"PyTorch (eager)": "torch", "ONNX Runtime": "onnxruntime"}
FIELD_TITLES = {
    "t": "expansion t",
    "c": "width c",
    "n": "blocks n",
    "s": "strides (swapped)",
    "kernel": "kernel",
    "skip": "skips",
    "stages": "number of stages",
    "last_conv": "final 1×1 conv",
}


def _start_search(design, profile, request: SearchRequest) -> None:
    results = store()  # opened here, in the page's thread: a damaged store is reported on the page

    def run(emit, stop):
        return run_search(
            design,
            profile,
            request,
            store=results,
            progress=lambda f, m: emit({"event": "progress", "fraction": f, "message": m}),
            cancel=stop,
        )

    st.session_state.search_job = Job(run, name=f"search from {design.name}")


def _progress(job: Job | None) -> None:
    """While the search runs: its progress and Cancel, redrawn by a polling fragment. Without a running job no
    fragment polls, so an idle Search page costs the server nothing."""
    if job is None:
        return
    if job.running:
        st.fragment(_progress_body, run_every=PROGRESS_POLL_S)(job)
    elif st.session_state.get("search_shown") is not job:
        st.session_state.search_shown = job  # the job ended between two polls: its result is drawn below


def _progress_body(job: Job) -> None:
    if not job.running:
        st.session_state.search_shown = job
        st.rerun()  # the whole page, with the result and without this fragment: polling stops here
    last = job.last("progress") or {"fraction": 0.0, "message": "starting…"}
    st.progress(min(max(last["fraction"], 0.0), 1.0), text=last["message"])
    if st.button("Cancel search", key="search_cancel", disabled=job.stop_event.is_set()):
        job.stop()


def _references(result: dict, profile: dict) -> list[dict]:
    """The paper's presets on the same axes: measured here when a trusted measurement exists, else predicted."""
    if result["objective"] == "naswot":
        return []
    s = store()
    key = result["profile"]
    out = []
    for preset in all_presets():
        rows = s.latencies(preset.network_hash(), input_size=preset.input_size, **key) if s else []  # newest first
        trusted = next((r for r in rows if is_trusted(r)), None)
        c = compute_cost(preset)
        value = float(c.params if result["objective"] == "params" else c.macs)
        if trusted:
            out.append(
                {"name": preset.name, "latency_ms": trusted["median_ms"], "objective": value, "source": "measured"}
            )
        else:
            ms = predict(preset, profile)["predicted_ms"] * result["model_correction"]
            out.append({"name": preset.name, "latency_ms": ms, "objective": value, "source": "predicted"})
    return out


def measured_entries(result: dict) -> list[dict]:
    """Every candidate measured for real, kept or not, in the order they were measured best-first."""
    return [c for c in result["candidates"] + result.get("rejected", []) if c.get("measured_ms") is not None]


def verdict_of(c: dict, budget_ms: float) -> tuple[str, str]:
    """(verdict, why) of one measured candidate: kept, noisy (with the measurement's reasons) or over budget."""
    q = {"quality": c.get("quality")}
    if not is_trusted(q):
        return "noisy", "; ".join(reasons(q)) or "not judged"
    if c.get("within_budget"):
        return "kept", "within the budget, measurement ok"
    return "over budget", f"{c['measured_ms']:.2f} ms measured > {budget_ms:.2f} ms budget"


def candidate_frame(result: dict) -> pd.DataFrame:
    """One row per measured candidate (or per screened one when nothing was measured), with its verdict."""
    objective = result["objective"]
    measured = measured_entries(result)
    rows = []
    for i, c in enumerate(measured or result["candidates"], 1):
        verdict, why = verdict_of(c, result["budget_ms"]) if c.get("measured_ms") is not None else ("screened", "")
        rows.append(
            {
                "#": i,
                "params": si(c["params"]),
                "MACs": si(c["macs"]),
                "predicted ms": round(c["predicted_ms"], 2),
                "measured ms": None if c.get("measured_ms") is None else round(c["measured_ms"], 2),
                "verdict": verdict,
                "why": why,
                objective: round(c["objective"], 2) if objective == "naswot" else si(c["objective"]),
                "beats start": "yes" if c.get("dominates_start") else "",
            }
        )
    return pd.DataFrame(rows)


def advice(result: dict) -> str | None:
    """Why nothing was kept, in the words of its cause; None when candidates were kept."""
    if result["candidates"]:
        return None
    measured = measured_entries(result)
    if not measured:
        return (
            "No candidate was measured: the time ran out before measuring. Give the search more time "
            "(the screening alone took most of it)."
        )
    verdicts = [verdict_of(c, result["budget_ms"])[0] for c in measured]
    noisy, over = verdicts.count("noisy"), verdicts.count("over budget")
    if noisy == len(measured):
        return (
            f"All {noisy} measured candidates were judged noisy (reasons in the table): the host was busy while "
            "they were timed. Close other programs (and other measuring tabs) and search again; a larger budget "
            "would not help."
        )
    if over == len(measured):
        fastest = min(c["measured_ms"] for c in measured)
        return (
            f"All {over} measured candidates were slower than the budget (fastest {fastest:.2f} ms against "
            f"{result['budget_ms']:.2f} ms): the latency model was optimistic for them. Search again (it corrects "
            "the model with these measurements), narrow what may change, or raise the budget."
        )
    return (
        f"Of {len(measured)} measured candidates, {noisy} were judged noisy and {over} were over the budget "
        "(see the table). Search again on a quieter host, or with more time or a larger budget."
    )


def _open(design, page: str) -> None:
    key = state.add_source(design, design.name)
    state.set_source(key)
    st.switch_page(f"explorer/ui/pages/{page}.py")


def _candidate_details(result: dict) -> None:
    for i, c in enumerate(result["candidates"], 1):
        design = parse_design(c["design"])
        measured = f"{c['measured_ms']:.2f} ms measured" if c["measured_ms"] is not None else "not measured"
        with st.expander(f"#{i} · {si(c['params'])} params · {measured} · {c['predicted_ms']:.2f} ms predicted"):
            st.dataframe(
                stage_diff_frame(c["stage_diff"]),
                hide_index=True,
                width="stretch",
                column_config={"stage": st.column_config.TextColumn(help=STAGE_HELP)},
            )
            for line in c["global_diff"]:
                st.caption(line)
            b1, b2, b3, b4 = st.columns(4)
            if b1.button("Open in Design page", key=f"search_open_{i}"):
                _open(design, "design")
            if b2.button("Pin", key=f"search_pin_{i}"):
                st.toast(f"Pinned as {state.pin(design)}")
            b3.download_button(
                "Export .py",
                to_python(design),
                file_name=f"search_{i}.py",
                mime="text/x-python",
                key=f"search_py_{i}",
            )
            if b4.button("Fine-tune it", key=f"search_train_{i}", help="Opens the Fine-tune page with this design"):
                _open(design, "train")


def _fine_tune_job(designs: list, folder: str, minutes: float):
    def run(emit, stop):
        done = []
        for n, d in enumerate(designs):
            if stop.is_set():
                break
            emit({"event": "design", "name": d.name, "index": n, "of": len(designs)})
            with host_lock(f"fine-tune of {d.name}", timeout=0):
                summary = fine_tune(TrainConfig(design=d, data=folder, minutes=minutes), emit, stop)
            done.append((d.name, summary.top1))
        return done

    return run


def _fine_tune_top(result: dict) -> None:
    """Fine-tune the top few one after another (a short budget each); accuracies land on the Charts page."""
    found = st.session_state.get("train_folder") or {}
    folder = found.get("path", "") if "error" not in found else ""
    job: Job | None = st.session_state.get("search_train_job")
    with st.expander("Fine-tune the top few on a dataset folder", expanded=bool(job)):
        if not folder:
            st.caption("Check a dataset folder on the Fine-tune page first; the top designs are then trained on it.")
            return
        c1, c2 = st.columns(2)
        k = c1.number_input(
            "Designs", 1, max(1, len(result["candidates"])), min(3, len(result["candidates"])), key="s_ft_designs"
        )
        minutes = c2.number_input("Minutes each", 0.5, 60.0, 2.0, 0.5, key="s_ft_minutes")
        running = bool(job and job.running)
        if st.button(f"Fine-tune the top {int(k)} on {folder}", disabled=running, key="search_train_go"):
            designs = [parse_design(c["design"]) for c in result["candidates"][: int(k)]]
            job = Job(_fine_tune_job(designs, folder, float(minutes)), name="fine-tune search results")
            st.session_state.search_train_job = job
        if job is None:
            return
        if job.running:
            st.fragment(_fine_tune_status, run_every=PROGRESS_POLL_S)(job)
        else:
            _fine_tune_outcome(job)


def fine_tune_status_line(job: Job) -> tuple[float, str]:
    """(fraction done over all designs, one line: which design, its step and the time left)."""
    now = job.last("design") or {"name": "…", "index": 0, "of": 1}
    step = job.last("step")
    if step and step["t"] < now.get("t", 0):
        step = None  # the last step event belongs to the previous design
    within = step["fraction"] if step else 0.0
    fraction = (now["index"] + within) / max(now["of"], 1)
    line = f"fine-tuning {now['name']} ({now['index'] + 1} of {now['of']})"
    if step:
        eta = f", about {step['eta_s'] / 60:.1f} min left for it" if step.get("eta_s") else ""
        line += f": step {step['step']}, loss {step['loss']:.3f}{eta}"
    else:
        line += ": loading data…"
    return min(max(fraction, 0.0), 1.0), line


def _fine_tune_status(job: Job) -> None:
    """Polls while the fine-tunes run; when they end, the whole page is drawn again and nothing polls."""
    if not job.running:
        st.rerun()
    fraction, line = fine_tune_status_line(job)
    st.progress(fraction, text=line)
    st.caption("Results go to the Charts page as each design finishes.")
    if st.button("Stop", key="search_train_stop", disabled=job.stop_event.is_set()):
        job.stop()


def _fine_tune_outcome(job: Job) -> None:
    if job.error:
        st.error(f"Fine-tuning stopped: {job.error}")
    elif job.result:
        st.success(
            "Fine-tuned: "
            + ", ".join(f"{name} {top1:.1f} % top-1" for name, top1 in job.result)
            + " — on the Charts page."
        )
    elif job.result is not None:
        st.info("Fine-tuning stopped before the first design finished.")


def correction_line(result: dict) -> str:
    """What the model's scale rests on: the start's measurement, or nothing (then it is not corrected)."""
    start = result["start"]
    if start.get("measured_ms") is None:
        return "the model was not corrected (the start was not measured)"
    return f"the model was corrected by ×{result['model_correction']:.2f} from the start's measurement"


def _show_result(result: dict, profile: dict) -> None:
    start = result["start"]
    best = result["candidates"][0] if result["candidates"] else None
    c1, c2, c3 = st.columns(3)
    c1.metric("Budget", f"{result['budget_ms']:.2f} ms", help=result["budget_source"])
    kept = sum(1 for c in result["candidates"] if c["within_budget"])
    c2.metric(
        "Kept within budget",
        f"{kept} of {len(measured_entries(result))} measured",
        help="Measured for real in a fresh worker; kept when the measurement was judged ok and within the budget",
    )
    if best is not None and start["params"]:
        gain = (best["params"] - start["params"]) / start["params"]
        c3.metric(
            "Best vs start",
            f"{gain:+.0%} params",
            delta="beats the start" if best.get("dominates_start") else "does not beat the start",
            delta_color="normal" if best.get("dominates_start") else "off",
            delta_arrow="auto" if best.get("dominates_start") else "off",
        )
    st.caption(
        f"Start {start['name']}: {si(start['params'])} params, {si(start['macs'])} MACs, "
        f"{start['measured_ms'] or start['predicted_ms']:.2f} ms ({start['latency_source']}). Objective: "
        f"{result['objective']} ({result['objective_note']}). Screening: {result['screened']:,} designs, "
        f"{result['feasible']:,} predicted within the budget (stopped by {result['screening_stopped_by']}); "
        f"{correction_line(result)}. Seed {result['seed']}."
    )
    st.plotly_chart(search_figure(result, _references(result, profile)), width="stretch", theme=None, key="search_fig")
    why = advice(result)
    if why:
        st.warning(why)
    if measured_entries(result) or result["candidates"]:
        st.dataframe(candidate_frame(result), hide_index=True, width="stretch")
        st.caption(
            "Every measured candidate with its verdict. predicted: the latency model (corrected as said above); "
            "measured: a fresh worker, verdict and reasons shown; 'beats start': more params and more MACs at no "
            "more measured latency."
        )
    if not result["candidates"]:
        return
    _candidate_details(result)
    _fine_tune_top(result)


REQUEST = {o.name: o for o in options_of(SearchRequest)}  # bounds and defaults, declared once in explorer.search

SETTINGS = (
    "s_backend",
    "s_device",
    "s_threads",
    "s_batch",
    "s_objective",
    "s_seconds",
    "s_top",
    "s_own_budget",
    "s_budget",
    "s_fields",
    "s_max_params",
    "s_max_macs",
    "s_seed",
    "s_ft_designs",
    "s_ft_minutes",
)


def render() -> None:
    state.keep_widgets(SETTINGS)  # the settings are still there when the user comes back to the page
    design = state.current_design()
    st.title("Search")
    st.caption(
        f"Find designs that beat **{design.name}** on this host: more capacity (or a better proxy score) at no more "
        "latency. Thousands of designs are screened with the calibrated latency model, then the best are measured "
        "for real. Edit the starting design on the Design page."
    )
    c1, c2, c3, c4 = st.columns(4)
    backend = BACKENDS[c1.selectbox("Backend", list(BACKENDS), key="s_backend")]
    devices = [d for d in available_devices() if d != "mps"]
    device = c2.selectbox("Device", devices, key="s_device")
    threads = int(
        c3.number_input(
            "Threads",
            int(THREADS.lo),
            int(THREADS.hi),
            physical_cores(),
            key="s_threads",
            help=THREADS.help_text().replace("%%", "%"),
        )
    )
    batch = int(
        c4.number_input(
            "Batch", int(BATCH.lo), int(BATCH.hi), 1, key="s_batch", help=BATCH.help_text().replace("%%", "%")
        )
    )
    profile = predict_panel.current_profile(backend, device, threads, batch)
    if profile is None:
        st.warning("The search screens designs with the latency model: calibrate this host first (about a minute).")
        predict_panel.render_calibrate(backend, device, threads, batch)
        return

    c1, c2, c3 = st.columns(3)
    objective = c1.radio("Objective", OBJECTIVES, key="s_objective", horizontal=True)
    # A slider over the option's whole range (5 s to an hour) could not be set to the second; this one spans
    # what a page visit waits for, inside that range.
    seconds = c2.slider(
        "Time budget (s)",
        max(20, int(REQUEST["seconds"].lo)),
        min(300, int(REQUEST["seconds"].hi)),
        int(REQUEST["seconds"].default),
        10,
        key="s_seconds",
        help="Screening and measuring together; the CLI's --seconds allows " + REQUEST["seconds"].allowed(),
    )
    top = int(
        c3.number_input(
            "Designs to measure",
            int(REQUEST["top"].lo),
            int(REQUEST["top"].hi),
            int(REQUEST["top"].default),
            key="s_top",
            help="The best screened designs, measured for real in fresh workers",
        )
    )
    own = st.checkbox(
        "Budget: the start design's own latency on this host (measured at the start when not stored)",
        value=True,
        key="s_own_budget",
    )
    budget = None
    if not own:
        predicted = predict(design, profile)["predicted_ms"]
        budget = float(st.number_input("Latency budget (ms)", 0.01, 10_000.0, round(predicted, 2), key="s_budget"))
    with st.expander("Search space and limits"):
        fields = st.multiselect(
            "What may change", FIELDS, default=list(FIELDS), format_func=FIELD_TITLES.get, key="s_fields"
        )
        l1, l2, l3 = st.columns(3)
        max_params = l1.number_input("Max params (0 = none)", 0, 10**9, 0, key="s_max_params")
        max_macs = l2.number_input("Max MACs (0 = none)", 0, 10**11, 0, key="s_max_macs")
        seed = int(l3.number_input("Seed", 0, 2**31 - 1, 0, key="s_seed"))
        data = None
        if objective == "naswot":
            found = st.session_state.get("train_folder") or {}
            data = found.get("path") if found and "error" not in found else None
            st.caption(
                f"NASWOT uses 16 images from {data}."
                if data
                else "NASWOT on random inputs: a weaker signal. Check a dataset folder on the Fine-tune page to use "
                "real images."
            )
    job: Job | None = st.session_state.get("search_job")
    running = bool(job and job.running)
    if st.button("Search", type="primary", disabled=running or not fields, key="s_go"):
        request = SearchRequest(
            budget_ms=budget,
            objective=objective,
            seconds=float(seconds),
            top=top,
            seed=seed,
            max_params=int(max_params) or None,
            max_macs=int(max_macs) or None,
            fields=tuple(fields),
            data_folder=data,
        )
        request.check()
        _start_search(design, profile, request)
        st.rerun()
    _progress(job)
    if job is not None and not job.running:
        if job.error:
            st.error(f"Search stopped: {job.error}")
        elif job.result is not None:
            _show_result(job.result, profile)
