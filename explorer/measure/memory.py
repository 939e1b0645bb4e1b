"""How much memory a measurement needs, checked before anything is allocated.

A measuring worker holds the interpreter with torch (about WORKER_BASE_BYTES resident), the weights, the input
batch and the activations. Eager torch's peak is several times the cost model's "largest set of tensors alive
at one step" (convolution, batch-norm and activation outputs coexist, and the steady allocator of
explorer.measure.allocator keeps freed blocks for reuse): measured on this project's host (a worker's peak
resident memory), the activations took 3.4-5.8x that figure (SM_V2, MobileNet V1/V2, 64-224 px, batch
16-128), so the estimate uses ACTIVATION_FACTOR. ONNX Runtime adds the exported model and its arena.
tests/test_measure_service.py checks the estimate against a worker's real peak within 1.5x on two designs.
"""

from __future__ import annotations

from ..design.spec import Design
from ..errors import UserError

WORKER_BASE_BYTES = 230 * 2**20  # python + torch + numpy imported, measured in a fresh worker
ACTIVATION_FACTOR = 4.0  # measured peak activations / the cost model's peak_activation_bytes (3.4-5.8 here)
ORT_EXTRA_BYTES = 80 * 2**20  # onnxruntime's session, arena and the exported model's copy
ORT_WEIGHT_COPIES = 3  # the torch weights, the ONNX bytes, the session's initializers
MEMORY_CAP = 64 * 2**30  # never more than this, whatever the host reports
MEMORY_SHARE = 0.8  # of the memory available right now: leave the rest to the app and the system


def estimate_bytes(design: Design, batch: int, backend: str = "torch") -> int:
    """The peak resident memory of a worker measuring `design` at `batch` (its own input size)."""
    from ..design.cost import compute_cost

    cost = compute_cost(design)
    weights = 4 * cost.params
    inputs = 4 * 3 * design.input_size**2 * batch
    need = WORKER_BASE_BYTES + 2 * weights + inputs + ACTIVATION_FACTOR * cost.peak_activation_bytes * batch
    if backend == "onnxruntime":
        need += ORT_EXTRA_BYTES + ORT_WEIGHT_COPIES * weights
    return int(need)


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux); None where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_limit() -> int:
    """What one measurement may use: a share of the memory available now, and never above MEMORY_CAP."""
    avail = available_bytes()
    return MEMORY_CAP if avail is None else min(MEMORY_CAP, int(MEMORY_SHARE * avail))


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def check_memory(design: Design, batch: int, backend: str = "torch", limit: int | None = None) -> int:
    """The estimate, or a one-line UserError with the estimate and the limit when it does not fit."""
    need = estimate_bytes(design, batch, backend)
    limit = memory_limit() if limit is None else limit
    if need > limit:
        raise UserError(
            f"batch {batch} of {design.name} at {design.input_size} px needs about {gib(need)} of memory to measure "
            f"(estimate); the limit here is {gib(limit)} ({MEMORY_SHARE:.0%} of the memory available now): "
            "lower --batch or the input size"
        )
    return need
