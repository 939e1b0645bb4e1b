"""A fresh worker process that measures designs the way `bench` does, for calibration and the accuracy check.

`python -m explorer.predict.worker` reads one JSON job on stdin ({"backend", "device", "threads",
"batch", "budget_s", "designs": [design dicts], "retries", "state_wait_s"}) and writes one JSON line per
design on stdout. The parent holds the host lock for the whole job, so this process times with
explorer.measure.timing directly: the same allocator setting, eval mode, inference_mode, warm-up, timing and
quality verdict as `bench` (calibration probes the host's state without waiting for it). Fresh processes
matter: a long-lived process drifts 10-20 % slower on a shared VM, and `bench` measures in a fresh one.
"""

from __future__ import annotations

import json
import sys
import time

DESIGN_CAP_S = 30.0


def _runner(design_dict: dict, backend: str, device: str, threads: int, batch: int):
    import torch

    from ..design.spec import parse_design
    from ..model.build import build_model

    design = parse_design(design_dict)
    model = build_model(design).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, design.input_size, design.input_size, generator=g)
    if backend == "torch":
        model, x = model.to(device), x.to(device)
        return design, lambda: model(x)  # timed under inference_mode (measure_one), as `bench` does
    from ..measure.latency_ort import export_onnx, ort_runner, ort_session

    onnx_bytes, _ = export_onnx(model, x)
    return design, ort_runner(ort_session(onnx_bytes, device, threads), x, device)


def measure_one(design_dict: dict, job: dict) -> dict:
    import torch

    from ..measure.timing import statistics, time_callable

    backend, device = job["backend"], job.get("device", "cpu")
    threads, batch = int(job["threads"]), int(job.get("batch", 1))
    design, run = _runner(design_dict, backend, device, threads, batch)
    tries = []
    for _ in range(1 + int(job.get("retries", 1))):
        with torch.inference_mode():
            timed = time_callable(
                run,
                device=device,
                threads=threads,
                budget_s=float(job["budget_s"]),
                min_runs=int(job.get("min_runs", 10)),
                warmup=None,
                deadline=time.monotonic() + DESIGN_CAP_S,
                state_wait_s=float(job.get("state_wait_s", 0.0)),  # calibration does not wait: it sets aside
            )
        stats = statistics(timed["samples_ms"])
        quality = timed["quality"]  # explorer.measure.quality's verdict: other load, spread, samples
        tries.append(
            {
                "median_ms": stats["median_ms"],
                "iqr_ms": stats["iqr_ms"],
                "runs": timed["runs"],
                "quality": quality,
                # the host's state around the timing (explorer.measure.probe): the slower of the two probes
                "probe_ms": max(quality["probe_before_ms"], quality["probe_after_ms"])
                if "probe_ratio" in quality
                else None,
            }
        )
        if quality["verdict"] == "ok":
            break
    best = tries[-1]
    return {"design_hash": design.network_hash(), "name": design.name, **best, "tries": len(tries)}


GEMM_N = 1024  # a 1024^3 GEMM: 2.1 GFLOP, big enough to reach the attainable peak
COPY_VALUES = 16 * 2**20  # 64 MiB float32 per tensor: far beyond the caches


def measure_roofs(job: dict) -> dict:
    """The roofline's two roofs on this host: a large GEMM (peak FLOP/s) and a large add (bandwidth)."""
    import torch

    from ..measure.timing import statistics, time_callable

    device, threads = job.get("device", "cpu"), int(job["threads"])
    budget = min(0.3, float(job["budget_s"]) * 2)
    a = torch.randn(GEMM_N, GEMM_N, device=device)
    b = torch.randn(GEMM_N, GEMM_N, device=device)
    x = torch.randn(COPY_VALUES, device=device)
    y = torch.randn(COPY_VALUES, device=device)
    out = torch.empty(COPY_VALUES, device=device)
    common = dict(device=device, threads=threads, budget_s=budget, min_runs=5, warmup=None)
    gemm = time_callable(lambda: torch.mm(a, b), deadline=time.monotonic() + 10, **common)
    add = time_callable(lambda: torch.add(x, y, out=out), deadline=time.monotonic() + 10, **common)
    gemm_ms = statistics(gemm["samples_ms"])["median_ms"]
    add_ms = statistics(add["samples_ms"])["median_ms"]
    return {
        "peak_gflops": 2 * GEMM_N**3 / gemm_ms / 1e6,
        "bandwidth_gbs": 3 * 4 * COPY_VALUES / add_ms / 1e6,
        "gemm_ms": gemm_ms,
        "add_ms": add_ms,
        "quality": {"gemm": gemm.get("quality", {}).get("verdict"), "add": add.get("quality", {}).get("verdict")},
    }


def main() -> int:
    from ..measure.allocator import steady_allocator

    job = json.loads(sys.stdin.read())
    steady_allocator()
    if job.get("roofs"):
        sys.stdout.write(json.dumps({"roofs": measure_roofs(job)}) + "\n")
        sys.stdout.flush()
    stop_at = float(job["stop_at"]) if job.get("stop_at") else None  # epoch seconds: the parent's deadline
    for i, d in enumerate(job["designs"]):
        if i and stop_at is not None and time.time() > stop_at:
            break
        try:
            out = measure_one(d, job)
        except Exception as e:  # one failing design must not lose the others' numbers
            out = {"name": d.get("name"), "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
