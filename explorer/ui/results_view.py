"""Reading the local results store for the pages: opened once per session and path, never once per widget.

A broken store is reported on the page that needs it, never overwritten.
"""

from __future__ import annotations

import os

import streamlit as st

from ..errors import UserError
from ..store.results import ResultStore, default_store_path


@st.cache_resource(max_entries=8, show_spinner=False)
def open_store(path: str) -> ResultStore:
    """One ResultStore object per store path for the server's life: opening checks the file's integrity, which
    grows with the store, so it is done once, not on every rerun of every page. Every query still opens its own
    connection and checks the schema, so a file moved away or replaced later is still refused, not written over.
    A store that cannot be opened raises, and an exception is not cached: the next run tries again."""
    return ResultStore(path)


def store_version(s: ResultStore) -> tuple[int, int]:
    """Changes whenever the store's file is written (SQLite rewrites the file on every commit): the key under
    which pages cache what they read from it."""
    try:
        info = os.stat(s.path)
    except OSError:
        return (0, 0)
    return (info.st_mtime_ns, info.st_size)


def store() -> ResultStore | None:
    try:
        return open_store(str(default_store_path()))
    except UserError as e:
        st.warning(
            f"Results store unavailable: {e} Measurements still run but are not saved; "
            "move that file away to start a new store."
        )
        return None
