"""How long one prediction takes (it runs on every table edit of the app; the budget is 20 ms).

Run: python benchmarks/predictor_speed.py [--repeat 200]

Times explorer.predict.predict for every preset and 50 random held-out designs with a profile fitted to
synthetic numbers (the arithmetic is the same whatever the coefficients), and prints the median, p99 and
worst per design, and for the largest design.
"""

import argparse
import time

from explorer.design.cost import compute_cost
from explorer.design.presets import all_presets
from explorer.predict import predict
from explorer.predict.model import prior_coefficients
from explorer.predict.sampling import heldout_designs

BUDGET_MS = 20.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    profile = {
        "key": {"batch": 1, "backend": "torch", "device": "cpu", "threads": 2, "host": {}, "versions": {}},
        "model": {"coefficients": prior_coefficients(200.0, 20.0, "torch")},
        "band_pct": 10.0,
    }
    designs = all_presets() + heldout_designs(50, seed=99)
    times = []
    for d in designs:
        per = []
        for _ in range(max(1, args.repeat // 20)):
            t0 = time.perf_counter()
            predict(d, profile)
            per.append((time.perf_counter() - t0) * 1000)
        times.append((sorted(per)[len(per) // 2], d))
    ms = sorted(t for t, _ in times)
    biggest = max(designs, key=lambda d: len(compute_cost(d).layers))
    big = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        predict(biggest, profile)
        big.append((time.perf_counter() - t0) * 1000)
    big.sort()
    print(
        f"{len(designs)} designs: median {ms[len(ms) // 2]:.2f} ms, p99 {ms[int(0.99 * (len(ms) - 1))]:.2f} ms, "
        f"worst {ms[-1]:.2f} ms per prediction (budget {BUDGET_MS:.0f} ms)"
    )
    print(
        f"largest ({len(compute_cost(biggest).layers)} layers): median {big[len(big) // 2]:.2f} ms, "
        f"p99 {big[int(0.99 * (len(big) - 1))]:.2f} ms over {args.repeat} runs"
    )


if __name__ == "__main__":
    main()
