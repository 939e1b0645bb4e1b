"""Inference latency on this host, measured with a protocol an expert would trust.

Protocol: the model in eval mode under torch.inference_mode(); warm-up runs excluded (ONNX Runtime's and
cuDNN's first runs include allocation and kernel search); the thread count set explicitly, reported, and
restored afterwards; runs timed in blocks within a time budget that holds, stopping early once the median is
tight (explorer.measure.timing), every raw sample kept; on a GPU the device is synchronized at both ends of each timed
block, so no un-synchronized launch is ever timed. Every result carries a quality verdict (explorer.measure.quality):
the CPU load of other processes while timing, the spread of the samples. Only one measurement runs per host at
a time (explorer.measure.hostlock).

torch and onnxruntime are imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..design.spec import Design, parse_design
from ..errors import UserError
from ..options import BACKEND, BATCH, BUDGET, DEVICE, MIN_RUNS, WARMUP_RUNS, Option
from ..paths import now_iso
from .allocator import steady_allocator
from .hostinfo import available_devices, device_name, host_info, versions
from .hostlock import DEFAULT_TIMEOUT_S, Cancelled, host_lock
from .probe import STATE_WAIT_S
from .target import Target, resolve_threads
from .timing import Progress, statistics, time_callable

__all__ = [
    "Cancelled",
    "LatencyResult",
    "RunPlan",
    "measure",
    "measure_module",
    "available_devices",
    "host_info",
    "resolve_threads",
]

BACKENDS = BACKEND.choices
DEVICES = DEVICE.choices
TIME_CAP_S = 120.0  # the whole measurement (build, export, warm-up, timing) stops here, whatever the budget
MODULE_INPUT_SIZE = Option("input_size", int, 224, lo=1, hi=4096)  # any module's input (a design has its own)


@dataclass
class LatencyResult:
    median_ms: float
    iqr_ms: float
    p10_ms: float
    p90_ms: float
    runs: int  # timed forward passes (warm-up excluded)
    per_image_ms: float  # median / batch
    samples_ms: list[float]  # per-run time of each timed block (of up to block_size runs), in order
    backend: str
    device: str
    device_name: str
    threads: int
    batch: int
    input_size: int
    channels_last: bool
    versions: dict
    timestamp: str
    protocol: str
    design_hash: str
    design_name: str = ""
    p25_ms: float = 0.0
    p75_ms: float = 0.0
    mean_ms: float = 0.0
    min_ms: float = 0.0
    block_size: int = 1
    warmup_runs: int = 0
    timed_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    allocator: str = ""  # how CPU memory was allocated (explorer.measure.allocator)
    quality: dict = field(default_factory=dict)  # explorer.measure.quality.judge: verdict, reasons, figures
    setup_s: float = 0.0  # lock, build (and export) before the warm-up
    warmup_s: float = 0.0
    total_s: float = 0.0  # the whole call, waiting for the lock excluded
    stopped: str = ""  # why timing stopped: "budget", "median tight" or "time cap"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def summary_line(self) -> str:
        per = f", {self.per_image_ms:.3f} ms/image" if self.batch > 1 else ""
        return (
            f"{self.median_ms:.3f} ms median (p25-p75 {self.p25_ms:.3f}-{self.p75_ms:.3f} ms, "
            f"{self.runs} runs{per}) - {self.backend} on {self.device} ({self.device_name}), {self.threads} threads, "
            f"batch {self.batch}, {self.input_size}x{self.input_size} - quality {self.quality.get('verdict', '?')}"
        )


# -- argument checks (all before the lock, so mistakes fail fast); ranges live in explorer.options ---------
def check_device(backend: str, device: str) -> None:
    import torch

    BACKEND.check(backend)
    DEVICE.check(device)
    avail = ", ".join(available_devices())
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError(
            f"CUDA requested but torch.cuda.is_available() is False on this host; available devices: {avail}"
        )
    if device == "mps" and "mps" not in available_devices():
        raise UserError(
            f"MPS requested but torch.backends.mps.is_available() is False on this host; available devices: {avail}"
        )
    if backend == "onnxruntime" and device == "mps":
        raise UserError("the onnxruntime backend runs on cpu or cuda; use --backend torch for mps")


def measured_design(design: Design, input_size: int | None, batch: int, backend: str = "torch") -> Design:
    """The design at the measured input size, validated again (an input below the total stride is refused),
    and refused when its batch does not fit in memory (explorer.measure.memory: the estimate and the limit)."""
    from ..design.limits import DEFAULT_CAP
    from .memory import check_memory

    if input_size is not None and input_size != design.input_size:
        design = parse_design({**design.to_dict(), "input_size": input_size})
    DEFAULT_CAP.check(design)
    check_memory(design, batch, backend)
    return design


def check_run_options(batch: int, budget_s: float, min_runs: int = 1, warmup: int | None = None) -> None:
    """The run options' ranges (explorer.options, the same checks as the CLI's), one-line UserError."""
    BATCH.check(batch)
    BUDGET.check(budget_s)
    MIN_RUNS.check(min_runs)
    WARMUP_RUNS.check(warmup)


def example_input(design: Design, batch: int, device: str, channels_last: bool):
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, design.input_size, design.input_size, generator=g)
    x = x.to(device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


# -- the public entry ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunPlan:
    """How one network is timed: the declared options of the protocol (ranges: explorer.options)."""

    budget_s: float = 2.0
    min_runs: int = 10
    warmup: int | None = None
    channels_last: bool = False
    state_wait_s: float | None = STATE_WAIT_S  # wait this long for the host's fast state (0: probe, no wait)
    lock_timeout: float = DEFAULT_TIMEOUT_S
    host_held: bool = False  # the caller (a measurement worker) already holds the host lock

    def check(self, target: Target) -> None:
        check_device(target.backend, target.device)
        check_run_options(target.batch, self.budget_s, self.min_runs, self.warmup)
        if self.channels_last and target.backend != "torch":
            raise UserError("channels-last is a torch memory format; ONNX Runtime chooses its own layouts")


def measure(
    design: Design,
    backend: str = "torch",
    device: str = "cpu",
    batch: int = 1,
    threads: int | None = None,
    input_size: int | None = None,
    channels_last: bool = False,
    budget_s: float = 2.0,
    min_runs: int = 10,
    warmup: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
    state_wait_s: float | None = STATE_WAIT_S,
    host_held: bool = False,
) -> LatencyResult:
    """Measure one design's inference latency in this process; see the module docstring for the protocol.
    Callers outside explorer.measure go through the measurement service (explorer.measure.service), which
    runs this in a fresh worker process.

    threads None = all physical cores (said so in `protocol`). input_size None = the design's. warmup None =
    at least 3 runs and 20 % of the budget. budget_s is the timed time, never extended (timing may stop earlier
    once the median is tight, but not before min_runs runs); the whole measurement is capped at TIME_CAP_S.
    progress(fraction, message) is called along the way; setting `cancel` raises Cancelled. A busy host is
    waited for up to lock_timeout seconds (0: raise HostBusy at once), with
    progress(0, "waiting for another measurement ...") meanwhile.
    """
    target = Target(backend, device, threads, batch)
    plan = RunPlan(budget_s, min_runs, warmup, channels_last, state_wait_s, lock_timeout, host_held)
    return measure_with(design, target, plan, input_size, progress, cancel)


def measure_with(
    design: Design,
    target: Target,
    plan: RunPlan,
    input_size: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> LatencyResult:
    """`measure` with typed arguments: where (Target) and how (RunPlan); the measurement worker's entry."""
    from ..model.build import build_model

    plan.check(target)
    mdesign = measured_design(design, input_size, target.batch, target.backend)
    subject = Subject(lambda: build_model(mdesign), design.name, design.network_hash(), mdesign.input_size)
    return _measure(subject, target, plan, progress, cancel)


def measure_module(
    module,
    name: str,
    input_size: int = 224,
    backend: str = "torch",
    device: str = "cpu",
    batch: int = 1,
    threads: int | None = None,
    channels_last: bool = False,
    budget_s: float = 2.0,
    min_runs: int = 10,
    warmup: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
) -> LatencyResult:
    """The same protocol for any nn.Module taking (batch, 3, H, W), e.g. an independent reference network."""
    target = Target(backend, device, threads, batch)
    plan = RunPlan(budget_s, min_runs, warmup, channels_last, lock_timeout=lock_timeout)
    plan.check(target)
    MODULE_INPUT_SIZE.check(input_size)
    return _measure(Subject(lambda: module, name, "", input_size), target, plan, progress, cancel)


@dataclass(frozen=True)
class Subject:
    """What is timed: a model factory and the names the result carries."""

    make_model: Callable
    name: str
    design_hash: str
    input_size: int


def _measure(subject: Subject, target: Target, plan: RunPlan, progress, cancel) -> LatencyResult:
    n_threads, thread_note = resolve_threads(target.threads)
    target = dataclasses.replace(target, threads=n_threads)
    report = progress or (lambda f, m: None)
    what = f"{subject.name}, {target.backend} {target.device}, batch {target.batch}"
    lock = (
        contextlib.nullcontext()
        if plan.host_held
        else host_lock(what, plan.lock_timeout, lambda m: report(0.0, m), cancel)
    )
    with lock:
        started = time.monotonic()
        allocator = steady_allocator()
        timed, how = _time_model(subject, target, plan, started + TIME_CAP_S, report, cancel)
        total_s = time.monotonic() - started
    report(1.0, "done")
    return _result(subject, target, plan, timed, f"{how}; {thread_note}", allocator, total_s)


def _time_model(subject: Subject, target: Target, plan: RunPlan, deadline: float, report, cancel) -> tuple[dict, str]:
    """Build, then time with the backend asked for (timing.time_callable either way)."""
    import torch

    report(0.0, "building the model")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(target.batch, 3, subject.input_size, subject.input_size, generator=g)
    timing = dict(
        device=target.device,
        threads=target.threads,
        budget_s=plan.budget_s,
        min_runs=plan.min_runs,
        warmup=plan.warmup,
        deadline=deadline,
        progress=report,
        cancel=cancel,
        state_wait_s=plan.state_wait_s,  # a shared host's slow state: wait for it to pass (explorer.measure.probe)
    )
    model = subject.make_model().eval()
    if target.backend == "torch":
        return _measure_torch(model, x, target.device, plan.channels_last, timing)
    from .latency_ort import measure_ort

    return measure_ort(model, x, target.device, target.threads, timing, report)


def _protocol(target: Target, plan: RunPlan, timed: dict, how: str, input_size: int, allocator: str, setup_s: float):
    blocks = f" in blocks of {timed['block_size']}" if timed["block_size"] > 1 else ""
    q = timed["quality"]
    state = (
        f"; host state: probe {q['probe_before_ms']:.3f} / {q['probe_after_ms']:.3f} ms before / after against "
        f"{q['probe_reference_ms']:.3f} ms ({q['probe_reference']}), waited {q['waited_for_fast_state_s']:.1f} s"
        if "probe_ratio" in q
        else ""
    )
    return (
        f"{how}; batch {target.batch}, {input_size}x{input_size}, float32; "
        f"{timed['warmup_runs']} warm-up runs excluded; {timed['runs']} timed runs{blocks}, stopped by "
        f"{timed['stopped']}; median and p25-p75 of per-run times; time spent: set-up {setup_s:.1f} s, warm-up "
        f"{timed['warmup_s']:.1f} s, timing {timed['timed_s']:.1f} s of a {plan.budget_s:g} s budget; "
        f"{allocator}{state}"
    )


def _result(subject, target: Target, plan: RunPlan, timed: dict, how: str, allocator: str, total_s: float):
    stats = statistics(timed["samples_ms"])
    runs = timed["runs"]
    setup_s = max(0.0, total_s - timed["warmup_s"] - timed["timed_s"])
    notes = []
    if runs < plan.min_runs:
        notes.append(f"only {runs} runs fit in the {plan.budget_s:g} s budget (asked for at least {plan.min_runs})")
    if timed["stopped"] == "time cap":
        notes.append(f"stopped by the {TIME_CAP_S:.0f} s cap on a whole measurement")
    return LatencyResult(
        **{k: stats[k] for k in ("median_ms", "iqr_ms", "p10_ms", "p90_ms", "p25_ms", "p75_ms", "mean_ms", "min_ms")},
        runs=runs,
        per_image_ms=stats["median_ms"] / target.batch,
        samples_ms=timed["samples_ms"],
        backend=target.backend,
        device=target.device,
        device_name=device_name(target.device),
        threads=target.threads,
        batch=target.batch,
        input_size=subject.input_size,
        channels_last=plan.channels_last,
        versions=versions(target.backend, target.device),
        timestamp=now_iso(),
        protocol=_protocol(target, plan, timed, how, subject.input_size, allocator, setup_s),
        design_hash=subject.design_hash,
        design_name=subject.name,
        block_size=timed["block_size"],
        warmup_runs=timed["warmup_runs"],
        timed_s=timed["timed_s"],
        notes=notes,
        allocator=allocator,
        quality=timed["quality"],
        setup_s=setup_s,
        warmup_s=timed["warmup_s"],
        total_s=total_s,
        stopped=timed["stopped"],
    )


def _measure_torch(model, x, device: str, channels_last: bool, timing: dict) -> tuple[dict, str]:
    import torch

    model = model.to(device)
    x = x.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    how = f"torch {torch.__version__} eager on {device}, eval + inference_mode"
    how += ", channels-last" if channels_last else ", contiguous (NCHW)"
    prior_bench = torch.backends.cudnn.benchmark
    if device == "cuda":
        torch.backends.cudnn.benchmark = True  # its algorithm search happens in the warm-up
        how += "; cudnn.benchmark on; the timer synchronizes CUDA around each timed block"
    elif device == "mps":
        how += "; the timer synchronizes MPS around each timed block"
    try:
        with torch.inference_mode():
            return time_callable(lambda: model(x), **timing), how
    finally:
        torch.backends.cudnn.benchmark = prior_bench
