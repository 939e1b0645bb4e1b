"""How long one prediction takes (it runs on every table edit of the app; the budget is 20 ms).

Run: python benchmarks/predictor_speed.py [--repeat 200]

Times explorer.predict.predict (per layer, as the Design page shows it) and explorer.predict.predicted_ms (the
whole-network total, as the search screens thousands of designs) for every preset and 50 random held-out
designs, with a profile of roofline coefficients (the arithmetic is the same whatever the coefficients), and
prints the median, p99 and worst per design, and for the largest design. Output: docs/predictor_speed.md.
"""

import argparse
import statistics
import time

from run_header import footer, header

from explorer.design.cost import compute_cost
from explorer.design.presets import all_presets
from explorer.predict import predict, predicted_ms
from explorer.predict.model import prior_coefficients
from explorer.predict.sampling import heldout_designs

BUDGET_MS = 20.0
HELDOUT = 50
HELDOUT_SEED = 99
RUNS_PER_DESIGN_SHARE = 20  # each design is timed --repeat / 20 times; the largest one --repeat times


def timed_ms(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200, help="runs for the largest design (per design: a 20th)")
    args = ap.parse_args()
    started = time.time()
    print(header("# Prediction speed: one latency prediction per design"))
    key = {"batch": 1, "backend": "torch", "device": "cpu", "threads": 2, "host": {}, "versions": {}}
    profile = {"key": key, "model": {"coefficients": prior_coefficients(200.0, 20.0, "torch")}, "band_pct": 10.0}
    designs = all_presets() + heldout_designs(HELDOUT, seed=HELDOUT_SEED)
    biggest = max(designs, key=lambda d: len(compute_cost(d).layers))
    layers = len(compute_cost(biggest).layers)
    per_design = max(1, args.repeat // RUNS_PER_DESIGN_SHARE)
    print(f"\n{len(designs)} designs (7 presets, {HELDOUT} held-out), median of {per_design} runs each:")
    for label, fn in (("predict (per layer)", predict), ("predicted_ms (total only)", predicted_ms)):
        ms = [statistics.median(timed_ms(lambda d=d, fn=fn: fn(d, profile), per_design)) for d in designs]
        big = timed_ms(lambda fn=fn: fn(biggest, profile), args.repeat)
        print(
            f"  {label:26s} median {statistics.median(ms):.3f} ms, p99 {p99(ms):.3f} ms, worst {max(ms):.3f} ms "
            f"per design; largest ({layers} layers): median {statistics.median(big):.3f} ms, "
            f"p99 {p99(big):.3f} ms over {args.repeat} runs"
        )
    print(f"budget: {BUDGET_MS:.0f} ms per prediction (the app predicts on every table edit)")
    print(footer(started))


if __name__ == "__main__":
    main()
