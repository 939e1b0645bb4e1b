"""Design search: the space's moves, the evolution, constraints, reproducibility, cancel, and a tiny real run."""

import random
import threading

import pytest
from scripted_worker import scripted_worker
from tiny_design import TINY

from explorer.design.cost import compute_cost
from explorer.design.presets import get_preset
from explorer.design.spec import parse_design
from explorer.errors import UserError
from explorer.measure.hostlock import Cancelled
from explorer.predict import predict, predicted_ms
from explorer.predict.model import prior_coefficients
from explorer.predict.profile import profile_key
from explorer.search import SearchRequest, SearchSpace, run_search
from explorer.search.evolve import Candidate, pareto_front
from explorer.search.objectives import NaswotScorer
from explorer.search.space import mutate


def synthetic_profile(threads: int = 1) -> dict:
    """A roofline-only profile (50 GFLOP/s, 10 GB/s): deterministic, no calibration needed."""
    return {
        "key": profile_key("torch", "cpu", threads, 1),
        "model": {"coefficients": prior_coefficients(50.0, 10.0, "torch")},
        "band_pct": 10.0,
    }


def total_stride(design) -> int:
    out = 2  # the stem
    for s in design.stages:
        out *= s.s
    return out


def screen(start, **kw):
    options = dict(measure=False, seconds=60, top=5, seed=0, attempts=300)
    options.update(kw)
    return run_search(start, synthetic_profile(), SearchRequest(**options))


def test_mutations_stay_valid_and_keep_the_total_stride():
    start = get_preset("SM_V2")
    space = SearchSpace.around(start)
    rng = random.Random(1)
    made = 0
    for i in range(400):
        child = mutate(start, space, rng, f"child {i}")
        if child is None:
            continue
        made += 1
        assert child == parse_design(child.to_dict())  # the validator accepts it as it is
        assert total_stride(child) == total_stride(start) and child.input_size == start.input_size
        assert space.min_stages <= len(child.stages) <= space.max_stages
        assert all(s.c <= space.c_max and s.n <= space.n_max for s in child.stages)
    assert made > 300  # most moves lead somewhere


def test_the_fast_prediction_is_the_model_s_prediction():
    profile = synthetic_profile()
    for name in ("SM_V2", "MobileNet V2"):
        design = get_preset(name)
        assert predicted_ms(design, profile) == pytest.approx(predict(design, profile)["predicted_ms"], rel=1e-12)


def test_a_seed_reproduces_the_search_and_constraints_hold():
    start = get_preset("SM_V2")
    a, b = screen(start), screen(start)
    assert [c["design_hash"] for c in a["candidates"]] == [c["design_hash"] for c in b["candidates"]]
    assert a["candidates"] and a["screened"] == 300 and a["screening_stopped_by"] == "attempts"
    budget = a["budget_ms"]
    assert budget == pytest.approx(predict(start, synthetic_profile())["predicted_ms"])  # no measurement: predicted
    for c in a["candidates"]:
        assert c["predicted_ms"] <= budget and c["measured_ms"] is None
        assert c["params"] >= a["start"]["params"]  # the objective only ever climbs from the start
    objectives = [c["objective"] for c in a["candidates"]]
    assert objectives == sorted(objectives, reverse=True)
    other = screen(start, seed=1)
    assert [c["design_hash"] for c in other["candidates"]] != [c["design_hash"] for c in a["candidates"]]


def test_limits_and_fields_are_respected():
    start = get_preset("SM_V2")
    cap = compute_cost(start).params + 200_000
    r = screen(start, max_params=cap, max_macs=compute_cost(start).macs, fields=("c",), budget_ms=1e6)
    assert r["candidates"]
    for c in r["candidates"]:
        assert c["params"] <= cap and c["macs"] <= compute_cost(start).macs
        design = parse_design(c["design"])
        assert len(design.stages) == len(start.stages) and not c["global_diff"]
        for a, b in zip(start.stages, design.stages, strict=True):
            assert (a.t, a.n, a.s, a.kernel, a.skip) == (b.t, b.n, b.s, b.kernel, b.skip)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"budget_ms": 1e-6}, "no design in this search space is predicted within"),
        ({"budget_ms": float("nan")}, "the latency budget must be a finite number"),
        ({"budget_ms": -1.0}, "the latency budget must be a positive number of ms"),
        ({"objective": "accuracy"}, "unknown objective"),
        ({"fields": ("width",)}, "search fields must be some of"),
        ({"top": 0}, "top must be from 1 to 50"),
        ({"seconds": 1}, "search time must be from 5"),
        ({"seed": 2**70}, "seed must be from 0 to 4294967295"),
        ({"max_params": 1}, "no design fits: .* over max params \\(1\\)"),
        ({"max_macs": 1}, "no design fits: .* over max MACs \\(1\\)"),
        ({"attempts": 1}, "no new design was screened in 1 attempt"),
    ],
)
def test_impossible_or_bad_requests_are_one_line_errors(kw, match):
    with pytest.raises(UserError, match=match) as e:
        screen(get_preset("SM_V2"), **kw)
    assert "\n" not in str(e.value)


def test_cancel_stops_the_search():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        run_search(
            get_preset("SM_V2"),
            synthetic_profile(),
            SearchRequest(measure=False, attempts=5000),
            cancel=cancel,
        )


def test_pareto_front_keeps_only_undominated_designs():
    d = get_preset("SM_V2")
    pts = [(1.0, 5.0), (2.0, 4.0), (2.0, 9.0), (3.0, 9.0), (4.0, 10.0), (0.5, 1.0)]
    cands = [Candidate(d, 0, 0, ms, obj, i) for i, (ms, obj) in enumerate(pts)]
    front = [(c.predicted_ms, c.objective) for c in pareto_front(cands)]
    assert front == [(0.5, 1.0), (1.0, 5.0), (2.0, 9.0), (4.0, 10.0)]


def test_naswot_scores_are_deterministic_and_tell_designs_apart():
    tiny = parse_design(TINY)
    wider = parse_design({**TINY, "stages": [{"t": 1, "c": 8, "n": 2, "s": 1}, {"t": 6, "c": 32, "n": 3, "s": 2}]})
    scorer = NaswotScorer(tiny.input_size, seed=0)
    first = scorer.score(tiny)
    assert first == NaswotScorer(tiny.input_size, seed=0).score(tiny)
    assert first != scorer.score(wider) and first > 0
    assert "random inputs" in scorer.note


def test_measured_candidates_are_accepted_or_rejected_exactly_by_the_rules(data_dir, monkeypatch):
    """A scripted worker: median = 0.2 ms + 0.05 ms per MMAC, every second design of a worker judged noisy."""
    from explorer.store.results import ResultStore

    scripted_worker(monkeypatch, "noisy-odd", 0.05, 0.2)
    tiny = parse_design(TINY)
    store = ResultStore(data_dir / "results.sqlite")
    start_ms = 0.2 + compute_cost(tiny).macs / 1e6 * 0.05
    request = SearchRequest(seconds=60, top=2, seed=3, attempts=200, budget_ms=1.4 * start_ms)
    r = run_search(tiny, synthetic_profile(threads=1), request, store=store)
    assert r["start"]["measured_ms"] == pytest.approx(start_ms) and r["start"]["latency_source"] == "measured now"
    measured = r["measured_candidates"]
    verdicts = [m["quality"]["verdict"] for m in measured]
    assert verdicts.count("noisy") >= 1 and verdicts.count("ok") >= 1 and r["measure_errors"] == []
    limit = r["budget_ms"] * 1.05
    for m in measured:
        assert m["measured_ms"] == pytest.approx(0.2 + m["macs"] / 1e6 * 0.05)
        ok = m["quality"]["verdict"] == "ok"
        assert m["within_budget"] == (ok and m["measured_ms"] <= limit), m["why"]
        assert m["why"].startswith("noisy" if not ok else "measured within" if m["within_budget"] else "over the")
    accepted = [m["design_hash"] for m in measured if m["within_budget"]]
    assert [c["design_hash"] for c in r["candidates"]] == accepted[:2] and r["candidates"]
    assert [m["design_hash"] for m in r["rejected"]] == [m["design_hash"] for m in measured if not m["within_budget"]]
    # the frontier's measurements correct the model and give the candidates an honest band
    import numpy as np

    ratios = [m["measured_ms"] / m["predicted_ms"] for m in measured if m["quality"]["verdict"] == "ok"]
    assert r["local_correction"] == pytest.approx(float(np.median(ratios)))
    off = [abs(x / r["local_correction"] - 1) * 100 for x in ratios]
    assert r["band_pct"] == pytest.approx(float(np.percentile(off, 90))) and len(ratios) >= 3
    assert r["band_source"] == f"{len(ratios)} clean measurements in this search"
    for c in r["candidates"]:
        assert c["corrected_ms"] == pytest.approx(c["predicted_ms"] * r["local_correction"])
        assert c["band_pct"] == r["band_pct"]
    rows = store.latencies()  # every measurement is stored, the start's included, saying what it was
    assert len(rows) == len(measured) + 1 and {row["protocol"] for row in rows} == {"fake worker; search"}


def test_a_worker_that_dies_is_said_and_does_not_stop_the_result(monkeypatch):
    scripted_worker(monkeypatch, "die", 0.5)
    r = run_search(parse_design(TINY), synthetic_profile(threads=1), SearchRequest(seconds=60, top=2, attempts=200))
    assert r["start"]["measured_ms"] is None and "measuring the start failed" in r["start"]["latency_source"]
    assert r["measure_errors"] == ["the measurement worker failed (exit status 3): boom: the fake worker crashed"] * 2
    assert r["candidates"] == [] and r["measured"] == 0


def test_a_tiny_search_measures_its_candidates_for_real(data_dir):
    """Integration with the real worker; on a noisy host it skips and says why (never passes on nothing)."""
    from explorer.store.results import ResultStore

    tiny = parse_design(TINY)
    store = ResultStore(data_dir / "results.sqlite")
    request = SearchRequest(seconds=40, top=2, seed=3, attempts=200, budget_ms=1e3)
    r = run_search(tiny, synthetic_profile(threads=1), request, store=store)
    assert r["measured"] >= 1 and r["measured"] == len(r["measured_candidates"])
    if not r["candidates"]:
        why = "; ".join(sorted({m["why"] for m in r["measured_candidates"]}))
        pytest.skip(f"host noisy: no candidate was measured clean ({why})")
    for c in r["candidates"]:  # returned only when measured within the budget (+5 %) with a clean verdict
        assert c["measured_ms"] <= r["budget_ms"] * 1.05 and c["quality"]["verdict"] == "ok"
        assert store.latest_latency(c["design_hash"])["median_ms"] == c["measured_ms"]
        assert "measurement service for search" in store.latest_latency(c["design_hash"])["protocol"]


def test_a_naswot_search_honours_its_deadline_in_the_first_population(tiny):
    """The first population is made of NASWOT forward passes too: the time limit holds there."""
    from explorer.search import evolve as evolution

    calls = []

    def evaluate(design, attempt):
        calls.append(attempt)
        return None  # nothing feasible: the walk would try SEED_WALK_ATTEMPTS designs without a deadline

    found, made, stopped = evolution.evolve(
        tiny, SearchSpace.around(tiny), evaluate, attempts=1000, seed=0, deadline=0.0
    )
    assert (found, made, stopped, calls) == ({}, 0, "time limit", [0])  # only the start was evaluated


def test_a_naswot_search_holds_the_host_and_says_its_inputs_are_random(tiny):
    from _lockholder import lock_held_elsewhere

    from explorer.measure.hostlock import HostBusy

    r = screen(tiny, objective="naswot", attempts=15, budget_ms=1e3)
    assert r["candidates"] and "random inputs" in r["objective_note"]
    assert all(c["objective"] > float("-inf") for c in r["candidates"])
    with lock_held_elsewhere("someone measuring"):
        with pytest.raises(HostBusy, match="someone measuring"):
            run_search(
                tiny,
                synthetic_profile(),
                SearchRequest(objective="naswot", measure=False, attempts=5, budget_ms=1e3),
                lock_timeout=0,
            )


def test_a_measured_batch_spreads_over_margins_below_the_budget():
    from explorer.search.run import pick_batch

    d = get_preset("SM_V2")
    # ranked best objective first; predicted latency falls as the objective falls
    pool = [Candidate(d, 0, 0, ms, 100 - i, i) for i, ms in enumerate([9.9, 9.8, 9.4, 9.0, 8.9, 8.4, 8.0, 7.0])]
    batch = pick_batch(pool, budget=10.0, local=1.0, size=4)
    assert [c.predicted_ms for c in batch] == [9.9, 9.4, 9.0, 8.4]  # the best under 100, 95, 90 and 85 %
    # measured slower than predicted (local correction 1.2): only designs still predicted within 10 ms count
    batch = pick_batch(pool, budget=10.0, local=1.2, size=4)
    assert [c.predicted_ms for c in batch] == [8.0, 7.0]  # 8.4 x 1.2 is over the budget
    assert all(c.predicted_ms * 1.2 <= 10.0 for c in batch)


def test_naswot_reads_its_minibatch_from_any_folder_of_images(tmp_path):
    """Its own small reader: nested folders, a damaged file skipped and counted, links not followed."""
    from PIL import Image

    from explorer.search.images import minibatch

    (tmp_path / "a" / "b").mkdir(parents=True)
    for i, where in enumerate([tmp_path / "a", tmp_path / "a" / "b", tmp_path]):
        Image.new("RGB", (40 + i, 30), (i * 60, 10, 200)).save(where / f"img{i}.png")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    (tmp_path / "link.png").symlink_to(tmp_path / "img2.png")
    images, note = minibatch(tmp_path, 32, 16, seed=0)
    assert tuple(images.shape) == (3, 3, 32, 32)
    assert note == f"NASWOT on 3 images from {tmp_path} (1 unreadable skipped)"
    scorer = NaswotScorer(32, tmp_path, seed=0)
    assert scorer.note == note and tuple(scorer.images.shape) == (3, 3, 32, 32)
    (tmp_path / "only").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "only" / "one.png")
    with pytest.raises(UserError, match="NASWOT needs at least 2 readable images; found 1 image files, 0 unreadable"):
        minibatch(tmp_path / "only", 32, 16, seed=0)
