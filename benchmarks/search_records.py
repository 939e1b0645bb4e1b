"""Design search from the paper's models on this host: the best designs found, measured, with their tables.

Run: python benchmarks/search_records.py [--preset SM_V2 --preset "MobileNet V2"] [--seconds 60] [--top 5]
     [--backend torch] [--seed 0] [--out docs/search.md]

For each start: `explorer search` with its defaults (objective params, budget = the start's own latency,
measured in a fresh worker at the start of the search), then the candidates measured within the budget
(+5 % for noise) with a clean quality verdict, and whether any dominates the start (more params and more MACs
at no more measured latency). Needs a calibrated profile (`python -m explorer calibrate`). Writes a markdown
report (--out) with the host named.
"""

import argparse
import time
from pathlib import Path

from explorer.design.presets import get_preset
from explorer.design.spec import parse_design
from explorer.fmt import si
from explorer.measure.hostinfo import host_info, physical_cores
from explorer.predict.profile import missing_profile, profile_key
from explorer.search import SearchRequest, run_search
from explorer.store.results import ResultStore

ROOT = Path(__file__).resolve().parent.parent


def stage_table(design_dict: dict) -> list[str]:
    d = parse_design(design_dict)
    lines = ["| stage | t | c | n | s | kernel | skip |", "|---:|---:|---:|---:|---:|---:|:---:|"]
    for i, s in enumerate(d.stages):
        lines.append(f"| {i} | {s.t} | {s.c} | {s.n} | {s.s} | {s.kernel} | {'yes' if s.skip else 'no'} |")
    lines.append(f"\nlast_conv {d.last_conv}, stem {d.stem_channels}, input {d.input_size}, {d.num_classes} classes")
    return lines


def report(name: str, r: dict) -> list[str]:
    s = r["start"]
    out = [
        f"## From {name}",
        "",
        f"Start: {si(s['params'])} params, {si(s['macs'])} MACs, "
        + (f"{s['measured_ms']:.2f} ms measured" if s["measured_ms"] else "not measured")
        + f" ({s['latency_source']}), {s['predicted_ms']:.2f} ms predicted.",
        f"Budget {r['budget_ms']:.2f} ms ({r['budget_source']}), +{r['noise_allowance_pct']:.0f} % for noise. "
        f"Screened {r['screened']:,} designs ({r['feasible']:,} predicted within the budget, stopped by "
        f"{r['screening_stopped_by']}); measured {r['measured']}; {r['elapsed_s']:.0f} s in all; model correction "
        f"x{r['model_correction']:.2f}.",
        "",
        "| # | params | MACs | predicted ms | measured ms | quality | beats the start |",
        "|---:|---:|---:|---:|---:|:---:|:---:|",
    ]
    for i, c in enumerate(r["candidates"], 1):
        out.append(
            f"| {i} | {si(c['params'])} | {si(c['macs'])} | {c['predicted_ms']:.2f} | {c['measured_ms']:.2f} | "
            f"{c['quality']['verdict']} | {'yes' if c['dominates_start'] else 'no'} |"
        )
    for c in r["rejected"]:  # every measured candidate not returned, with the rule that set it aside
        measured = "-" if c["measured_ms"] is None else f"{c['measured_ms']:.2f}"
        verdict = (c["quality"] or {}).get("verdict", "failed")
        out.append(
            f"| rejected | {si(c['params'])} | {si(c['macs'])} | {c['predicted_ms']:.2f} | {measured} | "
            f"{verdict} | {c['why'].replace('|', '/')} |"
        )
    for error in r.get("measure_errors") or []:
        out.append(f"\nA measuring worker failed: {error}")
    winners = [c for c in r["candidates"] if c["dominates_start"]]
    if r["candidates"]:
        best = winners[0] if winners else r["candidates"][0]
        label = "dominates the start" if winners else "best found (does not dominate the start)"
        out += [
            "",
            f"Best, {label}: {si(best['params'])} params, {si(best['macs'])} MACs, "
            f"{best['measured_ms']:.2f} ms measured vs the start's {s['measured_ms'] or s['predicted_ms']:.2f} ms.",
            "",
        ]
        out += stage_table(best["design"])
        changes = [f"stage {d['from_stage']}→{d['to_stage']}: {d['status']} {d['changes']}" for d in best["stage_diff"]]
        out += ["", "Changes against the start:", ""] + [f"- {c}" for c in changes if "same" not in c]
    out.append("")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", action="append", help="start design(s) (default: SM_V2 and MobileNet V2)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"])
    ap.add_argument("--out", default=str(ROOT / "docs" / "search.md"))
    args = ap.parse_args()
    threads = physical_cores()
    store = ResultStore()
    profile = store.latest_profile(profile_key(args.backend, "cpu", threads, 1))
    if profile is None:
        raise SystemExit(str(missing_profile(args.backend, "cpu", threads, 1)))
    h = host_info()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# Design search on this host",
        "",
        f"**Measured** on {h['cpu']} ({h['physical_cores']} cores), torch {h['torch']}, onnxruntime "
        f"{h['onnxruntime']}; backend {args.backend}, {threads} threads, batch 1; {when}. "
        f"Produced by `benchmarks/search_records.py` (`explorer search` defaults: objective params, budget = the "
        f"start's own measured latency, {args.seconds:g} s, top {args.top}, seed {args.seed}).",
        "",
    ]
    for name in args.preset or ["SM_V2", "MobileNet V2"]:
        request = SearchRequest(seconds=args.seconds, top=args.top, seed=args.seed)
        result = run_search(get_preset(name), profile, request, store=store)
        block = report(name, result)
        print("\n".join(block))
        lines += block
        time.sleep(3.0)  # a rest between the two searches: the next start is measured on a settled host
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
