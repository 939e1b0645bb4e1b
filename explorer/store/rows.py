"""What a stored row must hold before anything reads it: latency, accuracy and latency-profile rows.

A store is a file on disk: an old version, a hand edit or a damaged page can leave a row with a missing key,
a string where a number belongs, or a NaN, infinite or negative time. Such a row is never handed on (it would
end as a KeyError in a page, or as `nan ms` / `-73 ms` in a prediction): the store skips and counts it.
The checks are option declarations (explorer.options), the same typed layer as every user-set value.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..options import Option


def _required(name: str, kind: type, **bounds: Any) -> Option:
    return Option(name, kind, **bounds)


def _optional(name: str, kind: type, **bounds: Any) -> Option:
    return Option(name, kind, optional=True, **bounds)


POSITIVE = {"lo": 0, "lo_open": True}
NOT_NEGATIVE = {"lo": 0}
COUNT = {"lo": 1}
# A time no measurement of a network the bounds allow can take: a stored 1e308 ms is damage, not a slow host.
TIME_MS = {"lo": 0, "hi": 3_600_000.0, "why_hi": "(an hour)"}
# A latency coefficient is ms per GFLOP, per MB or per launch: 1e6 is a machine doing a kFLOP per second. A
# profile whose every coefficient is below MIN_USEFUL_COEFFICIENT predicts 0.00 ms for any network.
MAX_COEFFICIENT = 1e6
MIN_USEFUL_COEFFICIENT = 1e-9
MAX_BAND_PCT = 1000.0  # a prediction band wider than 10x the prediction says nothing

LATENCY_FIELDS = (
    _required("backend", str),
    _required("device", str),
    _required("batch", int, **COUNT),
    _required("threads", int, **COUNT),
    _required("input_size", int, **COUNT),
    _required("median_ms", float, **TIME_MS),
    _optional("iqr_ms", float, **TIME_MS),
    _optional("p10_ms", float, **TIME_MS),
    _optional("p25_ms", float, **TIME_MS),
    _optional("p75_ms", float, **TIME_MS),
    _optional("p90_ms", float, **TIME_MS),
    _optional("per_image_ms", float, **TIME_MS),
    _optional("runs", int, **NOT_NEGATIVE),
    _optional("timestamp", str),
    _optional("device_name", str),
)
ACCURACY_FIELDS = (
    _required("top1", float, lo=0, hi=100),
    _optional("top5", float, lo=0, hi=100),
    _optional("top_k_accuracy", float, lo=0, hi=100),
    _optional("images", int, **NOT_NEGATIVE),
    _optional("minutes", float, **NOT_NEGATIVE),
    _optional("img_size", int, **COUNT),
    _optional("steps", int, **NOT_NEGATIVE),
    _optional("num_classes", int, **COUNT),
    _optional("label", str),
    _optional("dataset", str),
    _optional("dataset_name", str),
    _optional("timestamp", str),
)
PROFILE_KEY_FIELDS = (
    _required("backend", str),
    _required("device", str),
    _required("threads", int, **COUNT),
    _required("batch", int, **COUNT),
)
PROFILE_FIELDS = (
    _optional("band_pct", float, lo=0, hi=MAX_BAND_PCT),
    _optional("created", str),
    _optional("key_hash", str),
)


def _field_problems(row: dict, fields: tuple[Option, ...]) -> list[str]:
    out = []
    for o in fields:
        if o.name not in row:
            if not o.optional:
                out.append(f"no {o.name}")
            continue
        line = o.message(row[o.name])
        if line:
            out.append(line)
    return out


def _coefficients_problem(value: Any, name: str, required: tuple[str, ...]) -> str | None:
    """A dict of name -> plausible non-negative number (a negative coefficient predicts negative time, an
    enormous one an absurd time, all-zero ones no time at all), holding every `required` name."""
    if not isinstance(value, dict) or not value:
        return f"{name} must be a non-empty object"
    for k, v in value.items():
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
            return f"{name}[{k!r}] must be a finite number of at least 0"
        if v > MAX_COEFFICIENT:
            return f"{name}[{k!r}] must be at most {MAX_COEFFICIENT:g}, got {v:.3g}"
    if missing := [k for k in required if k not in value]:
        return f"{name} lacks {', '.join(map(repr, missing[:3]))}"
    if max(value.values()) < MIN_USEFUL_COEFFICIENT:
        return f"{name} are all below {MIN_USEFUL_COEFFICIENT:g}: it would predict no time for any network"
    return None


def _quality_problem(q: Any) -> str | None:
    if q is None:
        return None
    if not isinstance(q, dict):
        return "quality must be an object"
    if "verdict" in q and not isinstance(q["verdict"], str):
        return "quality.verdict must be text"
    reasons = q.get("reasons")
    if reasons is not None and not (isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)):
        return "quality.reasons must be a list of text"
    return None


def _finite_numbers(values: Any) -> bool:
    """A list of finite numbers (or None), checked in C: fsum refuses text and carries a NaN or an infinity
    through to its total, so a stored list of thousands of samples costs microseconds, not a Python loop."""
    if values is None:
        return True
    if not isinstance(values, list):
        return False
    try:
        return math.isfinite(math.fsum(values))
    except (TypeError, OverflowError):  # text or None among them; or finite values whose sum overflows
        return False


def latency_problems(row: dict) -> list[str]:
    """What is wrong with a stored latency result (empty when it can be used)."""
    out = _field_problems(row, LATENCY_FIELDS)
    if not _finite_numbers(row.get("samples_ms", [])):
        out.append("samples_ms must be a list of finite numbers")
    if line := _quality_problem(row.get("quality")):
        out.append(line)
    return out


def accuracy_problems(row: dict) -> list[str]:
    return _field_problems(row, ACCURACY_FIELDS)


def profile_problems(profile: dict, coefficients: tuple[str, ...] = ()) -> list[str]:
    """What is wrong with a stored latency profile: what a prediction reads must be there and be sane.
    `coefficients`: the names the reader's latency model needs (the store does not know the model)."""
    key = profile.get("key")
    if not isinstance(key, dict):
        return ["key must be an object"]
    out = _field_problems(key, PROFILE_KEY_FIELDS)
    host = key.get("host")
    if not isinstance(host, dict) or not isinstance(host.get("cpu"), str):
        out.append("key.host must be an object with the CPU model")
    if not isinstance(key.get("versions"), dict):
        out.append("key.versions must be an object")
    model = profile.get("model")
    if not isinstance(model, dict):
        out.append("model must be an object")
    elif line := _coefficients_problem(model.get("coefficients"), "model.coefficients", tuple(coefficients)):
        out.append(line)
    out += _field_problems(profile, PROFILE_FIELDS)
    if "fitted_on" in profile and not isinstance(profile["fitted_on"], list):
        out.append("fitted_on must be a list")
    if "calibration" in profile and not isinstance(profile["calibration"], (dict, type(None))):
        out.append("calibration must be an object")
    return out
