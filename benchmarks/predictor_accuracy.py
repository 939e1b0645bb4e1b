"""How well the latency model predicts designs it never saw, on this host, against `bench`-style measurements.

Run: python benchmarks/predictor_accuracy.py [--designs 100] [--budget 1.0] [--seed 0] [--backends torch onnxruntime]
     [--calibrate-seconds 60 | --reuse-profile] [--per-worker 5] [--out docs/predictor_accuracy.md]

For each backend: calibrate (timed; or reuse the stored profile), draw --designs random MobileNet-style designs
from the held-out stream (explorer.predict.sampling.heldout_designs: input sizes the calibration stream never
uses, and checked against the profile's fitted hashes), measure each with the `bench` protocol in fresh worker
processes (--per-worker designs per process, under the host lock), and predict each. Reports the share within
±10 %, the median and worst error, Spearman's rho, and the same for a FLOPs-only baseline (time = a x MACs,
least squares on the same designs: a baseline that has seen the answers). Every measurement's quality verdict
is kept; the figures are given for all designs and for the clean ones, and separately for the paper's seven
presets (100 classes, so never calibrated on either; --no-presets skips them). Writes a markdown report (--out).
"""

import argparse
import json
import time
from pathlib import Path

from explorer.design.cost import compute_cost
from explorer.design.presets import all_presets
from explorer.measure.hostinfo import cpu_model, physical_cores
from explorer.measure.job import MeasureJob
from explorer.measure.probe import slow_state
from explorer.measure.quality import is_trusted
from explorer.measure.service import MeasureRun
from explorer.measure.target import Target
from explorer.measure.timing import median
from explorer.paths import now_iso
from explorer.predict import predict
from explorer.predict.calibrate import calibrate, sample
from explorer.predict.profile import profile_key
from explorer.predict.sampling import heldout_designs
from explorer.store.results import ResultStore

ROOT = Path(__file__).resolve().parent.parent


def ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb) if va and vb else float("nan")


def scores(predicted: list[float], measured: list[float]) -> dict:
    errors = sorted(abs(p - m) / m * 100 for p, m in zip(predicted, measured, strict=True))
    n = len(errors)
    if not n:
        return {"n": 0}
    return {
        "n": n,
        "within_10_pct": sum(e <= 10 for e in errors) / n * 100,
        "median_error_pct": median(errors),
        "worst_error_pct": errors[-1],
        "spearman": spearman(predicted, measured) if n > 2 else float("nan"),
    }


def flops_baseline(macs: list[float], measured: list[float]) -> list[float]:
    """time = a x MACs, a fitted by least squares on the very designs it is scored on."""
    a = sum(m * t for m, t in zip(macs, measured, strict=True)) / sum(m * m for m in macs)
    return [a * m for m in macs]


def measure_designs(designs, backend, threads, budget, per_worker, progress) -> dict:
    """The held-out designs through the measurement service, with bench's protocol (fast-state wait, one retry)."""
    out = {}
    for i in range(0, len(designs), per_worker):
        chunk = designs[i : i + per_worker]
        job = MeasureJob(
            chunk, Target(backend, "cpu", threads, 1), budget_s=budget, retries=1, history=False, purpose="benchmark"
        )
        for m in MeasureRun(job):
            if m.error:
                progress(f"{backend}: {m.design.name} failed: {m.error}")
                continue
            out[m.design.network_hash()] = sample(m)
        progress(f"{backend}: measured {len(out)} of {len(designs)} held-out designs")
    return out


def measure_rounds(designs, backend, threads, budget, per_worker, rounds, progress) -> dict[str, list[dict]]:
    """Every design measured `rounds` times, each round in another order, so one slow window of the shared host
    does not hit the same designs twice."""
    out: dict[str, list[dict]] = {}
    for r in range(rounds):
        order = designs if r % 2 == 0 else designs[::-1]
        for h, line in measure_designs(order, backend, threads, budget, per_worker, progress).items():
            out.setdefault(h, []).append(line)
    return out


def best_of(lines: list[dict], fastest_probe: float | None) -> dict:
    """The fastest clean median taken in the host's fast state (interference only adds time), else the fastest
    clean one, else the fastest of all."""
    clean = [x for x in lines if is_trusted(x)]
    steady = [x for x in clean if not slow_state(x.get("probe_ms"), fastest_probe)]
    return min(steady or clean or lines, key=lambda x: x["median_ms"])


def refit(profile: dict) -> dict:
    """The same calibration samples, fitted again by the current model code (for --rescore)."""
    from explorer.design.spec import parse_design
    from explorer.predict.calibrate import build_profile

    measured = [
        {
            "design_hash": s["design_hash"],
            "name": s["name"],
            "median_ms": s["median_ms"],
            "quality": {"verdict": s["verdict"], "reasons": s["reasons"]},
            "probe_ms": s.get("probe_ms"),
            "design": parse_design(s["design"]),
        }
        for s in profile["samples"]
    ]
    fresh = build_profile(
        profile["key"], measured, profile["roofs"], profile["key"]["backend"], profile["protocol_check"]
    )
    fresh["calibration"] = profile.get("calibration", {})
    return fresh


def run_backend(backend, args, store, raw: dict) -> dict:
    threads = args.threads or physical_cores()
    key = profile_key(backend, "cpu", threads, 1)
    if args.rescore:
        profile = refit(raw[backend]["profile"])
    elif args.reuse_profile:
        profile = store.latest_profile(key)
        if profile is None:
            raise SystemExit(f"no stored {backend} profile to reuse; run without --reuse-profile")
    else:
        print(f"[{backend}] calibrating ({args.calibrate_seconds:.0f} s budget)...", flush=True)
        profile = calibrate(backend, "cpu", threads, 1, seconds=args.calibrate_seconds, seed=args.calibration_seed)
        store.add_profile(profile["key"], profile)
        time.sleep(args.rest)  # a short rest between heavy phases: the next numbers start from the same state
    designs = heldout_designs(args.designs, args.seed)
    presets = [] if args.no_presets else all_presets()  # 100 classes too: never in the calibration stream
    preset_hashes = {d.network_hash() for d in presets}
    designs += presets
    seen = set(profile["fitted_on"]) & {d.network_hash() for d in designs}
    if seen:
        raise SystemExit(f"{len(seen)} held-out designs were used to fit the profile: the benchmark would be void")
    if args.rescore:
        rounds = raw[backend]["measurements"]
    else:
        rounds = measure_rounds(
            designs, backend, threads, args.budget, args.per_worker, args.rounds, lambda m: print(f"  {m}", flush=True)
        )
        raw[backend] = {"profile": profile, "measurements": rounds}
    probes = [x["probe_ms"] for lines in rounds.values() for x in lines if x.get("probe_ms")]
    fastest_probe = min(probes) if probes else None
    rows = []
    for d in designs:
        lines = rounds.get(d.network_hash())
        if not lines:
            continue
        m = best_of(lines, fastest_probe)
        p = predict(d, profile)
        rows.append(
            {
                "first_ms": lines[0]["median_ms"],
                "first_verdict": lines[0]["quality"]["verdict"],
                "slow_state": slow_state(m.get("probe_ms"), fastest_probe),
                "first_slow_state": slow_state(lines[0].get("probe_ms"), fastest_probe),
                "all_ms": [x["median_ms"] for x in lines],
                "name": d.name,
                "hash": d.network_hash(),
                "macs": compute_cost(d).macs,
                "input": d.input_size,
                "measured_ms": m["median_ms"],
                "predicted_ms": p["predicted_ms"],
                "verdict": m["quality"]["verdict"],
                "reasons": m["quality"].get("reasons", []),
                "preset": d.network_hash() in preset_hashes,
            }
        )
    preset_rows = [r for r in rows if r["preset"]]
    rows = [r for r in rows if not r["preset"]]
    clean = [r for r in rows if r["verdict"] == "ok" and not r["slow_state"]]
    result = {"backend": backend, "threads": threads, "profile": profile, "rows": rows, "preset_rows": preset_rows}
    for label, subset in (("all", rows), ("clean", clean), ("presets", preset_rows)):
        meas = [r["measured_ms"] for r in subset]
        result[label] = {
            "model": scores([r["predicted_ms"] for r in subset], meas),
            "flops": scores(flops_baseline([r["macs"] for r in subset], meas), meas) if subset else {"n": 0},
        }
    # What one `bench` run per design gives, without the repeat: the figure a user checking one design sees.
    first = [r["first_ms"] for r in rows]
    result["first round"] = {
        "model": scores([r["predicted_ms"] for r in rows], first),
        "flops": scores(flops_baseline([r["macs"] for r in rows], first), first) if rows else {"n": 0},
    }
    return result


def conditions() -> str:
    """What else the host was doing, said with the numbers: load average and this process's scheduling."""
    import os

    policy = {getattr(os, "SCHED_FIFO", -1): "SCHED_FIFO (real-time)", getattr(os, "SCHED_RR", -2): "SCHED_RR"}
    sched = policy.get(os.sched_getscheduler(0), "normal scheduling") if hasattr(os, "sched_getscheduler") else "?"
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return f"load average at the end {load} (1/5/15 min); benchmark process {sched}, nice {os.nice(0)}"


def fmt(v, spec=".1f"):
    return "–" if v is None or v != v else format(v, spec)


def report(results: list[dict], args, wall_s: float) -> str:
    lines = [
        "# Latency model: accuracy on held-out designs",
        "",
        f"Measured {now_iso()} on {cpu_model()} ({physical_cores()} physical cores) by "
        f"`python benchmarks/predictor_accuracy.py --designs {args.designs} --budget {args.budget} "
        f"--seed {args.seed} --rounds {args.rounds}{' --reuse-profile' if args.reuse_profile else ''}` "
        f"in {wall_s / 60:.1f} min.",
        "",
        f"Held-out designs: `heldout_designs({args.designs}, seed={args.seed})` — 4–8 stages, rising widths 16–320, "
        "t 1–8, n 1–4, kernels 3/5/7, inputs 96–224, skips mixed, last_conv 0 or 1280, 100 classes (a class count "
        "the calibration stream never draws, so no held-out network can have been fitted; the profile's fitted "
        "hashes are checked too), batch 1. Each measured with the `bench` protocol (warm-up excluded, "
        f"median of ≥ 10 runs in a {args.budget} s budget) in fresh worker processes, {args.per_worker} designs per "
        "process, under the host lock; a noisy measurement is re-run once. "
        f"Every design is measured in {args.rounds} separate round(s), the second in reverse order, and scored "
        "against its fastest clean median: interference on a shared host only adds time, and one slow window "
        "should not decide a design's figure. *first round* scores the same predictions against the first "
        "measurement alone (what one `bench` run gives). Every measurement is bracketed by a short probe "
        "(explorer.measure.probe) that shows the shared host's slow state (probe > 1.2 × the fastest probe of "
        "the run); a measurement taken in the fast state is preferred. *clean* = the chosen measurement's "
        "quality verdict was `ok` and it was taken in the fast state. "
        "*presets* = the paper's seven models (not counted in the other rows). The FLOPs-only baseline "
        "is time = a × MACs with `a` fitted by least squares on the same designs.",
        "",
        "| backend | designs | calibration | within ±10 % | median error | worst error | Spearman ρ | "
        "FLOPs-only: within ±10 % | median | worst | ρ |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cal = r["profile"].get("calibration", {})
        scale = (r["profile"].get("protocol_check") or {}).get("scale")
        cal_text = f"{cal.get('wall_s', 0):.0f} s, {len(r['profile']['fitted_on'])} networks" + (
            f", ×{scale:.3f} for bench's budget" if scale else ""
        )
        for label in ("all", "clean", "first round", "presets"):
            m, f = r[label]["model"], r[label]["flops"]
            if not m.get("n"):
                continue
            lines.append(
                f"| {r['backend']} ({r['threads']} thread{'s' if r['threads'] > 1 else ''}) "
                f"| {m['n']} {label} | {cal_text} | "
                f"**{fmt(m['within_10_pct'])} %** | {fmt(m['median_error_pct'])} % | {fmt(m['worst_error_pct'])} % | "
                f"**{fmt(m['spearman'], '.3f')}** | {fmt(f['within_10_pct'])} % | {fmt(f['median_error_pct'])} % | "
                f"{fmt(f['worst_error_pct'])} % | {fmt(f['spearman'], '.3f')} |"
            )
    lines += ["", "Targets (issue 13): ≥ 90 % within ±10 % and ρ ≥ 0.95 on both backends, calibration ≤ 60 s.", ""]
    lines.append(f"- Conditions: {conditions()}.")
    if args.note:
        lines.append(f"- Note: {args.note}")
    for r in results:
        slow = sum(x["slow_state"] for x in r["rows"])
        first_slow = sum(x["first_slow_state"] for x in r["rows"])
        hs = r["profile"].get("host_state") or {}
        lines.append(
            f"- {r['backend']}: host state — {first_slow} of {len(r['rows'])} first-round measurements ran in the "
            f"host's slow state, {slow} designs had no fast-state measurement in any round; calibration set aside "
            f"{hs.get('slow_state_samples', '?')} slow-state networks and "
            f"{len(r['profile'].get('set_aside_slow', []))} more it measured > 12 % slower than its first fit."
        )
    for r in results:
        noisy = [x for x in r["rows"] if x["verdict"] != "ok"]
        lines.append(
            f"- {r['backend']}: {len(noisy)} of {len(r['rows'])} measurements were judged noisy"
            + (f" (e.g. {noisy[0]['reasons'][0]})" if noisy and noisy[0]["reasons"] else "")
            + "."
        )
    lines += ["", "<details><summary>Every design</summary>", ""]
    lines += [
        "| backend | design | input | MMACs | measured ms (each round) | scored ms | predicted ms | error | verdict |",
        "|---|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        for x in r["rows"] + r["preset_rows"]:
            err = (x["predicted_ms"] - x["measured_ms"]) / x["measured_ms"] * 100
            lines.append(
                f"| {r['backend']} | {x['name']} | {x['input']} | {x['macs'] / 1e6:.0f} | "
                f"{' / '.join(f'{v:.2f}' for v in x['all_ms'])} | "
                f"{x['measured_ms']:.2f} | {x['predicted_ms']:.2f} | {err:+.1f} % | {x['verdict']}"
                f"{', slow state' if x.get('slow_state') else ''} |"
            )
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--designs", type=int, default=100, help="held-out designs per backend (default 100)")
    ap.add_argument("--budget", type=float, default=1.0, help="timed seconds per design, as `bench --budget`")
    ap.add_argument("--seed", type=int, default=0, help="which held-out designs (default 0)")
    ap.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"], choices=["torch", "onnxruntime"])
    ap.add_argument("--threads", type=int, help="default: all physical cores")
    ap.add_argument("--calibrate-seconds", type=float, default=60.0)
    ap.add_argument("--calibration-seed", type=int, default=0)
    ap.add_argument("--reuse-profile", action="store_true", help="use the stored profile instead of calibrating")
    ap.add_argument("--per-worker", type=int, default=5, help="designs measured per fresh worker process")
    ap.add_argument("--rest", type=float, default=3.0, help="seconds of rest after calibrating")
    ap.add_argument("--store", help="results store (default: the user data folder)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "predictor_accuracy.md"))
    ap.add_argument("--note", help="a line for the report about the conditions (e.g. a shared host)")
    ap.add_argument("--no-presets", action="store_true", help="skip the paper's presets (scored separately)")
    ap.add_argument("--rounds", type=int, default=2, help="measurements per design, in separate rounds (default 2)")
    ap.add_argument("--raw", help="write every measurement and the profiles to this JSON file")
    ap.add_argument(
        "--rescore", help="measure nothing: refit the profiles of a --raw file with the current model and score"
    )
    args = ap.parse_args()
    store = ResultStore(args.store)
    start = time.monotonic()
    raw = json.loads(Path(args.rescore).read_text()) if args.rescore else {}
    results = [run_backend(b, args, store, raw) for b in args.backends]
    if args.raw and not args.rescore:
        Path(args.raw).write_text(json.dumps(raw, default=str))
    text = report(results, args, time.monotonic() - start)
    Path(args.out).write_text(text)
    print(text.split("<details>")[0])
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
