"""Where a scatter point's coordinates come from, said on the point: the paper's tables and hardware, this
host's measurement (backend, device, threads, spread, quality verdict), or a fine-tune.

Chart points are plain dicts; this module makes the paper's into points and writes the labels and hover
lines that name each source, so the figures never have to guess.
"""

from __future__ import annotations

from collections import defaultdict

from ..measure import quality
from .style import finite, ms

PAPER_GPU, PAPER_CPU = "paper, GTX 1060", "paper, 3.4 GHz CPU"
PAPER_FLOPS = " (paper's own FLOPs count)"
PAPER_DATASET = "ImageNet100, 100 classes"  # what the paper's (and so the presets') top-1 was measured on


def paper_points_from_presets(presets: list, device: str = "gpu") -> list[dict]:
    """Tables 3/4 of the paper as chart points: every preset with paper numbers, plus Table 3's ShuffleNet V2."""
    from ..design.presets import paper_reference

    if device not in ("gpu", "cpu"):
        raise ValueError(f"device must be 'gpu' or 'cpu', not {device!r}")
    ref = paper_reference()
    rows = [(d.name, d.meta.get("paper") or {}) for d in presets]
    rows += [(r["name"], {**r, "hardware": ref["hardware"], "table": "Table 3"}) for r in ref["table3"]]
    return [
        dict(
            name=name,
            accuracy=p["accuracy_top1"],
            latency_ms=p[f"{device}_ms"],
            flops_m=p.get("flops_m"),
            params_m=p.get("params_m"),
            hardware=p.get("hardware", ""),
            table=p.get("table", ""),
            series=PAPER_GPU if device == "gpu" else PAPER_CPU,
        )
        for name, p in rows
        if p.get("accuracy_top1") is not None and p.get(f"{device}_ms") is not None
    ]


def reference_points_from_paper(device: str = "gpu") -> list[dict]:
    """Table 2's ImageNet-1k CNNs (one-card GPU or CPU time, per image during training)."""
    from ..design.presets import paper_reference

    key, hw = ("gpu1_ms", "GTX 1060") if device == "gpu" else ("cpu_ms", "3.4 GHz CPU")
    return [
        dict(
            name=r["name"],
            accuracy=r["accuracy_top1"],
            latency_ms=r[key],
            flops_m=r["flops_m"],
            params_m=r["params_m"],
            series=f"paper Table 2, ImageNet-1k accuracy ({hw})",
        )
        for r in paper_reference()["table2"]
    ]


def measured_label(p: dict, split_runs: bool = False) -> str:
    label = f"measured on {p.get('host') or 'unknown host'} ({p.get('backend', '?')}, {p.get('device', '?')})"
    return label + f", batch {p.get('batch', '?')}, {p.get('threads', '?')} threads" if split_runs else label


def measured_labels(points: list[dict]) -> list[str]:
    """One series per host/backend/device; split by batch and threads only when they differ within it."""
    runs = defaultdict(set)
    for p in points:
        runs[measured_label(p)].add((p.get("batch"), p.get("threads")))
    return [measured_label(p, len(runs[measured_label(p)]) > 1) for p in points]


def spread(p: dict) -> tuple[float, float] | None:
    """(p25, p75) of a measured point, per image; None for results stored without them."""
    lo, hi = p.get("p25_ms"), p.get("p75_ms")
    if finite(lo, hi) and 0 < lo <= p["latency_ms"] <= hi:
        return lo, hi
    return None


def quality_hover(p: dict) -> str:
    if p.get("trusted", True):
        return ""
    why = "; ".join(p.get("reasons") or []) or "not judged"
    return f"<br><b>not trusted ({p.get('verdict', 'unchecked')}): {why}</b> (hollow; left out of fronts and fits)"


def with_quality(point: dict, result: dict | None) -> dict:
    """A chart point with the verdict of the latency result it came from (see explorer.measure.quality)."""
    return {
        **point,
        "verdict": quality.verdict(result),
        "trusted": quality.is_trusted(result),
        "reasons": quality.reasons(result),
    }


def latency_hover(p: dict) -> tuple[str, dict]:
    """'latency: … per image, median (p25–p75 …)' and the x extents of its error bar."""
    sp = spread(p)
    text = f"latency: {ms(p['latency_ms'])} per image, median of runs measured here"
    if sp:
        return text + f" (p25–p75 {ms(sp[0])}–{ms(sp[1])})", dict(xlo=sp[0], xhi=sp[1])
    return text + " (spread not stored)", {}
