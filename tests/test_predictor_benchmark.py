"""The accuracy benchmark's scoring (benchmarks/predictor_accuracy.py) on synthetic numbers: exact values.

Nothing here is measured: the shares, ranks, noise floor, corrections and goal verdicts the report quotes are
checked against values worked out by hand.
"""

import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import predictor_accuracy as pa  # noqa: E402

from explorer.design.presets import get_preset  # noqa: E402
from explorer.predict import predicted_ms  # noqa: E402
from explorer.predict.model import prior_coefficients  # noqa: E402
from explorer.predict.sampling import heldout_designs  # noqa: E402


def test_within_share_counts_the_limit_itself_and_nothing_above():
    errors = [1.0, 5.0, 5.01, 10.0, 12.0]
    assert pa.within_share(errors, 5) == 40.0
    assert pa.within_share(errors, 10) == 80.0
    assert math.isnan(pa.within_share([], 10))


def test_errors_are_relative_to_the_measurement():
    assert pa.errors_pct([110.0, 95.0, 50.0], [100.0, 100.0, 40.0]) == pytest.approx([10.0, 5.0, 25.0])


def test_ranks_share_ties_and_spearman_matches_the_textbook_formula():
    assert pa.ranks([10.0, 20.0, 20.0, 30.0]) == [1.0, 2.5, 2.5, 4.0]
    # d = [-1, 1, -1, 1, 0]: rho = 1 - 6 * 4 / (5 * 24) = 0.8
    assert pa.spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    assert pa.spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert math.isnan(pa.spearman([1, 2], [1, 2]))  # too few to rank
    assert math.isnan(pa.spearman([1, 2, 3], [5, 5, 5]))  # a constant side has no ranking


def test_scores_of_one_set():
    measured = [100.0, 200.0, 300.0, 400.0, 500.0]
    predicted = [104.0, 184.0, 327.0, 404.0, 560.0]  # errors 4, 8, 9, 1, 12 %
    s = pa.scores(predicted, measured)
    assert s["n"] == 5
    assert s["within_10_pct"] == 80.0
    assert s["within_5_pct"] == 40.0
    assert s["median_error_pct"] == pytest.approx(8.0)
    assert s["worst_error_pct"] == pytest.approx(12.0)
    assert s["spearman"] == pytest.approx(1.0)
    assert pa.scores([], []) == {"n": 0}


def test_flops_baseline_is_least_squares_through_zero():
    # a = (1*2 + 2*5) / (1 + 4) = 2.4
    assert pa.flops_baseline([1.0, 2.0], [2.0, 5.0]) == pytest.approx([2.4, 4.8])


def test_noise_floor_judges_each_measurement_against_its_own_designs_median():
    floor = pa.noise_floor({"a": [100.0, 102.0, 110.0], "b": [50.0, 50.0, 51.0, 60.0], "single": [7.0]})
    # a: median 102 -> 1.96, 0, 7.84 %; b: median 50.5 -> 0.99, 0.99, 0.99, 18.81 %; "single" has no spread
    assert floor["designs"] == 2
    assert floor["measurements"] == 7
    assert floor["within_5_pct"] == pytest.approx(5 / 7 * 100)
    assert floor["within_10_pct"] == pytest.approx(6 / 7 * 100)
    assert floor["median_deviation_pct"] == pytest.approx(0.5 / 50.5 * 100)
    assert floor["worst_deviation_pct"] == pytest.approx(9.5 / 50.5 * 100)
    cv_a = math.sqrt(56 / 2) / 104.0 * 100  # sample stdev / mean: squared deviations 16 + 4 + 36
    cv_b = math.sqrt(70.75 / 3) / 52.75 * 100  # 7.5625 + 7.5625 + 3.0625 + 52.5625
    assert floor["median_cv_pct"] == pytest.approx((cv_a + cv_b) / 2, rel=1e-6)
    assert pa.noise_floor({"x": [1.0]}) == {"designs": 0, "measurements": 0}


def test_leave_one_out_ratios_never_use_the_entrys_own():
    assert pa.leave_one_out_ratios([1.0, None, 2.0, 4.0]) == [3.0, 2.0, 2.5, 1.5]
    assert pa.leave_one_out_ratios([None, 1.2]) == [1.2, None]


def test_goal_verdicts():
    share, calibration = pa.GOALS[0], pa.GOALS[-1]
    assert (share.metric, share.threshold, calibration.metric) == ("within_10_pct", 97.0, "wall_s")
    assert pa.goal_verdict(share, 97.0) == "met"
    assert pa.goal_verdict(share, 96.9) == "not met"
    assert pa.goal_verdict(share, float("nan")) == "no data"
    assert pa.goal_verdict(share, None) == "no data"
    assert pa.goal_verdict(calibration, 59.0) == "met"
    assert pa.goal_verdict(calibration, 60.5) == "not met"
    assert [g.figure for g in pa.GOALS] == ["random", "random", "random", "search", "calibration"]


def test_host_verdict_needs_a_quiet_start_and_few_noisy_measurements():
    assert pa.host_verdict(0.2, 2, 0, 100)[0] is True
    assert pa.host_verdict(0.6, 2, 0, 100)[0] is False  # a quarter of 2 cores is 0.5
    assert pa.host_verdict(0.1, 2, 5, 100)[0] is True  # 5 % noisy: still quiet
    quiet, why = pa.host_verdict(0.1, 2, 6, 100)
    assert quiet is False
    assert "6 of 100 measurements judged noisy" in why


def test_parse_target():
    t = pa.parse_target("torch:2:8")
    assert (t.backend, t.device, t.threads, t.batch) == ("torch", "cpu", 2, 8)
    for bad in ("tensorflow:2:1", "torch:x:1", "torch:2", "torch:0:1"):
        with pytest.raises(SystemExit):
            pa.parse_target(bad)


def renamed(name: str) -> dict:
    return {**get_preset("SM_V2").to_dict(), "name": name}


def test_search_predictions_rebuild_the_searchs_corrections():
    raw = {"SM_V2": 10.0, "c1": 10.0, "c2": 20.0, "c3": 30.0}
    search = {
        "start": "SM_V2",
        "start_measured_ms": 8.0,  # start correction 0.8
        "band_pct": 5.0,
        "entries": [
            {"design": renamed("c1"), "hash": "h1", "returned": True, "search_ms": 8.8, "search_verdict": "ok"},
            {"design": renamed("c2"), "hash": "h2", "returned": True, "search_ms": 16.0, "search_verdict": "ok"},
            {"design": renamed("c3"), "hash": "h3", "returned": False, "search_ms": 24.0, "search_verdict": "noisy"},
        ],
    }
    rows = pa.search_predictions(search, lambda d: raw[d.name])
    assert [r["screened_ms"] for r in rows] == pytest.approx([8.0, 16.0, 24.0])
    # clean ratios 1.1 and 1.0 (the noisy one counts for nobody): frontier correction 1.05
    assert [r["shown_ms"] for r in rows] == pytest.approx([8.4, 16.8, 25.2])
    assert [r["loo_ms"] for r in rows] == pytest.approx([8.0, 17.6, 25.2])
    assert [r["band_pct"] for r in rows] == [5.0, 5.0, 5.0]


def test_score_target_and_report_on_synthetic_measurements(tmp_path):
    profile = {
        "key": {"batch": 1, "backend": "torch", "threads": 2},
        "model": {"coefficients": prior_coefficients(100.0, 10.0, "torch")},
        "fitted_on": [],
        "calibration": {"wall_s": 55.0, "workers": 3},
        "band_pct": 6.0,
    }
    designs = heldout_designs(4, 0)
    factors = [1.0, 1.04, 1.08, 1.25]  # errors 0, 3.85, 7.41, 20 %
    heldout = {
        d.network_hash(): {"name": d.name, "median_ms": predicted_ms(d, profile) * f, "verdict": "ok"}
        for d, f in zip(designs, factors, strict=True)
    }
    noise = {"n": [{"median_ms": v, "verdict": "ok"} for v in (10.0, 10.2, 9.9)]}
    raw = {
        "target": {"backend": "torch", "device": "cpu", "threads": 2, "batch": 1},
        "failures": [],
        "profile": profile,
        "heldout": heldout,
        "presets": {},
        "noise": noise,
        "searches": [],
        "picked": {},
    }
    args = SimpleNamespace(
        designs=4, seed=0, noise_repeats=3, per_worker=1, budget=2.0, search_seconds=60.0, search_top=5
    )
    result = pa.score_target(raw, args)
    model = result["random"]["model"]
    assert model["n"] == 4
    assert model["within_10_pct"] == 75.0
    assert model["within_5_pct"] == 50.0
    assert model["worst_error_pct"] == pytest.approx(20.0)
    assert result["noise"]["measurements"] == 3
    assert result["search"]["loo"]["model"] == {"n": 0}
    text = pa.report([result], {"header": "predictor accuracy", "start_load": 0.1, "cores": 2}, args)
    assert "**Host during the run: quiet**" in text
    assert "| torch, 2 threads, batch 1 | random held-out designs within ±10 % ≥ 97 % | 75.0 % | **not met** |" in text
    assert "| torch, 2 threads, batch 1 | calibration ≤ 60 s | 55.0 s | **met** |" in text
    assert "| torch, 2 threads, batch 1 | search-picked designs within ±10 % ≥ 90 % | – % | **no data** |" in text
    busy = pa.report([result], {"header": "h", "start_load": 1.9, "cores": 2}, args)
    assert "met (busy host: not quotable)" in busy


def test_rescore_refits_the_saved_samples_and_scores_with_the_saved_flags(tmp_path, monkeypatch):
    from explorer.predict.calibrate import build_profile
    from explorer.predict.model import design_row, network_ms
    from explorer.predict.profile import profile_key
    from explorer.predict.sampling import calibration_designs

    prior = prior_coefficients(250.0, 10.0, "onnxruntime")
    samples = [
        {
            "design_hash": d.network_hash(),
            "name": d.name,
            "median_ms": network_ms(prior, design_row(d)),  # a host that follows the roofline prior exactly
            "quality": {"verdict": "ok", "reasons": []},
            "probe_ms": None,
            "design": d,
        }
        for d in calibration_designs(12, 0)
    ]
    key = profile_key("onnxruntime", "cpu", 2, 1)
    profile = build_profile(key, samples, {"peak_gflops": 250.0, "bandwidth_gbs": 10.0}, "onnxruntime", None)
    profile["calibration"] = {"wall_s": 42.0}
    designs = heldout_designs(3, 5)
    heldout = {
        d.network_hash(): {"name": d.name, "median_ms": network_ms(prior, design_row(d)) * f, "verdict": "ok"}
        for d, f in zip(designs, (1.0, 1.07, 1.5), strict=True)
    }
    saved = {
        "run": {
            "header": "predictor accuracy",
            "start_load": 0.0,
            "cores": 2,
            "args": {"designs": 3, "seed": 5, "noise_repeats": 2, "search_seconds": 0.0},
        },
        "targets": [
            {
                "target": {"backend": "onnxruntime", "device": "cpu", "threads": 2, "batch": 1},
                "failures": [],
                "profile": json.loads(json.dumps(profile, default=str)),
                "heldout": heldout,
            }
        ],
    }
    raw_file, out = tmp_path / "raw.json", tmp_path / "report.md"
    raw_file.write_text(json.dumps(saved))
    monkeypatch.setattr(sys, "argv", ["predictor_accuracy.py", "--rescore", str(raw_file), "--out", str(out)])
    pa.main()
    text = out.read_text()
    # the refit of an exact prior recovers it: errors 0, 6.5 and 33 % -> 2 of 3 within ±10 %, 1 of 3 within ±5 %
    assert (
        "| onnxruntime, 2 threads, batch 1 | random held-out, one measurement each | 3 | **66.7 %** | **33.3 %** |"
        in text
    )
    assert "| onnxruntime, 2 threads, batch 1 | calibration ≤ 60 s | 42.0 s | **met** |" in text
    assert "heldout_designs(3, seed=5)" in text
    assert "rescored by:" in text
