"""A calibration profile and the key it is stored under.

A profile is only valid for the conditions it was measured in: this host (CPU model, cores, GPU model),
the backend, device, thread count, batch size and the library versions that ran the network. The key holds
all of them; a prediction asks the store for the latest profile with exactly its key, and refuses (naming
the `calibrate` command to run) when there is none.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from ..errors import UserError
from ..fmt import shell_word
from ..options import BACKEND, BATCH, DEVICE, THREADS

PROFILE_DEVICE = dataclasses.replace(DEVICE, choices=("cpu", "cuda"))  # the latency model has no MPS path
PROFILE_FORMAT = 2  # 2: channel-padding features, host-state probes; a format-1 profile asks for recalibration


def host_fingerprint(device: str) -> dict:
    from ..measure.hostinfo import cpu_model, physical_cores, usable_logical_cores

    gpu = None
    if device == "cuda":
        from ..measure.hostinfo import device_name

        gpu = device_name("cuda")
    return {"cpu": cpu_model(), "physical_cores": physical_cores(), "usable_cores": usable_logical_cores(), "gpu": gpu}


def library_versions(backend: str, device: str) -> dict:
    """Versions of what runs the network, read from package metadata: a prediction never imports torch."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    v = {"torch": installed("torch")}
    if backend == "onnxruntime":
        v["onnxruntime"] = installed("onnxruntime") or installed("onnxruntime-gpu")
    if device == "cuda":
        from ..measure.hostinfo import versions

        v.update({k: versions(backend, device).get(k) for k in ("cuda", "cudnn")})
    return v


def check_target(backend: str, device: str, threads: int, batch: int) -> None:
    """One-line errors for a target that cannot be calibrated or predicted here (ranges: explorer.options)."""
    BACKEND.check(backend)
    PROFILE_DEVICE.check(device)
    if threads is None:
        raise UserError("threads must be given for a latency profile (resolve the default first)")
    THREADS.check(threads)
    BATCH.check(batch)
    if device == "cuda":
        from ..measure.latency import check_device

        check_device(backend, device)  # says "CUDA requested but ... not available" on a CPU host


def profile_key(backend: str, device: str, threads: int, batch: int) -> dict:
    check_target(backend, device, threads, batch)
    return {
        "host": host_fingerprint(device),
        "backend": backend,
        "device": device,
        "threads": threads,
        "batch": batch,
        "versions": library_versions(backend, device),
        "format": PROFILE_FORMAT,
    }


def key_hash(key: dict) -> str:
    blob = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def calibrate_command(backend: str, device: str, threads: int, batch: int) -> str:
    words = ("--backend", backend, "--device", device, "--threads", threads, "--batch", batch)
    return "python -m explorer calibrate " + " ".join(shell_word(w) for w in words)


class MissingProfile(UserError):
    """No profile for this host/backend/device/threads/batch/versions: calibrate first."""


def missing_profile(backend: str, device: str, threads: int, batch: int) -> MissingProfile:
    return MissingProfile(
        f"no latency profile for {backend} on {device}, {threads} threads, batch {batch} on this host; "
        f"run: {calibrate_command(backend, device, threads, batch)}"
    )
