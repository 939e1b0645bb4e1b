"""Reading the local results store for the pages; a broken store is reported once, never overwritten."""

from __future__ import annotations

import streamlit as st

from ..errors import UserError
from ..store.results import ResultStore


def store() -> ResultStore | None:
    try:
        return ResultStore()
    except UserError as e:
        st.warning(
            f"Results store unavailable: {e} Measurements still run but are not saved; "
            "move that file away to start a new store."
        )
        return None
