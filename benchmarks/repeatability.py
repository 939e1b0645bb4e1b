"""Is a latency measurement repeatable, and is a busy host caught? MobileNet V2 on both CPU backends.

Run: python benchmarks/repeatability.py [--runs 5] [--budget 2] [--busy 2] [--preset "MobileNet V2"]

1. Quiet host: `bench --json` in --runs fresh processes per backend, stored in a store of this run's own (so
   each result is also checked against the earlier ones); the CV (std / mean) of the medians, over all runs
   and over those judged ok, and the verdict of each.
2. Busy host: the same, one process per backend, beside --busy busy-loop processes; the verdict must flip to
   noisy, with the load it saw.
3. One service: the same design, in the same minute, measured the way the CLI (`bench`), the app's Measure
   button (explorer.measure.process) and the calibration's worker (explorer.predict.calibrate.calibration_job)
   ask for it; all go through explorer.measure.service, and their medians must agree within ±5 %.
Print-only; the output is committed to docs/repeatability.md (regenerate it on a quiet host).
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from explorer.measure.hostinfo import host_info


def bench(preset: str, backend: str, budget: float, store: str) -> dict:
    """One `bench` in a fresh process, stored in this run's own store (so the history check applies)."""
    cmd = [sys.executable, "-m", "explorer", "bench", "--preset", preset, "--backend", backend]
    cmd += ["--budget", str(budget), "--json", "--store", store]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def cv(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    return f"{statistics.stdev(values) / statistics.mean(values) * 100:.2f} %"


def spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


def describe(r: dict) -> str:
    q = r["quality"]
    other = q.get("other_cpu_cores")
    load = "n/a" if other is None else f"{other:.2f}"
    why = "; ".join(q["reasons"]) or "-"
    return (
        f"{r['median_ms']:9.3f} ms  p25-p75 {r['p25_ms']:.3f}-{r['p75_ms']:.3f}  runs {r['runs']:5d}  "
        f"other load {load} cores  verdict {q['verdict']:5s}  {why}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="MobileNet V2")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--budget", type=float, default=2.0)
    ap.add_argument("--busy", type=int, default=2, help="busy-loop processes for the second part")
    args = ap.parse_args()
    h = host_info()
    print(f"host: {h['cpu']}, {h['physical_cores']} cores, torch {h['torch']}, onnxruntime {h['onnxruntime']}")
    print(f"{args.preset}, batch 1, default threads, {args.budget:g} s budget, each run a fresh `bench` process\n")

    store = str(Path(tempfile.mkdtemp(prefix="repeatability-")) / "results.sqlite")
    print(f"== quiet host: {args.runs} fresh processes per backend ==")
    summary = {}
    for backend in ("torch", "onnxruntime"):
        results = [bench(args.preset, backend, args.budget, store) for _ in range(args.runs)]
        medians = [r["median_ms"] for r in results]
        trusted = [r["median_ms"] for r in results if r["quality"]["verdict"] == "ok"]
        summary[backend] = statistics.median(trusted or medians)
        print(f"{backend}:")
        for r in results:
            print("  " + describe(r))
        print(
            f"  CV of the medians: {cv(medians)} over all {len(medians)}, {cv(trusted)} over the "
            f"{len(trusted)} judged ok (target <= 3 %)\n"
        )
    if summary["onnxruntime"] > 0:
        print(f"torch eager / ONNX Runtime: {summary['torch'] / summary['onnxruntime']:.2f}x\n")

    print(f"== busy host: {args.busy} busy-loop processes beside one measurement per backend ==")
    for backend in ("torch", "onnxruntime"):
        stop_at = time.time() + 60
        loops = [multiprocessing.Process(target=spin, args=(stop_at,), daemon=True) for _ in range(args.busy)]
        for p in loops:
            p.start()
        time.sleep(0.5)
        try:
            r = bench(args.preset, backend, args.budget, store)
        finally:
            for p in loops:
                p.terminate()
                p.join()
        flipped = "flipped to noisy" if r["quality"]["verdict"] == "noisy" else "NOT flagged"
        print(f"{backend}: " + describe(r) + f"\n  -> {flipped}")
        time.sleep(2.0)  # let the host settle before the next part
    agreement(args.preset, args.budget, store)
    print(f"\n(pid {os.getpid()}; figures from bench's own quality verdict: explorer/measure/quality.py)")


def agreement(preset: str, budget: float, store: str) -> None:
    """CLI == app == calibration worker on one design, same minute: all three through the one service."""
    from explorer.design.presets import get_preset
    from explorer.measure.process import measure_in_worker
    from explorer.measure.service import MeasureRun
    from explorer.measure.target import Target
    from explorer.predict.calibrate import calibration_job

    print(f"\n== one service: {preset}, torch, the CLI, the app and the calibration worker in the same minute ==")
    design = get_preset(preset)
    threads = Target().resolved().threads
    cli = bench(preset, "torch", budget, store)
    app = measure_in_worker(design, budget_s=budget, threads=threads)
    (cal,) = list(MeasureRun(calibration_job(Target("torch", "cpu", threads, 1), [design], budget, 10)))
    rows = {"CLI (bench)": cli, "app (Measure button)": app, "calibration worker": cal.result}
    for name, r in rows.items():
        print(f"  {name:22s} " + describe(r))
    noisy = [name for name, r in rows.items() if r["quality"]["verdict"] != "ok"]
    if noisy:  # agreement between noisy numbers says nothing: run it again on a quiet host
        print(f"  agreement not judged: {', '.join(noisy)} noisy (the host was busy)")
        return
    medians = [r["median_ms"] for r in rows.values()]
    spread = (max(medians) - min(medians)) / min(medians) * 100
    verdict = "within" if spread <= 5 else "OUTSIDE"
    print(f"  largest difference {spread:.1f} % ({verdict} ±5 %)")


if __name__ == "__main__":
    main()
