"""The paper's latency claims, measured on this host: every preset on torch and ONNX Runtime (and CUDA if present).

Run: python benchmarks/paper_claims.py [--budget S] [--rounds N] [--threads N] [--no-onnx] [--device all|cpu|cuda]

Prints params, MACs and median latency per backend for every preset, the latency ratios to MobileNet V2 beside
the paper's (CPU: SM_V2/MV2 = 0.70, SM_V2_x2nr/SM_V2 = 1.07; GPU: 0.69 and 0.96), SM_V2 with its skips
switched off (same MACs: what the residual adds cost), latency per MAC, the
run-to-run stability of 5 repeated MobileNet V2 measurements (coefficient of variation), and an independent
check of the builder: a MobileNetV2 written here by hand, torchvision-style, given the same weights and timed
alternately with ours.

Presets are measured in rounds (each round visits every preset once), and each figure is the median (--stat
min: the lowest) over the rounds, so slow drifts of a shared machine hit all presets alike instead of biasing one.
Every measurement carries the quality verdict of explorer.measure.quality; a figure with a noisy measurement
behind it is starred, and the count of noisy measurements is printed. Output: docs/results.md.
"""

import argparse
import os
import statistics
import time

import torch
from run_header import footer, header
from torch import nn

from explorer.design.cost import compute_cost
from explorer.design.presets import BASELINE_PRESET, all_presets, get_preset
from explorer.fmt import si, text_table
from explorer.measure.latency import measure, measure_module
from explorer.measure.quality import is_trusted
from explorer.model.build import build_model

NO_SKIP = "SM_V2 (no skips)"
CLAIMS = [  # (label, numerator preset, denominator preset, the paper's CPU ratio, the paper's GPU ratio)
    ("SM_V2 / MobileNet V2", "SM_V2", "MobileNet V2", 0.70, 0.69),
    ("SM_V2_x2nr / SM_V2", "SM_V2_x2nr", "SM_V2", 1.07, 0.96),
    ("SM_V2 without skips / SM_V2", NO_SKIP, "SM_V2", None, None),  # same MACs: isolates what the adds cost
]
STABILITY_REPEATS = 5  # back-to-back measurements of MobileNet V2 for the run-to-run spread
REFERENCE_ORDER = ("ours", "reference", "reference", "ours", "ours", "reference")  # ABBA..: a drift hits both
REFERENCE_TOLERANCE = 0.05  # ours / reference within 5 %: the builder adds no overhead
NOISY_MARK = " *"


# -- an independent MobileNetV2 from the paper's Table 1, in torchvision's style, not via explorer.model.build --
class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride: int = 1, groups: int = 1):
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = cin * expand_ratio
        self.use_res_connect = stride == 1 and cin == cout
        layers = [] if expand_ratio == 1 else [ConvBNReLU(cin, hidden, kernel_size=1)]
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class ReferenceMobileNetV2(nn.Module):
    SETTING = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ]

    def __init__(self, num_classes: int = 100):
        super().__init__()
        features, cin = [ConvBNReLU(3, 32, stride=2)], 32
        for t, c, n, s in self.SETTING:
            for i in range(n):
                features.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        features.append(ConvBNReLU(cin, 1280, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.classifier(x)


def same_weights(ours: nn.Module, ref: nn.Module) -> None:
    """Copy our weights into the reference (same tensors in the same order), so both compute one function."""
    src, dst = list(ours.state_dict().values()), ref.state_dict()
    assert [t.shape for t in src] == [t.shape for t in dst.values()], "the two MobileNetV2s differ in structure"
    ref.load_state_dict(dict(zip(dst.keys(), src, strict=True)))


# -- measuring -------------------------------------------------------------------------------------------
def designs():
    sm = get_preset("SM_V2")
    return all_presets() + [sm.with_skips(False).with_changes(name=NO_SKIP, meta={})]


def targets(args) -> list[tuple[str, str]]:
    out = []
    if args.device in ("all", "cpu"):
        out += [("torch", "cpu")] + ([] if args.no_onnx else [("onnxruntime", "cpu")])
    if args.device in ("all", "cuda") and torch.cuda.is_available():
        import onnxruntime

        out.append(("torch", "cuda"))
        if not args.no_onnx and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            out.append(("onnxruntime", "cuda"))
    if not out:
        raise SystemExit("nothing to measure: --device cuda asked, but torch sees no GPU here")
    return out


def trusted(result) -> bool:
    return is_trusted({"quality": result.quality})


def measure_presets(args, tgts) -> dict:
    runs: dict[tuple[str, str, str], list] = {}
    for r in range(args.rounds):
        for d in designs():
            for backend, device in tgts:
                res = measure(d, backend=backend, device=device, threads=args.threads, budget_s=args.budget)
                runs.setdefault((d.name, backend, device), []).append(res)
        load = os.getloadavg()[0]
        print(f"  round {r + 1}/{args.rounds} done ({time.strftime('%H:%M:%S')}, load average {load:.2f})", flush=True)
    out = {}
    for k, v in runs.items():
        if args.stat == "min":
            best = min(v, key=lambda r: r.median_ms)
            out[k] = (best.median_ms, best.iqr_ms, v)
        else:
            out[k] = (statistics.median(r.median_ms for r in v), statistics.median(r.iqr_ms for r in v), v)
    noisy = sum(not trusted(r) for v in runs.values() for r in v)
    print(f"  {noisy} of {sum(len(v) for v in runs.values())} measurements judged noisy (explorer.measure.quality)")
    return out


def mark(results) -> str:
    """A star where any measurement behind a figure was judged noisy."""
    return "" if all(trusted(r) for r in results) else NOISY_MARK


def col(backend: str, device: str) -> str:
    return f"{'ORT' if backend == 'onnxruntime' else 'torch'} {device}"


def print_presets(res, tgts) -> None:
    base = get_preset(BASELINE_PRESET)
    paper_base = base.meta["paper"]
    rows = []
    for d in designs():
        c, p = compute_cost(d), d.meta.get("paper", {})
        row = {"preset": d.name, "params": si(c.params), "MACs": si(c.macs)}
        for b, dev in tgts:
            ms, iqr, results = res[(d.name, b, dev)]
            row[f"{col(b, dev)} ms"] = f"{ms:.2f} ±{iqr:.2f}{mark(results)}"
            row[f"{col(b, dev)} /MV2"] = f"{ms / res[(base.name, b, dev)][0]:.2f}"
            row[f"{col(b, dev)} us/MMAC"] = f"{ms * 1e3 / (c.macs / 1e6):.1f}"
        row["paper CPU /MV2"] = f"{p['cpu_ms'] / paper_base['cpu_ms']:.2f}" if p.get("cpu_ms") else None
        row["paper GPU /MV2"] = f"{p['gpu_ms'] / paper_base['gpu_ms']:.2f}" if p.get("gpu_ms") else None
        rows.append(row)
    print(text_table(rows, list(rows[0])))
    print("ms: a measurement's median (± its IQR), the median or the lowest over the rounds (--stat); /MV2: ratio")
    print("to MobileNet V2 on the same backend; us/MMAC: microseconds per million MACs. paper: Tables 3-4")
    print("(TensorFlow, 3.4 GHz quad-core CPU, GTX 1060). *: at least one of the rounds' measurements was judged")
    print("noisy; the figure is shown, but do not quote it.")


def print_claims(res, tgts) -> None:
    rows = []
    for label, num, den, cpu, gpu in CLAIMS:
        row = {"ratio": label, "paper CPU": cpu and f"{cpu:.2f}", "paper GPU": gpu and f"{gpu:.2f}"}
        for b, dev in tgts:
            (n_ms, _, n_res), (d_ms, _, d_res) = res[(num, b, dev)], res[(den, b, dev)]
            row[f"{col(b, dev)}"] = f"{n_ms / d_ms:.2f}{mark(n_res + d_res)}"
        rows.append(row)
    print(text_table(rows, list(rows[0])))


def stability(args, tgts) -> None:
    d, rows = get_preset(BASELINE_PRESET), []
    for b, dev in tgts:
        results = [
            measure(d, backend=b, device=dev, threads=args.threads, budget_s=args.budget)
            for _ in range(STABILITY_REPEATS)
        ]
        meds = [r.median_ms for r in results]
        mean = statistics.mean(meds)
        rows.append(
            {
                "backend": col(b, dev),
                "medians ms": " ".join(f"{r.median_ms:.2f}{'' if trusted(r) else '*'}" for r in results),
                "mean ms": f"{mean:.2f}",
                "CV": f"{statistics.stdev(meds) / mean * 100:.1f}%{mark(results)}",
            }
        )
    print(text_table(rows, list(rows[0])))
    print(
        f"{STABILITY_REPEATS} back-to-back measurements of MobileNet V2; CV = standard deviation / mean of their "
        "medians; *: judged noisy."
    )


def reference_check(args, device: str) -> None:
    design = get_preset(BASELINE_PRESET)
    ours, ref = build_model(design).eval(), ReferenceMobileNetV2(design.num_classes).eval()
    same_weights(ours, ref)
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        max_diff = (ours(x) - ref(x)).abs().max().item()
    kw = dict(device=device, threads=args.threads, budget_s=args.budget)
    n_ours, n_ref = (sum(p.numel() for p in m.parameters()) for m in (ours, ref))
    times = {"ours": [], "reference": []}
    results = []
    for name in REFERENCE_ORDER:
        m = ours if name == "ours" else ref
        results.append(measure_module(m, name, **kw))
        times[name].append(results[-1].median_ms)
    o, r = statistics.median(times["ours"]), statistics.median(times["reference"])
    within = "within" if abs(o / r - 1) <= REFERENCE_TOLERANCE else "NOT within"
    print(f"params: ours {n_ours:,}, reference {n_ref:,}; same weights, outputs differ by at most {max_diff:.2e}")
    print(f"torch {device} median of 3 alternating measurements each: ours {o:.3f} ms, reference {r:.3f} ms")
    print(f"ours / reference = {o / r:.3f}{mark(results)}  ({within} {REFERENCE_TOLERANCE:.0%})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=2.0, help="timed seconds per measurement (default 2)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over all presets (default 3)")
    ap.add_argument("--threads", type=int, default=None, help="threads (default: all physical cores)")
    ap.add_argument("--no-onnx", action="store_true", help="torch only")
    ap.add_argument(
        "--stat",
        choices=("median", "min"),
        default="median",
        help="per preset, the median (default) or the lowest of the rounds' medians; min resists a "
        "shared machine's bursts of load",
    )
    ap.add_argument(
        "--device",
        choices=("all", "cpu", "cuda"),
        default="all",
        help="all: CPU, plus CUDA when torch sees a GPU (default); cuda: the GPU only",
    )
    args = ap.parse_args()
    tgts, start = targets(args), time.time()
    print(header("# The paper's latency claims, measured on this host"))
    print(
        f"threads: {args.threads or 'all physical cores'}; budget {args.budget} s x {args.rounds} rounds, "
        f"{args.stat} of the rounds"
    )
    print("\n== every preset ==", flush=True)
    res = measure_presets(args, tgts)
    print_presets(res, tgts)
    print("\n== the paper's claims (latency ratios) ==")
    print_claims(res, tgts)
    print("\n== run-to-run stability ==", flush=True)
    stability(args, tgts)
    print("\n== independent reference: the builder adds no overhead ==", flush=True)
    reference_check(args, tgts[0][1])
    print("\n" + footer(start))


if __name__ == "__main__":
    main()
