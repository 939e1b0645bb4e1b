"""Latency model: predict and explain a design's inference time on this host, calibrated in seconds.

    profile = calibrate("torch", "cpu", threads=2, batch=1, seconds=60)   # explorer.predict.calibrate
    ResultStore().add_profile(profile["key"], profile)
    predict(design, profile) -> {"predicted_ms", "band_pct", "layers": [...], "profile": {...}}
    predicted_ms(design, profile) -> float   # the same total, without the per-layer report (search screens this)

Prediction is pure Python over the exact cost model (no torch import): well under a millisecond per design.
"""

from __future__ import annotations

from ..design.spec import Design
from .features import layer_features
from .model import design_row, network_ms, predict_layers

__all__ = ["predict", "predicted_ms", "profile_summary"]


def profile_summary(profile: dict) -> dict:
    """What a prediction says about the profile it came from (without the raw samples)."""
    key = profile["key"]
    return {
        "key_hash": profile.get("key_hash"),
        "created": profile.get("created"),
        "backend": key["backend"],
        "device": key["device"],
        "threads": key["threads"],
        "batch": key["batch"],
        "host": key["host"],
        "versions": key["versions"],
        "roofs": profile.get("roofs"),
        "band_pct": profile.get("band_pct"),
        "cv": profile.get("cv"),
        "quality": profile.get("quality"),
        "fitted_on": len(profile.get("fitted_on", [])),
        "calibration_s": (profile.get("calibration") or {}).get("wall_s"),
    }


def predict(design: Design, profile: dict) -> dict:
    """Predicted latency of `design` under `profile`, split per layer into compute, memory and overhead."""
    batch = int(profile["key"]["batch"])
    layers = predict_layers(profile["model"]["coefficients"], layer_features(design, batch))
    total = sum(ly.predicted_ms for ly in layers)
    return {
        "name": design.name,
        "design_hash": design.network_hash(),
        "predicted_ms": total,
        "band_pct": profile.get("band_pct"),
        "compute_ms": sum(ly.compute_ms for ly in layers),
        "memory_ms": sum(ly.memory_ms for ly in layers),
        "overhead_ms": sum(ly.overhead_ms for ly in layers),
        "layers": [ly.to_dict() for ly in layers],
        "profile": profile_summary(profile),
    }


def predicted_ms(design: Design, profile: dict) -> float:
    """The whole-network prediction without its per-layer report: the same total as predict(), a few times faster."""
    return network_ms(profile["model"]["coefficients"], design_row(design, int(profile["key"]["batch"])))
