import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from tiny_design import TINY

from explorer.design.spec import Design, parse_design

# `explorer` comes from the project's (editable) install, as .ci/run makes it; the shared helpers (strategies,
# export_helpers, app_helpers) from this folder, which pytest puts on sys.path as the tests' root folder (no
# __init__.py).

# CI gets more examples; local runs stay quick. Model builds make examples slow, so no deadline.
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# Where the explorer keeps its state when nothing says otherwise (explorer.paths.default_data_dir: the user's
# $XDG_DATA_HOME or ~/.local/share): never written by a test. Both variables point into the run's temporary folders.


@pytest.fixture(scope="session", autouse=True)
def private_data_for_the_session(tmp_path_factory):
    """For the whole run (module fixtures and subprocesses included): a data folder and XDG data home of its own."""
    root = tmp_path_factory.mktemp("session-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_DATA_DIR", str(root / "data"))
        mp.setenv("XDG_DATA_HOME", str(root / "xdg"))
        mp.setenv("EXPLORER_HOST_LOCK", str(root / "host" / "measure.lock"))
        yield root


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch) -> Path:
    """Each test's own data folder (not created: the explorer makes it when it first writes)."""
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    # The host lock is host-wide by design; a test takes its own, so it neither waits for nor blocks a real app.
    monkeypatch.setenv("EXPLORER_HOST_LOCK", str(tmp_path / "host" / "measure.lock"))
    return tmp_path / "data"


@pytest.fixture
def tiny() -> Design:
    """The shared tiny design (tests/tiny_design.py), parsed."""
    return parse_design(TINY)


@pytest.fixture
def at():
    """The app, started on its default page (the Design page)."""
    from app_helpers import new_app  # streamlit loads only for the page tests

    return new_app()
