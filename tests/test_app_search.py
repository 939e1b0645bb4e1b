"""The Search page in AppTest: a missing profile, then a short real search with its chart, table and actions."""

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer.measure.hostinfo import physical_cores
from explorer.predict.model import prior_coefficients
from explorer.predict.profile import profile_key
from explorer.store.results import ResultStore

ROOT = Path(__file__).resolve().parent.parent


def search_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("explorer/ui/pages/search.py").run()
    assert not at.exception, at.exception
    return at


def test_without_a_profile_the_page_asks_for_a_calibration():
    at = search_page()
    assert any("calibrate this host first" in w.value for w in at.warning)
    assert [b for b in at.button if b.label == "Calibrate this host"]
    assert not [b for b in at.button if b.label == "Search"]


def test_a_short_search_shows_its_chart_table_and_actions(data_dir):
    key = profile_key("torch", "cpu", physical_cores(), 1)
    profile = {"key": key, "model": {"coefficients": prior_coefficients(50.0, 10.0, "torch")}, "band_pct": 10.0}
    ResultStore(data_dir / "results.sqlite").add_profile(key, profile)
    at = search_page()
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
    if job.result["candidates"]:
        table = next(d.value for d in at.dataframe if "predicted ms" in d.value.columns)
        assert len(table) == len(job.result["candidates"])
        at.button(key="search_pin_1").click().run()
        assert not at.exception
        assert len(at.session_state["pinned"]) == 1
    else:
        assert any("No candidate was measured" in w.value for w in at.warning)
