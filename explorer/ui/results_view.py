"""Reading the local results store for the pages: opened once per session and path, never once per widget.

A broken store is reported on the page that needs it, never overwritten.
"""

from __future__ import annotations

import streamlit as st

from ..errors import UserError
from ..store.results import ResultStore, default_store_path


@st.cache_resource(max_entries=8, show_spinner=False)
def _open(path: str) -> ResultStore:
    """One ResultStore object per store path for the server's life: opening checks the file's integrity, which
    grows with the store, so it is done once, not on every rerun of every page. Every query still opens its own
    connection and checks the schema, so a file moved away or replaced later is still refused, not written over.
    A store that cannot be opened raises, and an exception is not cached: the next run tries again."""
    return ResultStore(path)


def store() -> ResultStore | None:
    try:
        return _open(str(default_store_path()))
    except UserError as e:
        st.warning(
            f"Results store unavailable: {e} Measurements still run but are not saved; "
            "move that file away to start a new store."
        )
        return None
