"""Helpers shared by the headless page tests (streamlit.testing.v1.AppTest on app.py)."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parent.parent / "app.py"
EDITOR = "editor::SM_V2::0"  # the stage grid of the default design, first edit generation
DESIGN_METRICS = ("Params", "MACs", "FLOPs", "Memory traffic", "Peak activations")


def start_app() -> AppTest:
    """app.py run once, on its default page, with no exception."""
    app = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not app.exception, app.exception
    return app


def metrics(app) -> dict:
    """The design's own numbers (other panels, such as the latency prediction, add metrics of their own)."""
    return {m.label: m.value for m in app.metric if m.label in DESIGN_METRICS}


def edit(app, rows: dict, key: str = EDITOR):
    """Edit the stage grid's cells as the data editor reports them ({row: {column: value}}), and rerun."""
    app.session_state[key] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}
    app.run()
    assert not app.exception, app.exception
    return app
