"""What this host is: CPU model, physical cores, devices, library versions. Reported with every measurement,
because a latency means nothing without the machine it was measured on."""

from __future__ import annotations

import os
import platform


def available_devices() -> list[str]:
    import torch

    devs = ["cpu"]
    if torch.cuda.is_available():
        devs.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devs.append("mps")
    return devs


def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _cpuinfo().splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_logical_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def physical_cores() -> int:
    """Physical cores this process may use: hyper-threads share a core's arithmetic units, so they are not
    counted; an affinity mask (taskset, containers) lowers the count."""
    cores, phys, text = set(), None, _cpuinfo()
    for line in text.splitlines():
        key, _, val = line.partition(":")
        key = key.strip()
        if key == "physical id":
            phys = val.strip()
        elif key == "core id":
            cores.add((phys, val.strip()))
    n = len(cores)
    if not n:
        n = os.cpu_count() or 1
        if platform.system() == "Darwin":
            try:
                import subprocess

                n = int(subprocess.run(["sysctl", "-n", "hw.physicalcpu"], capture_output=True, text=True).stdout)
            except (OSError, ValueError):
                pass
    return max(1, min(n, usable_logical_cores()))


def host_info() -> dict:
    import torch

    info = {
        "cpu": cpu_model(),
        "physical_cores": physical_cores(),
        "logical_cores": os.cpu_count() or 1,
        "usable_logical_cores": usable_logical_cores(),
        "platform": platform.platform(),
        "devices": available_devices(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        **versions("onnxruntime"),
    }
    return info


def versions(backend: str = "torch", device: str = "cpu") -> dict:
    import numpy
    import torch

    from .. import __version__

    v = {"explorer": __version__, "python": platform.python_version(), "torch": torch.__version__}
    v["numpy"] = numpy.__version__
    if backend == "onnxruntime":
        try:
            import onnxruntime

            v["onnxruntime"] = onnxruntime.__version__
        except ImportError:
            v["onnxruntime"] = None
    if device == "cuda":
        v["cuda"] = torch.version.cuda
        v["cudnn"] = torch.backends.cudnn.version()
    return v


def device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name(torch.cuda.current_device())
    if device == "mps":
        return "Apple GPU (MPS)"
    return cpu_model()
