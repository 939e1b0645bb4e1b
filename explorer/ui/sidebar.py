"""The sidebar: where a design comes from (preset, blank, upload), the baseline, and the pinned designs."""

from __future__ import annotations

import logging

import streamlit as st

from ..design.spec import load_design_text
from ..errors import UserError
from . import state

log = logging.getLogger(__name__)


def _on_upload() -> None:
    f = st.session_state.get("upload")
    if f is None:
        return
    try:
        design = load_design_text(f.getvalue(), origin=f.name)
    except UserError as e:
        st.session_state.upload_error = str(e).splitlines()
        return
    st.session_state.upload_error = None
    state.set_source(state.add_source(design, f"{design.name or 'design'} (uploaded)"))


def render() -> None:
    with st.sidebar:
        st.session_state.source = state.current_source()  # the widget starts from the kept value on every page
        st.selectbox(
            "Start from",
            state.sources(),
            key="source",
            on_change=lambda: state.set_source(st.session_state.source),
            help="Each source keeps its own edits; “Reset” on the Design page discards them.",
        )
        st.file_uploader(
            "Load a design (.json)",
            type=["json"],
            key="upload",
            on_change=_on_upload,
            help="A design file as saved by this app or `python -m explorer export --format json`; at most 1 MB.",
        )
        for line in st.session_state.get("upload_error") or []:
            st.error(line)
        st.session_state.baseline = state.baseline_label()
        st.selectbox(
            "Compare against",
            list(state.baseline_options()),
            key="baseline",
            on_change=lambda: state.set_baseline(st.session_state.baseline),
            help="Deltas on the Design page are against this design.",
        )
        pins = state.pinned()
        if pins:
            st.caption("Pinned: " + ", ".join(pins))
        st.divider()
        st.caption(
            "Numbers: MACs = conv + linear multiply-accumulates, FLOPs = 2 × MACs, float32, batch 1. "
            "Paper: Lee, Lee & Ho (2020)."
        )
