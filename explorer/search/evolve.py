"""Regularized evolution (Real et al., 2019) over designs, screened by a cheap evaluation.

A population of feasible designs ages: each step samples a few members, mutates the best of them and adds
the child, and the oldest member leaves. Every step is one attempt, so a run is a fixed number of attempts:
with a seed the same attempts give the same designs, whatever the machine's speed. Only the time limit can
cut a run short, and the result says so.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..design.spec import Design
from ..measure.hostlock import Cancelled
from .space import SearchSpace, mutate

POPULATION = 32
SAMPLE_SIZE = 8
SEED_WALK_ATTEMPTS = 400  # drawing the first population from the start design
MAX_MUTATIONS_PER_CHILD = 2


@dataclass
class Candidate:
    design: Design
    params: int
    macs: int
    predicted_ms: float  # the latency model's prediction, corrected by the start design's measurement
    objective: float
    found_at: int  # the attempt that found it


def evolve(
    start: Design,
    space: SearchSpace,
    evaluate: Callable[[Design, int], Candidate | None],
    *,
    attempts: int,
    seed: int,
    deadline: float,
    progress: Callable[[float, str], None] | None = None,
    cancel: threading.Event | None = None,
) -> tuple[dict[str, Candidate], int, str]:
    """All feasible designs found (by network hash), the attempts made, and why the run stopped.

    evaluate(design, attempt) returns a Candidate, or None for an infeasible design (over the latency budget,
    over a limit)."""
    rng = random.Random(f"search-{seed}")
    found: dict[str, Candidate] = {}
    seen: set[str] = {start.network_hash()}
    made = 0

    def child_of(design: Design) -> Design | None:
        child = design
        for _ in range(rng.randint(1, MAX_MUTATIONS_PER_CHILD)):
            step = mutate(child, space, rng, f"{start.name} · search {made}")
            if step is None:
                return None
            child = step
        return child

    def consider(design: Design | None) -> Candidate | None:
        if design is None or design.network_hash() in seen:
            return None
        seen.add(design.network_hash())
        cand = evaluate(design, made)
        if cand is not None:
            found[design.network_hash()] = cand
        return cand

    def out_of_time() -> bool:
        """Checked before every evaluation (the first population's included: a NASWOT evaluation is a forward
        pass), so the time limit holds within one evaluation and a cancel is seen at once."""
        if cancel is not None and cancel.is_set():
            raise Cancelled("search cancelled")
        return time.monotonic() >= deadline

    population: list[Candidate] = []
    first = evaluate(start, 0)
    if first is not None:
        population.append(first)
    stopped = "attempts"
    for _ in range(SEED_WALK_ATTEMPTS):  # the first population: feasible neighbours of the start
        if len(population) >= POPULATION or made >= attempts:
            break
        if out_of_time():
            return found, made, "time limit"
        made += 1
        cand = consider(child_of(start if not population or rng.random() < 0.5 else rng.choice(population).design))
        if cand is not None:
            population.append(cand)
    while made < attempts and population:
        if out_of_time():
            stopped = "time limit"
            break
        made += 1
        parent = max(rng.sample(population, min(SAMPLE_SIZE, len(population))), key=lambda c: c.objective)
        cand = consider(child_of(parent.design))
        if cand is not None:
            population.append(cand)
            if len(population) > POPULATION:
                population.pop(0)  # the oldest leaves, however good: regularized evolution's ageing
        if progress is not None and (made % 100 == 0 or made < 100):
            progress(made / attempts, f"screened {made:,} designs, {len(found):,} within the budget")
    if not population and made < attempts:
        stopped = "no feasible design"
    return found, made, stopped


def pareto_front(candidates: list[Candidate]) -> list[Candidate]:
    """The designs no other beats on both axes: lower predicted latency and higher objective."""
    front: list[Candidate] = []
    best = float("-inf")
    for c in sorted(candidates, key=lambda c: (c.predicted_ms, -c.objective)):
        if c.objective > best:
            front.append(c)
            best = c.objective
    return front
