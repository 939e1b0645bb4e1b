"""The Search page in AppTest: a missing profile, a short real search, and (with the search replaced by a fixed
result) every measured candidate listed with its verdict, advice that names the cause, and settings kept."""

import json

import pytest
from app_helpers import button, new_app, page

import explorer.ui.search_page as search_page
from explorer.design.align import global_diff, stage_diff
from explorer.design.cost import compute_cost
from explorer.design.presets import get_preset
from explorer.measure.hostinfo import physical_cores
from explorer.predict.model import prior_coefficients
from explorer.predict.profile import profile_key
from explorer.store.results import ResultStore


@pytest.fixture
def profiled(data_dir):
    key = profile_key("torch", "cpu", physical_cores(), 1)
    profile = {"key": key, "model": {"coefficients": prior_coefficients(50.0, 10.0, "torch")}, "band_pct": 10.0}
    ResultStore(data_dir / "results.sqlite").add_profile(key, profile)


def search_page_app():
    return page(new_app(), "search")


def test_without_a_profile_the_page_asks_for_a_calibration():
    at = search_page_app()
    assert any("calibrate this host first" in w.value for w in at.warning)
    assert [b for b in at.button if b.label == "Calibrate this host"]
    assert not [b for b in at.button if b.label == "Search"]


def test_a_short_real_search_draws_its_chart(profiled):
    at = search_page_app()
    at.slider(key="s_seconds").set_value(20).run()
    at.number_input(key="s_top").set_value(1).run()
    at.button(key="s_go").click().run()
    assert not at.exception, at.exception
    job = at.session_state["search_job"]
    assert job.wait(180), "the search did not end"
    at.run()
    assert not at.exception, at.exception
    assert job.error is None and job.result["screened"] > 0
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    fig = next(f for f in figs if "Design search" in f["layout"]["title"]["text"])
    names = {t.get("name", "") for t in fig["data"]}
    assert any(n.startswith("start") for n in names) and any(n.startswith("paper's presets") for n in names)


# -- a fixed result: what the page makes of each kind of outcome ---------------------------------------------
START = get_preset("SM_V2")


def _candidate(c: int, measured_ms: float | None, verdict: str | None, within: bool | None, reasons=()) -> dict:
    stages = list(START.stages)
    stages[1] = stages[1].__class__(stages[1].t, c, stages[1].n, stages[1].s)
    design = START.with_changes(name=f"SM_V2 c{c}", stages=tuple(stages))
    cost = compute_cost(design)
    return {
        "name": design.name,
        "design_hash": design.network_hash(),
        "design": design.to_dict(),
        "params": cost.params,
        "macs": cost.macs,
        "predicted_ms": 5.0,
        "objective": float(cost.params),
        "measured_ms": measured_ms,
        "quality": None if verdict is None else {"verdict": verdict, "reasons": list(reasons)},
        "within_budget": within,
        "stage_diff": stage_diff(START, design),
        "global_diff": global_diff(START, design),
        "dominates_start": False,
    }


def fixed_result(candidates: list[dict], rejected: list[dict], start_measured: float | None = 6.0) -> dict:
    cost = compute_cost(START)
    return {
        "start": {
            "name": START.name,
            "design_hash": START.network_hash(),
            "params": cost.params,
            "macs": cost.macs,
            "predicted_ms": 6.2,
            "measured_ms": start_measured,
            "latency_source": "measured now" if start_measured else "predicted",
            "objective": float(cost.params),
        },
        "budget_ms": 6.0,
        "budget_source": "the start design's own latency",
        "noise_allowance_pct": 3.0,
        "model_correction": 1.0 if start_measured is None else 0.97,
        "local_correction": 1.0,
        "objective": "params",
        "objective_note": "exact, from the cost model",
        "seed": 0,
        "space": {},
        "profile": {"backend": "torch", "device": "cpu", "threads": physical_cores(), "batch": 1},
        "screened": 500,
        "feasible": 120,
        "screening_stopped_by": "time",
        "measured": len(candidates) + len(rejected),
        "rejected": rejected,
        "candidates": candidates,
        "front": [],
        "elapsed_s": 1.0,
    }


def run_fixed(monkeypatch, result: dict):
    monkeypatch.setattr(search_page, "run_search", lambda *args, **kwargs: result)
    at = search_page_app()
    at.button(key="s_go").click().run()
    assert at.session_state["search_job"].wait(30)
    at.run()
    assert not at.exception, at.exception
    return at


def test_every_measured_candidate_is_listed_with_its_verdict_and_reason(profiled, monkeypatch):
    kept = _candidate(24, 5.5, "ok", True)
    noisy = _candidate(32, 5.0, "noisy", False, ["other processes used 0.40 of 2 cores"])
    slow = _candidate(40, 7.1, "ok", False)
    at = run_fixed(monkeypatch, fixed_result([kept], [noisy, slow]))
    table = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert list(table["verdict"]) == ["kept", "noisy", "over budget"]
    assert table["why"].iloc[1] == "other processes used 0.40 of 2 cores"
    assert table["why"].iloc[2] == "7.10 ms measured > 6.00 ms budget"
    assert next(m for m in at.metric if m.label == "Kept within budget").value == "1 of 3 measured"
    assert not at.warning  # something was kept: no advice
    diff = next(d.value for d in at.dataframe if "changes" in d.value.columns)
    assert list(diff["stage"])[:2] == ["1 → 1", "2 → 2"] and "None" not in diff.to_string()
    button(at, "Pin").click().run()
    assert list(at.session_state["pinned"]) == ["SM_V2 c24"]


def test_all_noisy_advice_names_the_busy_host_not_the_budget(profiled, monkeypatch):
    rejected = [_candidate(c, 5.0, "noisy", False, ["spread too wide"]) for c in (24, 32)]
    at = run_fixed(monkeypatch, fixed_result([], rejected))
    (advice,) = [w.value for w in at.warning]
    assert advice.startswith("All 2 measured candidates were judged noisy")
    assert "larger budget would not help" in advice
    table = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert list(table["verdict"]) == ["noisy", "noisy"]


def test_all_over_budget_advice_names_the_optimistic_model(profiled, monkeypatch):
    at = run_fixed(monkeypatch, fixed_result([], [_candidate(24, 6.9, "ok", False), _candidate(32, 7.4, "ok", False)]))
    (advice,) = [w.value for w in at.warning]
    assert advice.startswith("All 2 measured candidates were slower than the budget (fastest 6.90 ms")


def test_an_unmeasured_start_does_not_claim_a_correction(profiled, monkeypatch):
    at = run_fixed(monkeypatch, fixed_result([_candidate(24, 5.5, "ok", True)], [], start_measured=None))
    captions = " ".join(c.value for c in at.caption)
    assert "the model was not corrected (the start was not measured)" in captions
    assert "corrected by ×" not in captions


def test_settings_are_kept_when_leaving_the_page(profiled):
    at = search_page_app()
    at.slider(key="s_seconds").set_value(120).run()
    at.number_input(key="s_seed").set_value(7).run()
    page(at, "design")
    page(at, "search")
    assert at.slider(key="s_seconds").value == 120 and at.number_input(key="s_seed").value == 7


def test_no_polling_fragment_without_a_running_search(profiled, monkeypatch):
    drawn = []
    real = search_page.st.fragment

    def spy(*args, **kwargs):
        drawn.append(kwargs.get("run_every"))
        return real(*args, **kwargs)

    monkeypatch.setattr(search_page.st, "fragment", spy)
    at = run_fixed(monkeypatch, fixed_result([_candidate(24, 5.5, "ok", True)], []))
    drawn.clear()
    at.run()
    assert drawn == []  # the job has ended: nothing polls the idle page
