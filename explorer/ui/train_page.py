"""Quick fine-tuning of the current design on a local ImageNet100 folder, with live progress and curves."""

from __future__ import annotations

import os

import plotly.graph_objects as go
import streamlit as st

from ..design.spec import Design
from ..errors import UserError
from ..export import to_python
from ..measure.hostlock import host_lock
from ..train.data import check_checkpoint_location, check_dataset_location, detect_dataset
from ..train.loop import TrainConfig, fine_tune
from ..viz.charts import base_layout
from . import export_panel, state
from .jobs import Job


def _listen_address() -> str | None:
    return st.get_option("server.address")


def _allowed_init(path: str) -> str:
    """A warm-start checkpoint: under the dataset root, or one of the explorer's own runs (one answer for the rest)."""
    return str(check_checkpoint_location(path, _listen_address()))


def _check_folder(path: str) -> None:
    try:
        info = detect_dataset(check_dataset_location(path, _listen_address()))
    except UserError as e:
        st.session_state.train_folder = {"path": path, "error": str(e)}
        return
    names = [info.name_of(i) for i in range(min(8, info.num_classes))]
    more = info.num_classes > len(names)
    st.session_state.train_folder = {"path": path, "summary": info.summary(), "names": names, "more": more}


def _start(design, cfg_kw: dict) -> None:
    typed = cfg_kw["data"]
    try:  # checked again here: the box may have changed since "Check folder"
        cfg_kw["data"] = str(check_dataset_location(cfg_kw["data"], _listen_address()))
        if cfg_kw.get("init"):
            cfg_kw["init"] = _allowed_init(cfg_kw["init"])
    except UserError as e:
        st.session_state.train_folder = {"path": typed, "error": str(e)}
        return
    cfg = TrainConfig(design=design, **cfg_kw)

    def run(emit, stop):
        # Training holds the host like a measurement does: latency measured beside it would be meaningless.
        with host_lock(f"fine-tune of {design.name}", timeout=0):
            return fine_tune(cfg, emit, stop)

    st.session_state.train_job = Job(run, name=f"fine-tune {design.name}")
    st.session_state.train_design = design


def _curves(events: list[dict]) -> go.Figure:
    steps = [e for e in events if e.get("event") == "step"]
    evals = [e for e in events if e.get("event") == "eval"]
    fig = go.Figure()
    fig.add_scatter(x=[e["step"] for e in steps], y=[e["loss"] for e in steps], name="training loss", mode="lines")
    fig.add_scatter(
        x=[e["step"] for e in evals],
        y=[e["val"]["top1"] for e in evals],
        name="val top-1 %",
        mode="lines+markers",
        yaxis="y2",
    )
    layout = base_layout("Live training curves", "", "step", "loss", height=380)
    last = max([e["step"] for e in steps + evals], default=0)
    layout["xaxis"]["tickformat"] = "d"  # steps are whole numbers
    if last <= 10:  # plotly would tick a short run at 0.5 steps
        layout["xaxis"].update(tickmode="linear", tick0=0, dtick=1)
    layout["yaxis2"] = dict(
        title="val top-1 %",
        overlaying="y",
        side="right",
        range=[0, 100],
        tickmode="linear",  # 0, 20, ... 100: never ticks borrowed from the loss axis (27.7 / 58.4 / 89)
        tick0=0,
        dtick=20,
        showgrid=False,
    )
    layout["margin"]["r"] = max(layout["margin"].get("r", 0), 90)  # room for the right axis' title
    fig.update_layout(**layout)
    return fig


@st.fragment(run_every=1.0)
def _progress(job: Job) -> None:
    events = job.snapshot()
    start, step = job.last("start"), job.last("step")
    if start:
        st.caption(
            f"{start['dataset']} · {start['device']} · {start['workers']} loader workers · "
            f"checkpoints in {start['out_dir']}"
        )
        for n in start.get("notes") or []:
            st.info(n)
        if start.get("warm_start"):
            st.info(start["warm_start"])
    if step:
        eta = f", about {step['eta_s'] / 60:.1f} min left" if step.get("eta_s") else ""
        st.progress(
            step["fraction"],
            text=f"step {step['step']} · loss {step['loss']:.3f} · {step['images_per_s']:.0f} images/s{eta}",
        )
        if step.get("skipped_images"):
            st.warning(f"{step['skipped_images']} unreadable images skipped so far")
    elif job.running:
        st.progress(0.0, text="loading data and starting…")
    last = events[-1] if events else {}
    if last.get("event") == "evaluating":
        st.caption(f"evaluating on {last['images']:,} validation images…")
    if events:
        st.plotly_chart(_curves(events), width="stretch", theme=None, key="train_curves")
    if job.running:
        if st.button("Stop (keeps what was learned)", key="train_stop", disabled=job.stop_event.is_set()):
            job.stop()
    else:
        st.rerun()  # the job ended: redraw the whole page with its result


def _result(job: Job) -> None:
    if job.error:
        st.error(f"Fine-tuning stopped: {job.error}")
        return
    s = job.result
    if s is None:
        return
    st.session_state.setdefault("checkpoints", {})[s.design_hash] = s.checkpoint
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Top-1", f"{s.top1:.1f} %")
    c2.metric(f"Top-{s.top_k}", f"{s.top5:.1f} %")
    c3.metric("Steps", f"{s.steps:,}")
    c4.metric("Images/s", f"{s.images_per_s:.0f}")
    what = "stopped early" if s.stopped else "budget reached"
    st.success(
        f"{what}: {s.record['label'] if s.record else ''} — on the Charts page as a quick fine-tune point. "
        f"Checkpoint: {s.checkpoint}"
    )
    if s.skipped_images:
        st.warning(f"{s.skipped_images} unreadable images were skipped, e.g. {', '.join(s.skipped_examples)}")
    for n in s.notes:
        st.info(n)
    _fine_tuned_actions(s)
    st.plotly_chart(_curves(job.snapshot()), width="stretch", theme=None, key="train_curves_final")


def trained_design(summary) -> Design | None:
    """The network the fine-tune trained: the design it started from, its classifier sized for the data."""
    start = st.session_state.get("train_design")
    if start is None:
        return None
    trained = start.with_changes(num_classes=summary.num_classes)
    if trained.num_classes != start.num_classes:
        trained = trained.with_changes(name=f"{start.name} ({summary.num_classes} classes)")
    return trained if trained.network_hash() == summary.design_hash else None


def _fine_tuned_actions(summary) -> None:
    """The result in one click each: its weights and code here, or the network opened where it can be measured
    (for the Charts page) and exported as ONNX with its weights."""
    design = trained_design(summary)
    if design is None:
        st.caption("Export the fine-tuned weights from the Design page's Export tab.")
        return
    start = st.session_state.train_design
    if design.num_classes != start.num_classes:  # the run's own note said so above: only what it means here
        st.caption("The buttons below use the fine-tuned network, its classifier sized for the data.")
    stem = export_panel.file_stem(design)
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Fine-tuned weights (.pt)",
        export_panel.weights_bytes(design.to_json(), summary.checkpoint, os.stat(summary.checkpoint).st_mtime_ns),
        file_name=f"{stem}_weights.pt",
        width="stretch",
        help="A plain state dict for the standalone .py's build_model()",
    )
    c2.download_button(
        f"Standalone .py ({design.num_classes} classes)",
        to_python(design),
        file_name=f"{stem}.py",
        mime="text/x-python",
        width="stretch",
        help="Run `python <file>.py <weights.pt>` to load the fine-tuned weights",
    )
    if c3.button(
        "Open it on the Design page",
        width="stretch",
        help="Its Export tab builds ONNX with these weights; its Latency tab measures it for the Charts page",
    ):
        key = state.add_source(design, design.name)
        state.set_source(key)
        st.session_state["design_tab"] = "Export"
        st.switch_page("explorer/ui/pages/design.py")


def render() -> None:
    design = state.current_design()
    st.title("Fine-tune")
    st.caption(
        f"Train **{design.name}** for a few minutes on a local ImageNet100 folder for an honest accuracy signal. "
        "Nothing is downloaded."
    )
    job: Job | None = st.session_state.get("train_job")
    running = bool(job and job.running)
    folder = st.text_input(
        "Dataset folder",
        value=os.environ.get("EXPLORER_IMAGENET100", ""),
        key="train_dir",
        help="ImageNet style (train/<wnid>/, val/<wnid>/), Kaggle style (train.X1…X4, val.X, Labels.json), "
        "or a full ImageNet-1k folder (cut to ImageNet100)",
    )
    if st.button("Check folder", disabled=not folder or running):
        _check_folder(folder)
    found = st.session_state.get("train_folder")
    if found and found["path"] == folder:
        if "error" in found:
            st.error(found["error"].replace("*", "\\*"))  # the message's *.JPEG must not turn into italics
        else:
            st.success(found["summary"])
            st.caption("Classes: " + ", ".join(found["names"]) + (", …" if found.get("more") else ""))
    c0, c1, c2, c3, c4 = st.columns(5)
    by_epochs = c0.radio("Budget", ["minutes", "epochs"], key="train_budget_kind", horizontal=True) == "epochs"
    if by_epochs:
        amount = c1.number_input("Epochs", 1, 1000, 1, key="train_epochs")
    else:
        amount = c1.number_input("Minutes", 0.5, 240.0, 5.0, 0.5, key="train_min")
    img_size = c2.selectbox("Resolution", [96, 128, 160, 224], index=1, key="train_res")
    batch = c3.number_input("Batch", 2, 1024, 64, key="train_batch")
    per_class = c4.number_input(
        "Images per class (0 = all)", 0, 2000, 100, key="train_pc", help="A cap keeps quick runs quick"
    )
    c1, c2 = st.columns(2)
    optimizer = c1.selectbox("Optimizer", ["sgd", "adamw"], key="train_opt")
    init = c2.text_input(
        "Warm start from checkpoint (optional)",
        key="train_init",
        help="Every tensor whose name and shape match is loaded; the rest is reported",
    )
    ok_folder = bool(found and found.get("path") == folder and "error" not in found)
    if st.button(
        "Start fine-tuning",
        type="primary",
        disabled=running or not ok_folder,
        help=None if ok_folder else "Check the folder first",
    ):
        budget = {"epochs": int(amount)} if by_epochs else {"minutes": float(amount)}
        _start(
            design,
            dict(
                data=folder,
                **budget,
                img_size=int(img_size),
                batch=int(batch),
                per_class=int(per_class) or None,
                optimizer=optimizer,
                init=init or None,
            ),
        )
        st.rerun()
    if job:
        if job.running:
            _progress(job)
        else:
            _result(job)
