"""The main page: edit the bottleneck table, see params/MACs/memory, the per-layer table and the diagram."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..cost import compute_cost
from ..fmt import si, size
from . import export_panel, measure_panel, state
from .diagram_view import render_diagram
from .widgets import delta_text, layer_table, stale_style

STAGE_COLUMNS = {
    "t": st.column_config.NumberColumn(
        "t",
        help="Expansion: hidden width = t × input channels (1 = no expansion conv)",
        min_value=1,
        max_value=32,
        step=1,
        required=True,
    ),
    "c": st.column_config.NumberColumn(
        "c", help="Output channels of each block", min_value=1, max_value=4096, step=1, required=True
    ),
    "n": st.column_config.NumberColumn(
        "n", help="Blocks in the stage", min_value=1, max_value=32, step=1, required=True
    ),
    "s": st.column_config.NumberColumn(
        "s", help="Stride of the stage's first block (1 or 2)", min_value=1, max_value=2, step=1, required=True
    ),
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


def _global_controls(d: state.Draft) -> None:
    """Widgets bound to the draft's globals; their keys carry the draft's generation, so a reset redraws them."""
    g = d.globals
    specs = [
        (
            "skips_on",
            st.toggle,
            dict(
                label="Skip connections",
                help="Off removes every residual add; each stage's own 'skip' value is kept for when you switch back on",
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


def _row_tools(d: state.Draft) -> None:
    with st.expander("Reorder, duplicate or delete stages"):
        n = len(d.rows)
        if not n:
            st.caption("The table is empty: add a row in the grid.")
            return
        i = st.number_input("Stage", min_value=0, max_value=n - 1, step=1, key=f"rowtool::{d.key}")
        c1, c2, c3, c4 = st.columns(4)
        rows = [dict(r) for r in d.rows]
        if c1.button("Move up", disabled=i == 0, width="stretch"):
            rows[i - 1], rows[i] = rows[i], rows[i - 1]
            d.replace_rows(rows)
            st.rerun()
        if c2.button("Move down", disabled=i >= n - 1, width="stretch"):
            rows[i + 1], rows[i] = rows[i], rows[i + 1]
            d.replace_rows(rows)
            st.rerun()
        if c3.button("Duplicate", width="stretch"):
            d.replace_rows(rows[: i + 1] + [dict(rows[i])] + rows[i + 1 :])
            st.rerun()
        if c4.button("Delete", disabled=n == 1, width="stretch"):
            d.replace_rows(rows[:i] + rows[i + 1 :])
            st.rerun()


def _editor(d: state.Draft) -> None:
    if d.editor_key not in st.session_state or d.editor_input is None:
        d.editor_input = pd.DataFrame(d.rows, columns=list(STAGE_COLUMNS))
    edited = st.data_editor(
        d.editor_input,
        key=d.editor_key,
        column_config=STAGE_COLUMNS,
        num_rows="dynamic",
        width="stretch",
        hide_index=False,
    )
    d.rows = edited.to_dict("records")


def _metrics(design, base) -> None:
    cost, bcost = compute_cost(design), compute_cost(base)
    items = [  # label, value, baseline value, formatter, help
        ("Params", cost.params, bcost.params, si, "Conv + linear weights, BN affine, classifier bias"),
        ("MACs", cost.macs, bcost.macs, si, "Multiply-accumulates of convs and the classifier; BN, ReLU6, adds not counted"),
        ("FLOPs", cost.flops, bcost.flops, si, "FLOPs = 2 × MACs (the convention of torch's FlopCounterMode)"),
        ("Memory traffic", cost.bytes, bcost.bytes, size,
         "Bytes read and written by all layers, float32, batch 1; a residual add re-reads its block input: skips cost traffic, not FLOPs"),
        ("Peak activations", cost.peak_activation_bytes, bcost.peak_activation_bytes, size,
         "Largest set of float32 tensors alive at once, inference, batch 1"),
    ]  # fmt: skip
    for col, (label, v, b, fmt, helptext) in zip(st.columns(len(items)), items, strict=True):
        col.metric(label, fmt(v), delta=delta_text(v, b, fmt), delta_color="inverse", help=helptext)
    st.caption(
        f"Δ against **{base.name}** · {design.num_classes} classes · {design.input_size}×{design.input_size} input · batch 1"
    )


def render() -> None:
    src = state.current_source()
    d = state.draft(src)
    st.title("Design")
    st.caption(
        "Edit the bottleneck table (t = expansion, c = channels, n = blocks, s = first stride). Every number below is computed from it, instantly."
    )
    left, right = st.columns([3, 2], gap="large")
    with left:
        _editor(d)
    with right:
        _global_controls(d)
    design = d.evaluate()
    base = state.baseline()
    with left:
        if d.problems:
            st.error(
                "**The table has a problem — the numbers show the last valid design:**\n\n"
                + "\n".join(f"- `{p}`" for p in d.problems)
            )
        _row_tools(d)
    with right:
        b1, b2 = st.columns(2)
        if b1.button(f"Reset to “{d.origin.name}”", help="Discard your edits of this source", width="stretch"):
            d.reset()
            st.rerun()
        if b2.button("Pin for comparison", width="stretch", disabled=bool(d.problems)):
            st.toast(f"Pinned “{state.pin(design)}” — see the Compare page")
    with st.container(key="stale" if d.problems else "fresh"):
        stale_style()
        st.subheader(design.name)
        _metrics(design, base)
        notes = design.meta.get("notes")
        if notes:
            with st.expander("How the paper was read for this preset"):
                st.write(notes)
                p = design.meta.get("paper", {})
                st.write(
                    f"Paper: {p.get('params_m')} M params, {p.get('flops_m')} M FLOPs, top-1 {p.get('accuracy_top1')} %, CPU {p.get('cpu_ms')} ms, GPU {p.get('gpu_ms')} ms ({p.get('table')})."
                )
    tabs = st.tabs(["Diagram", "Per-layer table", "Latency on this host", "Export"])
    with tabs[0]:
        render_diagram(design, base)
    with tabs[1]:
        layer_table(design)
    with tabs[2]:
        measure_panel.render(design, disabled=bool(d.problems))
    with tabs[3]:
        export_panel.render(design, disabled=bool(d.problems))
