"""A design search on this host: screen thousands of designs with the latency model, measure the best for real.

1. The start design is measured by the measurement service (explorer.measure.service: a fresh worker, its
   verdict), unless a trusted measurement under the same conditions is stored; its latency is the default
   budget, and measured / predicted corrects the model for designs like it.
2. Regularized evolution screens designs by the corrected prediction: only those predicted within the budget
   (and the params/MACs limits and the cost cap) count.
3. The best screened designs are measured by the service, best objective first, until `top` of them are
   measured within the budget (+5 % for noise) with a quality verdict of ok, or time is up. Every measured
   candidate is stored (its row says "measurement service for search") and listed with its verdict and why
   it was or was not returned; a worker that failed is said in `measure_errors`.
Every number in the result says where it comes from: predicted, measured (with its quality), or proxy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ..design.align import global_diff, stage_diff
from ..design.cost import compute_cost
from ..design.limits import DEFAULT_CAP
from ..design.spec import Design
from ..errors import Problems, UserError
from ..measure import quality
from ..measure.hostlock import DEFAULT_TIMEOUT_S, WAIT_MESSAGE, host_lock
from ..measure.job import PAST_DEADLINE, MeasureJob
from ..measure.quality import is_trusted, median
from ..measure.service import Measured, MeasureRun, WorkerFailed, stored_results
from ..measure.target import Target
from ..options import check_values, option, options_of
from ..predict import predict, predicted_ms
from .evolve import Candidate, evolve, pareto_front
from .objectives import OBJECTIVES, NaswotScorer, objective_value
from .space import SearchSpace

NOISE_ALLOWANCE = 0.05  # a measured design may exceed the budget by this share (timing noise)
SCREEN_SHARE = 0.4  # of the time budget, at most, for screening
DEFAULT_ATTEMPTS = {"params": 3000, "macs": 3000, "naswot": 400}
MEASURE_BUDGET_S = 1.0  # timed seconds per measured design
DESIGNS_PER_WORKER = 4
MAX_MEASURED_PER_TOP = 3  # measure at most 3 x top candidates
MAX_POOL = 2000  # the best screened designs the measuring phase picks from
MARGINS = (1.0, 0.95, 0.9, 0.85)  # a measured batch spreads over these shares of the budget
WORKER_START_S = 4.0
MAX_WORKER_FAILURES = 2  # workers that died: after this many, the search stops measuring and says why
SEED_LIMIT = 2**32 - 1  # random.Random takes any integer, but a seed is for repeating a run: one of 2**32
FRONT_POINTS = 200
MIN_RATIOS_FOR_BAND = 3


@dataclass
class SearchRequest:
    """What the user asks of a search; every field but `fields` is an option (explorer.options): its range and
    help are declared here once, and `explorer search` generates its flags from them."""

    budget_ms: float | None = option(
        None,
        lo=0,
        lo_open=True,
        unit="ms",
        label="the latency budget",
        metavar="MS",
        help="latency budget",
        default_help="the start design's latency on this host",
    )
    objective: str = option("params", choices=OBJECTIVES, help="what to maximize")
    seconds: float = option(
        60.0, lo=5, hi=3600, unit="seconds", label="the search time", metavar="S", help="time budget"
    )
    top: int = option(5, lo=1, hi=50, metavar="K", help="designs to measure and return")
    seed: int = option(0, lo=0, hi=SEED_LIMIT, metavar="N", help="random seed")
    max_params: int | None = option(
        None, lo=1, label="max params", metavar="N", help="refuse designs with more parameters"
    )
    max_macs: int | None = option(None, lo=1, label="max MACs", metavar="N", help="refuse designs with more MACs")
    fields: tuple[str, ...] | None = None  # what may change; checked against the search space (search.space)
    attempts: int | None = option(
        None,
        lo=1,
        hi=1_000_000,
        metavar="N",
        help="designs to screen",
        default_help=", ".join(f"{k} {v}" for k, v in DEFAULT_ATTEMPTS.items()),
    )
    data_folder: str | None = option(
        None, flag="--data", metavar="FOLDER", help="dataset folder for the naswot objective's minibatch"
    )
    measure: bool = option(True, flag="--no-measure", help="screen only: predicted latencies, nothing measured")

    def problems(self, flags: bool = False) -> list[str]:
        """Every problem, one line each, in field order; flags=True names them as the command line does
        ("--seconds must be from 5 to 3600 seconds, got 1"), as every other command's options do."""
        values = dataclasses.asdict(self)
        if not flags:
            return check_values(values, options_of(SearchRequest))
        return [line for o in options_of(SearchRequest) if (line := o.message(values[o.name], o.cli_flag))]

    def check(self, flags: bool = False) -> None:
        problems = self.problems(flags)
        if problems:
            raise Problems(problems)


@dataclass
class StartPoint:
    """The start design's latency on this host: predicted, and measured when it could be (and how)."""

    predicted_ms: float
    measured_ms: float | None = None
    source: str = "predicted"

    @property
    def scale(self) -> float:
        """measured / predicted: corrects the model for designs like the start."""
        return self.measured_ms / self.predicted_ms if self.measured_ms and self.predicted_ms > 0 else 1.0


@dataclass
class Screening:
    found: dict[str, Candidate]
    made: int
    stopped: str
    refused: Counter  # why screened designs were infeasible: "cost cap", "max params", "max MACs", "budget"


@dataclass
class Measuring:
    entries: list[dict] = field(default_factory=list)  # every measured (or failed) candidate, in order
    accepted: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # worker failures: said in the result, never dropped
    local: float = 1.0
    ratios: list[float] = field(default_factory=list)  # measured / predicted of the clean measurements

    def band(self, profile: dict) -> tuple[float | None, str]:
        """The error band of a corrected prediction near this search's frontier: the 90th percentile of how far
        its clean measurements fell from prediction x local correction; the profile's band until 3 exist."""
        if len(self.ratios) >= MIN_RATIOS_FOR_BAND:
            import numpy as np

            off = [abs(r / self.local - 1) * 100 for r in self.ratios]
            return float(np.percentile(off, 90)), f"{len(self.ratios)} clean measurements in this search"
        return profile.get("band_pct"), "the profile's cross-validated band"


class Search:
    """One search's steps; `run_search` below runs them in order."""

    def __init__(self, start: Design, profile: dict, request: SearchRequest, store, report, cancel, lock_timeout):
        self.start, self.profile, self.request = start, profile, request
        self.store, self.report, self.cancel, self.lock_timeout = store, report, cancel, lock_timeout
        key = profile["key"]
        self.target = Target(key["backend"], key["device"], int(key["threads"]), int(key["batch"]))
        self.space = SearchSpace.around(start, request.fields)
        self.t0 = time.monotonic()
        self.deadline = self.t0 + request.seconds
        self.scorer: NaswotScorer | None = None

    def left(self) -> float:
        return self.deadline - time.monotonic()

    # 1. the start design -------------------------------------------------------------------------------
    def start_point(self) -> StartPoint:
        point = StartPoint(predict(self.start, self.profile)["predicted_ms"])
        stored = _stored_start(self.store, self.start, self.target)
        if stored is not None:
            point.measured_ms, point.source = (
                stored["median_ms"],
                f"stored measurement of {stored.get('timestamp', '?')}",
            )
        elif self.request.measure:
            self.report(0.0, f"measuring {self.start.name} in a fresh worker")
            try:
                outcomes = self.measure([self.start], time.time() + max(10.0, self.left()))
            except WorkerFailed as e:
                outcomes = []
                point.source = f"predicted (measuring the start failed: {e})"
            if outcomes and outcomes[0].trusted:
                point.measured_ms, point.source = outcomes[0].result["median_ms"], "measured now"
            elif outcomes:
                why = outcomes[0].error or "; ".join(quality.reasons(outcomes[0].result))
                point.source = f"predicted (the start's measurement was not clean: {why})"
        return point

    # 2. screening with the latency model ----------------------------------------------------------------
    def screen(self, budget: float, scale: float) -> Screening:
        request = self.request
        if request.objective == "naswot":
            self.report(0.05, "loading the NASWOT minibatch")
            self.scorer = NaswotScorer(self.start.input_size, request.data_folder, request.seed)
        refused: Counter = Counter()

        def evaluate(design: Design, attempt: int) -> Candidate | None:
            cost = compute_cost(design)
            try:
                DEFAULT_CAP.check(design, cost)
            except UserError:
                refused["cost cap"] += 1
                return None
            if request.max_params is not None and cost.params > request.max_params:
                refused["max params"] += 1
                return None
            if request.max_macs is not None and cost.macs > request.max_macs:
                refused["max MACs"] += 1
                return None
            predicted = predicted_ms(design, self.profile) * scale
            if predicted > budget:
                refused["budget"] += 1
                return None
            value = objective_value(request.objective, design, cost, self.scorer)
            return Candidate(design, cost.params, cost.macs, predicted, value, attempt)

        attempts = request.attempts or DEFAULT_ATTEMPTS[request.objective]
        screen_deadline = time.monotonic() + SCREEN_SHARE * max(0.0, self.left())
        # NASWOT runs a forward pass per design: heavy work, so it holds the host like a measurement does.
        lock = (
            host_lock(f"NASWOT search from {self.start.name}", self.lock_timeout, self._waiting(0.05), self.cancel)
            if self.scorer is not None
            else contextlib.nullcontext()
        )
        with lock:
            found, made, stopped = evolve(
                self.start,
                self.space,
                evaluate,
                attempts=attempts,
                seed=request.seed,
                deadline=screen_deadline,
                progress=lambda f, m: self.report(0.05 + 0.35 * f, m),
                cancel=self.cancel,
            )
        found.pop(self.start.network_hash(), None)
        return Screening(found, made, stopped, refused)

    def _waiting(self, fraction: float):
        return lambda message: self.report(fraction, message)

    # 3. measuring the best, for real --------------------------------------------------------------------
    def measure(self, designs: list[Design], stop_at: float) -> list[Measured]:
        """Designs through the measurement service (its verdict, stored with what really ran)."""
        job = MeasureJob(
            designs,
            self.target,
            budget_s=MEASURE_BUDGET_S,
            retries=1,
            # The search has a deadline: a slow-state sample is judged noisy and set aside instead of waited for.
            wait_for_fast_state=False,
            history=True,
            stop_at=stop_at,
            lock_timeout_s=self.lock_timeout,
            purpose="search",
        )
        run = MeasureRun(job, store=self.store, cancel=self.cancel, progress=self._measure_progress)
        return list(run)

    def _measure_progress(self, fraction: float, message: str) -> None:
        if message.startswith(WAIT_MESSAGE):
            self.report(0.4, message)

    def measure_best(self, ranked: list[Candidate], budget: float) -> Measuring:
        """Designs found by optimizing against a model sit where the model errs, so every measured batch
        corrects the model locally (median measured / predicted of the clean ones), and each batch spreads over
        margins below the budget, so some candidates survive a too-optimistic model."""
        out = Measuring()
        pool = ranked[:MAX_POOL]
        ratios = out.ratios
        request = self.request
        while (
            len(out.accepted) < request.top
            and len(out.entries) < MAX_MEASURED_PER_TOP * request.top
            and self.left() > WORKER_START_S
            and len(out.errors) < MAX_WORKER_FAILURES
        ):
            chunk = pick_batch(pool, budget, out.local, DESIGNS_PER_WORKER)
            if not chunk:
                break
            pool = [c for c in pool if c not in chunk]
            by_hash = {c.design.network_hash(): c for c in chunk}
            done = len(out.entries)
            self.report(
                0.4 + 0.6 * len(out.accepted) / request.top,
                f"measuring {len(chunk)} designs in a fresh worker ({done} measured so far)",
            )
            try:
                outcomes = self.measure([c.design for c in chunk], time.time() + self.left())
            except WorkerFailed as e:
                out.errors.append(str(e))
                continue
            for m in outcomes:
                cand = by_hash[m.design.network_hash()]
                entry = _entry(self.start, cand, m, budget)
                out.entries.append(entry)
                if m.trusted:
                    ratios.append(m.result["median_ms"] / cand.predicted_ms)
                if entry["within_budget"]:
                    out.accepted.append(entry)
            if ratios:
                out.local = median(ratios)
        return out


def run_search(
    start: Design,
    profile: dict,
    request: SearchRequest,
    *,
    store=None,
    progress: Callable[[float, str], None] | None = None,
    cancel: threading.Event | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
) -> dict:
    """Screen with the latency model, measure the best for real; see the module docstring for the steps."""
    request.check()
    DEFAULT_CAP.check(start)
    search = Search(start, profile, request, store, progress or (lambda f, m: None), cancel, lock_timeout)
    point = search.start_point()
    budget = request.budget_ms if request.budget_ms is not None else (point.measured_ms or point.predicted_ms)
    screening = search.screen(budget, point.scale)
    if not screening.found:
        raise UserError(nothing_feasible(screening, request, budget, point))
    ranked = _distinct(
        sorted(screening.found.values(), key=lambda c: (-c.objective, c.predicted_ms, c.design.network_hash()))
    )
    measuring = search.measure_best(ranked, budget) if request.measure else Measuring()
    search.report(1.0, "done")
    return _result(search, point, budget, screening, ranked, measuring)


def nothing_feasible(screening: Screening, request: SearchRequest, budget: float, point: StartPoint) -> str:
    """Why no design qualified, naming the real cause (a limit, the cost cap, too few attempts, the budget)."""
    refused = screening.refused
    tried = sum(refused.values())
    if tried <= 1:  # the start alone: the walk found no new design to screen
        return (
            f"no new design was screened in {screening.made} attempt(s) (stopped by {screening.stopped}); "
            "raise --attempts or widen the space"
        )
    cause, n = refused.most_common(1)[0]
    if cause == "budget":
        return (
            f"no design in this search space is predicted within {budget:.2f} ms on this host "
            f"(the start is predicted at {point.predicted_ms * point.scale:.2f} ms); "
            "raise the budget or widen the space"
        )
    if cause == "max params":
        limit = f"max params ({request.max_params:,})"
    elif cause == "max MACs":
        limit = f"max MACs ({request.max_macs:,})"
    else:
        limit = "the cost cap on a design"
    return f"no design fits: {n} of {tried} screened designs are over {limit}; raise it or widen the space"


def _result(search: Search, point: StartPoint, budget, screening: Screening, ranked, measuring: Measuring) -> dict:
    request, start = search.request, search.start
    if request.measure:
        results = measuring.accepted[: request.top]
    else:
        results = [_entry(start, c, None, budget) for c in ranked[: request.top]]
    start_cost = compute_cost(start)
    for r in results:
        r["dominates_start"] = bool(
            point.measured_ms
            and r.get("measured_ms") is not None
            and r["params"] > start_cost.params
            and r["macs"] > start_cost.macs
            and r["measured_ms"] <= point.measured_ms
        )
    band, band_source = measuring.band(search.profile)
    for r in results:  # the prediction corrected on the measured frontier, with its honest band
        r["corrected_ms"] = r["predicted_ms"] * measuring.local
        r["band_pct"] = band
    front = pareto_front(list(screening.found.values()))
    key = search.profile["key"]
    return {
        "start": {
            "name": start.name,
            "design_hash": start.network_hash(),
            "params": start_cost.params,
            "macs": start_cost.macs,
            "predicted_ms": point.predicted_ms,
            "measured_ms": point.measured_ms,
            "latency_source": point.source,
            "objective": objective_value(request.objective, start, start_cost, search.scorer),
        },
        "budget_ms": budget,
        "budget_source": "given" if request.budget_ms is not None else f"the start design's latency, {point.source}",
        "noise_allowance_pct": NOISE_ALLOWANCE * 100,
        "model_correction": point.scale,
        "local_correction": measuring.local,
        "band_pct": band,
        "band_source": band_source,
        "objective": request.objective,
        "objective_note": search.scorer.note if search.scorer else "exact, from the cost model",
        "seed": request.seed,
        "space": search.space.describe(),
        "profile": {k: key[k] for k in ("backend", "device", "threads", "batch")},
        "screened": screening.made,
        "feasible": len(screening.found),
        "screening_stopped_by": screening.stopped,
        "refused": dict(screening.refused),
        "measured": len(measuring.entries),
        "measured_candidates": measuring.entries,  # every one, with its verdict and why it was (not) returned
        "rejected": [m for m in measuring.entries if not m["within_budget"]],
        "measure_errors": measuring.errors,
        "store_errors": sorted({m["store_error"] for m in measuring.entries if m.get("store_error")}),
        "candidates": results,
        "front": [
            {"predicted_ms": c.predicted_ms, "objective": c.objective, "design_hash": c.design.network_hash()}
            for c in front[:FRONT_POINTS]
        ],
        "elapsed_s": time.monotonic() - search.t0,
    }


def _stored_start(store, start: Design, target: Target) -> dict | None:
    """The newest trusted stored measurement of the start under the profile's settings."""
    if store is None:
        return None
    return next((r for r in stored_results(store, start, target, start.input_size) if is_trusted(r)), None)


def pick_batch(pool: list[Candidate], budget: float, local: float, size: int) -> list[Candidate]:
    """The best objective under each margin of the budget (predictions times the local correction), then the
    next best overall: a batch that still has survivors when the model is optimistic for these designs."""
    fits = [c for c in pool if c.predicted_ms * local <= budget]  # pool is ranked best objective first
    batch: list[Candidate] = []
    for margin in MARGINS:
        pick = next((c for c in fits if c.predicted_ms * local <= margin * budget and c not in batch), None)
        if pick is not None and len(batch) < size:
            batch.append(pick)
    batch += [c for c in fits if c not in batch][: size - len(batch)]
    return batch


def _distinct(ranked: list[Candidate]) -> list[Candidate]:
    """One design per (params, MACs): variants that differ only in skips or activations tie on the objective,
    and measuring five of them would say little; the fastest predicted of each stays."""
    seen: set[tuple[int, int]] = set()
    out = []
    for c in ranked:
        if (c.params, c.macs) not in seen:
            seen.add((c.params, c.macs))
            out.append(c)
    return out


def _entry(start: Design, cand: Candidate, m: Measured | None, budget: float) -> dict:
    entry = {
        "name": cand.design.name,
        "design_hash": cand.design.network_hash(),
        "design": cand.design.to_dict(),
        "params": cand.params,
        "macs": cand.macs,
        "predicted_ms": cand.predicted_ms,
        "objective": cand.objective,
        "measured_ms": None,
        "quality": None,
        "within_budget": None,
        "why": "not measured (screened only)",
        "stage_diff": stage_diff(start, cand.design),
        "global_diff": global_diff(start, cand.design),
    }
    if m is None:
        return entry
    if m.error == PAST_DEADLINE:
        entry.update(within_budget=False, why=PAST_DEADLINE)
        return entry
    if m.error:
        entry.update(within_budget=False, error=m.error, why=f"measuring failed: {m.error}")
        return entry
    limit = budget * (1 + NOISE_ALLOWANCE)
    entry["measured_ms"] = m.result["median_ms"]
    entry["quality"] = m.result["quality"]
    entry["stored_id"] = m.stored_id
    if m.store_error:  # measured and listed here, but the store refused the row: the real cause, kept
        entry["store_error"] = m.store_error
    entry["within_budget"] = m.trusted and m.result["median_ms"] <= limit
    if not m.trusted:
        entry["why"] = "noisy: " + "; ".join(quality.reasons(m.result))
    elif not entry["within_budget"]:
        entry["why"] = f"over the budget: measured {m.result['median_ms']:.2f} ms > {limit:.2f} ms (budget +5 %)"
    else:
        entry["why"] = "measured within the budget, clean"
    return entry
