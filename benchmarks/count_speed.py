"""How fast is the analytic cost model against counting on a built model (thop, FlopCounterMode)?

Run: python benchmarks/count_speed.py
All three are timed in one run on the same presets, so the ratios hold on a noisy shared machine.
The analytic count needs no model and no forward pass; the others build the model and run it once.
"""

import time

import torch

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


def main() -> None:
    rows = []
    for d in all_presets():
        ours = best_of(lambda d=d: compute_cost(d), 50)
        fc = best_of(lambda d=d: flop_counter_macs(d), 3)
        th = best_of(lambda d=d: thop_counts(d), 3)
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
        "\nanalytic: explorer.design.cost.compute_cost (best of 50); the others build the model and run one forward "
        f"pass (best of 3), {torch.get_num_threads()} torch threads. Target: analytic well under 5 ms for MobileNet V2."
    )


if __name__ == "__main__":
    main()
