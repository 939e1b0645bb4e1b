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
    st.session_state.upload_error = None
    if f is None:  # the file was removed from the box: its error goes with it
        return
    try:
        design = load_design_text(f.getvalue(), origin=f.name)
    except UserError as e:
        # Kept with the file it is about: shown while that file is in the box, gone on other pages and after.
        st.session_state.upload_error = {"file_id": f.file_id, "lines": str(e).splitlines()}
        return
    state.set_source(state.add_source(design, f"{design.name} (uploaded)"))


def upload_errors() -> list[str]:
    """The error of the file now in the upload box, if it was refused; nothing for a file no longer there."""
    error = st.session_state.get("upload_error")
    f = st.session_state.get("upload")
    if not error or f is None or getattr(f, "file_id", None) != error["file_id"]:
        return []
    return error["lines"]


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
        for line in upload_errors():
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
