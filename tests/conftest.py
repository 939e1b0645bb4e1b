import os

import pytest
from hypothesis import HealthCheck, settings
from tiny_design import TINY

from explorer.design.spec import Design, parse_design

# `explorer` comes from the project's (editable) install, as .ci/run makes it; the shared helpers (strategies,
# export_helpers) from this folder, which pytest puts on sys.path as the tests' root folder (no __init__.py).

# CI gets more examples; local runs stay quick. Model builds make examples slow, so no deadline.
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def tiny() -> Design:
    """The shared tiny design (tests/tiny_design.py), parsed."""
    return parse_design(TINY)
