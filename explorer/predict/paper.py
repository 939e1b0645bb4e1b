"""The paper's hardware (a quad-core 3.4 GHz CPU and a GTX 1060), fitted to its published timings.

Tables 3-4 give whole-network times of the paper's models on both machines; seven of them are presets here
(ShuffleNet V2, the eighth, is not expressible as a bottleneck table). With seven numbers per machine only the
model's global parameters can be fitted: ms per GFLOP (compute), ms per MB moved (memory) and ms per layer
(overhead), by non-negative least squares on relative error, so every prediction still splits into the same
three terms. The leave-one-out error (fit on six, predict the seventh) is reported with every prediction.
"""

from __future__ import annotations

from functools import lru_cache

from ..design.spec import Design
from .features import layer_features
from .model import nnls

HARDWARE = {"cpu": "the paper's CPU (3.4 GHz quad-core, TensorFlow)", "gpu": "the paper's GPU (GTX 1060, TensorFlow)"}
# One global coefficient per term: seven published times per machine cannot pin down more.
TERMS = ("compute", "memory", "overhead")
COEFFICIENTS = ("ms_per_gflop", "ms_per_mb", "ms_per_layer")
# A mean leave-one-out error above this means the paper's models do not follow one cost law on that hardware.
POOR_FIT_PCT = 15.0
POOR_FIT_NOTE = "; a poor fit (the paper's models do not follow one cost law on its hardware): a rough guide only"


def network_totals(design: Design) -> list[float]:
    """GFLOP, MB moved and layer count of the whole network at batch 1: the three features, in TERMS order."""
    feats = layer_features(design, 1)
    return [sum(f.flops for f in feats) / 1e9, sum(f.bytes for f in feats) / 1e6, float(len(feats))]


def term_ms(coefficients: dict[str, float], totals: list[float]) -> list[float]:
    """Milliseconds per term (compute, memory, overhead): each total times its coefficient."""
    return [coefficients[name] * value for name, value in zip(COEFFICIENTS, totals, strict=True)]


def fit_totals(rows: list[list[float]], times_ms: list[float]) -> dict[str, float]:
    """Non-negative coefficients minimizing the relative error over the published times (every model counts the
    same, whatever its size)."""
    a = [[v / t for v in row] for row, t in zip(rows, times_ms, strict=True)]
    return dict(zip(COEFFICIENTS, (float(x) for x in nnls(a, [1.0] * len(a))), strict=True))


def leave_one_out(named: list[tuple[str, list[float], float]]) -> list[dict]:
    """For each (name, totals, published ms): its prediction by a fit on all the others, and that error in %."""
    out = []
    for i, (name, totals, published) in enumerate(named):
        others = named[:i] + named[i + 1 :]
        held_out = fit_totals([row for _, row, _ in others], [t for _, _, t in others])
        pred = sum(term_ms(held_out, totals))
        out.append(
            {"name": name, "published_ms": published, "predicted_ms": pred, "error_pct": (pred / published - 1) * 100}
        )
    return out


@lru_cache(maxsize=1)
def paper_fits() -> dict:
    """Per machine: coefficients, the published points and the leave-one-out errors."""
    from ..design.presets import all_presets

    points = [(d, d.meta.get("paper") or {}) for d in all_presets()]
    out = {}
    for machine in ("cpu", "gpu"):
        named = [(d.name, network_totals(d), p[f"{machine}_ms"]) for d, p in points if p.get(f"{machine}_ms")]
        loo = leave_one_out(named)
        errors = sorted(abs(x["error_pct"]) for x in loo)
        out[machine] = {
            "hardware": HARDWARE[machine],
            "coefficients": fit_totals([row for _, row, _ in named], [t for _, _, t in named]),
            "points": len(named),
            "leave_one_out": loo,
            "loo_error_pct": sum(errors) / len(errors),  # mean absolute
            "loo_worst_pct": errors[-1],
        }
    return out


def paper_hardware_prediction(design: Design) -> dict:
    """{"cpu": {...}, "gpu": {...}}: predicted ms on the paper's machines, its terms, and the fit's LOO error."""
    totals = network_totals(design)
    out = {}
    for machine, fit in paper_fits().items():
        terms = term_ms(fit["coefficients"], totals)
        poor = fit["loo_error_pct"] > POOR_FIT_PCT
        out[machine] = {
            "hardware": fit["hardware"],
            "predicted_ms": sum(terms),
            **{f"{t}_ms": v for t, v in zip(TERMS, terms, strict=True)},
            "loo_error_pct": fit["loo_error_pct"],
            "loo_worst_pct": fit["loo_worst_pct"],
            "fitted_on": fit["points"],
            "label": f"{fit['hardware']}: fitted to the paper's {fit['points']} published timings, "
            f"leave-one-out error ±{fit['loo_error_pct']:.0f} % (worst {fit['loo_worst_pct']:.0f} %)"
            + (POOR_FIT_NOTE if poor else ""),
            "poor_fit": poor,
        }
    return out
