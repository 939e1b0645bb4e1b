"""Pinned designs side by side: metrics, latest measured latency, and a diff of two stage tables."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..compare import global_diff, stage_diff
from ..cost import compute_cost
from ..spec import Design
from . import state
from .results_view import latest_latency_text, store


def _candidates() -> dict[str, Design]:
    designs = {f"current: {state.current_design().name}": state.current_design()}
    designs.update({f"pinned: {k}": v for k, v in state.pinned().items()})
    designs.update({f"preset: {k}": v for k, v in state.baseline_options().items() if not k.startswith("pinned: ")})
    return designs


def _overview(chosen: dict[str, Design]) -> None:
    rows, s = [], store()  # one store read per page run, not one per design
    for label, d in chosen.items():
        c = compute_cost(d)
        paper = d.meta.get("paper", {})
        rows.append(
            {
                "design": label,
                "stages": len(d.stages),
                "blocks": sum(s.n for s in d.stages),
                "skips": sum(s.n for s in d.stages if s.skip),
                "params": c.params,
                "MACs": c.macs,
                "peak act. MiB": c.peak_activation_bytes / 2**20,
                "measured latency": latest_latency_text(s, d),
                "paper top-1 %": paper.get("accuracy_top1"),
            }
        )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "params": st.column_config.NumberColumn(format="localized"),
            "MACs": st.column_config.NumberColumn(format="localized"),
            "peak act. MiB": st.column_config.NumberColumn(format="%.2f"),
        },
    )


def _diff(chosen: dict[str, Design]) -> None:
    labels = list(chosen)
    if len(labels) < 2:
        st.info("Pin a second design (Design page → “Pin for comparison”) or tick a preset above to see a diff.")
        return
    c1, c2 = st.columns(2)
    # Default: from the last chosen (the baseline, usually) to the first (the design being edited).
    a = c1.selectbox("From", labels, index=len(labels) - 1, key="diff_a")
    b = c2.selectbox("To", labels, index=0, key="diff_b")
    da, db = chosen[a], chosen[b]
    rows = stage_diff(da, db)
    df = pd.DataFrame(rows)
    st.dataframe(
        df,
        hide_index=True,
        width="stretch",
        column_config={
            "params_delta": st.column_config.NumberColumn("Δ params", format="%+d"),
            "macs_delta": st.column_config.NumberColumn("Δ MACs", format="%+d"),
        },
    )
    g = global_diff(da, db)
    if g:
        st.write("Other changes: " + "; ".join(g))
    ca, cb = compute_cost(da), compute_cost(db)
    st.write(
        f"In total: params {cb.params - ca.params:+,} ({(cb.params / ca.params - 1):+.1%}), "
        f"MACs {cb.macs - ca.macs:+,} ({(cb.macs / ca.macs - 1):+.1%}), "
        f"residual adds {sum(1 for lc in cb.layers if lc.layer.kind == 'add') - sum(1 for lc in ca.layers if lc.layer.kind == 'add'):+d}."
    )


def render() -> None:
    st.title("Compare")
    st.caption("Pin designs on the Design page; compare them here with each other and with the paper's models.")
    pins = state.pinned()
    everything = _candidates()
    default = [k for k in everything if k.startswith(("current:", "pinned:"))] + ["preset: MobileNet V2"]
    chosen_labels = st.multiselect(
        "Designs", list(everything), default=[k for k in default if k in everything], key="compare_sel"
    )
    chosen = {k: everything[k] for k in chosen_labels}
    if not chosen:
        st.info("Choose at least one design.")
        return
    _overview(chosen)
    st.subheader("What changed, and what it cost")
    _diff(chosen)
    if pins:
        with st.expander("Unpin"):
            for label in list(pins):
                if st.button(f"Unpin {label}", key=f"unpin::{label}"):
                    del pins[label]
                    st.rerun()
