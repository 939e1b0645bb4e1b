"""Server-side time of one app rerun after a table edit, MobileNet V2 (target: <= 150 ms).

Run: python benchmarks/app_rerun.py
AppTest runs the real app script in-process, so this is what the server spends per edit: validation, cost
model, metrics and the open tab (the diagram). Latency measurement and training run only on a button, so they
are not part of it. Every edit sets a new width, so nothing comes from a cache (figures are cached per design).
"""

import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("EXPLORER_DATA_DIR", tempfile.mkdtemp())

from streamlit.testing.v1 import AppTest  # noqa: E402

from explorer.design.cost import compute_cost
from explorer.design.presets import get_preset

APP = str(Path(__file__).resolve().parent.parent / "app.py")
EDITOR = "editor::MobileNet V2::0"


def main(edits: int = 30) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    at.selectbox(key="source").set_value("MobileNet V2").run()
    times = []
    for i in range(edits):
        at.session_state[EDITOR] = {"edited_rows": {2: {"c": str(33 + i)}}, "added_rows": [], "deleted_rows": []}
        t0 = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - t0) * 1e3)
        assert not at.exception
    t0 = time.perf_counter()
    for _ in range(100):
        compute_cost(get_preset("MobileNet V2"))
    cost_ms = (time.perf_counter() - t0) * 10
    med = statistics.median(times)
    print(f"first run (imports, cold): {first * 1e3:.0f} ms")
    print(
        f"rerun after a table edit, MobileNet V2: median {med:.1f} ms, "
        f"p90 {sorted(times)[int(0.9 * len(times))]:.1f} ms, min {min(times):.1f} ms over {edits} edits"
    )
    print(f"of which the cost model: {cost_ms:.2f} ms ({cost_ms / med:.1%} of a rerun)")
    print(f"target 150 ms: {'met' if med <= 150 else 'NOT met'} ({med / 150:.2f}x of the budget)")


if __name__ == "__main__":
    main()
