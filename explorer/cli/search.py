"""`python -m explorer search`: designs that beat a starting design on this host, under a latency budget.

Screens with the calibrated latency model, then measures the best candidates for real in fresh workers.
Imports nothing heavy at module level.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import Problems, UserError
from ..options import Option

# What may change: a comma-separated list, checked against the search space by explorer.search.space.
FIELDS_OPTION = Option("fields", str, None, optional=True, metavar="LIST", help="what may change, comma-separated")


def _fields(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(f.strip() for f in text.split(",") if f.strip())


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..options import add_options, options_of
    from ..search import FIELDS, SearchRequest
    from .calibrate import add_target_arguments
    from .main import add_design_args

    add_design_args(p)
    add_target_arguments(p)
    add_options(p, options_of(SearchRequest))  # --budget-ms, --objective, --seconds, --top, ... declared there
    FIELDS_OPTION.add_to(p, help=f"{FIELDS_OPTION.help} (default all: {','.join(FIELDS)})")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from ..measure.hostlock import WAIT_MESSAGE
    from ..options import from_args
    from ..predict.features import PARAMETER_NAMES
    from ..predict.profile import missing_profile, profile_key
    from ..search import SearchRequest, run_search
    from ..store.results import ResultStore
    from .bench import ProgressBar
    from .calibrate import TARGET_OPTIONS, resolve_target
    from .main import design_from_args

    design = design_from_args(args)
    request = from_args(SearchRequest, args, fields=_fields(args.fields))
    # every problem of the target and the request at once, each naming its flag, as every command does
    problems = [line for o in TARGET_OPTIONS if (line := o.message(getattr(args, o.name), o.cli_flag))]
    problems += request.problems(flags=True)
    if problems:
        raise Problems(problems)
    backend, device, threads, batch = resolve_target(args)
    if request.data_folder is not None and request.objective != "naswot":
        raise UserError("--data gives the naswot objective its images; use it with --objective naswot")
    store = ResultStore(args.store)
    if request.measure:
        from ..store.preflight import check_store_writable

        check_store_writable(store.path)  # measured candidates are stored: a read-only store fails now
    profile = store.latest_profile(profile_key(backend, device, threads, batch), PARAMETER_NAMES)
    if profile is None:
        raise missing_profile(backend, device, threads, batch)
    progress = ProgressBar("bar" if sys.stderr.isatty() and not args.json else "off")

    def show(fraction: float, message: str) -> None:
        progress(fraction, message)
        if message.startswith(WAIT_MESSAGE):
            progress.waiting(message)  # said once on stderr even without a terminal

    try:
        result = run_search(design, profile, request, store=store, progress=show)
    finally:
        progress.close()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    _print(result)
    return 0


def no_candidate_advice(r: dict) -> str:
    """Advice that matches why nothing came back: noise, a budget too tight, failures, or too little time."""
    from ..measure.quality import is_trusted

    measured = r.get("measured_candidates") or []
    if not measured:
        return "no candidate was measured: the time ran out before measuring; try more --seconds"
    noisy = sum(1 for m in measured if m["quality"] and not is_trusted(m))
    failed = sum(1 for m in measured if m.get("error"))
    if noisy + failed == len(measured):
        return (
            f"no candidate was returned: {noisy} measurement(s) were noisy and {failed} failed; "
            "close busy programs and search again"
        )
    return "no candidate was measured within the budget; try more --seconds or a larger --budget-ms"


def _print(r: dict) -> None:
    from ..fmt import si, text_table

    s = r["start"]
    measured = f"{s['measured_ms']:.2f} ms measured" if s["measured_ms"] else "not measured"
    print(
        f"start: {s['name']}  params {si(s['params'])}  MACs {si(s['macs'])}  {measured}, "
        f"{s['predicted_ms']:.2f} ms predicted"
    )
    print(
        f"budget {r['budget_ms']:.2f} ms ({r['budget_source']}; +{r['noise_allowance_pct']:.0f} % allowed for "
        f"noise); objective {r['objective']} ({r['objective_note']}); seed {r['seed']}"
    )
    print(
        f"screened {r['screened']:,} designs ({r['feasible']:,} predicted within the budget, stopped by "
        f"{r['screening_stopped_by']}); measured {r['measured']}; {r['elapsed_s']:.0f} s\n"
    )
    rows = []
    for i, c in enumerate(r["candidates"], 1):
        q = c["quality"]["verdict"] if c["quality"] else "-"
        rows.append(
            {
                "#": i,
                "params": si(c["params"]),
                "macs": si(c["macs"]),
                "pred": f"{c['predicted_ms']:.2f}",
                "meas": "-" if c["measured_ms"] is None else f"{c['measured_ms']:.2f}",
                "q": q,
                "dom": "yes" if c.get("dominates_start") else "",
                "changes": "; ".join(
                    f"stage {d['from_stage'] if d['from_stage'] is not None else '+'}: {d['status']} {d['changes']}"
                    for d in c["stage_diff"]
                    if d["status"] != "same"
                )[:90],
            }
        )
    for error in [*(r.get("measure_errors") or []), *(r.get("store_errors") or [])]:
        print(f"warning: {error}", file=sys.stderr)
    if r.get("measured_candidates"):
        print("measured:")
        for m in r["measured_candidates"]:
            meas = "-" if m["measured_ms"] is None else f"{m['measured_ms']:.2f} ms"
            print(
                f"  {si(m['params'])} params, {si(m['macs'])} MACs, predicted {m['predicted_ms']:.2f} ms, "
                f"{meas}: {m['why']}"
            )
        print()
    if not rows:
        print(no_candidate_advice(r))
        return
    cols = ["#", "params", "macs", "pred", "meas", "q", "dom", "changes"]
    heads = ["#", "params", "MACs", "predicted ms", "measured ms", "quality", "beats start", "changes vs start"]
    print(text_table(rows, cols, heads))
    print("\n'beats start': more params and more MACs than the start, at no more measured latency.")
