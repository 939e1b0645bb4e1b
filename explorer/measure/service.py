"""The measurement service: every timing in the product runs here, in a fresh worker, judged in one place.

    job = MeasureJob([design], Target("torch", "cpu", 2, 1), budget_s=2.0, purpose="bench")
    for m in MeasureRun(job, store=store, progress=show):   # one Measured per design, as they finish
        print(m.result["median_ms"], m.result["quality"]["verdict"])

- One worker entry point (`python -m explorer.measure.worker`), one wire format (explorer.measure.job).
- One cancel policy: the worker runs in its own process group; a cancel sends SIGTERM to the group, waits
  TERMINATE_GRACE_S, then SIGKILL. The OS drops the worker's host lock when it exits.
- One verdict: the worker judges the timing itself (other load, spread, samples, the host-state probe and
  the fast-state wait the job declares); here the history check against this host's earlier clean
  measurements of the same network is added (when the job asks and a store is given), then the row is stored
  with the protocol and the options that really ran.
- Errors surface: a worker that dies, prints something that is not a result, or is killed gives one line
  (WorkerFailed); a refused design is a Measured with its error; nothing is dropped.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..design.spec import Design
from ..errors import UserError
from . import quality
from .hostlock import WAIT_MESSAGE, Cancelled
from .job import MeasureJob, parse_event
from .target import Target

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # so `-m explorer...` finds this very copy
WORKER_COMMAND = (sys.executable, "-m", "explorer.measure.worker")
TERMINATE_GRACE_S = 1.0  # SIGTERM, then SIGKILL after this: a cancel takes effect well within 2 s
POLL_S = 0.05
KEPT_LINES = 5  # stderr / garbage lines kept for the one-line failure message
CANCELLED = {"calibration": "calibration cancelled", "search": "search cancelled"}

Progress = Callable[[float, str], None]


class WorkerFailed(UserError):
    """The worker died, was killed, or spoke something other than the wire format."""


@dataclass
class Measured:
    """One design's outcome: its result (a LatencyResult dict, verdict final) or the one-line error."""

    index: int
    design: Design
    result: dict | None = None
    error: str | None = None
    tries: int = 0
    layers: dict | None = None
    stored_id: int | None = None
    store_error: str | None = None  # measured, but the row could not be stored (the real cause)

    @property
    def trusted(self) -> bool:
        return self.result is not None and quality.is_trusted(self.result)


class WorkerProcess:
    """One worker running one job. Events come back as dicts (explorer.measure.job's wire format)."""

    def __init__(self, job: MeasureJob, command: tuple[str, ...] | None = None):
        self.job = job
        self.command = list(command or WORKER_COMMAND)
        self.events: queue.Queue = queue.Queue()
        self.garbage: list[str] = []  # stdout lines that are not wire events
        self.stderr_tail: list[str] = []
        self.done = False
        self.proc: subprocess.Popen | None = None
        self._readers: list[threading.Thread] = []

    def start(self) -> WorkerProcess:
        env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,  # its own process group: a cancel reaches whatever it started too
        )
        import json

        try:
            self.proc.stdin.write(json.dumps(self.job.to_wire()))
            self.proc.stdin.close()
        except OSError:
            pass  # it died at once: its exit status tells why
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._readers:
            t.start()
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cancel(self) -> None:
        """SIGTERM to the worker's process group, SIGKILL after TERMINATE_GRACE_S."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                proc.wait(TERMINATE_GRACE_S)
                break
            except subprocess.TimeoutExpired:
                continue
        for t in self._readers:
            t.join(1.0)

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            event = parse_event(line)
            if event is None:
                if line.strip():
                    self.garbage = (self.garbage + [line.strip()[:300]])[-KEPT_LINES:]
                continue
            if event["event"] == "done":
                self.done = True
            self.events.put(event)
        self.events.put(None)  # end of output

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:  # read as it comes: a full pipe would block the worker
            if line.strip():
                self.stderr_tail = (self.stderr_tail + [line.rstrip()[:300]])[-KEPT_LINES:]

    def next_event(self, timeout: float) -> dict | None:
        """The next event; {"event": "exit"} once the worker's output has ended; None after `timeout`."""
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            return None
        if event is None:
            self.proc.wait()
            for t in self._readers:
                t.join(1.0)
            return {"event": "exit", "status": self.proc.returncode}
        return event

    def failure(self, status: int) -> str | None:
        """One line saying why the worker ended without finishing its job (None when it finished)."""
        if self.done and status == 0:
            return None
        if status is not None and status < 0:
            try:
                name = signal.Signals(-status).name
            except ValueError:
                name = f"signal {-status}"
            return f"the measurement worker was killed ({name}) before it finished"
        if self.garbage:
            return f"the measurement worker printed something that is not a result: {self.garbage[-1]!r}"
        last = self.stderr_tail[-1] if self.stderr_tail else "no message"
        if status == 0:
            return f"the measurement worker stopped without finishing its job ({last})"
        return f"the measurement worker failed (exit status {status}): {last}"


class MeasureRun:
    """Run one job in a fresh worker; iterate for one Measured per design, in order, as they finish.

    store: a ResultStore (or None): the history check reads it, every result is stored in it.
    progress(fraction over the whole job, message); on_wait(message) once when the host is busy.
    cancel: setting it ends the worker (the cancel policy above) and raises Cancelled.
    """

    def __init__(
        self,
        job: MeasureJob,
        *,
        store=None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        on_wait: Callable[[str], None] | None = None,
        command: tuple[str, ...] | None = None,
    ):
        self.job = job.check()
        self.store = store
        self.progress = progress or (lambda f, m: None)
        self.cancel = cancel
        self.on_wait = on_wait
        self.command = command
        self.roofs: dict | None = None
        self.worker: WorkerProcess | None = None
        self._shown = 0.0

    def __iter__(self) -> Iterator[Measured]:
        check_designs(self.job)  # cost cap and memory, before a worker starts
        worker = self.worker = WorkerProcess(self.job, self.command).start()
        told_wait = False
        answered: set[int] = set()
        try:
            while True:
                if self.cancel is not None and self.cancel.is_set():
                    worker.cancel()
                    raise Cancelled(CANCELLED.get(self.job.purpose, "measurement cancelled"))
                event = worker.next_event(POLL_S)
                if event is None:
                    continue
                kind = event["event"]
                if kind == "exit":
                    if self.cancel is not None and self.cancel.is_set():  # ended by our own cancel
                        raise Cancelled(CANCELLED.get(self.job.purpose, "measurement cancelled"))
                    why = worker.failure(event["status"])
                    if why:
                        raise WorkerFailed(why)
                    for i, design in enumerate(self.job.designs):  # a design is never dropped without a word
                        if i not in answered:
                            yield Measured(i, design, error="not measured: the worker ended without a result for it")
                    return
                if kind == "progress":
                    message = str(event.get("message", ""))
                    if message.startswith(WAIT_MESSAGE) and not told_wait and self.on_wait is not None:
                        told_wait = True
                        self.on_wait(message)
                    self._report(event.get("design"), float(event.get("fraction") or 0.0), message)
                elif kind == "roofs":
                    self.roofs = event.get("roofs")
                elif kind == "error" and event.get("design") is None:
                    worker.cancel()
                    raise UserError(str(event.get("message") or "the measurement failed"))
                elif kind == "error":
                    i = int(event["design"])
                    answered.add(i)
                    yield Measured(i, self.job.designs[i], error=str(event.get("message")))
                elif kind == "result":
                    answered.add(int(event["design"]))
                    yield self._settle(event)
        finally:
            worker.cancel()  # a caller that stops iterating early ends the worker too

    def _report(self, design: int | None, fraction: float, message: str) -> None:
        n = len(self.job.designs)
        overall = fraction if design is None or n == 1 else (int(design) + min(1.0, fraction)) / n
        self._shown = max(self._shown, min(1.0, overall))  # never backwards
        prefix = f"{self.job.designs[int(design)].name}: " if design is not None and n > 1 else ""
        self.progress(self._shown, prefix + message)

    def _settle(self, event: dict) -> Measured:
        """The verdict's last rule (history), then the row into the store with what really ran."""
        i = int(event["design"])
        design = self.job.designs[i]
        result = event["result"]
        if self.job.history and self.store is not None:
            result = quality.consistency(result, earlier_results(self.store, design, result))
        elif not self.job.history:
            result["quality"] = {**result["quality"], "history": {"note": "not checked (the job did not ask)"}}
        measured = Measured(i, design, result=result, tries=int(event.get("tries") or 1), layers=event.get("layers"))
        if self.store is not None:
            measured.stored_id, measured.store_error = store_result(self.store, design, result)
        return measured


def stored_results(store, design: Design, target: Target, input_size: int, channels_last: bool = False) -> list[dict]:
    """This network's stored results under exactly these settings, newest first."""
    return store.latencies(
        design.network_hash(),
        backend=target.backend,
        device=target.device,
        batch=target.batch,
        threads=target.threads,
        input_size=input_size,
        channels_last=channels_last,
    )


def earlier_results(store, design: Design, result: dict) -> list[dict]:
    """Earlier results of this network under exactly these settings, on this device, newest first."""
    target = Target(result["backend"], result["device"], result["threads"], result["batch"])
    rows = stored_results(store, design, target, result["input_size"], bool(result.get("channels_last")))
    return [r for r in rows if r.get("device_name") == result.get("device_name")]


def store_result(store, design: Design, result: dict) -> tuple[int | None, str | None]:
    """(row id, None), or (None, the real cause) when the store refused the row at the end."""
    from ..store.preflight import explain_store_failure

    try:
        return store.add_latency(design, result), None
    except (UserError, OSError) as e:
        return None, explain_store_failure(store.path, e)


def check_designs(job: MeasureJob) -> None:
    """Each design at the measured size within the cost cap and the memory limit (one-line UserError)."""
    from .latency import measured_design

    for design in job.designs:
        measured_design(design, job.input_size, job.target.batch, job.target.backend)


def measure_one(
    design: Design,
    job: MeasureJob | None = None,
    *,
    store=None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    on_wait: Callable[[str], None] | None = None,
    **options,
) -> Measured:
    """One design through the service; a refused or failed measurement raises UserError with its one line.
    Either pass a job (its designs replaced by this one) or the MeasureJob options as keywords."""
    import dataclasses

    job = dataclasses.replace(job, designs=[design]) if job is not None else MeasureJob([design], **options)
    run = MeasureRun(job, store=store, progress=progress, cancel=cancel, on_wait=on_wait)
    outcomes = list(run)
    if len(outcomes) != 1:
        raise WorkerFailed(f"the measurement worker returned {len(outcomes)} results for one design")
    if outcomes[0].error:
        raise UserError(outcomes[0].error)
    return outcomes[0]


@dataclass
class Background:
    """A MeasureRun in a thread, for a page that polls: progress so far, running, cancel, the outcome."""

    run: MeasureRun
    events: queue.Queue = field(default_factory=queue.Queue)
    outcomes: list[Measured] = field(default_factory=list)
    error: UserError | None = None
    thread: threading.Thread | None = None

    def start(self) -> Background:
        self.run.progress = lambda f, m: self.events.put((f, m))
        if self.run.cancel is None:
            self.run.cancel = threading.Event()
        self.thread = threading.Thread(target=self._work, daemon=True, name="measurement")
        self.thread.start()
        return self

    def _work(self) -> None:
        try:
            for m in self.run:
                self.outcomes.append(m)
        except UserError as e:
            self.error = e
        except Exception as e:  # never a silent death: the page shows one line
            self.error = UserError(f"the measurement failed: {type(e).__name__}: {e}")

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def progress_events(self) -> list[tuple[float, str]]:
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    def cancel(self) -> None:
        """Ends the worker now (the cancel policy), and waits for the thread to notice."""
        self.run.cancel.set()
        if self.run.worker is not None:
            self.run.worker.cancel()
        if self.thread is not None:
            self.thread.join(TERMINATE_GRACE_S * 3)

    def wait(self, timeout: float | None = None) -> None:
        if self.thread is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.thread.is_alive():
            if deadline is not None and time.monotonic() > deadline:
                self.cancel()
                raise UserError(f"the measurement did not finish within {timeout:.0f} s and was stopped")
            self.thread.join(POLL_S)
