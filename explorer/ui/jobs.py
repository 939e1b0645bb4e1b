"""A background job for long work (fine-tuning) that a UI polls: events so far, stop, result or error.

The UI reruns its script many times while the job runs; the job lives in the session and outlives them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..errors import UserError

log = logging.getLogger(__name__)


class Job:
    def __init__(self, fn: Callable[[Callable[[dict], None], threading.Event], object], name: str = "job"):
        self.events: list[dict] = []
        self.stop_event = threading.Event()
        self.result = None
        self.error: str | None = None
        self.started = time.time()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(fn,), name=name, daemon=True)
        self._thread.start()

    def _emit(self, event: dict) -> None:
        with self._lock:
            self.events.append({**event, "t": time.time() - self.started})

    def _run(self, fn) -> None:
        try:
            self.result = fn(self._emit, self.stop_event)
        except UserError as e:
            self.error = str(e)
        except Exception as e:  # keep the app alive; the log has the traceback
            log.exception("background job failed")
            self.error = f"{type(e).__name__}: {e}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self.stop_event.set()

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.events)

    def last(self, kind: str) -> dict | None:
        return next((e for e in reversed(self.snapshot()) if e.get("event") == kind), None)

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self.running
