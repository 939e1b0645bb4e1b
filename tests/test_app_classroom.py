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
    assert m["Paper: x2nr FLOPs vs SM_V2"] == "+20%"  # 186.92 M vs 155.3 M in the paper's own count
    assert m["This preset: x2nr MACs vs SM_V2"] == "2.60×"
    assert "reproduces SM_V2's parameters exactly" in text(at) and "both numbers are shown" in text(at)


def test_key_ratio_is_a_big_number_from_trusted_measurements():
    at = classroom(2, {"MobileNet V2": result(10.0, OK), "SM_V2": result(6.5, OK)})
    m = metrics(at)
    assert m["Time here, SM_V2 / MobileNet V2"] == "0.65×"
    assert m["Time in the paper"] == "0.70× CPU · 0.69× GPU"


def test_a_noisy_measurement_gives_no_ratio_and_says_why():
    at = classroom(2, {"MobileNet V2": result(10.0, NOISY), "SM_V2": result(6.5, OK)})
    assert "Time here, SM_V2 / MobileNet V2" not in metrics(at)
    assert "**MobileNet V2** is not trusted (other processes used 1.6 cores" in text(at)


def test_verdict_only_from_trusted_measurements():
    trusted = classroom(5, {"SM_V2": result(6.0, OK), "SM_V2_x2nr": result(7.0, OK)})
    assert "took 1.17× the time on this host — less than its MACs predict" in text(trusted)
    noisy = classroom(5, {"SM_V2": result(6.0, OK), "SM_V2_x2nr": result(7.0, NOISY)})
    assert "No verdict from untrusted numbers" in text(noisy) and "took" not in text(noisy)
    old = classroom(5, {"SM_V2": result(6.0, OK), "SM_V2_x2nr": result(7.0, None)})  # stored before quality
    assert "No verdict from untrusted numbers" in text(old) and "not judged" in text(old)
