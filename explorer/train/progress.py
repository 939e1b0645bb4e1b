"""Progress a run reports: a steady images/s and the time left, from whichever budget ends first.

Images/s is taken over the last reports rather than since the start, so loader warm-up and an early
evaluation do not drag it down for the rest of the run.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

Progress = Callable[[dict], None]
WINDOW = 20  # reports the images/s is measured over


class Throughput:
    """Images trained in this session, and their rate over the last WINDOW reports."""

    def __init__(self, t0: float):
        self.window = collections.deque(maxlen=WINDOW)  # (time, session images)
        self.window.append((t0, 0))
        self.session_images = 0

    def add(self, now: float, images: int) -> float:
        """Count `images` trained by `now`; returns the images/s over the window."""
        self.session_images += images
        self.window.append((now, self.session_images))
        (t_a, n_a), (t_b, n_b) = self.window[0], self.window[-1]
        return (n_b - n_a) / (t_b - t_a) if t_b > t_a else 0.0


def eta_s(
    step: int,
    total_steps: int | None,
    global_batch: int,
    images_per_s: float,
    budget_s: float | None,
    elapsed_s: float,
) -> float | None:
    """Seconds left: the sooner of the steps left at the current rate and the time budget left; None if neither."""
    eta = []
    if total_steps and images_per_s:
        eta.append((total_steps - step) * global_batch / images_per_s)
    if budget_s:
        eta.append(max(0.0, budget_s - elapsed_s))
    return min(eta) if eta else None
