"""Pinned designs side by side: metrics, latest measured latency, and a diff of two stage tables."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..design.align import global_diff, stage_diff
from ..design.cost import compute_cost
from ..design.plan import residual_adds
from ..design.spec import Design
from ..measure.quality import is_trusted, verdict
from . import state
from .results_view import store

NONE = "—"  # a missing value reads as a dash, never as a raw "None"
STAGE_HELP = (
    "Stage number in “From” → in “To”, counted from 1; stages are paired by stride and width, so a removed stage "
    "reads removed"
)


def candidates() -> dict[str, Design]:
    """One entry per network: the design being edited, then pins, then presets; a network already listed
    under an earlier label (the unedited preset being edited, a pin of it) is not listed again."""
    current = state.current_design()
    designs: dict[str, Design] = {}
    seen: dict[str, str] = {}
    pinned_as = {d.network_hash(): label for label, d in state.pinned().items()}
    preset_as = {d.network_hash(): label for label, d in state.baseline_options().items()}
    also = "pinned" if current.network_hash() in pinned_as else "preset" if current.network_hash() in preset_as else ""
    label = f"current: {current.name}" + (f" ({also})" if also else "")
    designs[label], seen[current.network_hash()] = current, label
    groups = [("pinned", state.pinned().items())]
    groups.append(("preset", ((k, v) for k, v in state.baseline_options().items() if not k.startswith("pinned: "))))
    for kind, items in groups:
        for name, d in items:
            if d.network_hash() not in seen:
                designs[f"{kind}: {name}"] = d
                seen[d.network_hash()] = f"{kind}: {name}"
    return designs


def _latency_cells(s, d: Design) -> tuple[str, str]:
    """The newest measurement judged ok; only when there is none, the newest at all, flagged."""
    rows = s.latencies(d.network_hash(), batch=1) if s else []
    r = next((row for row in rows if is_trusted(row)), rows[0] if rows else None)
    if r is None:
        return "not measured", NONE
    flag = {"ok": "", "noisy": " (noisy)", "unchecked": " (unchecked)"}[verdict(r)]
    return f"{r['median_ms']:.2f} ms{flag}", f"{r['backend']}, {r['device']}, {r['threads']} threads"


def overview_frame(chosen: dict[str, Design], s) -> pd.DataFrame:
    rows = []
    for label, d in chosen.items():
        c = compute_cost(d)
        paper = d.meta.get("paper", {}).get("accuracy_top1")
        latency, setting = _latency_cells(s, d)
        rows.append(
            {
                "design": label,
                "stages": len(d.stages),
                "blocks": sum(stage.n for stage in d.stages),
                "residual adds": residual_adds(d),
                "params": f"{c.params:,}",
                "MACs": f"{c.macs:,}",
                "peak act.": f"{c.peak_activation_bytes / 2**20:.2f} MiB",
                "latency (batch 1)": latency,
                "measured with": setting,
                "paper top-1": f"{paper:.1f} %" if paper is not None else NONE,
            }
        )
    return pd.DataFrame(rows)


def _overview(chosen: dict[str, Design]) -> None:
    df = overview_frame(chosen, store())  # one store read per page run, not one per design
    st.dataframe(
        df,
        hide_index=True,
        width="stretch",
        column_config={
            "design": st.column_config.TextColumn(width="medium"),
            "residual adds": st.column_config.NumberColumn(
                help="Blocks whose input is added to their output: skip set, stride 1 and unchanged width"
            ),
            "latency (batch 1)": st.column_config.TextColumn(
                width="medium", help="Newest measurement on this host judged ok (else the newest, flagged)"
            ),
            "measured with": st.column_config.TextColumn(width="medium"),
        },
    )


def diff_frame(da: Design, db: Design) -> pd.DataFrame:
    return stage_diff_frame(stage_diff(da, db))


def stage_diff_frame(rows: list[dict]) -> pd.DataFrame:
    """explorer.design.align.stage_diff rows as people read them: stages counted from 1, a dash where a stage
    does not exist, never a raw None or a field name such as from_stage."""
    out = []
    for r in rows:
        i, j = r["from_stage"], r["to_stage"]
        out.append(
            {
                "stage": f"{NONE if i is None else i + 1} → {NONE if j is None else j + 1}",
                "status": r["status"],
                "changes": r["changes"] or NONE,
                "Δ params": f"{r['params_delta']:+,}",
                "Δ MACs": f"{r['macs_delta']:+,}",
            }
        )
    return pd.DataFrame(out)


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
    st.dataframe(
        diff_frame(da, db),
        hide_index=True,
        width="stretch",
        column_config={"stage": st.column_config.TextColumn(help=STAGE_HELP)},
    )
    st.caption(
        "A stage's Δ params and Δ MACs count its own blocks, so they also move when the stage before it changes "
        "width (its input). A skip flag changes nothing where the block cannot add (stride 2 or a new width)."
    )
    g = global_diff(da, db)
    if g:
        st.write("Other changes: " + "; ".join(g))
    ca, cb = compute_cost(da), compute_cost(db)
    st.write(
        f"In total: params {cb.params - ca.params:+,} ({(cb.params / ca.params - 1):+.1%}), "
        f"MACs {cb.macs - ca.macs:+,} ({(cb.macs / ca.macs - 1):+.1%}), "
        f"residual adds {residual_adds(db) - residual_adds(da):+d} ({residual_adds(da)} → {residual_adds(db)})."
    )


def render() -> None:
    st.title("Compare")
    st.caption("Pin designs on the Design page; compare them here with each other and with the paper's models.")
    pins = state.pinned()
    everything = candidates()
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
