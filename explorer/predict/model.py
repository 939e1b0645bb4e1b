"""The fitted latency model: each layer's time = compute + memory + overhead, fitted on whole networks.

    compute  = GFLOP x (ms per GFLOP of the layer's group)
    memory   = MB moved x (ms per MB of the group)
    overhead = launches x (ms per launch of the group)

The layer's `bound` is its largest term. The coefficients are fitted to whole networks measured in fresh
processes (as `bench` measures), not to isolated layers: isolated layers summed to ~30 % less than the
network on this project's host (caches, thread wake-ups, fusion), and fitting whole networks puts that gap
into the coefficients. The fit is non-negative least squares on relative error (every network counts the
same, whatever its size), pulled gently towards a roofline prior (1 / measured peak FLOP/s, 1 / measured
bandwidth and a per-launch cost, scaled as a whole to the measured networks), which keeps it sane when a
tiny calibration budget yields only a few networks.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from .features import (
    PARAMETER_NAMES,
    PARAMETER_TERM,
    PARAMETERS,
    TERMS,
    LayerFeatures,
    feature_matrix_row,
    layer_features,
)

PRIOR_WEIGHT = 0.05  # how hard the roofline prior pulls, relative to one network's relative error
# Prior per-operator cost, before any fit: eager torch dispatches each conv, BN and activation from Python;
# ONNX Runtime runs a fused graph. Another backend gets torch's, the cautious guess.
DEFAULT_LAUNCH_MS = {"torch": 0.02, "onnxruntime": 0.005}
TINY_MS = 1e-12  # floor for a predicted time we divide by: a network predicted at 0 ms must not divide by zero
NNLS_TOLERANCE = 1e-12  # the largest gradient still taken for "no coefficient can lower the error"
NNLS_ZERO = 1e-15  # a coefficient this small after a step is zero: it leaves the passive set
MIN_TYPICAL_FEATURE = 1e-9  # a feature no network uses still gets a (tiny) prior row, so its coefficient is pinned
# One-sided trimming of networks timed in a slow window of the shared host (see fit()).
TRIM_EXCESS = 0.12  # measured more than 12 % slower than the first fit predicts
TRIM_SHARE = 0.2  # never more than a fifth of the networks
TRIM_ROUNDS = 2
MIN_ROWS_TO_TRIM = 10
# Costs the roofline cannot see (skinny and padded matrix products): no prior belief, only the data can show them.
PENALTY_PARAMETERS = ("pw.gflop_narrow", "pw.gflop_pad", "dw.gflop_pad")


@dataclass(frozen=True)
class LayerPrediction:
    name: str
    kind: str
    compute_ms: float
    memory_ms: float
    overhead_ms: float
    flops: int
    bytes: int

    @property
    def predicted_ms(self) -> float:
        return self.compute_ms + self.memory_ms + self.overhead_ms

    @property
    def bound(self) -> str:
        terms = {"compute": self.compute_ms, "memory": self.memory_ms, "overhead": self.overhead_ms}
        return max(TERMS, key=lambda t: terms[t])  # ties resolve in TERMS order: deterministic

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "predicted_ms": self.predicted_ms,
            "bound": self.bound,
            "compute_ms": self.compute_ms,
            "memory_ms": self.memory_ms,
            "overhead_ms": self.overhead_ms,
            "flops": self.flops,
            "bytes": self.bytes,
        }


def network_ms(coefficients: dict[str, float], row: list[float]) -> float:
    """A whole network's predicted time: its features summed per parameter (design_row) times the coefficients.

    The same number as the sum of predict_layers, without the per-layer split; a coefficient the profile lacks
    counts as zero, as it does there.
    """
    return sum(float(coefficients.get(name, 0.0)) * value for name, value in zip(PARAMETER_NAMES, row, strict=True))


def predict_layers(coefficients: dict[str, float], features: list[LayerFeatures]) -> list[LayerPrediction]:
    """Each layer's time, split into its compute, memory and overhead terms."""
    out = []
    for f in features:
        terms = {"compute": 0.0, "memory": 0.0, "overhead": 0.0}
        for name, value in f.values:
            terms[PARAMETER_TERM[name]] += float(coefficients.get(name, 0.0)) * value
        out.append(
            LayerPrediction(f.name, f.kind, terms["compute"], terms["memory"], terms["overhead"], f.flops, f.bytes)
        )
    return out


def prior_coefficients(peak_gflops: float, bandwidth_gbs: float, backend: str) -> dict[str, float]:
    """The roofline's guess before any network is measured: every group at the host's peak and bandwidth."""
    out = {}
    for name, term in PARAMETERS:
        if name in PENALTY_PARAMETERS:
            out[name] = 0.0
        elif term == "compute":
            out[name] = 1000.0 / peak_gflops  # ms per GFLOP
        elif term == "memory":
            out[name] = 1.0 / bandwidth_gbs  # ms per MB (1 GB/s = 1 MB/ms)
        else:
            out[name] = DEFAULT_LAUNCH_MS.get(backend, DEFAULT_LAUNCH_MS["torch"])
    return out


def nnls(a: list[list[float]], b: list[float], max_iter: int = 500):
    """Lawson-Hanson non-negative least squares: argmin ||a x - b|| subject to x >= 0 (numpy only)."""
    import numpy as np

    a, b = np.asarray(a, float), np.asarray(b, float)
    m, n = a.shape
    x = np.zeros(n)
    passive = np.zeros(n, bool)
    w = a.T @ (b - a @ x)
    for _ in range(max_iter):
        if passive.all() or w[~passive].max(initial=-np.inf) <= NNLS_TOLERANCE:
            break
        j = int(np.argmax(np.where(passive, -np.inf, w)))
        passive[j] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            neg = passive & (z <= 0)
            alpha = np.min(x[neg] / (x[neg] - z[neg]))
            x = x + alpha * (z - x)
            passive &= x > NNLS_ZERO
            x[~passive] = 0.0
        w = a.T @ (b - a @ x)
    return x


def fit(rows: list[list[float]], times_ms: list[float], prior: dict[str, float]) -> dict[str, float]:
    """Coefficients minimizing the relative error of whole-network predictions, near the prior (see fit_trimmed)."""
    return fit_trimmed(rows, times_ms, prior)[0]


def fit_trimmed(
    rows: list[list[float]], times_ms: list[float], prior: dict[str, float]
) -> tuple[dict[str, float], list[int]]:
    """The coefficients, and the indices of the networks set aside as measured in a slow window.

    Interference only ever adds time: a network timed during one of the shared host's slow windows reads slow,
    never fast. So networks measured far slower than a first fit predicts are set aside, one-sidedly, and the
    model is fitted again on the rest (at most TRIM_SHARE of them, the slowest first).
    """
    set_aside: list[int] = []
    coefficients = _fit_once(rows, times_ms, prior)
    for _ in range(TRIM_ROUNDS):
        if len(rows) < MIN_ROWS_TO_TRIM:
            break
        kept = [i for i in range(len(rows)) if i not in set_aside]
        excess = {i: times_ms[i] / max(network_ms(coefficients, rows[i]), TINY_MS) - 1 for i in kept}
        slow = sorted((i for i in kept if excess[i] > TRIM_EXCESS), key=lambda i: -excess[i])
        slow = slow[: max(0, int(TRIM_SHARE * len(rows)) - len(set_aside))]
        if not slow:
            break
        set_aside += slow
        kept = [i for i in kept if i not in slow]
        coefficients = _fit_once([rows[i] for i in kept], [times_ms[i] for i in kept], prior)
    return coefficients, sorted(set_aside)


def _fit_once(rows: list[list[float]], times_ms: list[float], prior: dict[str, float]) -> dict[str, float]:
    import numpy as np

    x0 = np.array([prior[name] for name in PARAMETER_NAMES])
    if rows:  # first scale the whole prior to the measurements: with few networks, its shape is all we trust
        ratios = [t / max(network_ms(prior, row), TINY_MS) for row, t in zip(rows, times_ms, strict=True)]
        x0 = x0 * statistics.median_high(ratios)  # the upper middle one: a measured ratio, never an average
    a = [[v / t for v in row] for row, t in zip(rows, times_ms, strict=True)]
    b = [1.0] * len(a)
    # Prior rows in relative terms: coefficient i scaled by its typical share of a network's time.
    typical = np.mean(np.asarray(rows, float), axis=0) if rows else np.ones(len(x0))
    mean_t = float(np.mean(times_ms)) if times_ms else 1.0
    for i in range(len(x0)):
        scale = math.sqrt(PRIOR_WEIGHT) * max(typical[i], MIN_TYPICAL_FEATURE) / mean_t
        row = [0.0] * len(x0)
        row[i] = scale
        a.append(row)
        b.append(scale * x0[i])
    x = nnls(a, b)
    return {name: float(v) for name, v in zip(PARAMETER_NAMES, x, strict=True)}


def design_row(design, batch: int = 1) -> list[float]:
    """The design's features summed per parameter, in PARAMETER_NAMES order: one row of the fit."""
    return feature_matrix_row(layer_features(design, batch))
