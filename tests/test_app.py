"""Headless tests of every page and control with streamlit.testing.v1.AppTest."""

import json

from app_helpers import button, edit, errors, metrics, number_input, open_tab, page, toggle

from explorer.design.cost import compute_cost
from explorer.design.presets import get_preset
from explorer.fmt import si


def layer_df(app):
    if not [d for d in app.dataframe if "kind" in d.value.columns]:
        open_tab(app, "Per-layer table")
    return next(d.value for d in app.dataframe if "kind" in d.value.columns)


def test_default_is_sm_v2_against_mobilenet_v2(at):
    m = metrics(at)
    assert m["Params"] == si(1_538_372) and m["MACs"] == si(compute_cost(get_preset("SM_V2")).macs)
    delta = next(x for x in at.metric if x.label == "Params").delta
    assert delta.startswith("-")  # fewer params than the MobileNet V2 baseline
    assert not at.error


def test_presets_switch(at):
    at.selectbox(key="source").set_value("MobileNet V2").run()
    assert metrics(at)["Params"] == si(2_351_972)
    assert next(x for x in at.metric if x.label == "Params").delta == "same as baseline"


def test_table_edit_updates_every_number(at):
    edit(at, {1: {"c": "24"}})
    expected = compute_cost(
        get_preset("SM_V2_2_1.5").with_changes(
            stages=(
                *get_preset("SM_V2").stages[:1],
                get_preset("SM_V2").stages[1].__class__(4, 24, 2, 2),
                *get_preset("SM_V2").stages[2:],
            )
        )
    )
    assert metrics(at)["Params"] == si(expected.params)
    assert metrics(at)["MACs"] == si(expected.macs)
    assert "(edited)" in at.subheader[0].value


def test_invalid_cell_shows_error_and_keeps_last_valid_numbers(at):
    edit(at, {1: {"c": "24"}})
    valid = metrics(at)
    edit(at, {1: {"c": "24", "s": "3"}})
    assert "row 2, s: must be one of 1, 2, got 3" in errors(at)
    assert metrics(at) == valid
    edit(at, {1: {"c": "24"}})
    assert not at.error and metrics(at) == valid


def test_empty_cell_in_a_new_row_is_named(at):
    edit(at, {}, added=[{"t": "2", "c": "8", "n": ""}])
    assert "row 7, n: is required" in errors(at)


def test_skip_toggle_removes_adds_but_not_macs(at):
    before = metrics(at)
    toggle(at, "Skip connections").set_value(False).run()
    assert metrics(at)["MACs"] == before["MACs"]  # skips cost no MACs — but they cost memory traffic
    assert metrics(at)["Memory traffic"] != before["Memory traffic"]
    kinds = set(layer_df(at)["kind"])
    assert "add" not in kinds and "dwconv" in kinds
    toggle(at, "Skip connections").set_value(True).run()
    assert "add" in set(layer_df(at)["kind"])


def test_final_conv_toggle_and_width(at):
    toggle(at, "Final 1×1 conv").set_value(True).run()
    d = get_preset("SM_V2").with_changes(last_conv=1280)
    assert metrics(at)["Params"] == si(compute_cost(d).params)
    number_input(at, "Final conv width").set_value(640).run()
    assert metrics(at)["Params"] == si(compute_cost(d.with_changes(last_conv=640)).params)


def test_edits_survive_switching_presets_and_pages_until_reset(at):
    edit(at, {1: {"c": "24"}})
    edited = metrics(at)
    at.selectbox(key="source").set_value("MobileNet V2").run()
    page(at, "compare")
    page(at, "design")
    at.selectbox(key="source").set_value("SM_V2").run()
    assert metrics(at) == edited
    next(b for b in at.button if b.label.startswith("Reset")).click().run()
    assert metrics(at)["Params"] == si(1_538_372)


def test_row_tools_duplicate_and_delete(at):
    number_input(at, "Stage").set_value(3).run()  # stages count from 1
    button(at, "Duplicate").click().run()
    assert layer_df(at)["name"].str.startswith("stages.6.").any()
    button(at, "Delete").click().run()
    assert metrics(at)["Params"] == si(1_538_372)


def test_upload_good_and_bad_files(at):
    good = get_preset("MobileNet V1").to_json().encode()
    at.file_uploader(key="upload").upload("v1.json", good, "application/json").run()
    assert not at.error and at.selectbox(key="source").value == "MobileNet V1 (uploaded)"
    assert metrics(at)["Params"] == si(3_309_476)
    bad = json.dumps({"stages": [{"t": 1, "c": 16, "n": 1, "s": 5}]}).encode()
    at.file_uploader(key="upload").clear().upload("bad.json", bad, "application/json").run()
    assert any("stages[0].s: must be one of 1, 2, got 5" in e for e in errors(at))
    assert metrics(at)["Params"] == si(3_309_476)  # the design being edited is untouched
    page(at, "compare")
    assert not [e for e in errors(at) if "stages[0].s" in e]  # the error stays with its file, not on every page
    page(at, "design")
    assert not [e for e in errors(at) if "stages[0].s" in e]


def test_an_oversized_or_unnamed_upload_gets_a_clear_line(at):
    big = b'{"name": "x", "notes": "' + b"a" * 1_100_000 + b'"}'
    at.file_uploader(key="upload").upload("big.json", big, "application/json").run()
    assert any("big.json: file is 1,100,0" in e and "at most 1,000,000" in e for e in errors(at))
    unnamed = json.loads(get_preset("SM_V2").to_json()) | {"name": "  "}  # a blank name would head every page
    at.file_uploader(key="upload").clear().upload("my_net.json", json.dumps(unnamed).encode(), "application/json").run()
    assert 'name: must not be empty, got "  "' in errors(at)
    assert at.selectbox(key="source").value == "SM_V2"  # nothing was added or switched to


def test_an_empty_design_name_is_refused_in_the_editor(at):
    at.text_input(key=next(t.key for t in at.text_input if t.label == "Design name")).set_value("  ").run()
    assert "Design name: must not be empty (it names the design on every page and its exported files)" in errors(at)
    assert button(at, "Pin for comparison").disabled


def test_export_buttons_present(at):
    assert not at.get("download_button")  # the Export tab is closed: nothing of it is built
    open_tab(at, "Export")
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Standalone .py" in labels and "Design JSON" in labels
    assert any(b.label == "Build ONNX" for b in at.button)


def test_onnx_export_is_verified(at):
    open_tab(at, "Export")
    button(at, "Build ONNX").click().run()
    assert any("verified" in c.value for c in at.caption)
    assert any(b.proto.label.startswith("Download ONNX") for b in at.get("download_button"))


def test_measure_on_this_host_stores_a_point_on_the_charts(at):
    open_tab(at, "Latency on this host")
    at.slider(key="m_budget").set_value(1.0).run()
    at.button(key="m_go").click().run()
    assert not at.error
    assert any(m.label == "Median latency" for m in at.metric)
    page(at, "charts")
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    names = [t.get("name", "") for f in figs for t in f["data"]]
    assert any(n.startswith("measured on") for n in names)
    assert any(n.startswith("paper") for n in names)


def test_charts_reference_layer(at):
    page(at, "charts")
    at.toggle(key="chart_ref").set_value(True).run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert any("ImageNet-1k" in t.get("name", "") for t in spec["data"])


def test_classroom_steps(at):
    page(at, "classroom")
    for _ in range(5):
        at.button(key="cls_next").click().run()
    assert any("Measure SM_V2 and SM_V2_x2nr first" in m.value for m in at.markdown)
    at.button(key="cls_back").click().run()
    assert at.session_state["class_step"] == 4


def test_unexpected_errors_show_one_line_not_a_traceback(at, monkeypatch):
    import explorer.ui.widgets as widgets

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(widgets, "layer_frame", broken)
    at.session_state["design_tab"] = "Per-layer table"
    at.run()
    assert not at.exception
    assert any("Something went wrong (RuntimeError: simulated bug)" in e.value for e in at.error)
    monkeypatch.undo()
    at.run()
    assert not at.error and metrics(at)["Params"] == si(1_538_372)  # nothing was lost


def test_charts_read_the_store_once_per_version_of_it(at, tmp_path, monkeypatch):
    import explorer.ui.charts_page as charts_page
    from explorer.store.results import ResultStore

    reads = []
    real = charts_page.gather
    monkeypatch.setattr(charts_page, "gather", lambda s, host: reads.append(1) or real(s, host))
    charts_page._points.clear()
    page(at, "charts")
    at.toggle(key="chart_noisy").set_value(True).run()
    at.toggle(key="chart_noisy").set_value(False).run()
    assert len(reads) == 1  # clicks do not read the store again
    row = dict(backend="torch", device="cpu", batch=1, threads=2, input_size=224, median_ms=6.0, per_image_ms=6.0)
    ResultStore(tmp_path / "data" / "results.sqlite").add_latency(get_preset("SM_V2"), row)
    at.run()
    assert len(reads) == 2  # a new measurement is read at once
    spec = json.loads(at.get("plotly_chart")[1].proto.spec)
    assert any(t.get("name", "").startswith("measured on") for t in spec["data"])


def test_the_app_slows_streamlit_s_config_file_polling(at):
    """Streamlit polls config.toml every 0.2 s even with the file watcher off: half an idle app's CPU budget."""
    from streamlit.watcher import polling_path_watcher

    from explorer.ui.nav import CONFIG_POLL_S

    assert polling_path_watcher._POLLING_PERIOD_SECS == CONFIG_POLL_S >= 1.0
