import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests import `explorer` from the checkout, not an installed copy
sys.path.insert(0, str(Path(__file__).resolve().parent))  # and the shared test helpers (strategies)

# CI gets more examples; local runs stay quick. Model builds make examples slow, so no deadline.
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")
