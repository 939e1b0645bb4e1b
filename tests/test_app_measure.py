"""The Latency panel in AppTest: a worker-process measurement, what stays on screen after it, quality notices."""

import json
import re
from pathlib import Path

import pytest
from app_helpers import open_tab
from scripted_worker import scripted_worker
from streamlit.testing.v1 import AppTest

from explorer.design.presets import get_preset
from explorer.store.results import ResultStore

ROOT = Path(__file__).resolve().parent.parent


def fake_result(backend: str, median_ms: float, verdict: str, reasons=()) -> dict:
    return {
        "backend": backend,
        "device": "cpu",
        "batch": 1,
        "threads": 2,
        "input_size": 224,
        "median_ms": median_ms,
        "p25_ms": median_ms * 0.98,
        "p75_ms": median_ms * 1.02,
        "iqr_ms": median_ms * 0.04,
        "runs": 100,
        "per_image_ms": median_ms,
        "device_name": "test CPU",
        "timestamp": "2026-11-30T12:00:00+0000",
        "protocol": "simulated",
        "quality": {"verdict": verdict, "reasons": list(reasons), "dispersion": 0.04, "median_ci95_pct": 0.5},
    }


def app() -> AppTest:
    """The Design page with its Latency tab open (the page draws only the open tab)."""
    at = open_tab(AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run(), "Latency on this host")
    assert not at.exception
    return at


def test_a_finished_measurement_leaves_no_cancel_button_or_progress_bar(monkeypatch, data_dir):
    from explorer.design.cost import compute_cost

    scripted_worker(monkeypatch, "ok")
    at = app()
    at.slider(key="m_budget").set_value(1.0).run()
    at.button(key="m_go").click().run()
    assert not at.exception and not at.error
    expected = compute_cost(get_preset("SM_V2")).macs / 1e6 * 0.01  # the scripted worker's median (SM_V2 on screen)
    latency = next(m for m in at.metric if m.label == "Median latency")
    assert latency.value == f"{expected:.2f} ms" and not latency.delta  # no "noisy" beside it
    assert not [b for b in at.button if b.label == "Cancel measurement"]
    assert not at.get("progress")
    assert any(c.value.startswith("Quality: ok") for c in at.caption)
    (row,) = ResultStore(data_dir / "results.sqlite").latencies()
    assert row["protocol"] == "fake worker; app" and row["median_ms"] == pytest.approx(expected)


def test_a_worker_that_dies_is_one_error_line_on_the_page(monkeypatch):
    scripted_worker(monkeypatch, "die")
    at = app()
    at.button(key="m_go").click().run()
    errors = [e.value for e in at.error]
    assert errors == [
        "Measurement failed: the measurement worker failed (exit status 3): boom: the fake worker crashed"
    ]


def test_a_noisy_result_is_flagged_with_its_reason_and_a_measure_again_button(data_dir):
    sm = get_preset("SM_V2")
    why = "other processes used 1.70 of 2 cores while timing; 2 threads needed 2 free"
    ResultStore(data_dir / "results.sqlite").add_latency(sm, fake_result("torch", 40.0, "noisy", [why]))
    at = app()
    warning = " ".join(w.value for w in at.warning)
    assert "Noisy measurement" in warning and why in warning
    assert [b for b in at.button if b.label == "Measure again"]
    latency = next(m for m in at.metric if m.label == "Median latency")
    assert latency.value == "40.00 ms" and latency.delta == "noisy"


def test_both_backends_measured_cleanly_show_which_is_faster(data_dir):
    sm = get_preset("SM_V2")
    store = ResultStore(data_dir / "results.sqlite")
    store.add_latency(sm, fake_result("torch", 8.8, "ok"))
    store.add_latency(sm, fake_result("onnxruntime", 2.2, "ok"))
    at = app()
    info = " ".join(i.value for i in at.info)
    assert "ONNX Runtime is 4.0× faster than PyTorch (eager) for this design on this host" in info


def test_no_backend_ratio_from_a_noisy_number(data_dir):
    sm = get_preset("SM_V2")
    store = ResultStore(data_dir / "results.sqlite")
    store.add_latency(sm, fake_result("torch", 8.8, "noisy", ["x"]))
    store.add_latency(sm, fake_result("onnxruntime", 2.2, "ok"))
    at = app()
    assert not any("faster" in i.value for i in at.info)
    assert any("not both cleanly" in c.value for c in at.caption)


def test_the_latency_tab_predicts_and_explains_with_a_profile(data_dir):
    from explorer.measure.hostinfo import physical_cores
    from explorer.predict.model import prior_coefficients
    from explorer.predict.profile import profile_key

    key = profile_key("torch", "cpu", physical_cores(), 1)
    profile = {
        "key": key,
        "model": {"coefficients": prior_coefficients(50.0, 10.0, "torch")},
        "band_pct": 8.0,
        "roofs": {"peak_gflops": 50.0, "bandwidth_gbs": 10.0},
        "created": "2026-11-30T12:00:00+0000",
    }
    ResultStore(data_dir / "results.sqlite").add_profile(key, profile)
    at = app()
    predicted = [m for m in at.metric if m.label == "Predicted latency"]
    assert predicted and predicted[0].value.endswith(" ms")  # the band is in the caption: the value stays whole
    assert any("predicted latency ±8 %" in c.value for c in at.caption)
    assert re.fullmatch(r"[+-]\d+\.\d\d ms \([+−][\d.]+%\)", predicted[0].delta)  # against the row's baseline
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]
    assert any("roofline" in t.lower() for t in titles)
    assert [b for b in at.button if b.label == "Calibrate again"]
    open_tab(at, "Per-layer table")
    table = next(d.value for d in at.dataframe if "kind" in d.value.columns)
    assert table["predicted ms"].notna().all() and set(table["bound"]) <= {"compute", "memory", "overhead"}


def test_without_a_profile_the_latency_tab_offers_a_calibration():
    at = app()
    assert [b for b in at.button if b.label == "Calibrate this host"]
    assert any(m.label == "Predicted latency" and m.value == "—" for m in at.metric)


def test_charts_and_classroom_explain_the_flops_gap_with_a_profile(data_dir):
    from explorer.measure.hostinfo import physical_cores
    from explorer.predict.model import prior_coefficients
    from explorer.predict.profile import profile_key

    key = profile_key("torch", "cpu", physical_cores(), 1)
    profile = {"key": key, "model": {"coefficients": prior_coefficients(50.0, 10.0, "torch")}, "band_pct": 8.0}
    ResultStore(data_dir / "results.sqlite").add_profile(key, profile)
    at = app()
    at.switch_page("explorer/ui/pages/charts.py").run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Why, per the latency model calibrated here:" in text and "SM_V2_x2nr has" in text


def test_without_a_profile_the_gap_asks_for_a_calibration():
    at = app()
    at.switch_page("explorer/ui/pages/charts.py").run()
    assert any("latency model explains this gap" in c.value for c in at.caption)


def test_the_fine_tune_accuracy_axis_has_round_ticks():
    from explorer.ui.train_page import _curves

    events = [
        {"event": "step", "step": 1, "loss": 4.6},
        {"event": "eval", "step": 1, "val": {"top1": 27.7}},
        {"event": "eval", "step": 2, "val": {"top1": 89.0}},
    ]
    axis = _curves(events).layout.yaxis2
    assert (axis.tickmode, axis.tick0, axis.dtick, tuple(axis.range)) == ("linear", 0, 20, (0, 100))


def test_compare_shows_the_newest_trusted_latency_not_a_newer_noisy_one(data_dir):
    from explorer.ui.compare_page import _latency_cells

    sm = get_preset("SM_V2")
    store = ResultStore(data_dir / "results.sqlite")
    store.add_latency(sm, fake_result("torch", 6.97, "ok"))
    store.add_latency(sm, fake_result("torch", 314.7, "noisy", ["other processes used 1.44 of 2 cores"]))
    assert _latency_cells(store, sm)[0] == "6.97 ms"
    only_noisy = get_preset("MobileNet V2")
    store.add_latency(only_noisy, fake_result("torch", 220.0, "noisy", ["x"]))
    assert _latency_cells(store, only_noisy)[0] == "220.00 ms (noisy)"


def test_after_calibrating_the_page_shows_the_calibrated_state_at_once(monkeypatch, data_dir):
    """Issue 20: no 'not calibrated' left on screen after a calibration succeeds; the set-aside networks said."""
    from explorer.predict import calibrate as calibration
    from explorer.predict.sampling import calibration_designs

    scripted_worker(monkeypatch, "noisy-odd")  # every other network is judged noisy: 3 of 7 are set aside
    monkeypatch.setattr(calibration, "calibration_designs", lambda n, seed=0: calibration_designs(7, seed))
    at = app()
    assert any(m.label == "Predicted latency" and m.value == "—" for m in at.metric)
    next(b for b in at.button if b.label == "Calibrate this host").click().run()
    assert not at.exception and not at.error
    predicted = next(m for m in at.metric if m.label == "Predicted latency")
    assert predicted.value.endswith(" ms")  # the prediction is there without leaving the page
    assert [b for b in at.button if b.label == "Calibrate again"]
    assert not [b for b in at.button if b.label == "Calibrate this host"]
    (done,) = [s.value for s in at.success if s.value.startswith("Calibrated")]
    assert "measured 7 networks, fitted on 4; set aside: 3 noisy: samples spread widely" in done
