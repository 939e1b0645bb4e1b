"""The Design page tells the truth about the table: named problems for bad cells, the cost cap checked live,
actions refused with the reason, the skip switch showing what the design does, and tools that keep their place."""

import pytest
from app_helpers import button, edit, errors, metrics, number_input, open_tab, toggle

from explorer.design.cost import compute_cost
from explorer.design.presets import get_preset
from explorer.errors import UserError
from explorer.fmt import si
from explorer.ui.widgets import delta_text, percent_text


@pytest.mark.parametrize(
    "cell, problem",
    [
        ({"c": "0"}, "row 2, c: must be from 1 to 4096, got 0"),
        ({"s": "3"}, "row 2, s: must be one of 1, 2, got 3"),
        ({"c": "abc"}, 'row 2, c: must be an integer from 1 to 4096, got "abc"'),
        ({"n": "999"}, "row 2, n: must be from 1 to 32, got 999"),  # not silently clamped to 32
        ({"t": "2.5"}, "row 2, t: must be an integer from 1 to 32, got 2.5"),
        ({"c": ""}, "row 2, c: is required"),  # an emptied cell is named, not reverted
    ],
)
def test_bad_cells_get_the_validators_named_message_one_per_line(at, cell, problem):
    valid = metrics(at)
    edit(at, {1: cell})
    assert problem in errors(at)  # its own line, word for word the upload message
    assert metrics(at) == valid  # the last valid numbers stay (greyed)
    assert button(at, "Pin for comparison").disabled


def test_two_bad_cells_are_two_lines(at):
    edit(at, {1: {"s": "3"}, 2: {"c": "abc"}})
    assert "row 2, s: must be one of 1, 2, got 3" in errors(at)
    assert 'row 3, c: must be an integer from 1 to 4096, got "abc"' in errors(at)


def test_the_grid_does_not_clamp_or_type_the_number_cells():
    from explorer.design.presets import get_preset
    from explorer.ui.design_page import NUMBER_FIELDS, stage_columns
    from explorer.ui.table import design_to_rows

    columns = stage_columns(design_to_rows(get_preset("SM_V2")))
    for f in NUMBER_FIELDS:
        cfg = columns[f]
        assert cfg["type_config"]["type"] == "text"
        assert "min_value" not in cfg["type_config"] and "max_value" not in cfg["type_config"]


def test_cost_cap_is_checked_live_and_refuses_pin_measure_export(at):
    edit(at, {5: {"t": "32", "c": "4096", "n": "32"}})
    sm = get_preset("SM_V2")
    widest = sm.stages[5].__class__(32, 4096, 32, 1, out_act="relu6")
    big = compute_cost(sm.with_changes(stages=(*sm.stages[:5], widest)))
    assert metrics(at)["MACs"] == si(big.macs)  # the numbers are of the design itself: analytic, so still right
    lines = errors(at)
    assert any(ln.startswith("design:") and "G MACs is over the cap of 20 G MACs" in ln for ln in lines)
    assert any(ln.startswith("design:") and "M params is over the cap of 200 M params" in ln for ln in lines)
    assert not any("\n" in ln for ln in lines)  # one problem per line, never a run-on line
    assert button(at, "Pin for comparison").disabled
    open_tab(at, "Latency on this host")
    assert button(at, "Measure on this host").disabled
    open_tab(at, "Export")
    assert button(at, "Build ONNX").disabled
    downloads = at.get("download_button")
    assert len(downloads) == 2 and all(b.proto.disabled for b in downloads)
    assert any("Over the cost cap" in c.value for c in at.caption)  # the reason, beside the disabled actions


def test_a_failed_measurement_keeps_the_page_and_the_export_tab(at, monkeypatch):
    import explorer.ui.measure_panel as measure_panel

    def refuse(*args, **kwargs):
        raise UserError("host is busy: another measurement holds the host lock\nsecond line")

    monkeypatch.setattr(measure_panel, "render", refuse)
    open_tab(at, "Latency on this host")
    assert "host is busy: another measurement holds the host lock" in errors(at)  # its first line, once
    assert metrics(at)["Params"] == si(1_538_372)  # the rest of the page is drawn
    open_tab(at, "Export")
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Standalone .py", "Design JSON"]
    assert button(at, "Build ONNX")


def test_skip_switch_reflects_the_design(at):
    assert toggle(at, "Skip connections").value
    assert any(c.value.startswith("3 of 9 blocks add a skip") for c in at.caption)
    at.selectbox(key="source").set_value("SM_V2_x2nr").run()
    assert not toggle(at, "Skip connections").value  # x2nr has no skips: the switch says so
    assert any(c.value.startswith("0 of 9 blocks add a skip") for c in at.caption)
    toggle(at, "Skip connections").set_value(True).run()  # on: every stage asks for its skip
    assert any(c.value.startswith("3 of 9 blocks add a skip") for c in at.caption)
    assert toggle(at, "Skip connections").value


def test_skip_switch_keeps_each_stages_own_value(at):
    edit(at, {2: {"skip": False}})
    assert any(c.value.startswith("2 of 9 blocks add a skip") for c in at.caption)
    toggle(at, "Skip connections").set_value(False).run()
    assert any(c.value.startswith("0 of 9 blocks add a skip") for c in at.caption)
    toggle(at, "Skip connections").set_value(True).run()
    assert any(c.value.startswith("2 of 9 blocks add a skip") for c in at.caption)  # stage 2 stayed off


def test_move_up_takes_the_stage_selector_with_the_stage(at):
    sm = get_preset("SM_V2")
    number_input(at, "Stage").set_value(4).run()  # stages count from 1, as in the problem lines
    button(at, "Move up").click().run()
    assert number_input(at, "Stage").value == 3  # still pointing at the stage that moved
    button(at, "Move up").click().run()
    assert number_input(at, "Stage").value == 2
    button(at, "Delete").click().run()  # deletes the moved stage (sm.stages[3]), not whichever is now at 3
    expected = sm.with_changes(stages=sm.stages[:3] + sm.stages[4:])
    assert metrics(at)["Params"] == si(compute_cost(expected).params)


def test_pinned_list_in_the_sidebar_is_current_on_the_same_run(at):
    button(at, "Pin for comparison").click().run()
    assert any(c.value == "Pinned: SM_V2" for c in at.sidebar.caption)
    assert "pinned: SM_V2" in at.selectbox(key="baseline").options


def test_small_changes_never_read_as_zero_percent():
    assert percent_text(0.004) == "+0.4%"
    assert percent_text(-0.0004) == "−<0.1%"
    assert percent_text(0.25) == "+25%"
    assert delta_text(1001, 1000) == "+1 (+0.1%)"
    assert delta_text(1000, 1000) == "same as baseline"
    assert delta_text(999_999, 1_000_000) == "-1 (−<0.1%)"
    assert percent_text(-0.997) == "−99.7%"  # the Blank table against MobileNet V2: never "−100%" for a rest
    assert percent_text(-1.0) == "−100%"


def test_the_latency_tabs_target_is_kept_while_another_tab_is_open(at):
    open_tab(at, "Latency on this host")
    at.number_input(key="m_batch").set_value(4).run()
    open_tab(at, "Diagram")  # the Latency tab is not drawn now: its widgets would lose their values
    open_tab(at, "Per-layer table")
    assert at.session_state["m_batch"] == 4  # the metrics row still predicts for the chosen target
    open_tab(at, "Latency on this host")
    assert at.number_input(key="m_batch").value == 4


def test_only_the_open_tab_is_drawn(at):
    assert len(at.get("plotly_chart")) == 1  # the diagram; no roofline, no export files built
    assert not at.get("download_button") and not [b for b in at.button if b.label == "Measure on this host"]
    open_tab(at, "Export")
    assert not at.get("plotly_chart") and len(at.get("download_button")) == 2


def test_a_setting_problem_is_not_called_a_table_problem_and_is_named_by_its_label(at):
    number_input(at, "Input size").set_value(8).run()
    assert errors(at) == [
        "The design has a problem; the numbers below are of the last valid design, greyed.",
        "Input size: must be at least the total stride 32 of the stem and stages, got 8",
    ]


def test_problems_count_rows_from_one_as_the_row_tools_do():
    from explorer.ui.design_page import readable_problem

    assert readable_problem("stages[0].c: must be from 1 to 4096, got 0") == "row 1, c: must be from 1 to 4096, got 0"
    assert readable_problem("stages[3]: unknown key 'x'") == "row 4: unknown key 'x'"
    assert readable_problem("num_classes: must be from 1 to 100000, got 0").startswith("Classes: must be")
    assert readable_problem("design: 25 G MACs is over the cap") == "design: 25 G MACs is over the cap"
