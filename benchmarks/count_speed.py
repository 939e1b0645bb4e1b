"""How fast is the analytic cost model against counting on a built model (thop, FlopCounterMode)?

Run: python benchmarks/count_speed.py [--repeat 3]
All three are timed in one run on the same presets, so the ratios hold on a noisy shared machine.
The analytic count needs no model and no forward pass; the others build the model and run it once.
Output: docs/count_speed.md.
"""

import argparse
import time

import torch
from run_header import footer, header

from explorer.design.cost import compute_cost
from explorer.design.presets import all_presets
from explorer.fmt import text_table
from explorer.model.crosscheck import flop_counter_macs, thop_counts


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3


ANALYTIC_REPEATS = 50  # the analytic count takes well under a millisecond: the best of many is its steady time
TARGET_MS = 5.0  # the app recounts on every table edit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs of the built-model counts per preset (best kept)")
    args = ap.parse_args()
    started = time.time()
    print(header("# Counting speed: the analytic cost model against counting a built model"))
    print()
    rows = []
    for d in all_presets():
        ours = best_of(lambda d=d: compute_cost(d), ANALYTIC_REPEATS)
        fc = best_of(lambda d=d: flop_counter_macs(d), args.repeat)
        th = best_of(lambda d=d: thop_counts(d), args.repeat)
        rows.append(
            {
                "preset": d.name,
                "analytic_ms": ours,
                "flopcounter_ms": fc,
                "thop_ms": th,
                "flopcounter_x": fc / ours,
                "thop_x": th / ours,
            }
        )
    print(
        text_table(
            rows,
            list(rows[0]),
            ["preset", "analytic ms", "FlopCounterMode ms", "thop ms", "FlopCounter / analytic", "thop / analytic"],
        )
    )
    print(
        f"\nanalytic: explorer.design.cost.compute_cost (best of {ANALYTIC_REPEATS}); the others build the model and "
        f"run one forward pass (best of {args.repeat}), {torch.get_num_threads()} torch threads. Target: analytic "
        f"well under {TARGET_MS:.0f} ms for MobileNet V2."
    )
    print(footer(started))


if __name__ == "__main__":
    main()
