"""Classroom: both readings of x2nr, the key ratio as a big number, and a verdict only from trusted measurements."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
OK = {"verdict": "ok", "reasons": []}
NOISY = {"verdict": "noisy", "reasons": ["other processes used 1.6 cores during the timed window"]}


def result(ms: float, quality: dict | None) -> dict:
    r = dict(median_ms=ms, p25_ms=ms * 0.98, p75_ms=ms * 1.03, iqr_ms=ms * 0.05, threads=2)
    return r | ({"quality": quality} if quality is not None else {})


def classroom(step: int, measured: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["class_step"] = step
    if measured:
        at.session_state["class_lat"] = measured
    at.run()
    at.switch_page("explorer/ui/pages/classroom.py").run()
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_both_readings_of_x2nr_and_which_one_the_preset_follows():
    at = classroom(3)
    m = metrics(at)
    assert m["Paper: x2nr FLOPs vs SM_V2"] == "1.20×"  # 186.92 M vs 155.3 M in the paper's own count, as a ratio
    assert m["This preset: x2nr MACs vs SM_V2"] == "2.60×"
    assert "reproduces SM_V2's parameters exactly" in text(at) and "both numbers are shown" in text(at)


def test_key_ratio_is_a_big_number_from_trusted_measurements():
    at = classroom(2, {"MobileNet V2": result(10.0, OK), "SM_V2": result(6.5, OK)})
    m = metrics(at)
    assert m["Time here, SM_V2 / MobileNet V2"] == "0.65×"
    assert m["Paper, CPU"] == "0.70×"  # short values: none cut short on a projector
    assert "Paper, GPU: 0.69×" in [c.value for c in at.caption]


def test_a_noisy_measurement_gives_no_ratio_and_says_why():
    at = classroom(2, {"MobileNet V2": result(10.0, NOISY), "SM_V2": result(6.5, OK)})
    assert "Time here, SM_V2 / MobileNet V2" not in metrics(at)
    assert "**MobileNet V2** is not trusted (other processes used 1.6 cores" in text(at)


def test_verdict_only_from_trusted_measurements():
    trusted = classroom(5, {"SM_V2": result(6.0, OK), "SM_V2_x2nr": result(7.0, OK)})
    assert "took 1.17× the time on this host — less than its MACs predict" in text(trusted)
    noisy = classroom(5, {"SM_V2": result(6.0, OK), "SM_V2_x2nr": result(7.0, NOISY)})
    assert "No verdict from untrusted numbers" in text(noisy) and "took" not in text(noisy)
    big = [m.value for m in noisy.markdown if m.value.startswith("<div") and "No verdict" in m.value]
    assert len(big) == 1 and "<b>SM_V2_x2nr</b> is not trusted" in big[0] and "**" not in big[0]  # HTML: no **
    again = [b for b in noisy.button if b.label == "Measure SM_V2_x2nr again"]
    assert len(again) == 1 and not again[0].disabled  # "measure again" has a button that works
    assert not [b for b in noisy.button if b.key in ("cls_m1", "cls_m2") and b.disabled]
    old = classroom(5, {"SM_V2": result(6.0, OK), "SM_V2_x2nr": result(7.0, None)})  # stored before quality
    assert "No verdict from untrusted numbers" in text(old) and "not judged" in text(old)


def test_what_skips_cost_on_each_runtime_from_stored_trusted_measurements(data_dir):
    from explorer.design.presets import get_preset
    from explorer.store.results import ResultStore

    sm = get_preset("SM_V2")
    store = ResultStore(data_dir / "results.sqlite")
    row = dict(device="cpu", batch=1, threads=2, input_size=224, quality=OK)
    store.add_latency(sm, row | dict(backend="torch", median_ms=6.6))
    store.add_latency(sm.with_skips(False), row | dict(backend="torch", median_ms=6.0))
    store.add_latency(sm, row | dict(backend="onnxruntime", median_ms=4.0))
    store.add_latency(sm.with_skips(False), row | dict(backend="onnxruntime", median_ms=4.4, quality=NOISY))
    at = classroom(5)
    table = next(d.value for d in at.dataframe if "runtime" in d.value.columns)
    assert list(table["runtime"]) == ["PyTorch (eager), 2 threads", "ONNX Runtime"]
    assert list(table["the 3 skips cost"]) == ["+0.60 ms (+10.0%)", "not measured"]  # a noisy row never counts
