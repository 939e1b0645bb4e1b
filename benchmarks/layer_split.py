"""Where the time goes, by layer kind: time share vs MAC share vs bytes share (torch eager on this host).

Run: python benchmarks/layer_split.py [--preset NAME ...] [--budget S] [--threads N] [--device cpu|cuda]

Default presets: SM_V2 and SM_V2_x2nr (the paper's skip / no-skip pair). A kind whose time share is far above
its MAC share (depthwise convs, residual adds) is memory-bound: MACs do not predict its time.
Output: docs/layer_split.md.
"""

import argparse
import time

from run_header import footer, header

from explorer.design.presets import get_preset
from explorer.fmt import text_table
from explorer.measure.layer_latency import layer_breakdown


def pct(v):
    return "-" if v is None else f"{v * 100:.1f}%"


def show(name: str, args) -> str:
    bd = layer_breakdown(get_preset(name), device=args.device, threads=args.threads, budget_s=args.budget)
    print(f"\n== {bd.design_name}: {bd.device} ({bd.device_name}), {bd.threads} threads, batch {bd.batch} ==")
    rows = [
        {
            "kind": k["kind"],
            "layers": k["layers"],
            "ms": f"{k['time_ms']:.3f}",
            "time": pct(k["time_share"]),
            "MACs": pct(k["macs_share"]),
            "bytes": pct(k["bytes_share"]),
            "time/MAC": "-" if k["time_per_mac_share"] is None else f"{k['time_per_mac_share']:.2f}x",
        }
        for k in bd.by_kind()
    ]
    print(
        text_table(
            rows,
            list(rows[0]),
            ["kind", "layers", "ms", "time share", "MAC share", "bytes share", "time share / MAC share"],
        )
    )
    slow = sorted(bd.layers, key=lambda r: -r["time_share"])[:5]
    print(
        "slowest layers: "
        + ", ".join(f"{r['name']} {pct(r['time_share'])} (MACs {pct(r['macs_share'])})" for r in slow)
    )
    ok = "within" if bd.within_tolerance else "OUTSIDE"
    print(
        f"layers sum to {bd.layers_total_ms:.3f} ms; plain runs of the whole network: {bd.whole_ms:.3f} ms "
        f"({bd.difference_pct:+.1f} %, {ok} the ±{bd.tolerance_pct:.0f} % tolerance)"
    )
    return bd.protocol


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", action="append", help="preset name (repeatable); default SM_V2 and SM_V2_x2nr")
    ap.add_argument("--budget", type=float, default=4.0, help="seconds per preset (half whole, half layers)")
    ap.add_argument("--threads", type=int, default=None, help="threads (default: all physical cores)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps"))
    args = ap.parse_args()
    started = time.time()
    print(header("# Where the time goes: time share against MAC share per layer kind"))
    protocols = {show(name, args) for name in args.preset or ["SM_V2", "SM_V2_x2nr"]}
    print("\ntime share: of the layers' total; MAC and bytes shares: from the cost model (float32, BN fused, batch 1).")
    print("protocol: " + " / ".join(sorted(protocols)))
    print(footer(started))


if __name__ == "__main__":
    main()
