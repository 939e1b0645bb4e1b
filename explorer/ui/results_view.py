"""Reading the local results store for the pages; a broken store is reported once, never overwritten."""

from __future__ import annotations

import streamlit as st

from ..errors import UserError
from ..results import ResultStore
from ..spec import Design


def store() -> ResultStore | None:
    try:
        return ResultStore()
    except UserError as e:
        st.warning(
            f"Results store unavailable: {e} Measurements still run but are not saved; move that file away to start a new store."
        )
        return None


def measured_label(r: dict) -> str:
    return f"{r['median_ms']:.2f} ms ({r['backend']}, {r['device']}, batch {r['batch']}, {r['threads']} threads)"


def latest_latency_text(s: ResultStore | None, design: Design) -> str:
    r = s.latest_latency(design.network_hash(), batch=1) if s else None
    return measured_label(r) if r else "not measured"
