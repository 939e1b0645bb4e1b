"""Helpers for AppTest tests of the app: find controls by what the user reads (labels), never by widget keys
that encode the page's internals (such as a draft's generation)."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
DESIGN_METRICS = ("Params", "MACs", "FLOPs", "Memory traffic", "Peak activations")


def new_app() -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not app.exception, app.exception
    return app


def metrics(app: AppTest) -> dict:
    """The design's own numbers (other panels, such as the latency prediction, add metrics of their own)."""
    return {m.label: m.value for m in app.metric if m.label in DESIGN_METRICS}


def page(app: AppTest, name: str) -> AppTest:
    app.switch_page(f"explorer/ui/pages/{name}.py").run()
    assert not app.exception, app.exception
    return app


def editor_key(app: AppTest) -> str:
    """The Design page's grid: the one data editor on the page."""
    source = app.session_state["current_source"] if "current_source" in app.session_state else "SM_V2"
    gen = app.session_state["drafts"][source].gen
    return f"editor::{source}::{gen}"


def edit(app: AppTest, rows: dict, added: list | None = None) -> AppTest:
    """Edit the Design page's grid as the browser does: changed cells by row position, rows added."""
    app.session_state[editor_key(app)] = {"edited_rows": rows, "added_rows": added or [], "deleted_rows": []}
    app.run()
    assert not app.exception, app.exception
    return app


def by_label(elements, label: str):
    found = [e for e in elements if e.label == label]
    assert len(found) == 1, f"{len(found)} controls labelled {label!r}: {[e.label for e in elements]}"
    return found[0]


def toggle(app: AppTest, label: str):
    return by_label(app.toggle, label)


def number_input(app: AppTest, label: str):
    return by_label(app.number_input, label)


def button(app: AppTest, label: str):
    return by_label(app.button, label)


def open_tab(app: AppTest, label: str) -> AppTest:
    """The Design page draws only its open tab; this opens one as a click on it would."""
    app.session_state["design_tab"] = label
    app.run()
    assert not app.exception, app.exception
    return app


def errors(app: AppTest) -> list[str]:
    return [e.value for e in app.error]
