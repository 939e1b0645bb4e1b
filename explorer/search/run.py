"""A design search on this host: screen thousands of designs with the latency model, measure the best for real.

1. The start design is measured in a fresh worker (the `bench` protocol), unless a trusted measurement under
   the same conditions is stored; its latency is the default budget, and measured / predicted corrects the
   model for designs like it.
2. Regularized evolution screens designs by the corrected prediction: only those predicted within the budget
   (and the params/MACs limits and the cost cap) count.
3. The best screened designs are measured in fresh workers, best objective first, under the host lock, until
   `top` of them are measured within the budget (+5 % for noise) with a quality verdict of ok, or time is up.
Every number in the result says where it comes from: predicted, measured (with its quality), or proxy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..design.align import global_diff, stage_diff
from ..design.cost import compute_cost
from ..design.limits import DEFAULT_CAP
from ..design.spec import Design
from ..errors import UserError
from ..measure.hostlock import DEFAULT_TIMEOUT_S, host_lock
from ..measure.quality import is_trusted
from ..options import check_values, option, options_of
from ..predict import predict
from ..predict.features import PARAMETER_NAMES
from ..predict.model import design_row
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
FRONT_POINTS = 200


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
    seed: int = option(0, metavar="N", help="random seed")
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

    def check(self) -> None:
        problems = check_values(dataclasses.asdict(self), options_of(SearchRequest))
        if problems:
            raise UserError(problems[0])  # one line: the first problem, in field order


def _measure(designs: list[Design], key: dict, cancel, stop_at: float) -> list[dict]:
    from ..predict.calibrate import run_worker

    job = {
        "backend": key["backend"],
        "device": key["device"],
        "threads": key["threads"],
        "batch": key["batch"],
        "budget_s": MEASURE_BUDGET_S,
        "min_runs": 10,
        "retries": 1,
        "stop_at": stop_at,
        "designs": [d.to_dict() for d in designs],
    }
    return [line for line in run_worker(job, cancel) if "design_hash" in line]


def _stored_start(store, start: Design, key: dict) -> dict | None:
    if store is None:
        return None
    rows = store.latencies(
        start.network_hash(),
        backend=key["backend"],
        device=key["device"],
        batch=key["batch"],
        threads=key["threads"],
        input_size=start.input_size,
    )
    return next((r for r in rows if is_trusted(r)), None)


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
    request.check()
    DEFAULT_CAP.check(start)
    report = progress or (lambda f, m: None)
    key = profile["key"]
    space = SearchSpace.around(start, request.fields)
    t0 = time.monotonic()
    deadline = t0 + request.seconds

    # 1. The start design: its latency on this host, and the model's error on it.
    start_pred = predict(start, profile)["predicted_ms"]
    start_measured, start_source = None, "predicted"
    stored = _stored_start(store, start, key)
    if stored is not None:
        start_measured, start_source = stored["median_ms"], f"stored measurement of {stored.get('timestamp', '?')}"
    elif request.measure:
        report(0.0, f"measuring {start.name} in a fresh worker")
        with host_lock(f"search from {start.name}", lock_timeout, lambda m: report(0.0, m), cancel):
            rows = _measure([start], key, cancel, time.time() + max(10.0, deadline - time.monotonic()))
        if rows and rows[0]["quality"]["verdict"] == "ok":
            start_measured, start_source = rows[0]["median_ms"], "measured now"
    scale = start_measured / start_pred if start_measured and start_pred > 0 else 1.0
    budget = request.budget_ms if request.budget_ms is not None else (start_measured or start_pred)
    budget_source = "given" if request.budget_ms is not None else f"the start design's latency, {start_source}"

    # 2. Screening with the latency model.
    scorer = None
    if request.objective == "naswot":
        report(0.05, "loading the NASWOT minibatch")
        scorer = NaswotScorer(start.input_size, request.data_folder, request.seed)

    def evaluate(design: Design, attempt: int) -> Candidate | None:
        cost = compute_cost(design)
        try:
            DEFAULT_CAP.check(design, cost)
        except UserError:
            return None
        if request.max_params is not None and cost.params > request.max_params:
            return None
        if request.max_macs is not None and cost.macs > request.max_macs:
            return None
        predicted = predicted_ms(design, profile) * scale
        if predicted > budget:
            return None
        return Candidate(
            design, cost.params, cost.macs, predicted, objective_value(request.objective, design, cost, scorer), attempt
        )

    attempts = request.attempts or DEFAULT_ATTEMPTS[request.objective]
    screen_deadline = time.monotonic() + SCREEN_SHARE * max(0.0, deadline - time.monotonic())
    # NASWOT runs a forward pass per design: heavy work, so it holds the host like a measurement does.
    screening_lock = (
        host_lock(f"NASWOT search from {start.name}", lock_timeout, lambda m: report(0.05, m), cancel)
        if scorer is not None
        else contextlib.nullcontext()
    )
    with screening_lock:
        found, made, stopped = evolve(
            start,
            space,
            evaluate,
            attempts=attempts,
            seed=request.seed,
            deadline=screen_deadline,
            progress=lambda f, m: report(0.05 + 0.35 * f, m),
            cancel=cancel,
        )
    found.pop(start.network_hash(), None)
    if not found:
        raise UserError(
            f"no design in this search space is predicted within {budget:.2f} ms on this host "
            f"(the start is predicted at {start_pred * scale:.2f} ms); raise the budget or widen the space"
        )
    ranked = _distinct(sorted(found.values(), key=lambda c: (-c.objective, c.predicted_ms, c.design.network_hash())))

    # 3. Measuring the best, for real. Designs found by optimizing against a model sit where the model errs,
    # so every measured batch corrects the model locally (median measured / predicted of the clean ones), and
    # each batch spreads over margins below the budget, so some candidates survive a too-optimistic model.
    measured: list[dict] = []
    accepted: list[dict] = []
    local = 1.0
    if request.measure:
        pool = ranked[:MAX_POOL]
        ratios: list[float] = []
        with host_lock(f"search from {start.name}", lock_timeout, lambda m: report(0.4, m), cancel):
            while (
                len(accepted) < request.top
                and len(measured) < MAX_MEASURED_PER_TOP * request.top
                and deadline - time.monotonic() > WORKER_START_S
            ):
                chunk = pick_batch(pool, budget, local, DESIGNS_PER_WORKER)
                if not chunk:
                    break
                pool = [c for c in pool if c not in chunk]
                by_hash = {c.design.network_hash(): c for c in chunk}
                report(0.4 + 0.6 * len(accepted) / request.top, f"measuring {len(chunk)} designs in a fresh worker")
                for row in _measure([c.design for c in chunk], key, cancel, time.time() + deadline - time.monotonic()):
                    cand = by_hash[row["design_hash"]]
                    entry = _entry(start, cand, request, row, budget)
                    measured.append(entry)
                    if row["quality"]["verdict"] == "ok":
                        ratios.append(row["median_ms"] / cand.predicted_ms)
                    if entry["within_budget"]:
                        accepted.append(entry)
                        _store(store, cand.design, row, key)
                if ratios:
                    local = sorted(ratios)[len(ratios) // 2]
    results = (
        accepted[: request.top]
        if request.measure
        else [_entry(start, c, request, None, budget) for c in ranked[: request.top]]
    )
    start_cost = compute_cost(start)
    for r in results:
        r["dominates_start"] = bool(
            start_measured
            and r.get("measured_ms") is not None
            and r["params"] > start_cost.params
            and r["macs"] > start_cost.macs
            and r["measured_ms"] <= start_measured
        )
    front = pareto_front(list(found.values()))
    report(1.0, "done")
    return {
        "start": {
            "name": start.name,
            "design_hash": start.network_hash(),
            "params": start_cost.params,
            "macs": start_cost.macs,
            "predicted_ms": start_pred,
            "measured_ms": start_measured,
            "latency_source": start_source,
            "objective": objective_value(request.objective, start, start_cost, scorer),
        },
        "budget_ms": budget,
        "budget_source": budget_source,
        "noise_allowance_pct": NOISE_ALLOWANCE * 100,
        "model_correction": scale,
        "local_correction": local,
        "objective": request.objective,
        "objective_note": scorer.note if scorer else "exact, from the cost model",
        "seed": request.seed,
        "space": space.describe(),
        "profile": {k: key[k] for k in ("backend", "device", "threads", "batch")},
        "screened": made,
        "feasible": len(found),
        "screening_stopped_by": stopped,
        "measured": len(measured),
        "rejected": [m for m in measured if not m["within_budget"]],
        "candidates": results,
        "front": [
            {"predicted_ms": c.predicted_ms, "objective": c.objective, "design_hash": c.design.network_hash()}
            for c in front[:FRONT_POINTS]
        ],
        "elapsed_s": time.monotonic() - t0,
    }


def predicted_ms(design: Design, profile: dict) -> float:
    """The model's whole-network prediction without its per-layer report: the same sum, a few times faster."""
    coefficients = profile["model"]["coefficients"]
    row = design_row(design, int(profile["key"]["batch"]))
    return sum(float(coefficients.get(name, 0.0)) * value for name, value in zip(PARAMETER_NAMES, row, strict=True))


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


def _entry(start: Design, cand: Candidate, request: SearchRequest, row: dict | None, budget: float) -> dict:
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
        "stage_diff": stage_diff(start, cand.design),
        "global_diff": global_diff(start, cand.design),
    }
    if row is not None:
        entry["measured_ms"] = row["median_ms"]
        entry["quality"] = row["quality"]
        entry["within_budget"] = row["quality"]["verdict"] == "ok" and row["median_ms"] <= budget * (
            1 + NOISE_ALLOWANCE
        )
    return entry


def _store(store, design: Design, row: dict, key: dict) -> None:
    """A measured candidate goes into the results store like any measurement, so the charts can show it."""
    if store is None:
        return
    store.add_latency(
        design,
        {
            "backend": key["backend"],
            "device": key["device"],
            "batch": key["batch"],
            "threads": key["threads"],
            "input_size": design.input_size,
            "median_ms": row["median_ms"],
            "iqr_ms": row.get("iqr_ms"),
            "runs": row.get("runs"),
            "per_image_ms": row["median_ms"] / key["batch"],
            "quality": row["quality"],
            "protocol": f"design search: bench protocol in a fresh worker, {MEASURE_BUDGET_S:g} s timed",
        },
    )
