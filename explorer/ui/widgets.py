"""Small rendering helpers shared by the pages."""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
import streamlit as st

from ..design.cost import compute_cost
from ..design.spec import Design
from ..fmt import si

# The browser shares this host with the measurement it shows: an animated progress bar redrawn 4 times a second
# cost ~0.13 of a core and made the app's median 10-70 % slower than the CLI's on 2 cores. So pages that wait
# on a measuring subprocess poll once a second (where a Cancel click lands) and show coarse, rarely changing steps.
PROGRESS_POLL_S = 1.0
PROGRESS_STEPS = 5


def coarse_progress(fraction: float, message: str) -> tuple[float, str]:
    """A few steps and the phase's name (no running counts): what changes rarely is redrawn rarely."""
    step = round(min(max(fraction, 0.0), 1.0) * PROGRESS_STEPS) / PROGRESS_STEPS
    return step, message.split(" (")[0] + "…"


_STALE_CSS = "<style>.st-key-stale{opacity:.45;filter:grayscale(1)}</style>"


def stale_style() -> None:
    """Greys out the container keyed 'stale': numbers of the last valid design while the table is invalid."""
    st.markdown(_STALE_CSS, unsafe_allow_html=True)


def delta_text(value: float, base: float, fmt: Callable[[float], str] = si) -> str | None:
    if value == base:
        return "same as baseline"
    diff = value - base
    pct = f" ({percent_text(diff / base)})" if base else ""
    return f"{'+' if diff > 0 else '-'}{fmt(abs(diff))}{pct}"  # ASCII minus: Streamlit reads the sign from it


def percent_text(ratio: float) -> str:
    """A signed change that never reads "+0%" for a real change: small changes get a decimal or "<0.1%"."""
    sign, pct = ("+" if ratio > 0 else "−"), abs(ratio) * 100
    if pct < 0.1:
        return f"{sign}<0.1%"
    if 99.5 <= pct < 100:  # almost all of it gone, not all: never "−100%" for a design that still has some
        return f"{sign}{min(pct, 99.9):.1f}%"
    return f"{sign}{pct:.1f}%" if pct < 10 else f"{sign}{pct:.0f}%"


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$])")


def escape_markdown(text: str) -> str:
    """A user's text (a design name) shown literally inside Markdown: `**x**` stays two stars and an x."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def layer_frame(
    design: Design, time_share: dict[str, float] | None = None, prediction: dict | None = None
) -> pd.DataFrame:
    cost = compute_cost(design)
    df = pd.DataFrame(cost.rows())
    df["MAC share %"] = 100 * df["macs"] / max(cost.macs, 1)
    df["bytes share %"] = 100 * (df["read_bytes"] + df["write_bytes"]) / max(cost.bytes, 1)
    if prediction:
        by_name = {ly["name"]: ly for ly in prediction["layers"]}
        df["predicted ms"] = [by_name[n]["predicted_ms"] if n in by_name else None for n in df["name"]]
        df["bound"] = [by_name[n]["bound"] if n in by_name else None for n in df["name"]]
    if time_share:
        df["time share %"] = [100 * time_share[n] if n in time_share else None for n in df["name"]]
    return df


def layer_table(design: Design, prediction: dict | None = None) -> None:
    """Per-layer costs; with a calibrated profile, each layer's predicted time and what bounds it."""
    shares = st.session_state.get("time_shares", {}).get(design.network_hash())
    df = layer_frame(design, shares, prediction)
    cfg = {
        "params": st.column_config.NumberColumn("params", format="localized"),
        "macs": st.column_config.NumberColumn("MACs", format="localized"),
        "read_bytes": st.column_config.NumberColumn(
            "bytes read",
            format="localized",
            help="Activations read (an add re-reads the block input) + weights, float32",
        ),
        "write_bytes": st.column_config.NumberColumn("bytes written", format="localized"),
        "intensity": st.column_config.NumberColumn(
            "FLOP/byte", help="Arithmetic intensity: low = memory-bound (depthwise convs, adds)", format="%.2f"
        ),
        "MAC share %": st.column_config.ProgressColumn(
            "MAC share", format="%.1f%%", min_value=0, max_value=100, width="small"
        ),
        "bytes share %": st.column_config.ProgressColumn(
            "bytes share", format="%.1f%%", min_value=0, max_value=100, width="small"
        ),
        "time share %": st.column_config.ProgressColumn(
            "time share (measured)", format="%.1f%%", min_value=0, max_value=100
        ),
        "predicted ms": st.column_config.NumberColumn(
            "predicted ms", format="%.3f", help="The latency model calibrated on this host (Latency tab's target)"
        ),
        "bound": st.column_config.TextColumn(
            "bound", help="The largest term of the prediction: compute, memory traffic or per-operator overhead"
        ),
    }
    # Kernel and stride are in the shapes; without them every column fits a laptop-wide page (no hidden columns).
    order = [c for c in df.columns if c not in ("k", "stride")]
    st.dataframe(df, column_config=cfg, column_order=order, hide_index=True, width="stretch", height=420)
    note = (
        "Time share from the last per-layer measurement of this design"
        if shares
        else "Measure with “per-layer split” on the Latency tab to add each layer's share of time"
    )
    st.caption(
        "MACs count conv and linear layers only; FLOPs = 2 × MACs. "
        f"Bytes assume float32 and BN+ReLU6 fused into the conv. {note}."
    )
