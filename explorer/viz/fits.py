"""What the scatter charts fit to their points: Pareto fronts and the correlation of FLOPs with time.

Pure arithmetic over numbers, kept apart from drawing so it can be tested (and reused) on its own.
"""

from __future__ import annotations

import math

from .style import finite


def pearson(xs: list[float], ys: list[float]) -> float | None:
    """Pearson correlation; None when undefined (fewer than 2 points or a constant series)."""
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else None


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (latency, accuracy) points no other point beats (lower latency, higher accuracy is better).

    Sorted by latency; exact duplicates are all kept (neither dominates the other); points with a missing or
    non-finite value are ignored.
    """
    order = sorted((i for i, p in enumerate(points) if finite(*p)), key=lambda i: (points[i][0], -points[i][1], i))
    front: list[int] = []
    for i in order:
        if not front or points[i][1] > points[front[-1]][1] or tuple(points[i]) == tuple(points[front[-1]]):
            front.append(i)
    return front
