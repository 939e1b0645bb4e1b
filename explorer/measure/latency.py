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

import dataclasses
import threading
import time
from dataclasses import dataclass, field

from ..design.spec import Design, parse_design
from ..errors import UserError
from ..options import BACKEND, BATCH, BUDGET, DEVICE, MIN_RUNS, THREADS, WARMUP_RUNS, Option
from ..paths import now_iso
from .allocator import steady_allocator
from .hostinfo import (
    available_devices,
    device_name,
    host_info,
    physical_cores,
    usable_logical_cores,
    versions,
)
from .hostlock import DEFAULT_TIMEOUT_S, Cancelled, host_lock
from .probe import STATE_WAIT_S
from .timing import Progress, statistics, time_callable

__all__ = ["Cancelled", "LatencyResult", "measure", "measure_module", "available_devices", "host_info"]

BACKENDS = BACKEND.choices
DEVICES = DEVICE.choices
TIME_CAP_S = 120.0  # the whole measurement (build, export, warm-up, timing) stops here, whatever the budget
MODULE_INPUT_SIZE = Option("input_size", int, 224, lo=1, hi=4096)  # any module's input (a design has its own)
BATCH_ACTIVATION_CAP = 8 * 1024**3  # peak activations x batch, float32


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


def resolve_threads(threads: int | None) -> tuple[int, str]:
    """The thread count to use and how it was chosen, for the protocol line."""
    if threads is None:
        n = physical_cores()
        return n, f"{n} threads (default: all {n} physical cores)"
    n = THREADS.check(threads)
    usable = usable_logical_cores()
    extra = f", more than the {usable} usable cores: oversubscribed" if n > usable else ""
    return n, f"{n} threads (requested{extra})"


def measured_design(design: Design, input_size: int | None, batch: int) -> Design:
    """The design at the measured input size, validated again (an input below the total stride is refused)."""
    from ..design.limits import DEFAULT_CAP

    if input_size is not None and input_size != design.input_size:
        design = parse_design({**design.to_dict(), "input_size": input_size})
    cost = DEFAULT_CAP.check(design)
    if cost.peak_activation_bytes * batch > BATCH_ACTIVATION_CAP:
        need = cost.peak_activation_bytes * batch / 2**30
        raise UserError(
            f"batch {batch} needs about {need:.1f} GiB of activations; "
            f"the cap is {BATCH_ACTIVATION_CAP / 2**30:.0f} GiB"
        )
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
) -> LatencyResult:
    """Measure one design's inference latency on this host; see the module docstring for the protocol.

    threads None = all physical cores (said so in `protocol`). input_size None = the design's. warmup None =
    at least 3 runs and 20 % of the budget. budget_s is the timed time, never extended (timing may stop earlier
    once the median is tight, but not before min_runs runs); the whole measurement is capped at TIME_CAP_S.
    progress(fraction, message) is called along the way; setting `cancel` raises Cancelled. A busy host is
    waited for up to lock_timeout seconds (0: raise HostBusy at once), with
    progress(0, "waiting for another measurement ...") meanwhile.
    """
    from ..model.build import build_model

    _check_all(backend, device, batch, budget_s, min_runs, warmup, channels_last)
    mdesign = measured_design(design, input_size, batch)
    return _measure(
        lambda: build_model(mdesign),
        design.name,
        design.network_hash(),
        mdesign.input_size,
        backend,
        device,
        batch,
        threads,
        channels_last,
        budget_s,
        min_runs,
        warmup,
        progress,
        cancel,
        lock_timeout,
    )


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
    _check_all(backend, device, batch, budget_s, min_runs, warmup, channels_last)
    MODULE_INPUT_SIZE.check(input_size)
    return _measure(
        lambda: module,
        name,
        "",
        input_size,
        backend,
        device,
        batch,
        threads,
        channels_last,
        budget_s,
        min_runs,
        warmup,
        progress,
        cancel,
        lock_timeout,
    )


def _check_all(backend, device, batch, budget_s, min_runs, warmup, channels_last) -> None:
    check_device(backend, device)
    check_run_options(batch, budget_s, min_runs, warmup)
    if channels_last and backend != "torch":
        raise UserError("channels-last is a torch memory format; ONNX Runtime chooses its own layouts")


def _measure(
    make_model,
    name,
    design_hash,
    input_size,
    backend,
    device,
    batch,
    threads,
    channels_last,
    budget_s,
    min_runs,
    warmup,
    progress,
    cancel,
    lock_timeout,
) -> LatencyResult:
    import torch

    n_threads, thread_note = resolve_threads(threads)
    report = progress or (lambda f, m: None)
    with host_lock(f"{name}, {backend} {device}, batch {batch}", lock_timeout, lambda m: report(0.0, m), cancel):
        started = time.monotonic()
        deadline = started + TIME_CAP_S
        allocator = steady_allocator()
        report(0.0, "building the model")
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch, 3, input_size, input_size, generator=g)
        timing = dict(
            device=device,
            threads=n_threads,
            budget_s=budget_s,
            min_runs=min_runs,
            warmup=warmup,
            deadline=deadline,
            progress=report,
            cancel=cancel,
            state_wait_s=STATE_WAIT_S,  # a shared host's slow state: wait for it to pass (explorer.measure.probe)
        )
        model = make_model().eval()
        if backend == "torch":
            timed, how = _measure_torch(model, x, device, channels_last, timing)
        else:
            from .latency_ort import measure_ort

            timed, how = measure_ort(model, x, device, n_threads, timing, report)
        total_s = time.monotonic() - started
    stats = statistics(timed["samples_ms"])
    runs = timed["runs"]
    setup_s = max(0.0, total_s - timed["warmup_s"] - timed["timed_s"])
    notes = []
    if runs < min_runs:
        notes.append(f"only {runs} runs fit in the {budget_s:g} s budget (asked for at least {min_runs})")
    if timed["stopped"] == "time cap":
        notes.append(f"stopped by the {TIME_CAP_S:.0f} s cap on a whole measurement")
    blocks = f" in blocks of {timed['block_size']}" if timed["block_size"] > 1 else ""
    q = timed["quality"]
    state = (
        f"; host state: probe {q['probe_before_ms']:.3f} / {q['probe_after_ms']:.3f} ms before / after against "
        f"{q['probe_reference_ms']:.3f} ms ({q['probe_reference']}), waited {q['waited_for_fast_state_s']:.1f} s"
        if "probe_ratio" in q
        else ""
    )
    protocol = (
        f"{how}; {thread_note}; batch {batch}, {input_size}x{input_size}, float32; "
        f"{timed['warmup_runs']} warm-up runs excluded; {runs} timed runs{blocks}, stopped by {timed['stopped']}; "
        f"median and p25-p75 of per-run times; time spent: set-up {setup_s:.1f} s, warm-up "
        f"{timed['warmup_s']:.1f} s, timing {timed['timed_s']:.1f} s of a {budget_s:g} s budget; {allocator}{state}"
    )
    report(1.0, "done")
    return LatencyResult(
        **{k: stats[k] for k in ("median_ms", "iqr_ms", "p10_ms", "p90_ms", "p25_ms", "p75_ms", "mean_ms", "min_ms")},
        runs=runs,
        per_image_ms=stats["median_ms"] / batch,
        samples_ms=timed["samples_ms"],
        backend=backend,
        device=device,
        device_name=device_name(device),
        threads=n_threads,
        batch=batch,
        input_size=input_size,
        channels_last=channels_last,
        versions=versions(backend, device),
        timestamp=now_iso(),
        protocol=protocol,
        design_hash=design_hash,
        design_name=name,
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
