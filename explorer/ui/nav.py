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
# Streamlit polls its config.toml files every 0.2 s even with the file watcher off (.streamlit/config.toml):
# about 1 % of a core on an idle 2-core host, half of what an idle app may use, beside every measurement.
# Config files change rarely; a reload 2 s after an edit is soon enough.
CONFIG_POLL_S = 2.0


def slow_config_polling() -> None:
    """Lengthen Streamlit's config-file polling period (a module constant it reads before every sleep)."""
    from streamlit.watcher import polling_path_watcher

    if hasattr(polling_path_watcher, "_POLLING_PERIOD_SECS"):  # absent in another Streamlit: nothing to do
        polling_path_watcher._POLLING_PERIOD_SECS = CONFIG_POLL_S


def navigation():
    slow_config_polling()
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
