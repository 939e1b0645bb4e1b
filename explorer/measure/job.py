"""What a caller asks of the measurement service, and the one wire format its worker speaks.

A `MeasureJob` is the whole request: the designs, the `Target` and the declared options of the protocol
(budget, runs, retries, per-layer split, whether to wait for the host's fast state, whether to judge against
this host's history). Every caller (bench, the app's Measure button, the Classroom, calibration, search,
the benchmarks) builds one; nothing else chooses how a measurement runs.

Wire format, worker -> parent, one JSON object per line on the worker's stdout:

    {"event": "progress", "design": i, "fraction": f, "message": m}
    {"event": "roofs", "roofs": {...}}
    {"event": "result", "design": i, "result": {...LatencyResult...}, "tries": n, "layers": {...} | null}
    {"event": "error", "design": i | null, "message": "one line"}      (null: the whole job failed)
    {"event": "done", "measured": n}

The job itself goes parent -> worker as one JSON object on stdin (`to_wire` / `from_wire`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field

from ..design.spec import Design, parse_design
from ..errors import Problems, UserError
from ..options import check_values, option, options_of
from .hostlock import DEFAULT_TIMEOUT_S
from .target import Target

PURPOSES = ("bench", "app", "classroom", "calibration", "search", "benchmark")
EVENTS = ("progress", "roofs", "result", "error", "done")


# The error a worker sends for each design its caller's deadline left no time for (expected, not a failure).
PAST_DEADLINE = "not measured: the time limit came before its turn"


@dataclass
class MeasureJob:
    designs: list[Design]
    target: Target = field(default_factory=Target)
    budget_s: float = option(2.0, lo=0.05, hi=60.0, unit="seconds", label="the budget", help="timed seconds per design")
    min_runs: int = option(10, lo=1, hi=100_000, name_the_bound=True, help="timed runs at the least")
    warmup: int | None = option(None, lo=0, hi=10_000, name_the_bound=True, help="untimed runs first")
    input_size: int | None = option(None, lo=1, hi=4096, help="input height = width (None: the design's)")
    channels_last: bool = option(False, help="torch channels-last memory format")
    per_layer: bool = option(False, help="also time each layer (torch only)")
    retries: int = option(0, lo=0, hi=5, help="noisy results timed again, in the same worker")
    wait_for_fast_state: bool = option(True, help="wait up to 15 s for the shared host's fast state")
    history: bool = option(True, help="judge against this host's earlier clean measurements of the network")
    roofs: bool = option(False, help="also time the host's roofs (a large GEMM and a large add)")
    stop_at: float | None = option(None, lo=0, help="epoch seconds: no design starts after this")
    lock_timeout_s: float = option(DEFAULT_TIMEOUT_S, lo=0, hi=86_400, unit="seconds", help="wait for a busy host")
    purpose: str = option("bench", choices=PURPOSES, help="who asked: recorded with every result")

    def check(self) -> MeasureJob:
        """Every problem of the options at once (one line each), then the target and the combinations."""
        values = {o.name: getattr(self, o.name) for o in options_of(MeasureJob)}
        problems = check_values(values, options_of(MeasureJob))
        if problems:
            raise Problems(problems)
        self.target.check()
        if not self.designs:
            raise UserError("a measurement needs at least one design")
        if self.channels_last and self.target.backend != "torch":
            raise UserError("channels-last is a torch memory format; ONNX Runtime chooses its own layouts")
        if self.per_layer and self.target.backend != "torch":
            raise UserError("the per-layer split times torch eager layers; use it with the torch backend")
        return self

    def protocol_note(self) -> str:
        """How the service ran this job, for every stored row: who asked and which declared options applied."""
        wait = "waited up to 15 s for the host's fast state" if self.wait_for_fast_state else "no fast-state wait"
        history = "judged against this host's history" if self.history else "no history check"
        retries = f"noisy results re-timed up to {self.retries}x" if self.retries else "no retries"
        return f"measurement service for {self.purpose}: a fresh worker process; {wait}; {history}; {retries}"

    def to_wire(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["designs"] = [x.to_dict() for x in self.designs]
        d["target"] = self.target.to_dict()
        return d

    @classmethod
    def from_wire(cls, d: dict) -> MeasureJob:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in names}
        values["designs"] = [parse_design(x) for x in d.get("designs", [])]
        values["target"] = Target.from_dict(d.get("target") or {})
        return cls(**values)

    def time_left(self) -> float | None:
        return None if self.stop_at is None else self.stop_at - time.time()


def event_line(kind: str, **fields) -> str:
    """One wire line (no newline inside: JSON escapes it)."""
    assert kind in EVENTS, kind
    return json.dumps({"event": kind, **fields})


def parse_event(line: str) -> dict | None:
    """The event on one line, or None when the line is not one of ours (garbage from a library, a crash)."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("event") not in EVENTS:
        return None
    return value
