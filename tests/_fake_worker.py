"""A scripted measurement worker: speaks explorer.measure.job's wire format with results decided in advance.

Run as `python tests/_fake_worker.py MODE [MS_PER_MMAC [BASE_MS]]`; the job comes on stdin like the real
worker's. Modes:
  ok          every design measured clean: median = BASE_MS + MACs / 1e6 * MS_PER_MMAC (defaults 0 and 0.01)
  noisy-odd   the same medians; designs at odd positions in the job are judged noisy
  error-first the first design is refused with an error event, the others measured clean
  die         writes "boom: the fake worker crashed" on stderr and exits with status 3
  garbage     prints a line that is not an event, then exits 0 without a result
  kill        kills itself with SIGKILL after its first progress event
  hang        ignores SIGTERM and sleeps (the cancel policy must escalate to SIGKILL)
  first-only  measures the first design, says done and exits 0 without a word about the others
"""

import json
import os
import signal
import sys
import time

from explorer.design.cost import compute_cost
from explorer.design.spec import parse_design


def send(kind: str, **fields) -> None:
    print(json.dumps({"event": kind, **fields}), flush=True)


def result(design, job: dict, median_ms: float, verdict: str) -> dict:
    target = job["target"]
    reasons = [] if verdict == "ok" else ["samples spread widely: IQR is 40 % of the median (limit 15 %)"]
    return {
        "median_ms": median_ms,
        "iqr_ms": median_ms * 0.02,
        "p25_ms": median_ms * 0.99,
        "p75_ms": median_ms * 1.01,
        "runs": 50,
        "per_image_ms": median_ms / target["batch"],
        "backend": target["backend"],
        "device": target["device"],
        "device_name": "fake CPU",
        "threads": target["threads"],
        "batch": target["batch"],
        "input_size": design.input_size,
        "channels_last": False,
        "design_hash": design.network_hash(),
        "design_name": design.name,
        "timestamp": "2026-01-01T00:00:00",
        "protocol": "fake worker; " + job["purpose"],
        "quality": {"verdict": verdict, "reasons": reasons},
    }


def main() -> int:
    mode = sys.argv[1]
    ms_per_mmac = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01
    base_ms = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    job = json.loads(sys.stdin.read())
    designs = [parse_design(d) for d in job["designs"]]
    send("progress", design=0, fraction=0.0, message="fake: starting")
    if mode == "die":
        print("boom: the fake worker crashed", file=sys.stderr, flush=True)
        return 3
    if mode == "garbage":
        print("this is not an event", flush=True)
        return 0
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(60)
        return 0
    for i, design in enumerate(designs):
        if mode == "error-first" and i == 0:
            send("error", design=0, message="refused by the fake worker")
            continue
        median_ms = base_ms + compute_cost(design).macs / 1e6 * ms_per_mmac
        verdict = "noisy" if mode == "noisy-odd" and i % 2 else "ok"
        send("progress", design=i, fraction=1.0, message="done")
        send("result", design=i, result=result(design, job, median_ms, verdict), tries=1, layers=None)
        if mode == "first-only":
            break
    send("done", measured=1 if mode == "first-only" else len(designs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
