"""One measurement for the app (the Measure button, the Classroom): the service's worker, polled by a page.

A measurement taken inside the app's server process would share it with the web server and the page's own
re-runs, so the app goes through the measurement service (explorer.measure.service) like the CLI: a fresh
worker, the same protocol and verdict, the result stored. `MeasureProcess` runs it in a background thread
the page polls; leaving its `with` block (a click re-ran the page) cancels the worker.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..design.spec import Design
from ..errors import UserError
from .job import MeasureJob
from .service import Background, Measured, MeasureRun
from .target import Target


def bench_json(m: Measured, store_path: str | Path | None) -> dict:
    """The result as `bench --json` prints it: the LatencyResult, where it was stored, the per-layer split."""
    out = dict(m.result or {})
    out["stored"] = str(store_path) if store_path and m.stored_id is not None else None
    out["stored_id"] = m.stored_id
    if m.store_error:
        out["store_error"] = m.store_error
    if m.layers:
        out["layers"] = m.layers
    return out


class MeasureProcess:
    """One design measured by the service in the background. Use as a context manager: leaving it cancels."""

    def __init__(
        self,
        design: Design,
        *,
        backend: str = "torch",
        device: str = "cpu",
        batch: int = 1,
        threads: int | None = None,
        budget_s: float = 2.0,
        per_layer: bool = False,
        store_path: str | Path | None = None,
        purpose: str = "app",
    ):
        self.design = design
        self.store_path = store_path
        self.job = MeasureJob(
            [design], Target(backend, device, threads, batch), budget_s=budget_s, per_layer=per_layer, purpose=purpose
        )
        self._bg: Background | None = None

    def start(self) -> MeasureProcess:
        store = None
        if self.store_path:
            from ..store.results import ResultStore

            store = ResultStore(self.store_path)
        self._bg = Background(MeasureRun(self.job, store=store)).start()
        return self

    def __enter__(self) -> MeasureProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cancel()

    @property
    def pid(self) -> int | None:
        worker = self._bg.run.worker if self._bg else None
        return worker.pid if worker else None

    def running(self) -> bool:
        return self._bg is not None and self._bg.running()

    def cancel(self) -> None:
        if self._bg is not None and self._bg.running():
            self._bg.cancel()

    def progress_events(self) -> list[tuple[float, str]]:
        """Progress reported since the last call, oldest first: (fraction, message)."""
        return self._bg.progress_events() if self._bg else []

    def wait(self, timeout: float | None = None) -> dict:
        assert self._bg is not None, "start() first"
        self._bg.wait(timeout)
        return self.result()

    def result(self) -> dict:
        """bench's JSON for the design; a refused, failed or cancelled measurement raises its one line."""
        bg = self._bg
        if bg is None or bg.running():
            raise UserError("the measurement is still running")
        if bg.error is not None:
            raise bg.error
        if len(bg.outcomes) != 1:
            raise UserError(f"the measurement worker returned {len(bg.outcomes)} results for one design")
        m = bg.outcomes[0]
        if m.error:
            raise UserError(m.error)
        return bench_json(m, self.store_path)


def measure_in_worker(design: Design, progress=None, poll_s: float = 0.1, **options) -> dict:
    """Run one measurement in a worker and wait for it; progress(fraction, message) is called as it goes."""
    with MeasureProcess(design, **options) as worker:
        while worker.running():
            for frac, msg in worker.progress_events():
                if progress is not None:
                    progress(frac, msg)
            time.sleep(poll_s)
        for frac, msg in worker.progress_events():
            if progress is not None:
                progress(frac, msg)
        return worker.wait()
