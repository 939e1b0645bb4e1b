"""The main page: edit the bottleneck table, see params/MACs/memory, the per-layer table and the diagram."""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
import streamlit as st

from ..design import spec
from ..design.cost import compute_cost
from ..design.plan import blocks
from ..design.spec import MAX_NAME, STAGE_KEYS, Design
from ..errors import UserError, first_line
from ..fmt import si, size
from ..measure.hostinfo import physical_cores
from ..measure.quality import is_trusted
from ..options import Option
from . import export_panel, measure_panel, predict_panel, state
from .diagram_view import render_diagram
from .nav import error_boundary
from .results_view import open_store, store, store_version
from .widgets import delta_text, escape_markdown, layer_table, stale_style

# Each field's meaning and what it may be, by name: the option declarations of explorer.design.spec.
STAGE_OPTIONS = {o.name: o for o in spec.STAGE_OPTIONS}
NETWORK_OPTIONS = {o.name: o for o in spec.NETWORK_OPTIONS}
# t, c, n and s are text cells on purpose: a number cell with bounds silently clamps (n = 999 became 32) or
# reverts ("abc", an emptied cell) what the user typed. As text, every value reaches the design validator,
# which names the cell and what is allowed, exactly as for an uploaded file.
NUMBER_FIELDS = ("t", "c", "n", "s")


def field_help(option: Option) -> str:
    """The field's meaning (declared with its option in explorer.design.spec), then what is allowed, as the
    validator will say it."""
    return f"{option.help}; {option.allowed()}" if option.kind is not bool else option.help


def stage_columns(rows: list[dict]) -> dict:
    """The grid's columns. A new row starts as a copy of the table's last row when the grid was drawn (never a row
    of empty "None" cells), which is also what a user adding a stage most often wants to edit."""
    last = rows[-1] if rows else {}
    cols = {}
    for name in STAGE_KEYS:
        option = STAGE_OPTIONS[name]
        default = last.get(name, option.default)
        helptext = field_help(option)
        if name in NUMBER_FIELDS:
            cols[name] = st.column_config.TextColumn(name, help=helptext, default=_as_text(default) or None)
        elif option.kind is bool:
            cols[name] = st.column_config.CheckboxColumn(name, help=helptext, default=bool(default))
        else:
            cols[name] = st.column_config.SelectboxColumn(
                name, help=helptext, options=list(option.choices), default=default
            )
    return cols


def skip_summary(design: Design) -> str:
    """What the skip switch means for this design: how many blocks actually add their input."""
    plan = blocks(design)
    adds = sum(1 for b in plan if b.skip)
    return f"{adds} of {len(plan)} blocks add a skip (only where stride is 1 and the width is unchanged)"


def global_key(d: state.Draft, field: str) -> str:
    """A global control's widget key; it carries the draft's generation, so a reset redraws the control."""
    return f"g::{d.key}::{d.gen}::{field}"


def _on_skips_toggled(d: state.Draft) -> None:
    on = st.session_state[global_key(d, "skips_on")]
    if on and not any(_truthy(r.get("skip")) for r in d.rows):
        d.globals["skips_on"] = True
        d.replace_rows([{**r, "skip": True} for r in d.rows])


def _truthy(v) -> bool:
    return bool(v) and v == v  # NaN (an empty cell) is no skip


def _number_kw(name: str, label: str, step: int, lo: int | None = None) -> dict:
    """A number input whose bounds and help are the option's (lo: a tighter floor, e.g. a width when on)."""
    option = NETWORK_OPTIONS[name]
    return dict(
        label=label,
        min_value=int(option.lo if lo is None else lo),
        max_value=int(option.hi),
        step=step,
        help=field_help(option),
    )


def _global_specs(d: state.Draft) -> list[tuple[str, Callable, dict]]:
    return [
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
        ("last_conv_width", st.number_input, _number_kw("last_conv", "Final conv width", 64, lo=1)),
        ("input_size", st.number_input, _number_kw("input_size", "Input size", 16)),
        ("num_classes", st.number_input, _number_kw("num_classes", "Classes", 1)),
        ("stem_channels", st.number_input, _number_kw("stem_channels", "Stem width", 8)),
        ("name", st.text_input, dict(label="Design name", max_chars=MAX_NAME, help="Names the files you export")),
    ]


def _global_controls(d: state.Draft) -> None:
    """Widgets bound to the draft's globals."""
    g = d.globals
    rows = [st.columns(2), st.columns(2), st.columns(2), [st.container()]]
    cells = [c for r in rows for c in r]
    for cell, (field, widget, kw) in zip(cells, _global_specs(d), strict=True):
        key = global_key(d, field)
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
        key = rowtool_key(d)
        if st.session_state.get(key, 1) > n:  # rows deleted in the grid
            st.session_state[key] = n
        # Stages are counted from 1, as in every problem line beside the table.
        i = st.number_input("Stage", min_value=1, max_value=n, step=1, key=key) - 1
        c1, c2, c3, c4 = st.columns(4)
        # Callbacks run before the next run draws the selector, so it can follow the stage it moved.
        c1.button("Move up", disabled=i == 0, width="stretch", on_click=_move_row, args=(d, i, i - 1))
        c2.button("Move down", disabled=i >= n - 1, width="stretch", on_click=_move_row, args=(d, i, i + 1))
        c3.button("Duplicate", width="stretch", on_click=_duplicate_row, args=(d, i))
        c4.button("Delete", disabled=n == 1, width="stretch", on_click=_delete_row, args=(d, i))


def rowtool_key(d: state.Draft) -> str:
    return f"rowtool::{d.key}"


def _move_row(d: state.Draft, i: int, j: int) -> None:
    rows = [dict(r) for r in d.rows]
    rows[i], rows[j] = rows[j], rows[i]
    d.replace_rows(rows)
    st.session_state[rowtool_key(d)] = j + 1


def _duplicate_row(d: state.Draft, i: int) -> None:
    rows = [dict(r) for r in d.rows]
    d.replace_rows(rows[: i + 1] + [dict(rows[i])] + rows[i + 1 :])


def _delete_row(d: state.Draft, i: int) -> None:
    d.replace_rows([dict(r) for j, r in enumerate(d.rows) if j != i])
    st.session_state[rowtool_key(d)] = min(i, len(d.rows) - 1) + 1


def _editor_frame(rows: list[dict]) -> pd.DataFrame:
    cells = [{k: (_as_text(v) if k in NUMBER_FIELDS else v) for k, v in r.items()} for r in rows]
    return pd.DataFrame(cells, columns=list(STAGE_KEYS))


def _as_text(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _editor(d: state.Draft) -> None:
    if d.editor_key not in st.session_state or d.editor_input is None or d.editor_columns is None:
        d.editor_input = _editor_frame(d.rows)
        # Built with the editor's input, never from its output: the column config is part of the grid's
        # identity, and a config that changed with every edit would give a new grid that forgot the edits.
        d.editor_columns = stage_columns(d.rows)
    # The grid's toolbar floats above its top edge on hover: this gap keeps it off the caption above.
    st.space("small")
    edited = st.data_editor(
        d.editor_input,
        key=d.editor_key,
        column_config=d.editor_columns,
        num_rows="dynamic",
        width="stretch",
        # A grid index would show "None" for a new row; problems count stages from 1, as people count rows.
        hide_index=True,
    )
    d.rows = edited.to_dict("records")


def _metrics(design: Design, base: Design) -> dict | None:
    """The six numbers of the design against the baseline; returns the latency prediction (None without a
    profile) for the per-layer table."""
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
        delta = delta_text(v, b, fmt)
        # An unchanged value has no direction: no arrow, no colour (it used to read as a red ↑).
        arrow, colour = ("off", "off") if v == b else ("auto", "inverse")
        col.metric(label, fmt(v), delta=delta, delta_color=colour, delta_arrow=arrow, help=helptext)
    prediction, measured = _predicted_latency(design, base, columns[-1])
    band = prediction.get("band_pct") if prediction else None
    predicted = f" · predicted latency ±{band:.0f} % (the model's error band)" if band is not None else ""
    seen = f" · measured here: {measured['median_ms']:.2f} ms ({measured['backend']})" if measured else ""
    st.caption(
        f"Δ against **{escape_markdown(base.name)}** · {design.num_classes} classes · "
        f"{design.input_size}×{design.input_size} input · batch 1{predicted}{seen}"
    )
    return prediction


def latency_target() -> tuple[str, str, int, int]:
    """The Latency tab's target (backend, device, threads, batch): torch, CPU, all cores, batch 1 by default.
    The tab's widgets keep their values while another tab is open (state.keep_widgets)."""
    backend = measure_panel.BACKENDS.get(st.session_state.get("m_backend"), "torch")
    device = st.session_state.get("m_device", "cpu")
    threads = int(st.session_state.get("m_threads", physical_cores()))
    batch = int(st.session_state.get("m_batch", 1))
    return backend, device, threads, batch


@st.cache_data(max_entries=256, show_spinner=False)
def _newest_trusted(path: str, version: tuple, design_hash: str, input_size: int, target: tuple) -> dict | None:
    """The newest trusted measurement of a network on a target, read once per version of the store: an edit
    (back to a design measured before, too) must not wait for a query."""
    backend, device, threads, batch = target
    rows = open_store(path).latencies(design_hash, backend=backend, device=device, threads=threads, batch=batch)
    return next((r for r in rows if is_trusted(r) and r["input_size"] == input_size), None)


def _predicted_latency(design: Design, base: Design, where) -> tuple[dict | None, dict | None]:
    """The latency model's prediction for the Latency tab's target, with the newest trusted measurement of the
    same target beside it: measured stays the ground truth."""
    backend, device, threads, batch = latency_target()
    profile = predict_panel.current_profile(backend, device, threads, batch)
    s = store()
    target = (backend, device, threads, batch)
    measured = (
        _newest_trusted(str(s.path), store_version(s), design.network_hash(), design.input_size, target) if s else None
    )
    prediction = predict_panel.render_predicted_metric(
        design,
        base,
        profile,
        measured_ms=measured["median_ms"] if measured else None,
        where=where,
        band_in_value=False,  # six metrics share the row: the band goes in the caption under it
    )
    return prediction, measured


TABS = ("Diagram", "Per-layer table", "Latency on this host", "Export")
TAB_KEY = "design_tab"
# The Latency tab's widgets: the metrics row reads them even while that tab is closed.
LATENCY_WIDGETS = ("m_backend", "m_device", "m_batch", "m_threads", "m_budget", "m_layers")


def render() -> None:
    st.title("Design")
    st.caption(
        "Edit the bottleneck table (t = expansion, c = channels, n = blocks, s = first stride). "
        "Every number below is computed from it as you edit."
    )
    flash = st.session_state.pop("design_flash", None)
    if flash:
        st.toast(flash)
    _workspace()


@st.fragment
def _workspace() -> None:
    """Everything an edit changes, as one fragment: an edit reruns this, not the sidebar and the page around it.
    Actions whose result shows outside it (reset, pin) rerun the whole page."""
    with error_boundary(__name__):
        _workspace_body()


def _workspace_body() -> None:
    state.keep_widgets(LATENCY_WIDGETS)
    d = state.draft(state.current_source())
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
        _actions(d)
    with st.container(key="stale" if d.problems else "fresh"):
        stale_style()
        st.subheader(design.name)
        prediction = _metrics(design, base)
        _paper_notes(design)
        _tabs(d, design, base, prediction)


def _actions(d: state.Draft) -> None:
    b1, b2 = st.columns(2)
    if b1.button(f"Reset to “{d.origin.name}”", help="Discard your edits of this source", width="stretch"):
        d.reset()
        st.rerun()
    if b2.button(
        "Pin for comparison",
        width="stretch",
        disabled=bool(d.blocked),
        help=d.blocked or "Keep this design for the Compare page and as a baseline",
    ):
        _pin(d)
        st.rerun()  # the whole page: the sidebar's Pinned list and baseline choices show the pin at once


def _paper_notes(design: Design) -> None:
    notes = design.meta.get("notes")
    if not notes:
        return
    with st.expander("How the paper was read for this preset"):
        st.text(notes)  # plain text: an uploaded design must not embed remote images or links
        p = design.meta.get("paper", {})
        st.text(
            f"Paper: {p.get('params_m')} M params, {p.get('flops_m')} M FLOPs, "
            f"top-1 {p.get('accuracy_top1')} %, CPU {p.get('cpu_ms')} ms, GPU {p.get('gpu_ms')} ms "
            f"({p.get('table')})."
        )


def _tabs(d: state.Draft, design: Design, base: Design, prediction: dict | None) -> None:
    """Only the open tab is drawn: a hidden diagram, roofline or export file is not rebuilt on every edit."""
    diagram, layers, latency, export = st.tabs(list(TABS), key=TAB_KEY, on_change="rerun")
    if diagram.open:
        with diagram:
            if d.problems:
                st.caption("The diagram shows the last valid design, greyed, until the table is fixed.")
            render_diagram(design, base)
    if layers.open:
        with layers:
            layer_table(design, prediction)
    if latency.open:
        with latency:
            try:
                measure_panel.render(design, blocked=d.blocked)
            except UserError as e:  # a refused or failed measurement must not take the Export tab down with it
                st.error(first_line(e))
    if export.open:
        with export:
            export_panel.render(design, blocked=d.blocked)


def _problems(d: state.Draft) -> None:
    """One problem per line beside the table, each naming the row (counted from 1) or the setting."""
    if d.problems:
        where = "table" if all(p.startswith("stages") for p in d.problems) else "design"
        st.error(f"The {where} has a problem; the numbers below are of the last valid design, greyed.", icon="⚠️")
        for p in d.problems:
            st.error(readable_problem(p))
    elif d.over_cap:
        st.error("Over the cost cap: the numbers are right, but this design cannot be pinned, measured or exported.")
        for p in d.over_cap:
            st.error(p)


SETTING_NAMES = {
    "name": "Design name",
    "num_classes": "Classes",
    "input_size": "Input size",
    "stem_channels": "Stem width",
    "last_conv": "Final conv width",
    "dropout": "Dropout",
}


def readable_problem(problem: str) -> str:
    """The validator's `stages[1].c: …` as the grid shows it, `row 2, c: …`; a setting by its control's label."""
    m = re.match(r"stages\[(\d+)\](?:\.(\w+))?: ?(.*)", problem, re.S)
    if m:
        row, cell, text = int(m.group(1)) + 1, m.group(2), m.group(3)
        return f"row {row}, {cell}: {text}" if cell else f"row {row}: {text}"
    name, sep, text = problem.partition(":")
    return f"{SETTING_NAMES[name]}:{text}" if sep and name in SETTING_NAMES else problem


def _pin(d: state.Draft) -> None:
    d.evaluate()
    if d.blocked:
        return
    st.session_state.design_flash = f"Pinned “{state.pin(d.last_valid)}” — see the Compare page"
