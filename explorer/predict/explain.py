"""Why two designs' times differ when their FLOPs say otherwise: the model's prediction, split by layer type
and by term, in one sentence (for the FLOPs-vs-latency chart and the Classroom's "FLOPs are not time" step)."""

from __future__ import annotations

from .features import TERMS

STEM, POINTWISE, DEPTHWISE, ADDS, HEAD = (
    "stem conv",
    "1×1 convs",
    "depthwise convs",
    "residual adds",
    "pool + classifier",
)
LAYER_TYPES = (STEM, POINTWISE, DEPTHWISE, ADDS, HEAD)
TYPE_OF_KIND = {"conv": POINTWISE, "dwconv": DEPTHWISE, "add": ADDS, "pool": HEAD, "linear": HEAD}


def layer_type(layer: dict) -> str:
    """The layer type a predicted layer (predict()["layers"]) is summed under; the stem is the one conv apart."""
    return STEM if layer["name"] == "stem" else TYPE_OF_KIND[layer["kind"]]


def _by_type(prediction: dict) -> dict[str, dict]:
    """Milliseconds, FLOPs and each term's milliseconds, summed per layer type."""
    out = {t: {"ms": 0.0, "flops": 0, "compute_ms": 0.0, "memory_ms": 0.0, "overhead_ms": 0.0} for t in LAYER_TYPES}
    for ly in prediction["layers"]:
        row = out[layer_type(ly)]
        row["ms"] += ly["predicted_ms"]
        row["flops"] += ly["flops"]
        for term in TERMS:
            row[f"{term}_ms"] += ly[f"{term}_ms"]
    return out


def explain_gap(base: dict, other: dict) -> dict:
    """Compare two predictions (explorer.predict.predict): ratios, per layer type and per term, and a sentence."""
    a, b = _by_type(base), _by_type(other)
    flops_a = sum(ly["flops"] for ly in base["layers"])
    flops_b = sum(ly["flops"] for ly in other["layers"])
    rows = []
    for t in LAYER_TYPES:
        delta = b[t]["ms"] - a[t]["ms"]
        terms = {term: b[t][f"{term}_ms"] - a[t][f"{term}_ms"] for term in TERMS}
        rows.append(
            {
                "type": t,
                "base_ms": a[t]["ms"],
                "other_ms": b[t]["ms"],
                "delta_ms": delta,
                "base_flops": a[t]["flops"],
                "other_flops": b[t]["flops"],
                "main_term": max(TERMS, key=lambda k: abs(terms[k])),
                "term_delta_ms": terms,
            }
        )
    flops_ratio = flops_b / flops_a if flops_a else float("nan")
    time_ratio = other["predicted_ms"] / base["predicted_ms"] if base["predicted_ms"] else float("nan")
    biggest = sorted(rows, key=lambda r: -abs(r["delta_ms"]))[:2]
    parts = [f"{r['type']} {r['delta_ms']:+.2f} ms (mostly {r['main_term']})" for r in biggest if r["delta_ms"]]
    sentence = (
        f"{other.get('name', 'this design')} has {flops_ratio:.2f}× the FLOPs of {base.get('name', 'the baseline')} "
        f"and is predicted at {time_ratio:.2f}× its time" + (": " + ", ".join(parts) + "." if parts else ".")
    )
    return {"flops_ratio": flops_ratio, "time_ratio": time_ratio, "by_type": rows, "sentence": sentence}
