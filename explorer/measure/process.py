"""Measure in a separate worker process: the `bench` command itself, run by the app.

A measurement taken inside the app's server process shares it with the web server, the websocket traffic and
the page's own re-runs, and inherits whatever the long-lived process did before (allocator state, caches,
frequency). So the app runs `python -m explorer bench --json` as a child process: a fresh interpreter, the
CLI's exact protocol (allocator set-up, threads, warm-up, host lock held by the worker), and the result
stored by the worker. Progress comes back as JSON lines on the child's stderr; cancelling terminates the
child, and the OS releases its host lock when it exits.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..design.spec import Design
from ..errors import UserError

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # so `-m explorer` finds this very copy
TERMINATE_GRACE_S = 3.0


class MeasureProcess:
    """One `bench` run in a child process. Use as a context manager: leaving the block ends the child."""

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
    ):
        self.design = design
        self.args = ["--backend", backend, "--device", device, "--batch", str(batch), "--budget", repr(budget_s)]
        if threads is not None:
            self.args += ["--threads", str(threads)]
        if per_layer:
            self.args.append("--layers")
        self.args += ["--store", str(store_path)] if store_path else ["--no-store"]
        self._events: queue.Queue = queue.Queue()
        self._stdout: list[str] = []
        self._errors: list[str] = []
        self._proc: subprocess.Popen | None = None
        self._threads: list[threading.Thread] = []
        self._tmp = None

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> MeasureProcess:
        self._tmp = tempfile.TemporaryDirectory(prefix="explorer-measure-")
        spec = Path(self._tmp.name) / "design.json"
        spec.write_text(self.design.to_json(), encoding="utf-8")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")])),
        }
        env["PYTHONIOENCODING"] = "utf-8"
        cmd = [sys.executable, "-m", "explorer", "bench", "--spec", str(spec), "--json", "--progress-json", *self.args]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,  # its own process group: a cancel reaches the worker's children too
        )
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._threads:
            t.start()
        return self

    def __enter__(self) -> MeasureProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cancel()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def cancel(self) -> None:
        """End the worker (SIGTERM to its group, SIGKILL after a grace period); the OS drops its host lock."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, TERMINATE_GRACE_S), (signal.SIGKILL, TERMINATE_GRACE_S)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue

    # -- output ------------------------------------------------------------------------------------------
    def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self._stdout.append(line)

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in self._proc.stderr:
            line = line.rstrip("\n")
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict) and "progress" in event:
                self._events.put((float(event["progress"]), str(event.get("message", ""))))
            elif line.strip():
                self._errors.append(line.strip())

    def progress_events(self) -> list[tuple[float, str]]:
        """Progress reported since the last call, oldest first: (fraction, message)."""
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    def wait(self, timeout: float | None = None) -> dict:
        """Wait for the worker and return its result (bench's JSON). A refused or failed measurement raises
        UserError with the worker's own one-line message."""
        assert self._proc is not None, "start() first"
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.cancel()
            raise UserError(f"the measurement did not finish within {timeout:.0f} s and was stopped") from None
        for t in self._threads:
            t.join(5)
        return self.result()

    def result(self) -> dict:
        code = self._proc.returncode if self._proc else None
        if code == 0:
            try:
                return json.loads("".join(self._stdout))
            except ValueError:
                raise UserError("the measurement worker printed no readable result") from None
        if code is not None and code < 0:
            raise UserError("measurement cancelled")
        errors = [e.removeprefix("error: ") for e in self._errors if not e.startswith("warning: ")]
        raise UserError(errors[-1] if errors else f"the measurement worker failed (exit status {code})")


def measure_in_worker(design: Design, progress=None, poll_s: float = 0.1, **options) -> dict:
    """Run one measurement in a worker and wait for it; progress(fraction, message) is called as it goes."""
    with MeasureProcess(design, **options) as worker:
        while worker.running():
            for frac, msg in worker.progress_events():
                if progress is not None:
                    progress(frac, msg)
            time.sleep(poll_s)
        return worker.wait()
