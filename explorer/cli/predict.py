"""`python -m explorer predict`: a design's latency on this host from its calibrated profile, per layer.

Needs no torch: the prediction is arithmetic over the exact cost model.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .calibrate import add_target_arguments
    from .main import add_design_args

    add_design_args(p)
    add_target_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from ..design.limits import DEFAULT_CAP
    from ..fmt import shell_word, shown
    from ..predict import predict
    from ..predict.features import PARAMETER_NAMES
    from ..predict.paper import paper_hardware_prediction
    from ..predict.profile import missing_profile, profile_key
    from ..store.results import ResultStore
    from .calibrate import resolve_target
    from .main import design_from_args

    design = design_from_args(args)
    DEFAULT_CAP.check(design)
    backend, device, threads, batch = resolve_target(args)
    key = profile_key(backend, device, threads, batch)
    store = ResultStore(args.store)  # a read never creates the store (a typo in --store stays a typo)
    profile = store.latest_profile(key, PARAMETER_NAMES)  # a profile lacking one is damaged
    if store.skipped_rows:
        print(f"note: {store.skipped_rows} damaged profile row(s) of {shown(store.path)} skipped", file=sys.stderr)
    if profile is None:
        missing = missing_profile(backend, device, threads, batch)
        if args.store is not None and not store.exists:
            raise type(missing)(
                f"{missing} --store {shell_word(args.store)} ({shown(store.path)} does not exist: check the path)"
            )
        raise missing
    out = predict(design, profile)
    out["paper_hardware"] = paper_hardware_prediction(design)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    _print(out)
    return 0


def _print(out: dict) -> None:
    from ..fmt import text_table

    rows = [
        {
            **ly,
            "ms": f"{ly['predicted_ms']:.3f}",
            "c": f"{ly['compute_ms']:.3f}",
            "m": f"{ly['memory_ms']:.3f}",
            "o": f"{ly['overhead_ms']:.3f}",
        }
        for ly in out["layers"]
    ]
    print(
        text_table(
            rows,
            ["name", "kind", "ms", "bound", "c", "m", "o"],
            ["layer", "kind", "predicted ms", "bound", "compute", "memory", "overhead"],
        )
    )
    prof = out["profile"]
    band = f" ± {out['band_pct']:.0f} %" if out["band_pct"] is not None else " (no error band: too few samples)"
    print(
        f"\n{out['name']}: predicted {out['predicted_ms']:.2f} ms{band} - {prof['backend']} on {prof['device']}, "
        f"{prof['threads']} threads, batch {prof['batch']}; compute {out['compute_ms']:.2f} ms, memory "
        f"{out['memory_ms']:.2f} ms, overhead {out['overhead_ms']:.2f} ms"
    )
    print(f"profile #{prof.get('key_hash')} calibrated {prof['created']} on {prof['host']['cpu']}")
    for machine in out["paper_hardware"].values():
        print(f"{machine['predicted_ms']:.2f} ms on {machine['label']}")
