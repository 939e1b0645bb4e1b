"""The main page: edit the bottleneck table, see params/MACs/memory, the per-layer table and the diagram."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..design.cost import compute_cost
from ..design.plan import blocks
from ..errors import UserError, first_line
from ..fmt import si, size
from ..measure.hostinfo import physical_cores
from ..measure.quality import is_trusted
from . import export_panel, measure_panel, predict_panel, state
from .diagram_view import render_diagram
from .results_view import store
from .widgets import delta_text, layer_table, stale_style

# t, c, n and s are text cells on purpose: a number cell with bounds silently clamps (n = 999 became 32) or
# reverts ("abc", an emptied cell) what the user typed. As text, every value reaches the design validator,
# which names the cell and what is allowed, exactly as for an uploaded file.
NUMBER_FIELDS = ("t", "c", "n", "s")
STAGE_COLUMNS = {
    "t": st.column_config.TextColumn(
        "t", help="Expansion: hidden width = t × input channels (1 = no expansion conv), 1–32"
    ),
    "c": st.column_config.TextColumn("c", help="Output channels of each block, 1–4096"),
    "n": st.column_config.TextColumn("n", help="Blocks in the stage, 1–32"),
    "s": st.column_config.TextColumn("s", help="Stride of the stage's first block: 1 or 2"),
    "skip": st.column_config.CheckboxColumn(
        "skip", help="Residual add where stride is 1 and channels match", default=True
    ),
    "out_act": st.column_config.SelectboxColumn(
        "out_act",
        help="After the 1×1 projection: linear bottleneck or ReLU6",
        options=["linear", "relu6"],
        default="linear",
    ),
    "kernel": st.column_config.SelectboxColumn("kernel", help="Depthwise kernel size", options=[3, 5, 7], default=3),
}


def skip_summary(design) -> str:
    """What the skip switch means for this design: how many blocks actually add their input."""
    plan = blocks(design)
    adds = sum(1 for b in plan if b.skip)
    return f"{adds} of {len(plan)} blocks add a skip (only where stride is 1 and the width is unchanged)"


def _on_skips_toggled(d: state.Draft) -> None:
    on = st.session_state[f"g::{d.key}::{d.gen}::skips_on"]
    if on and not any(_truthy(r.get("skip")) for r in d.rows):
        d.globals["skips_on"] = True
        d.replace_rows([{**r, "skip": True} for r in d.rows])


def _truthy(v) -> bool:
    return bool(v) and v == v  # NaN (an empty cell) is no skip


def _global_controls(d: state.Draft) -> None:
    """Widgets bound to the draft's globals; their keys carry the draft's generation, so a reset redraws them."""
    g = d.globals
    specs = [
        (
            "skips_on",
            st.toggle,
            dict(
                label="Skip connections",
                help="Off removes every residual add; each stage's own 'skip' value is kept for when you switch "
                "back on. On, for a design without any, asks every stage for one",
                on_change=_on_skips_toggled,
                args=(d,),
            ),
        ),
        (
            "last_conv_on",
            st.toggle,
            dict(label="Final 1×1 conv", help="MobileNetV2's 1×1 conv to 1280 before pooling; SM_V2 removes it"),
        ),
        ("last_conv_width", st.number_input, dict(label="Final conv width", min_value=1, max_value=8192, step=64)),
        ("input_size", st.number_input, dict(label="Input size", min_value=8, max_value=1024, step=16)),
        ("num_classes", st.number_input, dict(label="Classes", min_value=1, max_value=100_000, step=1)),
        ("stem_channels", st.number_input, dict(label="Stem width", min_value=1, max_value=1024, step=8)),
        ("name", st.text_input, dict(label="Design name", max_chars=200)),
    ]
    rows = [st.columns(2), st.columns(2), st.columns(2), [st.container()]]
    cells = [c for r in rows for c in r]
    for cell, (field, widget, kw) in zip(cells, specs, strict=False):
        key = f"g::{d.key}::{d.gen}::{field}"
        if key not in st.session_state:
            st.session_state[key] = g[field]
        if field == "last_conv_width":
            kw["disabled"] = not g["last_conv_on"]
        with cell:
            g[field] = widget(key=key, **kw)
            if field == "skips_on":
                st.caption(skip_summary(d.evaluate()))


def _row_tools(d: state.Draft) -> None:
    with st.expander("Reorder, duplicate or delete stages"):
        n = len(d.rows)
        if not n:
            st.caption("The table is empty: add a row in the grid.")
            return
        key = f"rowtool::{d.key}"
        if st.session_state.get(key, 0) > n - 1:  # rows deleted in the grid
            st.session_state[key] = n - 1
        i = st.number_input("Stage", min_value=0, max_value=n - 1, step=1, key=key)
        c1, c2, c3, c4 = st.columns(4)
        # Callbacks run before the next run draws the selector, so it can follow the stage it moved.
        c1.button("Move up", disabled=i == 0, width="stretch", on_click=_move_row, args=(d, i, i - 1))
        c2.button("Move down", disabled=i >= n - 1, width="stretch", on_click=_move_row, args=(d, i, i + 1))
        c3.button("Duplicate", width="stretch", on_click=_duplicate_row, args=(d, i))
        c4.button("Delete", disabled=n == 1, width="stretch", on_click=_delete_row, args=(d, i))


def _move_row(d: state.Draft, i: int, j: int) -> None:
    rows = [dict(r) for r in d.rows]
    rows[i], rows[j] = rows[j], rows[i]
    d.replace_rows(rows)
    st.session_state[f"rowtool::{d.key}"] = j


def _duplicate_row(d: state.Draft, i: int) -> None:
    rows = [dict(r) for r in d.rows]
    d.replace_rows(rows[: i + 1] + [dict(rows[i])] + rows[i + 1 :])


def _delete_row(d: state.Draft, i: int) -> None:
    d.replace_rows([dict(r) for j, r in enumerate(d.rows) if j != i])
    st.session_state[f"rowtool::{d.key}"] = min(i, len(d.rows) - 1)


def _editor_frame(rows: list[dict]) -> pd.DataFrame:
    cells = [{k: (_as_text(v) if k in NUMBER_FIELDS else v) for k, v in r.items()} for r in rows]
    return pd.DataFrame(cells, columns=list(STAGE_COLUMNS))


def _as_text(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _editor(d: state.Draft) -> None:
    if d.editor_key not in st.session_state or d.editor_input is None:
        d.editor_input = _editor_frame(d.rows)
    edited = st.data_editor(
        d.editor_input,
        key=d.editor_key,
        column_config=STAGE_COLUMNS,
        num_rows="dynamic",
        width="stretch",
        # The stage number is the row's position (problems say stages[i]); a grid index would show "None" for
        # a new row, so positions are not drawn by the grid.
        hide_index=True,
    )
    d.rows = edited.to_dict("records")


def _metrics(design, base) -> None:
    cost, bcost = compute_cost(design), compute_cost(base)
    items = [  # label, value, baseline value, formatter, help
        ("Params", cost.params, bcost.params, si, "Conv + linear weights, BN affine, classifier bias"),
        (
            "MACs",
            cost.macs,
            bcost.macs,
            si,
            "Multiply-accumulates of convs and the classifier; BN, ReLU6, adds not counted",
        ),
        ("FLOPs", cost.flops, bcost.flops, si, "FLOPs = 2 × MACs (the convention of torch's FlopCounterMode)"),
        (
            "Memory traffic",
            cost.bytes,
            bcost.bytes,
            size,
            "Bytes read and written by all layers, float32, batch 1; a residual add re-reads its block input: "
            "skips cost traffic, not FLOPs",
        ),
        (
            "Peak activations",
            cost.peak_activation_bytes,
            bcost.peak_activation_bytes,
            size,
            "Largest set of float32 tensors alive at once, inference, batch 1",
        ),
    ]
    columns = st.columns(len(items) + 1)
    for col, (label, v, b, fmt, helptext) in zip(columns, items, strict=False):
        col.metric(label, fmt(v), delta=delta_text(v, b, fmt), delta_color="inverse", help=helptext)
    prediction, measured = _predicted_latency(design, base, columns[-1])
    band = prediction.get("band_pct") if prediction else None
    predicted = f" · predicted latency ±{band:.0f} % (the model's error band)" if band is not None else ""
    seen = f" · measured here: {measured['median_ms']:.2f} ms ({measured['backend']})" if measured else ""
    st.caption(
        f"Δ against **{base.name}** · {design.num_classes} classes · {design.input_size}×{design.input_size} input"
        f" · batch 1{predicted}{seen}"
    )
    return prediction


def _predicted_latency(design, base, where) -> tuple[dict | None, dict | None]:
    """The latency model's prediction for the Latency tab's target (torch, all cores, batch 1 by default), with
    the newest trusted measurement of the same target beside it: measured stays the ground truth."""
    backend = measure_panel.BACKENDS.get(st.session_state.get("m_backend"), "torch")
    device = st.session_state.get("m_device", "cpu")
    threads = int(st.session_state.get("m_threads", physical_cores()))
    batch = int(st.session_state.get("m_batch", 1))
    profile = predict_panel.current_profile(backend, device, threads, batch)
    s = store()
    rows = s.latencies(design.network_hash(), backend=backend, device=device, threads=threads, batch=batch) if s else []
    measured = next((r for r in rows if is_trusted(r) and r["input_size"] == design.input_size), None)
    prediction = predict_panel.render_predicted_metric(
        design,
        base,
        profile,
        measured_ms=measured["median_ms"] if measured else None,
        where=where,
        band_in_value=False,  # six metrics share the row: the band goes in the caption under it
    )
    return prediction, measured


def render() -> None:
    src = state.current_source()
    d = state.draft(src)
    st.title("Design")
    st.caption(
        "Edit the bottleneck table (t = expansion, c = channels, n = blocks, s = first stride). "
        "Every number below is computed from it, instantly."
    )
    flash = st.session_state.pop("design_flash", None)
    if flash:
        st.toast(flash)
    left, right = st.columns([3, 2], gap="large")
    with left:
        _editor(d)
    with right:
        _global_controls(d)
    design = d.evaluate()
    base = state.baseline()
    with left:
        _problems(d)
        _row_tools(d)
    with right:
        b1, b2 = st.columns(2)
        if b1.button(f"Reset to “{d.origin.name}”", help="Discard your edits of this source", width="stretch"):
            d.reset()
            st.rerun()
        b2.button(
            "Pin for comparison",
            width="stretch",
            disabled=bool(d.blocked),
            on_click=_pin,
            args=(d,),
            help=d.blocked or "Keep this design for the Compare page and as a baseline",
        )
    with st.container(key="stale" if d.problems else "fresh"):
        stale_style()
        st.subheader(design.name)
        prediction = _metrics(design, base)
        notes = design.meta.get("notes")
        if notes:
            with st.expander("How the paper was read for this preset"):
                st.text(notes)  # plain text: an uploaded design must not embed remote images or links
                p = design.meta.get("paper", {})
                st.text(
                    f"Paper: {p.get('params_m')} M params, {p.get('flops_m')} M FLOPs, "
                    f"top-1 {p.get('accuracy_top1')} %, CPU {p.get('cpu_ms')} ms, GPU {p.get('gpu_ms')} ms "
                    f"({p.get('table')})."
                )
    tabs = st.tabs(["Diagram", "Per-layer table", "Latency on this host", "Export"])
    with tabs[0]:
        render_diagram(design, base)
    with tabs[1]:
        layer_table(design, prediction)
    with tabs[2]:
        try:
            measure_panel.render(design, blocked=d.blocked)
        except UserError as e:  # a refused or failed measurement must not take the Export tab down with it
            st.error(first_line(e))
    with tabs[3]:
        export_panel.render(design, blocked=d.blocked)


def _problems(d: state.Draft) -> None:
    """One problem per line beside the table, each naming the cell (or the cap) and what is allowed."""
    if d.problems:
        st.error("The table has a problem; the numbers below are of the last valid design, greyed.", icon="⚠️")
        for p in d.problems:
            st.error(p)
    elif d.over_cap:
        st.error("Over the cost cap: the numbers are right, but this design cannot be pinned, measured or exported.")
        for p in d.over_cap:
            st.error(p)


def _pin(d: state.Draft) -> None:
    # A callback, so the sidebar's Pinned list (drawn before this page) already shows the pin on this run.
    d.evaluate()
    if d.blocked:
        return
    st.session_state.design_flash = f"Pinned “{state.pin(d.last_valid)}” — see the Compare page"
