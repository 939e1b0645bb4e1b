"""Where the time goes: per-layer latency beside each layer's share of MACs and of bytes moved.

This is where users see that depthwise convs and residual adds take more time than their MACs suggest.
Forward hooks on the model's own modules stamp the clock before and after every cost-model layer and every
bottleneck block (CUDA events on a GPU, so the GPU's pipeline is not broken up by synchronizations). A
residual add is no module: its time is its block's time minus the block's convs, less the call overhead
that blocks without an add show the same way. Hooks keep the model's own forward pass: a rewritten copy of it would free
tensors in another order, and with glibc's default malloc that alone moved CPU times by 10-40 %. Blocks of hooked
runs alternate with blocks of plain runs of the whole network, and the layers' sum is compared with those.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from dataclasses import dataclass
from itertools import pairwise

from ..design.cost import compute_cost
from ..design.plan import blocks, expand
from ..design.spec import Design
from ..errors import UserError
from ..paths import now_iso
from .allocator import steady_allocator
from .hostlock import DEFAULT_TIMEOUT_S, Cancelled, host_lock
from .latency import (
    TIME_CAP_S,
    check_device,
    check_run_options,
    device_name,
    example_input,
    measured_design,
    versions,
)
from .target import Target, resolve_threads
from .timing import WARMUP_SHARE, Progress, median, statistics

TOLERANCE_PCT = 10.0  # |sum of layers - whole| / whole; the stamps themselves cost a little
MIN_LAYER_RUNS = 5
RUNS_PER_BLOCK = 5


@dataclass
class LayerBreakdown:
    design_name: str
    design_hash: str
    device: str
    device_name: str
    threads: int
    batch: int
    input_size: int
    runs: int  # hooked runs behind each layer's median (and as many plain runs)
    whole_ms: float  # median of the whole network's plain runs, alternating with the hooked ones
    layers_total_ms: float  # sum of the layers' medians
    difference_pct: float  # (layers_total - whole) / whole * 100
    tolerance_pct: float
    within_tolerance: bool
    layers: list[dict]  # name, kind, block, time_ms, time_share, macs, macs_share, bytes, bytes_share, ...
    protocol: str
    timestamp: str
    versions: dict

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def check(self) -> dict:
        keys = ("whole_ms", "layers_total_ms", "difference_pct", "tolerance_pct", "within_tolerance")
        return {k: getattr(self, k) for k in keys}

    def by_kind(self) -> list[dict]:
        """Shares summed per layer kind (conv, dwconv, add, pool, linear), in first-seen order."""
        out: dict[str, dict] = {}
        for ly in self.layers:
            zero = {"layers": 0, "time_ms": 0.0, "time_share": 0.0, "macs_share": 0.0, "bytes_share": 0.0}
            k = out.setdefault(ly["kind"], {"kind": ly["kind"], **zero})
            k["layers"] += 1
            for f in ("time_ms", "time_share", "macs_share", "bytes_share"):
                k[f] += ly[f]
        for k in out.values():
            k["time_per_mac_share"] = k["time_share"] / k["macs_share"] if k["macs_share"] else None
        return list(out.values())


class _Clock:
    """Stamps between layers: perf_counter on the CPU, CUDA events on a GPU (read after one final sync)."""

    def __init__(self, device: str):
        import torch

        self.device = device
        self.torch = torch
        self.marks: list = []

    def stamp(self) -> None:
        if self.device == "cuda":
            ev = self.torch.cuda.Event(enable_timing=True)
            ev.record()
            self.marks.append(ev)
        else:
            if self.device == "mps":
                self.torch.mps.synchronize()
            self.marks.append(time.perf_counter())

    def durations_ms(self) -> list[float]:
        m, self.marks = self.marks, []
        if self.device == "cuda":
            self.torch.cuda.synchronize()
            return [a.elapsed_time(b) for a, b in pairwise(m)]
        return [(b - a) * 1000.0 for a, b in pairwise(m)]


def _timed_modules(model, design: Design) -> list[tuple[str, object]]:
    """(name, module) of every plan layer that is a module, and of every bottleneck block, named by the plan."""
    names = [ly.name for ly in expand(design) if ly.is_module] + [b.name for b in blocks(design)]
    return [(name, model.get_submodule(name)) for name in names]


class _Hooks:
    """Stamps before and after each timed module; `layer_times()` turns one run's stamps into layer times."""

    def __init__(self, model, design: Design, clock: _Clock):
        self.clock, self.handles, self.order = clock, [], []
        self.modules = _timed_modules(model, design)
        self.blocks = {b.name: b.skip for b in blocks(design)}
        # Each block's own modules (expand, depthwise, project), whose times its add is worked out from.
        self.block_layers = {b: [] for b in self.blocks}
        for ly in expand(design):
            if ly.block and ly.is_module:
                self.block_layers[ly.block].append(ly.name)

    def attach(self) -> None:
        for name, mod in self.modules:
            self.handles.append(mod.register_forward_pre_hook(self._stamp(name, 0)))
            self.handles.append(mod.register_forward_hook(self._stamp(name, 1)))

    def detach(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    def _stamp(self, name: str, phase: int):
        def hook(*_):
            self.clock.stamp()
            self.order.append((name, phase))

        return hook

    def layer_times(self) -> dict[str, float]:
        """One hooked run's layer times; the clock's first and last stamps (around the whole run) are dropped."""
        self.clock.marks = self.clock.marks[1:-1]
        marks = self.clock.durations_ms()  # durations between consecutive hook stamps
        times: dict[str, float] = {}
        start: dict[str, float] = {}
        t = 0.0
        for i, (name, phase) in enumerate(self.order):
            if i:
                t += marks[i - 1]
            if phase == 0:
                start[name] = t
            else:
                times[name] = t - start[name]
        self.order = []
        # A block's time beyond its convs: the add (if any) plus the block's own call overhead. The overhead is
        # what blocks without an add spend beyond their convs; it is taken off, and stays unattributed.
        rest = {b: times.pop(b) - sum(times[n] for n in self.block_layers[b]) for b in self.blocks}
        plain = [r for b, r in rest.items() if not self.blocks[b]]
        overhead = median(plain) if plain else 0.0
        for b, skip in self.blocks.items():
            if skip:
                times[b + ".add"] = max(rest[b] - overhead, 0.0)
        return times


def layer_breakdown(
    design: Design,
    device: str = "cpu",
    threads: int | None = None,
    batch: int = 1,
    budget_s: float = 4.0,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
    host_held: bool = False,
) -> LayerBreakdown:
    """Time each layer (torch eager) and compare with its MAC and byte shares. Hooked runs alternate with plain
    runs of the whole network, so both see the same host conditions. time_share is over the layers' total, so
    the shares sum to 1; the layers' total is compared with the whole network's time. host_held: the caller
    (a measurement worker) already holds the host lock."""
    check_device("torch", device)
    check_run_options(batch, budget_s)
    n_threads, thread_note = resolve_threads(threads)
    target = Target("torch", device, n_threads, batch)
    design_m = measured_design(design, None, batch)
    report = progress or (lambda f, m: None)
    what = f"{design.name}, layer breakdown on {device}"
    lock = contextlib.nullcontext() if host_held else host_lock(what, lock_timeout, lambda m: report(0.0, m), cancel)
    with lock:
        allocator = steady_allocator()
        per_layer, whole = _time_model_layers(design_m, target, budget_s, report, cancel)
    rows, total = _layer_rows(compute_cost(design_m), per_layer)
    whole_ms = statistics(whole)["median_ms"]
    diff = (total - whole_ms) / whole_ms * 100 if whole_ms else 0.0
    runs = len(per_layer[rows[0]["name"]])
    report(1.0, "done")
    return LayerBreakdown(
        design_name=design.name,
        design_hash=design.network_hash(),
        device=device,
        device_name=device_name(device),
        threads=n_threads,
        batch=batch,
        input_size=design_m.input_size,
        runs=runs,
        whole_ms=whole_ms,
        layers_total_ms=total,
        difference_pct=diff,
        tolerance_pct=TOLERANCE_PCT,
        within_tolerance=abs(diff) <= TOLERANCE_PCT,
        layers=rows,
        protocol=_protocol(target, design_m.input_size, thread_note, runs, len(whole), allocator),
        timestamp=now_iso(),
        versions=versions("torch", device),
    )


def _time_model_layers(design_m: Design, target: Target, budget_s: float, report, cancel) -> tuple[dict, list]:
    import torch

    from ..model.build import build_model

    deadline = time.monotonic() + TIME_CAP_S
    report(0.0, "building the model")
    model = build_model(design_m).eval().to(target.device)
    x = example_input(design_m, target.batch, target.device, False)
    with torch.inference_mode():
        return _time_layers(model, design_m, x, target, budget_s, deadline, report, cancel)


def _layer_rows(cost, per_layer: dict[str, list[float]]) -> tuple[list[dict], float]:
    """One row per cost-model layer (time, MAC and byte shares), and the layers' total time."""
    by_name = {lc.layer.name: lc for lc in cost.layers}
    names = [lc.layer.name for lc in cost.layers]
    if set(per_layer) != set(names):  # the builder's modules and the cost model's layers must agree
        raise RuntimeError(f"timed layers {sorted(per_layer)} differ from the cost model's {names}")
    medians = {n: statistics(per_layer[n])["median_ms"] for n in names}
    total = sum(medians.values())
    rows = []
    for n in names:
        lc = by_name[n]
        row = {
            "name": n,
            "kind": lc.layer.kind,
            "block": lc.layer.block,
            "time_ms": medians[n],
            "time_share": medians[n] / total if total else 0.0,
            "macs": lc.macs,
            "macs_share": lc.macs / cost.macs if cost.macs else 0.0,
            "bytes": lc.bytes,
            "bytes_share": lc.bytes / cost.bytes if cost.bytes else 0.0,
            "intensity": lc.intensity,
        }
        row["time_per_mac_share"] = row["time_share"] / row["macs_share"] if row["macs_share"] else None
        rows.append(row)
    return rows, total


def _protocol(target: Target, input_size: int, thread_note: str, runs: int, plain_runs: int, allocator: str) -> str:
    import torch

    stamps = "CUDA events" if target.device == "cuda" else "perf_counter"
    return (
        f"torch {torch.__version__} eager on {target.device}, eval + inference_mode; {thread_note}; "
        f"batch {target.batch}, {input_size}x{input_size}; forward hooks stamp ({stamps}) before and after each "
        f"layer and block, an add = its block minus its convs minus a block's call overhead; {runs} hooked runs "
        f"alternating in blocks of {RUNS_PER_BLOCK} with {plain_runs} plain runs of the whole network, "
        f"after warm-up; medians; time shares over the layers' total; MAC and byte shares from the cost model "
        f"(float32, BN fused); {allocator}"
    )


def _time_layers(model, design, x, target: Target, budget_s, deadline, report, cancel) -> tuple[dict, list]:
    """Alternate blocks of hooked and of plain runs until the budget is spent; the first blocks warm up."""
    import torch

    clock = _Clock(target.device)
    hooks = _Hooks(model, design, clock)
    prior = torch.get_num_threads()
    torch.set_num_threads(target.threads)
    per_layer: dict[str, list[float]] = {}
    whole: list[float] = []
    try:
        start, warm_until, block = time.perf_counter(), time.perf_counter() + WARMUP_SHARE * budget_s, 0
        while True:
            now = time.perf_counter()
            counted = block >= 2 and now >= warm_until  # the first hooked and plain blocks warm up
            hooked = block % 2 == 0
            capped = time.monotonic() >= deadline
            done = now - start >= budget_s or capped
            if hooked and counted and len(whole) >= MIN_LAYER_RUNS and done:  # stop between pairs of blocks
                break
            if hooked and capped and per_layer and whole:  # the cap holds within one pair of blocks
                break
            if capped and block >= 2:
                raise UserError(f"the per-layer split did not fit in the {TIME_CAP_S:.0f} s cap on a measurement")
            if cancel is not None and cancel.is_set():
                raise Cancelled("measurement cancelled")
            if hooked:
                hooks.attach()
            try:
                for _ in range(RUNS_PER_BLOCK):
                    clock.stamp()
                    model(x)
                    clock.stamp()
                    if hooked:
                        times = hooks.layer_times()
                        if counted:
                            for n, ms in times.items():
                                per_layer.setdefault(n, []).append(ms)
                    else:
                        ms = clock.durations_ms()[0]
                        if counted:
                            whole.append(ms)
            finally:
                hooks.detach()
            block += 1
            report(min(1.0, (now - start) / budget_s), f"timing layers ({len(whole)} runs)")
    finally:
        torch.set_num_threads(prior)
    return per_layer, whole
