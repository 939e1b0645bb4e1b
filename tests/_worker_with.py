"""The real measurement worker with the host's load replaced, so its verdict is known in advance.

Run as `python tests/_worker_with.py busy|quiet` in place of `python -m explorer.measure.worker`:
busy  other processes use 1.5 cores (and steal 0.2) during every timed window: the verdict must be noisy;
quiet no other load, and the spread and sample-count rules relaxed: the verdict is judged on the load alone.
"""

import sys

from explorer.measure import quality
from explorer.measure.worker import main


def busy(before, after, window_s):
    return {"window_s": window_s, "own_cpu_cores": 1.0, "other_cpu_cores": 1.5, "steal_cores": 0.2}


def quiet(before, after, window_s):
    return {"window_s": window_s, "own_cpu_cores": 1.0, "other_cpu_cores": 0.0, "steal_cores": 0.0}


if __name__ == "__main__":
    mode = sys.argv[1]
    quality.load_between = busy if mode == "busy" else quiet
    if mode == "quiet":
        quality.DISPERSION_LIMIT = float("inf")
        quality.CI_LIMIT_PCT = float("inf")
        quality.MIN_SAMPLES = 1
        quality.SLOW_STATE_RATIO = float("inf")  # the host-state probe is not what this worker is about
    raise SystemExit(main())
