"""Compare page and explorer.design.align: real residual adds, stages aligned so removals read as removals,
readable numbers, no raw None, one entry per network."""

from pathlib import Path

import pytest
from app_helpers import button, edit, new_app, page
from streamlit.testing.v1 import AppTest

from explorer.design.align import align_stages, stage_diff
from explorer.design.plan import residual_adds
from explorer.design.presets import get_preset

ROOT = Path(__file__).resolve().parent.parent


def test_residual_adds_count_blocks_that_add_not_skip_flags():
    assert residual_adds(get_preset("MobileNet V2")) == 10  # 17 blocks have the flag set
    assert residual_adds(get_preset("SM_V2")) == 3  # 9 blocks have the flag set
    assert residual_adds(get_preset("SM_V2_x2nr")) == 0


def test_the_removed_96_channel_stage_reads_as_removed():
    rows = stage_diff(get_preset("MobileNet V2"), get_preset("SM_V2_x2nr"))
    removed = [r for r in rows if r["status"] == "removed"]
    assert len(removed) == 1 and removed[0]["from_stage"] == 4 and "c=96" in removed[0]["changes"]
    assert not any(r["status"] == "added" for r in rows)
    pairs = [(r["from_stage"], r["to_stage"]) for r in rows]
    assert pairs == [(0, 0), (1, 1), (2, 2), (3, 3), (4, None), (5, 4), (6, 5)]
    assert not any("s: 1 → 2" in r["changes"] or "s: 2 → 1" in r["changes"] for r in rows)


def test_the_other_way_round_it_is_added():
    rows = stage_diff(get_preset("SM_V2"), get_preset("MobileNet V2"))
    added = [r for r in rows if r["status"] == "added"]
    assert [(r["from_stage"], r["to_stage"]) for r in added] == [(None, 4)]


def test_alignment_of_equal_tables_is_one_to_one_and_deltas_add_up():
    sm = get_preset("SM_V2")
    assert align_stages(sm.stages, sm.stages) == [(i, i) for i in range(len(sm.stages))]
    a, b = get_preset("MobileNet V2"), get_preset("SM_V2_x2nr")
    from explorer.design.cost import compute_cost

    head = lambda d: sum(lc.macs for lc in compute_cost(d).layers if not lc.layer.block)  # noqa: E731
    total = sum(r["macs_delta"] for r in stage_diff(a, b))
    assert total == compute_cost(b).macs - compute_cost(a).macs - (head(b) - head(a))


@pytest.fixture
def compare_page():
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    app.switch_page("explorer/ui/pages/compare.py").run()
    assert not app.exception
    return app


def test_compare_page_numbers_are_readable_and_complete(compare_page):
    at = compare_page
    overview = at.dataframe[0].value
    assert list(overview["design"]) == ["current: SM_V2 (preset)", "preset: MobileNet V2"]  # no duplicate SM_V2
    assert list(overview["residual adds"]) == [3, 10]
    assert overview["params"].iloc[0] == "1,538,372"
    text = overview.astype(str).to_string()
    assert "None" not in text and "nan" not in text
    diff = next(d.value for d in at.dataframe if "changes" in d.value.columns)
    assert "None" not in diff.astype(str).to_string()
    assert any(v.startswith(("+", "-")) and "," in v for v in diff["Δ MACs"])  # thousands separators
    assert "removed" in set(diff["status"])  # MobileNet V2 → SM_V2 loses the 96-channel stage
    assert any("residual adds -7 (10 → 3)" in m.value for m in at.markdown)


def test_every_preset_is_listed_once(compare_page):
    options = compare_page.multiselect(key="compare_sel").options
    assert len(options) == len(set(options))
    assert "preset: SM_V2" not in options  # it is the design being edited, listed as current


def test_pin_and_compare():
    at = new_app()
    edit(at, {1: {"c": "24"}})
    button(at, "Pin for comparison").click().run()
    page(at, "compare")
    table = at.dataframe[0].value
    assert "current: SM_V2 (edited) (pinned)" in list(table["design"])  # the pin is the design being edited
    at.multiselect(key="compare_sel").select("preset: SM_V2").run()
    at.selectbox(key="diff_a").set_value("preset: SM_V2").run()
    at.selectbox(key="diff_b").set_value("current: SM_V2 (edited) (pinned)").run()
    diff = next(d.value for d in at.dataframe if "changes" in d.value.columns)
    assert list(diff["changes"]) == ["—", "c: 16 → 24", "—", "—", "—", "—"]
    assert diff["Δ params"].iloc[1].startswith("+") and diff["Δ params"].iloc[0] == "+0"
