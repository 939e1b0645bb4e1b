"""Point the measurement service at tests/_fake_worker.py: the real wire format, with results decided in advance."""

import sys
from pathlib import Path

FAKE_WORKER = Path(__file__).resolve().parent / "_fake_worker.py"


def scripted_worker(monkeypatch, mode: str, ms_per_mmac: float | None = None, base_ms: float | None = None) -> None:
    """Every measurement the service starts runs the fake worker in `mode` (see _fake_worker.py for the modes)."""
    from explorer.measure import service

    rule = [str(x) for x in (ms_per_mmac, base_ms) if x is not None]
    monkeypatch.setattr(service, "WORKER_COMMAND", (sys.executable, str(FAKE_WORKER), mode, *rule))


def scripted_calibration(monkeypatch, mode: str, designs: int) -> None:
    """Calibration measures `designs` networks with the fake worker (clean medians from a MACs rule)."""
    from explorer.predict import calibrate as calibration
    from explorer.predict.sampling import calibration_designs

    scripted_worker(monkeypatch, mode, 0.05, 0.2)
    monkeypatch.setattr(calibration, "calibration_designs", lambda n, seed=0: calibration_designs(designs, seed))
