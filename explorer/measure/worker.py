"""The measurement worker: `python -m explorer.measure.worker`, the one process every timing runs in.

It reads one MeasureJob (explorer.measure.job) as JSON on stdin, takes the host lock for the whole job, and
measures each design in this fresh interpreter with explorer.measure.latency's protocol: allocator set-up,
threads, warm-up, adaptive timing, the host-state probe (waiting for the fast state when the job asks), the
quality verdict; noisy results are timed again when the job allows retries. Every event goes to the parent
as one JSON line on the real stdout; anything a library prints goes to stderr instead, so the wire stays clean.
Fresh processes matter: a long-lived process drifts 10-20 % slower on a shared VM.
"""

from __future__ import annotations

import os
import sys

from ..errors import UserError, first_line
from .job import PAST_DEADLINE, MeasureJob, event_line


class Wire:
    """The parent's channel: the original stdout, private to this module once fd 1 points at stderr."""

    def __init__(self):
        sys.stdout.flush()
        self.file = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
        os.dup2(2, 1)  # a library's print() or a C library's printf now lands on stderr, not on the wire
        sys.stdout = sys.stderr

    def send(self, kind: str, **fields) -> None:
        self.file.write(event_line(kind, **fields) + "\n")
        self.file.flush()


def peak_rss_bytes() -> int | None:
    """This process's own peak resident memory so far.

    On Linux, VmHWM of /proc/self/status: it belongs to the memory image this worker runs in. ru_maxrss would
    not do: Linux keeps it across exec, so it reports the parent's size at the fork when the parent (a pytest
    run, the app's server) is the larger. Elsewhere ru_maxrss (bytes on macOS); None where neither exists.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def measure_design(job: MeasureJob, index: int, send) -> dict:
    """One design: timed (and re-timed while noisy, up to job.retries), optionally split per layer."""
    from .latency import RunPlan, measure_with
    from .memory import estimate_bytes
    from .probe import STATE_WAIT_S
    from .quality import is_trusted

    design = job.designs[index]
    target = job.target

    def progress(fraction: float, message: str) -> None:
        send("progress", design=index, fraction=round(fraction, 4), message=message)

    plan = RunPlan(
        job.budget_s,
        job.min_runs,
        job.warmup,
        job.channels_last,
        state_wait_s=STATE_WAIT_S if job.wait_for_fast_state else 0.0,
        host_held=True,  # this worker holds the host lock for the whole job
    )
    tries = 0
    while True:
        tries += 1
        result = measure_with(design, target, plan, job.input_size, progress).to_dict()
        if is_trusted(result) or tries > job.retries:
            break
        progress(0.0, f"noisy ({'; '.join(result['quality']['reasons'])[:80]}): timing again")
    result["protocol"] += f"; {job.protocol_note()}"
    result["measured_by"] = {
        "purpose": job.purpose,
        "wait_for_fast_state": job.wait_for_fast_state,
        "history": job.history,
        "retries": job.retries,
        "tries": tries,
    }
    layers = None
    if job.per_layer:
        from .layer_latency import layer_breakdown

        layers = layer_breakdown(
            design,
            device=target.device,
            threads=target.threads,
            batch=target.batch,
            budget_s=max(job.budget_s, 1.0),
            progress=progress,
            host_held=True,
        ).to_dict()
    measured_size = job.input_size or design.input_size
    sized = design
    if measured_size != design.input_size:
        from ..design.spec import parse_design

        sized = parse_design({**design.to_dict(), "input_size": measured_size})
    result["memory"] = {
        "estimate_bytes": estimate_bytes(sized, target.batch, target.backend),
        "peak_rss_bytes": peak_rss_bytes(),
    }
    return {"result": result, "tries": tries, "layers": layers}


def run(job: MeasureJob, wire: Wire) -> int:
    from .allocator import steady_allocator
    from .hostlock import host_lock
    from .latency import check_device

    check_device(job.target.backend, job.target.device)
    steady_allocator()
    what = f"{job.purpose}: {job.designs[0].name}" + (
        f" and {len(job.designs) - 1} more" if len(job.designs) > 1 else ""
    )
    measured = 0

    def waiting(message: str) -> None:
        wire.send("progress", design=None, fraction=0.0, message=message)

    with host_lock(what, job.lock_timeout_s, waiting):
        if job.roofs:
            from .roofs import measure_roofs

            wire.send("roofs", roofs=measure_roofs(job.target, job.budget_s))
        for i in range(len(job.designs)):
            left = job.time_left()
            if i and left is not None and left <= 0:  # the caller's deadline: no new design starts, each is said
                for j in range(i, len(job.designs)):
                    wire.send("error", design=j, message=PAST_DEADLINE)
                break
            try:
                wire.send("result", design=i, **measure_design(job, i, wire.send))
                measured += 1
            except UserError as e:  # one refused design must not lose the others' numbers
                wire.send("error", design=i, message=first_line(e, 400))
            except Exception as e:
                wire.send("error", design=i, message=f"{type(e).__name__}: {first_line(e, 400)}")
    wire.send("done", measured=measured)
    return 0


def main() -> int:
    wire = Wire()
    try:
        import json

        job = MeasureJob.from_wire(json.loads(sys.stdin.read())).check()
        return run(job, wire)
    except UserError as e:
        wire.send("error", design=None, message=first_line(e, 400))
        return 2
    except Exception as e:  # the parent shows one line; the traceback goes to stderr for the curious
        import traceback

        traceback.print_exc()
        wire.send("error", design=None, message=f"{type(e).__name__}: {first_line(e, 400)}")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
