"""Is a latency measurement repeatable, and is a busy host caught? MobileNet V2 on both CPU backends.

Run: python benchmarks/repeatability.py [--runs 5] [--budget 2] [--busy 2] [--preset "MobileNet V2"]

1. Quiet host: `bench --json --no-store` in --runs fresh processes per backend; the CV (std / mean) of their
   medians, and the verdict of each.
2. Busy host: the same, one process per backend, beside --busy busy-loop processes; the verdict must flip to
   noisy, with the load it saw.
Print-only; the output is committed to docs/repeatability.md.
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

from explorer.hostinfo import host_info


def bench(preset: str, backend: str, budget: float) -> dict:
    cmd = [sys.executable, "-m", "explorer", "bench", "--preset", preset, "--backend", backend]
    cmd += ["--budget", str(budget), "--json", "--no-store"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


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

    print(f"== quiet host: {args.runs} fresh processes per backend ==")
    summary = {}
    for backend in ("torch", "onnxruntime"):
        results = [bench(args.preset, backend, args.budget) for _ in range(args.runs)]
        medians = [r["median_ms"] for r in results]
        cv = statistics.stdev(medians) / statistics.mean(medians) if len(medians) > 1 else 0.0
        ok = sum(r["quality"]["verdict"] == "ok" for r in results)
        summary[backend] = statistics.median(medians)
        print(f"{backend}:")
        for r in results:
            print("  " + describe(r))
        print(f"  CV of the medians {cv * 100:.2f} % (target <= 3 %), {ok}/{len(results)} judged ok\n")
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
            r = bench(args.preset, backend, args.budget)
        finally:
            for p in loops:
                p.terminate()
                p.join()
        flipped = "flipped to noisy" if r["quality"]["verdict"] == "noisy" else "NOT flagged"
        print(f"{backend}: " + describe(r) + f"\n  -> {flipped}")
        time.sleep(2.0)  # let the host settle before the next part
    print(f"\n(pid {os.getpid()}; figures from bench's own quality verdict: explorer/quality.py)")


if __name__ == "__main__":
    main()
