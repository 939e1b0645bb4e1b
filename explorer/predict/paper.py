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
TERMS = ("compute", "memory", "overhead")
POOR_FIT_PCT = 15.0
POOR_FIT_NOTE = "; a poor fit (the paper's models do not follow one cost law on its hardware): a rough guide only"


def _totals(design: Design) -> list[float]:
    feats = layer_features(design, 1)
    return [sum(f.flops for f in feats) / 1e9, sum(f.bytes for f in feats) / 1e6, float(len(feats))]


def _fit(rows: list[list[float]], times: list[float]) -> list[float]:
    a = [[v / t for v in row] for row, t in zip(rows, times, strict=True)]
    return [float(x) for x in nnls(a, [1.0] * len(a))]


@lru_cache(maxsize=1)
def paper_fits() -> dict:
    """Per machine: coefficients, the published points and the leave-one-out errors."""
    from ..design.presets import all_presets

    points = [(d, d.meta.get("paper") or {}) for d in all_presets()]
    out = {}
    for machine in ("cpu", "gpu"):
        named = [(d.name, _totals(d), p[f"{machine}_ms"]) for d, p in points if p.get(f"{machine}_ms")]
        rows, times = [r for _, r, _ in named], [t for _, _, t in named]
        loo = []
        for i, (name, row, t) in enumerate(named):
            coef = _fit(rows[:i] + rows[i + 1 :], times[:i] + times[i + 1 :])
            pred = sum(c * v for c, v in zip(coef, row, strict=True))
            loo.append({"name": name, "published_ms": t, "predicted_ms": pred, "error_pct": (pred - t) / t * 100})
        errors = sorted(abs(x["error_pct"]) for x in loo)
        out[machine] = {
            "hardware": HARDWARE[machine],
            "coefficients": dict(zip(("ms_per_gflop", "ms_per_mb", "ms_per_layer"), _fit(rows, times), strict=True)),
            "points": len(named),
            "leave_one_out": loo,
            "loo_error_pct": sum(errors) / len(errors),  # mean absolute
            "loo_worst_pct": errors[-1],
        }
    return out


def paper_hardware_prediction(design: Design) -> dict:
    """{"cpu": {...}, "gpu": {...}}: predicted ms on the paper's machines, its terms, and the fit's LOO error."""
    row = _totals(design)
    out = {}
    for machine, fit in paper_fits().items():
        terms = [c * v for c, v in zip(fit["coefficients"].values(), row, strict=True)]
        out[machine] = {
            "hardware": fit["hardware"],
            "predicted_ms": sum(terms),
            **{f"{t}_ms": v for t, v in zip(TERMS, terms, strict=True)},
            "loo_error_pct": fit["loo_error_pct"],
            "loo_worst_pct": fit["loo_worst_pct"],
            "fitted_on": fit["points"],
            "label": f"{fit['hardware']}: fitted to the paper's {fit['points']} published timings, "
            f"leave-one-out error ±{fit['loo_error_pct']:.0f} % (worst {fit['loo_worst_pct']:.0f} %)"
            + (POOR_FIT_NOTE if fit["loo_error_pct"] > POOR_FIT_PCT else ""),
            "poor_fit": fit["loo_error_pct"] > POOR_FIT_PCT,
        }
    return out
