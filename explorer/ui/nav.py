"""Page list and the error boundary every page runs inside: no traceback ever reaches the browser."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from ..errors import UserError
from . import sidebar

log = logging.getLogger("explorer.ui")


def run_guarded(render: Callable[[], None]) -> None:
    """A page inside the error boundary, with the sidebar."""
    with error_boundary(render.__module__):
        sidebar.render()
        render()


@contextmanager
def error_boundary(where: str):
    """User mistakes show their message; bugs show one line and go to the server log with the traceback.

    Streamlit's own rerun/stop signals derive from BaseException, so they pass through untouched. A fragment
    (st.fragment) needs a boundary of its own: Streamlit draws an exception raised inside one, traceback and all,
    before the page's boundary could see it.
    """
    try:
        yield
    except UserError as e:
        st.error(str(e))
    except Exception as e:
        log.exception("unexpected error while rendering %s", where)
        st.error(
            f"Something went wrong ({type(e).__name__}: {e}). Your designs are kept; the details are in the server log."
        )


PAGES = Path(__file__).resolve().parent / "pages"


def navigation():
    # Pages are small files (not callables) so that AppTest can switch to them by path.
    return st.navigation(
        [
            st.Page(PAGES / "design.py", title="Design", icon=":material/tune:", url_path="design", default=True),
            st.Page(PAGES / "compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
            st.Page(PAGES / "charts.py", title="Charts", icon=":material/scatter_plot:", url_path="charts"),
            st.Page(PAGES / "search.py", title="Search", icon=":material/travel_explore:", url_path="search"),
            st.Page(PAGES / "train.py", title="Fine-tune", icon=":material/model_training:", url_path="train"),
            st.Page(PAGES / "classroom.py", title="Classroom", icon=":material/school:", url_path="classroom"),
        ]
    )
